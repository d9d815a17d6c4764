"""How well a `Recommender` predicts ratings: what `embedrec evaluate` and the epoch table
report, computed the same way everywhere."""

from __future__ import annotations

from typing import Any

import pandas as pd

from embedrec.data.ratings import Ratings
from embedrec.data.synthetic import true_ratings
from embedrec.evaluation.holdout import (
    HeldOut,
    baseline_predictions,
    clip,
    held_out,
    predictions,
)
from embedrec.evaluation.metrics import mae, mse, rmse
from embedrec.evaluation.ranking import rank_held_out
from embedrec.recommender import Recommender


def evaluate(
    rec: Recommender,
    ratings: Ratings | pd.DataFrame,
    *,
    ranking: bool = False,
    k: int = 10,
    relevant: float | None = None,
) -> dict[str, Any]:
    """RMSE and MAE of the clipped predictions, the unclipped MSE (`loss`, fastai's
    valid_loss) and the row count `n`, over every row of `ratings`; and apart, the rows the
    bias baseline scored because their user or item had no training rating or is one the
    model never saw (`n_cold`, of which `n_unknown` never seen), with the RMSE and MAE of the
    warm rows alone (`rmse_warm`, `mae_warm`; None when no row is warm).

    `ratings` is in raw ids: a split's validation side, a file loaded on its own
    (`load_ratings("holdout.csv")`) or a DataFrame with user, item and rating columns.
    `ranking=True` adds `ranking`: `evaluate_ranking(rec, ratings, k=k, relevant=relevant)`
    (the only figures of a ranking model, or of interactions, which hold no rating).

    >>> evaluate(rec, split.valid)["rmse"]  # doctest: +SKIP
    >>> evaluate(rec, pd.read_csv("holdout.csv"), ranking=True)["ranking"]  # doctest: +SKIP
    """
    held = held_out(rec, ratings)
    if ranking and not (rec.model.predicts_ratings and not held.interactions):
        metrics: dict[str, Any] = {"n": len(held), "n_unknown": held.n_unknown}
    else:
        metrics = rating_metrics(rec, held)
    if ranking:
        metrics["ranking"] = rank_held_out(rec, held, k, relevant)
    return metrics


def rating_metrics(rec: Recommender, held: HeldOut) -> dict[str, Any]:
    """`evaluate`'s rating figures on a held-out table."""
    raw, warm = predictions(rec, held)
    clipped = clip(rec, raw)
    truth = held.ratings
    return {
        "rmse": rmse(clipped, truth),
        "mae": mae(clipped, truth),
        "loss": mse(raw, truth),
        "n": len(held),
        "n_cold": int((~warm).sum()),
        "n_unknown": held.n_unknown,
        "rmse_warm": rmse(clipped[warm], truth[warm]) if warm.any() else None,
        "mae_warm": mae(clipped[warm], truth[warm]) if warm.any() else None,
    }


def evaluate_baseline(rec: Recommender, ratings: Ratings | pd.DataFrame) -> dict:
    """RMSE and MAE of `rec`'s bias baseline alone (global mean + damped user and item
    offsets, fitted on the same training side), clipped as `evaluate` clips: the line every
    model must beat, in the same run.

    >>> evaluate_baseline(rec, split.valid)["rmse"]  # doctest: +SKIP
    """
    held = held_out(rec, ratings)
    scores = clip(rec, baseline_predictions(rec, held))
    return {"rmse": rmse(scores, held.ratings), "mae": mae(scores, held.ratings), "n": len(held)}


def noise_floor(source: object, ratings: Ratings) -> float | None:
    """The RMSE of the true model on `ratings` when `source` (a file or DataFrame) is synthetic
    (`embedrec synth` writes each row's `true_rating`), else None: no model can expect to do
    better, so a valid RMSE reads against it, not against a guess.

    >>> noise_floor("synth-1m.parquet", split.valid)  # doctest: +SKIP
    0.7981
    """
    truth = true_ratings(source, ratings)
    return None if truth is None else rmse(truth, ratings.ratings)
