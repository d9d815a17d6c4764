"""Top-n lists as functions of arrays: which items a score block ranks first, which a user may
not be shown (what they rated, what the caller left out), what a user with nothing to go on
gets, and the list as a frame of ids and titles. The Recommender's `recommend` is these over
its model's scores; kept apart so each step reads, and tests, on plain arrays."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from embedrec.data.encode import csr_rows
from embedrec.data.ratings import IdMap
from embedrec.schemas import EmbedrecWarning
from embedrec.scoring import MIN_RATINGS, lowered_floor, nearest
from embedrec.topk import top_k

LIST_COLUMNS = ["user", "rank", "item", "title", "score"]  # every user's lists in one frame


def candidates(
    n_items: int, wanted: np.ndarray | None, excluded: np.ndarray | None
) -> np.ndarray | None:
    """Which items may be listed: only `wanted` (indices; None: all), never `excluded`; None
    where every item may."""
    allowed = None
    if wanted is not None:
        allowed = np.zeros(n_items, dtype=bool)
        allowed[wanted] = True
    if excluded is not None:
        allowed = np.ones(n_items, dtype=bool) if allowed is None else allowed
        allowed[excluded] = False
    return allowed


def seen_pairs(
    indptr: np.ndarray | None, seen_items: np.ndarray | None, users: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(row, item) positions of what each of `users` rated in training (CSR `indptr`,
    `seen_items`), for masking a (len(users), n_items) score block."""
    if indptr is None or seen_items is None:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    row_of, positions = csr_rows(indptr, users)
    return row_of, seen_items[positions]


def mask_block(
    scores: np.ndarray,
    cold: np.ndarray,
    fallback: np.ndarray | None,
    seen: tuple[np.ndarray, np.ndarray] | None,
    allowed: np.ndarray | None,
) -> None:
    """In place, on a (users, items) score block: the `cold` rows (users with no training
    rating) score the `fallback` list; the `seen` (row, item) pairs and the items not
    `allowed` score -inf, so that no list shows them."""
    if fallback is not None:
        scores[cold] = fallback[None]
    if seen is not None:
        scores[seen] = -np.inf
    if allowed is not None:
        scores[:, ~allowed] = -np.inf


def pairs_seen(
    indptr: np.ndarray | None,
    seen_items: np.ndarray | None,
    n_items: int,
    users: np.ndarray,
    items: np.ndarray,
) -> np.ndarray:
    """Mask over the (users[i], items[i]) pairs: those rated in training."""
    if indptr is None or seen_items is None or len(users) == 0:
        return np.zeros(len(users), dtype=bool)
    # a pair as one int64 key: user * n_items + item, for both sides
    row_of, positions = csr_rows(indptr, np.arange(len(indptr) - 1))
    seen = row_of.astype(np.int64) * n_items + seen_items[positions]
    return np.isin(users.astype(np.int64) * n_items + items, seen)


def popularity_or(typical: np.ndarray, item_counts: np.ndarray, interactions: bool) -> np.ndarray:
    """The list for a user with nothing to go on, -inf for untrained items: on interactions
    how many users chose each item (a typical user's weights would favour the items a few
    users played most), else `typical`, the rating a typical trained user would give it."""
    if interactions:
        return np.where(item_counts > 0, item_counts.astype(np.float32), -np.inf)
    return np.where(item_counts > 0, typical, -np.inf)


def top_items(
    scores: np.ndarray, n: int, allowed: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """One user's list: (item indices, their scores), best first, at most `n`, only allowed
    items with a finite score."""
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    top = top_k(scores[None], n)[0]
    top = top[np.isfinite(scores[top])]
    return top, scores[top]


@dataclass(frozen=True)
class Rows:
    """Many users' lists flattened: entry i is item `items[i]` with `scores[i]`, at `rank[i]`
    (from 1) in the list of the block's row `row_of[i]`."""

    items: np.ndarray
    scores: np.ndarray
    row_of: np.ndarray
    rank: np.ndarray


def top_rows(scores: np.ndarray, n: int) -> Rows:
    """Each row's top `n` items of a (users, items) score block, finite scores only."""
    top = top_k(scores, n)
    top_scores = np.take_along_axis(scores, top, axis=1)
    keep = np.isfinite(top_scores)
    return Rows(
        items=top[keep],
        scores=top_scores[keep],
        row_of=np.repeat(np.arange(len(scores)), keep.sum(1)),
        rank=np.cumsum(keep, axis=1)[keep].astype(np.int64),
    )


def item_frame(
    item_map: IdMap,
    titles: np.ndarray | None,
    indices: np.ndarray,
    scores: np.ndarray,
    rating: np.ndarray | None = None,
    lead: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Columns item, title, score (what the list is ranked by) and, when a ranker ranks beside
    a rating model, rating (the predicted rating, in the data's units); `lead`: columns before
    them. Built in one go: per-column inserts cost more than the ranking."""
    columns: dict[str, Any] = dict(lead or {})
    columns["item"] = item_map.decode(indices)
    columns["title"] = titles[indices] if titles is not None else None
    columns["score"] = scores.astype(np.float64)
    if rating is not None:
        columns["rating"] = rating.astype(np.float64)
    return pd.DataFrame(columns)


def nearest_listed(
    similarity: np.ndarray,
    counts: np.ndarray,
    index: int,
    n: int,
    min_ratings: int | None,
    side: str,
) -> np.ndarray:
    """The `n` rows most similar to row `index` (not itself) among those with at least
    `min_ratings` training ratings; None: `MIN_RATINGS`, lowered with a warning where fewer
    than `n` rows reach it (a small data set still gets a list)."""
    if min_ratings is None:
        min_ratings = lowered_floor(counts, index, n, MIN_RATINGS)
        if min_ratings < MIN_RATINGS:
            warnings.warn(
                f"fewer than {n} {side}s have {MIN_RATINGS} training ratings: neighbours "
                f"listed from {min_ratings} rating(s) up, whose factors are noisier "
                "(--min-ratings / min_ratings= sets the floor)",
                EmbedrecWarning,
                stacklevel=4,  # the caller of `similar_items` / `similar_users`
            )
    return nearest(similarity, counts >= min_ratings, index, n)
