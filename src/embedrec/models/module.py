"""`module`: your own `nn.Module`, trained like the built-in kinds.

The fastai chapter builds its models by hand (`DotProductBias` from `nn.Parameter`s, a one-layer
`CollabNN`). Any module that maps (user indices, item indices) to ratings can be passed as
`train(split, model=MyModule(...))`: it trains on the PyTorch engine with the same schedules,
epoch table and validation, and the result predicts, evaluates, recommends (every item scored
through the module) and saves its state dict in safetensors with the class's import path.
Loading needs an instance to put the weights in: `embedrec.load(path, network=MyModule(...))`.
Options not given are fastai's for `learn.fit_one_cycle(5, 5e-3)`: 5 epochs, lr 5e-3, batches
of 64 and a weight decay of 0.01 (its Adam's own; the chapter says `wd=0.1` where it wants it).

The module is called as the chapter writes it, detected once from its `forward`'s signature:
`forward(users, items)`, or `forward(x)` with `x[:, 0]` the users and `x[:, 1]` the items (how
fastai feeds a collab model). One prediction per pair, of shape (n,) or (n, 1) (flattened, as
fastai's `MSELossFlat` does); anything else is a ModelError naming the shape, raised on a first
batch before any epoch runs. That batch also catches the initialisation trap: a module whose
first predictions spread wider than the ratings themselves (`torch.nn.Embedding` starts at
N(0, 1)) gets an EmbedrecWarning naming the fix (`embedrec.Embedding`, `create_params`).

Interpretation (biases, factors, neighbours, the PCA map) finds the tables by name: embedrec's
`item_factors`, `item_bias`, `user_factors`, `user_bias`, or the chapter's `movie_factors`,
`movie_bias`, `u_weight`/`i_weight`, `u_bias`/`i_bias` (embeddings, or parameters of shape
(n, k) and (n,) or (n, 1)). Other names are mapped by one attribute of the module,
`embedrec_names = {"item_factors": "film_vectors", "item_bias": "film_bias"}`.

A new user is folded in wherever the module's user side is tables indexed by user (every
parameter whose first dimension is the number of users and whose name says "user" or is one of
the user tables' names above, as the chapter's `user_factors`, `user_bias` or `u_weight`): each
table gets one extra row, started at the mean row, and only that row takes Adam steps on the
user's ratings (pulled towards the mean, as for the neural model), through the module's own
`forward`. A module whose user side is anything
else (a hashing trick, a user encoder) folds in nobody, and says so.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models.base import Side
from embedrec.models.registry import register
from embedrec.models.torch_model import TorchModel, state_arrays
from embedrec.schemas import EmbedrecWarning

# Fold-in of a new user (see the module docstring): Adam steps on the new rows only, pulled
# towards the mean user. A module's parameter scale is unknown, so the pull is lighter than the
# built-in kinds' 5: on the chapter's hand-made DotProductBias (small synthetic set, three users
# folded in from their own ratings) the folded user's predictions correlated 0.87-0.996 with
# the trained user's at 1, 0.62-0.97 at 5 (the built-in dot-bias: 0.90-0.98).
FOLD_IN_STEPS = 100
FOLD_IN_LR = 0.05
FOLD_IN_REG = 1.0

# The names interpretation looks for, embedrec's first, then the chapter's (see the docstring).
TABLE_NAMES: dict[str, tuple[str, ...]] = {
    "item_factors": ("item_factors", "movie_factors", "i_weight", "item_weight", "i_factors"),
    "item_bias": ("item_bias", "movie_bias", "i_bias"),
    "user_factors": ("user_factors", "u_weight", "user_weight", "u_factors"),
    "user_bias": ("user_bias", "u_bias"),
}
NAMES_ATTRIBUTE = "embedrec_names"
PROBE_ROWS = 1024  # the first batch the module is tried on before training
SPREAD_RATIO = 1.0  # first predictions' variance past this times the ratings' warns


def takes_stacked(network: nn.Module) -> bool:
    """Whether `forward` takes one (n, 2) tensor of (user, item) rows rather than two tensors:
    one required positional argument means the former, as fastai's collab models."""
    name = type(network).__name__
    try:
        parameters = inspect.signature(network.forward).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a C extension): the usual call
        return False
    if any(p.kind == p.VAR_POSITIONAL for p in parameters):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if len(required) > 2 or not positional:
        raise ModelError(
            f"{name}.forward takes {len(required) if required else 'no'} positional arguments; "
            "embedrec calls forward(users, items), or forward(x) with x[:, 0] the users and "
            "x[:, 1] the items"
        )
    return len(required) == 1 or len(positional) == 1


def one_per_pair(output: Any, n: int, name: str) -> torch.Tensor:
    """The module's output as one prediction per pair: (n,) as it is, (n, 1) flattened (as
    fastai's `MSELossFlat`); anything else a ModelError naming the shape."""
    if isinstance(output, torch.Tensor) and tuple(output.shape) in ((n,), (n, 1)):
        return output.reshape(n)
    got = f"shape {tuple(output.shape)}" if isinstance(output, torch.Tensor) else repr(output)
    raise ModelError(
        f"{name}.forward returned {got} for a batch of {n} (user, item) pairs; embedrec "
        f"trains on one predicted rating per pair: shape ({n},) or ({n}, 1)"
    )


class ChapterCall(nn.Module):
    """The user's module called as it is written (two tensors, or one (n, 2) tensor) and its
    output flattened to one rating per pair: what the engine and scoring call."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module
        self.stacked = takes_stacked(module)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        if self.stacked:
            output = self.module(torch.stack([users, items], 1))
        else:
            output = self.module(users, items)
        return one_per_pair(output, len(users), type(self.module).__name__)


@register
class ModuleKind(TorchModel):
    name = "module"
    summary = "your own nn.Module of (users, items) -> ratings (Python only: train(model=m))"
    engines: ClassVar[tuple[str, ...]] = ("torch",)
    # fastai's Learner with no wd decays by its Adam's 0.01, so `learn.fit_one_cycle(5, 5e-3)`
    # reads as train(model=m, epochs=5, lr=5e-3); the chapter writes wd=0.1 where it wants it
    # wd: fastai's Adam's own where `fit_one_cycle` is given none; literals, as `--help` reads
    # them from this file without importing it (`models/declared.py`)
    defaults: ClassVar[dict[str, Any]] = {"epochs": 5, "wd": 0.01, "lr": 5e-3, "bs": 64}
    by_name: ClassVar[bool] = False
    network: ChapterCall

    def __init__(self, network: nn.Module, n_users: int, n_items: int):
        self.module = network  # the user's own module, whose state dict is saved
        self.network = ChapterCall(network)  # what training and scoring call
        self.n_users, self.n_items = n_users, n_items

    @classmethod
    def wrap(cls, network: nn.Module, data: Ratings) -> ModuleKind:
        """The user's module, tried on a first batch of the training ratings (see the module
        docstring: its call, its output's shape, its initial spread)."""
        if not isinstance(network, nn.Module):
            raise ModelError(f"model= takes a kind name or an nn.Module, not {network!r}")
        kind = cls(network, data.n_users, data.n_items)
        if len(data):
            kind.probe(data)
        return kind

    def probe(self, data: Ratings) -> None:
        """Run the module on up to `PROBE_ROWS` training pairs spread over the data: a wrong
        call or shape fails here, not an epoch later, and a start far too wide warns."""
        rows = np.unique(np.linspace(0, len(data) - 1, min(PROBE_ROWS, len(data))).astype(int))
        device = next(self.network.parameters(), torch.empty(0)).device  # where it was put
        users = torch.as_tensor(data.users[rows], dtype=torch.int64, device=device)
        items = torch.as_tensor(data.items[rows], dtype=torch.int64, device=device)
        name = type(self.module).__name__
        was_training = self.network.training
        try:
            with torch.no_grad():
                predicted = self.network.eval()(users, items).double().cpu().numpy()
        except ModelError:
            raise
        except (IndexError, RuntimeError, TypeError, ValueError) as exc:
            raise ModelError(
                f"{name} failed on a first batch of training pairs ({type(exc).__name__}: "
                f"{exc}); the data has {data.n_users:,} users and {data.n_items:,} items "
                "(indices from 0), called as forward("
                + (
                    "x) with x[:, 0] the users, x[:, 1] the items"
                    if self.network.stacked
                    else "users, items)"
                )
            ) from exc
        finally:
            self.network.train(was_training)
        ratings = data.ratings[rows].astype(np.float64)
        spread, variance = float(predicted.var()), float(ratings.var())
        if not data.interactions and variance > 0 and spread > SPREAD_RATIO * variance:
            loss = float(np.mean((predicted - ratings) ** 2))
            warnings.warn(
                f"{name}'s first predictions spread far wider than the ratings (variance "
                f"{spread:.3g} against {variance:.3g}; first batch loss {loss:.3g}): its "
                "weights start too large, and training from there ends far worse than the "
                "chapter (torch.nn.Embedding starts at N(0, 1)). Start small as fastai does: "
                "embedrec.Embedding(n, k) for nn.Embedding, or embedrec.create_params(size)",
                EmbedrecWarning,
                stacklevel=5,  # the caller of train()
            )

    @classmethod
    def build(cls, config: TrainConfig, data: Ratings) -> ModuleKind:
        raise ModelError("a custom module is passed as train(split, model=MyModule(...))")

    def config(self) -> dict[str, Any]:
        kind = type(self.module)
        return {"class": f"{kind.__module__}:{kind.__qualname__}"}

    def arrays(self) -> dict[str, np.ndarray]:
        return state_arrays(self.module)

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
        return self.load_into(self.module, self.n_users, self.n_items, arrays)

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
        named = {*TABLE_NAMES["user_factors"], *TABLE_NAMES["user_bias"]}
        named |= {v for k, v in self.mapped_names().items() if k.startswith("user")}
        tables = {
            name: parameter
            for name, parameter in self.module.named_parameters()
            if parameter.dim() >= 1
            and parameter.shape[0] == self.n_users
            and ("user" in name or name.split(".")[0] in named)
        }
        if not tables:
            raise ModelError(
                f"a new user cannot be folded into a custom {type(self.module).__name__}: it "
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
            f"module.{name}": torch.cat([table.detach(), rows[name][None]])
            for name, table in tables.items()
        }
        users = torch.full_like(items, self.n_users)
        return functional_call(self.network, extended, (users, items))

    def mapped_names(self) -> dict[str, str]:
        """The module's `embedrec_names` ({} where it has none), checked."""
        mapped = getattr(self.module, NAMES_ATTRIBUTE, None) or {}
        if not isinstance(mapped, dict) or set(mapped) - set(TABLE_NAMES):
            raise ModelError(
                f"{type(self.module).__name__}.{NAMES_ATTRIBUTE} maps roles to attribute names: "
                f"a dict with keys among {', '.join(TABLE_NAMES)}, got {mapped!r}"
            )
        return mapped

    def table(self, role: str) -> torch.Tensor | None:
        """The module's table for `role` ("item_factors", "user_bias", ...): under the name its
        `embedrec_names` maps the role to, else the first of `TABLE_NAMES[role]` it has."""
        mapped = self.mapped_names()
        names = (mapped[role],) if role in mapped else TABLE_NAMES[role]
        for name in names:
            found = getattr(self.module, name, None)
            weight = found.weight if isinstance(found, nn.Embedding) else found
            if isinstance(weight, torch.Tensor):
                return weight.detach().cpu()
            if role in mapped:
                raise ModelError(
                    f"{type(self.module).__name__}.{NAMES_ATTRIBUTE} maps {role} to {name!r}, "
                    "which is not an embedding or a tensor of the module"
                )
        return None

    def missing_hint(self, role: str) -> str:
        """What to do when interpretation finds no table for `role`."""
        names = ", ".join(TABLE_NAMES[role])
        return (
            f"name the module's {role.replace('_', ' ')} one of {names}, or map yours: "
            f'{NAMES_ATTRIBUTE} = {{"{role}": "your_name"}} on the module'
        )

    def factors(self, side: Side) -> np.ndarray | None:
        weight = self.table(f"{side}_factors")
        return weight.numpy() if weight is not None and weight.dim() == 2 else None

    def biases(self, side: Side) -> np.ndarray | None:
        weight = self.table(f"{side}_bias")
        return weight.numpy().reshape(-1) if weight is not None else None
