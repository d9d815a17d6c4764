"""Learning-rate and momentum schedules, precomputed per step as arrays.

`one_cycle` is fastai's `fit_one_cycle`: the learning rate warms up from lr_max/div to lr_max
over the first `pct_start` of the steps, then anneals to lr_max/div_final, both along cosines;
momentum (Adam's beta1) moves the opposite way, 0.95 -> 0.85 -> 0.95.
"""

from __future__ import annotations

import numpy as np

SCHEDULES = ("one-cycle", "constant")


def cosine(start: float, end: float, pos: np.ndarray) -> np.ndarray:
    """fastai's `SchedCos`: from start (pos 0) to end (pos 1) along half a cosine."""
    return start + (1 + np.cos(np.pi * (1 - pos))) * (end - start) / 2


def one_cycle(
    total_steps: int,
    lr_max: float,
    pct_start: float = 0.25,
    div: float = 25.0,
    div_final: float = 1e5,
    moms: tuple[float, float, float] = (0.95, 0.85, 0.95),
) -> tuple[np.ndarray, np.ndarray]:
    """Per-step (learning rate, momentum) arrays for a one-cycle run of `total_steps` steps."""
    steps = np.arange(total_steps, dtype=np.float64)
    # fastai evaluates the schedule at pos = step / total_steps
    pos = steps / max(total_steps, 1)
    warm = pos < pct_start
    up = np.where(warm, pos / max(pct_start, 1e-12), 0.0)
    down = np.where(warm, 0.0, (pos - pct_start) / max(1 - pct_start, 1e-12))
    lrs = np.where(warm, cosine(lr_max / div, lr_max, up), cosine(lr_max, lr_max / div_final, down))
    mom = np.where(warm, cosine(moms[0], moms[1], up), cosine(moms[1], moms[2], down))
    return lrs, mom


def constant(total_steps: int, lr: float, mom: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    return np.full(total_steps, lr), np.full(total_steps, mom)


def schedule(name: str, total_steps: int, lr: float) -> tuple[np.ndarray, np.ndarray]:
    if name == "one-cycle":
        return one_cycle(total_steps, lr)
    if name == "constant":
        return constant(total_steps, lr)
    raise ValueError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
