"""numba's top-k kernels for blocks of rows (`embedrec.topk` says when they are used): one pass
per row keeping the k best in a small sorted buffer, stable (lower index first on ties)."""

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
def top_k_rows(scores, k):
    out = np.empty((scores.shape[0], k), dtype=np.int64)
    for row in prange(scores.shape[0]):
        _top_k_row(scores[row], k, out[row])
    return out


@numba.njit(cache=True, fastmath=False)
def top_k_rows_serial(scores, k):
    out = np.empty((scores.shape[0], k), dtype=np.int64)
    for row in range(scores.shape[0]):
        _top_k_row(scores[row], k, out[row])
    return out
