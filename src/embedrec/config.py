"""`TrainConfig`: every hyper-parameter of a training run in one JSON-able place, so a run can
be saved with its model, repeated from a file (`train --config`), and compared."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from embedrec.errors import ModelError
from embedrec.schemas import validate_train

# `model="average"` without members: three bmf chains with different seeds (averaging
# independent chains is the standard way to make an MCMC posterior mean sturdier).
DEFAULT_MEMBERS = [{"model": "bmf"}, {"model": "bmf"}, {"model": "bmf"}]
# The default model is chosen on a validation set carved from the training side
# (`embedrec.selection`): bmf or dot-bias to predict, EASE, iALS or popularity to rank.
AUTO_MODEL = "auto"
DEFAULT_MODEL = AUTO_MODEL


LOSSES = ("mse", "cross-entropy")


@dataclass
class TrainConfig:
    """Every hyper-parameter of a run. The default model, `auto`, is chosen on a validation set
    carved from the training ratings (`embedrec.selection`): usually `bmf` (Bayesian MF with
    implicit feedback and per-user/item noise) with a ranker beside it; `n_factors` and
    `epochs` left as None take the chosen model kind's defaults (`Model.defaults`), so
    `model="dot-bias"` alone is the fastai chapter's recipe (50 factors, 5 epochs, lr 5e-3,
    wd 0.1, one-cycle).

    Every kind reads the fields it needs (`embedrec.models`: `dot` and `dot-bias` the SGD
    options, `bmf` only `n_factors`, `epochs`, `implicit`, `robust`, `seed`).

    `y_range="auto"` becomes (0, 1.1 * max rating) for ratings on a positive scale, fastai's
    (0, 5.5) for MovieLens (the declared rating scale, else the range seen in training),
    except for `dot`, the chapter's first model, which has no sigmoid unless a range is given;
    None turns the sigmoid off. `implicit` and `robust` (None: picked from the data) are bmf's:
    the SVD++ "which items a user rated" terms, and a noise level per user and item.
    """

    model: str = DEFAULT_MODEL
    n_factors: int | None = None
    layers: list[int] = field(default_factory=lambda: [100, 50])
    dropout: float = 0.0
    y_range: str | tuple[float, float] | None = "auto"
    epochs: int | None = None
    lr: float | None = None  # None: the kind's default (5e-3: the chapter's; bpr 1e-2)
    wd: float | None = None  # None: the kind's default (0.1; dot-bias scales it by size)
    bs: int | None = None  # None: the kind's default (64: the chapter's; bpr 1024)
    # "mse", or "cross-entropy": classification over the rating values, predicted as the
    # expected rating (the chapter's questionnaire; the neural model only)
    loss: str = "mse"
    schedule: str = "one-cycle"
    seed: int = 42
    device: str = "auto"
    engine: str = "auto"
    threads: int | None = None  # CPU threads of the engine; default: all cores
    implicit: bool | None = None  # bmf's; None: its kind's choice for the data (on unless
    robust: bool | None = None  # items are sparse, `BayesianMFKind.defaults_for`)
    members: list[dict] | None = None  # average: each member's options (model=..., ...)
    weights: list[float] | None = None  # average: one per member, default equal
    # which model a validated run returns: the "last" epoch's or the "best" (lowest valid RMSE);
    # with `patience`, training stops after that many validated epochs without improvement
    keep: str = "last"
    patience: int | None = None
    # the model kind's own hyper-parameters (its `Model.Options`), e.g. {"l2": 500} for ease
    options: dict[str, Any] = field(default_factory=dict)
    # a ranking model trained beside the rating model, for recommend and similar: a kind name,
    # None, or "auto" (beside bmf, the default: ease where its items x items solve fits, else
    # ials; beside any other model: none unless named)
    ranker: str | None = "auto"
    ranker_options: dict[str, Any] = field(default_factory=dict)
    # how much the rating model's predictions re-weigh the ranker's scores (both standardised
    # per user); None: the default chosen on validation carved from training data
    blend: float | None = None

    def __post_init__(self):
        if isinstance(self.y_range, list):
            self.y_range = tuple(self.y_range)
        if self.ranker == "none":  # as the CLI spells it
            self.ranker = None
        # every field's type and range, from the one schema (a bad value names its option)
        for name, value in validate_train(asdict(self)).items():
            setattr(self, name, value)
        if isinstance(self.y_range, tuple) and not self.y_range[0] < self.y_range[1]:
            raise ModelError(f"y_range must be (low, high) with low < high, got {self.y_range}")
        if self.members is not None:
            for member in self.members:
                if not isinstance(member, dict) or member.get("model") in (None, "average"):
                    raise ModelError(
                        "members: each member of an average is a dict of training options "
                        f"naming its model (not another average), got {member!r}"
                    )
        if self.weights is not None:
            count = len(self.members or DEFAULT_MEMBERS)
            if len(self.weights) != count or min(self.weights) < 0 or sum(self.weights) <= 0:
                raise ModelError(
                    f"weights: one non-negative weight per member ({count}), not all zero; "
                    f"got {self.weights}"
                )

    def replace(self, **changes: Any) -> TrainConfig:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ModelError(f"unknown training option(s): {', '.join(sorted(unknown))}")
        return TrainConfig(**{**asdict(self), **changes})

    def merged(self, **changes: Any) -> TrainConfig:
        """`replace` for the config's own fields; any other keyword is one of the model
        kind's options (`train(split, model="ease", l2=300)`), checked when the kind is known."""
        known = {f.name for f in fields(self)}
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

    def member_configs(self) -> list[TrainConfig]:
        """An average's members as configs. A member takes what it names, else any option set
        on the average itself (e.g. `epochs`), else its own model's defaults; its seed is the
        run's seed plus its position unless it names one."""
        default = TrainConfig()
        shared = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("model", "members", "weights", "seed", "ranker", "blend")
            and f.name != "ranker_options"
            and getattr(self, f.name) != getattr(default, f.name)
        }
        return [
            TrainConfig(**shared).merged(**{"seed": self.seed + k, **member})
            for k, member in enumerate(self.members or DEFAULT_MEMBERS)
        ]

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
            return self.y_range  # type: ignore[return-value]
        if scale is None:
            return None
        low, high = scale
        low = 0.0 if low >= 0 else low - 0.1 * (high - low)
        return (low, round(high + 0.1 * (high - low), 6))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            values = json.loads(path.read_text())
        except (OSError, ValueError) as exc:  # ValueError: not JSON, or not UTF-8 text
            raise ModelError(f"{path}: not a readable JSON training config ({exc})") from None
        if not isinstance(values, dict):
            raise ModelError(f"{path}: a training config is a JSON object")
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ModelError(
                f"{path}: unknown training option(s) {', '.join(map(repr, unknown))} "
                f"(known: {', '.join(f.name for f in fields(cls))})"
            )
        validate_train({**asdict(cls()), **values}, where=str(path))
        try:
            return cls().replace(**values)
        except ModelError as exc:
            raise ModelError(f"{path}: {exc}") from None
