"""`ials`: implicit alternating least squares (Hu, Koren & Volinsky 2008) in the form Rendle et
al. (2021, "Revisiting the performance of iALS on item recommendation benchmarks") tune it: a
small weight `alpha0` on every unobserved user-item pair, weight `1 + alpha * w` on the observed
ones (w: 1, or the rating, see `embedrec.data.Interactions`), and a regularization that grows
with how often a user or item appears: reg * (count + alpha0 * other_side_size) ** nu.

Trained by its own trainer, `als` (alternating conjugate-gradient half-steps over users and
items, kernels in numba: `embedrec.training.als_kernels`), on the `own` engine; it scores by a
dot product, so it serves catalogues of any size. A new user is one least-squares
solve against the fixed item factors. It ranks items and predicts no ratings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from embedrec import lazy
from embedrec.config import TrainConfig
from embedrec.data.interactions import InteractionRule, Interactions
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models.base import Model, NoOptions, Side
from embedrec.models.registry import register

if TYPE_CHECKING:
    import numba

    from embedrec.models.capabilities import Epochs
    from embedrec.training import als_kernels
else:  # training needs numba, scoring does not: a served model loads none
    numba = lazy.module("numba")
    als_kernels = lazy.module("embedrec.training.als_kernels")


class IALSOptions(NoOptions):
    # reg and alpha0: the best of a grid on validation carved from the ML-100k training sides
    # (benchmarks/ranking_defaults.py)
    reg: float = Field(0.01, ge=0, description="regularization, scaled by frequency")
    alpha0: float = Field(1.0, gt=0, description="weight of every unobserved user-item pair")
    alpha: float = Field(0.0, ge=0, description="observed weight is 1 + alpha * w")
    nu: float = Field(1.0, ge=0, description="exponent of the frequency scaling")
    cg_steps: int = Field(3, ge=1, le=64, description="conjugate gradient steps per sweep")
    init_std: float = Field(0.1, gt=0, description="initial factor scale (divided by sqrt k)")
    min_rating: float | None = Field(None, description="count only ratings of at least this")
    weighting: Literal["binary", "rating", "log"] = Field(
        "binary", description="w: 1, the rating, or log(1 + count)"
    )


# On interactions with counts (plays, purchases), unless set: confidence 1 + alpha * log(1 + count)
# as Hu et al. (2008) weigh plays. alpha 3: the best NDCG@10 of 1, 3, 10, 30 on Last.fm's
# random:0.1:7 split (`embedrec benchmark --ranking --protocol random:0.1:7 --data
# .../user_artists.dat --models ials --option alpha=A`); one data set's choice until alpha is
# chosen on validation carved from the user's training data.
COUNT_OPTIONS: dict[str, Any] = {"weighting": "log", "alpha": 3.0}
# the options whose values can make the factors overflow (named when training diverges)
DIVERGING = ("init_std", "alpha", "alpha0", "reg")


@register
class IALSKind(Model):
    name = "ials"
    summary = "implicit ALS ranking model (Rendle et al. 2021), conjugate gradient; any size"
    engines: ClassVar[tuple[str, ...]] = ("own",)
    trainer = "als"
    kernels: tuple[str, ...] = ("embedrec.training.als_kernels",)
    defaults: ClassVar[dict[str, Any]] = {"n_factors": 64, "epochs": 16}
    Options: ClassVar[type[NoOptions]] = IALSOptions
    predicts_ratings: ClassVar[bool] = False

    def __init__(
        self, user_factors: np.ndarray, item_factors: np.ndarray, options: IALSOptions
    ) -> None:
        self.user_factors = np.ascontiguousarray(user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)
        self.options = options
        self.n_users, self.n_items = len(self.user_factors), len(self.item_factors)

    @property
    def rule(self) -> InteractionRule:
        return InteractionRule(self.options.min_rating, self.options.weighting)

    @classmethod
    def defaults_for(
        cls, data: Ratings, config: TrainConfig | None = None
    ) -> tuple[dict[str, Any], str | None]:
        """On interactions whose weights differ (counts of plays or purchases): a count's
        confidence grows with its log (`COUNT_OPTIONS`); else the fixed defaults."""
        low, high = data.observed_range
        if not data.interactions or low == high:
            return cls.defaults, None
        shown = ", ".join(f"{k}={v}" for k, v in COUNT_OPTIONS.items())
        return {**cls.defaults, "options": COUNT_OPTIONS}, (
            f"ials on counts ({low:g} to {high:g}): an observed item weighs "
            f"1 + alpha * log(1 + count) ({shown}; --option weighting=binary counts each once)"
        )

    @classmethod
    def build(cls, config: TrainConfig, data: Ratings) -> IALSKind:
        options = IALSOptions(**config.options)
        k = config.n_factors or cls.defaults["n_factors"]
        rng = np.random.default_rng(config.seed)
        scale = options.init_std / np.sqrt(k)
        return cls(
            rng.normal(0, scale, (data.n_users, k)),
            rng.normal(0, scale, (data.n_items, k)),
            options,
        )

    def config(self) -> dict[str, Any]:
        return {"n_factors": int(self.user_factors.shape[1]), **self.options.model_dump()}

    def arrays(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    @classmethod
    def from_state(
        cls, n_users: int, n_items: int, config: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> IALSKind:
        options = {k: v for k, v in config.items() if k != "n_factors"}
        try:
            model = cls(arrays["user_factors"], arrays["item_factors"], IALSOptions(**options))
        except KeyError as exc:
            raise ModelError(f"an ials model's weights lack {exc}") from None
        if (model.n_users, model.n_items) != (n_users, n_items):
            raise ModelError("the ials factors do not fit the numbers of users and items")
        return model

    def divergence_hint(self) -> str:
        """ials takes no learning rate: the settings that can blow its factors up are its own
        (a large initial scale or confidence, a tiny regularization); the ones given first."""
        fields = IALSOptions.model_fields
        given = [
            f"{name}={value:g} (default {fields[name].default:g})"
            for name, value in self.options.model_dump().items()
            if name in DIVERGING and value != fields[name].default
        ]
        cause = f"the --option values given: {', '.join(given)}; " if given else ""
        return (
            f"{cause}ials has no --lr or --wd: try a smaller --option init_std, alpha or "
            "alpha0, or a larger --option reg"
        )

    def fit_epochs(self, data: Ratings, config: TrainConfig, loop: Epochs) -> None:
        """Each epoch two conjugate-gradient half-steps, users given items then items given
        users, in place; validated by its NDCG (`OwnTrainer`)."""
        assert config.epochs is not None
        o = self.options
        seen = Interactions.from_ratings(data, self.rule)
        confidence = (1.0 + o.alpha * seen.weights).astype(np.float32)
        by_item = als_kernels.transpose_csr(seen.indptr, seen.items, confidence, self.n_items)
        item_indptr, item_users, item_confidence = by_item
        user_regs = self.regularization(np.diff(seen.indptr), self.n_items).astype(np.float32)
        item_regs = self.regularization(np.diff(item_indptr), self.n_users).astype(np.float32)
        users, items = self.user_factors, self.item_factors
        before = numba.get_num_threads()
        if config.threads is not None:
            numba.set_num_threads(config.threads)

        def one_epoch(epoch: int) -> tuple[float, IALSKind]:
            gram = (items.T @ items).astype(np.float32)
            loss = als_kernels.cg_half_step(
                users, items, gram, seen.indptr, seen.items, confidence,
                o.alpha0, user_regs, o.cg_steps,
            )  # fmt: skip
            loop.advance(1)
            gram = (users.T @ users).astype(np.float32)
            als_kernels.cg_half_step(
                items, users, gram, item_indptr, item_users, item_confidence,
                o.alpha0, item_regs, o.cg_steps,
            )  # fmt: skip
            loop.advance(1)
            return float(loss) / max(seen.nnz, 1), self

        try:
            loop.run(config.epochs, 2, one_epoch)
        finally:
            numba.set_num_threads(before)

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", self.user_factors[users], self.item_factors[items])

    def score_items(self, users: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.matmul(self.user_factors[users], self.item_factors.T, out=out)

    def regularization(self, count: np.ndarray | float, other_side: int) -> np.ndarray:
        """Rendle's frequency-scaled regularization of rows seen `count` times."""
        o = self.options
        return np.asarray(o.reg * (np.asarray(count) + o.alpha0 * other_side) ** o.nu)

    def fold_in(self, items: np.ndarray, ratings: np.ndarray, reg: float | None = None) -> Any:
        """The exact least-squares user vector against the fixed item factors."""
        o = self.options
        weights = self.rule.weigh(ratings)
        keep = weights > 0
        h = self.item_factors[items[keep]].astype(np.float64)
        confidence = 1.0 + o.alpha * weights[keep].astype(np.float64)
        strength = float(self.regularization(keep.sum(), self.n_items)) if reg is None else reg
        gram = self.item_factors.T.astype(np.float64) @ self.item_factors
        a = o.alpha0 * gram + (h * (confidence - o.alpha0)[:, None]).T @ h
        a += strength * np.eye(len(a))
        return np.linalg.solve(a, h.T @ confidence).astype(np.float32)

    def score_folded(self, folded: Any) -> np.ndarray:
        return self.item_factors @ np.asarray(folded, dtype=np.float32)

    def factors(self, side: Side) -> np.ndarray:
        return self.user_factors if side == "user" else self.item_factors

    @classmethod
    def search_space(cls, trial: Any, base: TrainConfig) -> dict[str, Any]:
        options = {
            **base.options,
            "reg": trial.suggest_float("reg", 1e-4, 0.1, log=True),
            "alpha0": trial.suggest_float("alpha0", 1e-3, 1.0, log=True),
        }
        return {"n_factors": trial.suggest_int("n_factors", 16, 256, log=True), "options": options}
