"""`module`: your own `nn.Module`, trained like the built-in kinds.

The fastai chapter builds its models by hand (`DotProductBias` from `nn.Parameter`s, a one-layer
`CollabNN`). Any module that maps (user indices, item indices) to ratings can be passed as
`train(split, model=MyModule(...))`: it trains on the PyTorch engine with the same schedules,
epoch table and validation, and the result predicts, evaluates, recommends (every item scored
through the module) and saves its state dict in safetensors with the class's import path.
Loading needs an instance to put the weights in: `embedrec.load(path, network=MyModule(...))`.
Where the module has `user_factors` and `item_factors` (embeddings or parameters of shape
(n, k)), neighbours and factor tables work too.

A new user is folded in wherever the module's user side is tables indexed by user (every
parameter whose first dimension is the number of users and whose name says "user", as the
chapter's `user_factors` and `user_bias`): each table gets one extra row, started at the mean
row, and only that row takes Adam steps on the user's ratings (pulled towards the mean, as for
the neural model), through the module's own `forward`. A module whose user side is anything
else (a hashing trick, a user encoder) folds in nobody, and says so.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models.base import Side, TorchModel
from embedrec.models.registry import register

# Fold-in of a new user (see the module docstring): Adam steps on the new rows only, pulled
# towards the mean user. A module's parameter scale is unknown, so the pull is lighter than the
# built-in kinds' 5: on the chapter's hand-made DotProductBias (small synthetic set, three users
# folded in from their own ratings) the folded user's predictions correlated 0.87-0.996 with
# the trained user's at 1, 0.62-0.97 at 5 (the built-in dot-bias: 0.90-0.98).
FOLD_IN_STEPS = 100
FOLD_IN_LR = 0.05
FOLD_IN_REG = 1.0


@register
class ModuleKind(TorchModel):
    name = "module"
    summary = "your own nn.Module of (users, items) -> ratings (Python only: train(model=m))"
    engines: ClassVar[tuple[str, ...]] = ("torch",)
    defaults: ClassVar[dict[str, Any]] = {"epochs": 5, "wd": 0.1, "lr": 5e-3, "bs": 64}
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

    def user_tables(self) -> dict[str, nn.Parameter]:
        """The module's per-user parameters, by name (see the module docstring)."""
        tables = {
            name: parameter
            for name, parameter in self.network.named_parameters()
            if parameter.dim() >= 1 and parameter.shape[0] == self.n_users and "user" in name
        }
        if not tables:
            raise ModelError(
                f"a new user cannot be folded into a custom {type(self.network).__name__}: it "
                "has no per-user parameter tables named 'user...' (n_users rows) to add a row "
                "to; train a built-in kind (dot-bias, bmf) to recommend for new users"
            )
        return tables

    def fold_in(
        self, items: np.ndarray, ratings: np.ndarray, reg: float | None = None
    ) -> dict[str, torch.Tensor]:
        """The new user's row of each user table, fitted with everything else frozen."""
        tables = self.user_tables()
        self.network.cpu().eval()
        means = {name: table.detach().mean(0) for name, table in tables.items()}
        rows = {name: mean.clone().requires_grad_(True) for name, mean in means.items()}
        optimizer = torch.optim.Adam(list(rows.values()), lr=FOLD_IN_LR)
        item_index = torch.as_tensor(items, dtype=torch.int64)
        target = torch.as_tensor(ratings, dtype=torch.float32)
        strength = FOLD_IN_REG if reg is None else reg
        for _ in range(FOLD_IN_STEPS):
            predicted = self._with_new_user(tables, rows, item_index)
            pull = sum(((rows[n] - means[n]) ** 2).sum() for n in rows)
            loss = ((predicted - target) ** 2).sum() + strength * pull
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return {name: row.detach() for name, row in rows.items()}

    @torch.no_grad()
    def score_folded(self, folded: Any) -> np.ndarray:
        self.network.cpu().eval()
        items = torch.arange(self.n_items)
        return self._with_new_user(self.user_tables(), folded, items).float().numpy()

    def _with_new_user(
        self, tables: dict[str, nn.Parameter], rows: dict[str, torch.Tensor], items: torch.Tensor
    ) -> torch.Tensor:
        """The module's output for user index n_users (the new user, a row appended to each
        user table, differentiable in that row only) on these items."""
        extended = {
            name: torch.cat([table.detach(), rows[name][None]]) for name, table in tables.items()
        }
        users = torch.full_like(items, self.n_users)
        return functional_call(self.network, extended, (users, items)).reshape(-1)

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
