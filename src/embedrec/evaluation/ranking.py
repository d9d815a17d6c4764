"""Top-k ranking metrics, vectorised over users.

A test item is relevant when its rating is at least `threshold` (4 on MovieLens); a user's
training items are never candidates; users with no relevant test item are left out of the
averages (they have nothing to find), as LensKit and most papers do.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from embedrec.data.ratings import Ratings
from embedrec.errors import ModelError
from embedrec.topk import top_k

ScoreFn = Callable[[np.ndarray], np.ndarray]  # user indices -> (users, items) scores


def metrics_from_hits(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> dict[str, float]:
    """Precision, recall, NDCG, MAP and hit rate at k from a (users, k) boolean hit matrix."""
    if len(hits) == 0:
        return {
            f"{name}@{k}": float("nan")
            for name in ("precision", "recall", "ndcg", "map", "hit_rate")
        }
    hits = hits.astype(np.float64)
    found = hits.sum(1)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, k) - 1]
    precision_at_i = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return {
        f"precision@{k}": float(np.mean(found / k)),
        f"recall@{k}": float(np.mean(found / n_relevant)),
        f"ndcg@{k}": float(np.mean((hits * discounts).sum(1) / ideal)),
        f"map@{k}": float(np.mean((precision_at_i * hits).sum(1) / np.minimum(n_relevant, k))),
        f"hit_rate@{k}": float(np.mean(found > 0)),
    }


def evaluate_ranking(
    score_fn: ScoreFn,
    train: Ratings,
    test: Ratings,
    k: int = 10,
    threshold: float | None = 4.0,
    batch_users: int = 2048,
) -> dict[str, float]:
    """Ranking metrics of `score_fn` on `test`, excluding each user's `train` items.

    Also reports `coverage@k` (share of the catalogue in anyone's top k) and `n_users`.
    `threshold=None`: every test item is relevant (the leave-last-out protocol).

    >>> evaluate_ranking(rec.score_items, split.train, split.valid, k=10)  # doctest: +SKIP
    """
    if k < 1:
        raise ModelError(f"k must be at least 1, got {k}")
    k = min(k, train.n_items)  # a list cannot be longer than the catalogue
    relevant_rows = (
        np.ones(len(test), dtype=bool) if threshold is None else test.ratings >= threshold
    )
    users = np.unique(test.users[relevant_rows])
    indptr, seen = train.items_by_user()
    all_hits, all_relevant, shown = [], [], np.zeros(train.n_items, dtype=bool)
    for start in range(0, len(users), batch_users):
        chunk = users[start : start + batch_users]
        scores = np.array(score_fn(chunk), dtype=np.float64, copy=True)
        for row, user in enumerate(chunk):
            scores[row, seen[indptr[user] : indptr[user + 1]]] = -np.inf
        top = top_k(scores, k)
        listed = np.isfinite(np.take_along_axis(scores, top, axis=1))  # -inf: not recommendable
        shown[top[listed]] = True
        relevant = np.zeros((len(chunk), train.n_items), dtype=bool)
        position = np.searchsorted(chunk, test.users[relevant_rows])
        in_chunk = (position < len(chunk)) & (
            chunk[np.minimum(position, len(chunk) - 1)] == test.users[relevant_rows]
        )
        relevant[position[in_chunk], test.items[relevant_rows][in_chunk]] = True
        all_hits.append(np.take_along_axis(relevant, top, axis=1) & listed)
        all_relevant.append(relevant.sum(1))
    hits = np.concatenate(all_hits) if all_hits else np.zeros((0, k), dtype=bool)
    n_relevant = np.concatenate(all_relevant) if all_relevant else np.zeros(0, dtype=np.int64)
    metrics = metrics_from_hits(hits, n_relevant, k)
    metrics[f"coverage@{k}"] = float(shown.mean())
    metrics["n_users"] = int(len(users))
    return metrics


def popularity_scores(train: Ratings) -> ScoreFn:
    """The baseline every ranking table needs: items ranked by how often they were rated."""
    counts = train.item_counts().astype(np.float64)
    return lambda users: np.broadcast_to(counts, (len(users), len(counts)))
