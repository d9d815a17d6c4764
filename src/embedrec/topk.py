"""Top-k selection over score matrices: shared by recommending and by ranking evaluation.

One pass per row keeping the k best in a small sorted buffer, rows in parallel (numba) when
there are many: most scores fall below the buffer's smallest and cost one comparison, so a
1,024 x 59,047 block takes a fraction of numpy's argpartition plus argsort.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange


@numba.njit(cache=True, fastmath=False)
def _top_k_row(values, k, where):
    """The k best of one row into `where`, best first."""
    best = np.empty(k, dtype=values.dtype)
    for a in range(k):  # start from the first k, sorted (stable: lower index first)
        position = a
        while position > 0 and values[a] > best[position - 1]:
            best[position] = best[position - 1]
            where[position] = where[position - 1]
            position -= 1
        best[position] = values[a]
        where[position] = a
    threshold = best[k - 1]
    for j in range(k, len(values)):
        value = values[j]
        if value > threshold:  # most scores stop here: one comparison each (NaN too)
            position = k - 1
            while position > 0 and value > best[position - 1]:
                best[position] = best[position - 1]
                where[position] = where[position - 1]
                position -= 1
            best[position] = value
            where[position] = j
            threshold = best[k - 1]


@numba.njit(cache=True, parallel=True, fastmath=False)
def _top_k_rows(scores, k):
    out = np.empty((scores.shape[0], k), dtype=np.int64)
    for row in prange(scores.shape[0]):
        _top_k_row(scores[row], k, out[row])
    return out


@numba.njit(cache=True, fastmath=False)
def _top_k_rows_serial(scores, k):
    out = np.empty((scores.shape[0], k), dtype=np.int64)
    for row in range(scores.shape[0]):
        _top_k_row(scores[row], k, out[row])
    return out


# Below this many rows, waking numba's thread pool costs more than the rows (a served list is one
# row: about 4 ms through the pool on a busy 2-core machine, microseconds without it).
PARALLEL_FROM_ROWS = 64


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Item indices of the k highest scores per row, best first (ties: lower index first).

    >>> top_k(np.array([[0.1, 0.9, 0.5]]), 2)
    array([[1, 2]])
    """
    k = min(k, scores.shape[1])
    if k <= 0:
        return np.zeros((len(scores), 0), dtype=np.int64)
    rows = np.ascontiguousarray(scores)
    return (_top_k_rows if len(rows) >= PARALLEL_FROM_ROWS else _top_k_rows_serial)(rows, k)
