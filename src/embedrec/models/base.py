"""The protocol every model kind follows, so that training, the `Recommender`, files, tuning and
the CLI treat all kinds alike and adding a kind is one file.

A model kind (think of implicit's `MatrixFactorizationBase` or a scikit-learn estimator) says
- which `TrainConfig` fields it reads and its own defaults for them (`defaults`);
- which engines can train it, preferred first (`engines`; `embedrec.training` dispatches);
- how to build a fresh model from a config and the training ratings (`build`);
- how it scores: pairs (`predict`), every item for a batch of users (`score_items`), and a new
  user folded in from a few ratings without retraining (`fold_in` then `score_folded`);
- what it has learned, where that exists: factors, biases, neighbours by similarity;
- its tuning search space (`search_space`) and its validation metric (`validation_metric`);
- for torch kinds (`torch_model.TorchModel`), its objective: the batches and the loss the
  engine trains on (`objective`);
- its state, as JSON-able structure and named arrays (`config`, `arrays`, `from_state`).

Scores are numpy arrays of float32; indices are the encoded ids of `embedrec.data.IdMap`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError

if TYPE_CHECKING:
    from embedrec.models.capabilities import Epochs

Side = Literal["user", "item"]


@dataclass(frozen=True)
class ValidationMetric:
    """What validation scores a kind by (each epoch, `keep="best"`, `patience`, `tune`): a
    name as the metrics dicts of `embedrec.evaluation` spell it, and which way is better."""

    name: str  # "rmse", "ndcg@10"
    higher_is_better: bool = False
    k: int | None = None  # the list length of a ranking metric

    @property
    def label(self) -> str:
        """The epoch table's column and a trial's field: `valid_rmse`, `valid_ndcg@10`."""
        return f"valid_{self.name}"

    def better(self, value: float, than: float) -> bool:
        return value > than if self.higher_is_better else value < than


RMSE = ValidationMetric("rmse")
NDCG_AT_10 = ValidationMetric("ndcg@10", higher_is_better=True, k=10)


# what to change when a kind trained by gradient steps diverges (`Model.divergence_hint`)
LR_HINT = "try a lower learning rate (--lr) or more weight decay (--wd)"


class NoOptions(BaseModel):
    """A kind's own hyper-parameters, beyond `TrainConfig`'s shared fields: a pydantic model
    with a default, a range and a description per field (kinds subclass it as `Options`)."""

    # inf and NaN are no setting (l2=1e999 is inf): refused here, for every kind's options
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Model(ABC):
    """One model kind. Subclasses set the class attributes and implement the abstract methods;
    `embedrec.models.register` makes the kind known by its `name`."""

    name: ClassVar[str]
    summary: ClassVar[str]  # one line for `--help` and error messages
    engines: ClassVar[tuple[str, ...]]  # engines that train it, preferred first
    losses: ClassVar[tuple[str, ...]] = ("mse",)  # the training losses it takes
    defaults: ClassVar[dict[str, Any]] = {}  # this kind's values for unset config fields
    # the defaults that depend on the data (`defaults_for`, `build`), in words for `--help`
    adapts: ClassVar[dict[str, str]] = {}
    Options: ClassVar[type[NoOptions]] = NoOptions  # its own hyper-parameters
    predicts_ratings: ClassVar[bool] = True  # False: scores only order items (a ranking model)
    by_name: ClassVar[bool] = True  # False: not built from its name (train(model=...) only)

    n_users: int
    n_items: int

    @classmethod
    def validation_metric(cls) -> ValidationMetric:
        """What validation scores this kind by: RMSE for a rating model, NDCG@10 over the full
        ranking of unseen items for a ranking model."""
        return RMSE if cls.predicts_ratings else NDCG_AT_10

    def refusal(self, engine: str) -> str | None:
        """Why this model, as built, is not trained by `engine` even when asked for by name
        (an engine known to land far from the others on it); None where it may be."""
        return None

    def preferred_engines(self) -> tuple[str, ...]:
        """The engines `engine="auto"` tries for this model, in order; a kind whose engines
        agree only on some settings (see `dot`) orders them by what it was built with."""
        return self.engines

    @classmethod
    def parse_options(cls, options: dict[str, Any]) -> NoOptions:
        """This kind's options from a config, validated: one clear error per bad value."""
        try:
            return cls.Options(**options)
        except ValidationError as exc:
            problems = "; ".join(
                f"{cls.option_label([str(part) for part in error['loc']])}: {error['msg']}"
                for error in exc.errors()
            )
            known = ", ".join(cls.Options.model_fields) or "none"
            raise ModelError(f"{cls.name} model option {problems} (its options: {known})") from None

    @classmethod
    def own_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        """The options among `options` this kind declares (the rest are other kinds': the
        members of an average, the candidates of the default's choice)."""
        return {k: v for k, v in options.items() if k in cls.Options.model_fields}

    @classmethod
    def option_label(cls, loc: list[str]) -> str:
        """An option as an error names it: with its CLI flag where the option declares one
        (`dropout (--dropout)`, from its Field's `json_schema_extra={"flag": ...}`)."""
        if not loc:
            return "options"
        field = cls.Options.model_fields.get(loc[0])
        extra = field.json_schema_extra if field is not None else None
        flag = extra.get("flag") if isinstance(extra, dict) else None
        return ".".join(loc) + (f" ({flag})" if flag else "")

    def divergence_hint(self) -> str:
        """What to change when this kind's training loss stops being a number: for the kinds
        trained by gradient steps, the step and its brake."""
        return LR_HINT

    @classmethod
    def options_help(cls) -> str:
        """`name=default` for each of the kind's options, for `--help`."""
        return ", ".join(f"{k}={f.default}" for k, f in cls.Options.model_fields.items())

    @classmethod
    def defaults_for(
        cls, data: Ratings, config: TrainConfig | None = None
    ) -> tuple[dict[str, Any], str | None]:
        """This kind's defaults for unset config fields (and, under "options", unset options)
        chosen from the training data's size and density, with a line saying what was picked
        and why; the fixed `defaults` and no line unless the kind adapts."""
        return cls.defaults, None

    @classmethod
    @abstractmethod
    def build(cls, config: TrainConfig, data: Ratings) -> Model:
        """A fresh, untrained model for `data`'s users and items, shaped by `config`."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The model's structure as JSON (what `from_state` needs besides the arrays)."""

    @abstractmethod
    def arrays(self) -> dict[str, np.ndarray]:
        """The learned state as named arrays (saved in safetensors)."""

    @classmethod
    @abstractmethod
    def from_state(
        cls, n_users: int, n_items: int, config: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> Model:
        """The model `config()` and `arrays()` describe; ModelError where they disagree."""

    def restored(self, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Model:
        """A model of this kind and size holding an earlier state (`keep="best"`)."""
        return type(self).from_state(self.n_users, self.n_items, config, arrays)

    @abstractmethod
    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Scores of (user, item) index pairs, unclipped."""

    @abstractmethod
    def score_items(self, users: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Scores of every item for each user index: shape (len(users), n_items), float32,
        written into `out` when given (a buffer reused across batches saves the page faults
        of a fresh block each time)."""

    @abstractmethod
    def fold_in(self, items: np.ndarray, ratings: np.ndarray, reg: float | None = None) -> Any:
        """What the model makes of a new user from their ratings of `items`, without retraining
        (`reg=None`: the kind's default strength); scored by `score_folded`."""

    @abstractmethod
    def score_folded(self, folded: Any) -> np.ndarray:
        """Scores of every item for a user folded in by `fold_in`: shape (n_items,)."""

    def factors(self, side: Side) -> np.ndarray | None:
        """Learned factor rows of every user or item, where the kind has them."""
        return None

    def biases(self, side: Side) -> np.ndarray | None:
        """Learned bias of every user or item, where the kind has them (before the output's
        `sigmoid_range`, if it has one, so in rating units only for linear outputs)."""
        return None

    def missing_hint(self, role: str) -> str:
        """What to do where interpretation needs a table this model lacks (`role`:
        "item_factors", "user_bias", ...)."""
        kinds = "dot-bias or bmf" if role.endswith("bias") else "dot-bias, bmf or nn"
        return f"train {kinds} (model=..., --model)"

    def similarity(self, side: Side, index: int) -> np.ndarray:
        """Similarity of every user (item) to one of them: cosine of the learned factors."""
        rows = self.factors(side)
        if rows is None:
            raise ModelError(f"a {self.name} model has no {side} factors to compare")
        # in the rows' own precision (a float64 copy of bmf's 1,100-wide rows cost more than the
        # products); only the n-long result is widened
        norms = np.sqrt(np.einsum("ij,ij->i", rows, rows)).astype(np.float64)
        norms[norms == 0] = 1.0
        return (rows @ rows[index]).astype(np.float64) / (norms * norms[index])

    # ---- lists rank by the model's own scores, but for a rating model with a ranker beside it
    # (`models/ranked.py`), whose lists the ranker orders
    def ranker_parts(self) -> tuple[Model, Model | None, float]:
        """(the model that predicts, the ranking model beside it or None, the blend weight)."""
        return self, None, 0.0

    def ranking(
        self, users: np.ndarray, warm: np.ndarray, stars: np.ndarray, trained: np.ndarray
    ) -> np.ndarray:
        """What lists rank `users` by, given `stars`: this model's scores of every item for
        them as the Recommender serves them (clipped; the `warm` rows are users with training
        ratings; -inf for the items not `trained`). The stars themselves, for one model."""
        return stars

    def ranking_folded(self, folded: Any, stars: np.ndarray, trained: np.ndarray) -> np.ndarray:
        """`ranking` for a user folded in by `fold_in`: `stars` is their row as served."""
        return stars

    @classmethod
    def search_space(cls, trial: Any, base: TrainConfig) -> dict[str, Any]:
        """Config changes an optuna `trial` suggests for this kind (`embedrec tune`)."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.n_users:,} users, {self.n_items:,} items)"


def gradient_search_space(trial: Any) -> dict[str, Any]:
    """The settings every gradient-trained kind tunes: decay, rate and length."""
    return {
        "wd": trial.suggest_float("wd", 1e-3, 0.5, log=True),
        "lr": trial.suggest_float("lr", 1e-3, 3e-2, log=True),
        "epochs": trial.suggest_int("epochs", 3, 30),
    }


class ClosedFormModel(Model):
    """A kind fitted in one solve, without epochs (EASE, a closed-form ridge, a count): its
    own trainer, `direct`, calls `solve` as one epoch of the `own` engine."""

    engines: ClassVar[tuple[str, ...]] = ("own",)
    trainer = "direct"
    kernels: tuple[str, ...] = ()

    def fit_epochs(self, data: Ratings, config: TrainConfig, loop: Epochs) -> None:
        """One epoch: the solve, then validation (`OwnTrainer`)."""
        loop.run(1, 1, lambda epoch: (self.solve(data, config), self))

    @abstractmethod
    def solve(self, data: Ratings, config: TrainConfig) -> float | None:
        """Fit in place on the training ratings; returns the training loss, where it has one."""
