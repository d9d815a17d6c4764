"""`bias`: the bias baseline as a model: global mean + damped item offset + damped user offset
(LensKit's `Bias`), the line every rating model must beat.

The Recommender fits the same baseline beside every model to score cold rows; as a kind of its
own it can *be* the model, which is what the default keeps where no factor model beats it on
validation carved from the training side (a data set whose ratings say little beyond who rates
high and what is liked is better served by biases alone than by noisy factors).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models.base import ClosedFormModel, Side
from embedrec.models.baseline import BiasBaseline
from embedrec.models.registry import register

DAMPING = 5.0  # pseudo-ratings each offset is shrunk by, as the Recommender's fallback


@register
class BiasKind(ClosedFormModel):
    name = "bias"
    summary = "the bias baseline: mean + damped user and item offsets, closed form"

    def __init__(self, n_users: int, n_items: int, baseline: BiasBaseline | None = None):
        self.n_users, self.n_items = n_users, n_items
        self.baseline = baseline or BiasBaseline(
            0.0, np.zeros(n_users, np.float32), np.zeros(n_items, np.float32)
        )

    @classmethod
    def build(cls, config: TrainConfig, data: Ratings) -> BiasKind:
        return cls(data.n_users, data.n_items)

    def solve(self, data: Ratings, config: TrainConfig) -> float | None:
        self.baseline = BiasBaseline.fit(
            data.users, data.items, data.ratings, self.n_users, self.n_items, DAMPING
        )
        return None

    def config(self) -> dict[str, Any]:
        return {"global_mean": self.baseline.global_mean}

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "user_offsets": self.baseline.user_offsets,
            "item_offsets": self.baseline.item_offsets,
        }

    @classmethod
    def from_state(
        cls, n_users: int, n_items: int, config: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> BiasKind:
        try:
            baseline = BiasBaseline(
                float(config["global_mean"]), arrays["user_offsets"], arrays["item_offsets"]
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"a bias model's state lacks {exc}") from None
        if baseline.user_offsets.shape != (n_users,) or baseline.item_offsets.shape != (n_items,):
            raise ModelError("the bias offsets do not fit the numbers of users and items")
        return cls(n_users, n_items, baseline)

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.baseline.predict(users, items)

    def score_items(self, users: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        b = self.baseline
        if out is None:
            out = np.empty((len(users), self.n_items), dtype=np.float32)
        out[:] = (b.global_mean + b.item_offsets)[None] + b.user_offsets[users, None]
        return out

    def fold_in(self, items: np.ndarray, ratings: np.ndarray, reg: float | None = None) -> Any:
        """The new user's damped offset: what their ratings say beyond the items' means."""
        b = self.baseline
        residual = np.asarray(ratings, np.float64) - b.global_mean - b.item_offsets[items]
        return float(residual.sum() / (len(residual) + (DAMPING if reg is None else reg)))

    def score_folded(self, folded: Any) -> np.ndarray:
        b = self.baseline
        return (b.global_mean + b.item_offsets + float(folded)).astype(np.float32)

    def biases(self, side: Side) -> np.ndarray:
        b = self.baseline
        return b.user_offsets if side == "user" else b.global_mean + b.item_offsets
