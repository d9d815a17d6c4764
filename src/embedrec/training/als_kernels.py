"""numba kernels of ials's trainer (`IALSKind.fit_epochs`): one side of implicit ALS, solved
by conjugate gradient.

For each row (a user, or an item on the other half-step) with observed columns J, weights c_j
and the other side's factors H, the row's factors w minimise

    sum_j c_j (w . h_j - 1)^2  +  alpha0 * sum_all (w . h)^2  +  reg_row * |w|^2

whose normal equations are A w = b with A = alpha0 * G + sum_j (c_j - alpha0) h_j h_j^T +
reg_row * I (G = H^T H, computed once per half-step) and b = sum_j c_j h_j. A is never formed:
each CG step costs O(k^2 + |J| k) (Takacs et al. 2011), warm-started from the current w, so a
few steps per sweep suffice. Rows are independent: solved in parallel, each thread writing only
its own rows, so results do not depend on the thread count.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange


@numba.njit(cache=True, fastmath=True, inline="always")
def _apply(p, gram, other, cols, weights, start, stop, alpha0, reg, out):
    """out = A p for one row (see the module docstring); float32 throughout, so that the loops
    over the k factors vectorise."""
    k = len(p)
    for a in range(k):
        s = np.float32(0.0)
        for b in range(k):
            s += gram[a, b] * p[b]
        out[a] = alpha0 * s + reg * p[a]
    for j in range(start, stop):
        h = other[cols[j]]
        dot = np.float32(0.0)
        for a in range(k):
            dot += h[a] * p[a]
        scale = (weights[j] - alpha0) * dot
        for a in range(k):
            out[a] += scale * h[a]


@numba.njit(cache=True, parallel=True, fastmath=True)
def cg_half_step(own, other, gram, indptr, cols, weights, alpha0, regs, steps):
    """Update every row of `own` given `other` (G = other^T other) by `steps` CG iterations;
    returns the summed weighted squared error of the observed entries before the update (a
    training loss). Each row is one task: its vectors stay in cache through all its steps."""
    n, k = own.shape
    alpha0 = np.float32(alpha0)
    loss = np.zeros(n)
    for row in prange(n):
        start, stop = indptr[row], indptr[row + 1]
        w = own[row]
        reg = regs[row]
        # r = b - A w in one pass over the row's entries (b = sum of c h)
        r = np.empty(k, dtype=np.float32)
        for a in range(k):
            s = np.float32(0.0)
            for b in range(k):
                s += gram[a, b] * w[b]
            r[a] = -(alpha0 * s + reg * w[a])
        row_loss = 0.0
        for j in range(start, stop):
            h = other[cols[j]]
            dot = np.float32(0.0)
            for a in range(k):
                dot += h[a] * w[a]
            c = weights[j]
            row_loss += c * (dot - 1.0) ** 2
            scale = c - (c - alpha0) * dot
            for a in range(k):
                r[a] += scale * h[a]
        loss[row] = row_loss
        p = r.copy()
        ap = np.empty(k, dtype=np.float32)
        rs = np.float32(0.0)
        for a in range(k):
            rs += r[a] * r[a]
        for _ in range(steps):
            if rs < 1e-20:
                break
            _apply(p, gram, other, cols, weights, start, stop, alpha0, reg, ap)
            pap = np.float32(0.0)
            for a in range(k):
                pap += p[a] * ap[a]
            if pap <= 0.0:
                break
            step = rs / pap
            rs_new = np.float32(0.0)
            for a in range(k):
                w[a] += step * p[a]
                r[a] -= step * ap[a]
                rs_new += r[a] * r[a]
            beta = rs_new / rs
            for a in range(k):
                p[a] = r[a] + beta * p[a]
            rs = rs_new
    return loss.sum()


@numba.njit(cache=True)
def transpose_csr(indptr, cols, weights, n_cols):
    """The same sparse matrix grouped by column: (indptr, rows, weights) in CSR of the transpose."""
    counts = np.zeros(n_cols + 1, dtype=np.int64)
    for j in range(len(cols)):
        counts[cols[j] + 1] += 1
    for c in range(n_cols):
        counts[c + 1] += counts[c]
    fill = counts[:-1].copy()
    rows = np.empty(len(cols), dtype=np.int32)
    values = np.empty(len(cols), dtype=np.float32)
    for row in range(len(indptr) - 1):
        for j in range(indptr[row], indptr[row + 1]):
            c = cols[j]
            rows[fill[c]] = row
            values[fill[c]] = weights[j]
            fill[c] += 1
    return counts, rows, values
