"""numba kernels of the fused engine: block layout and one stratum of SGD.

Kept apart from the engine so the engine reads as plain Python and these read as plain loops.
All kernels are compiled once and cached on disk (`cache=True`).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange


@numba.njit(cache=True)
def counting_layout(users, items, user_rank, item_group, n_users, grid, order):
    """Sort ratings by key = item_group * n_users + user_rank (counting sort, O(n)), visiting
    rows in `order` so that each user's ratings inside a block come out shuffled.

    Returns (key_offsets, rows): the ratings of key k are rows[key_offsets[k]:key_offsets[k+1]].
    """
    n_keys = grid * n_users
    counts = np.zeros(n_keys + 1, dtype=np.int64)
    for j in range(len(users)):
        counts[item_group[items[j]] * n_users + user_rank[users[j]] + 1] += 1
    for k in range(n_keys):
        counts[k + 1] += counts[k]
    fill = counts[:-1].copy()
    rows = np.empty(len(users), dtype=np.int32)
    for j in order:
        k = item_group[items[j]] * n_users + user_rank[users[j]]
        rows[fill[k]] = j
        fill[k] += 1
    return counts, rows


@numba.njit(cache=True)
def shuffle_runs(key_perm, group_starts, grid, n_users, seed):
    """A fresh random order of each block's users (runs) for this epoch, in place.

    key_perm[ig * n_users + r] holds a user rank of the block (user group of r, item group ig).
    """
    np.random.seed(seed)
    for ig in range(grid):
        for ug in range(grid):
            lo = ig * n_users + group_starts[ug]
            hi = ig * n_users + group_starts[ug + 1]
            for a in range(hi - 1, lo, -1):
                b = lo + np.random.randint(0, a - lo + 1)
                key_perm[a], key_perm[b] = key_perm[b], key_perm[a]


@numba.njit(cache=True, fastmath=True, inline="always")
def _decay(row, weights, stamps, bias, now, wd):
    if stamps[row] == now:  # already decayed in this sub-stage: the common case for items
        return
    factor = math.exp(-wd * (now - stamps[row]))
    for f in range(weights.shape[1]):
        weights[row, f] *= factor
    if bias.shape[0] > 0:
        bias[row] *= factor
    stamps[row] = now


@numba.njit(parallel=True, fastmath=True, cache=True)
def sgd_stratum(
    stratum,
    sub_stages,
    grid,
    n_users,
    key_offsets,
    key_perm,
    group_starts,
    block_pos,
    block_done,
    block_sqerr,
    u_sorted,
    i_sorted,
    r_sorted,
    user_w,
    item_w,
    user_b,
    item_b,
    user_acc,
    item_acc,
    user_bacc,
    item_bacc,
    user_stamp,
    item_stamp,
    lrs,
    now,
    wd,
    low,
    high,
    squash,
):
    """One stratum of DSGD: grid blocks with disjoint users and items, processed in parallel
    (no two threads ever touch the same row, so no races), in `sub_stages` lockstep slices so
    the learning rate and weight decay follow the schedule within the stratum.

    Per rating: lazy decoupled weight decay (rows shrink by exp(-wd * sum(lr) over the virtual
    steps since they were last decayed, counted to the end of this stratum), then row-wise
    Adagrad steps on the MSE gradient through `sigmoid_range`.
    """
    k = user_w.shape[1]
    has_bias = user_b.shape[0] > 0
    zero, one, two = np.float32(0.0), np.float32(1.0), np.float32(2.0)
    span, low32 = np.float32(high - low), np.float32(low)
    # `now` is the decay clock at the end of this stratum; a row is decayed up to it at its first
    # touch in the stratum (per sub-stage would cost an exp and a row scaling every slice).
    for s in range(sub_stages):
        lr = lrs[s]
        for ug in prange(grid):
            ig = (ug + stratum) % grid
            block = ig * grid + ug
            lo = ig * n_users + group_starts[ug]
            hi = ig * n_users + group_starts[ug + 1]
            total = key_offsets[hi] - key_offsets[lo]
            target = (total * (s + 1)) // sub_stages
            pos = block_pos[block]
            done = block_done[block]
            sqerr = 0.0
            while pos < hi and done < target:
                key = ig * n_users + key_perm[pos]
                start, stop = key_offsets[key], key_offsets[key + 1]
                pos += 1
                if start == stop:
                    continue
                done += stop - start
                u = u_sorted[start]
                _decay(u, user_w, user_stamp, user_b, now, wd)
                p = user_w[u]  # row views and float32 scalars let numba vectorise the loops
                for j in range(start, stop):
                    i = i_sorted[j]
                    _decay(i, item_w, item_stamp, item_b, now, wd)
                    q = item_w[i]
                    raw = zero
                    user_sq = zero
                    item_sq = zero
                    for f in range(k):
                        raw += p[f] * q[f]
                        user_sq += p[f] * p[f]
                        item_sq += q[f] * q[f]
                    if has_bias:
                        raw += user_b[u] + item_b[i]
                    if squash:
                        sig = one / (one + math.exp(-raw))
                        err = span * sig + low32 - r_sorted[j]
                        grad = two * err * span * sig * (one - sig)
                    else:
                        err = raw - r_sorted[j]
                        grad = two * err
                    sqerr += err * err
                    g2 = grad * grad
                    user_acc[u] += g2 * item_sq / k  # mean squared gradient of the user row
                    item_acc[i] += g2 * user_sq / k
                    step_u = np.float32(lr / math.sqrt(user_acc[u] + 1e-8)) * grad
                    step_i = np.float32(lr / math.sqrt(item_acc[i] + 1e-8)) * grad
                    for f in range(k):
                        pu = p[f]
                        p[f] = pu - step_u * q[f]
                        q[f] -= step_i * pu
                    if has_bias:
                        user_bacc[u] += g2
                        item_bacc[i] += g2
                        user_b[u] -= np.float32(lr / math.sqrt(user_bacc[u] + 1e-8)) * grad
                        item_b[i] -= np.float32(lr / math.sqrt(item_bacc[i] + 1e-8)) * grad
            block_pos[block] = pos
            block_done[block] = done
            block_sqerr[block] += sqerr


@numba.njit(parallel=True, fastmath=True, cache=True)
def flush_decay(weights, bias, stamps, now, wd):
    """Bring every row's lazy weight decay up to `now` (before validation or saving)."""
    for row in prange(weights.shape[0]):
        _decay(row, weights, stamps, bias, now, wd)
