"""`ease`: Steck's "Embarrassingly Shallow Autoencoder" (WWW 2019), a closed-form item-item
ranking model, at its best the strongest top-N model on MovieLens.

    B = argmin ||X - X B||^2 + l2 ||B||^2  subject to diag(B) = 0
      = I - P / diag(P),  P = (X^T X + l2 I)^-1

X is the users x items interaction matrix (`embedrec.data.Interactions`: which items a user
rated, or only ratings of at least `min_rating`, weighted 1 or by the rating); a user's scores
are their row of X times B. A new user folds in for free: their rated set times B. It ranks
items and predicts no ratings. Its cost is the items x items inverse: past `max_gb` of memory
it refuses with the catalogue size, rather than crash or swap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from embedrec import lazy
from embedrec.config import TrainConfig
from embedrec.data.interactions import InteractionRule, Interactions
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError, TooLargeError
from embedrec.models.base import ClosedFormModel, NoOptions, Side
from embedrec.models.registry import register

if TYPE_CHECKING:
    import torch

    from embedrec.models import gram as gram_kernel
else:  # the solve needs torch and numba (the gram), scoring neither: a served model loads none
    torch = lazy.module("torch")
    gram_kernel = lazy.module("embedrec.models.gram")

# The peak is two float64 items x items arrays while G is factored and inverted: 16.4 bytes
# per cell at 9,000 items, 18.6 at 3,000 (peak RSS, benchmarks/ease_memory.py).
BYTES_PER_CELL = 20


class EaseOptions(NoOptions):
    l2: float = Field(500.0, gt=0, description="ridge strength lambda")
    min_rating: float | None = Field(None, description="count only ratings of at least this")
    weighting: Literal["binary", "rating"] = Field("binary", description="weight of a count")
    max_gb: float = Field(4.0, gt=0, description="refuse catalogues whose solve needs more")


@register
class EaseKind(ClosedFormModel):
    name = "ease"
    summary = "EASE item-item ranking model (Steck 2019), closed form; ranks, predicts no ratings"
    Options: ClassVar[type[NoOptions]] = EaseOptions
    predicts_ratings: ClassVar[bool] = False

    def __init__(self, n_users: int, n_items: int, options: EaseOptions):
        self.n_users, self.n_items, self.options = n_users, n_items, options
        self.weights = np.zeros((n_items, n_items), dtype=np.float32)  # B
        self.seen = Interactions(
            np.zeros(n_users + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32),
            n_users, n_items,
        )  # fmt: skip

    @property
    def rule(self) -> InteractionRule:
        return InteractionRule(self.options.min_rating, self.options.weighting)

    @classmethod
    def build(cls, config: TrainConfig, data: Ratings) -> EaseKind:
        options = EaseOptions(**config.options)
        need = data.n_items**2 * BYTES_PER_CELL / 2**30
        if need > options.max_gb:
            raise TooLargeError(
                f"ease solves an items x items system: {data.n_items:,} items need about "
                f"{need:.1f} GB, over its limit of {options.max_gb:g} GB (--option max_gb=...); "
                "for a catalogue this size use --model ials"
            )
        return cls(data.n_users, data.n_items, options)

    def solve(self, data: Ratings, config: TrainConfig) -> float | None:
        self.seen = Interactions.from_ratings(data, self.rule)
        gram = torch.from_numpy(gram_kernel.dense_gram(self.seen))
        gram.diagonal().add_(self.options.l2)
        # Factor into gram's own buffer (torch works in a column-major temporary and copies
        # back), then invert from the factor: the peak is two items x items float64 arrays.
        # LAPACK's inverse from a factor (potri) on one thread: on two it stalled 5.5x when the
        # CPU was busy, and one thread still beat two triangular products
        # (benchmarks/ease_solve.py).
        info = torch.linalg.cholesky_ex(gram, out=(gram, torch.empty((), dtype=torch.int32)))[1]
        if int(info):  # (the factor is in gram: no second name may keep it alive)
            raise ModelError(f"ease: l2 {self.options.l2:g} is too small to solve; raise it")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            precision = torch.cholesky_inverse(gram)
        finally:
            torch.set_num_threads(threads)
        del gram
        precision.div_(-precision.diagonal().clone()[None, :])  # in place: no third array
        precision.diagonal().zero_()
        self.weights = np.ascontiguousarray(precision.float().numpy())  # rows for scoring
        return None

    def config(self) -> dict[str, Any]:
        return self.options.model_dump()

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "weights": self.weights,
            "seen.indptr": self.seen.indptr,
            "seen.items": self.seen.items,
            "seen.weights": self.seen.weights,
        }

    @classmethod
    def from_state(
        cls, n_users: int, n_items: int, config: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> EaseKind:
        model = cls(n_users, n_items, EaseOptions(**config))
        try:
            model.weights = arrays["weights"]
            model.seen = Interactions(
                arrays["seen.indptr"], arrays["seen.items"], arrays["seen.weights"],
                n_users, n_items,
            )  # fmt: skip
        except KeyError as exc:
            raise ModelError(f"an ease model's weights lack {exc}") from None
        if model.weights.shape != (n_items, n_items) or len(model.seen.indptr) != n_users + 1:
            raise ModelError("the ease weights do not fit the numbers of users and items")
        return model

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        scores = np.empty(len(users), dtype=np.float32)
        for start in range(0, len(users), 4096):
            u, i = users[start : start + 4096], items[start : start + 4096]
            rows = self.seen.rows(u)
            scores[start : start + 4096] = np.einsum("ij,ji->i", rows, self.weights[:, i])
        return scores

    def score_items(self, users: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.matmul(self.seen.rows(users), self.weights, out=out)

    def fold_in(self, items: np.ndarray, ratings: np.ndarray, reg: float | None = None) -> Any:
        row = np.zeros(self.n_items, dtype=np.float32)
        row[items] = self.rule.weigh(ratings)
        return row

    def score_folded(self, folded: Any) -> np.ndarray:
        return np.asarray(folded, dtype=np.float32) @ self.weights

    def similarity(self, side: Side, index: int) -> np.ndarray:
        """How strongly each item and `index` predict each other (both directions of B)."""
        if side != "item":
            raise ModelError("an ease model compares items only")
        return (self.weights[index] + self.weights[:, index]).astype(np.float64)

    @classmethod
    def search_space(cls, trial: Any, base: TrainConfig) -> dict[str, Any]:
        return {"options": {**base.options, "l2": trial.suggest_float("l2", 10, 5000, log=True)}}
