"""Model kinds, one file each, known by name through the registry.

The torch modules (`DotProduct`, `DotProductBias`, `EmbeddingNN`) are the chapter's models and
work on their own; the kinds wrap them (or any other learned state) behind one protocol,
`embedrec.models.base.Model`. Adding a kind: its file, and its module's name in
`KIND_MODULES` below. Names here are imported on first use (`embedrec.lazy`): a served model
of a kind that is arrays loads no torch.
"""

from typing import TYPE_CHECKING

from embedrec import lazy

# Every kind's module, in the order `--help` lists the kinds: the one line a new kind adds
# (`registry` imports them when a kind is first asked for; `declared` reads them for --help).
KIND_MODULES = ("average", "bias", "dot", "bmf", "bpr", "ease", "ials", "module", "nn", "popular")

if TYPE_CHECKING:
    from embedrec.models.average import AverageKind
    from embedrec.models.base import NDCG_AT_10, RMSE, Model, Side, ValidationMetric
    from embedrec.models.baseline import BiasBaseline
    from embedrec.models.bmf import BayesianMFKind
    from embedrec.models.dot import (
        DotProduct,
        DotProductBias,
        DotProductBiasKind,
        DotProductKind,
        sigmoid_range,
    )
    from embedrec.models.layers import Embedding, create_params
    from embedrec.models.module import ModuleKind
    from embedrec.models.nn import EmbeddingNN, EmbeddingNNKind
    from embedrec.models.ranked import Ranked
    from embedrec.models.registry import (
        KINDS,
        ResolvedConfig,
        build,
        build_resolved,
        check_learns_from,
        data_defaults,
        get_kind,
        kinds,
        model_names,
        models_help,
        ranking_names,
        resolve,
    )
    from embedrec.models.sizes import embedding_size
    from embedrec.models.torch_model import TorchModel
else:
    __getattr__, __dir__ = lazy.attach(__name__, __file__)

__all__ = [
    "KINDS",
    "NDCG_AT_10",
    "RMSE",
    "AverageKind",
    "BayesianMFKind",
    "BiasBaseline",
    "DotProduct",
    "DotProductBias",
    "DotProductBiasKind",
    "DotProductKind",
    "Embedding",
    "EmbeddingNN",
    "EmbeddingNNKind",
    "Model",
    "ModuleKind",
    "Ranked",
    "ResolvedConfig",
    "Side",
    "TorchModel",
    "ValidationMetric",
    "build",
    "build_resolved",
    "check_learns_from",
    "create_params",
    "embedding_size",
    "get_kind",
    "kinds",
    "model_names",
    "models_help",
    "data_defaults",
    "ranking_names",
    "resolve",
    "sigmoid_range",
]
