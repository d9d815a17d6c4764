"""The numba kernels behind `embedrec.data.encode`'s grouping and duplicate detection: a
module of their own so that numba loads only when data is grouped (`encode` imports this on
first use)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def order_by_user(users: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows grouped by user, by a stable counting sort in O(n): the rows of user u are
    `order[indptr[u]:indptr[u + 1]]`, in file order.

    `users` holds codes 0..n_users-1; numba-compiled, so other numba functions may call it.
    """
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    for u in users:
        indptr[u + 1] += 1
    for u in range(n_users):
        indptr[u + 1] += indptr[u]
    fill = indptr[:-1].copy()
    order = np.empty(len(users), dtype=np.int64)
    for row in range(len(users)):
        order[fill[users[row]]] = row
        fill[users[row]] += 1
    return indptr, order


@numba.njit(cache=True)
def duplicates_keep_last(
    users: np.ndarray, items: np.ndarray, n_users: int, n_items: int
) -> np.ndarray:
    """Mask of rows repeating a (user, item) pair that occurs again later (keep the last)."""
    # one sweep per user from its last row back, with a marker per item
    indptr, order = order_by_user(users, n_users)
    marker = np.full(n_items, -1, dtype=np.int64)
    drop = np.zeros(len(users), dtype=np.bool_)
    for u in range(n_users):
        for j in range(indptr[u + 1] - 1, indptr[u] - 1, -1):
            row = order[j]
            if marker[items[row]] == u:
                drop[row] = True
            else:
                marker[items[row]] = u
    return drop
