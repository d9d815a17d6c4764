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
own hyperpriors. A sweep samples the noise, then the user side given the item side: the group's
hyperparameters, every P_u as a block given Y, in parallel (U = P + sums moves with it); then
every Y_j given U, one after another, with P = U - sums moving instead. Both are exact
conditionals of the same posterior, in two coordinates of it ((P, Y) and (U, Y), a shear with
unit Jacobian), and the second is cheap: with U fixed, Y meets the data only through P's
diagonal prior, so each Y_j is a scalar regression per dimension (`gibbs_kernels`). Then the
item side the same way. Y moves less per sweep this way than given P (it follows U, which the
data pin down), so the defaults sample twice the sweeps they did (BENCHMARKS.md: same accuracy,
less time). Nothing to tune but the rank and the number of sweeps. Every standard normal is
drawn up front from the seed and every parallel loop writes only its own rows, so a seed gives
the same chain on any number of threads.

The prediction is the average over the kept samples of their predictions. An average of dot
products is one dot product of concatenated, scaled vectors, so the posterior mean is stored as an
ordinary `DotProductBias` (width = rank x kept samples) built from the effective rows U and I: it
saves, loads, serves and folds in new users like any other model.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from embedrec.data.encode import order_by_user
from embedrec.models.base import Model
from embedrec.models.baseline import BiasBaseline
from embedrec.models.capabilities import Epochs
from embedrec.models.dot import DotProductBias
from embedrec.training import gibbs_kernels as kernels
from embedrec.training.loop import EpochLoop
from embedrec.training.progress import EpochStats

NOISE_DOF = 4.0  # prior degrees of freedom of the per-user/per-item noise (robust mode)


def _grouped(keys, others, values, n_keys):
    """Ratings grouped by key: indptr (int64), the other side's ids (int32) and the ratings
    (float32) in key order, file order within a key."""
    indptr, order = order_by_user(keys, n_keys)
    return (
        indptr,
        others[order].astype(np.int32, copy=False),
        values[order].astype(np.float32, copy=False),
    )


def _sample_hyper(rows, rng):
    """Per-dimension prior mean and precision (Normal and Gamma(1, 1) hyperpriors)."""
    n = rows.shape[0]
    mu = rows.mean(axis=0)
    prec = rng.gamma(1.0 + n / 2, 1.0 / (1.0 + 0.5 * ((rows - mu) ** 2).sum(axis=0)))
    mean = rng.normal(rows.sum(axis=0) / (n + 1.0), 1.0 / np.sqrt((n + 1.0) * prec))
    return np.stack([mean, prec])


class _Side:
    """One side's parameters: own rows (P or Q), implicit rows indexed by the other side (Y or
    Z), the implicit sums (U - P) and the effective rows U the other side sees, and the buffers
    a sweep reuses. `noise_factors` is the robust mode's per-row precision factor of this side
    (updated in place by `_Noise`)."""

    def __init__(self, n_own, n_other, d, grouped, implicit, noise_factors, rng, bias=0.0):
        self.indptr, self.cols, self.targets = grouped
        self.noise_factors = noise_factors
        counts = np.diff(self.indptr)
        self.own = np.zeros((n_own, d))
        self.own[:, 1:] = rng.normal(0, 0.1, (n_own, d - 1))
        self.own[:, 0] = bias  # not 0: from zeros a sparse chain sticks at a too tight prior
        self.implicit = np.zeros((n_other, d)) if implicit else None
        self.weight = 1.0 / np.sqrt(np.maximum(counts, 1)).astype(np.float64)
        self.sums = np.zeros((n_own, d))
        self.effective = self.own.copy()

    def sample(self, other: _Side, mean: float, alpha: float, rng) -> None:
        """Own rows given the other side, then the implicit rows given the effective rows
        (Y_j's owners, indexed by the other side, are the users who rated item j)."""
        own_prior = _sample_hyper(self.own, rng)
        self.sample_own(other, mean, alpha, own_prior, rng.standard_normal(self.own.shape))
        if self.implicit is not None:
            prior = _sample_hyper(self.implicit, rng)
            self.sample_implicit(other, own_prior, prior, rng.standard_normal(self.implicit.shape))

    def sample_own(self, other: _Side, mean: float, alpha: float, prior, noise) -> None:
        """Every own row given the other side's effective rows; `noise` holds the standard
        normal draws, one row per own row. U = P + sums follows P."""
        kernels.sample_own(
            self.indptr, self.cols, self.targets, mean, self.noise_factors,
            other.noise_factors, other.effective, self.own, self.sums, prior, alpha, noise,
        )  # fmt: skip
        np.add(self.own, self.sums, out=self.effective)

    def sample_implicit(self, other: _Side, own_prior, prior, noise) -> None:
        """Every implicit row given the effective rows U, which stay; then the sums afresh
        and P = U - sums. `own_prior` is the own rows' prior drawn this sweep (mean,
        precision), the only term through which Y meets U."""
        assert self.implicit is not None
        residual = self.own - own_prior[0]
        kernels.implicit_pass(
            other.indptr, other.cols, self.weight, residual, own_prior[1], prior, noise,
            self.implicit,
        )  # fmt: skip
        kernels.implicit_sums(
            self.indptr, self.cols, self.weight, self.implicit, self.effective, self.sums,
            self.own,
        )  # fmt: skip


class _Noise:
    """Rating noise precision: a global alpha, times (when `robust`) a per-user and a per-item
    factor with Gamma(dof/2, dof/2) priors, so the ratings of erratic users and of divisive
    items count less (Lakshminarayanan et al. 2011, "Robust Bayesian matrix factorisation").
    The residuals are summed per row by a kernel, never stored: at 25M ratings an array of them
    would cost 200 MB and a pass of its own."""

    def __init__(self, n_users: int, n_items: int, robust: bool):
        self.robust = robust
        self.user = np.ones(n_users)
        self.item = np.ones(n_items)
        self.alpha = 1.0

    def sample(self, users: _Side, items: _Side, mean: float, rng) -> float:
        """Draw alpha, then (robust) the user factors, then the item factors given the new
        user factors; return the mean squared residual before the draw."""
        sums = np.empty((len(self.user), 3))
        kernels.squared_residuals(
            users.indptr, users.cols, users.targets, mean, users.effective, items.effective,
            self.user, self.item, sums,
        )  # fmt: skip
        n = len(users.cols)
        self.alpha = rng.gamma(1.0 + n / 2, 1.0 / (1.0 + sums[:, 1].sum() / 2))
        mse = float(sums[:, 0].sum()) / max(n, 1)
        if not self.robust:
            return mse
        half = NOISE_DOF / 2
        counts = np.diff(users.indptr)
        self.user[:] = rng.gamma(half + counts / 2, 1.0 / (half + self.alpha * sums[:, 2] / 2))
        sums = np.empty((len(self.item), 3))
        kernels.squared_residuals(
            items.indptr, items.cols, items.targets, mean, items.effective, users.effective,
            self.item, self.user, sums,
        )  # fmt: skip
        counts = np.diff(items.indptr)
        self.item[:] = rng.gamma(half + counts / 2, 1.0 / (half + self.alpha * sums[:, 2] / 2))
        return mse


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
    loop: Epochs | EpochLoop | None = None,
    on_sample: Callable[[Callable[[], DotProductBias]], Model] | None = None,
) -> tuple[PosteriorMean, list[EpochStats]]:
    """Sample `epochs` sweeps at rank `n_factors`; average the predictions of the samples after
    `burn_in` (default: a fifth of the sweeps), keeping at most `keep` of them (evenly spaced).
    Returns the average (`.model()` builds it) and the history.

    `implicit` adds the SVD++ terms (which items a user rated, which users rated an item);
    `robust` gives each user and item its own noise level. Both off is the classic BPMF.
    The loop validates the running posterior mean (`on_sample` turns it into the model to
    validate) about 10 times in all, not every sweep: the average is wide, and scoring it each
    sweep would cost more than the sampling. `on_sample` is handed the builder of the mean,
    not the mean, so that it can let the previous one go first (memory: one is 195 MB at 25M
    ratings); it is handed the last kept sample's mean too, so the model it makes holds the
    result and nothing need build it again."""
    loop = loop or EpochLoop()
    sweeps, rank = epochs, n_factors
    rng = np.random.default_rng(seed)
    burn_in = min(sweeps - 1, sweeps // 5 if burn_in is None else burn_in)
    mean = float(ratings.mean(dtype=np.float64))
    noise = _Noise(n_users, n_items, robust)
    start = BiasBaseline.fit(users, items, ratings, n_users, n_items)  # the biases' start
    by_user = _grouped(users, items, ratings, n_users)
    by_item = _grouped(items, users, ratings, n_items)
    user_side = _Side(
        n_users, n_items, rank + 1, by_user, implicit, noise.user, rng, start.user_offsets
    )
    item_side = _Side(
        n_items, n_users, rank + 1, by_item, implicit, noise.item, rng, start.item_offsets
    )
    del by_user, by_item
    kept_every = max(1, math.ceil((sweeps - burn_in) / keep))
    slots = math.ceil((sweeps - burn_in) / kept_every)
    validate_every = max(1, math.ceil(slots / 10))
    average = PosteriorMean(n_users, n_items, rank, slots, mean)

    def one_sweep(sweep: int) -> tuple[float, Model | None]:
        mse = noise.sample(user_side, item_side, mean, rng)
        user_side.sample(item_side, mean, noise.alpha, rng)
        item_side.sample(user_side, mean, noise.alpha, rng)
        loop.advance(1)
        after = sweep - burn_in
        candidate = None
        if after >= 0 and after % kept_every == 0:
            average.add(user_side.effective, item_side.effective)
            last = sweep + kept_every >= sweeps
            if on_sample is not None and (average.count % validate_every == 0 or last):
                candidate = on_sample(average.model)
        return mse, candidate

    history = loop.run(sweeps, 1, one_sweep, show_every=max(1, sweeps // 10))
    return average, history


class PosteriorMean:
    """The average of the kept samples' predictions as one `DotProductBias`: factors are the
    samples' factors side by side, each scaled by 1/sqrt(samples); biases are averaged and the
    global mean goes into the item biases. Slots are preallocated, so asking for the current
    average after a sweep costs a copy of what is filled, not a growing concatenation.

    The kept factors are stored in float32, the precision the model holds them in (half the
    memory: 195 MB, not 390, at 25M ratings); each weight is then within one float32 rounding
    of the float64 product (relative 1.2e-7). It keeps no model it built: the one who asked
    holds it, and lets it go before asking for the next (`bmf.pulled_model`), or keeps only
    what it made of it (a mean pulled towards the baseline)."""

    def __init__(self, n_users: int, n_items: int, rank: int, slots: int, mean: float):
        self.rank, self.mean, self.count = rank, mean, 0
        self.user_factors = np.zeros((n_users, rank * slots), dtype=np.float32)
        self.item_factors = np.zeros((n_items, rank * slots), dtype=np.float32)
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
        """The average of the samples added so far, a new model at each call."""
        s, width = self.count, self.count * self.rank
        scale = 1.0 / math.sqrt(s)
        return DotProductBias.from_arrays(
            _scaled(self.user_factors, width, scale),
            _scaled(self.item_factors, width, scale),
            self.user_bias / s,
            self.item_bias / s + self.mean,
        ).eval()


def _scaled(factors: np.ndarray, width: int, scale: float, rows: int = 1 << 14) -> np.ndarray:
    """`factors[:, :width] * scale` as the float32 the model holds, a block of rows at a time:
    the float64 product of every row (290 MB at 25M ratings, at each validation) is never
    whole. Each value is the float64 product rounded once: the same weights as every row at
    once."""
    out = np.empty((len(factors), width), dtype=np.float32)
    for start in range(0, len(factors), rows):
        out[start : start + rows] = factors[start : start + rows, :width].astype(np.float64) * scale
    return out
