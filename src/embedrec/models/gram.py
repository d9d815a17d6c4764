"""X^T X of a sparse users x items matrix, accumulated straight into a dense float64 array.

ease needs the items x items Gram matrix dense. torch's sparse product builds it as a sparse
tensor first (two int64 indices and a float64 value per cell, then a dense copy): about 40
bytes per cell at its peak, five times the 8 of the result. Here each item's row is summed
from the users who chose it, one row per thread, so the peak is the result itself.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from embedrec.data.encode import order_by_user
from embedrec.data.interactions import Interactions


def dense_gram(seen: Interactions) -> np.ndarray:
    """G[i, j] = sum over users of w(u, i) * w(u, j), float64, shape (n_items, n_items)."""
    users = seen.user_of_each()
    item_ptr, order = order_by_user(seen.items.astype(np.int64), seen.n_items)
    return _gram_rows(
        seen.indptr,
        seen.items,
        seen.weights.astype(np.float64),
        item_ptr.astype(np.int64),
        users[order],
        seen.weights[order].astype(np.float64),
        seen.n_items,
    )


@numba.njit(cache=True, parallel=True)
def _gram_rows(
    indptr: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray,
    item_ptr: np.ndarray,
    item_users: np.ndarray,
    item_weights: np.ndarray,
    n_items: int,
) -> np.ndarray:  # pragma: no cover - compiled
    gram = np.zeros((n_items, n_items))
    for i in prange(n_items):  # row i is written by one thread only: no races
        row = gram[i]
        for p in range(item_ptr[i], item_ptr[i + 1]):
            user, weight = item_users[p], item_weights[p]
            for q in range(indptr[user], indptr[user + 1]):
                row[items[q]] += weight * weights[q]
    return gram
