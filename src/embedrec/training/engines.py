"""Engines behind one contract, and the choice between them.

An engine has a `name`, says whether it `supports` a model on a device, and `fit`s it in place
on training ratings with a `TrainConfig`, running its epochs through the shared `EpochLoop`.
A model kind lists the engines that can train it, preferred first; an engine checks that the
model has the capability it runs on (`models/capabilities.py`), never which kind it is;
`engine="auto"` takes the first that supports the model on the configured device. The
distributed run's engine (`distributed.DataParallelEngine`) needs a process group, so it is
chosen by `--nproc`, not listed here.
"""

from __future__ import annotations

from typing import Protocol

import torch

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models.base import Model
from embedrec.models.capabilities import ClosedForm, Composite
from embedrec.models.registry import ResolvedConfig
from embedrec.training import als_kernels, fused_kernels, gibbs_kernels
from embedrec.training.als_engine import ALSEngine
from embedrec.training.device import resolve_device
from embedrec.training.fused_engine import FusedEngine
from embedrec.training.gibbs import GibbsEngine
from embedrec.training.kernel_cache import compile_note
from embedrec.training.loop import EpochLoop, Validate
from embedrec.training.progress import EpochStats, Reporter
from embedrec.training.torch_engine import TorchEngine


class Engine(Protocol):
    name: str

    def supports(self, model: Model, device: torch.device) -> bool: ...

    def fit(
        self, model: Model, data: Ratings, config: TrainConfig, loop: EpochLoop
    ) -> list[EpochStats]: ...


class MembersEngine:
    """`members`: trains each member of an average with its own config and engine."""

    name = "members"

    def supports(self, model: Model, device: torch.device) -> bool:
        return isinstance(model, Composite)

    def fit(
        self, model: Model, data: Ratings, config: TrainConfig, loop: EpochLoop
    ) -> list[EpochStats]:
        if not isinstance(model, Composite) or model.member_configs is None:
            raise ModelError("the members engine trains averages built by train()")
        history: list[EpochStats] = []
        n = len(model.members)
        for k, (member, member_config) in enumerate(zip(model.members, model.member_configs)):
            loop.reporter.note(f"member {k + 1}/{n}: {member.name}")
            own = EpochLoop(
                loop.validate,
                loop.reporter,
                keep_best=member_config.keep == "best",
                patience=member_config.patience,
                metric=member.validation_metric(),
                hint=member.divergence_hint(),
            )
            history += choose_engine(member, member_config).fit(member, data, member_config, own)
            if own.best is not None:
                model.members[k] = own.best
        return history


class DirectEngine:
    """`direct`: kinds fitted in one solve (`ClosedForm.solve`), shown as one epoch."""

    name = "direct"

    def supports(self, model: Model, device: torch.device) -> bool:
        return isinstance(model, ClosedForm)

    def fit(
        self, model: Model, data: Ratings, config: TrainConfig, loop: EpochLoop
    ) -> list[EpochStats]:
        if not isinstance(model, ClosedForm):
            raise ModelError(f"the direct engine fits closed-form models, not {model.name}")
        return loop.run(1, 1, lambda epoch: (model.solve(data, config), model))


ENGINES: dict[str, Engine] = {
    engine.name: engine
    for engine in (
        FusedEngine(),
        TorchEngine(),
        GibbsEngine(),
        ALSEngine(),
        DirectEngine(),
        MembersEngine(),
    )
}


# The numba modules each compiled engine runs (see `kernel_cache`).
KERNELS = {"fused": (fused_kernels,), "gibbs": (gibbs_kernels,), "als": (als_kernels,)}


def engine_names() -> list[str]:
    return ["auto", *ENGINES]


def choose_engine(model: Model, config: TrainConfig) -> Engine:
    """The engine `config.engine` names, or for `auto` the model kind's first engine that runs
    on the configured device; a clear error when the pair does not go together."""
    device = resolve_device(config.device)
    if config.engine == "auto":
        for name in model.preferred_engines():
            if ENGINES[name].supports(model, device):
                return ENGINES[name]
        raise ModelError(f"no engine trains a {model.name} model on {device}")
    if config.engine not in ENGINES:
        raise ModelError(
            f"unknown engine {config.engine!r}; choose one of {', '.join(engine_names())}"
        )
    engine = ENGINES[config.engine]
    if config.engine not in model.engines:
        raise ModelError(
            f"the {engine.name} engine does not train {model.name} models; "
            f"use engine 'auto' or one of: {', '.join(model.engines)}"
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
    loop = EpochLoop(
        validate,
        reporter,
        keep_best=config.keep == "best",
        patience=config.patience,
        metric=model.validation_metric(),
        hint=model.divergence_hint(),
    )
    note = compile_note(KERNELS.get(engine.name, ()), engine.name)
    if note is not None:
        loop.reporter.note(note)
    history = engine.fit(model, data, config, loop)
    return history, engine_label(model, engine), loop.best or model


def engine_label(model: Model, engine: Engine) -> str:
    """The engine that trains `model`, as a trained model records it (`gibbs+gibbs+torch` for
    an average of three)."""
    if isinstance(model, Composite) and model.member_configs is not None:
        parts = zip(model.members, model.member_configs)
        return "+".join(choose_engine(m, c).name for m, c in parts)
    return engine.name
