"""How well a `Recommender` predicts ratings: what `embedrec evaluate` and the epoch table
report, computed the same way everywhere."""

from __future__ import annotations

import numpy as np

from embedrec.data.ratings import Ratings
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
