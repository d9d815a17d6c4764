"""Model definitions (torch modules on index tensors) and the names the CLI and files use."""

from __future__ import annotations

from torch import nn

from embedrec.errors import ModelError
from embedrec.models.average import AverageModel
from embedrec.models.dot import DotProduct, DotProductBias, sigmoid_range
from embedrec.models.nn import EmbeddingNN
from embedrec.models.sizes import embedding_size

MODELS: dict[str, type[nn.Module]] = {
    "dot": DotProduct,
    "dot-bias": DotProductBias,
    "nn": EmbeddingNN,
    "average": AverageModel,
}

__all__ = [
    "MODELS",
    "AverageModel",
    "DotProduct",
    "DotProductBias",
    "EmbeddingNN",
    "build_model",
    "embedding_size",
    "model_name",
    "sigmoid_range",
]


def build_model(name: str, n_users: int, n_items: int, **config) -> nn.Module:
    """A fresh model by its short name (`dot`, `dot-bias`, `nn`, `average`) and its config."""
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](n_users, n_items, **config)


def model_name(model: nn.Module) -> str:
    for name, cls in MODELS.items():
        if type(model) is cls:
            return name
    raise ModelError(f"{type(model).__name__} is not one of embedrec's models")
