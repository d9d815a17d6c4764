"""Metrics and evaluation protocols."""

from embedrec.evaluation.metrics import mae, mse, rmse
from embedrec.evaluation.ranking import evaluate_ranking, popularity_scores, top_k

__all__ = ["evaluate_ranking", "mae", "mse", "popularity_scores", "rmse", "top_k"]
