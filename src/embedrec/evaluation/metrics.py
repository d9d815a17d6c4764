"""Rating-prediction metrics on plain arrays."""

from __future__ import annotations

import numpy as np


def mse(predictions: np.ndarray, targets: np.ndarray) -> float:
    diff = np.asarray(predictions, dtype=np.float64) - np.asarray(targets, dtype=np.float64)
    return float(np.mean(diff * diff))


def rmse(predictions: np.ndarray, targets: np.ndarray) -> float:
    """Root mean squared error.

    >>> rmse(np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    1.0
    """
    return float(np.sqrt(mse(predictions, targets)))


def mae(predictions: np.ndarray, targets: np.ndarray) -> float:
    diff = np.asarray(predictions, dtype=np.float64) - np.asarray(targets, dtype=np.float64)
    return float(np.mean(np.abs(diff)))
