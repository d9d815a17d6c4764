"""A rating model with a ranking model beside it, held as one model: the default's shape (bmf
predicts the stars, EASE or iALS orders the lists), composed as `average` composes its members,
so the `Recommender` holds one model and scores every user one way.

Its predictions are the rating model's. Its lists rank by the ranker's scores, standardised per
user, plus `blend` times the rating model's standardised predictions (the scores of two kinds
share no units; per-user standardisation puts them on one scale). It is composed from its two
trained parts (`embedrec.learner` trains each with its own config), not trained by name; a model
directory keeps them as two models (`model`, `ranker`, `blend` in config.json).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.models.base import Model, Side
from embedrec.models.registry import get_kind


def standardise(scores: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Each row minus its mean over `columns`, divided by its spread there (1 where flat)."""
    part = scores[..., columns].astype(np.float64)
    mean = part.mean(axis=-1, keepdims=True)
    spread = part.std(axis=-1, keepdims=True)
    return (scores - mean) / np.where(spread > 0, spread, 1.0)


def blend_scores(
    ranking: np.ndarray, rating: np.ndarray | None, blend: float, trained: np.ndarray
) -> np.ndarray:
    """A ranker's scores, plus `blend` times predicted ratings when given (both standardised
    per user over the trained items); -inf for items never trained."""
    if blend and rating is not None:
        ranking = standardise(ranking, trained) + blend * standardise(rating, trained)
    ranking = ranking.astype(np.float32, copy=False)
    ranking[..., ~trained] = -np.inf
    return ranking


class Ranked(Model):
    """predict = the rating model's; lists rank by
    standardise(ranker) + blend * standardise(rating model's stars)."""

    name = "ranked"
    summary = "a rating model with a ranking model beside it (ranker=, blend=)"
    engines: ClassVar[tuple[str, ...]] = ()  # its parts are trained, each by its own engine
    by_name = False

    def __new__(cls, rating: Model, ranker: Model, blend: float = 0.0) -> Ranked:
        # predicting ratings is a class attribute of every kind: a ranking model with a ranker
        # beside it (`model="ials", ranker="ease"`) is of the subclass that predicts none
        if cls is Ranked and not rating.predicts_ratings:
            cls = RankedRanking
        return super().__new__(cls)

    def __init__(self, rating: Model, ranker: Model, blend: float = 0.0):
        if ranker.predicts_ratings:
            raise ModelError(f"ranker {ranker.name!r} is a rating model; name a ranking model")
        if (rating.n_users, rating.n_items) != (ranker.n_users, ranker.n_items):
            raise ModelError("a ranker must be trained on the rating model's users and items")
        self.rating = rating
        self.ranker = ranker
        self.blend = float(blend)
        self.n_users, self.n_items = rating.n_users, rating.n_items

    def __getnewargs__(self) -> tuple[Model, Model, float]:
        # what copy.deepcopy and pickle hand __new__, which needs the parts to pick the class
        return self.rating, self.ranker, self.blend

    @classmethod
    def build(cls, config: TrainConfig, data: Ratings) -> Ranked:
        raise ModelError(
            "a ranked model is composed of its trained parts (Ranked(rating, ranker, blend)); "
            "train one with model= and ranker="
        )

    # ---- its parts, as a model directory keeps them ------------------------------------------
    def ranker_parts(self) -> tuple[Model, Model | None, float]:
        return self.rating, self.ranker, self.blend

    def config(self) -> dict[str, Any]:
        return {
            "model": self.rating.name,
            "model_config": self.rating.config(),
            "ranker": self.ranker.name,
            "ranker_config": self.ranker.config(),
            "blend": self.blend,
        }

    def arrays(self) -> dict[str, np.ndarray]:
        parts = (("model", self.rating), ("ranker", self.ranker))
        return {f"{p}.{k}": v for p, part in parts for k, v in part.arrays().items()}

    @classmethod
    def from_state(
        cls, n_users: int, n_items: int, config: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> Ranked:
        parts = []
        for part in ("model", "ranker"):
            prefix = f"{part}."
            own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            kind = get_kind(config[part])
            parts.append(kind.from_state(n_users, n_items, config[f"{part}_config"], own))
        return cls(parts[0], parts[1], config["blend"])

    # ---- stars: the rating model's -------------------------------------------------------------
    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.rating.predict(users, items)

    def score_items(self, users: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return self.rating.score_items(users, out=out)

    def fold_in(self, items: np.ndarray, ratings: np.ndarray, reg: float | None = None) -> Any:
        # `reg` is the rating model's: each ranker folds in with its own strength
        return self.rating.fold_in(items, ratings, reg), self.ranker.fold_in(items, ratings)

    def score_folded(self, folded: Any) -> np.ndarray:
        return self.rating.score_folded(folded[0])

    # ---- lists: the ranker's, blended ----------------------------------------------------------
    def ranking(
        self, users: np.ndarray, warm: np.ndarray, stars: np.ndarray, trained: np.ndarray
    ) -> np.ndarray:
        ranking = stars.copy()  # users without training ratings keep the stars' order
        if warm.any():
            ranking[warm] = self.ranker.score_items(users[warm])
        return blend_scores(ranking, self._blended(stars), self.blend, trained)

    def ranking_folded(self, folded: Any, stars: np.ndarray, trained: np.ndarray) -> np.ndarray:
        ranking = self.ranker.score_folded(folded[1]).astype(np.float32)
        return blend_scores(ranking, self._blended(stars), self.blend, trained)

    def _blended(self, stars: np.ndarray) -> np.ndarray | None:
        """The stars blended into the ranker's scores: none from a model that predicts none."""
        return stars if self.rating.predicts_ratings else None

    # ---- what it learned: the rating model's, else the ranker's neighbours -----------------------
    def factors(self, side: Side) -> np.ndarray | None:
        return self.rating.factors(side)

    def biases(self, side: Side) -> np.ndarray | None:
        return self.rating.biases(side)

    def missing_hint(self, role: str) -> str:
        return self.rating.missing_hint(role)

    def similarity(self, side: Side, index: int) -> np.ndarray:
        judge = self.rating if self.rating.factors(side) is not None else self.ranker
        return judge.similarity(side, index)

    def __repr__(self) -> str:
        return f"Ranked({self.rating!r}, {self.ranker!r}, blend={self.blend:g})"


class RankedRanking(Ranked):
    """A ranking model with another ranking model beside it: it predicts no ratings."""

    predicts_ratings = False
