"""Evaluation as functions of a `Recommender`: rating metrics and top-k ranking metrics. It
trains nothing, so it sits below `learner.py` (which validates with it); the named train/test
protocols, which train and then score, live above both in `embedrec.protocols`."""

from embedrec.evaluation.metrics import mae, mse, rmse
from embedrec.evaluation.ranking import evaluate_ranking, popularity_scores
from embedrec.evaluation.rating import evaluate, evaluate_baseline, noise_floor
from embedrec.topk import top_k

__all__ = [
    "evaluate",
    "evaluate_baseline",
    "evaluate_ranking",
    "mae",
    "mse",
    "noise_floor",
    "popularity_scores",
    "rmse",
    "top_k",
]
