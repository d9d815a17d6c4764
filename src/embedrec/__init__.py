"""embedrec: collaborative filtering with learned embeddings.

>>> from embedrec import load_split, train
>>> split = load_split("movielens-100k")                          # doctest: +SKIP
>>> rec = train(split, model="dot-bias", epochs=5, wd=0.1)        # doctest: +SKIP
>>> rec.evaluate(split.valid)["rmse"]                             # doctest: +SKIP
"""

__version__ = "0.1.0"

from embedrec.data import (
    IdMap,
    Ratings,
    Split,
    kfold_splits,
    load_movielens,
    load_movielens_fold,
    load_ratings,
    load_split,
    random_split,
    ratings_from_frame,
    read_ratings,
    temporal_split,
)
from embedrec.errors import DataError, EmbedrecError, ModelError
from embedrec.learner import train
from embedrec.models import DotProduct, DotProductBias, EmbeddingNN, embedding_size, sigmoid_range
from embedrec.recommender import Recommender
from embedrec.training.config import TrainConfig
from embedrec.training.lr_find import LRFindResult, lr_find

load = Recommender.load

__all__ = [
    "DataError",
    "DotProduct",
    "DotProductBias",
    "EmbeddingNN",
    "EmbedrecError",
    "IdMap",
    "LRFindResult",
    "ModelError",
    "Ratings",
    "Recommender",
    "Split",
    "TrainConfig",
    "embedding_size",
    "kfold_splits",
    "load",
    "load_movielens",
    "load_movielens_fold",
    "load_ratings",
    "load_split",
    "lr_find",
    "random_split",
    "ratings_from_frame",
    "read_ratings",
    "sigmoid_range",
    "temporal_split",
    "train",
]
