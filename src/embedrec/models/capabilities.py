"""What an engine needs of a model, as protocols: engines check a capability, never a kind's
class, so a new kind with the capability trains on the engine without the engine knowing it.

A kind lists the engines that train it by name, preferred first (`Model.engines`); the engine
then checks that the model has what it runs on:
- `GradientTrainable`: a torch network and its objective (`torch`, the data-parallel run);
- `FusedTrainable`: that, with a dot-product network on the pointwise squared error (`fused`);
- `OwnTrainer`: a kind with an algorithm of its own (bmf's Gibbs sampler, ials's alternating
  least squares, a closed-form solve, an average's members), which it runs through the shared
  epoch loop the `own` engine hands it (`Epochs`), so validation, `keep="best"`, `patience`
  and the epoch table are the loop's, as for a torch kind;
- `Composite`: members trained each with its own config (an average).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from torch import nn

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.models.base import Model
from embedrec.models.dot import DotProduct
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


class Epochs(Protocol):
    """The shared epoch loop as a kind's own trainer drives it (`training.engines.OwnRun`)."""

    def run(
        self,
        epochs: int,
        steps_per_epoch: int,
        one_epoch: Callable[[int], tuple[float | None, Any]],
        *,
        show_every: int = 1,
    ) -> list[Any]:
        """Run `one_epoch(epoch)` -> (training loss or None, the model to validate now or
        None) for each epoch: validated, kept, stopped early and shown by the loop; the
        epochs' history."""
        ...

    def advance(self, steps: int) -> None:
        """Progress within an epoch, in the trainer's own steps."""
        ...

    def member(self, model: Model, config: TrainConfig, label: str) -> Model:
        """Train a member model on the same data with its own config, engine and loop (shown
        under `label`); the member to keep (its best validated copy under `keep="best"`)."""
        ...


@runtime_checkable
class OwnTrainer(Protocol):
    """A kind that trains by its own algorithm, run by the `own` engine. `trainer` names the
    algorithm (a trained model records it as its engine: "gibbs", "als", "direct",
    "members"); `kernels` are the numba modules it runs (a note says when they compile)."""

    @property
    def trainer(self) -> str: ...

    @property
    def kernels(self) -> tuple[str, ...]: ...

    def fit_epochs(self, data: Ratings, config: TrainConfig, loop: Epochs) -> None: ...


@runtime_checkable
class Composite(Protocol):
    """A kind made of member models, each trained with its own config (None: not by train())."""

    members: list[Model]
    member_configs: list[TrainConfig] | None
