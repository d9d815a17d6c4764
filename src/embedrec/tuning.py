"""Hyper-parameter search with optuna, on a validation split carved from the training data only.

The test side of the split the user names is never seen by the search: the search trains on
90% of the training side and scores on the other 10% (seeded), then the best settings are
retrained on the whole training side and evaluated once on the test side, for the report.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from embedrec.data.splits import Split, random_split
from embedrec.errors import DataError
from embedrec.learner import train
from embedrec.training.config import TrainConfig


@dataclass
class TuneResult:
    best: TrainConfig
    best_valid_rmse: float  # on the validation carved from the training side
    test_rmse: float | None  # the best settings retrained on all training data, on the test side
    trials: list[dict]  # every trial: its settings, valid RMSE and seconds

    def save(self, path: str | Path) -> Path:
        """The best settings as a JSON training config (`embedrec train --config PATH`)."""
        path = Path(path)
        if path.exists():
            raise DataError(f"{path} already exists; choose another file")
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(json.dumps(self.best.to_dict(), indent=1))
        os.replace(partial, path)
        return path


def suggest(trial, base: TrainConfig) -> TrainConfig:
    """The search space: rank and sweeps for bmf; widths, decay, rate and length for the
    gradient-trained models, with layers and dropout for the neural one."""
    if base.model == "bmf":
        return base.replace(
            n_factors=trial.suggest_int("n_factors", 4, 64, log=True),
            epochs=trial.suggest_int("epochs", 40, 300, log=True),
        )
    changes = {
        "wd": trial.suggest_float("wd", 1e-3, 0.5, log=True),
        "lr": trial.suggest_float("lr", 1e-3, 3e-2, log=True),
        "epochs": trial.suggest_int("epochs", 3, 30),
    }
    if base.model == "nn":
        width = trial.suggest_categorical("width", [50, 100, 200, 400])
        changes["layers"] = [width, width // 2]
        changes["dropout"] = trial.suggest_float("dropout", 0.0, 0.5)
    else:
        changes["n_factors"] = trial.suggest_int("n_factors", 8, 256, log=True)
    return base.replace(**changes)


def tune(
    split: Split,
    base: TrainConfig | None = None,
    *,
    trials: int = 50,
    valid_pct: float = 0.1,
    seed: int = 42,
    progress: bool = False,
) -> TuneResult:
    """Search `trials` settings around `base` (its model, engine, schedule are kept)."""
    try:
        import optuna
    except ImportError:
        raise DataError("tuning needs optuna: pip install 'embedrec[tune]'") from None

    base = base or TrainConfig()
    if base.model == "average":
        raise DataError("tune the members of an average one at a time (--model bmf, ...)")
    inner = random_split(split.train, valid_pct, seed)
    records: list[dict] = []

    def objective(trial) -> float:
        config = suggest(trial, base)
        start = time.perf_counter()
        rmse = train(inner, config).evaluate(inner.valid)["rmse"]
        records.append({**trial.params, "valid_rmse": rmse, "seconds": time.perf_counter() - start})
        return rmse

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    callbacks = []
    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=True)
        task = bar.add_task("tuning", total=trials)
        callbacks.append(lambda study, trial: bar.update(task, advance=1))
        bar.start()
    try:
        study.optimize(objective, n_trials=trials, callbacks=callbacks)
    finally:
        if bar is not None:
            bar.stop()
    best = suggest(optuna.trial.FixedTrial(study.best_params), base)
    test_rmse = None
    if len(split.valid):
        test_rmse = train(split, best).evaluate(split.valid)["rmse"]
    return TuneResult(best, float(study.best_value), test_rmse, records)
