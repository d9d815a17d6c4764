"""Small pieces of scoring shared by the `Recommender`: a folded-in new user, a typical user's
ratings, neighbours, checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from embedrec.errors import DataError, ModelError

# Items or users with fewer training ratings than this are left out of neighbour lists: their
# factors are mostly initialisation noise shrunk by weight decay (fastai's naive neighbours of
# "Silence of the Lambs" start with films rated once or twice).
MIN_RATINGS = 20


@dataclass
class Folded:
    """A new user folded into the model: the items they rated, and what the model makes of them
    (`Model.fold_in`; for a rating model with a ranker beside it, what each part makes)."""

    items: np.ndarray
    state: Any


def check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ModelError(f"n must be a whole number of at least 1, got {n!r}")


def checked_ratings(
    ratings: Mapping[Any, float],
    item_index: Callable[[Any], int],
    scale: tuple[float, float] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """A new user's {item id or title: rating} as (item indices, ratings), every rating a
    number inside `scale`; DataError naming the item otherwise."""
    if not isinstance(ratings, Mapping):
        raise DataError("ratings must be a mapping {item id or title: rating}")
    low, high = scale or (-np.inf, np.inf)
    items, values = [], []
    for item, value in ratings.items():
        index = item_index(item)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise DataError(f"the rating of {item!r} is not a number: {value!r}") from None
        if not np.isfinite(number):
            raise DataError(f"the rating of {item!r} is not a finite number: {value!r}")
        if not low <= number <= high:
            raise DataError(
                f"the rating of {item!r} is {number:g}, outside the model's scale {low:g}-{high:g}"
            )
        items.append(index)
        values.append(number)
    return np.array(items, dtype=np.int64), np.array(values, dtype=np.float32)


def nearest(similarity: np.ndarray, eligible: np.ndarray, index: int, n: int) -> np.ndarray:
    """The n most similar eligible rows to `index` (never itself), best first."""
    eligible = eligible.copy()
    eligible[index] = False
    masked = np.where(eligible, similarity, -np.inf)
    return np.argsort(-masked, kind="stable")[: min(n, int(eligible.sum()))]


def lowered_floor(counts: np.ndarray, index: int, n: int, floor: int) -> int:
    """The training-rating floor for a neighbour list of `n`: `floor` where at least n other
    rows reach it, else the highest count that n other rows (or all there are) reach, so a
    small catalogue lists neighbours instead of nothing."""
    others = np.delete(counts, index)
    if int((others >= floor).sum()) >= n or not len(others):
        return floor
    reached = np.sort(others)[::-1][min(n, len(others)) - 1]
    return int(max(1, min(floor, reached)))


TYPICAL_SAMPLE = 1000  # counterparts averaged over: enough for two decimals of a mean rating


def typical_ratings(
    rating_scores: Callable[[np.ndarray], np.ndarray],
    user_counts: np.ndarray,
    item_counts: np.ndarray,
    is_item: bool = True,
    batch: int = 256,
) -> np.ndarray:
    """The mean predicted rating of each item over (a seeded sample of up to 1,000) trained
    users, or with `is_item=False` of each user over trained items: a bias in the data's
    units, comparable across model kinds (a raw bias sits before `sigmoid_range`, and in a
    linear model the item side carries the global mean). NaN where a row has no training
    rating."""
    rng = np.random.default_rng(0)
    users, items = np.flatnonzero(user_counts > 0), np.flatnonzero(item_counts > 0)
    own = items if is_item else users
    result = np.full(len(item_counts) if is_item else len(user_counts), np.nan)
    if is_item:
        sample = rng.choice(users, min(TYPICAL_SAMPLE, len(users)), replace=False)
        total = np.zeros(len(item_counts))
        for start in range(0, len(sample), batch):
            block = rating_scores(sample[start : start + batch])
            total += np.where(np.isfinite(block), block, 0.0).sum(axis=0)
        result[own] = total[own] / max(len(sample), 1)
        return result
    columns = rng.choice(items, min(TYPICAL_SAMPLE, len(items)), replace=False)
    for start in range(0, len(own), batch):
        rows = own[start : start + batch]
        result[rows] = rating_scores(rows)[:, columns].mean(axis=1)
    return result
