"""The chapter's factorization models: a dot product of user and item embeddings, with biases.

Pure math on index tensors; nothing here knows about files, ids or training.
"""

from __future__ import annotations

import torch
from torch import nn


def sigmoid_range(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Squash `x` into (low, high) with a sigmoid, as fastai does for `y_range`."""
    return torch.sigmoid(x) * (high - low) + low


def embedding(n: int, width: int) -> nn.Embedding:
    """An embedding initialised as fastai's: truncated normal, std 0.01."""
    layer = nn.Embedding(n, width)
    with torch.no_grad():
        nn.init.trunc_normal_(layer.weight, std=0.01, a=-0.02, b=0.02)
    return layer


class DotProduct(nn.Module):
    """rating ~ user_factors . item_factors, optionally squashed into `y_range`."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_factors: int = 50,
        y_range: tuple[float, float] | None = None,
    ):
        super().__init__()
        self.n_users, self.n_items, self.n_factors = n_users, n_items, n_factors
        self.y_range = tuple(y_range) if y_range is not None else None
        self.user_factors = embedding(n_users, n_factors)
        self.item_factors = embedding(n_items, n_factors)

    def config(self) -> dict:
        return {"n_factors": self.n_factors, "y_range": self.y_range}

    def raw_score(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return (self.user_factors(users) * self.item_factors(items)).sum(dim=1)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.squash(self.raw_score(users, items))

    def squash(self, score: torch.Tensor) -> torch.Tensor:
        return score if self.y_range is None else sigmoid_range(score, *self.y_range)

    def user_vectors(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the model knows of these users: factor rows (and biases, where it has them)."""
        return self.user_factors(users), None

    def score_user_vectors(
        self, vectors: torch.Tensor, biases: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Scores of every item for each user vector: one matrix product, shape (users, items).
        Vectors need not belong to a trained user (see fold-in)."""
        return self.squash(vectors @ self.item_factors.weight.T)


class DotProductBias(DotProduct):
    """The chapter's best simple model: dot product plus a learned bias per user and per item."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_factors: int = 50,
        y_range: tuple[float, float] | None = None,
    ):
        super().__init__(n_users, n_items, n_factors, y_range)
        self.user_bias = embedding(n_users, 1)
        self.item_bias = embedding(n_items, 1)

    @classmethod
    def from_arrays(
        cls,
        user_factors,
        item_factors,
        user_bias,
        item_bias,
        y_range: tuple[float, float] | None = None,
    ) -> DotProductBias:
        """A model holding these weights (arrays or tensors), built without initialising random
        weights first: the Gibbs sampler's posterior mean and averages of models are made so."""
        tensors = {
            "user_factors.weight": user_factors,
            "item_factors.weight": item_factors,
            "user_bias.weight": user_bias,
            "item_bias.weight": item_bias,
        }
        tensors = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in tensors.items()}
        for name in ("user_bias.weight", "item_bias.weight"):
            tensors[name] = tensors[name].reshape(-1, 1)
        n_users, n_factors = tensors["user_factors.weight"].shape
        with torch.device("meta"):
            model = cls(n_users, len(tensors["item_factors.weight"]), n_factors, y_range)
        model.load_state_dict(tensors, assign=True)
        return model

    def raw_score(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        score = super().raw_score(users, items)
        return score + self.user_bias(users).squeeze(1) + self.item_bias(items).squeeze(1)

    def user_vectors(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.user_factors(users), self.user_bias(users).squeeze(1)

    def score_user_vectors(
        self, vectors: torch.Tensor, biases: torch.Tensor | None = None
    ) -> torch.Tensor:
        raw = vectors @ self.item_factors.weight.T + self.item_bias.weight.T
        if biases is not None:
            raw = raw + biases[:, None]
        return self.squash(raw)
