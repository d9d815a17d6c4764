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
        mean = float(ratings.mean(dtype=np.float64)) if len(ratings) else 0.0
        item_count = np.bincount(items, minlength=n_items)
        item_sums = _chunked_sums(items, lambda rows: ratings[rows] - mean, n_items, len(items))
        item_offsets = item_sums / (item_count + damping)
        user_count = np.bincount(users, minlength=n_users)
        user_sums = _chunked_sums(
            users,
            lambda rows: ratings[rows] - mean - item_offsets[items[rows]],
            n_users,
            len(users),
        )
        user_offsets = user_sums / (user_count + damping)
        return cls(mean, user_offsets.astype(np.float32), item_offsets.astype(np.float32))

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return (self.global_mean + self.user_offsets[users] + self.item_offsets[items]).astype(
            np.float32
        )


def _chunked_sums(keys: np.ndarray, values, length: int, n: int, chunk: int = 1 << 22):
    """Per-key sums of values(rows), a few million rows at a time: the float64 temporaries of
    np.bincount stay small on 25M ratings."""
    sums = np.zeros(length, dtype=np.float64)
    for start in range(0, n, chunk):
        rows = slice(start, start + chunk)
        sums += np.bincount(keys[rows], values(rows), minlength=length)
    return sums
