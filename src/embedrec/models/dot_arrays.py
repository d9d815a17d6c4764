"""The dot-product kinds (dot, dot-bias, bmf's posterior mean) as the numpy arrays they are once
trained: how a served model scores without torch (`Recommender.load(path, arrays_only=True)`), and
the fold-in of a new user that the torch kinds share.

The arrays are the torch module's state under its own names (`user_factors.weight`, ...), so
the same model directory loads either way and scores the same (tests/test_served_arrays.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models.base import Model, Side

# Fold-in strength, chosen on 100 users held out of ML-100k entirely (80% of each one's ratings
# folded in, 20% predicted; `benchmarks/foldin.py`), never on a test fold: 5 is the best of 0.3-20
# for dot-bias (0.882; 0.902 at 1, 0.896 at 20) and for bmf's posterior mean (0.877).
FOLD_IN_REG = 5.0
BATCH_PAIRS = 65_536  # pairs scored at once by predict, as the torch kinds do
BATCH_USERS = 1024  # users scored at once: bounds the temporaries beside the (users x items) block


def squashed(raw: np.ndarray, y_range: tuple[float, float] | None) -> np.ndarray:
    """`sigmoid_range` of raw scores (in place, float32), or the scores where there is none."""
    if y_range is None:
        return raw
    low, high = y_range
    np.negative(raw, out=raw)
    np.exp(raw, out=raw)
    raw += 1.0
    np.reciprocal(raw, out=raw)
    raw *= high - low
    raw += low
    return raw


def inverse_sigmoid_range(y: np.ndarray, low: float, high: float) -> np.ndarray:
    p = np.clip((y - low) / (high - low), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def ridge_fit(
    x: np.ndarray,
    offset: np.ndarray,
    y: np.ndarray,
    y_range: tuple[float, ...] | None,
    reg: float,
    refine_steps: int,
    dual: bool | None = None,
) -> np.ndarray:
    """argmin_w |y - f(x w + offset)|^2 + reg |w|^2, f the model's `sigmoid_range` (solved
    linearly on the inverse-squashed ratings, then refined by Gauss-Newton steps) or identity;
    float64 throughout.

    With fewer ratings than columns (a new user's 20 ratings against bmf's 1,100-wide posterior
    mean) every system is solved in its n x n dual form: (X'MX + reg I)^-1 X' b equals
    X' (M X X' + reg I)^-1 b, so w = X' a stays in the span of the rated items' rows and the
    answer is the same, from a 20 x 20 solve instead of a 1,100 x 1,100 one (`dual`: None picks
    by shape)."""
    n, d = x.shape
    dual = n < d if dual is None else dual
    gram = x @ x.T if dual else x.T @ x
    eye = np.eye(n if dual else d)
    target = y if y_range is None else inverse_sigmoid_range(y, y_range[0], y_range[1])
    if dual:
        a = np.linalg.solve(gram + reg * eye, target - offset)
        w = x.T @ a
    else:
        w = np.linalg.solve(gram + reg * eye, x.T @ (target - offset))
    if y_range is None:
        return w
    low, high = y_range[0], y_range[1]
    for _ in range(refine_steps):
        s = 1.0 / (1.0 + np.exp(-(x @ w + offset)))
        residual = y - (low + (high - low) * s)
        slope = (high - low) * s * (1 - s)  # d prediction / d (x w), per rating
        if dual:  # J = diag(slope) X; the step's right side is X' (slope residual - reg a)
            a = a + np.linalg.solve(
                (slope**2)[:, None] * gram + reg * eye, slope * residual - reg * a
            )
            w = x.T @ a
        else:
            jacobian = x * slope[:, None]
            w = w + np.linalg.solve(
                jacobian.T @ jacobian + reg * eye, jacobian.T @ residual - reg * w
            )
    return w


def fold_in_rows(
    item_factors: np.ndarray,
    item_bias: np.ndarray | None,
    items: np.ndarray,
    ratings: np.ndarray,
    y_range: tuple[float, ...] | None,
    reg: float = FOLD_IN_REG,
    refine_steps: int = 5,
) -> tuple[np.ndarray, np.float32 | None]:
    """The ridge-optimal user vector (and bias, where the items have biases) for `ratings` of
    `items`, float32."""
    factors = np.asarray(item_factors[items], dtype=np.float64)
    if item_bias is None:
        x, offset = factors, np.zeros(len(items))
    else:
        x = np.hstack([factors, np.ones((len(items), 1))])
        offset = np.asarray(item_bias[items], dtype=np.float64)
    y = np.asarray(ratings, dtype=np.float64)
    w = ridge_fit(x, offset, y, y_range, reg, refine_steps).astype(np.float32)
    return (w[:-1], w[-1]) if item_bias is not None else (w, None)


class DotArrays(Model):
    """`dot` as arrays: rating ~ user . item, squashed into `y_range` where the model has one."""

    name = "dot"
    summary = "dot product of user and item factors, as arrays (scoring only)"
    engines: ClassVar[tuple[str, ...]] = ()
    has_bias: ClassVar[bool] = False

    def __init__(
        self,
        user_factors: np.ndarray,
        item_factors: np.ndarray,
        user_bias: np.ndarray | None,
        item_bias: np.ndarray | None,
        y_range: tuple[float, float] | None,
    ):
        self.user_factors, self.item_factors = user_factors, item_factors
        self.user_bias, self.item_bias = user_bias, item_bias
        self.y_range = y_range
        self.n_users, self.n_items = len(user_factors), len(item_factors)

    @classmethod
    def build(cls, config: TrainConfig, data: Ratings) -> Model:
        raise ModelError(f"a {cls.name} model held as arrays scores only; train the kind itself")

    def config(self) -> dict[str, Any]:
        return {"n_factors": self.user_factors.shape[1], "y_range": self.y_range}

    def arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            "user_factors.weight": self.user_factors,
            "item_factors.weight": self.item_factors,
        }
        if self.user_bias is not None and self.item_bias is not None:
            arrays["user_bias.weight"] = self.user_bias[:, None]
            arrays["item_bias.weight"] = self.item_bias[:, None]
        return arrays

    @classmethod
    def from_state(
        cls, n_users: int, n_items: int, config: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> Model:
        """The arrays as saved (memory-mapped where the reader maps them: no copy)."""
        unknown = sorted(set(config) - {"n_factors", "y_range"})  # what the torch kind takes
        if unknown:
            raise ModelError(
                f"model_config holds settings a {cls.name} model does not take: "
                f"{', '.join(map(str, unknown))}"
            )
        y_range = config.get("y_range")
        y_range = None if y_range is None else (float(y_range[0]), float(y_range[1]))
        k = config.get("n_factors")
        shapes = {"user_factors.weight": (n_users, k), "item_factors.weight": (n_items, k)}
        if cls.has_bias:
            shapes.update({"user_bias.weight": (n_users, 1), "item_bias.weight": (n_items, 1)})
        for key, shape in shapes.items():
            if key not in arrays or arrays[key].shape != shape or arrays[key].dtype != np.float32:
                found = arrays[key].shape if key in arrays else "missing"
                raise ModelError(
                    f"the weights do not fit the {cls.name} config ({key}: {found}, expected "
                    f"{shape} float32)"
                )
        if set(arrays) != set(shapes):
            raise ModelError(
                f"the weights do not fit the {cls.name} config (unexpected: "
                f"{', '.join(sorted(set(arrays) - set(shapes)))})"
            )
        bias = {k: arrays[k][:, 0] for k in ("user_bias.weight", "item_bias.weight") if k in arrays}
        return cls(
            arrays["user_factors.weight"],
            arrays["item_factors.weight"],
            bias.get("user_bias.weight"),
            bias.get("item_bias.weight"),
            y_range,
        )

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raw = np.empty(len(users), dtype=np.float32)
        for start in range(0, len(users), BATCH_PAIRS):  # gathered rows: bounded, not N wide
            u, i = users[start : start + BATCH_PAIRS], items[start : start + BATCH_PAIRS]
            part = np.einsum("ij,ij->i", self.user_factors[u], self.item_factors[i])
            if self.user_bias is not None and self.item_bias is not None:
                part += self.user_bias[u] + self.item_bias[i]
            raw[start : start + len(u)] = part
        return squashed(raw, self.y_range)

    def score_items(self, users: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            out = np.empty((len(users), self.n_items), dtype=np.float32)
        for start in range(0, len(users), BATCH_USERS):
            chunk = users[start : start + BATCH_USERS]
            bias = None if self.user_bias is None else self.user_bias[chunk]
            self._score(self.user_factors[chunk], bias, out[start : start + len(chunk)])
        return out

    def _score(self, vectors: np.ndarray, biases: np.ndarray | None, out: np.ndarray) -> None:
        np.matmul(vectors, self.item_factors.T, out=out)
        if self.item_bias is not None:
            out += self.item_bias[None, :]
        if biases is not None:
            out += biases[:, None]
        squashed(out, self.y_range)

    def fold_in(
        self, items: np.ndarray, ratings: np.ndarray, reg: float | None = None
    ) -> tuple[np.ndarray, np.float32 | None]:
        return fold_in_rows(
            self.item_factors,
            self.item_bias,
            np.asarray(items, dtype=np.int64),
            ratings,
            self.y_range,
            reg=FOLD_IN_REG if reg is None else reg,
        )

    def score_folded(self, folded: tuple[np.ndarray, np.float32 | None]) -> np.ndarray:
        vector, bias = folded
        out = np.empty((1, self.n_items), dtype=np.float32)
        self._score(vector[None], None if bias is None else np.array([bias]), out)
        return out[0]

    def factors(self, side: Side) -> np.ndarray:
        return self.user_factors if side == "user" else self.item_factors

    def biases(self, side: Side) -> np.ndarray | None:
        return self.user_bias if side == "user" else self.item_bias


class DotBiasArrays(DotArrays):
    """`dot-bias` as arrays: the dot product plus a bias per user and per item."""

    name = "dot-bias"
    summary = "dot product plus user and item biases, as arrays (scoring only)"
    has_bias = True


class BmfArrays(DotBiasArrays):
    """`bmf`'s posterior mean as arrays: a dot-bias model."""

    name = "bmf"
    summary = "Bayesian MF's posterior mean, as arrays (scoring only)"
