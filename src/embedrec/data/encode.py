"""Fast encoding of id columns, grouping by user and duplicate detection, in O(n), for tables of
tens of millions of ratings (MovieLens 25M encodes in about a second).

Everything here works on plain numpy arrays and knows nothing of `Ratings` or `IdMap`, so the
container in `ratings.py` can build on these kernels without an import cycle. The numba
kernels (`embedrec.data.grouping`) load on first use: a command that only reads a model and
lists items (`recommend`) never imports numba.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from embedrec import lazy

if TYPE_CHECKING:
    from embedrec.data import grouping
else:
    grouping = lazy.module("embedrec.data.grouping")

DENSE_LIMIT = 4  # use a lookup table when the largest id is at most this many times the row count


def encode_ids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct raw ids and the int32 code of each value, in one pass.

    `ids[codes]` gives `values` back; `IdMap(ids, already_unique=True)` is the id map.
    Non-negative integer ids of moderate range go through a dense lookup table; anything else
    through pandas' hash factorisation.

    >>> ids, codes = encode_ids(np.array([30, 10, 30]))
    >>> ids.tolist(), codes.tolist()
    ([10, 30], [1, 0, 1])
    """
    if values.dtype.kind in "iu" and len(values):
        low, high = int(values.min()), int(values.max())
        if low >= 0 and high <= DENSE_LIMIT * len(values) + 1024:
            present = np.zeros(high + 1, dtype=bool)
            present[values] = True
            ids = np.flatnonzero(present)
            table = np.full(high + 1, -1, dtype=np.int32)
            table[ids] = np.arange(len(ids), dtype=np.int32)
            return ids.astype(np.int64), table[values]
    codes, uniques = pd.factorize(values, sort=True)
    return np.asarray(uniques), codes.astype(np.int32)


def order_by_user(users: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows grouped by user, by a stable counting sort in O(n): the rows of user u are
    `order[indptr[u]:indptr[u + 1]]`, in file order (`users` holds codes 0..n_users-1). The
    Gibbs sampler and EASE's gram group by user and by item with it."""
    return grouping.order_by_user(users, n_users)


def duplicate_rows(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> np.ndarray:
    """Mask of rows repeating a (user, item) pair that occurs again later (keep the last)."""
    return grouping.duplicates_keep_last(users, items, n_users, n_items)


def group_by_user(
    users: np.ndarray, items: np.ndarray, n_users: int
) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, items) in CSR form: user u rated items[indptr[u]:indptr[u + 1]], in file order.
    A counting sort, O(n)."""
    indptr, order = order_by_user(users, n_users)
    return indptr, items[order]


def csr_rows(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the CSR rows `rows`: (position in `rows` of each stored entry, index of the entry in
    the CSR arrays), so `dense[row_of, cols[positions]] = values[positions]` fills a block."""
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    row_of = np.repeat(np.arange(len(rows)), lengths)
    within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return row_of, np.repeat(starts, lengths) + within
