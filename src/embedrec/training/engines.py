"""Engines behind one contract, and the choice between them.

An engine has a `name`, says whether it `supports` a model on a device, and `fit`s it in place
on training ratings with a `TrainConfig`, running its epochs through the shared `EpochLoop`.
A model kind lists the engines that can train it, preferred first; an engine checks that the
model has the capability it runs on (`models/capabilities.py`), never which kind it is;
`engine="auto"` takes the first that supports the model on the configured device. `torch` and
`fused` are gradient engines; `own` runs the kinds with an algorithm of their own (bmf's Gibbs
sampler, ials, the closed-form kinds, an average), each through the same `EpochLoop`. The
distributed run's engine (`distributed.DataParallelEngine`) needs a process group, so it is
chosen by `--nproc`, not listed here.
"""

from __future__ import annotations

import sys
import warnings
from types import ModuleType
from typing import Protocol

import torch

from embedrec import lazy
from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models.base import Model
from embedrec.models.capabilities import Composite, OwnTrainer
from embedrec.models.registry import ResolvedConfig
from embedrec.training import fused_kernels
from embedrec.training.device import resolve_device
from embedrec.training.fused_engine import FusedEngine
from embedrec.training.kernel_cache import compile_note
from embedrec.training.loop import EpochLoop, OneEpoch, Validate
from embedrec.training.progress import EpochStats, Reporter
from embedrec.training.torch_engine import TorchEngine


class Engine(Protocol):
    name: str

    def supports(self, model: Model, device: torch.device) -> bool: ...

    def fit(
        self, model: Model, data: Ratings, config: TrainConfig, loop: EpochLoop
    ) -> list[EpochStats]: ...


class OwnRun:
    """What the `own` engine hands a kind's own trainer (`capabilities.Epochs`): the run's
    epoch loop, and training a member with its own engine and loop; it keeps the history of
    both."""

    def __init__(self, loop: EpochLoop, data: Ratings):
        self.loop, self.data = loop, data
        self.history: list[EpochStats] = []

    def run(
        self, epochs: int, steps_per_epoch: int, one_epoch: OneEpoch, *, show_every: int = 1
    ) -> list[EpochStats]:
        history = self.loop.run(epochs, steps_per_epoch, one_epoch, show_every=show_every)
        self.history += history
        return history

    def advance(self, steps: int) -> None:
        self.loop.advance(steps)

    def member(self, model: Model, config: TrainConfig, label: str) -> Model:
        self.loop.reporter.note(label)
        own = loop_for(model, config, self.loop.validate, self.loop.reporter)
        self.history += choose_engine(model, config).fit(model, self.data, config, own)
        return own.best or model


class OwnEngine:
    """`own`: any kind with an algorithm of its own (`OwnTrainer`: bmf's Gibbs sampler, ials's
    alternating least squares, the closed-form kinds' solve, an average's members), each run
    through the shared epoch loop."""

    name = "own"

    def supports(self, model: Model, device: torch.device) -> bool:
        return isinstance(model, OwnTrainer)

    def fit(
        self, model: Model, data: Ratings, config: TrainConfig, loop: EpochLoop
    ) -> list[EpochStats]:
        if not isinstance(model, OwnTrainer):
            raise ModelError(f"the own engine trains kinds with a trainer, not {model.name}")
        run = OwnRun(loop, data)
        model.fit_epochs(data, config, run)
        return run.history


ENGINES: dict[str, Engine] = {
    engine.name: engine for engine in (FusedEngine(), TorchEngine(), OwnEngine())
}


# The engines' earlier names, when each own trainer was an engine of its own: still accepted
# (deprecated), each for the kind whose trainer it names.
RENAMED_ENGINES = {"gibbs": "own", "als": "own", "direct": "own", "members": "own"}


def engine_names() -> list[str]:
    return ["auto", *ENGINES]


def check_engine(name: str) -> str:
    """The engine `name` stands for, or a clear error; an earlier name (`gibbs`, `als`,
    `direct`, `members`) stands for `own`, with a DeprecationWarning naming it."""
    if name in RENAMED_ENGINES:
        warnings.warn(renamed_engine(name), DeprecationWarning, stacklevel=callers_level())
        return RENAMED_ENGINES[name]
    if name not in engine_names():
        raise ModelError(f"unknown engine {name!r}; choose one of {', '.join(engine_names())}")
    return name


def listed(engines: tuple[str, ...]) -> tuple[str, ...]:
    """A kind's engines under their names now: a kind written before the `own` engine may
    still list `direct` (as `ClosedFormModel` did) or another earlier name."""
    return tuple(dict.fromkeys(RENAMED_ENGINES.get(name, name) for name in engines))


def callers_level() -> int:
    """The `stacklevel` of the first caller outside embedrec, for a warning called from here:
    Python shows a DeprecationWarning only where it is attributed to the user's own script,
    and `train` reaches `check_engine` through a varying number of embedrec's frames."""
    frame, level = sys._getframe(1), 1

    def ours(module: str) -> bool:
        return module.split(".")[0] == "embedrec"

    while frame.f_back is not None and ours(frame.f_globals.get("__name__", "")):
        frame, level = frame.f_back, level + 1
    return level


def renamed_engine(name: str) -> str:
    """What a run that names an engine by its earlier name is told."""
    return (
        f"engine {name!r} is engine {RENAMED_ENGINES[name]!r} now (each kind's own trainer); "
        f"{name!r} will be removed"
    )


def choose_engine(model: Model, config: TrainConfig) -> Engine:
    """The engine `config.engine` names, or for `auto` the model kind's first engine that runs
    on the configured device; a clear error when the pair does not go together."""
    device = resolve_device(config.device)
    if config.engine == "auto":
        for name in listed(model.preferred_engines()):
            if name in ENGINES and ENGINES[name].supports(model, device):
                return ENGINES[name]
        raise ModelError(f"no engine trains a {model.name} model on {device}")
    name = check_engine(config.engine)
    engine = ENGINES[name]
    trainer = model.trainer if isinstance(model, OwnTrainer) else None
    kinds_engines = listed(model.engines)
    if name not in kinds_engines or (name != config.engine and trainer != config.engine):
        raise ModelError(
            f"the {config.engine} engine does not train {model.name} models; "
            f"use engine 'auto' or one of: {', '.join(kinds_engines)}"
            + (f" (its own trainer, {trainer})" if trainer else "")
        )
    if not engine.supports(model, device):
        raise ModelError(f"the {engine.name} engine does not run on {device}; use engine 'torch'")
    refusal = model.refusal(engine.name)
    if refusal:
        raise ModelError(refusal)
    return engine


def fit(
    model: Model,
    data: Ratings,
    config: ResolvedConfig,
    validate: Validate | None = None,
    reporter: Reporter | None = None,
) -> tuple[list[EpochStats], str, Model]:
    """Train `model` in place with `config` as `resolve` completed it; returns the epoch
    history, the name of the engine used and the model to keep (`model` itself, or with
    `keep="best"` the best validated epoch's copy)."""
    engine = choose_engine(model, config)
    loop = loop_for(model, config, validate, reporter)
    if config.engine in RENAMED_ENGINES:
        loop.reporter.note(renamed_engine(config.engine))
    note = compile_note(kernels(model, engine), engine_label(model, engine))
    if note is not None:
        loop.reporter.note(note)
    history = engine.fit(model, data, config, loop)
    return history, engine_label(model, engine), loop.best or model


def loop_for(
    model: Model, config: TrainConfig, validate: Validate | None, reporter: Reporter | None
) -> EpochLoop:
    """The epoch loop of a run of `model` with `config`: its kind's metric and divergence
    hint, the config's `keep` and `patience`."""
    return EpochLoop(
        validate,
        reporter,
        keep_best=config.keep == "best",
        patience=config.patience,
        metric=model.validation_metric(),
        hint=model.divergence_hint(),
    )


def engine_label(model: Model, engine: Engine) -> str:
    """The engine that trains `model`, as a trained model records it: an own trainer by its
    name (`gibbs`, `als`, `direct`), an average by its members' (`gibbs+gibbs+torch`)."""
    if isinstance(model, Composite) and model.member_configs is not None:
        parts = zip(model.members, model.member_configs)
        return "+".join(engine_label(m, choose_engine(m, c)) for m, c in parts)
    if isinstance(engine, OwnEngine) and isinstance(model, OwnTrainer):
        return model.trainer
    return engine.name


def kernels(model: Model, engine: Engine) -> tuple[ModuleType, ...]:
    """The numba modules the engine runs on `model` (see `kernel_cache`)."""
    if isinstance(engine, OwnEngine) and isinstance(model, OwnTrainer):
        return tuple(lazy.imported(name) for name in model.kernels)
    return (fused_kernels,) if isinstance(engine, FusedEngine) else ()
