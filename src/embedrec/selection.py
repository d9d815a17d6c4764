"""The default model, chosen on the user's own data rather than by a rule.

A rule on one statistic of a data set (the median ratings per user or per item) cannot know
whether bmf's implicit terms help on this catalogue, whether a small one is better served by the
chapter's dot-bias, or whether EASE beats iALS here; a validation set carved from the training
side can. `choose_default` carves `CARVE_SHARE` of the training ratings (seeded), trains each
candidate on the rest within a time budget that grows with the data, scores it on the carved
rows and returns the concrete config the run then trains on every training rating, with the
table of what was tried (`Trial`s: printed by `train`, saved in the model directory).

- the rating model (rating data only): bmf with the picks of its data rule, the bias baseline
  alone, the chapter's dot-bias, bmf with the implicit terms and per-row noise switched the other
  way, bmf with the other density class's rank, sweeps and pull towards the baseline; lowest
  RMSE kept;
- the ranker: EASE over a small grid of its ridge strength where its items x items solve fits,
  else iALS over a small grid of its regularization and unobserved weight (and, on play counts,
  of the confidence a count earns); the most popular items where no ranker
  beats them (never below popularity); highest NDCG@10 kept, relevant = ratings in the top
  quarter of the scale (every carved row for interaction data);
- the blend of the rating model's standardised predictions into the ranker's, from a grid.

The test side is never seen: only the training ratings handed to `train` are carved.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.data.splits import Split, random_split
from embedrec.errors import EmbedrecError, TooLargeError
from embedrec.evaluation.holdout import relevant_rating
from embedrec.evaluation.ranking import evaluate_ranking
from embedrec.evaluation.rating import evaluate
from embedrec.models import Ranked, get_kind, kinds
from embedrec.models.bmf import SWEEP_SECONDS
from embedrec.recommender import Recommender

AUTO = "auto"  # TrainConfig.model's default: choose on carved validation
CARVE_SHARE = 0.1
MIN_BUDGET_SECONDS = 30.0
# of the final run's estimated sampling time: selection may cost half the training again
BUDGET_SHARE = 0.5
# SWEEP_SECONDS carries a 4.6x margin for a slow shared day (models/bmf.py); the plan uses the
# idle machine's figure. The others: an epoch of the chapter's SGD per rating, EASE's
# items x items Cholesky solve (flops per second), iALS's conjugate-gradient sweeps.
IDLE_SWEEP_SECONDS = SWEEP_SECONDS / 4.6
SGD_SECONDS = 1e-6
EASE_FLOPS = 1e10
IALS_SECONDS_PER_FLOP = 2e-9
K = 10
# the ranker's grids: EASE's ridge (500 is Steck's MovieLens value), iALS's regularization
EASE_L2 = (500.0, 100.0, 2000.0)  # the first always tried
# (reg, alpha0): Rendle's weight of the unobserved pairs matters as much as the regularization
# on sparse catalogues (benchmarks/datasets.py: 0.1 beat 1.0 on MovieTweetings and Last.fm)
IALS_GRID = ((0.01, 1.0), (0.003, 1.0), (0.03, 1.0), (0.005, 0.1), (0.01, 0.3))
# on counts (plays, purchases), also the confidence a count earns: 1 + alpha * log(1 + count)
IALS_ALPHA = (1.0, 10.0)
BLENDS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
UNTRIED_BLEND = 0.5  # the blend where no carved rating model was trained: ML-100k's choice

Trainer = Callable[[Ratings, TrainConfig], Recommender]  # trains one candidate, silently


@dataclass(frozen=True)
class Trial:
    """One candidate tried on the carved validation set: what it was, how it scored (None:
    not trained, `note` says why), how long it took, and whether the run kept it."""

    role: str  # "rating model", "ranker" or "blend"
    label: str
    metric: str  # "rmse" (lower is better) or "ndcg@10" (higher is better)
    value: float | None
    seconds: float
    kept: bool = False
    note: str = ""

    def line(self) -> str:
        shown = f"{self.metric} {self.value:.4f}" if self.value is not None else self.note
        mark = "  <- kept" if self.kept else ""
        return f"  {self.role:<12} {self.label:<44} {shown} ({self.seconds:.1f} s){mark}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "label": self.label,
            "metric": self.metric,
            "value": self.value,
            "seconds": round(self.seconds, 3),
            "kept": self.kept,
            "note": self.note,
        }


@dataclass
class Choice:
    """What `choose_default` picked: the concrete config to train, and every trial."""

    config: TrainConfig
    trials: list[Trial] = field(default_factory=list)
    budget: float = 0.0
    seconds: float = 0.0
    carved: int = 0
    carved_what: str = "ratings"  # or "interactions": the data's own word

    def lines(self) -> list[str]:
        head = (
            f"default chosen on {self.carved:,} training {self.carved_what} carved out for "
            "validation "
            f"({CARVE_SHARE:.0%}, seed {self.config.seed}; budget {self.budget:.0f} s, "
            f"took {self.seconds:.0f} s):"
        )
        return [head, *(t.line() for t in self.trials)]


class Budget:
    """The choice's time budget, spent by estimates made from the data's size (never by the
    clock, so the same data and seed choose the same model on a busy machine as on an idle
    one): a candidate runs when its estimate fits what is left; the first of each role always
    runs."""

    def __init__(self, seconds: float):
        self.seconds, self.left = seconds, seconds

    def take(self, estimate: float, first: bool = False) -> bool:
        if not first and estimate > self.left:
            return False
        self.left -= estimate
        return True


def estimate_seconds(config: TrainConfig, data: Ratings) -> float:
    """About how long training `config` on `data` takes on the idle 2-core machine (bmf from
    benchmarks/bmf_speed.py; the others from the same order of measurement): a plan, not a
    promise."""
    if config.model in kinds():  # the kind's own rank and epochs where the config leaves them
        config = config.with_defaults(
            {k: v for k, v in get_kind(config.model).defaults.items() if k != "options"}
        )
    n, rank = len(data), config.n_factors or 10
    if config.model == "bmf":
        return IDLE_SWEEP_SECONDS * n * (config.epochs or 200) * (rank + 1) ** 2 / 121
    if config.model == "ease":
        return data.n_items**3 / EASE_FLOPS + n * 1e-7
    if config.model == "ials":
        epochs = config.epochs or 16
        rows = data.n_users + data.n_items
        return epochs * (n * rank + rows * rank * rank) * IALS_SECONDS_PER_FLOP
    if config.model in ("popular", "bias"):
        return n * 1e-7
    return SGD_SECONDS * n * (config.epochs or 5)


def selection_budget(data: Ratings, config: TrainConfig) -> float:
    """Seconds the choice may take: half the estimated final bmf run, at least half a minute."""
    bmf = config.replace(model="bmf")
    return max(
        MIN_BUDGET_SECONDS,
        BUDGET_SHARE
        * estimate_seconds(bmf.with_defaults(get_kind("bmf").defaults_for(data, bmf)[0]), data),
    )


def relevant_from(data: Ratings, scale: tuple[float, float] | None) -> float | None:
    """The rating from which a carved row counts as relevant, as `evaluate` counts it."""
    return relevant_rating(scale or data.observed_range, data.interactions)


def choose_default(
    data: Ratings, config: TrainConfig, trainer: Trainer, scale: tuple[float, float] | None
) -> Choice:
    """The concrete config `train` runs for `model="auto"`, chosen on a carved validation set
    (see the module's docstring); `trainer` trains one candidate on a split, silently."""
    budget = Budget(selection_budget(data, config))
    start = time.perf_counter()
    # the candidates learn from no timestamp: the carved copies are made without them
    carved = random_split(data.without_timestamps(), valid_pct=CARVE_SHARE, seed=config.seed)
    trials: list[Trial] = []
    rating_rec, chosen = None, config
    if not data.interactions:
        rating_rec, chosen = _choose_rating_model(carved, config, trainer, budget, trials)
    if config.ranker == AUTO or data.interactions:  # on interactions the ranker is the model
        chosen = _choose_ranker(
            carved, rating_rec, not data.interactions, chosen, trainer, budget, trials, scale
        )
    seconds = time.perf_counter() - start
    what = "interactions" if data.interactions else "ratings"
    return Choice(chosen, trials, budget.seconds, seconds, len(carved.valid), what)


def _rating_candidates(data: Ratings, config: TrainConfig) -> Iterator[tuple[str, TrainConfig]]:
    """(label, config) of each rating candidate, in the order they are tried: what the user
    set stays set in every one."""
    bmf = _candidate(config, "bmf")
    picks, _ = get_kind("bmf").defaults_for(data, bmf)
    shrink = picks["options"]["shrink"]
    rule = bmf.with_defaults(picks)
    yield _bmf_label(rule, "data rule"), rule
    yield "bias baseline (no factors)", _candidate(config, "bias")
    yield "dot-bias (the chapter's recipe)", _candidate(config, "dot-bias")
    terms = picks["options"]["implicit"]
    if all(config.options.get(k) is None for k in ("implicit", "robust")):
        flipped = bmf.replace(implicit=not terms, robust=not terms).with_defaults(picks)
        yield _bmf_label(flipped, "terms switched"), flipped
    if config.n_factors is None and config.epochs is None and "shrink" not in config.options:
        other = (10, 200, 0.0) if shrink else (4, 300, 2.0)  # the other density class's picks
        alternative = bmf.replace(
            n_factors=other[0], epochs=other[1], options={**bmf.options, "shrink": other[2]}
        ).with_defaults(picks)
        yield _bmf_label(alternative, "other density class"), alternative


def _candidate(config: TrainConfig, model: str) -> TrainConfig:
    """The default's candidate `model`, with the options given to the default that its kind
    takes (`--no-implicit` is bmf's: the bias baseline does without it)."""
    kind = get_kind(model)
    return config.replace(model=model, ranker=None, options=kind.own_options(config.options))


def _bmf_label(config: TrainConfig, why: str) -> str:
    terms = "implicit+noise" if config.options.get("implicit") else "plain"
    shrink = config.options.get("shrink") or 0
    pulled = f", pull {shrink:g}" if shrink else ""
    return f"bmf rank {config.n_factors}, {config.epochs} sweeps, {terms}{pulled} ({why})"


def _choose_rating_model(
    carved: Split, config: TrainConfig, trainer: Trainer, budget: Budget, trials: list[Trial]
) -> tuple[Recommender | None, TrainConfig]:
    """The rating candidate with the lowest RMSE on the carved rows, trained on the rest, while
    the candidates' estimates fit the budget; where not even two fit, the data rule's picks
    untried (None: no carved model to blend with)."""
    candidates = list(_rating_candidates(carved.train, config))
    costs = [estimate_seconds(c, carved.train) for _, c in candidates]
    if not budget.take(sum(costs[:2])):
        for label, _ in candidates:
            trials.append(Trial("rating model", label, "rmse", None, 0.0, note="over the budget"))
        _keep(trials, len(trials) - len(candidates))
        return None, replace_config(config, candidates[0][1])
    best: tuple[float, Recommender, TrainConfig, int] | None = None
    for position, ((label, candidate), cost) in enumerate(zip(candidates, costs)):
        if position >= 2 and not budget.take(cost):
            trials.append(Trial("rating model", label, "rmse", None, 0.0, note="over the budget"))
            continue
        start = time.perf_counter()
        rec = trainer(carved.train, candidate)
        seconds = time.perf_counter() - start
        rmse = evaluate(rec, carved.valid)["rmse"]
        trials.append(Trial("rating model", label, "rmse", rmse, seconds))
        if best is None or rmse < best[0]:
            best = (rmse, rec, candidate, len(trials) - 1)
    assert best is not None
    _keep(trials, best[3])
    return best[1], replace_config(config, best[2])


def replace_config(base: TrainConfig, kept: TrainConfig) -> TrainConfig:
    """The kept rating candidate with the run's ranker settings back in place."""
    return kept.replace(ranker=base.ranker, ranker_options=base.ranker_options, blend=base.blend)


def _ranker_candidates(data: Ratings, config: TrainConfig) -> Iterator[tuple[str, TrainConfig]]:
    """The most popular items (the floor), then EASE over its grid where it fits the machine,
    else iALS over its grid."""
    yield "most popular items", config.ranker_config("popular").replace(options={})
    scale = data.rating_scale or (None if data.interactions else data.observed_range)
    base = config.ranker_config("ease")
    if scale is not None and "min_rating" not in base.options:
        low, high = scale
        base = base.replace(options={**base.options, "min_rating": low + 0.5 * (high - low)})
    try:
        get_kind("ease").build(base, data)  # refuses a catalogue past its memory limit
    except TooLargeError:
        yield from _ials_candidates(data, config.ranker_config("ials"))
        return
    for l2 in EASE_L2 if "l2" not in base.options else (base.options["l2"],):
        yield f"ease l2 {l2:g}", base.replace(options={**base.options, "l2": l2})


def _ials_candidates(data: Ratings, ials: TrainConfig) -> Iterator[tuple[str, TrainConfig]]:
    """iALS over its grid of regularization and unobserved weight; on counts that differ, the
    weight of a count too (at the grid's first point), what the user set staying set."""
    grid = [
        (ials.options.get("reg", reg), ials.options.get("alpha0", alpha0))
        for reg, alpha0 in IALS_GRID
    ]
    for reg, alpha0 in dict.fromkeys(grid):  # what the user set collapses the grid
        options = {**ials.options, "reg": reg, "alpha0": alpha0}
        yield f"ials reg {reg:g}, alpha0 {alpha0:g}", ials.replace(options=options)
    low, high = data.observed_range
    if data.interactions and low < high and "alpha" not in ials.options:
        reg, alpha0 = grid[0]
        for alpha in IALS_ALPHA:
            options = {**ials.options, "reg": reg, "alpha0": alpha0, "alpha": alpha}
            yield (
                f"ials reg {reg:g}, alpha0 {alpha0:g}, alpha {alpha:g}",
                ials.replace(options=options),
            )


def _choose_ranker(
    carved: Split,
    rating_rec: Recommender | None,
    rates: bool,
    config: TrainConfig,
    trainer: Trainer,
    budget: Budget,
    trials: list[Trial],
    scale: tuple[float, float] | None,
) -> TrainConfig:
    """The ranker (and blend) with the highest NDCG@10 on the carved rows, the most popular
    items first, so the choice is never below them; the config's ranker, its options and the
    blend set from it. On interaction data (`rates` False: no rating model) the ranker is the
    model; where the rating model was not tried on the carved rows (over the budget), the
    blend is `UNTRIED_BLEND`."""
    relevant = relevant_from(carved.train, scale)
    metric = f"ndcg@{K}"

    def ndcg(score_fn: Callable[[np.ndarray], np.ndarray]) -> float:
        found = evaluate_ranking(score_fn, carved.train, carved.valid, K, relevant)
        value = found[f"ndcg@{min(K, carved.train.n_items)}"]  # a list can't pass the catalogue
        return 0.0 if np.isnan(value) else float(value)

    best: tuple[float, TrainConfig, Recommender, int] | None = None
    for position, (label, candidate) in enumerate(_ranker_candidates(carved.train, config)):
        # popularity and the first personal ranker always run
        if not budget.take(estimate_seconds(candidate, carved.train), first=position < 2):
            trials.append(Trial("ranker", label, metric, None, 0.0, note="over the budget"))
            continue
        start = time.perf_counter()
        try:
            rec = trainer(carved.train, candidate)
        except EmbedrecError as exc:
            trials.append(Trial("ranker", label, metric, None, 0.0, note=str(exc)[:60]))
            continue
        value = ndcg(rec.score_items)
        trials.append(Trial("ranker", label, metric, value, time.perf_counter() - start))
        if best is None or value > best[0]:
            best = (value, candidate, rec, len(trials) - 1)
    assert best is not None  # popularity always trains
    _keep(trials, best[3])
    value, kept, ranker_rec, _ = best
    if not rates:
        return config.replace(model=kept.model, options=kept.options, ranker=None, blend=None)
    chosen = config.replace(ranker=kept.model, ranker_options=kept.options)
    if config.blend is not None:
        return chosen
    if rating_rec is None:
        trials.append(Trial("blend", f"{UNTRIED_BLEND:g}", metric, None, 0.0, True, "untried"))
        return chosen.replace(blend=UNTRIED_BLEND)
    return chosen.replace(blend=_choose_blend(rating_rec, ranker_rec, value, ndcg, trials))


def _choose_blend(
    rating_rec: Recommender,
    ranker_rec: Recommender,
    unblended: float,
    ndcg: Callable[[Callable[[np.ndarray], np.ndarray]], float],
    trials: list[Trial],
) -> float:
    """The weight of the rating model's standardised predictions in the ranker's scores."""
    metric = f"ndcg@{K}"
    best = (unblended, 0.0, -1)
    for blend in BLENDS:
        if blend == 0.0:
            trials.append(Trial("blend", "0 (the ranker alone)", metric, unblended, 0.0))
            best = (unblended, 0.0, len(trials) - 1)
            continue
        start = time.perf_counter()
        both = replace(rating_rec, model=Ranked(rating_rec.model, ranker_rec.model, blend))
        value = ndcg(both.score_items)
        trials.append(Trial("blend", f"{blend:g}", metric, value, time.perf_counter() - start))
        if value > best[0]:
            best = (value, blend, len(trials) - 1)
    _keep(trials, best[2])
    return best[1]


def _keep(trials: list[Trial], index: int) -> None:
    trials[index] = replace(trials[index], kept=True)
