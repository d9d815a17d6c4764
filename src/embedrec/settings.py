"""The training settings every model kind shares, each declared once: its name, type, range,
default and help text, and the CLI flag that sets it. Everything else is made from this one
declaration: `TrainConfig` (which adds its methods and the earlier versions' spellings),
`embedrec.schemas.TrainSchema` (the pydantic schema a config is checked against), the training
commands' options and their `--help` (`embedrec.cli.model_options`, which adds each kind's own
defaults, read from the kinds' files).

A setting is a dataclass field whose type is `Annotated[type, setting(...)]`: the pydantic
`Field` carries the range and the help; its `json_schema_extra` the flag, an old spelling of the
flag still taken (`was`), and the default in words where its value alone says too little
(`said`). A kind's own hyper-parameters are its `Options`, not settings here.

This module imports no other part of embedrec but `help_text` (plain strings), so `--help`
reads it without torch.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field
from pydantic.fields import FieldInfo

from embedrec.help_text import ENGINE_NAMES

# The default model is chosen on a validation set carved from the training side
# (`embedrec.selection`): bmf or dot-bias to predict, EASE, iALS or popularity to rank.
AUTO_MODEL = "auto"
# a number that must stay finite (pydantic refuses nan and inf for these)
Finite = Annotated[float, Field(allow_inf_nan=False)]
MAX_SEED = 2**32 - 1 - 1000  # numpy's legacy seeding takes < 2**32; members add their position
# "cross-entropy": classification over the rating values, predicted as the expected rating
# (the chapter's questionnaire; the neural model only)
Loss = Literal["mse", "cross-entropy"]
LOSSES: tuple[str, ...] = typing.get_args(Loss)
# What a run takes for a setting a kind may default where neither the run nor its kind says
# (`registry.resolve` fills these after the kind's `defaults`)
FALLBACKS: dict[str, Any] = {"loss": "mse", "schedule": "one-cycle"}


def setting(
    flag: str, text: str, *, said: str | None = None, was: str | None = None, **bounds: Any
) -> Any:
    """One setting's declaration: its CLI `flag`, its help `text`, its default in words
    (`said`; else the value), the flag's old spelling still taken (`was`), and pydantic's
    `bounds` (ge, le, min_length, ...)."""
    extra = {"flag": flag, "said": said, "was": was}
    return Field(
        description=text,
        json_schema_extra={k: v for k, v in extra.items() if v is not None},
        **bounds,
    )


@dataclass
class TrainSettings:
    """The settings every run shares (`TrainConfig`'s fields). A setting a kind defaults
    (`n_factors`, `epochs`, `lr`, `wd`, `bs`, `loss`, `schedule`) is None here: "the kind's
    default" (`Model.defaults`, adapted to the data by `Model.defaults_for`; `FALLBACKS` where
    the kind says nothing)."""

    model: Annotated[
        str,
        setting(
            "--model",
            "Model kind",
            said="auto: bmf or dot-bias to predict, with EASE, iALS or popularity to rank, "
            "chosen on 10% of the training ratings carved out for validation",
            min_length=1,
        ),
    ] = AUTO_MODEL
    n_factors: Annotated[
        int | None,
        setting(
            "--n-factors",
            "Rank of bmf, ials and bpr, width of the dot models and of nn's embeddings",
            was="--factors",
            ge=1,
            le=65536,
        ),
    ] = None
    y_range: Annotated[
        Literal["auto"] | tuple[Finite, Finite] | None,
        setting(
            "--y-range",
            "Output range LOW HIGH (a sigmoid to it)",
            said="auto: (0, 1.1 x max rating)",
        ),
    ] = "auto"
    epochs: Annotated[
        int | None, setting("--epochs", "Epochs (bmf: Gibbs sweeps)", ge=1, le=1_000_000)
    ] = None
    lr: Annotated[Finite | None, setting("--lr", "Peak learning rate", gt=0, le=100)] = None
    wd: Annotated[Finite | None, setting("--wd", "Decoupled weight decay", ge=0, le=1e6)] = None
    bs: Annotated[int | None, setting("--bs", "Batch size", ge=1, le=2**24)] = None
    loss: Annotated[
        Loss | None,
        setting(
            "--loss",
            "mse, or cross-entropy (nn: classification over the rating values, predicting "
            "the expected rating)",
            said=FALLBACKS["loss"],
        ),
    ] = None
    schedule: Annotated[
        Literal["one-cycle", "constant"] | None,
        setting("--schedule", "one-cycle or constant", said=FALLBACKS["schedule"]),
    ] = None
    seed: Annotated[
        int, setting("--seed", "Seed for the split and the model", ge=0, le=MAX_SEED)
    ] = 42
    device: Annotated[str, setting("--device", "auto, cpu, cuda or mps", min_length=1)] = "auto"
    engine: Annotated[
        str,
        setting(
            "--engine",
            ", ".join(ENGINE_NAMES),
            said="auto: the model's first engine that runs on the device",
            min_length=1,
        ),
    ] = "auto"
    threads: Annotated[
        int | None, setting("--threads", "CPU threads of the engine", said="all", ge=1, le=4096)
    ] = None
    keep: Annotated[
        Literal["last", "best"],
        setting("--keep", "Which epoch's model to save: last or best (lowest valid RMSE)"),
    ] = "last"
    patience: Annotated[
        int | None,
        setting(
            "--patience",
            "Stop after this many validated epochs without a better valid RMSE",
            said="never",
            ge=1,
            le=1_000_000,
        ),
    ] = None
    options: Annotated[
        dict[str, Any],
        setting(
            "--option",
            "A model kind's own option as KEY=VALUE, repeatable (each kind's options are "
            "listed under --model)",
            said="none",
        ),
    ] = field(default_factory=dict)
    ranker: Annotated[
        str | None,
        setting(
            "--ranker",
            "A ranking model trained beside the rating model for recommend and similar: a "
            "ranking kind, or none",
            said="auto: beside the default model, chosen on carved validation; none beside "
            "a named --model",
        ),
    ] = "auto"
    ranker_options: Annotated[
        dict[str, Any],
        setting("--ranker-option", "An option of the ranker as KEY=VALUE, repeatable", said="none"),
    ] = field(default_factory=dict)
    blend: Annotated[
        Finite | None,
        setting(
            "--blend",
            "Weight of the rating model's standardised predictions added to the ranker's "
            "standardised scores",
            said="chosen on validation carved from the training data; 0 beside a named ranker",
            ge=0,
            le=1000,
        ),
    ] = None


@dataclass(frozen=True)
class Declared:
    """One setting as declared: what the schema, the config and the CLI are made from."""

    name: str
    hint: Any  # the declared type, `Annotated` with its `FieldInfo`
    info: FieldInfo
    default: Any  # the value; `dataclasses.MISSING` where a factory makes it
    factory: Any  # the default's factory (`dict`), or `dataclasses.MISSING`

    @property
    def flag(self) -> str:
        return self._extra()["flag"]

    @property
    def was(self) -> str | None:
        return self._extra().get("was")

    @property
    def text(self) -> str:
        return self.info.description or ""

    def said(self) -> str:
        """The default as `--help` says it: its words where declared, else its value."""
        words = self._extra().get("said")
        if words is not None:
            return str(words)
        value = self.factory() if self.default is dataclasses.MISSING else self.default
        return "none" if value is None else str(value)

    def _extra(self) -> dict[str, Any]:
        extra = self.info.json_schema_extra
        assert isinstance(extra, dict), f"{self.name} is declared without setting()"
        return extra


def declared_settings() -> dict[str, Declared]:
    """Every shared setting in declaration order (`TrainConfig`'s field order)."""
    hints = typing.get_type_hints(TrainSettings, include_extras=True)
    found = {}
    for each in dataclasses.fields(TrainSettings):
        hint = hints[each.name]
        info = next(m for m in typing.get_args(hint)[1:] if isinstance(m, FieldInfo))
        found[each.name] = Declared(each.name, hint, info, each.default, each.default_factory)
    return found


def train_flags(names: list[str]) -> dict[str, str]:
    """Each named setting's CLI flag (for messages a CLI user can act on)."""
    settings = declared_settings()
    return {name: settings[name].flag for name in names if name in settings}
