"""Metrics and evaluation protocols."""

from embedrec.evaluation.metrics import mae, mse, rmse

__all__ = ["mae", "mse", "rmse"]
