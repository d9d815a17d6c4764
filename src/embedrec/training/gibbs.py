"""Bayesian matrix factorization trained by Gibbs sampling (Salakhutdinov & Mnih 2008, in the
per-dimension-prior form of Rendle's Bayesian factorization machines), with two optional
extensions that each measurably help on MovieLens (BENCHMARKS.md): the implicit-feedback terms of
SVD++ on both sides (Rendle et al. 2019's Bayesian SVD++ "flipped"; myFM's relational blocks),
and per-user and per-item noise levels (Lakshminarayanan et al. 2011).

    rating ~ Normal(mean + U_u[0] + I_i[0] + U_u[1:] . I_i[1:], 1 / (alpha * c_u * c_i))
    U_u = P_u + |R(u)|^-1/2 * sum of Y_j over the items j that u rated
    I_i = Q_i + |R(i)|^-1/2 * sum of Z_v over the users v who rated i

Column 0 of every row is a bias (so Y_j[0] is the linear "rated j" term), the rest are factors.
Each group (P, Q, Y, Z) has a Gaussian prior with per-dimension mean and precision under their
own hyperpriors. A sweep samples the noise, then the user side given the item side (the group's
hyperparameters, every P_u as a block, in parallel; then every Y_j as a block, one after another,
keeping each user's Gram matrix and residual projection up to date), then the item side the same
way. Nothing to tune but the rank and the number of sweeps.

The prediction is the average over the kept samples of their predictions. An average of dot
products is one dot product of concatenated, scaled vectors, so the posterior mean is stored as an
ordinary `DotProductBias` (width = rank x kept samples) built from the effective rows U and I: it
saves, loads, serves and folds in new users like any other model.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numba
import numpy as np
import torch

from embedrec.config import TrainConfig
from embedrec.data.encode import order_by_user
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models import BiasBaseline, Model
from embedrec.models.bmf import BayesianMFKind, pulled_model
from embedrec.models.dot import DotProductBias
from embedrec.training.loop import EpochLoop
from embedrec.training.progress import EpochStats

NOISE_DOF = 4.0  # prior degrees of freedom of the per-user/per-item noise (robust mode)


@numba.njit(cache=True)
def _draw(prec, h, noise, out):
    """out = prec^-1 h + noise mapped to covariance prec^-1 (prec itself is left unchanged)."""
    d = prec.shape[0]
    low = np.zeros((d, d))
    for i in range(d):
        for j in range(i + 1):
            s = prec[i, j]
            for k in range(j):
                s -= low[i, k] * low[j, k]
            if i == j:
                low[i, i] = math.sqrt(max(s, 1e-12))
            else:
                low[i, j] = s / low[j, j]
    y = np.empty(d)
    for a in range(d):
        s = h[a]
        for b in range(a):
            s -= low[a, b] * y[b]
        y[a] = s / low[a, a]
    for a in range(d - 1, -1, -1):
        s = y[a] + noise[a]  # solving L^T w = y + z gives mean + a draw with covariance prec^-1
        for b in range(a + 1, d):
            s -= low[b, a] * out[b]
        out[a] = s / low[a, a]


@numba.njit(cache=True)
def _matvec(m, v):
    out = np.zeros(m.shape[0])
    for a in range(m.shape[0]):
        for b in range(m.shape[1]):
            out[a] += m[a, b] * v[b]
    return out


@numba.njit(cache=True, parallel=True)
def _sample_own(
    indptr, cols, targets, precisions, other, own, implicit, gram, proj, prior, alpha, noise
):
    """Sample every row of `own` (P or Q) given the other side's effective rows.

    `precisions` holds each rating's noise-precision factor, `implicit` each row's current
    implicit sum (U - P). On return `gram[r]` is the row's sum of c x x^T over its ratings, with
    x = [1, other factors] and c the rating's precision factor, and `proj[r]` the sum of c x times
    the residual (rating minus the full prediction with the new row)."""
    d = own.shape[1]
    prior_mean, prior_prec = prior[0], prior[1]
    for row in numba.prange(own.shape[0]):
        g = np.zeros((d, d))
        t_x = np.zeros(d)  # sum of x * (rating - offset)
        x = np.empty(d)
        for p in range(indptr[row], indptr[row + 1]):
            o = other[cols[p]]
            x[0] = 1.0
            x[1:] = o[1:]
            t = targets[p] - o[0]
            c = precisions[p]
            for a in range(d):
                t_x[a] += c * x[a] * t
                for b in range(a + 1):
                    g[a, b] += c * x[a] * x[b]
        for a in range(d):
            for b in range(a):
                g[b, a] = g[a, b]
        s = implicit[row]
        h = prior_prec * prior_mean + alpha * (t_x - _matvec(g, s))
        prec = alpha * g
        for a in range(d):
            prec[a, a] += prior_prec[a]
        _draw(prec, h, noise[row], own[row])
        gram[row] = g
        proj[row] = t_x - _matvec(g, own[row] + s)


@numba.njit(cache=True)
def _sample_implicit(
    t_indptr, t_cols, weight, implicit_rows, effective, gram, proj, prior, alpha, noise
):
    """Sample each implicit row Y_j given everything else, one after another.

    Y_j enters the effective row of every owner r in t_cols[j] with coefficient weight[r]; its
    conditional needs only those owners' Gram matrices and residual projections, which are
    updated after each draw so the next one sees the new residuals. Written as plain loops: this
    is the inner loop of the sampler, and temporaries here cost more than the arithmetic."""
    d = implicit_rows.shape[1]
    prior_mean, prior_prec = prior[0], prior[1]
    new = np.empty(d)
    delta = np.empty(d)
    prec = np.empty((d, d))
    h = np.empty(d)
    for j in range(implicit_rows.shape[0]):
        start, end = t_indptr[j], t_indptr[j + 1]
        if start == end:
            for a in range(d):
                implicit_rows[j, a] = prior_mean[a] + noise[j, a] / math.sqrt(prior_prec[a])
            continue
        prec[:] = 0.0
        h[:] = 0.0
        for p in range(start, end):
            r = t_cols[p]
            w = weight[r]
            w2 = w * w
            for a in range(d):
                h[a] += w * proj[r, a]
                for b in range(a + 1):
                    prec[a, b] += w2 * gram[r, a, b]
        for a in range(d):
            for b in range(a):
                prec[b, a] = prec[a, b]
        # the residuals in proj include Y_j's own part: add it back (h += sum w^2 G Y_j)
        for a in range(d):
            s = 0.0
            for b in range(d):
                s += prec[a, b] * implicit_rows[j, b]
            h[a] = alpha * (h[a] + s) + prior_prec[a] * prior_mean[a]
            for b in range(d):
                prec[a, b] *= alpha
            prec[a, a] += prior_prec[a]
        _draw(prec, h, noise[j], new)
        for a in range(d):
            delta[a] = new[a] - implicit_rows[j, a]
            implicit_rows[j, a] = new[a]
        for p in range(start, end):
            r = t_cols[p]
            w = weight[r]
            for a in range(d):
                effective[r, a] += w * delta[a]
                s = 0.0
                for b in range(d):
                    s += gram[r, a, b] * delta[b]
                proj[r, a] -= w * s


@numba.njit(cache=True)
def _residuals(users, items, ratings, user_rows, item_rows, mean):
    out = np.empty(len(ratings))
    for j in range(len(ratings)):
        u, i = user_rows[users[j]], item_rows[items[j]]
        pred = mean + u[0] + i[0]
        for f in range(1, u.shape[0]):
            pred += u[f] * i[f]
        out[j] = ratings[j] - pred
    return out


def _grouped(keys, others, values, n_keys):
    indptr, order = order_by_user(keys, n_keys)
    return indptr.astype(np.int64), others[order].astype(np.int64), values[order], order


def _sample_hyper(rows, rng):
    """Per-dimension prior mean and precision (Normal and Gamma(1, 1) hyperpriors)."""
    n = rows.shape[0]
    mu = rows.mean(axis=0)
    prec = rng.gamma(1.0 + n / 2, 1.0 / (1.0 + 0.5 * ((rows - mu) ** 2).sum(axis=0)))
    mean = rng.normal(rows.sum(axis=0) / (n + 1.0), 1.0 / np.sqrt((n + 1.0) * prec))
    return np.stack([mean, prec])


class _Side:
    """One side's parameters: own rows (P or Q), implicit rows indexed by the other side (Y or
    Z), and the effective rows the other side sees."""

    def __init__(self, n_own, n_other, d, by_own, implicit, rng, bias):
        self.indptr, self.cols, self.targets, self.order = by_own
        counts = np.diff(self.indptr)
        self.own = np.zeros((n_own, d))
        self.own[:, 1:] = rng.normal(0, 0.1, (n_own, d - 1))
        self.own[:, 0] = bias  # not 0: from zeros a sparse chain sticks at a too tight prior
        self.implicit = np.zeros((n_other, d)) if implicit else None
        self.weight = 1.0 / np.sqrt(np.maximum(counts, 1)).astype(np.float64)
        self.gram = np.zeros((n_own, d, d))
        self.proj = np.zeros((n_own, d))
        self.effective = self.own.copy()

    def sample(self, other: _Side, mean: float, noise: _Noise, rng) -> None:
        """Own rows given the other side, then the implicit rows (whose owners the other side
        indexes: Y_j's owners are the users who rated item j)."""
        implicit = self.effective - self.own  # the implicit sums, kept up to date by the draws
        _sample_own(
            self.indptr, self.cols, self.targets - mean, noise.per_rating[self.order],
            other.effective, self.own, implicit, self.gram, self.proj,
            _sample_hyper(self.own, rng), noise.alpha, rng.standard_normal(self.own.shape),
        )  # fmt: skip
        self.effective = self.own + implicit
        if self.implicit is not None:
            _sample_implicit(
                other.indptr, other.cols, self.weight, self.implicit, self.effective,
                self.gram, self.proj, _sample_hyper(self.implicit, rng), noise.alpha,
                rng.standard_normal(self.implicit.shape),
            )  # fmt: skip


class _Noise:
    """Rating noise precision: a global alpha, times (when `robust`) a per-user and a per-item
    factor with Gamma(dof/2, dof/2) priors, so the ratings of erratic users and of divisive
    items count less (Lakshminarayanan et al. 2011, "Robust Bayesian matrix factorisation")."""

    def __init__(self, users, items, n_users, n_items, robust: bool):
        self.users, self.items, self.robust = users, items, robust
        self.user_counts = np.bincount(users, minlength=n_users)
        self.item_counts = np.bincount(items, minlength=n_items)
        self.user = np.ones(n_users)
        self.item = np.ones(n_items)
        self.per_rating = np.ones(len(users))
        self.alpha = 1.0

    def sample(self, residuals, rng):
        squared = residuals**2
        self.alpha = rng.gamma(
            1.0 + len(squared) / 2, 1.0 / (1.0 + (self.per_rating * squared).sum() / 2)
        )
        if not self.robust:
            return
        half = NOISE_DOF / 2
        for ids, own, other, other_ids, counts in (
            (self.users, self.user, self.item, self.items, self.user_counts),
            (self.items, self.item, self.user, self.users, self.item_counts),
        ):
            weighted = np.bincount(ids, self.alpha * squared * other[other_ids], len(own))
            own[:] = rng.gamma(half + counts / 2, 1.0 / (half + weighted / 2))
        self.per_rating = self.user[self.users] * self.item[self.items]


def fit_gibbs(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    n_users: int,
    n_items: int,
    *,
    n_factors: int = 10,
    epochs: int = 100,
    burn_in: int | None = None,
    keep: int = 100,
    implicit: bool = True,
    robust: bool = True,
    seed: int = 42,
    loop: EpochLoop | None = None,
    on_sample: Callable[[DotProductBias], Model] | None = None,
) -> tuple[DotProductBias, list[EpochStats]]:
    """Sample `epochs` sweeps at rank `n_factors`; average the predictions of the samples after
    `burn_in` (default: a fifth of the sweeps), keeping at most `keep` of them (evenly spaced).

    `implicit` adds the SVD++ terms (which items a user rated, which users rated an item);
    `robust` gives each user and item its own noise level. Both off is the classic BPMF.
    The loop validates the running posterior mean (`on_sample` turns it into the model to
    validate) about 10 times in all, not every sweep: the average is wide, and scoring it each
    sweep would cost more than the sampling."""
    loop = loop or EpochLoop()
    sweeps, rank = epochs, n_factors
    rng = np.random.default_rng(seed)
    burn_in = min(sweeps - 1, sweeps // 5 if burn_in is None else burn_in)
    mean = float(ratings.mean(dtype=np.float64))
    targets = ratings.astype(np.float64)
    by_user = _grouped(users, items, targets, n_users)
    by_item = _grouped(items, users, targets, n_items)
    start = BiasBaseline.fit(users, items, ratings, n_users, n_items)  # the biases' start
    user_side = _Side(n_users, n_items, rank + 1, by_user, implicit, rng, start.user_offsets)
    item_side = _Side(n_items, n_users, rank + 1, by_item, implicit, rng, start.item_offsets)
    noise = _Noise(users, items, n_users, n_items, robust)
    kept_every = max(1, math.ceil((sweeps - burn_in) / keep))
    slots = math.ceil((sweeps - burn_in) / kept_every)
    validate_every = max(1, math.ceil(slots / 10))
    average = PosteriorMean(n_users, n_items, rank, slots, mean)

    def one_sweep(sweep: int) -> tuple[float, Model | None]:
        residuals = _residuals(
            users, items, targets, user_side.effective, item_side.effective, mean
        )
        noise.sample(residuals, rng)
        user_side.sample(item_side, mean, noise, rng)
        item_side.sample(user_side, mean, noise, rng)
        loop.advance(1)
        after = sweep - burn_in
        candidate = None
        if after >= 0 and after % kept_every == 0:
            average.add(user_side.effective, item_side.effective)
            last = sweep + kept_every >= sweeps
            if on_sample is not None and (average.count % validate_every == 0 or last):
                candidate = on_sample(average.model())
        return float(residuals @ residuals) / len(residuals), candidate

    history = loop.run(sweeps, 1, one_sweep, show_every=max(1, sweeps // 10))
    return average.model(), history


class GibbsEngine:
    """`gibbs`: trains `bmf` and nothing else."""

    name = "gibbs"

    def supports(self, model: Model, device: torch.device) -> bool:
        return isinstance(model, BayesianMFKind)

    def fit(
        self, model: Model, data: Ratings, config: TrainConfig, loop: EpochLoop
    ) -> list[EpochStats]:
        if not isinstance(model, BayesianMFKind):
            raise ModelError(f"the gibbs engine trains bmf models, not {model.name}")
        assert config.n_factors is not None and config.epochs is not None
        as_model = pulled_model(model, data, config.options.get("shrink") or 0.0)
        network, history = fit_gibbs(
            data.users,
            data.items,
            data.ratings,
            data.n_users,
            data.n_items,
            n_factors=config.n_factors,
            epochs=config.epochs,
            implicit=config.implicit is not False,  # None (unresolved): the kind's default, on
            robust=config.robust is not False,
            seed=config.seed,
            loop=loop,
            on_sample=as_model,
        )
        as_model(network)
        return history


class PosteriorMean:
    """The average of the kept samples' predictions as one `DotProductBias`: factors are the
    samples' factors side by side, each scaled by 1/sqrt(samples); biases are averaged and the
    global mean goes into the item biases. Slots are preallocated, so asking for the current
    average after a sweep costs a copy of what is filled, not a growing concatenation."""

    def __init__(self, n_users: int, n_items: int, rank: int, slots: int, mean: float):
        self.rank, self.mean, self.count = rank, mean, 0
        self.user_factors = np.zeros((n_users, rank * slots))
        self.item_factors = np.zeros((n_items, rank * slots))
        self.user_bias = np.zeros(n_users)
        self.item_bias = np.zeros(n_items)

    def add(self, user_rows: np.ndarray, item_rows: np.ndarray) -> None:
        cols = slice(self.count * self.rank, (self.count + 1) * self.rank)
        self.user_factors[:, cols] = user_rows[:, 1:]
        self.item_factors[:, cols] = item_rows[:, 1:]
        self.user_bias += user_rows[:, 0]
        self.item_bias += item_rows[:, 0]
        self.count += 1

    def model(self) -> DotProductBias:
        s, width = self.count, self.count * self.rank
        scale = 1.0 / math.sqrt(s)
        return DotProductBias.from_arrays(
            self.user_factors[:, :width] * scale,
            self.item_factors[:, :width] * scale,
            self.user_bias / s,
            self.item_bias / s + self.mean,
        ).eval()
