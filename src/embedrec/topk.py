"""Top-k selection over score matrices: shared by recommending and by ranking evaluation."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Item indices of the k highest scores per row, best first (ties: lower index first).

    >>> top_k(np.array([[0.1, 0.9, 0.5]]), 2)
    array([[1, 2]])
    """
    k = min(k, scores.shape[1])
    if k <= 0:
        return np.zeros((len(scores), 0), dtype=np.int64)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)
