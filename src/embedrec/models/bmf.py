"""`bmf`: Bayesian matrix factorization, trained by its own Gibbs sampler
(`embedrec.training.gibbs`, on the `own` engine).

The posterior mean of the samples is one dot product of concatenated, scaled factors, so a
trained bmf model *is* a `DotProductBias` with a linear output: it scores, folds in new users,
finds neighbours and saves exactly like `dot-bias`. Its biases are in rating units. Nothing to
tune but the rank (`n_factors`) and the number of sweeps (`epochs`); its options `implicit` and
`robust` switch the sampler's two extensions (the classic BPMF has both off).

Left unset, rank, sweeps and `shrink` are picked from the training data (`defaults_for`, which
says what it picked): on dense data (the median user has 20 ratings or more, as every MovieLens
user does) rank 10 and 200 sweeps, chosen on ML-100k; on sparse data rank 4, 300 sweeps, and
each prediction pulled towards the bias baseline by n/(n + shrink) of its user's and of its
item's ratings (a user with one rating is mostly the baseline), chosen on the `ml100k-sparse`
protocol; where items are sparse too, no implicit terms or per-row noise levels (classic BPMF);
on large data fewer sweeps, so that sampling fits minutes, not hours. Cold rows (a
user or item with no training rating) are scored by the bias baseline, as for every model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from embedrec import lazy
from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.models.base import NoOptions
from embedrec.models.baseline import BiasBaseline
from embedrec.models.dot import DotProductBias, DotProductBiasKind
from embedrec.models.registry import register

if TYPE_CHECKING:
    from embedrec.models.capabilities import Epochs
    from embedrec.training import gibbs
else:  # the sampler needs numba, scoring does not: a served model loads none
    gibbs = lazy.module("embedrec.training.gibbs")

SPARSE_BELOW = 20  # median training ratings per user under which the data counts as sparse
# Median training ratings per item under which the implicit rows and the per-row noise levels
# are off: neither is learned from one or two ratings a row (on the `sparse` synthetic preset,
# median 2, they cost 0.001 RMSE; on ml100k-sparse, median 6, --no-robust costs 0.003: see
# BENCHMARKS.md).
ITEMS_SPARSE_BELOW = 4
# The default sweeps fit this much sampling on 2 cores, at SWEEP_SECONDS per rating and sweep
# at rank 10: 4.6 times the idle machine's 4.3 s a sweep on ML-25M-sized data
# (benchmarks/bmf_speed.py), the margin the sampler before it needed on a slow shared day (43 s
# against 9.3): with loading, the ranker and scoring, `embedrec train` on 25M ratings stays
# under 10 minutes. A sweep's cost grows with (rank + 1)^2 (each rating adds to a Gram matrix
# of that size).
SWEEP_BUDGET_SECONDS = 400.0
SWEEP_SECONDS = 0.8e-6
MIN_SWEEPS = 10


class BmfOptions(NoOptions):
    shrink: float | None = Field(
        None,
        ge=0,
        description="pull predictions towards the bias baseline by n/(n+shrink) of the user's "
        "and item's ratings (0: off; unset: 2 on sparse data, else 0)",
    )
    implicit: bool | None = Field(
        None,
        description="use which items each user rated, as SVD++ does (unset: on unless items "
        "are sparse)",
        json_schema_extra={"flag": "--implicit/--no-implicit"},
    )
    robust: bool | None = Field(
        None,
        description="a noise level per user and item (unset: on unless items are sparse)",
        json_schema_extra={"flag": "--robust/--no-robust"},
    )


@register
class BayesianMFKind(DotProductBiasKind):
    name = "bmf"
    summary = "Bayesian MF by Gibbs sampling, the default (--epochs = sweeps)"
    engines: ClassVar[tuple[str, ...]] = ("own",)
    trainer = "gibbs"
    kernels: tuple[str, ...] = ("embedrec.training.gibbs_kernels",)
    Options: ClassVar[type[NoOptions]] = BmfOptions

    # Chosen on validation sets carved from the training side of the ML-100k protocols
    # (benchmarks/bmf_defaults.py), never on a test fold; `defaults_for` adapts them to data.
    defaults: ClassVar[dict[str, Any]] = {
        "n_factors": 10,
        "epochs": 200,
        "options": {"implicit": True, "robust": True},
    }
    adapts: ClassVar[dict[str, str]] = {
        "n_factors": "4 on sparse data",
        "epochs": "300 on sparse data, fewer where sampling would pass its time budget",
    }

    @classmethod
    def defaults_for(
        cls, data: Ratings, config: TrainConfig | None = None
    ) -> tuple[dict[str, Any], str | None]:
        """Rank, sweeps and shrink from the data's density (median ratings per user) and size.
        Sparse data gets a low rank, more sweeps (its chain mixes slowly, and sweeps are
        cheap there) and the pull towards the bias baseline that keeps users with one or two
        ratings from scoring worse than it; large data gets the sweeps that fit the budget at
        the rank it trains with (`config`'s where set). The note names only what was picked."""
        config = config or TrainConfig()
        per_user, per_item = (_median_count(c) for c in (data.user_counts(), data.item_counts()))
        sparse = per_user < SPARSE_BELOW
        rows_terms = per_item >= ITEMS_SPARSE_BELOW
        rank, wanted, shrink = (4, 300, 2.0) if sparse else (10, 200, 0.0)
        trained_rank = config.n_factors or rank
        per_sweep = SWEEP_SECONDS * max(len(data), 1) * (trained_rank + 1) ** 2 / 121
        sweeps = max(MIN_SWEEPS, min(wanted, int(SWEEP_BUDGET_SECONDS / per_sweep)))
        kind = f"sparse data (median {per_user:g} ratings per user, under {SPARSE_BELOW})"
        if not sparse:
            kind = f"dense data (median {per_user:g} ratings per user)"
        picked = []
        if config.n_factors is None:
            picked.append(f"rank {rank}")
        if config.epochs is None:
            budget = SWEEP_BUDGET_SECONDS / 60
            cut = f" (not {wanted}: about {budget:.0f} minutes of sampling)" * (sweeps < wanted)
            picked.append(f"{sweeps} sweeps{cut}")
        if shrink and config.options.get("shrink") is None:
            picked.append(
                f"each prediction pulled towards the bias baseline by n/(n+{shrink:g}) of its "
                "user's and item's ratings"
            )
        terms_unset = all(config.options.get(k) is None for k in ("implicit", "robust"))
        if not rows_terms and terms_unset:
            picked.append(
                f"no implicit terms or per-row noise (median {per_item:g} ratings per item, "
                f"under {ITEMS_SPARSE_BELOW})"
            )
        options = {"shrink": shrink, "implicit": rows_terms, "robust": rows_terms}
        picks = {"n_factors": rank, "epochs": sweeps, "options": options}
        if not picked:
            return picks, None
        note = f"bmf defaults for {len(data):,} ratings of {kind}: {', '.join(picked)}"
        note += "; cold rows scored by the bias baseline"
        return picks, note

    @classmethod
    def build(cls, config: TrainConfig, data: Ratings) -> BayesianMFKind:
        """The prior mean: no factors yet, every prediction the mean rating; sampling replaces
        it with the posterior mean."""
        mean = float(data.ratings.mean(dtype=np.float64)) if len(data) else 0.0
        network = DotProductBias.from_arrays(
            np.zeros((data.n_users, 0)),
            np.zeros((data.n_items, 0)),
            np.zeros(data.n_users),
            np.full(data.n_items, mean),
        )
        return cls(network)

    @classmethod
    def search_space(cls, trial: Any, base: TrainConfig) -> dict[str, Any]:
        return {
            "n_factors": trial.suggest_int("n_factors", 4, 64, log=True),
            "epochs": trial.suggest_int("epochs", 40, 300, log=True),
        }

    def fit_epochs(self, data: Ratings, config: TrainConfig, loop: Epochs) -> None:
        """Sample `epochs` sweeps (`gibbs.fit_gibbs`); this model holds each posterior mean
        the loop validates and, at the end, the last, pulled towards the bias baseline by the
        `shrink` option (`OwnTrainer`)."""
        assert config.n_factors is not None and config.epochs is not None
        as_model = pulled_model(self, data, config.options.get("shrink") or 0.0)
        # the model holds the last mean when sampling ends (`on_sample`); the average's kept
        # samples go as soon as it returns
        gibbs.fit_gibbs(
            data.users,
            data.items,
            data.ratings,
            data.n_users,
            data.n_items,
            n_factors=config.n_factors,
            epochs=config.epochs,
            # None (unresolved): the kind's default, on
            implicit=config.options.get("implicit") is not False,
            robust=config.options.get("robust") is not False,
            seed=config.seed,
            loop=loop,
            on_sample=as_model,
        )


def shrunk_to_baseline(
    network: DotProductBias,
    baseline: BiasBaseline,
    user_counts: np.ndarray,
    item_counts: np.ndarray,
    shrink: float,
) -> DotProductBias:
    """The model w * network + (1 - w) * baseline with w = n_u/(n_u+shrink) * n_i/(n_i+shrink)
    (n: training ratings), as one `DotProductBias`, so it saves, serves and folds in unchanged.

    A product of per-user and per-item weights is a dot product: the pair's score is
    g + o_u + o_i + w_u w_i (b_u + b_i + U.V - g - o_u - o_i), i.e. biases o_u and g + o_i and
    two extra factor columns, [w_u U, w_u (b_u - g - o_u), w_u] . [w_i V, w_i, w_i (b_i - o_i)].
    """
    if shrink == 0:
        return network
    w_user = (user_counts / (user_counts + shrink))[:, None]
    w_item = (item_counts / (item_counts + shrink))[:, None]
    user_factors = network.user_factors.weight.detach().numpy().astype(np.float64)
    item_factors = network.item_factors.weight.detach().numpy().astype(np.float64)
    user_bias = network.user_bias.weight.detach().numpy().astype(np.float64)
    item_bias = network.item_bias.weight.detach().numpy().astype(np.float64)
    g = baseline.global_mean
    o_user = baseline.user_offsets.astype(np.float64)[:, None]
    o_item = baseline.item_offsets.astype(np.float64)[:, None]
    users = np.hstack([w_user * user_factors, w_user * (user_bias - g - o_user), w_user])
    items = np.hstack([w_item * item_factors, w_item, w_item * (item_bias - o_item)])
    return DotProductBias.from_arrays(users, items, o_user[:, 0], g + o_item[:, 0]).eval()


def pulled_model(
    model: BayesianMFKind, data: Ratings, shrink: float
) -> Callable[[Callable[[], DotProductBias]], BayesianMFKind]:
    """What the sampler calls with the builder of each posterior mean: `model` holding it,
    pulled towards the bias baseline of `data` (`shrunk_to_baseline`; the baseline and counts
    computed once). The model lets its previous network go before the next is built: two of
    them at once are the peak of a large training run."""

    def plain(build: Callable[[], DotProductBias]) -> BayesianMFKind:
        del model.network
        model.network = build()
        return model

    if shrink == 0:
        return plain
    baseline = BiasBaseline.fit(data.users, data.items, data.ratings, data.n_users, data.n_items)
    users, items = data.user_counts(), data.item_counts()

    def holding(build: Callable[[], DotProductBias]) -> BayesianMFKind:
        del model.network
        model.network = shrunk_to_baseline(build(), baseline, users, items, shrink)
        return model

    return holding


def _median_count(counts: np.ndarray) -> float:
    """The median of the non-zero counts (rows with ratings), 0 without any."""
    rated = counts[counts > 0]
    return float(np.median(rated)) if len(rated) else 0.0
