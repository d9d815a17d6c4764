"""The bias baseline: global mean + damped item offset + damped user offset.

It scores what an embedding cannot: pairs whose user or item had no training rating (a cold
row's embedding is untrained noise). LensKit's `Bias` with damping is the same idea.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class BiasBaseline:
    global_mean: float
    user_offsets: np.ndarray
    item_offsets: np.ndarray

    @classmethod
    def fit(
        cls,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray,
        n_users: int,
        n_items: int,
        damping: float = 5.0,
    ) -> BiasBaseline:
        """Offsets shrunk towards zero by `damping` pseudo-ratings, so a user or item with one
        rating moves the prediction a little, not all the way."""
        mean = float(ratings.mean()) if len(ratings) else 0.0
        residual = ratings.astype(np.float64) - mean
        item_count = np.bincount(items, minlength=n_items)
        item_offsets = np.bincount(items, residual, minlength=n_items) / (item_count + damping)
        residual -= item_offsets[items]
        user_count = np.bincount(users, minlength=n_users)
        user_offsets = np.bincount(users, residual, minlength=n_users) / (user_count + damping)
        return cls(mean, user_offsets.astype(np.float32), item_offsets.astype(np.float32))

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return (self.global_mean + self.user_offsets[users] + self.item_offsets[items]).astype(
            np.float32
        )
