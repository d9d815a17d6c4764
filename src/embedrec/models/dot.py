"""The chapter's factorization models: a dot product of user and item embeddings, with biases.

`DotProduct` and `DotProductBias` are plain `nn.Module`s on index tensors, usable on their own;
the kinds `dot` and `dot-bias` wrap them for training, scoring, fold-in and files. A new user is
folded in as a ridge regression: the item factors and biases are fixed, so the user's vector and
bias are solved in closed form in the pre-sigmoid space (targets mapped through the inverse of
`sigmoid_range`), then refined by a few Gauss-Newton steps in rating space, where the model was
trained.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.models.base import Side, gradient_search_space
from embedrec.models.dot_arrays import FOLD_IN_REG, fold_in_rows
from embedrec.models.layers import Embedding
from embedrec.models.registry import register
from embedrec.models.torch_model import TorchModel


def sigmoid_range(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Squash `x` into (low, high) with a sigmoid, as fastai does for `y_range`."""
    return torch.sigmoid(x) * (high - low) + low


class DotProduct(nn.Module):
    """rating ~ user_factors . item_factors, optionally squashed into `y_range`."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_factors: int = 50,
        y_range: tuple[float, float] | None = None,
    ):
        super().__init__()
        self.n_users, self.n_items, self.n_factors = n_users, n_items, n_factors
        self.y_range = tuple(y_range) if y_range is not None else None
        self.user_factors = Embedding(n_users, n_factors)
        self.item_factors = Embedding(n_items, n_factors)

    def config(self) -> dict:
        return {"n_factors": self.n_factors, "y_range": self.y_range}

    def raw_score(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return (self.user_factors(users) * self.item_factors(items)).sum(dim=1)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.squash(self.raw_score(users, items))

    def squash(self, score: torch.Tensor) -> torch.Tensor:
        return score if self.y_range is None else sigmoid_range(score, *self.y_range)

    def user_vectors(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the model knows of these users: factor rows (and biases, where it has them)."""
        return self.user_factors(users), None

    def score_user_vectors(
        self, vectors: torch.Tensor, biases: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Scores of every item for each user vector: one matrix product, shape (users, items).
        Vectors need not belong to a trained user (see fold-in)."""
        return self.squash(vectors @ self.item_factors.weight.T)


class DotProductBias(DotProduct):
    """The chapter's best simple model: dot product plus a learned bias per user and per item."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_factors: int = 50,
        y_range: tuple[float, float] | None = None,
    ):
        super().__init__(n_users, n_items, n_factors, y_range)
        self.user_bias = Embedding(n_users, 1)
        self.item_bias = Embedding(n_items, 1)

    @classmethod
    def from_arrays(
        cls,
        user_factors,
        item_factors,
        user_bias,
        item_bias,
        y_range: tuple[float, float] | None = None,
    ) -> DotProductBias:
        """A model holding these weights (arrays or tensors), built without initialising random
        weights first: the Gibbs sampler's posterior mean and averages of models are made so."""
        tensors = {
            "user_factors.weight": user_factors,
            "item_factors.weight": item_factors,
            "user_bias.weight": user_bias,
            "item_bias.weight": item_bias,
        }
        tensors = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in tensors.items()}
        for name in ("user_bias.weight", "item_bias.weight"):
            tensors[name] = tensors[name].reshape(-1, 1)
        n_users, n_factors = tensors["user_factors.weight"].shape
        with torch.device("meta"):
            model = cls(n_users, len(tensors["item_factors.weight"]), n_factors, y_range)
        model.load_state_dict(tensors, assign=True)
        return model

    def raw_score(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        score = super().raw_score(users, items)
        return score + self.user_bias(users).squeeze(1) + self.item_bias(items).squeeze(1)

    def user_vectors(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.user_factors(users), self.user_bias(users).squeeze(1)

    def score_user_vectors(
        self, vectors: torch.Tensor, biases: torch.Tensor | None = None
    ) -> torch.Tensor:
        raw = vectors @ self.item_factors.weight.T + self.item_bias.weight.T
        if biases is not None:
            raw = raw + biases[:, None]
        return self.squash(raw)


@torch.no_grad()
def fold_in_dot(
    model: DotProduct, items: np.ndarray, ratings: np.ndarray, reg: float = FOLD_IN_REG
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The ridge-optimal user vector (and bias, for `DotProductBias`) for these ratings: the
    numpy fold-in a served model uses (`dot_arrays.fold_in_rows`), on the module's weights."""
    item_bias = None
    if isinstance(model, DotProductBias):
        item_bias = model.item_bias.weight[:, 0].detach().cpu().numpy()
    factors = model.item_factors.weight.detach().cpu().numpy()
    vector, bias = fold_in_rows(factors, item_bias, items, ratings, model.y_range, reg)
    return torch.from_numpy(vector), None if bias is None else torch.tensor(bias)


# The chapter's recipe: wd 0.1 on the 80,000 training ratings of ML-100k's random 20% split.
CHAPTER_WD, CHAPTER_RATINGS = 0.1, 80_000


@register
class DotProductKind(TorchModel):
    """`dot`: the chapter's first model, trained by Adam (the PyTorch engine) or by the fused
    numba engine's SGD."""

    name = "dot"
    summary = "dot product of user and item factors (the chapter's first model)"
    engines: ClassVar[tuple[str, ...]] = ("fused", "torch")
    defaults: ClassVar[dict[str, Any]] = {
        "n_factors": 50,
        "epochs": 5,
        "wd": 0.1,
        "lr": 5e-3,
        "bs": 64,
    }
    network_class: ClassVar[type[nn.Module]] = DotProduct
    network: DotProduct
    # whether `y_range="auto"` squashes the output: the chapter's first model has no
    # `sigmoid_range` (it comes with the biases), so `dot` is linear unless a range is given
    auto_y_range: ClassVar[bool] = False

    def refusal(self, engine: str) -> str | None:
        """The fused engine's row-wise Adagrad, whose steps shrink as they add up, does not
        carry a linear output from its start near 0 to the ratings in the chapter's 5 epochs
        as Adam does: ML-100k, --no-y-range, valid loss 0.928 (torch) against 1.000 (fused)
        for dot and 0.847 against 0.865 for dot-bias. With a sigmoid to a y_range the
        engines agree (BENCHMARKS.md, `benchmarks/engines.py`)."""
        if engine == "fused" and not self.network.y_range:
            return (
                f"the fused engine trains a {self.name} model without a y_range to a worse "
                "model than the PyTorch engine (ML-100k: valid loss 1.000 against 0.928 for "
                "dot); use --engine torch (engine='torch'), or give a --y-range"
            )
        return None

    def preferred_engines(self) -> tuple[str, ...]:
        """The fused engine (row-wise Adagrad) trains `dot-bias` with a `y_range` as well as
        the PyTorch engine (Adam) does, 20-50x faster; on the chapter's other models it lands
        0.017-0.28 valid MSE away (`benchmarks/engines.py`), so `auto` gives those to torch."""
        fused_first = isinstance(self.network, DotProductBias) and self.network.y_range
        return tuple(sorted(self.engines, key=lambda e: e != ("fused" if fused_first else "torch")))

    @classmethod
    def build(cls, config: TrainConfig, data: Ratings) -> DotProductKind:
        y_range = None
        if config.y_range != "auto" or cls.auto_y_range:
            y_range = config.resolved_y_range(data.rating_scale or data.observed_range)
        n_factors = config.n_factors or cls.defaults["n_factors"]
        network = cls.network_class(data.n_users, data.n_items, n_factors, y_range)
        if isinstance(network, DotProductBias) and y_range is None and len(data):
            with torch.no_grad():  # a linear output starts at the mean rating, not at 0
                network.item_bias.weight += float(data.ratings.mean(dtype=np.float64))
        return cls(network)

    def fold_in(
        self, items: np.ndarray, ratings: np.ndarray, reg: float | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        self.network.cpu().eval()
        return fold_in_dot(
            self.network,
            np.asarray(items, dtype=np.int64),
            np.asarray(ratings, dtype=np.float32),
            reg=FOLD_IN_REG if reg is None else reg,
        )

    @classmethod
    def search_space(cls, trial: Any, base: TrainConfig) -> dict[str, Any]:
        return {
            **gradient_search_space(trial),
            "n_factors": trial.suggest_int("n_factors", 8, 256, log=True),
        }


@register
class DotProductBiasKind(DotProductKind):
    """`dot-bias`: the chapter's best simple model (dot product plus user and item biases)."""

    name = "dot-bias"
    summary = "dot product plus user and item biases (the chapter's recipe)"
    network_class: ClassVar[type[nn.Module]] = DotProductBias
    network: DotProductBias
    auto_y_range: ClassVar[bool] = True
    adapts: ClassVar[dict[str, str]] = {"wd": "0.1 x 80,000 / training ratings past 80,000"}

    @classmethod
    def defaults_for(
        cls, data: Ratings, config: TrainConfig | None = None
    ) -> tuple[dict[str, Any], str | None]:
        """The chapter's recipe, with weight decay scaled down past its 80,000 training
        ratings: decoupled decay shrinks every row at every step (AdamW; the fused engine
        applies it lazily, the same sum), so at a fixed batch size an epoch of n ratings decays
        n / 80,000 times as much, and wd 0.1 underfits at 1M (valid RMSE 0.923 against 0.818
        at 0.01 on the `ml-1m` synthetic preset, BENCHMARKS.md). A wd the user gave is kept,
        and no line speaks of another."""
        if len(data) <= CHAPTER_RATINGS or (config is not None and config.wd is not None):
            return cls.defaults, None
        wd = float(f"{CHAPTER_WD * CHAPTER_RATINGS / len(data):.2g}")
        note = (
            f"dot-bias defaults for {len(data):,} ratings: wd {wd:g} "
            f"({CHAPTER_WD:g} x {CHAPTER_RATINGS:,} / training ratings: the same decay an epoch "
            "as the chapter's recipe)"
        )
        return {**cls.defaults, "wd": wd}, note

    def biases(self, side: Side) -> np.ndarray:
        layer = self.network.user_bias if side == "user" else self.network.item_bias
        return layer.weight.detach().cpu().numpy()[:, 0]
