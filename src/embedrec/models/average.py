"""`average`: a weighted average of trained models, the oldest reliable way to gain accuracy
(every strong Netflix-prize and MovieLens result is a blend), kept as one model so an average
saves, loads, serves, recommends and folds in new users like a single one.

Its members are models of any kind, trained one after another on the same data, each by its own
engine and epoch loop (the average's own trainer, `members`, on the `own` engine); a new user is
folded into each member and the scores averaged.
Its options are `members` (each a dict of training options naming its model) and `weights`;
any other option given to the average goes to the members whose kind takes it.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, cast

import numpy as np
import torch
from pydantic import ConfigDict, Field, model_validator

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models.base import Model, NoOptions, Side
from embedrec.models.registry import ResolvedConfig, data_defaults, get_kind, register, resolve

if TYPE_CHECKING:
    from embedrec.models.capabilities import Epochs

# Without members: three bmf chains with different seeds (averaging independent chains is the
# standard way to make an MCMC posterior mean sturdier).
DEFAULT_MEMBERS = [{"model": "bmf"}, {"model": "bmf"}, {"model": "bmf"}]
# what a member does not take from the average: its identity, and the average's own composition
NOT_SHARED = ("model", "seed", "ranker", "ranker_options", "blend", "options")


class AverageOptions(NoOptions):
    # other options are the members' (each goes to the members whose kind takes it)
    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    members: list[dict[str, Any]] | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="the models to average, e.g. bmf,bmf,nn, each a dict of its own training "
        "options naming its model in Python or a config file (unset: three bmf chains)",
        json_schema_extra={"flag": "--members"},
    )
    weights: list[Annotated[float, Field(ge=0)]] | None = Field(
        None, description="one per member (unset: equal)", json_schema_extra={"flag": "--weights"}
    )

    @model_validator(mode="after")
    def _members_and_weights_agree(self) -> AverageOptions:
        for member in self.members or []:
            if member.get("model") in (None, "average"):
                raise ValueError(
                    "each member of an average is a dict of training options naming its model "
                    f"(not another average), got {member!r}"
                )
        count = len(self.members or DEFAULT_MEMBERS)
        if self.weights is not None and (len(self.weights) != count or sum(self.weights) <= 0):
            raise ValueError(
                f"weights: one non-negative weight per member ({count}), not all zero; "
                f"got {self.weights}"
            )
        return self


@register
class AverageKind(Model):
    """prediction = sum of weight_k * member_k(user, item), weights summing to 1."""

    name = "average"
    summary = "weighted average of its members (default: three bmf chains)"
    engines: ClassVar[tuple[str, ...]] = ("own",)
    trainer = "members"
    kernels: tuple[str, ...] = ()
    defaults: ClassVar[dict[str, Any]] = {}  # each member takes its own kind's defaults
    Options: ClassVar[type[NoOptions]] = AverageOptions

    def __init__(
        self,
        members: list[Model],
        weights: list[float] | None = None,
        member_configs: list[ResolvedConfig] | None = None,
    ):
        if not members:
            raise ModelError("an average needs at least one member")
        shapes = {(m.n_users, m.n_items) for m in members}
        if len(shapes) != 1:
            raise ModelError("averaged models must be trained on the same users and items")
        rankers = [m.name for m in members if not m.predicts_ratings]
        if rankers:
            raise ModelError(
                f"an average blends rating models; {', '.join(rankers)} ranks items without "
                "predicting ratings (use it as ranker= beside a rating model instead)"
            )
        weights = [1.0] * len(members) if weights is None else [float(w) for w in weights]
        if len(weights) != len(members) or min(weights) < 0 or sum(weights) <= 0:
            raise ModelError(f"an average needs one non-negative weight per member, not {weights}")
        self.members = members
        self.weights = [w / sum(weights) for w in weights]
        self.member_configs = member_configs  # how each member is trained (not saved)
        self.n_users, self.n_items = shapes.pop()

    @classmethod
    def members_of(cls, config: TrainConfig) -> list[TrainConfig]:
        """An average's members as configs. A member takes what it names, else any setting
        of the average itself (e.g. `epochs`, or an option its kind takes), else its own
        model's defaults; its seed is the run's seed plus its position unless it names one."""
        options = cast(AverageOptions, cls.parse_options(config.options))
        default = TrainConfig()
        shared = {
            f.name: getattr(config, f.name)
            for f in fields(config)
            if f.name not in NOT_SHARED and getattr(config, f.name) != getattr(default, f.name)
        }
        extra = options.model_extra or {}
        configs = []
        for k, member in enumerate(options.members or DEFAULT_MEMBERS):
            # the member's own options (top level or under "options") over the average's
            named = {key: value for key, value in member.items() if key != "options"}
            own = {**get_kind(member["model"]).own_options(extra), **member.get("options", {})}
            configs.append(
                TrainConfig(**shared).merged(**{"seed": config.seed + k, **own, **named})
            )
        unused = sorted(set(extra) - {key for c in configs for key in c.options})
        if unused:
            raise ModelError(
                f"average model option(s) {', '.join(unused)}: no member's kind takes them "
                f"(its options: members, weights, and its members' own)"
            )
        return configs

    @classmethod
    def build(cls, config: TrainConfig, data: Ratings) -> AverageKind:
        # each member's unset settings picked from the data as `train` alone would pick them
        configs = [resolve(data_defaults(m, data)[0]) for m in cls.members_of(config)]
        members = []
        for member in configs:
            torch.manual_seed(member.seed)  # each member starts as `train` alone would start it
            members.append(get_kind(member.model).build(member, data))
        weights = cast(AverageOptions, cls.parse_options(config.options)).weights
        return cls(members, weights, configs)

    def fit_epochs(self, data: Ratings, config: TrainConfig, loop: Epochs) -> None:
        """Each member in turn with its own config, engine and loop (`OwnTrainer`); under
        `keep="best"` a member's best validated copy replaces it."""
        if self.member_configs is None:
            raise ModelError("an average trains its members when train() built it")
        n = len(self.members)
        for k, (member, member_config) in enumerate(zip(self.members, self.member_configs)):
            label = f"member {k + 1}/{n}: {member.name}"
            self.members[k] = loop.member(member, member_config, label)

    def config(self) -> dict[str, Any]:
        return {
            "members": [{"model": m.name, "config": m.config()} for m in self.members],
            "weights": self.weights,
        }

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            f"members.{k}.{key}": value
            for k, member in enumerate(self.members)
            for key, value in member.arrays().items()
        }

    @classmethod
    def from_state(
        cls, n_users: int, n_items: int, config: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> AverageKind:
        members = []
        for k, member in enumerate(config["members"]):
            prefix = f"members.{k}."
            own = {key[len(prefix) :]: v for key, v in arrays.items() if key.startswith(prefix)}
            kind = get_kind(member["model"])
            members.append(kind.from_state(n_users, n_items, member["config"], own))
        return cls(members, config["weights"])

    def _mix(self, parts: list[np.ndarray]) -> np.ndarray:
        total = self.weights[0] * parts[0]
        for weight, part in zip(self.weights[1:], parts[1:]):
            total = total + weight * part
        return total.astype(np.float32, copy=False)

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._mix([m.predict(users, items) for m in self.members])

    def score_items(self, users: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        mixed = self._mix([m.score_items(users) for m in self.members])
        if out is None:
            return mixed
        out[...] = mixed
        return out

    def fold_in(self, items: np.ndarray, ratings: np.ndarray, reg: float | None = None) -> Any:
        return [m.fold_in(items, ratings, reg) for m in self.members]

    def score_folded(self, folded: Any) -> np.ndarray:
        return self._mix([m.score_folded(f) for m, f in zip(self.members, folded)])

    def factors(self, side: Side) -> np.ndarray | None:
        """Each member's factors, row-normalised and scaled by sqrt(weight), side by side: the
        cosine similarity of two joined rows is the weighted mean of the members' cosines."""
        blocks = []
        for weight, member in zip(self.weights, self.members):
            rows = member.factors(side)
            if rows is None:
                return None
            norms = np.linalg.norm(rows, axis=1, keepdims=True)
            blocks.append(rows / np.where(norms == 0, 1.0, norms) * np.sqrt(weight))
        return np.concatenate(blocks, axis=1)

    def biases(self, side: Side) -> np.ndarray | None:
        parts = [m.biases(side) for m in self.members]
        if any(p is None for p in parts):
            return None
        return self._mix([p for p in parts if p is not None])
