"""The PyTorch engine: fits any model with a torch network and its objective
(`GradientTrainable`) on CPU, CUDA or MPS.

Batches are slices of a shuffled index into tensors already on the device, so a step costs one
gather, not a Python DataLoader round trip per row. What a batch is and its loss are the
kind's (`objective`, `models/objective.py`); the step itself, its optimisers and the choice of
sparse steps for large tables are `training/gradients.py`'s, shared with the LR finder and
the data-parallel run. *Threads by batch size* (`training/threads.py`) keep CPU training fast
where torch's default is slow: at the chapter's batch of 64 a second intra-op thread buys
nothing idle and costs 4-5x when another process holds a core.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models.base import Model
from embedrec.models.capabilities import GradientTrainable
from embedrec.models.objective import Objective
from embedrec.training.device import resolve_device
from embedrec.training.gradients import (
    ONE_PROCESS,
    Replicas,
    TorchSteps,
    gradient_options,
)
from embedrec.training.loop import EpochLoop
from embedrec.training.progress import EpochStats
from embedrec.training.schedules import schedule as make_schedule
from embedrec.training.threads import torch_threads


def fit_torch(
    network: nn.Module,
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    *,
    epochs: int = 5,
    lr: float = 5e-3,
    wd: float = 0.1,
    bs: int = 64,
    schedule: str = "one-cycle",
    seed: int = 42,
    device: str | torch.device = "auto",
    threads: int | None = None,
    sparse: bool | None = None,
    objective: Objective | None = None,
    loop: EpochLoop | None = None,
    model: Model | None = None,
    replicas: Replicas = ONE_PROCESS,
) -> list[EpochStats]:
    """Train `network` in place on parallel index/rating arrays; returns the epoch history.
    `objective`: what it learns (pointwise MSE unless given, see `TorchModel.objective`); `loop`
    validates `model` (the kind holding the network) after each epoch; `threads` and
    `sparse` default to the choices in the module docstring; `replicas`: see `Replicas` (every
    process must then hold as many rows, so that all take the same number of steps)."""
    loop = loop or EpochLoop()
    resolved = resolve_device(device)
    network.to(resolved)
    torch.manual_seed(seed)
    shuffler = torch.Generator().manual_seed(seed)
    objective = objective or Objective()
    objective.load(users, items, ratings, resolved, seed)
    n = len(ratings)
    if any(isinstance(m, nn.BatchNorm1d) for m in network.modules()):
        if bs < 2 or n < 2:
            raise ModelError(
                "a network with BatchNorm (nn) trains on batches of at least 2 ratings: "
                f"use --bs 2 or more (bs is {bs}, {n} training ratings)"
            )
    # a last batch of one row joins the one before: BatchNorm cannot train on a single row
    n_batches = n // bs if n % bs == 1 and n > bs else math.ceil(n / bs)
    lrs, moms = make_schedule(schedule, epochs * n_batches, lr)
    steps = TorchSteps(network, float(lrs[0]), wd, sparse, objective, replicas)

    def one_epoch(epoch: int) -> tuple[float, Model | None]:
        network.train()
        order = torch.randperm(n, generator=shuffler).to(resolved)
        total = torch.zeros((), device=resolved)
        first = epoch * n_batches
        for b in range(n_batches):
            batch = order[b * bs : n if b == n_batches - 1 else (b + 1) * bs]
            loss = steps.step(objective.batch(batch), float(lrs[first + b]), float(moms[first + b]))
            total += loss * len(batch)
            if b % 64 == 63:
                loop.advance(64)
        loop.advance(n_batches % 64)
        network.eval()
        return replicas.mean_loss(total, n), model

    try:
        with torch_threads(threads, bs, resolved):
            return loop.run(epochs, n_batches, one_epoch)
    finally:
        steps.close()
        network.eval()


class TorchEngine:
    """`torch`: any model with a torch network and its objective (`GradientTrainable`)."""

    name = "torch"

    def supports(self, model: Model, device: torch.device) -> bool:
        return isinstance(model, GradientTrainable)

    def trainable(self, model: Model) -> GradientTrainable:
        """`model` as this engine trains it; a ModelError for a model without a network."""
        if not isinstance(model, GradientTrainable):
            raise ModelError(f"the torch engine trains torch models, not {model.name}")
        return model

    def fit(
        self, model: Model, data: Ratings, config: TrainConfig, loop: EpochLoop
    ) -> list[EpochStats]:
        trainable = self.trainable(model)
        history = fit_torch(
            trainable.network,
            data.users,
            data.items,
            data.ratings,
            device=config.device,
            threads=config.threads,
            objective=trainable.objective(),
            loop=loop,
            model=model,
            **gradient_options(config),
        )
        trainable.network.cpu()
        return history
