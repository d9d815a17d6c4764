"""The kinds whose learned state is a torch `nn.Module` (dot, dot-bias, bmf, bpr, nn, custom
modules): training goes through the module. Kept apart from `base` so the protocol, and the kinds
that are arrays, import no torch (a served model scores with numpy: `embedrec.models.served`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, cast

import numpy as np
import torch
from torch import nn

from embedrec.errors import ModelError
from embedrec.models.base import Model, Side
from embedrec.models.objective import Objective

PREDICTED_PAIRS = 1 << 16  # (user, item) pairs a torch model scores at once, at most
PREDICTED_VALUES = 1 << 22  # factor values a batch gathers a side, at most (16 MB in float32)


def state_arrays(module: nn.Module) -> dict[str, np.ndarray]:
    """A module's state as named numpy arrays (what a model directory saves)."""
    return {
        key: value.detach().cpu().contiguous().numpy() for key, value in module.state_dict().items()
    }


class FactorNetwork(Protocol):
    """What the torch-backed kinds need of their `nn.Module`: one vector per user, scored
    against every item in one call (the vector need not be a trained user's: see fold-in)."""

    n_users: int
    n_items: int
    user_factors: nn.Embedding
    item_factors: nn.Embedding

    def __call__(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor: ...

    def config(self) -> dict[str, Any]: ...

    def user_vectors(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def score_user_vectors(
        self, vectors: torch.Tensor, biases: torch.Tensor | None = None
    ) -> torch.Tensor: ...


class TorchModel(Model):
    """A kind whose learned state is a torch `nn.Module` (`network`): it predicts, scores and
    saves through the module. Subclasses build the module and fold new users in."""

    network_class: ClassVar[type[nn.Module]]
    batch_users: ClassVar[int] = 1024  # users scored at once: bounds the (users x items) block

    def __init__(self, network: nn.Module):
        self.network = network
        shaped = cast(FactorNetwork, network)
        self.n_users, self.n_items = int(shaped.n_users), int(shaped.n_items)

    @property
    def net(self) -> FactorNetwork:
        return cast(FactorNetwork, self.network)

    def objective(self) -> Objective:
        """What the torch engine trains this model on, made fresh for each run: pointwise
        squared error of the ratings unless the kind says otherwise (`models/objective.py`)."""
        return Objective()

    def config(self) -> dict[str, Any]:
        return self.net.config()

    def arrays(self) -> dict[str, np.ndarray]:
        return state_arrays(self.network)

    @classmethod
    def from_state(
        cls, n_users: int, n_items: int, config: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> Model:
        options = dict(config)
        if options.get("y_range") is not None:
            options["y_range"] = tuple(options["y_range"])
        try:
            with torch.device("meta"):
                network = cls.network_class(n_users, n_items, **options)
            network.load_state_dict(
                {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}, assign=True
            )
        except (RuntimeError, TypeError, ValueError) as exc:
            raise ModelError(f"the weights do not fit the {cls.name} config ({exc})") from None
        return cls(network.eval())

    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    @torch.no_grad()
    def predict(self, users: np.ndarray, items: np.ndarray, batch: int | None = None) -> np.ndarray:
        """Scores of (user, item) index pairs, `batch` pairs at a time (default
        `predict_batch`); a pair's score does not depend on the batch it is in."""
        self.network.eval()
        device = self.device()
        batch = batch or self.predict_batch()
        out = np.empty(len(users), dtype=np.float32)
        for start in range(0, len(users), batch):
            u = torch.as_tensor(users[start : start + batch], dtype=torch.int64, device=device)
            i = torch.as_tensor(items[start : start + batch], dtype=torch.int64, device=device)
            out[start : start + batch] = self.net(u, i).float().cpu().numpy()
        return out

    def predict_batch(self) -> int:
        """Pairs scored at once: 65,536, fewer for wide factor rows, so that a batch gathers
        at most PREDICTED_VALUES factor values a side (a posterior mean of 22 samples at rank 10
        is 220 wide: 65,536 pairs of it were 3 blocks of 58 MB at each validation)."""
        factors = getattr(self.network, "user_factors", None)
        width = factors.weight.shape[1] if isinstance(factors, nn.Embedding) else 1
        return max(1024, min(PREDICTED_PAIRS, PREDICTED_VALUES // max(width, 1)))

    @torch.no_grad()
    def score_items(self, users: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        self.network.eval()
        device = self.device()
        if out is None:
            out = np.empty((len(users), self.n_items), dtype=np.float32)
        for start in range(0, len(users), self.batch_users):
            chunk = torch.as_tensor(
                users[start : start + self.batch_users], dtype=torch.int64, device=device
            )
            vectors, biases = self.net.user_vectors(chunk)
            scores = self.net.score_user_vectors(vectors, biases)
            out[start : start + len(chunk)] = scores.float().cpu().numpy()
        return out

    @torch.no_grad()
    def score_folded(self, folded: tuple[torch.Tensor, torch.Tensor | None]) -> np.ndarray:
        vector, bias = folded
        self.network.eval()
        scores = self.net.score_user_vectors(vector[None], None if bias is None else bias[None])
        return scores[0].float().cpu().numpy()

    def factors(self, side: Side) -> np.ndarray | None:
        layer = self.net.user_factors if side == "user" else self.net.item_factors
        return layer.weight.detach().cpu().numpy()
