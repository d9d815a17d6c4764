"""Hyper-parameter search with optuna, on a validation split carved from the training data only.

The test side of the split the user names is never seen by the search: the search trains on
90% of the training side and scores on the other 10% (seeded), then the best settings are
retrained on the whole training side and evaluated once on the test side, for the report.
Each kind is scored by its own validation metric (`Model.validation_metric`): RMSE, minimised,
for a rating model; NDCG@10, maximised, for a ranking model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedrec.config import AUTO_MODEL, TrainConfig
from embedrec.data.splits import Split, random_split
from embedrec.errors import ModelError
from embedrec.evaluation.validation import validation_score
from embedrec.io import check_output, write_json
from embedrec.learner import train
from embedrec.models import RMSE, ValidationMetric, get_kind, model_names
from embedrec.training.progress import StepProgress


@dataclass
class TuneResult:
    best: TrainConfig
    best_valid: float  # the metric on the validation carved from the training side
    test: float | None  # the best settings retrained on all training data, on the test side
    trials: list[dict]  # every trial: its settings, `valid_<metric>` and seconds
    metric: ValidationMetric = RMSE  # the model kind's

    @property
    def best_valid_rmse(self) -> float | None:
        """`best_valid` for a rating model (tuned by RMSE), else None."""
        return self.best_valid if self.metric.name == "rmse" else None

    @property
    def test_rmse(self) -> float | None:
        """`test` for a rating model (tuned by RMSE), else None."""
        return self.test if self.metric.name == "rmse" else None

    def save(self, path: str | Path, force: bool = False) -> Path:
        """The best settings as a JSON training config (`embedrec train --config PATH`)."""
        return write_json(path, self.best.to_dict(), force)


def suggest(trial: Any, base: TrainConfig) -> TrainConfig:
    """The settings a trial tries: the model kind's own search space around `base`."""
    return base.replace(**get_kind(base.model).search_space(trial, base))


def tune(
    split: Split,
    base: TrainConfig | None = None,
    *,
    trials: int = 50,
    valid_pct: float = 0.1,
    seed: int = 42,
    progress: bool = False,
    out: str | Path | None = None,
    force: bool = False,
) -> TuneResult:
    """Search `trials` settings around `base` (its model, engine, schedule are kept); with
    `out`, the best config is saved there (checked before the search starts)."""
    try:
        import optuna  # an optional dependency: embedrec[tune]
    except ImportError:
        raise ModelError("tuning needs optuna: pip install 'embedrec[tune]'") from None

    if trials < 1:
        raise ModelError(f"trials must be at least 1, got {trials}")
    if out is not None:
        check_output(out, force)
    base = base or TrainConfig()
    if base.model == AUTO_MODEL:
        raise ModelError(
            "tune searches one model's settings: name it (--model NAME: "
            f"{', '.join(n for n in model_names() if n != 'average')}); the default (auto) "
            "already chooses among several on carved validation"
        )
    if base.model == "average":
        raise ModelError("tune the members of an average one at a time (--model bmf, ...)")
    inner = random_split(split.train, valid_pct, seed)
    metric = get_kind(base.model).validation_metric()
    pick = max if metric.higher_is_better else min
    records: list[dict] = []

    steps = StepProgress("trial", trials, enabled=progress)
    shown = metric.name.upper()

    def objective(trial) -> float:
        config = suggest(trial, base)
        start = time.perf_counter()
        score = validation_score(train(inner, config), inner.train, inner.valid, metric)[1]
        seconds = time.perf_counter() - start
        records.append({**trial.params, metric.label: score, "seconds": seconds})
        best_so_far = pick(r[metric.label] for r in records)
        steps.step(f"valid {shown} {score:.4f} (best {best_so_far:.4f}), {seconds:.1f} s")
        return score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if metric.higher_is_better else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
    )
    try:
        study.optimize(objective, n_trials=trials)
    finally:
        steps.close()
    best = suggest(optuna.trial.FixedTrial(study.best_params), base)
    test = None
    if len(split.valid):
        test = validation_score(train(split, best), split.train, split.valid, metric)[1]
    result = TuneResult(best, float(study.best_value), test, records, metric)
    if out is not None:
        result.save(out, force)
    return result
