"""What a torch-trained kind learns from: its `Objective`, the batches and the loss.

The torch engine owns what every gradient run shares (the shuffled order of the training rows,
the schedule, the optimiser, sparse steps, data-parallel replicas); the kind owns what it
learns: which tensors a batch of training rows becomes and the loss of those tensors. So a
pointwise rating model (MSE, the default), a classifier over rating values (`nn`'s
cross-entropy) and a pairwise ranking model with sampled negatives (`bpr`) share one engine,
and adding one of them touches no engine code.

An objective is made fresh for each run (`TorchModel.objective`), `load`s that run's training
rows onto the device once, then turns each batch of row indices into tensors (`batch`) and the
tensors into a scalar loss (`loss`). The loss runs the network through `forward`, the module
the engine wraps for data-parallel training (DDP must see the one call per step), which is the
network itself unless the objective needs another view of it (`module`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

Batch = tuple[torch.Tensor, ...]


class Objective:
    """Pointwise squared error of (user, item) -> rating: the chapter's objective and the
    default of every torch kind. Subclasses change `loss` (and `module`), or the whole batch."""

    def module(self, network: nn.Module) -> nn.Module:
        """What the loss runs through (the engine may wrap it); the network by default."""
        return network

    def load(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray,
        device: torch.device,
        seed: int,
    ) -> None:
        """This run's training rows, on `device`, once (`seed`: for any sampling)."""
        self.users = torch.as_tensor(users, dtype=torch.int64).to(device)
        self.items = torch.as_tensor(items, dtype=torch.int64).to(device)
        self.ratings = torch.as_tensor(ratings, dtype=torch.float32).to(device)

    def batch(self, rows: torch.Tensor) -> Batch:
        """The tensors of the training rows `rows` (indices on the device)."""
        return self.users[rows], self.items[rows], self.ratings[rows]

    def loss(self, forward: nn.Module, batch: Batch) -> torch.Tensor:
        """The batch's mean loss, the network run through `forward`."""
        users, items, ratings = batch
        return nn.functional.mse_loss(forward(users, items), ratings)
