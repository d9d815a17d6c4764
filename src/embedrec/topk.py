"""Top-k selection over score matrices: shared by recommending and by ranking evaluation.

Blocks of many rows (evaluation, batches of lists): one pass per row keeping the k best in a
small sorted buffer, rows in parallel (numba, `topk_kernels`): most scores fall below the
buffer's smallest and cost one comparison, so a 1,024 x 59,047 block takes a fraction of
numpy's argpartition plus argsort. A few rows (one user's list) go through numpy's
partition: loading numba's compiled kernel costs a command 0.4 s of CPU, more than the rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from embedrec import lazy

if TYPE_CHECKING:
    from embedrec import topk_kernels
else:
    topk_kernels = lazy.module("embedrec.topk_kernels")


# Below this many rows, waking numba's thread pool costs more than the rows (a served list is one
# row: about 4 ms through the pool on a busy 2-core machine, microseconds without it).
PARALLEL_FROM_ROWS = 64
# Up to this many rows, numpy's partition per row (no numba to load).
NUMPY_UP_TO_ROWS = 8


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Item indices of the k highest scores per row, best first (ties: lower index first).

    >>> top_k(np.array([[0.1, 0.9, 0.5]]), 2)
    array([[1, 2]])
    """
    k = min(k, scores.shape[1])
    if k <= 0:
        return np.zeros((len(scores), 0), dtype=np.int64)
    rows = np.ascontiguousarray(scores)
    if len(rows) <= NUMPY_UP_TO_ROWS:
        return np.array([top_k_row(row, k) for row in rows], dtype=np.int64).reshape(-1, k)
    if len(rows) >= PARALLEL_FROM_ROWS:
        return topk_kernels.top_k_rows(rows, k)
    return topk_kernels.top_k_rows_serial(rows, k)


def top_k_row(values: np.ndarray, k: int) -> np.ndarray:
    """The kernel's answer for one row by numpy's partition: the k highest, best first, ties
    to the lower index (0 < k <= len(values)); a NaN score ranks below every number."""
    if np.isnan(values).any():
        values = np.where(np.isnan(values), -np.inf, values)
    threshold = np.partition(values, len(values) - k)[len(values) - k]
    above = np.flatnonzero(values > threshold)
    tied = np.flatnonzero(values == threshold)[: k - len(above)]
    chosen = np.concatenate([above, tied])
    return chosen[np.lexsort((chosen, -values[chosen]))]
