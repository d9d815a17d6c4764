"""The gradient pieces every SGD path shares (the torch engine, the LR finder, the data-parallel
run, `fused` for its settings): one optimiser step on a batch (`TorchSteps`), the settings a
config gives them (`gradient_options`), the choice of sparse steps (`wants_sparse`) and the
seam for replicas in several processes (`Replicas`).

Optimiser: Adam with decoupled weight decay (AdamW, as fastai's `Adam(..., decouple_wd=True)`),
betas (0.9, 0.99), eps 1e-5 like fastai. *Sparse steps for large tables*: AdamW touches every
row of every embedding at every step, so a 17k x 16k catalogue with fastai-sized embeddings
spends its time updating rows the batch never saw. Past `SPARSE_ROWS_X_WIDTH` embedding
weights, the embeddings take sparse gradients and `SparseAdam` (only the batch's rows move),
with the decoupled weight decay applied lazily to the same rows; the other parameters keep
AdamW.

`Replicas` is the one seam for data-parallel training (`training/distributed.py`): it wraps
the module the loss runs through (DistributedDataParallel there) and averages the epoch's
training loss over the processes; one process uses `ONE_PROCESS`, which does neither.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn

from embedrec.config import TrainConfig
from embedrec.models.objective import Batch, Objective

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
    assert None not in (config.epochs, config.lr, config.bs, config.schedule)  # resolved
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
