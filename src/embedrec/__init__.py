"""embedrec: collaborative filtering with learned embeddings.

>>> import embedrec
>>> split = embedrec.load_split("movielens-100k")                    # doctest: +SKIP
>>> rec = embedrec.train(split, model="dot-bias", epochs=5, wd=0.1)  # doctest: +SKIP
>>> embedrec.evaluate(rec, split.valid)["rmse"]                      # doctest: +SKIP
>>> rec.recommend(196, n=10)                                         # doctest: +SKIP
"""

from typing import TYPE_CHECKING

from embedrec import lazy
from embedrec.version import __version__

# The public API, imported on first use (`embedrec.lazy`): `import embedrec` and the CLI's
# --help stay free of torch, numba and pandas. Type checkers and readers see the imports.
if TYPE_CHECKING:
    from embedrec.catalogue import (
        accepted_scale,
        check_rating,
        genre_items,
        genre_names,
        item_id,
        item_info,
        item_noun,
        known_user,
        search_items,
        user_ratings,
    )
    from embedrec.config import TrainConfig
    from embedrec.data import (
        IdMap,
        Ratings,
        Split,
        data_location,
        kfold_splits,
        load_movielens,
        load_movielens_fold,
        load_ratings,
        load_split,
        random_split,
        ratings_from_frame,
        read_liked,
        read_pairs,
        read_ratings,
        read_user_ratings,
        set_data_dir,
        temporal_split,
        with_feedback,
    )
    from embedrec.data.sources import recorded_source, same_source, source_exists
    from embedrec.data.splits import data_parallel_spec, random_spec
    from embedrec.data.synthetic import PRESETS as SYNTHETIC_PRESETS
    from embedrec.data.synthetic import write_synthetic
    from embedrec.distributed import train_distributed
    from embedrec.errors import (
        AmbiguousNameError,
        DataError,
        DistributedError,
        EmbedrecError,
        ModelError,
        OutputExistsError,
        TooLargeError,
        UnknownIdError,
    )
    from embedrec.evaluation import evaluate, evaluate_ranking, noise_floor, popularity_scores
    from embedrec.help_text import PROTOCOL_HELP, SPLIT_HELP
    from embedrec.interpret import (
        bias_extremes,
        bias_table,
        export_factors,
        factor_frame,
        pca_map,
        plot_loss,
    )
    from embedrec.io import check_output, write_table
    from embedrec.learner import check_config, train
    from embedrec.models import (
        DotProduct,
        DotProductBias,
        Embedding,
        EmbeddingNN,
        Model,
        create_params,
        embedding_size,
        model_names,
        models_help,
        sigmoid_range,
    )
    from embedrec.protocols import run_protocol, run_ranking_protocol
    from embedrec.recommender import Recommender, load
    from embedrec.schemas import DuplicatesWarning, EmbedrecWarning
    from embedrec.scoring import MIN_RATINGS
    from embedrec.settings import declared_settings
    from embedrec.training import engine_names
    from embedrec.training.distributed import World
    from embedrec.training.lr_find import LRFindResult, lr_find
    from embedrec.tuning import TuneResult, tune
else:
    __getattr__, __dir__ = lazy.attach(__name__, __file__)

__all__ = [
    "MIN_RATINGS",
    "PROTOCOL_HELP",
    "SPLIT_HELP",
    "SYNTHETIC_PRESETS",
    "AmbiguousNameError",
    "DataError",
    "DistributedError",
    "DotProduct",
    "DotProductBias",
    "DuplicatesWarning",
    "Embedding",
    "EmbeddingNN",
    "EmbedrecError",
    "EmbedrecWarning",
    "IdMap",
    "LRFindResult",
    "Model",
    "ModelError",
    "OutputExistsError",
    "Ratings",
    "Recommender",
    "Split",
    "TooLargeError",
    "TrainConfig",
    "TuneResult",
    "UnknownIdError",
    "World",
    "__version__",
    "bias_extremes",
    "bias_table",
    "check_output",
    "create_params",
    "data_location",
    "declared_settings",
    "embedding_size",
    "engine_names",
    "evaluate",
    "evaluate_ranking",
    "export_factors",
    "factor_frame",
    "kfold_splits",
    "load",
    "load_movielens",
    "load_movielens_fold",
    "load_ratings",
    "load_split",
    "lr_find",
    "model_names",
    "models_help",
    "pca_map",
    "plot_loss",
    "noise_floor",
    "popularity_scores",
    "random_spec",
    "data_parallel_spec",
    "random_split",
    "recorded_source",
    "same_source",
    "source_exists",
    "ratings_from_frame",
    "read_pairs",
    "read_ratings",
    "read_liked",
    "read_user_ratings",
    "run_protocol",
    "run_ranking_protocol",
    "set_data_dir",
    "sigmoid_range",
    "temporal_split",
    "check_config",
    "train",
    "train_distributed",
    "tune",
    "with_feedback",
    "write_synthetic",
    "write_table",
    "accepted_scale",
    "check_rating",
    "genre_items",
    "genre_names",
    "item_id",
    "item_info",
    "item_noun",
    "known_user",
    "search_items",
    "user_ratings",
]
