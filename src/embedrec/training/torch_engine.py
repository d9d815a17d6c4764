"""The PyTorch engine: fits any embedrec model on CPU, CUDA or MPS.

Batches are slices of a shuffled index into tensors already on the device, so a step costs one
gather, not a Python DataLoader round trip per row. Optimiser: Adam with decoupled weight decay
(AdamW, as fastai's `Adam(..., decouple_wd=True)`), betas (0.9, 0.99), eps 1e-5 like fastai;
the schedule drives both the learning rate and beta1.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from embedrec.training.device import resolve_device
from embedrec.training.progress import EpochStats, Reporter
from embedrec.training.schedules import schedule as make_schedule

Validate = Callable[[nn.Module], tuple[float, float]]


def make_optimizer(model: nn.Module, lr: float, wd: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW(
        model.parameters(), lr=lr, betas=(0.9, 0.99), eps=1e-5, weight_decay=wd
    )


def as_tensors(users: np.ndarray, items: np.ndarray, ratings: np.ndarray, device: torch.device):
    return (
        torch.as_tensor(users, dtype=torch.int64).to(device),
        torch.as_tensor(items, dtype=torch.int64).to(device),
        torch.as_tensor(ratings, dtype=torch.float32).to(device),
    )


def fit_torch(
    model: nn.Module,
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
    validate: Validate | None = None,
    reporter: Reporter | None = None,
) -> list[EpochStats]:
    """Train `model` in place on parallel index/rating arrays with MSE loss; returns the epoch
    history. `validate(model)` gives (valid_loss, valid_rmse) after each epoch."""
    reporter = reporter or Reporter()
    device = resolve_device(device)
    model.to(device)
    torch.manual_seed(seed)
    shuffler = torch.Generator().manual_seed(seed)
    u, i, r = as_tensors(users, items, ratings, device)
    n = len(r)
    n_batches = math.ceil(n / bs)
    lrs, moms = make_schedule(schedule, epochs * n_batches, lr)
    optimizer = make_optimizer(model, float(lrs[0]), wd)
    loss_fn = nn.MSELoss()
    history: list[EpochStats] = []
    step = 0
    reporter.start(epochs, n_batches)
    try:
        for epoch in range(epochs):
            start = time.perf_counter()
            model.train()
            order = torch.randperm(n, generator=shuffler).to(device)
            total = torch.zeros((), device=device)
            for b in range(n_batches):
                batch = order[b * bs : (b + 1) * bs]
                for group in optimizer.param_groups:
                    group["lr"] = float(lrs[step])
                    group["betas"] = (float(moms[step]), 0.99)
                loss = loss_fn(model(u[batch], i[batch]), r[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach() * len(batch)
                step += 1
                if b % 64 == 63:
                    reporter.advance(64)
            reporter.advance(n_batches % 64)
            valid_loss = valid_rmse = None
            if validate is not None:
                model.eval()
                valid_loss, valid_rmse = validate(model)
            stats = EpochStats(
                epoch, float(total) / n, valid_loss, valid_rmse, time.perf_counter() - start
            )
            history.append(stats)
            reporter.end_epoch(stats)
    finally:
        reporter.close()
    model.eval()
    return history


@torch.no_grad()
def predict_torch(
    model: nn.Module, users: np.ndarray, items: np.ndarray, batch_size: int = 1 << 16
) -> np.ndarray:
    """Model outputs for index pairs, in large batches on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    out = np.empty(len(users), dtype=np.float32)
    for start in range(0, len(users), batch_size):
        stop = start + batch_size
        u = torch.as_tensor(users[start:stop], dtype=torch.int64, device=device)
        i = torch.as_tensor(items[start:stop], dtype=torch.int64, device=device)
        out[start:stop] = model(u, i).float().cpu().numpy()
    return out
