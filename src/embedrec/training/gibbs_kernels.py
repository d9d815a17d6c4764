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
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.core import cgutils
from numba.extending import intrinsic

CHUNK = 256  # ratings of a row gathered at a time by the own pass (its scratch stays in cache)
AHEAD = 16  # raters ahead whose rows the implicit pass asks the cache for


def _prefetch_typing(typingctx, array, row, col):
    """A cache hint for array[row, col] (LLVM's prefetch: read, high locality): the implicit
    pass jumps between raters' rows at random, and the loads of one rater cannot start until
    the previous one's arithmetic is issued, so the next raters' rows are asked for early."""
    sig = types.void(array, row, col)

    def codegen(context, builder, signature, args):
        kind = signature.args[0]
        data = context.make_array(kind)(context, builder, args[0])
        at = [context.cast(builder, v, t, types.intp) for v, t in zip(args[1:], signature.args[1:])]
        ptr = cgutils.get_item_pointer(context, builder, kind, data, at, wraparound=False)
        byte_ptr = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]),
            "llvm.prefetch.p0i8",
        )  # fmt: skip
        flags = [ir.Constant(i32, v) for v in (0, 3, 1)]  # read, keep in all levels, data
        builder.call(fn, [builder.bitcast(ptr, byte_ptr), *flags])
        return context.get_dummy_value()

    return sig, codegen


_prefetch: Any = intrinsic(_prefetch_typing)  # called as _prefetch(array, row, col)


@numba.njit(cache=True)
def _prefetch_rater(gram, proj, r):
    """Ask for rater r's Gram row (every 64 bytes of it) and projection."""
    size = gram.shape[1]
    for k in range(0, size, 16):
        _prefetch(gram, r, k)
    _prefetch(gram, r, size - 1)
    _prefetch(proj, r, 0)
    _prefetch(proj, r, proj.shape[1] - 1)


def packed_size(d: int) -> int:
    """Entries of a packed symmetric d x d matrix."""
    return d * (d + 1) // 2


@numba.njit(cache=True, inline="always")
def _symmetric_matvec(m, v, out):
    """out = M v for packed symmetric M (float64 or float32 entries, float64 sums). Inlined:
    it is the inner loop of the implicit pass, where a call costs (measured) a quarter of the
    pass; it takes its caller's fastmath flags."""
    d = v.shape[0]
    for a in range(d):
        out[a] = 0.0
    k = 0
    for a in range(d):
        va = v[a]
        s = 0.0
        for b in range(a):
            s += m[k + b] * v[b]
        for b in range(a + 1):
            out[b] += m[k + b] * va
        out[a] += s
        k += a + 1


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


@numba.njit(cache=True, fastmath={"reassoc", "contract"})
def _dot(a, b, n):
    """Dot product of the first n entries, free to reorder its sums (so it runs in SIMD lanes);
    the same order on every run and thread count."""
    s = 0.0
    for i in range(n):
        s += a[i] * b[i]
    return s


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
        x = np.empty((d, CHUNK))  # a chunk of the row's design, a dimension a contiguous run
        cx = np.empty((d, CHUNK))
        residual = np.empty(CHUNK)
        g = np.zeros(size)
        t_x = np.zeros(d)  # sum of c x (rating - offset)
        c_row = own_noise[row]
        for first in range(indptr[row], indptr[row + 1], CHUNK):
            n = min(CHUNK, indptr[row + 1] - first)
            for q in range(n):
                col = cols[first + q]
                c = c_row * other_noise[col]
                x[0, q] = 1.0
                cx[0, q] = c
                for a in range(1, d):
                    x[a, q] = other[col, a]
                    cx[a, q] = c * other[col, a]
                residual[q] = targets[first + q] - mean - other[col, 0]
            k = 0
            for a in range(d):
                t_x[a] += _dot(cx[a], residual, n)
                for b in range(a + 1):
                    g[k] += _dot(cx[a], x[b], n)
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
        end = t_indptr[j + 1]
        for p in range(t_indptr[j], end):
            if p + AHEAD < end:
                for k in range(0, size, 16):
                    _prefetch(gram, t_cols[p + AHEAD], k)
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
def _block_h(t_cols, weight, proj, start, end, ahead_to, out):
    """out = sum of w_r proj[r] over the raters t_cols[start:end], asking for the projections
    of the raters up to `ahead_to`."""
    d = out.shape[0]
    for a in range(d):
        out[a] = 0.0
    for p in range(start, end):
        if p + AHEAD < ahead_to:
            _prefetch(proj, t_cols[p + AHEAD], 0)
            _prefetch(proj, t_cols[p + AHEAD], d - 1)
        r = t_cols[p]
        w = weight[r]
        for a in range(d):
            out[a] += w * proj[r, a]


@numba.njit(cache=True, fastmath={"reassoc", "contract"})
def _block_update(t_cols, weight, gram, proj, delta, start, end, ahead_to):
    """proj[r] -= w_r G_r delta for the raters t_cols[start:end] (all distinct), asking for
    the rows of the raters up to `ahead_to` (measured: asking for the Gram rows during the
    sum instead is slower, they leave the cache before the update reads them). Free to reorder
    its sums, so row a's dot and its axpy into the rows above run in SIMD lanes: each rater's
    change is its own, the order is fixed by the code, not by the threads."""
    d = delta.shape[0]
    change = np.empty(d)
    for p in range(start, end):
        if p + AHEAD < ahead_to:
            _prefetch_rater(gram, proj, t_cols[p + AHEAD])
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
def _parallel_row(t_cols, weight, gram, proj, start, end, block, partial, stage, delta):
    """One big implicit row's raters, `block` to a task: stage 0 sums their h terms into
    `partial` (one row per block), stage 1 updates their projections by `delta`."""
    for b in prange((end - start + block - 1) // block):
        lo = start + b * block
        hi = min(lo + block, end)
        if stage == 0:
            _block_h(t_cols, weight, proj, lo, hi, hi, partial[b])
        else:
            _block_update(t_cols, weight, gram, proj, delta, lo, hi, hi)


@numba.njit(cache=True)
def implicit_pass(
    t_indptr, t_cols, weight, gram, proj, low, base, alpha, noise, implicit_rows, block,
    parallel_from,
):  # fmt: skip
    """Sample each implicit row Y_j given everything else, one after another (exact Gibbs: each
    draw sees the residuals the previous ones left), from the factors `implicit_conditionals`
    built. Y_j enters the effective row of every owner r in t_cols[j] with coefficient
    weight[r]; after its draw each owner's projection is updated. Rows with at least
    `parallel_from` raters are processed in parallel, `block` raters to a task; smaller rows
    serially, where a parallel region would cost more than it saves. h is summed block by
    block on both paths, so the path and the thread count do not change a draw."""
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
            _parallel_row(t_cols, weight, gram, proj, start, end, block, partial, 0, delta)
            _draw_implicit(j, n_blocks, partial, low, base, alpha, noise, implicit_rows, delta)
            _parallel_row(t_cols, weight, gram, proj, start, end, block, partial, 1, delta)
        else:
            for b in range(n_blocks):
                lo = start + b * block
                _block_h(t_cols, weight, proj, lo, min(lo + block, end), end, partial[b])
            _draw_implicit(j, n_blocks, partial, low, base, alpha, noise, implicit_rows, delta)
            _block_update(t_cols, weight, gram, proj, delta, start, end, end)


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
def squared_residuals(
    indptr, cols, targets, mean, own_rows, other_rows, own_noise, other_noise, out
):
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
