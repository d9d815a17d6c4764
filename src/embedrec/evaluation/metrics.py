"""Rating-prediction metrics on plain arrays."""

from __future__ import annotations

import numpy as np


def _difference(predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """predictions - targets in float64, one new array: each side is widened as it is read,
    not copied whole first (at 5M validation rows two float64 copies were 80 MB, at every
    validation of a large run)."""
    return np.subtract(predictions, targets, dtype=np.float64)


def mse(predictions: np.ndarray, targets: np.ndarray) -> float:
    diff = _difference(predictions, targets)
    return float(np.mean(np.multiply(diff, diff, out=diff)))


def rmse(predictions: np.ndarray, targets: np.ndarray) -> float:
    """Root mean squared error.

    >>> rmse(np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    1.0
    """
    return float(np.sqrt(mse(predictions, targets)))


def mae(predictions: np.ndarray, targets: np.ndarray) -> float:
    diff = _difference(predictions, targets)
    return float(np.mean(np.abs(diff, out=diff)))
