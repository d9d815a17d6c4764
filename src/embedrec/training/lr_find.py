"""The learning-rate finder (Smith 2015, as fastai's `lr_find`): train a fresh model for a few
batches while the learning rate grows exponentially, record the smoothed loss, and suggest the
rate in the middle of the longest steady descent (fastai's 'valley' rule)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np
import torch

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import DataError, ModelError
from embedrec.io import new_figure, png_bytes, save_figure
from embedrec.models.capabilities import GradientTrainable
from embedrec.models.registry import build_resolved, get_kind, resolve
from embedrec.training.device import resolve_device
from embedrec.training.gradients import TorchSteps


@dataclass(repr=False)
class LRFindResult:
    """What the LR finder saw: the loss at each rate tried, and the rates it suggests. In a
    notebook it shows as its curve; `plot()` is that curve as a matplotlib Figure, `plot(path)`
    saves it as a PNG."""

    lrs: np.ndarray
    losses: np.ndarray  # smoothed, debiased
    suggestion: float  # fastai's 'valley'
    lr_min: float  # a tenth of the rate at the lowest loss, the older rule of thumb

    def __repr__(self) -> str:
        span = f" from {self.lrs[0]:.1e} to {self.lrs[-1]:.1e}" if len(self.lrs) else ""
        return (
            f"LRFindResult(suggestion={self.suggestion:.2e}, lr_min={self.lr_min:.2e}, "
            f"{len(self.lrs)} rates tried{span})"
        )

    def _repr_png_(self) -> bytes:
        return png_bytes(self.plot())

    @overload
    def plot(self, path: None = None, force: bool = False) -> Any: ...

    @overload
    def plot(self, path: str | Path, force: bool = False) -> Path: ...

    def plot(self, path: str | Path | None = None, force: bool = False) -> Any:
        """Loss against learning rate (log scale) with the suggestion marked: a matplotlib
        Figure, or with `path` saved as a PNG (the path returned)."""
        fig = new_figure(6, 4, 120)
        ax = fig.subplots()
        ax.plot(self.lrs, self.losses)
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss (smoothed)")
        at = int(np.argmin(np.abs(np.log(self.lrs) - np.log(self.suggestion))))
        ax.plot(
            self.suggestion,
            self.losses[at],
            "o",
            color="C1",
            label=f"valley: {self.suggestion:.2e}",
        )
        ax.legend()
        ax.set_title("LR finder")
        fig.tight_layout()
        return fig if path is None else save_figure(fig, path, force)


def valley(losses: np.ndarray) -> int:
    """Index of fastai's 'valley': two thirds down the longest decreasing run of the loss."""
    n = len(losses)
    lds = [1] * n
    max_start = max_end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return int(max_start + int(sections) + int(sections / 2))


def lr_find(
    ratings: Ratings,
    config: TrainConfig | None = None,
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_it: int = 100,
    stop_div: bool = True,
    **overrides,
) -> LRFindResult:
    """Run the LR finder on a fresh model of the config's kind; the data is untouched.

    >>> result = lr_find(split.train, model="dot-bias")  # doctest: +SKIP
    >>> result.suggestion, result.plot("lr.png")          # doctest: +SKIP
    """
    config = resolve((config or TrainConfig(model="dot-bias")).replace(**overrides))
    if "torch" not in get_kind(config.model).engines:
        raise ModelError(
            f"the LR finder is for models trained by gradient steps (dot, dot-bias, nn), "
            f"not {config.model}"
        )
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model = build_resolved(config, ratings)
    assert isinstance(model, GradientTrainable)  # it lists the torch engine
    network = model.network.to(device).train()
    objective = model.objective()
    objective.load(ratings.users, ratings.items, ratings.ratings, device, config.seed)
    n = len(ratings)
    generator = torch.Generator().manual_seed(config.seed)
    assert config.wd is not None and config.bs is not None  # resolved: the kind's defaults
    bs = config.bs
    if len(ratings) < 2 * bs:
        # every step would see the same few ratings: the curve is of memorising them
        raise DataError(
            f"{ratings.source}: {len(ratings):,} training ratings, fewer than two batches of "
            f"--bs {bs}: the learning-rate sweep needs different batches to suggest a rate; "
            "give more data or a smaller --bs"
        )
    steps = TorchSteps(network, start_lr, config.wd, objective=objective)
    lrs: list[float] = []
    losses: list[float] = []
    average, best = 0.0, math.inf
    order = torch.randperm(n, generator=generator).to(device)
    position = 0
    for step in range(num_it):
        lr = start_lr * (end_lr / start_lr) ** (step / max(num_it - 1, 1))
        if position + bs > n:
            order, position = torch.randperm(n, generator=generator).to(device), 0
        batch = order[position : position + bs]
        position += bs
        value = float(steps.step(objective.batch(batch), lr))
        average = 0.98 * average + 0.02 * value
        smoothed = average / (1 - 0.98 ** (step + 1))
        if not math.isfinite(smoothed):
            break
        lrs.append(lr)
        losses.append(smoothed)
        best = min(best, smoothed)
        if stop_div and smoothed > 4 * best:
            break
    lrs_arr, losses_arr = np.array(lrs), np.array(losses)
    suggestion = float(lrs_arr[min(valley(losses_arr), len(lrs_arr) - 1)])
    lr_min = float(lrs_arr[int(np.argmin(losses_arr))] / 10)
    return LRFindResult(lrs_arr, losses_arr, suggestion, lr_min)
