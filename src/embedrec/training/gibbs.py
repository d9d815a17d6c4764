"""Bayesian matrix factorization trained by Gibbs sampling (Salakhutdinov & Mnih 2008, in the
per-dimension-prior form of Rendle's Bayesian factorization machines).

rating ~ Normal(mean + user_bias + item_bias + user . item, 1/alpha); each user's (bias, factors)
has a Gaussian prior whose per-dimension mean and precision get their own hyperpriors, and so do
the items'. Every sweep samples alpha, then each user's row given the items, each item's row given
the users, then the hyperparameters. Nothing to tune but the rank and the number of sweeps.

The prediction is the average over the kept samples of their predictions. Because an average of
dot products is one dot product of concatenated, scaled vectors, the posterior mean is stored as
an ordinary `DotProductBias` (width = rank x kept samples): it saves, loads, serves and folds in
new users like any other model.
"""

from __future__ import annotations

import math
import time

import numba
import numpy as np
import torch

from embedrec.data.encode import _order_by_user
from embedrec.models import DotProductBias
from embedrec.training.progress import EpochStats, Reporter
from embedrec.training.torch_engine import Validate


@numba.njit(cache=True)
def _cholesky(a):
    n = a.shape[0]
    low = np.zeros_like(a)
    for i in range(n):
        for j in range(i + 1):
            s = a[i, j]
            for k in range(j):
                s -= low[i, k] * low[j, k]
            if i == j:
                low[i, i] = math.sqrt(max(s, 1e-12))
            else:
                low[i, j] = s / low[j, j]
    return low


@numba.njit(cache=True)
def _sample_rows(indptr, cols, targets, other, own, prior_mean, prior_prec, alpha, mean):
    """Sample every row of `own` ([bias, factors]) given the other side's rows."""
    d = own.shape[1]
    for row in range(own.shape[0]):
        prec = np.diag(prior_prec).copy()
        h = prior_prec * prior_mean
        for j in range(indptr[row], indptr[row + 1]):
            o = other[cols[j]]
            x = np.empty(d)
            x[0] = 1.0
            x[1:] = o[1:]
            t = targets[j] - mean - o[0]
            for a in range(d):
                h[a] += alpha * x[a] * t
                for b in range(a + 1):
                    prec[a, b] += alpha * x[a] * x[b]
        for a in range(d):
            for b in range(a):
                prec[b, a] = prec[a, b]
        low = _cholesky(prec)
        # mean = prec^-1 h: forward then backward substitution
        y = np.empty(d)
        for a in range(d):
            s = h[a]
            for b in range(a):
                s -= low[a, b] * y[b]
            y[a] = s / low[a, a]
        z = np.random.standard_normal(d)
        for a in range(d - 1, -1, -1):
            s = y[a] + z[a]  # solving L^T w = y + z gives mean + a draw with covariance prec^-1
            for b in range(a + 1, d):
                s -= low[b, a] * own[row, b]
            own[row, a] = s / low[a, a]


@numba.njit(cache=True)
def _sse(users, items, ratings, user_rows, item_rows, mean):
    total = 0.0
    for j in range(len(ratings)):
        u, i = user_rows[users[j]], item_rows[items[j]]
        pred = mean + u[0] + i[0]
        for f in range(1, u.shape[0]):
            pred += u[f] * i[f]
        total += (ratings[j] - pred) ** 2
    return total


def _grouped(keys, others, values, n_keys):
    indptr, order = _order_by_user(keys, n_keys)
    return indptr, others[order].astype(np.int64), values[order].astype(np.float64)


def _sample_hyper(rows, rng):
    """Per-dimension prior precision and mean (Gamma(1, 1) and Normal hyperpriors)."""
    n = rows.shape[0]
    mu = rows.mean(axis=0)
    prec = rng.gamma(1.0 + n / 2, 1.0 / (1.0 + 0.5 * ((rows - mu) ** 2).sum(axis=0)))
    mean = rng.normal(rows.sum(axis=0) / (n + 1.0), 1.0 / np.sqrt((n + 1.0) * prec))
    return mean, prec


def fit_gibbs(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    n_users: int,
    n_items: int,
    *,
    rank: int = 10,
    sweeps: int = 200,
    burn_in: int | None = None,
    keep: int = 100,
    seed: int = 42,
    validate: Validate | None = None,
    reporter: Reporter | None = None,
) -> tuple[DotProductBias, list[EpochStats]]:
    """Sample `sweeps` times; average the predictions of the samples after `burn_in` (default:
    a fifth of the sweeps), keeping at most `keep` of them (evenly spaced) in the model."""
    reporter = reporter or Reporter()
    rng = np.random.default_rng(seed)
    _seed_numba(seed)
    burn_in = sweeps // 5 if burn_in is None else burn_in
    mean = float(ratings.mean(dtype=np.float64))
    user_rows = np.zeros((n_users, rank + 1))
    item_rows = np.zeros((n_items, rank + 1))
    user_rows[:, 1:] = rng.normal(0, 0.1, (n_users, rank))
    item_rows[:, 1:] = rng.normal(0, 0.1, (n_items, rank))
    by_user = _grouped(users, items, ratings, n_users)
    by_item = _grouped(items, users, ratings, n_items)
    kept_every = max(1, math.ceil((sweeps - burn_in) / keep))
    kept: list[tuple[np.ndarray, np.ndarray]] = []
    history: list[EpochStats] = []
    model = None
    reporter.start(sweeps, 1)
    try:
        for sweep in range(sweeps):
            start = time.perf_counter()
            sse = _sse(users, items, ratings, user_rows, item_rows, mean)
            alpha = rng.gamma(1.0 + len(ratings) / 2, 1.0 / (1.0 + sse / 2))
            for (indptr, cols, targets), own, other in (
                (by_user, user_rows, item_rows),
                (by_item, item_rows, user_rows),
            ):
                prior_mean, prior_prec = _sample_hyper(own, rng)
                _sample_rows(indptr, cols, targets, other, own, prior_mean, prior_prec, alpha, mean)
            after = sweep - burn_in
            if after >= 0 and after % kept_every == 0:
                kept.append((user_rows.copy(), item_rows.copy()))
                model = posterior_mean_model(kept, mean)
            reporter.advance(1)
            valid_loss = valid_rmse = None
            if validate is not None and model is not None:
                valid_loss, valid_rmse = validate(model)
            stats = EpochStats(
                sweep, sse / len(ratings), valid_loss, valid_rmse, time.perf_counter() - start
            )
            history.append(stats)
            reporter.end_epoch(stats)
    finally:
        reporter.close()
    if model is None:
        kept.append((user_rows.copy(), item_rows.copy()))
        model = posterior_mean_model(kept, mean)
    return model, history


def posterior_mean_model(kept, mean: float) -> DotProductBias:
    """One DotProductBias predicting the average of the kept samples' predictions: factors are
    the samples' factors side by side, each scaled by 1/sqrt(samples); biases are averaged and the
    global mean goes into the item biases."""
    s = len(kept)
    users = np.concatenate([u[:, 1:] for u, _ in kept], axis=1) / math.sqrt(s)
    items = np.concatenate([i[:, 1:] for _, i in kept], axis=1) / math.sqrt(s)
    user_bias = np.mean([u[:, 0] for u, _ in kept], axis=0)
    item_bias = np.mean([i[:, 0] for _, i in kept], axis=0) + mean
    model = DotProductBias(len(users), len(items), n_factors=users.shape[1], y_range=None)
    with torch.no_grad():
        model.user_factors.weight.copy_(torch.from_numpy(users))
        model.item_factors.weight.copy_(torch.from_numpy(items))
        model.user_bias.weight.copy_(torch.from_numpy(user_bias)[:, None])
        model.item_bias.weight.copy_(torch.from_numpy(item_bias)[:, None])
    return model.eval()


@numba.njit(cache=True)
def _seed_numba(seed):
    np.random.seed(seed)
