"""What an engine needs of a model, as protocols: engines check a capability, never a kind's
class, so a new kind with the capability trains on the engine without the engine knowing it.

A kind still lists the engines that train it by name, preferred first (`Model.engines`); the
engine then checks that the model has what it runs on:
- `GradientTrainable`: a torch network and its objective (`torch`, the data-parallel run);
- `FusedTrainable`: that, with a dot-product network on the pointwise squared error (`fused`);
- `PosteriorSampled`: holds the posterior mean a sampler hands it (`gibbs`, bmf);
- `AlternatingFactors`: two factor tables solved in turn (`als`, ials);
- `ClosedForm`: fitted in one solve (`direct`: ease, bias, popular);
- `Composite`: members trained each with its own config (`members`, average).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np
from torch import nn

from embedrec.config import TrainConfig
from embedrec.data.interactions import InteractionRule
from embedrec.data.ratings import Ratings
from embedrec.models.base import Model
from embedrec.models.dot import DotProduct, DotProductBias
from embedrec.models.objective import Objective


@runtime_checkable
class GradientTrainable(Protocol):
    """A torch network trained by gradient steps on the kind's objective."""

    network: nn.Module

    def objective(self) -> Objective: ...


def fused_trainable(model: object) -> bool:
    """Whether the fused engine's kernels run `model`: a dot-product network (the arrays they
    update in place) on plain pointwise squared error (a kind with its own objective, such as
    a pairwise one, goes to torch)."""
    return (
        isinstance(model, GradientTrainable)
        and isinstance(model.network, DotProduct)
        and type(model.objective()) is Objective
    )


@runtime_checkable
class PosteriorSampled(Protocol):
    """A kind a Gibbs sampler fits: it holds each posterior mean the sampler draws (handed the
    mean's builder, so that it can let the previous mean go first)."""

    def holding_samples(
        self, data: Ratings, config: TrainConfig
    ) -> Callable[[Callable[[], DotProductBias]], Model]: ...


@runtime_checkable
class AlternatingFactors(Protocol):
    """User and item factor tables an alternating least-squares solver updates in place, with
    the kind's options (confidence `alpha`, `alpha0`, `cg_steps`) and regularisation."""

    user_factors: np.ndarray
    item_factors: np.ndarray
    options: Any

    @property
    def rule(self) -> InteractionRule: ...

    def regularization(self, count: np.ndarray | float, other_side: int) -> np.ndarray: ...


@runtime_checkable
class ClosedForm(Protocol):
    """A kind fitted in one solve, without epochs."""

    def solve(self, data: Ratings, config: TrainConfig) -> float | None: ...


@runtime_checkable
class Composite(Protocol):
    """A kind made of member models, each trained with its own config (None: not by train())."""

    members: list[Model]
    member_configs: list[TrainConfig] | None
