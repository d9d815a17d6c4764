"""Which items each user chose, with a weight: the input of ranking models (EASE, implicit ALS).

Ratings say how much a user liked what they watched; *that* they watched it is the stronger
signal of what they will watch next (Cremonesi et al. 2010; Steck 2019). `Interactions` turns a
`Ratings` into that signal by a stated rule: every rated item counts, or only ratings of at least
`min_rating`; each counted item weighs 1, or its rating (`weighting="rating"`), or, for counts
of plays or purchases (`Ratings.interactions`), log(1 + count) (`weighting="log"`: Hu, Koren &
Volinsky 2008's damping, so a thousand plays of one artist do not drown a user's other choices).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from embedrec.data.encode import csr_rows, order_by_user
from embedrec.data.ratings import Ratings
from embedrec.errors import DataError

Weighting = Literal["binary", "rating", "log"]


@dataclass(frozen=True)
class InteractionRule:
    """How a rating becomes an interaction weight (0: not counted)."""

    min_rating: float | None = None
    weighting: Weighting = "binary"

    def weigh(self, ratings: np.ndarray) -> np.ndarray:
        ratings = np.asarray(ratings, dtype=np.float32)
        counted = np.ones(len(ratings), dtype=bool)
        if self.min_rating is not None:
            counted = ratings >= self.min_rating
        if self.weighting == "binary":
            return counted.astype(np.float32)
        if self.weighting == "rating":
            return np.where(counted, ratings, 0.0).astype(np.float32)
        if self.weighting == "log":  # a count of 0 (or below) is no interaction
            return np.where(counted, np.log1p(np.maximum(ratings, 0.0)), 0.0).astype(np.float32)
        raise DataError(f"unknown weighting {self.weighting!r}; use binary, rating or log")


@dataclass
class Interactions:
    """A users x items matrix in CSR form: user u chose items[indptr[u]:indptr[u+1]] with these
    weights (only counted interactions are stored)."""

    indptr: np.ndarray
    items: np.ndarray
    weights: np.ndarray
    n_users: int
    n_items: int

    @classmethod
    def from_ratings(cls, ratings: Ratings, rule: InteractionRule | None = None) -> Interactions:
        rule = rule or InteractionRule()
        weights = rule.weigh(ratings.ratings)
        keep = weights > 0
        if len(keep) and not keep.any():  # a model of nothing would list items by index
            low, high = float(ratings.ratings.min()), float(ratings.ratings.max())
            raise DataError(
                f"{ratings.source}: min_rating {rule.min_rating:g} counts none of its "
                f"{len(keep):,} ratings (they range {low:g}..{high:g}); lower it "
                "(--option min_rating=...)"
                if rule.min_rating is not None
                else f"{ratings.source}: every interaction weighs 0 or less: nothing to learn from"
            )
        users, items, weights = ratings.users[keep], ratings.items[keep], weights[keep]
        indptr, order = order_by_user(users, ratings.n_users)
        return cls(
            indptr.astype(np.int64),
            items[order].astype(np.int32),
            weights[order].astype(np.float32),
            ratings.n_users,
            ratings.n_items,
        )

    @property
    def nnz(self) -> int:
        return len(self.items)

    def rows(self, users: np.ndarray) -> np.ndarray:
        """Dense rows of these users, shape (len(users), n_items), float32."""
        dense = np.zeros((len(users), self.n_items), dtype=np.float32)
        row_of, positions = csr_rows(self.indptr, np.asarray(users, dtype=np.int64))
        dense[row_of, self.items[positions]] = self.weights[positions]
        return dense

    def user_of_each(self) -> np.ndarray:
        """The user index of each stored interaction (COO rows)."""
        return np.repeat(np.arange(self.n_users, dtype=np.int64), np.diff(self.indptr))
