"""A model scored by its kind's validation metric (`Model.validation_metric`): what the epoch
table shows, `keep="best"` and `patience` follow and `tune` optimises, computed as `evaluate`
and `evaluate_ranking` compute it, so a validated figure equals the one a user re-evaluates.

A rating kind is scored by RMSE (with the unclipped MSE as `valid_loss`); a ranking kind by
NDCG@k over the full ranking of the items it did not see in training. Relevant: every held-out
row of interaction data, else a rating at least `relevance_threshold` (4 on a 1-5 scale, the
same share of the scale elsewhere).
"""

from __future__ import annotations

from embedrec.data.ratings import Ratings
from embedrec.evaluation.holdout import relevant_rating
from embedrec.evaluation.ranking import evaluate_ranking
from embedrec.evaluation.rating import evaluate
from embedrec.models.base import ValidationMetric
from embedrec.recommender import Recommender


def relevance_threshold(train: Ratings) -> float | None:
    """The least rating that counts as relevant; None (every row) for interaction data."""
    return relevant_rating(train.rating_scale or train.observed_range, train.interactions)


def validation_score(
    rec: Recommender, train: Ratings, valid: Ratings, metric: ValidationMetric
) -> tuple[float | None, float]:
    """(valid_loss or None where the metric has none, the metric's value) of `rec` on `valid`,
    `train` being the side whose items are excluded from the ranking."""
    if metric.k is None:
        metrics = evaluate(rec, valid)
        return metrics["loss"], metrics[metric.name]
    ranked = evaluate_ranking(rec.score_items, train, valid, metric.k, relevance_threshold(train))
    return None, ranked[metric.name.replace(f"@{metric.k}", f"@{min(metric.k, train.n_items)}")]
