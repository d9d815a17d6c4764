"""Named, reproducible evaluation protocols: the splits papers and peer libraries report on.

- `ml100k-u1`: MovieLens 100k's canonical u1.base / u1.test;
- `ml100k-5fold`: u1..u5 (the five canonical folds), mean and spread;
- `ml100k-random20`: the fastai chapter's seeded random 20% (seed 42);
- `ml100k-sparse`: ml100k-random20 with the training side thinned: 80% of the users (seed 42)
  keep only 1 to 4 of their training ratings (`embedrec.data.splits.thinned_split`), the test
  side unchanged; real ratings as sparse as most real data is (MovieLens keeps no user with
  fewer than 20), many test rows with an item training no longer has;
- `leave-last-out`: each user's latest rating held out, as neural recommender papers evaluate
  (with `--ranking`: every held-out item is relevant; HR@10 and NDCG@10 over all items);
- for any data set: `random:PCT[:SEED]`, `kfold:K[:SEED]` (all K folds), `temporal:N|FRAC`.

Ranking runs (`run_ranking_protocol`) rank every unseen item, never a sample of negatives:
sampled metrics mislead (Krichene & Rendle 2020).

Every RMSE table shows the bias baseline (global mean + damped offsets, the Recommender's
fallback for cold rows) fitted on each fold's training side beside the model, and on synthetic
data (`embedrec synth`) the noise floor: the true model's RMSE on the same test rows.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embedrec.config import TrainConfig
from embedrec.data import load_movielens_fold, load_ratings
from embedrec.data.splits import Split, kfold_splits, split_from_spec, thinned_split
from embedrec.errors import DataError
from embedrec.evaluation.ranking import evaluate_ranking, popularity_scores
from embedrec.evaluation.rating import evaluate, evaluate_baseline, noise_floor
from embedrec.help_text import PROTOCOL_HELP
from embedrec.learner import train
from embedrec.models import resolve
from embedrec.training.progress import StepProgress

NAMED = {
    "ml100k-u1": ["u1"],
    "ml100k-5fold": ["u1", "u2", "u3", "u4", "u5"],
    "ml100k-random20": None,
}
SPARSE = "ml100k-sparse"
LEAVE_LAST_OUT = "leave-last-out"


def protocol_splits(
    protocol: str,
    data: str | Path | pd.DataFrame = "movielens-100k",
    data_dir=None,
    columns: dict[str, Any] | None = None,
) -> list[Split]:
    """The train/test splits a protocol evaluates on, in order; `columns`: how to read a file
    (`user_col=`, `weight_col=`, `sep=`, ... as `load_ratings` takes them)."""
    if protocol in NAMED:
        folds = NAMED[protocol]
        if folds is None:
            ratings = load_ratings(data, data_dir=data_dir, **(columns or {}))
            return [split_from_spec(ratings, "random:0.2:42")]
        return [load_movielens_fold(data, fold, data_dir=data_dir) for fold in folds]
    kind, *args = protocol.split(":")
    ratings = load_ratings(data, data_dir=data_dir, **(columns or {}))
    if protocol == SPARSE:
        return [thinned_split(split_from_spec(ratings, "random:0.2:42"), name=SPARSE)]
    if protocol == LEAVE_LAST_OUT:
        return [split_from_spec(ratings, "temporal:1")]
    if kind == "kfold":
        try:
            k = int(args[0])
            seed = int(args[1]) if len(args) > 1 else 42
        except (IndexError, ValueError):
            raise DataError(f"protocol {protocol!r}: use kfold:K[:SEED]") from None
        return kfold_splits(ratings, k, seed)
    if kind in ("random", "temporal"):
        return [split_from_spec(ratings, protocol)]
    raise DataError(f"unknown protocol {protocol!r}; use {PROTOCOL_HELP}")


def run_protocol(
    protocol: str,
    data: str | Path | pd.DataFrame = "movielens-100k",
    config: TrainConfig | None = None,
    *,
    data_dir: str | Path | None = None,
    columns: dict[str, Any] | None = None,
    progress: bool = False,
    **overrides: Any,
) -> dict:
    """Train and evaluate on every split of the protocol: per-fold RMSE, MAE and seconds, and
    their mean and (population) standard deviation, beside the bias baseline's RMSE on the same
    fold (fitted on its training side in the same run) and, on synthetic data, the noise floor.
    Only the rating model is trained: the default's ranker (`ranker="auto"`) scores no rating,
    so it is left out here."""
    config = (config or TrainConfig()).merged(**overrides)
    if config.ranker == "auto":
        config = config.replace(ranker=None)
    folds = []
    splits = protocol_splits(protocol, data, data_dir, columns)
    steps = StepProgress("fold", len(splits), enabled=progress)
    for split in splits:
        start = time.perf_counter()
        rec = train(split, config)
        metrics = evaluate(rec, split.valid)
        seconds = time.perf_counter() - start
        baseline = evaluate_baseline(rec, split.valid)
        steps.step(
            f"{split.name}: RMSE {metrics['rmse']:.4f} (bias baseline {baseline['rmse']:.4f}), "
            f"{seconds:.1f} s"
        )
        folds.append(
            {
                "split": split.name,
                "rmse": metrics["rmse"],
                "mae": metrics["mae"],
                "baseline_rmse": baseline["rmse"],
                "baseline_mae": baseline["mae"],
                "noise_floor": noise_floor(data, split.valid),
                "n_cold": metrics["n_cold"],
                "seconds": seconds,
            }
        )
    floors = [f["noise_floor"] for f in folds]
    return {
        "protocol": protocol,
        "model": config.model,
        **_mean_std(folds, "rmse"),
        **_mean_std(folds, "mae"),
        **_mean_std(folds, "baseline_rmse"),
        "noise_floor_mean": None if None in floors else float(np.mean(floors)),
        "seconds": float(sum(f["seconds"] for f in folds)),
        "folds": folds,
    }


def _mean_std(folds: list[dict[str, Any]], key: str) -> dict[str, float]:
    """The mean and (population) standard deviation of one figure over the folds."""
    values = np.array([f[key] for f in folds])
    return {f"{key}_mean": float(values.mean()), f"{key}_std": float(values.std())}


def run_ranking_protocol(
    protocol: str,
    data: str | Path | pd.DataFrame = "movielens-100k",
    configs: dict[str, TrainConfig] | None = None,
    *,
    data_dir: str | Path | None = None,
    columns: dict[str, Any] | None = None,
    k: int = 10,
    threshold: float | None = 4.0,
    progress: bool = False,
) -> dict[str, Any]:
    """Top-k metrics of each named config on every split of the protocol (means over folds),
    beside the most-popular baseline, full ranking over every unseen item. The leave-last-out
    protocol and interaction data (plays, clicks: no ratings to threshold) count every
    held-out item as relevant, whatever `threshold` says."""
    configs = configs or {"default": TrainConfig()}
    for config in configs.values():
        resolve(config)  # a bad name or option fails now, not after the first system trained
    if protocol == LEAVE_LAST_OUT:
        threshold = None
    splits = protocol_splits(protocol, data, data_dir, columns)
    if splits and splits[0].train.interactions:
        threshold = None
    steps = StepProgress("fold x system", len(splits) * len(configs), enabled=progress)
    rows: dict[str, list[dict[str, float]]] = {"most popular": []}
    seconds: dict[str, float] = {"most popular": 0.0}
    for split in splits:
        start = time.perf_counter()
        popular = popularity_scores(split.train)
        rows["most popular"].append(
            evaluate_ranking(popular, split.train, split.valid, k, threshold)
        )
        seconds["most popular"] += time.perf_counter() - start
        for name, config in configs.items():
            start = time.perf_counter()
            rec = train(split, config)
            metrics = evaluate_ranking(rec.score_items, split.train, split.valid, k, threshold)
            rows.setdefault(name, []).append(metrics)
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
            shown = ", ".join(f"{key} {value:.4f}" for key, value in list(metrics.items())[:2])
            steps.step(f"{split.name}, {name}: {shown}")
    table = []
    for name, folds in rows.items():
        means = {key: float(np.mean([f[key] for f in folds])) for key in folds[0]}
        table.append({"system": name, **means, "seconds": seconds[name]})
    return {
        "protocol": protocol,
        "k": k,
        "threshold": threshold,
        "splits": [s.name for s in splits],
        "rows": table,
    }
