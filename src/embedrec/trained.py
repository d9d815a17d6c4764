"""`TrainedModel`: a trained model kind with what gives its scores meaning, by index: the bias
baseline that scores pairs the model cannot (a user or item with no training rating), how often
each user and item was seen in training (and which items each user rated), the rating scale.

It is the part of the `Recommender` that turns the model into blocks of scores (predicted
ratings, and what lists rank by) for user and item indices, one path for every model: a rating
model with a ranker beside it (`embedrec.models.Ranked`) is one model, whose `ranking` the
ranker orders. The `Recommender` speaks raw ids and titles over it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from embedrec import lists
from embedrec.data.ratings import IdMap, Ratings
from embedrec.errors import ModelError, UnknownIdError
from embedrec.models import BiasBaseline, Model, Side
from embedrec.scoring import Folded, typical_ratings


@dataclass(frozen=True)
class TrainedModel:
    """Built complete, never changed after (`dataclasses.replace` makes a changed copy), so the
    cached typical ratings cannot go stale."""

    model: Model
    user_map: IdMap
    item_map: IdMap
    baseline: BiasBaseline
    user_counts: np.ndarray  # training ratings per user index
    item_counts: np.ndarray
    rating_scale: tuple[float, float] | None = None
    # the lowest and highest training rating: a new user's ratings must lie inside it when no
    # scale was declared (a 99 on a 1-5 scale is a typo, not a very strong like)
    observed_scale: tuple[float, float] | None = None
    # each user's training items, CSR: user u rated seen_items[seen_indptr[u]:seen_indptr[u+1]]
    seen_indptr: np.ndarray | None = None
    seen_items: np.ndarray | None = None
    seen_ratings: np.ndarray | None = None  # the ratings they gave, aligned with seen_items
    # trained on interactions (plays, clicks: which items users chose, no ratings): the model
    # ranks only, a new user folds in from the items they chose (`liked=`), and a user with
    # nothing to go on gets the most popular items
    interactions: bool = False

    @property
    def model_name(self) -> str:
        """The kind that predicts (with `+ranker` when a ranking model ranks beside it)."""
        rating, ranker, _ = self.model.ranker_parts()
        return rating.name + (f"+{ranker.name}" if ranker is not None else "")

    @property
    def ranker(self) -> Model | None:
        """The ranking model beside the rating model, whose scores order the lists (None: the
        model's own scores do); a part of `model` (`embedrec.models.Ranked`)."""
        return self.model.ranker_parts()[1]

    @property
    def blend(self) -> float:
        """The weight of the rating model's standardised predictions in the ranker's
        standardised scores (0 without a ranker)."""
        return self.model.ranker_parts()[2]

    @property
    def shows_rating(self) -> bool:
        """Whether a list shows each item's predicted rating beside its score: where a ranker
        orders it, its score is no rating."""
        return self.ranker is not None and self.model.predicts_ratings

    def _side(self, is_item: bool) -> tuple[Side, IdMap, np.ndarray]:
        """The items' (or users') name, id map and training counts."""
        if is_item:
            return "item", self.item_map, self.item_counts
        return "user", self.user_map, self.user_counts

    @property
    def n_users(self) -> int:
        return len(self.user_map)

    @property
    def n_items(self) -> int:
        return len(self.item_map)

    def user_index(self, user: Any) -> int:
        """The index of a user by raw id; UnknownIdError saying how a new user is served."""
        index = self.user_map.lookup(user)
        if index < 0:
            given = (
                "the items they chose (liked=[item, ...], --liked)"
                if self.interactions
                else "their ratings (ratings={item: rating}, --ratings)"
            )
            raise UnknownIdError(
                f"unknown user {user!r}: not in the training data; a new user is recommended "
                f"for from {given}"
            )
        return index

    def user_indices(self, users: Iterable[Any]) -> np.ndarray:
        """Indices of many raw user ids at once; UnknownIdError naming the first unknown."""
        wanted = list(users)
        indices = self.user_map.indexer(wanted)
        for position in np.flatnonzero(indices < 0):  # tolerate '42' for 42, as lookup does
            indices[position] = self.user_index(wanted[position])
        return indices

    def predict_indices(
        self, users: np.ndarray, items: np.ndarray, clip: bool = True
    ) -> np.ndarray:
        """Predicted ratings for index pairs: the model where both sides were trained, the bias
        baseline elsewhere; clipped to the declared rating scale unless `clip=False`."""
        self.check_predicts()
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        warm = self.is_warm(users, items)
        scores = self.baseline.predict(users, items)
        if warm.any():
            scores[warm] = self.model.predict(users[warm], items[warm])
        return self._clip(scores) if clip else scores

    def check_predicts(self) -> None:
        """Raise, saying what to do instead, unless the model predicts ratings."""
        if self.model.predicts_ratings:
            return
        if self.interactions:
            raise ModelError(
                f"this {self.model_name} model was trained on interactions (which items users "
                "chose, no ratings): it ranks items and predicts no ratings, so it has no "
                "predict and no RMSE; measure its lists with `evaluate --ranking` "
                "(embedrec.evaluate_ranking)"
            )
        raise ModelError(
            f"a {self.model_name} model ranks items and predicts no ratings; for predict "
            "and evaluate train a rating model (bmf, dot-bias, nn), or measure its lists "
            "with `evaluate --ranking`"
        )

    def is_warm(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Pairs whose user and item both had training ratings (scored by the model)."""
        return (self.user_counts[users] > 0) & (self.item_counts[items] > 0)

    def _clip(self, scores: np.ndarray) -> np.ndarray:
        if self.rating_scale is not None and self.model.predicts_ratings:
            np.clip(scores, *self.rating_scale, out=scores)
        return scores

    def rating_scores(self, users: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The rating model's scores of every item for each user index, shape (users, items):
        predicted ratings (clipped) for rating models. Users with no training rating get the
        bias baseline (on interactions: each item's popularity); items with none get -inf
        (never recommended)."""
        users = np.asarray(users, dtype=np.int64)
        warm = self.user_counts[users] > 0
        if warm.all():  # the common case: no copy of the (users x items) block
            scores = self.model.score_items(users, out=out)
        else:
            scores = np.empty((len(users), self.n_items), dtype=np.float32)
            if warm.any():
                scores[warm] = self.model.score_items(users[warm])
            cold = np.flatnonzero(~warm)
            if self.interactions:  # no ratings to take a bias of: the most chosen items
                scores[cold] = self._fallback_scores()[None]
            else:
                item_part = self.baseline.global_mean + self.baseline.item_offsets
                scores[cold] = self.baseline.user_offsets[users[cold], None] + item_part[None]
        self._clip(scores)
        untrained = np.flatnonzero(self.item_counts == 0)
        if len(untrained):
            scores[:, untrained] = -np.inf
        return scores

    def score_items(self, users: np.ndarray) -> np.ndarray:
        """What `recommend` ranks by, for each user index: shape (users, items), higher is
        better, -inf for items without training ratings. Without a ranker these are the rating
        model's scores; with one, the ranker's (blended with the rating model's)."""
        return self._scores(np.asarray(users, dtype=np.int64))[0]

    def _scores(
        self, users: np.ndarray, out: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(ranking scores, predicted ratings where a list shows them beside its scores, else
        None); `out`: a buffer for the block of predicted ratings."""
        stars = self.rating_scores(users, out)
        warm = self.user_counts[users] > 0
        ranking = self.model.ranking(users, warm, stars, self.item_counts > 0)
        return ranking, stars if self.shows_rating else None

    def seen(self, user_index: int) -> np.ndarray:
        """Item indices the user rated in training."""
        if self.seen_indptr is None or self.seen_items is None:
            return np.zeros(0, dtype=np.int64)
        return self.seen_items[self.seen_indptr[user_index] : self.seen_indptr[user_index + 1]]

    def trained_on(self, ratings: Ratings) -> np.ndarray:
        """Mask over encoded `ratings` (this model's indices, as `encode` gives): rows whose
        (user, item) pair was a training rating of this model, so an evaluation can tell it is
        scoring rows the model learned from."""
        return lists.pairs_seen(
            self.seen_indptr, self.seen_items, self.n_items, ratings.users, ratings.items
        )

    def score_folded(self, folded: Folded) -> np.ndarray:
        """Ranking scores of every item for a user from `fold_in` (as `score_items` gives for
        a known user); -inf for untrained items."""
        return self._folded_scores(folded)[0]

    def _folded_rating(self, folded: Folded) -> np.ndarray:
        """The rating model's scores of every item for a folded-in user, clipped."""
        return self._clip(self.model.score_folded(folded.state).astype(np.float32, copy=True))

    def _folded_scores(self, folded: Folded) -> tuple[np.ndarray, np.ndarray | None]:
        """`_scores` for a folded-in user: of every item, -inf for untrained items."""
        stars = self._folded_rating(folded)
        stars[self.item_counts == 0] = -np.inf
        ranking = self.model.ranking_folded(folded.state, stars, self.item_counts > 0)
        return ranking, stars if self.shows_rating else None

    @property
    def fallback(self) -> str:
        """What a user with nothing to go on is recommended (the `fallback` column's value):
        on interactions the most chosen items, else what typical users rate highest."""
        return "popular" if self.interactions else "typical-user"

    def _fallback_scores(self) -> np.ndarray:
        """The list for a user with nothing to go on, -inf for untrained items: on interactions
        how many users chose each item (a typical user's weights would favour the items a few
        users played most), else the rating a typical trained user would give it."""
        return lists.popularity_or(self.typical_ratings(), self.item_counts, self.interactions)

    def typical_ratings(self, is_item: bool = True) -> np.ndarray:
        """Per item, the mean rating the model predicts over (up to 1,000) trained users; per
        user (`is_item=False`), over trained items: what a bias means, in stars. A ranking-only
        model predicts no rating: the bias baseline's stand in. NaN for untrained rows, and for
        every row of a model trained on interactions (it saw no ratings)."""
        return self._typical_items if is_item else self._typical_users

    @cached_property
    def _typical_items(self) -> np.ndarray:
        return self._typical(is_item=True)

    @cached_property
    def _typical_users(self) -> np.ndarray:
        return self._typical(is_item=False)

    def _typical(self, is_item: bool) -> np.ndarray:
        if self.interactions:
            return np.full(self.n_items if is_item else self.n_users, np.nan)
        if self.model.predicts_ratings:
            return typical_ratings(self.rating_scores, self.user_counts, self.item_counts, is_item)
        b = self.baseline
        offsets, counts = (
            (b.item_offsets, self.item_counts) if is_item else (b.user_offsets, self.user_counts)
        )
        return np.where(counts > 0, b.global_mean + offsets, np.nan)
