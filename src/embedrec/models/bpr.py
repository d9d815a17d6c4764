"""`bpr`: Bayesian personalised ranking (Rendle, Freudenthaler, Gantner & Schmidt-Thieme 2009),
a ranking model learned from which items each user chose.

    s(u, i) = p_u . q_i + b_i,    loss = -log sigmoid(s(u, i) - s(u, j))

for each training row (u, i) and an item j drawn uniformly among those u did not choose: it
learns to order a user's items above the rest, not to predict ratings. Every training row is a
positive (with `min_rating`, only ratings of at least that; the lower ones are neither positives
nor drawn as negatives). The torch engine trains it like any torch kind: only the objective is
its own (`Pairwise`), so it is this one file. Negatives are drawn per batch, vectorised: a draw
that hits an item the user chose is redrawn (up to `REDRAWS` times; only a user who chose nearly
the whole catalogue can keep one). In a data-parallel run each process knows its own shard's
rows only, so a negative may be an item the user chose in another shard.

A new user is folded in by the same loss: Adam steps on a fresh user vector, the items fixed,
their chosen items against drawn negatives, with an L2 pull towards zero (seeded: the same
items give the same vector).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field
from torch import nn

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.models.base import NoOptions, gradient_search_space
from embedrec.models.layers import Embedding
from embedrec.models.objective import Batch, Objective
from embedrec.models.registry import register
from embedrec.models.torch_model import TorchModel

REDRAWS = 20  # redraws of negatives that hit a chosen item, per batch
FOLD_IN_STEPS, FOLD_IN_LR, FOLD_IN_REG, FOLD_IN_NEGATIVES = 100, 0.05, 0.01, 256


class BPROptions(NoOptions):
    min_rating: float | None = Field(None, description="count only ratings of at least this")


class BPRNetwork(nn.Module):
    """User and item factors and an item bias; a pair scores their dot product plus the bias."""

    def __init__(
        self, n_users: int, n_items: int, n_factors: int = 64, min_rating: float | None = None
    ):
        super().__init__()
        self.n_users, self.n_items, self.n_factors = n_users, n_items, n_factors
        self.min_rating = min_rating
        self.user_factors = Embedding(n_users, n_factors)
        self.item_factors = Embedding(n_items, n_factors)
        self.item_bias = nn.Embedding(n_items, 1)
        nn.init.zeros_(self.item_bias.weight)

    def config(self) -> dict[str, Any]:
        return {"n_factors": self.n_factors, "min_rating": self.min_rating}

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        products = (self.user_factors(users) * self.item_factors(items)).sum(1)
        return products + self.item_bias(items).squeeze(1)

    def user_vectors(self, users: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.user_factors(users), None

    def score_user_vectors(
        self, vectors: torch.Tensor, biases: torch.Tensor | None = None
    ) -> torch.Tensor:
        return vectors @ self.item_factors.weight.T + self.item_bias.weight.T


class Pairwise(Objective):
    """BPR's objective: each batch row's item against one negative drawn for its user."""

    def __init__(self, n_items: int, min_rating: float | None):
        self.n_items, self.min_rating = n_items, min_rating

    def load(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray,
        device: torch.device,
        seed: int,
    ) -> None:
        super().load(users, items, ratings, device, seed)
        chosen = users.astype(np.int64) * self.n_items + items  # one key per (user, item)
        self.chosen = torch.as_tensor(np.unique(chosen)).to(device)
        positive = (
            np.ones(len(ratings), bool) if self.min_rating is None else ratings >= self.min_rating
        )
        self.weights = torch.as_tensor(positive, dtype=torch.float32).to(device)
        self.generator = torch.Generator().manual_seed(seed)

    def negatives(self, users: torch.Tensor) -> torch.Tensor:
        """One item per user drawn uniformly, redrawn where the user chose it."""
        drawn = self.draw(len(users), users.device)
        for _ in range(REDRAWS):
            clash = self.was_chosen(users * self.n_items + drawn)
            if not bool(clash.any()):
                break
            drawn[clash] = self.draw(int(clash.sum()), users.device)
        return drawn

    def was_chosen(self, keys: torch.Tensor) -> torch.Tensor:
        """Whether each (user, item) key is a training row: a binary search of the sorted keys
        (`torch.isin` sorts both sides on every call)."""
        at = torch.searchsorted(self.chosen, keys).clamp(max=len(self.chosen) - 1)
        return self.chosen[at] == keys

    def draw(self, n: int, device: torch.device) -> torch.Tensor:
        return torch.randint(self.n_items, (n,), generator=self.generator).to(device)

    def batch(self, rows: torch.Tensor) -> Batch:
        users = self.users[rows]
        return users, self.items[rows], self.negatives(users), self.weights[rows]

    def loss(self, forward: nn.Module, batch: Batch) -> torch.Tensor:
        users, items, negatives, weights = batch
        # one call through `forward` (DDP expects one per step): positives, then negatives
        scores = forward(torch.cat([users, users]), torch.cat([items, negatives]))
        margin = scores[: len(users)] - scores[len(users) :]
        return -(nn.functional.logsigmoid(margin) * weights).sum() / weights.sum().clamp(min=1)


@register
class BPRKind(TorchModel):
    name = "bpr"
    summary = "BPR ranking model (Rendle et al. 2009): pairwise loss, sampled negatives; ranks"
    engines: ClassVar[tuple[str, ...]] = ("torch",)
    # epochs, wd: the best of a grid on validation carved from u1.base (benchmarks/bpr_defaults.py)
    defaults: ClassVar[dict[str, Any]] = {
        "n_factors": 64,
        "epochs": 30,
        "wd": 0.3,
        "lr": 1e-2,
        "bs": 1024,
    }
    Options: ClassVar[type[NoOptions]] = BPROptions
    predicts_ratings: ClassVar[bool] = False
    network_class: ClassVar[type[nn.Module]] = BPRNetwork
    network: BPRNetwork

    @classmethod
    def build(cls, config: TrainConfig, data: Ratings) -> BPRKind:
        options = BPROptions(**config.options)
        k = config.n_factors or cls.defaults["n_factors"]
        return cls(BPRNetwork(data.n_users, data.n_items, k, options.min_rating))

    def objective(self) -> Objective:
        return Pairwise(self.n_items, self.network.min_rating)

    def fold_in(
        self, items: np.ndarray, ratings: np.ndarray, reg: float | None = None
    ) -> tuple[torch.Tensor, None]:
        """A user vector fitted by BPR's loss against fixed items (see the module docstring)."""
        net = self.network.cpu().eval()
        chosen = np.asarray(items, dtype=np.int64)
        if net.min_rating is not None:
            chosen = chosen[np.asarray(ratings) >= net.min_rating]
        positives = torch.as_tensor(chosen)
        objective = Pairwise(self.n_items, None)
        objective.chosen = torch.unique(positives)
        objective.generator = torch.Generator().manual_seed(0)
        item_factors = net.item_factors.weight.detach()
        item_bias = net.item_bias.weight.detach()[:, 0]
        vector = nn.Parameter(torch.zeros(net.n_factors))
        optimizer = torch.optim.Adam([vector], lr=FOLD_IN_LR)
        strength = FOLD_IN_REG if reg is None else reg
        zeros = torch.zeros(FOLD_IN_NEGATIVES, dtype=torch.int64)
        with torch.enable_grad():
            for _ in range(FOLD_IN_STEPS if len(positives) else 0):
                pos = positives[
                    torch.randint(len(positives), zeros.shape, generator=objective.generator)
                ]
                neg = objective.negatives(zeros)
                margin = item_factors[pos] @ vector + item_bias[pos]
                margin = margin - (item_factors[neg] @ vector + item_bias[neg])
                loss = -nn.functional.logsigmoid(margin).mean() + strength * vector.square().sum()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return vector.detach(), None

    @classmethod
    def search_space(cls, trial: Any, base: TrainConfig) -> dict[str, Any]:
        changes = gradient_search_space(trial)
        return {**changes, "n_factors": trial.suggest_int("n_factors", 16, 256, log=True)}
