"""A held-out table seen through a model's own id maps: what every evaluation of a
`Recommender` scores.

A test table comes in raw ids (a file loaded on its own, a DataFrame, or a split's validation
side): its ids are looked up in the model's maps as `IdMap.lookup` does ('42' finds 42), and
no row is dropped. A row whose user or item the model never saw, or saw without a training
rating, is *cold*: the bias baseline (global mean + the known side's offset) scores it, and
every figure is reported over all rows and over the warm rows alone, so a reader sees both
what a user gets and what the model learned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from embedrec.catalogue import accepted_scale
from embedrec.data.ratings import IdMap, Ratings
from embedrec.data.splits import off_scale
from embedrec.data.validate import ratings_from_frame
from embedrec.errors import DataError, ModelError
from embedrec.recommender import Recommender

# The default relevance threshold sits this share of the way up the rating scale: 4 on 1-5
# (MovieLens's customary "liked"), 3.875 on 0.5-5 (so 4 and up), 7.5 on 0-10 (so 8 and up).
RELEVANT_SHARE = 0.75


@dataclass
class HeldOut:
    """Test rows in the model's indices: `users`/`items` are -1 where the model never saw the
    id; `keys` tells the test's users apart (unknown users share the index -1)."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    keys: np.ndarray
    source: str
    interactions: bool

    def __len__(self) -> int:
        return len(self.ratings)

    @property
    def n_unknown(self) -> int:
        """Rows with a user or item id the model never saw."""
        return int(((self.users < 0) | (self.items < 0)).sum())


def held_out(rec: Recommender, data: Ratings | pd.DataFrame) -> HeldOut:
    """`data` (a `Ratings` with any id maps, or a DataFrame with user, item and rating
    columns) in `rec`'s indices; DataError when none of its users or items is one the model
    knows (a wrong file or model scores nothing, not NaN)."""
    if isinstance(data, (pd.DataFrame, pd.Series)):  # a Series: ids in its index
        data = ratings_from_frame(data)
    if not isinstance(data, Ratings):
        raise DataError(
            f"test data is a Ratings or a pandas DataFrame (user, item, rating columns), "
            f"got {type(data).__name__}"
        )
    if _same_maps(data, rec):  # its own id columns, not int64 copies (80 MB at 5M rows)
        users, items = data.users, data.items
    else:  # a table of its own, not a split of the model's data: on the model's scale?
        users = rec.user_map.find(data.user_map.ids)[data.users]
        items = rec.item_map.find(data.item_map.ids)[data.items]
        if not data.interactions:
            _check_scale(rec, data)
    if len(data) and not ((users >= 0).any() or (items >= 0).any()):
        raise DataError(
            f"{data.source}: none of its {data.n_users:,} users and {data.n_items:,} items is "
            f"one the model knows (its ids: {_sample(data.user_map)} / "
            f"{_sample(data.item_map)}; the model's: {_sample(rec.user_map)} / "
            f"{_sample(rec.item_map)}): is it the test file of this model's data?"
        )
    return HeldOut(users, items, data.ratings, data.users, data.source, data.interactions)


def _check_scale(rec: Recommender, data: Ratings) -> None:
    """Test ratings are on the model's scale (declared, else its training ratings' range, as
    for a new user's ratings): a 99 among 1-5, or a 0-10 file against a 1-5 model, would be
    scored as if it were, and one such row moves RMSE more than any model change."""
    found = off_scale(data, accepted_scale(rec), "the model's rating scale", "test ratings")
    if found:
        raise DataError(
            f"{data.source}: {found}; is it a test file of this model's data, on the same scale?"
        )


def _same_maps(data: Ratings, rec: Recommender) -> bool:
    return (data.user_map is rec.user_map or data.user_map == rec.user_map) and (
        data.item_map is rec.item_map or data.item_map == rec.item_map
    )


def _sample(ids: IdMap) -> str:
    return ", ".join(repr(v) for v in ids.ids[:3].tolist()) + (", ..." if len(ids) > 3 else "")


def warm_rows(rec: Recommender, held: HeldOut) -> np.ndarray:
    """Rows the model itself scores: user and item both known and both with training
    ratings; every other row is cold."""
    known = (held.users >= 0) & (held.items >= 0)
    if known.all():  # no copies of the id columns
        return rec.is_warm(held.users, held.items)
    warm = np.zeros(len(held), dtype=bool)
    warm[known] = rec.is_warm(held.users[known], held.items[known])
    return warm


def baseline_predictions(rec: Recommender, held: HeldOut) -> np.ndarray:
    """The bias baseline's rating of every row, unclipped: global mean plus the offset of each
    side the model knows (an unknown side adds nothing)."""
    b = rec.baseline
    scores = np.full(len(held), b.global_mean, dtype=np.float64)
    users, items = held.users >= 0, held.items >= 0
    scores[users] += b.user_offsets[held.users[users]]
    scores[items] += b.item_offsets[held.items[items]]
    return scores.astype(np.float32)  # as the model's own predictions


def predictions(rec: Recommender, held: HeldOut) -> tuple[np.ndarray, np.ndarray]:
    """(unclipped predicted rating of every row, warm mask): the model on warm rows, the bias
    baseline on cold ones."""
    check_rated(rec, held)
    warm = warm_rows(rec, held)
    if len(held) and warm.all():  # the model scores every row: no copies of the id columns
        return np.asarray(rec.model.predict(held.users, held.items), dtype=np.float32), warm
    scores = baseline_predictions(rec, held)
    if warm.any():
        scores[warm] = rec.model.predict(held.users[warm], held.items[warm])
    return scores, warm


def check_rated(rec: Recommender, held: HeldOut) -> None:
    """Rating metrics need a rating model and a table of ratings: say which is missing."""
    if not rec.model.predicts_ratings:
        raise ModelError(
            f"a {rec.model_name} model ranks items and predicts no ratings: evaluate it with "
            "--ranking (evaluate_ranking in Python)"
        )
    if held.interactions:
        raise DataError(
            f"{held.source}: interactions (which items users chose), not ratings: there is no "
            "rating to compare with; evaluate with --ranking (evaluate_ranking in Python)"
        )


def clip(rec: Recommender, scores: np.ndarray) -> np.ndarray:
    return scores if rec.rating_scale is None else np.clip(scores, *rec.rating_scale)


def default_relevant(rec: Recommender, held: HeldOut) -> float | None:
    """The rating a held-out row needs to count as relevant when none is given: None (every
    row relevant) for interactions, else RELEVANT_SHARE of the way up the model's rating scale
    (declared, else the training ratings' range)."""
    scale = rec.rating_scale or rec.observed_scale
    if scale is None:
        scale = (float(held.ratings.min()), float(held.ratings.max()))
    return relevant_rating(scale, held.interactions or rec.interactions)


def relevant_rating(scale: tuple[float, float], interactions: bool = False) -> float | None:
    """The rating from which a held-out row is relevant: RELEVANT_SHARE of the way up the
    scale (4 on 1-5, 7.5 on 0-10); None (every row) for interactions, which hold no rating."""
    if interactions:
        return None
    low, high = scale
    return low + RELEVANT_SHARE * (high - low)
