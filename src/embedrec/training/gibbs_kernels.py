"""numba kernels of the Gibbs sampler (`embedrec.training.gibbs`), kept apart from the Python
that drives a sweep.

Layout, chosen by profiling a sweep at MovieLens-25M scale (BENCHMARKS.md): 78% of the time was
the one-after-another pass over the implicit rows, which read each rater's full float64 Gram
matrix twice (968 bytes, at random). Here

- symmetric d x d matrices are stored packed, lower triangle by rows (`k = a(a+1)/2 + b`,
  b <= a), and the per-row Gram matrices the implicit pass reads at random are float32 (264
  bytes at d = 11); sums and solves are float64;
- an implicit row's precision does not change during its pass (the Gram matrices are fixed once
  the own rows are drawn), so `implicit_conditionals` builds every precision and its Cholesky
  factor in parallel, and the part left one row after another (`implicit_pass`) reads each
  rater's Gram matrix once, to update its residual projection;
- inside one implicit row the raters are distinct, so its big rows are split into blocks of
  raters processed in parallel; sums go block by block in block order whatever the thread
  count or the path (serial or parallel), so a seed gives the same chain on any thread count.

Functions compiled with `parallel=True` hold nothing but their loops: an array expression
there would become a parallel region of its own.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange


def packed_size(d: int) -> int:
    """Entries of a packed symmetric d x d matrix."""
    return d * (d + 1) // 2


@numba.njit(cache=True)
def _symmetric_matvec(m, v, out):
    """out = M v for packed symmetric M (float64 or float32 entries, float64 sums)."""
    d = v.shape[0]
    for a in range(d):
        out[a] = 0.0
    k = 0
    for a in range(d):
        va = v[a]
        s = 0.0
        for b in range(a):
            mab = m[k]
            s += mab * v[b]
            out[b] += mab * va
            k += 1
        out[a] += s + m[k] * va
        k += 1


@numba.njit(cache=True)
def _cholesky(prec, low):
    """Packed lower Cholesky factor of packed prec (a tiny floor keeps it finite)."""
    d = int((math.sqrt(8 * prec.shape[0] + 1) - 1) / 2)
    for i in range(d):
        ii = i * (i + 1) // 2
        for j in range(i + 1):
            jj = j * (j + 1) // 2
            s = prec[ii + j]
            for k in range(j):
                s -= low[ii + k] * low[jj + k]
            if i == j:
                low[ii + i] = math.sqrt(max(s, 1e-12))
            else:
                low[ii + j] = s / low[jj + j]


@numba.njit(cache=True)
def _solve_draw(low, h, noise, out):
    """out = prec^-1 h + L^-T noise, a draw from Normal(prec^-1 h, prec^-1) for prec = L L^T."""
    d = h.shape[0]
    y = np.empty(d)
    for a in range(d):
        aa = a * (a + 1) // 2
        s = h[a]
        for b in range(a):
            s -= low[aa + b] * y[b]
        y[a] = s / low[aa + a]
    for a in range(d - 1, -1, -1):
        s = y[a] + noise[a]
        for b in range(a + 1, d):
            s -= low[b * (b + 1) // 2 + a] * out[b]
        out[a] = s / low[a * (a + 1) // 2 + a]


@numba.njit(cache=True)
def _draw_row(data, prior_mean, prior_prec, alpha, h, noise, out):
    """Draw `out` from prec = alpha * data + diag(prior_prec) (data packed), h given."""
    d = h.shape[0]
    prec = np.empty(data.shape[0])
    for k in range(data.shape[0]):
        prec[k] = alpha * data[k]
    for a in range(d):
        prec[a * (a + 1) // 2 + a] += prior_prec[a]
    low = np.empty(data.shape[0])
    _cholesky(prec, low)
    _solve_draw(low, h, noise, out)
    return low


@numba.njit(cache=True, parallel=True)
def sample_own(
    indptr, cols, targets, mean, own_noise, other_noise, other, own, sums, gram, proj, prior,
    alpha, noise,
):  # fmt: skip
    """Sample every row of `own` (P or Q) given the other side's effective rows `other`.

    A rating's precision factor is own_noise[row] * other_noise[col] (the robust mode's per-user
    and per-item factors; ones otherwise); `sums` holds each row's implicit sum (U - P). On return
    `gram[r]` (packed, float32) is the row's sum of c x x^T over its ratings, with
    x = [1, other factors], and `proj[r]` the sum of c x times the residual (rating minus the
    full prediction with the new row)."""
    d = own.shape[1]
    size = d * (d + 1) // 2
    prior_mean, prior_prec = prior[0], prior[1]
    for row in prange(own.shape[0]):
        g = np.zeros(size)
        t_x = np.zeros(d)  # sum of c x (rating - offset)
        x = np.empty(d)
        x[0] = 1.0
        c_row = own_noise[row]
        for p in range(indptr[row], indptr[row + 1]):
            col = cols[p]
            for a in range(1, d):
                x[a] = other[col, a]
            c = c_row * other_noise[col]
            t = c * (targets[p] - mean - other[col, 0])
            k = 0
            for a in range(d):
                t_x[a] += x[a] * t
                cx = c * x[a]
                for b in range(a + 1):
                    g[k] += cx * x[b]
                    k += 1
        gs = np.empty(d)
        _symmetric_matvec(g, sums[row], gs)
        h = np.empty(d)
        for a in range(d):
            h[a] = prior_prec[a] * prior_mean[a] + alpha * (t_x[a] - gs[a])
        _draw_row(g, prior_mean, prior_prec, alpha, h, noise[row], own[row])
        for k in range(size):
            gram[row, k] = g[k]
        total = own[row] + sums[row]
        _symmetric_matvec(g, total, gs)
        for a in range(d):
            proj[row, a] = t_x[a] - gs[a]


@numba.njit(cache=True, parallel=True)
def implicit_conditionals(t_indptr, t_cols, weight, gram, implicit_rows, prior, alpha, low, base):
    """For every implicit row j at once: `low[j]`, the packed Cholesky factor of its precision
    alpha * sum of w_r^2 G_r over its owners r + diag(prior precision), and `base[j]`, the part
    of its h that the pass does not change (the prior's, and its own current share of the
    residuals its owners' projections hold: alpha * sum w_r^2 G_r Y_j)."""
    d = implicit_rows.shape[1]
    size = d * (d + 1) // 2
    prior_mean, prior_prec = prior[0], prior[1]
    for j in prange(implicit_rows.shape[0]):
        data = np.zeros(size)
        for p in range(t_indptr[j], t_indptr[j + 1]):
            r = t_cols[p]
            w2 = weight[r] * weight[r]
            for k in range(size):
                data[k] += w2 * gram[r, k]
        own_share = np.empty(d)
        _symmetric_matvec(data, implicit_rows[j], own_share)
        for a in range(d):
            base[j, a] = prior_prec[a] * prior_mean[a] + alpha * own_share[a]
        prec = np.empty(size)
        for k in range(size):
            prec[k] = alpha * data[k]
        for a in range(d):
            prec[a * (a + 1) // 2 + a] += prior_prec[a]
        _cholesky(prec, low[j])


@numba.njit(cache=True)
def _block_h(t_cols, weight, proj, start, end, out):
    """out = sum of w_r proj[r] over the raters t_cols[start:end]."""
    d = out.shape[0]
    for a in range(d):
        out[a] = 0.0
    for p in range(start, end):
        r = t_cols[p]
        w = weight[r]
        for a in range(d):
            out[a] += w * proj[r, a]


@numba.njit(cache=True)
def _block_update(t_cols, weight, gram, proj, delta, start, end):
    """proj[r] -= w_r G_r delta for the raters t_cols[start:end] (all distinct)."""
    d = delta.shape[0]
    change = np.empty(d)
    for p in range(start, end):
        r = t_cols[p]
        _symmetric_matvec(gram[r], delta, change)
        w = weight[r]
        for a in range(d):
            proj[r, a] -= w * change[a]


@numba.njit(cache=True)
def _draw_implicit(j, n_blocks, partial, low, base, alpha, noise, implicit_rows, delta):
    """Draw Y_j from its precomputed factor and the block sums of its h; delta = new - old."""
    d = implicit_rows.shape[1]
    h = np.empty(d)
    for a in range(d):
        s = 0.0
        for b in range(n_blocks):
            s += partial[b, a]
        h[a] = base[j, a] + alpha * s
    new = np.empty(d)
    _solve_draw(low[j], h, noise[j], new)
    for a in range(d):
        delta[a] = new[a] - implicit_rows[j, a]
        implicit_rows[j, a] = new[a]


@numba.njit(cache=True, parallel=True)
def implicit_pass(
    t_indptr, t_cols, weight, gram, proj, low, base, alpha, noise, implicit_rows, block,
    parallel_from,
):  # fmt: skip
    """Sample each implicit row Y_j given everything else, one after another (exact Gibbs: each
    draw sees the residuals the previous ones left), from the factors `implicit_conditionals`
    built. Y_j enters the effective row of every owner r in t_cols[j] with coefficient
    weight[r]; after its draw each owner's projection is updated. Rows with at least
    `parallel_from` raters are processed in parallel, `block` raters to a task; smaller rows
    serially, where a parallel region would cost more than it saves."""
    d = implicit_rows.shape[1]
    most = 1
    for j in range(implicit_rows.shape[0]):
        most = max(most, (t_indptr[j + 1] - t_indptr[j] + block - 1) // block)
    partial = np.zeros((most, d))
    delta = np.empty(d)
    for j in range(implicit_rows.shape[0]):
        start, end = t_indptr[j], t_indptr[j + 1]
        n_blocks = (end - start + block - 1) // block
        if end - start >= parallel_from:
            for b in prange(n_blocks):
                lo = start + b * block
                _block_h(t_cols, weight, proj, lo, min(lo + block, end), partial[b])
            _draw_implicit(j, n_blocks, partial, low, base, alpha, noise, implicit_rows, delta)
            for b in prange(n_blocks):
                lo = start + b * block
                _block_update(t_cols, weight, gram, proj, delta, lo, min(lo + block, end))
        else:
            for b in range(n_blocks):
                lo = start + b * block
                _block_h(t_cols, weight, proj, lo, min(lo + block, end), partial[b])
            _draw_implicit(j, n_blocks, partial, low, base, alpha, noise, implicit_rows, delta)
            _block_update(t_cols, weight, gram, proj, delta, start, end)


@numba.njit(cache=True, parallel=True)
def implicit_sums(indptr, cols, weight, implicit_rows, own, sums, effective):
    """Each row's implicit sum w_r * (sum of Y_j over its columns) and effective row, recomputed
    after the implicit pass (so no rounding drifts in)."""
    d = own.shape[1]
    for r in prange(own.shape[0]):
        s = np.zeros(d)
        for p in range(indptr[r], indptr[r + 1]):
            j = cols[p]
            for a in range(d):
                s[a] += implicit_rows[j, a]
        for a in range(d):
            sums[r, a] = weight[r] * s[a]
            effective[r, a] = own[r, a] + sums[r, a]


@numba.njit(cache=True, parallel=True)
def squared_residuals(indptr, cols, targets, mean, own_rows, other_rows, own_noise, other_noise, out):
    """Per row r of one side: out[r] = (sum e^2, sum c e^2, sum other_noise e^2) over its
    ratings, e = rating - prediction and c = own_noise[r] * other_noise[col] (the noise step's
    three sums, without a residual array the size of the data)."""
    d = own_rows.shape[1]
    for row in prange(own_rows.shape[0]):
        s0 = s1 = s2 = 0.0
        c_row = own_noise[row]
        for p in range(indptr[row], indptr[row + 1]):
            col = cols[p]
            pred = mean + own_rows[row, 0] + other_rows[col, 0]
            for f in range(1, d):
                pred += own_rows[row, f] * other_rows[col, f]
            e = targets[p] - pred
            e2 = e * e
            w = other_noise[col]
            s0 += e2
            s1 += c_row * w * e2
            s2 += w * e2
        out[row, 0] = s0
        out[row, 1] = s1
        out[row, 2] = s2

