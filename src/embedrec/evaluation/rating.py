"""How well a `Recommender` predicts ratings: what `embedrec evaluate` and the epoch table
report, computed the same way everywhere."""

from __future__ import annotations

import numpy as np

from embedrec.data.ratings import Ratings
from embedrec.data.synthetic import true_ratings
from embedrec.evaluation.metrics import mae, mse, rmse
from embedrec.recommender import Recommender


def evaluate(rec: Recommender, ratings: Ratings) -> dict:
    """RMSE and MAE of the clipped predictions, the unclipped MSE (`loss`, fastai's
    valid_loss), the row count, and how many rows the bias baseline scored because their user
    or item had no training rating (`n_cold`).

    >>> evaluate(rec, split.valid)["rmse"]  # doctest: +SKIP
    """
    rec.check_encoding(ratings)
    raw = rec.predict_indices(ratings.users, ratings.items, clip=False)
    clipped = raw if rec.rating_scale is None else np.clip(raw, *rec.rating_scale)
    cold = ~rec.is_warm(ratings.users, ratings.items)
    return {
        "rmse": rmse(clipped, ratings.ratings),
        "mae": mae(clipped, ratings.ratings),
        "loss": mse(raw, ratings.ratings),
        "n": len(ratings),
        "n_cold": int(cold.sum()),
    }


def evaluate_baseline(rec: Recommender, ratings: Ratings) -> dict:
    """RMSE and MAE of `rec`'s bias baseline alone (global mean + damped user and item
    offsets, fitted on the same training side), clipped as `evaluate` clips: the line every
    model must beat, in the same run.

    >>> evaluate_baseline(rec, split.valid)["rmse"]  # doctest: +SKIP
    """
    rec.check_encoding(ratings)
    predictions = rec.baseline.predict(ratings.users, ratings.items)
    if rec.rating_scale is not None:
        predictions = np.clip(predictions, *rec.rating_scale)
    return {
        "rmse": rmse(predictions, ratings.ratings),
        "mae": mae(predictions, ratings.ratings),
        "n": len(ratings),
    }


def noise_floor(source: object, ratings: Ratings) -> float | None:
    """The RMSE of the true model on `ratings` when `source` (a file or DataFrame) is synthetic
    (`embedrec synth` writes each row's `true_rating`), else None: no model can expect to do
    better, so a valid RMSE reads against it, not against a guess.

    >>> noise_floor("synth-1m.parquet", split.valid)  # doctest: +SKIP
    0.7981
    """
    truth = true_ratings(source, ratings)
    return None if truth is None else rmse(truth, ratings.ratings)
