"""A weighted average of trained models: the oldest reliable way to gain accuracy (every strong
Netflix-prize and MovieLens result is a blend), kept as one module so an average saves, loads,
serves, recommends and folds in new users like a single model."""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
from torch import nn


class AverageModel(nn.Module):
    """prediction = sum of weight_k * member_k(user, item), weights summing to 1.

    A user's vector is the members' vectors side by side (biases: one column per member), so
    the Recommender's batch scoring and fold-in work unchanged."""

    def __init__(self, n_users: int, n_items: int, members: list[dict], weights: list[float]):
        from embedrec.models import build_model  # the registry lists this class too

        super().__init__()
        if len(members) < 1 or len(weights) != len(members):
            raise ValueError("an average needs one weight per member, and at least one member")
        self.n_users, self.n_items = n_users, n_items
        self.members = nn.ModuleList(
            build_model(m["model"], n_users, n_items, **_tuples(m["config"])) for m in members
        )
        total = float(sum(weights))
        self.weights = [float(w) / total for w in weights]

    @classmethod
    def of(cls, models: list[nn.Module], weights: list[float] | None = None) -> AverageModel:
        """An average of these trained modules (same users and items), equal weights unless
        given; the members are shared, not copied."""
        from embedrec.models import model_name

        weights = [1.0] * len(models) if weights is None else list(weights)
        shapes = {(m.n_users, m.n_items) for m in models}
        if len(shapes) != 1:
            raise ValueError("averaged models must be trained on the same users and items")
        with torch.device("meta"):
            average = cls(
                *shapes.pop(),
                [{"model": model_name(m), "config": m.config()} for m in models],
                weights,
            )
        average.members = nn.ModuleList(models)
        return average

    def config(self) -> dict:
        from embedrec.models import model_name

        return {
            "members": [{"model": model_name(m), "config": m.config()} for m in self.members],
            "weights": self.weights,
        }

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return sum(w * m(users, items) for w, m in zip(self.weights, self.members))

    def user_vectors(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [m.user_vectors(users) for m in self.members]
        return self.pack(parts, len(users))

    def pack(self, parts, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Members' (vectors, biases) as one (vectors, biases) pair: vectors side by side, one
        bias column per member (zero where a member has none)."""
        vectors = torch.cat([v.reshape(n, -1) for v, _ in parts], dim=1)
        biases = [
            torch.zeros(n, device=vectors.device) if b is None else b.reshape(n) for _, b in parts
        ]
        return vectors, torch.stack(biases, dim=1)

    def score_user_vectors(
        self, vectors: torch.Tensor, biases: torch.Tensor | None = None
    ) -> torch.Tensor:
        total, start = None, 0
        for k, (w, member) in enumerate(zip(self.weights, self.members)):
            width = member.user_factors.weight.shape[1]
            bias = None if biases is None or not hasattr(member, "user_bias") else biases[:, k]
            scores = w * member.score_user_vectors(vectors[:, start : start + width], bias)
            total = scores if total is None else total + scores
            start += width
        return total

    @property
    def item_factors(self):
        return self._joined("item_factors")

    @property
    def user_factors(self):
        return self._joined("user_factors")

    def _joined(self, name: str):
        """Each member's factors, row-normalised and scaled by sqrt(weight), side by side: the
        cosine similarity of two joined rows is the weighted mean of the members' cosines."""
        blocks = [
            nn.functional.normalize(getattr(m, name).weight.detach(), dim=1) * math.sqrt(w)
            for w, m in zip(self.weights, self.members)
        ]
        return SimpleNamespace(weight=torch.cat(blocks, dim=1))


def _tuples(config: dict) -> dict:
    """JSON turns y_range tuples into lists; the models take either, but keep them tuples."""
    return {k: tuple(v) if k == "y_range" and isinstance(v, list) else v for k, v in config.items()}
