"""`TrainConfig`: every hyper-parameter of a training run in one JSON-able place, so a run can
be saved with its model, repeated from a file (`train --config`), and compared."""

from __future__ import annotations

import warnings
from dataclasses import InitVar, asdict, dataclass, fields
from pathlib import Path
from typing import Any

from embedrec import jsontext
from embedrec.errors import ModelError
from embedrec.schemas import validate_train
from embedrec.settings import AUTO_MODEL, TrainSettings
from embedrec.settings import LOSSES as LOSSES  # where they were first

DEFAULT_MODEL = AUTO_MODEL

# Options of one kind each that earlier versions held as fields of every config (nn's `layers`
# and `dropout`, bmf's `implicit` and `robust`, average's `members` and `weights`), with the
# value those versions wrote for every kind. They are still taken by name (`TrainConfig(
# layers=...)`, a config file or a model directory an earlier version wrote) into `options`,
# where their kind declares and validates them; a new kind's options need no line here.
EARLIER_FIELDS: dict[str, Any] = {
    "layers": [100, 50],
    "dropout": 0.0,
    "implicit": None,
    "robust": None,
    "members": None,
    "weights": None,
}
# The kind each of them belonged to: an earlier file that set one for another kind set it to
# no effect (that kind ignored it), so reading the file drops it rather than refuse it now.
EARLIER_OWNERS = {
    "layers": "nn",
    "dropout": "nn",
    "implicit": "bmf",
    "robust": "bmf",
    "members": "average",
    "weights": "average",
}


@dataclass
class TrainConfig(TrainSettings):
    """Every hyper-parameter of a run: the settings every kind shares, each declared once (its
    type, range, default and help) in `embedrec.settings.TrainSettings`. The default model,
    `auto`, is chosen on a validation set carved from the training ratings
    (`embedrec.selection`): usually `bmf` (Bayesian MF with implicit feedback and per-user/item
    noise) with a ranker beside it; `n_factors`, `epochs`, `lr`, `wd` and `bs` left as None
    take the chosen model kind's defaults (`Model.defaults`), so `model="dot-bias"` alone is
    the fastai chapter's recipe (50 factors, 5 epochs, lr 5e-3, wd 0.1, one-cycle).

    Every kind reads the fields it needs (`embedrec.models`: `dot` and `dot-bias` the SGD
    options, `bmf` only `n_factors`, `epochs`, `seed`) and its own options (`options`, the
    kind's `Options`: `l2` for ease, `shrink` for bmf).

    `y_range="auto"` becomes (0, 1.1 * max rating) for ratings on a positive scale, fastai's
    (0, 5.5) for MovieLens (the declared rating scale, else the range seen in training),
    except for `dot`, the chapter's first model, which has no sigmoid unless a range is given;
    None turns the sigmoid off.

    `layers`, `dropout` (nn), `implicit`, `robust` (bmf), `members` and `weights` (average) are
    the kind's options, not fields: given here by name (as earlier versions took them) they go
    into `options` and are validated by that kind (`TrainConfig(model="nn", layers=[200, 100])`
    is `TrainConfig(model="nn", options={"layers": [200, 100]})`).
    """

    # the kinds' options earlier versions took as fields (EARLIER_FIELDS): into `options`
    layers: InitVar[list[int] | None] = None
    dropout: InitVar[float | None] = None
    implicit: InitVar[bool | None] = None
    robust: InitVar[bool | None] = None
    members: InitVar[list[dict] | None] = None
    weights: InitVar[list[float] | None] = None

    def __post_init__(self, *earlier: Any) -> None:
        given = {k: v for k, v in zip(EARLIER_FIELDS, earlier) if v is not None}
        if given:
            self.options = {**self.options, **given}
        if isinstance(self.y_range, list):
            self.y_range = tuple(self.y_range)
        if self.ranker == "none":  # as the CLI spells it
            self.ranker = None
        # every field's type and range, from the one schema (a bad value names its option)
        for name, value in validate_train(asdict(self)).items():
            setattr(self, name, value)
        if isinstance(self.y_range, tuple) and not self.y_range[0] < self.y_range[1]:
            raise ModelError(f"y_range must be (low, high) with low < high, got {self.y_range}")

    def replace(self, **changes: Any) -> TrainConfig:
        known = {f.name for f in fields(self)} | set(EARLIER_FIELDS)
        unknown = set(changes) - known
        if unknown:
            raise ModelError(f"unknown training option(s): {', '.join(sorted(unknown))}")
        return TrainConfig(**{**asdict(self), **changes})

    def merged(self, **changes: Any) -> TrainConfig:
        """`replace` for the config's own fields; any other keyword is one of the model
        kind's options (`train(split, model="ease", l2=300)`), checked when the kind is known."""
        known = {f.name for f in fields(self)} | set(EARLIER_FIELDS)
        extra = {k: v for k, v in changes.items() if k not in known}
        own = {k: v for k, v in changes.items() if k in known}
        if extra:
            own["options"] = {**self.options, **own.get("options", {}), **extra}
        return self.replace(**own)

    def with_defaults(self, defaults: dict[str, Any]) -> TrainConfig:
        """This config with `defaults` filled in where it leaves a field unset (None), and
        `defaults["options"]` where it leaves a kind's option unset: a model kind's own
        defaults (`embedrec.models.resolve` calls this with them)."""
        missing = {k: v for k, v in defaults.items() if k != "options" and getattr(self, k) is None}
        options = {
            k: v for k, v in defaults.get("options", {}).items() if self.options.get(k) is None
        }
        if options:
            missing["options"] = {**self.options, **options}
        return self.replace(**missing) if missing else self

    def ranker_config(self, name: str) -> TrainConfig:
        """The config the ranking model `name` trains with: this run's seed, threads and device,
        its own options, and its kind's defaults for everything else."""
        return TrainConfig(
            model=name,
            seed=self.seed,
            threads=self.threads,
            device=self.device,
            options=dict(self.ranker_options),
            ranker=None,
        )

    def resolved_y_range(self, scale: tuple[float, float] | None) -> tuple[float, float] | None:
        if self.y_range != "auto":
            return self.y_range
        if scale is None:
            return None
        low, high = scale
        low = 0.0 if low >= 0 else low - 0.1 * (high - low)
        return (low, round(high + 0.1 * (high - low), 6))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_saved(cls, values: dict[str, Any]) -> TrainConfig:
        """A config as written to a file, by this version or an earlier one (which wrote every
        kind's options as fields of every config, at their defaults where the kind had none)."""
        kept = {k: v for k, v in values.items() if k not in EARLIER_FIELDS}
        model = values.get("model", DEFAULT_MODEL)
        kept.update(
            (k, v)
            for k, v in values.items()
            if k in EARLIER_FIELDS
            and v != EARLIER_FIELDS[k]
            # the default (auto) and an average pass options on to the kinds that take them
            and model in (EARLIER_OWNERS[k], AUTO_MODEL, "average")
        )
        return cls(**kept)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            values = jsontext.loads(path.read_text())
        except (OSError, ValueError) as exc:  # ValueError: not JSON, or not UTF-8 text
            raise ModelError(f"{path}: not a readable JSON training config ({exc})") from None
        if not isinstance(values, dict):
            raise ModelError(f"{path}: a training config is a JSON object")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(known) - set(EARLIER_FIELDS))
        if unknown:
            raise ModelError(
                f"{path}: unknown training option(s) {', '.join(map(repr, unknown))} "
                f"(known: {', '.join(known)}, and the model kind's own options)"
            )
        own = {k: v for k, v in values.items() if k not in EARLIER_FIELDS}
        validate_train({**asdict(cls()), **own}, where=str(path))
        try:
            return cls.from_saved(values)
        except ModelError as exc:
            raise ModelError(f"{path}: {exc}") from None


def _earlier_field(name: str) -> property:
    """`config.layers` and the like, as earlier versions read them: the kind's option now."""

    def read(self: TrainConfig) -> Any:
        warnings.warn(
            f"TrainConfig.{name} is the {EARLIER_OWNERS[name]} kind's option now: read "
            f"config.options.get({name!r})",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.options.get(name)

    return property(read)


for _name in EARLIER_FIELDS:  # after @dataclass, which has taken their defaults for __init__
    setattr(TrainConfig, _name, _earlier_field(_name))
