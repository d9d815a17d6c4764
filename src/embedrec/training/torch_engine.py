"""The PyTorch engine: fits any torch-backed model kind on CPU, CUDA or MPS.

Batches are slices of a shuffled index into tensors already on the device, so a step costs one
gather, not a Python DataLoader round trip per row. Optimiser: Adam with decoupled weight decay
(AdamW, as fastai's `Adam(..., decouple_wd=True)`), betas (0.9, 0.99), eps 1e-5 like fastai;
the schedule drives both the learning rate and beta1. What a batch is and its loss are the
kind's (`TorchModel.objective`, `models/objective.py`). `TorchSteps` is the one batch step,
shared by training and the LR finder.

Two choices keep CPU training fast where torch's defaults are slow:
- *threads by batch size* (`training/threads.py`): at the chapter's batch of 64 a second
  intra-op thread buys nothing idle and costs 4-5x when another process holds a core;
- *sparse steps for large tables*: AdamW touches every row of every embedding at every step,
  so a 17k x 16k catalogue with fastai-sized embeddings spends its time updating rows the
  batch never saw. Past `SPARSE_ROWS_X_WIDTH` embedding weights, the embeddings take sparse
  gradients and `SparseAdam` (only the batch's rows move), with the decoupled weight decay
  applied lazily to the same rows; the other parameters keep AdamW.

`Replicas` is the one seam for data-parallel training (`training/distributed.py`): it wraps
the module the loss runs through (DistributedDataParallel there) and averages the epoch's
training loss over the processes; one process uses `ONE_PROCESS`, which does neither.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models.base import Model
from embedrec.models.capabilities import GradientTrainable
from embedrec.models.objective import Batch, Objective
from embedrec.training.device import resolve_device
from embedrec.training.loop import EpochLoop
from embedrec.training.progress import EpochStats
from embedrec.training.schedules import schedule as make_schedule
from embedrec.training.threads import torch_threads

# Embedding weights (rows x width, all tables together) past which steps go sparse: ML-100k's
# tables (about 0.25M for the neural model) stay dense, where AdamW costs little.
SPARSE_ROWS_X_WIDTH = 2_000_000


def embedding_layers(network: nn.Module) -> list[nn.Embedding]:
    return [m for m in network.modules() if isinstance(m, nn.Embedding)]


def wants_sparse(network: nn.Module) -> bool:
    """Large embedding tables train with sparse steps (see the module docstring)."""
    return sum(m.weight.numel() for m in embedding_layers(network)) > SPARSE_ROWS_X_WIDTH


def gradient_options(config: TrainConfig) -> dict[str, Any]:
    """The settings every gradient engine (torch, fused) takes from a config, by name."""
    assert None not in (config.epochs, config.lr, config.bs)  # resolved: the kind's defaults
    names = ("epochs", "lr", "wd", "bs", "schedule", "seed")
    return {name: getattr(config, name) for name in names}


class Replicas(Protocol):
    """How copies of a network in several processes stay one model (see the module docstring)."""

    def wrap(self, module: nn.Module) -> nn.Module: ...

    def mean_loss(self, total: torch.Tensor, n: int) -> float: ...


class OneProcess:
    """No replicas: the module as it is, the loss over this process's rows."""

    def wrap(self, module: nn.Module) -> nn.Module:
        return module

    def mean_loss(self, total: torch.Tensor, n: int) -> float:
        return float(total) / n


ONE_PROCESS = OneProcess()


class TorchSteps:
    """One optimiser step on one batch, at the learning rate and beta1 given. The `objective`
    (the kind's, `TorchModel.objective`; pointwise MSE by default) gives the loss of a batch;
    `sparse=None` decides by table size (`wants_sparse`); `replicas` wraps the module the loss
    runs through once the embeddings' gradient kind is set (DDP reads it when wrapping)."""

    def __init__(
        self,
        network: nn.Module,
        lr: float,
        wd: float,
        sparse: bool | None = None,
        objective: Objective | None = None,
        replicas: Replicas = ONE_PROCESS,
    ):
        self.network, self.wd = network, wd
        self.objective = objective or Objective()
        self.sparse = wants_sparse(network) if sparse is None else sparse
        self.embeddings = embedding_layers(network) if self.sparse else []
        for layer in self.embeddings:
            layer.sparse = True
        tables = {id(layer.weight) for layer in self.embeddings}
        dense = [p for p in network.parameters() if id(p) not in tables]
        self.optimizers: list[torch.optim.Optimizer] = []
        if dense:
            self.optimizers.append(
                torch.optim.AdamW(dense, lr=lr, betas=(0.9, 0.99), eps=1e-5, weight_decay=wd)
            )
        if self.embeddings:
            weights = [layer.weight for layer in self.embeddings]
            self.optimizers.append(
                torch.optim.SparseAdam(weights, lr=lr, betas=(0.9, 0.99), eps=1e-5)
            )
        self.forward = replicas.wrap(self.objective.module(network))

    def step(self, batch: Batch, lr: float, beta1: float = 0.9) -> torch.Tensor:
        for optimizer in self.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = lr
                group["betas"] = (beta1, 0.99)
        loss = self.objective.loss(self.forward, batch)
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.wd:
            self._decay_touched_rows(lr)
        for optimizer in self.optimizers:
            optimizer.step()
        return loss.detach()

    @torch.no_grad()
    def _decay_touched_rows(self, lr: float) -> None:
        """AdamW's decoupled decay, `w -= lr * wd * w`, on the rows this batch touched."""
        for layer in self.embeddings:
            grad = layer.weight.grad
            if grad is not None:
                rows = grad.coalesce().indices()[0]
                layer.weight[rows] *= 1.0 - lr * self.wd

    def close(self) -> None:
        """Give the embeddings back their dense gradients (fold-in and users' code expect them)."""
        for layer in self.embeddings:
            layer.sparse = False


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
    name = "torch"

    def supports(self, model: Model, device: torch.device) -> bool:
        return isinstance(model, GradientTrainable)

    def fit(
        self, model: Model, data: Ratings, config: TrainConfig, loop: EpochLoop
    ) -> list[EpochStats]:
        if not isinstance(model, GradientTrainable):
            raise ModelError(f"the torch engine trains torch models, not {model.name}")
        history = fit_torch(
            model.network,
            data.users,
            data.items,
            data.ratings,
            device=config.device,
            threads=config.threads,
            objective=model.objective(),
            loop=loop,
            model=model,
            **gradient_options(config),
        )
        model.network.cpu()
        return history
