"""The PyTorch engine: fits any torch-backed model kind on CPU, CUDA or MPS.

Batches are slices of a shuffled index into tensors already on the device, so a step costs one
gather, not a Python DataLoader round trip per row. Optimiser: Adam with decoupled weight decay
(AdamW, as fastai's `Adam(..., decouple_wd=True)`), betas (0.9, 0.99), eps 1e-5 like fastai;
the schedule drives both the learning rate and beta1. `TorchSteps` is the one batch step,
shared by training and the LR finder.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models.base import Model, TorchModel
from embedrec.training.device import resolve_device
from embedrec.training.loop import EpochLoop
from embedrec.training.progress import EpochStats
from embedrec.training.schedules import schedule as make_schedule


def as_tensors(
    users: np.ndarray, items: np.ndarray, ratings: np.ndarray, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (
        torch.as_tensor(users, dtype=torch.int64).to(device),
        torch.as_tensor(items, dtype=torch.int64).to(device),
        torch.as_tensor(ratings, dtype=torch.float32).to(device),
    )


def gradient_options(config: TrainConfig) -> dict[str, Any]:
    """The settings every gradient engine (torch, fused) takes from a config, by name."""
    assert config.epochs is not None
    names = ("epochs", "lr", "wd", "bs", "schedule", "seed")
    return {name: getattr(config, name) for name in names}


class TorchSteps:
    """One optimiser step on one batch with MSE loss, at the learning rate and beta1 given."""

    def __init__(self, network: nn.Module, lr: float, wd: float):
        self.network = network
        self.optimizer = torch.optim.AdamW(
            network.parameters(), lr=lr, betas=(0.9, 0.99), eps=1e-5, weight_decay=wd
        )
        self.loss_fn = nn.MSELoss()

    def step(
        self,
        users: torch.Tensor,
        items: torch.Tensor,
        ratings: torch.Tensor,
        lr: float,
        beta1: float = 0.9,
    ) -> torch.Tensor:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
            group["betas"] = (beta1, 0.99)
        loss = self.loss_fn(self.network(users, items), ratings)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


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
    loop: EpochLoop | None = None,
    model: Model | None = None,
) -> list[EpochStats]:
    """Train `network` in place on parallel index/rating arrays; returns the epoch history.
    `loop` validates `model` (the kind holding the network) after each epoch."""
    loop = loop or EpochLoop()
    resolved = resolve_device(device)
    network.to(resolved)
    torch.manual_seed(seed)
    shuffler = torch.Generator().manual_seed(seed)
    u, i, r = as_tensors(users, items, ratings, resolved)
    n = len(r)
    if any(isinstance(m, nn.BatchNorm1d) for m in network.modules()):
        if bs < 2 or n < 2:
            raise ModelError(
                "a network with BatchNorm (nn) trains on batches of at least 2 ratings: "
                f"use --bs 2 or more (bs is {bs}, {n} training ratings)"
            )
    # a last batch of one row joins the one before: BatchNorm cannot train on a single row
    n_batches = n // bs if n % bs == 1 and n > bs else math.ceil(n / bs)
    lrs, moms = make_schedule(schedule, epochs * n_batches, lr)
    steps = TorchSteps(network, float(lrs[0]), wd)

    def one_epoch(epoch: int) -> tuple[float, Model | None]:
        network.train()
        order = torch.randperm(n, generator=shuffler).to(resolved)
        total = torch.zeros((), device=resolved)
        first = epoch * n_batches
        for b in range(n_batches):
            batch = order[b * bs : n if b == n_batches - 1 else (b + 1) * bs]
            loss = steps.step(
                u[batch], i[batch], r[batch], float(lrs[first + b]), float(moms[first + b])
            )
            total += loss * len(batch)
            if b % 64 == 63:
                loop.advance(64)
        loop.advance(n_batches % 64)
        network.eval()
        return float(total) / n, model

    try:
        return loop.run(epochs, n_batches, one_epoch)
    finally:
        network.eval()


class TorchEngine:
    name = "torch"

    def supports(self, model: Model, device: torch.device) -> bool:
        return isinstance(model, TorchModel)

    def fit(
        self, model: Model, data: Ratings, config: TrainConfig, loop: EpochLoop
    ) -> list[EpochStats]:
        if not isinstance(model, TorchModel):
            raise ModelError(f"the torch engine trains torch models, not {model.name}")
        history = fit_torch(
            model.network,
            data.users,
            data.items,
            data.ratings,
            device=config.device,
            loop=loop,
            model=model,
            **gradient_options(config),
        )
        model.network.cpu()
        return history
