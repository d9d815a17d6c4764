"""`popular`: every user gets the items most users chose, the baseline every ranking table needs.

It is the floor the default ranker is held to: where no personal ranker beats it on validation
carved from the training side, the default ranks by popularity instead (a model that does worse
than the most-chosen items is worse than no model). It ranks items and predicts no ratings.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models.base import ClosedFormModel, Side
from embedrec.models.registry import register


@register
class PopularKind(ClosedFormModel):
    name = "popular"
    summary = "most chosen items first, the same list for everyone; ranks, predicts no ratings"
    predicts_ratings: ClassVar[bool] = False

    def __init__(self, n_users: int, n_items: int, popularity: np.ndarray | None = None):
        self.n_users, self.n_items = n_users, n_items
        self.popularity = np.zeros(n_items, dtype=np.float32) if popularity is None else popularity

    @classmethod
    def build(cls, config: TrainConfig, data: Ratings) -> PopularKind:
        return cls(data.n_users, data.n_items)

    def solve(self, data: Ratings, config: TrainConfig) -> float | None:
        self.popularity = np.bincount(data.items, minlength=self.n_items).astype(np.float32)
        return None

    def config(self) -> dict[str, Any]:
        return {}

    def arrays(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity}

    @classmethod
    def from_state(
        cls, n_users: int, n_items: int, config: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> PopularKind:
        popularity = arrays.get("popularity")
        if popularity is None or popularity.shape != (n_items,):
            raise ModelError("a popular model's counts do not fit the number of items")
        return cls(n_users, n_items, popularity)

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.popularity[items]

    def score_items(self, users: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            out = np.empty((len(users), self.n_items), dtype=np.float32)
        out[:] = self.popularity[None]
        return out

    def fold_in(self, items: np.ndarray, ratings: np.ndarray, reg: float | None = None) -> Any:
        return None  # the list is everyone's

    def score_folded(self, folded: Any) -> np.ndarray:
        return self.popularity.copy()

    def similarity(self, side: Side, index: int) -> np.ndarray:
        raise ModelError("a popular model learns no similarity; train ease, ials or bmf")
