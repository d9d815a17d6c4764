"""numba kernels of the Gibbs sampler (`embedrec.training.gibbs`), kept apart from the Python
that drives a sweep.

- `sample_own`: every own row (P or Q) given the other side, in parallel; each row's Gram matrix
  is built packed (lower triangle by rows, `k = a(a+1)/2 + b`, b <= a) from chunks of its
  ratings whose scratch stays in cache, and solved by a packed Cholesky factor.
- `implicit_pass`: the implicit rows (Y or Z) given the effective rows U, one after another.
  With U fixed, the implicit rows enter only the own rows' prior, whose precision is diagonal,
  so each draw is a scalar regression per dimension: a rater costs two d-vector operations (its
  share of h, then its residual's update), not a d x d Gram product. (The sampler this replaced
  drew them given P, through every rater's Gram matrix: 68% of a sweep at ML-25M scale.)
- `implicit_sums`, `squared_residuals`: per-row sums the sweep needs, in parallel, without an
  array the size of the data.

Functions compiled with `parallel=True` hold nothing but their loops: an array expression
there would become a parallel region of its own. Every parallel loop writes only its own row,
so a seed gives the same chain on any thread count.
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
AHEAD = 16  # raters ahead whose residuals the implicit pass asks the cache for


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


@numba.njit(cache=True, inline="always")
def _symmetric_matvec(m, v, out):
    """out = M v for packed symmetric M (float64 entries). Inlined into the own pass; it takes
    its caller's fastmath flags."""
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
    indptr, cols, targets, mean, own_noise, other_noise, other, own, sums, prior, alpha, noise
):  # fmt: skip
    """Sample every row of `own` (P or Q) given the other side's effective rows `other`.

    A rating's precision factor is own_noise[row] * other_noise[col] (the robust mode's per-user
    and per-item factors; ones otherwise); `sums` holds each row's implicit sum (U - P), so the
    row's ratings see U = P + sums. The row's Gram matrix, the sum of c x x^T over its ratings
    with x = [1, other factors], is built packed in a chunked pass that keeps its scratch in
    cache."""
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


@numba.njit(cache=True, parallel=True)
def implicit_sums(indptr, cols, weight, implicit_rows, effective, sums, own):
    """Each row's implicit sum w_r * (sum of Y_j over its columns), recomputed after the
    implicit pass (so no rounding drifts in), and its own row P = U - sum (U held fixed)."""
    d = own.shape[1]
    for r in prange(own.shape[0]):
        s = np.zeros(d)
        for p in range(indptr[r], indptr[r + 1]):
            j = cols[p]
            for a in range(d):
                s[a] += implicit_rows[j, a]
        for a in range(d):
            sums[r, a] = weight[r] * s[a]
            own[r, a] = effective[r, a] - sums[r, a]


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


@numba.njit(cache=True)
def implicit_pass(t_indptr, t_cols, weight, resid, own_prec, prior, noise, implicit_rows):
    """Sample each implicit row Y_j given the effective rows U, one after another (exact
    Gibbs: each draw sees the residuals the previous ones left).

    With U fixed the ratings say nothing more about Y: Y_j enters only the prior of the own
    rows of its owners r (t_cols[j]), P_r = U_r - w_r * (sum of r's Y) ~ Normal(mu,
    diag(1 / own_prec)). That prior is diagonal, so each dimension a is a scalar regression:
    precision own_prec[a] * sum of w_r^2 + the Y prior's, and h from the owners' residuals
    `resid[r]` = P_r - mu, which the draw's change then updates."""
    d = implicit_rows.shape[1]
    y_mean, y_prec = prior[0], prior[1]
    h = np.empty(d)
    for j in range(implicit_rows.shape[0]):
        start, end = t_indptr[j], t_indptr[j + 1]
        for a in range(d):
            h[a] = 0.0
        w2 = 0.0
        for p in range(start, end):
            if p + AHEAD < end:
                _prefetch(resid, t_cols[p + AHEAD], 0)
                _prefetch(resid, t_cols[p + AHEAD], d - 1)
            r = t_cols[p]
            w = weight[r]
            w2 += w * w
            for a in range(d):
                h[a] += w * resid[r, a]
        for a in range(d):
            old = implicit_rows[j, a]
            prec = own_prec[a] * w2 + y_prec[a]
            mean = (own_prec[a] * (h[a] + w2 * old) + y_prec[a] * y_mean[a]) / prec
            new = mean + noise[j, a] / math.sqrt(prec)
            h[a] = new - old  # from here on, the change
            implicit_rows[j, a] = new
        for p in range(start, end):
            r = t_cols[p]
            w = weight[r]
            for a in range(d):
                resid[r, a] -= w * h[a]
