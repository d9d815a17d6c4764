"""`module`: your own `nn.Module`, trained like the built-in kinds.

The fastai chapter builds its models by hand (`DotProductBias` from `nn.Parameter`s, a one-layer
`CollabNN`). Any module that maps (user indices, item indices) to ratings can be passed as
`train(split, model=MyModule(...))`: it trains on the PyTorch engine with the same schedules,
epoch table and validation, and the result predicts, evaluates, recommends (every item scored
through the module) and saves its state dict in safetensors with the class's import path.
Loading needs an instance to put the weights in: `embedrec.load(path, network=MyModule(...))`.
Where the module has `user_factors` and `item_factors` (embeddings or parameters of shape
(n, k)), neighbours and factor tables work too; a new user cannot be folded into an arbitrary
module, and saying so is the honest answer.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models.base import Side, TorchModel
from embedrec.models.registry import register


@register
class ModuleKind(TorchModel):
    name = "module"
    summary = "your own nn.Module of (users, items) -> ratings (Python only: train(model=m))"
    engines: ClassVar[tuple[str, ...]] = ("torch",)
    defaults: ClassVar[dict[str, Any]] = {"epochs": 5}
    by_name: ClassVar[bool] = False

    def __init__(self, network: nn.Module, n_users: int, n_items: int):
        self.network = network
        self.n_users, self.n_items = n_users, n_items

    @classmethod
    def wrap(cls, network: nn.Module, data: Ratings) -> ModuleKind:
        if not isinstance(network, nn.Module):
            raise ModelError(f"model= takes a kind name or an nn.Module, not {network!r}")
        return cls(network, data.n_users, data.n_items)

    @classmethod
    def build(cls, config: TrainConfig, data: Ratings) -> ModuleKind:
        raise ModelError("a custom module is passed as train(split, model=MyModule(...))")

    def config(self) -> dict[str, Any]:
        kind = type(self.network)
        return {"class": f"{kind.__module__}:{kind.__qualname__}"}

    @classmethod
    def from_state(
        cls, n_users: int, n_items: int, config: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> ModuleKind:
        raise ModelError(
            f"this model directory holds a custom module ({config.get('class')}): pass an "
            "instance to load its weights into, embedrec.load(path, network=MyModule(...))"
        )

    @classmethod
    def load_into(
        cls, network: nn.Module, n_users: int, n_items: int, arrays: dict[str, np.ndarray]
    ) -> ModuleKind:
        try:
            network.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()})
        except RuntimeError as exc:
            raise ModelError(f"the saved weights do not fit this module ({exc})") from None
        return cls(network.eval(), n_users, n_items)

    def restored(self, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> ModuleKind:
        return self.load_into(self.network, self.n_users, self.n_items, arrays)

    @torch.no_grad()
    def score_items(self, users: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Every item through the module for each user: users x items pairs, in blocks."""
        self.network.eval()
        device = self.device()
        if out is None:
            out = np.empty((len(users), self.n_items), dtype=np.float32)
        items = torch.arange(self.n_items, device=device)
        for row, user in enumerate(np.asarray(users, dtype=np.int64)):
            pairs = torch.full((self.n_items,), int(user), dtype=torch.int64, device=device)
            out[row] = self.network(pairs, items).reshape(-1).float().cpu().numpy()
        return out

    def fold_in(self, items: np.ndarray, ratings: np.ndarray, reg: float | None = None) -> Any:
        raise ModelError(
            f"a new user cannot be folded into a custom {type(self.network).__name__}; "
            "train a built-in kind (dot-bias, bmf) to recommend for new users"
        )

    def score_folded(self, folded: Any) -> np.ndarray:
        raise ModelError("a custom module folds in no new users")

    def factors(self, side: Side) -> np.ndarray | None:
        found = getattr(self.network, f"{side}_factors", None)
        weight = found.weight if isinstance(found, nn.Embedding) else found
        if isinstance(weight, torch.Tensor) and weight.dim() == 2:
            return weight.detach().cpu().numpy()
        return None

    def biases(self, side: Side) -> np.ndarray | None:
        found = getattr(self.network, f"{side}_bias", None)
        weight = found.weight if isinstance(found, nn.Embedding) else found
        if isinstance(weight, torch.Tensor):
            return weight.detach().cpu().numpy().reshape(-1)
        return None
