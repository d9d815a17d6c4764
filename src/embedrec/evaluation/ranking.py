"""Top-k ranking metrics, vectorised over users.

A test item is relevant when its rating is at least a threshold (4 on MovieLens) or, for
interactions, always; a user's training items are never candidates; users with no relevant
test item are left out of the averages (they have nothing to find), as LensKit and most papers
do. A relevant item the model cannot list (one it never saw) still counts in the user's
relevant set: it is there to be found, and no list finds it.

Two forms: `evaluate_ranking(rec, test, k=10)` ranks with a `Recommender` as `recommend`
does (cold users get its fallback list, its own training items are excluded), on test data in
raw ids; `evaluate_ranking(score_fn, train, test, k, threshold)` ranks with any score
function on a split encoded alike (the protocols' form, for baselines such as popularity).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from embedrec.data.encode import csr_rows, group_by_user
from embedrec.data.ratings import Ratings
from embedrec.errors import DataError, ModelError
from embedrec.evaluation.holdout import HeldOut, default_relevant, held_out
from embedrec.recommender import Recommender
from embedrec.topk import top_k

ScoreFn = Callable[[np.ndarray], np.ndarray]  # user indices -> (users, items) scores
SeenFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # users -> (row, item) pairs
METRICS = ("precision", "recall", "ndcg", "map", "hit_rate")


def metrics_from_hits(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> dict[str, float]:
    """Precision, recall, NDCG, MAP and hit rate at k from a (users, k) boolean hit matrix."""
    if len(hits) == 0:
        return {f"{name}@{k}": float("nan") for name in METRICS}
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
    scorer: Recommender | ScoreFn,
    data: Ratings | pd.DataFrame,
    test: Ratings | int | None = None,
    k: int = 10,
    threshold: float | None = 4.0,
    batch_users: int = 1024,
    *,
    relevant: float | None = None,
) -> dict[str, Any]:
    """Precision, recall, NDCG, MAP and hit rate at k, `coverage@k` (the share of the items
    the model knows that are in anyone's top k) and `n_users`.

    With a Recommender: `evaluate_ranking(rec, test, k=10, relevant=4)`, `test` a `Ratings` or
    a DataFrame in raw ids; `relevant` defaults to 3/4 of the way up the model's rating scale
    (4 on 1-5) and to every row for interactions. Users the model cannot rank (unknown, or
    without training ratings) get its fallback list and are counted (`n_cold`); the metrics
    of the others alone carry a `_warm` suffix.

    With a score function: `evaluate_ranking(score_fn, train, test, k, threshold)` on a
    split's two sides (same id maps), excluding `train`'s items; `threshold=None`: every test
    item is relevant (the leave-last-out protocol).

    >>> evaluate_ranking(rec, load_ratings("test.csv"), k=10)  # doctest: +SKIP
    >>> evaluate_ranking(popularity_scores(split.train), split.train, split.valid)  # doctest: +SKIP
    """
    if isinstance(scorer, Recommender):
        if isinstance(test, (int, np.integer)) and not isinstance(test, bool):
            k, test = int(test), None  # evaluate_ranking(rec, test, 10)
        if test is not None or threshold != 4.0:
            raise ModelError(
                "evaluate_ranking(rec, test, k=10, relevant=4): with a Recommender the test "
                "data comes second (its training items are the model's own) and the "
                "threshold is named relevant="
            )
        return rank_held_out(scorer, held_out(scorer, data), k, relevant, batch_users)
    if not isinstance(test, Ratings) or not isinstance(data, Ratings):
        raise ModelError("evaluate_ranking(score_fn, train, test, ...): give both sides as Ratings")
    return _rank_split(
        scorer, data, test, k, threshold if relevant is None else relevant, batch_users
    )


def _rank_split(
    score_fn: ScoreFn,
    train: Ratings,
    test: Ratings,
    k: int,
    threshold: float | None,
    batch_users: int,
) -> dict[str, float]:
    """The score-function form: users by their index in the split's maps."""
    k = check_k(k, train.n_items)
    rows = np.ones(len(test), dtype=bool) if threshold is None else test.ratings >= threshold
    first, n_relevant, relevant = relevant_lists(test.users[rows], test.items[rows])
    users = test.users[rows][first]
    train_indptr, train_items = train.items_by_user()

    def seen(chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        row_of, positions = csr_rows(train_indptr, chunk)
        return row_of, train_items[positions]

    hits, covered = rank_lists(score_fn, users, relevant, seen, train.n_items, k, batch_users)
    metrics = metrics_from_hits(hits, n_relevant, k)
    metrics[f"coverage@{k}"] = covered
    metrics["n_users"] = int(len(users))
    return metrics


def rank_held_out(
    rec: Recommender,
    held: HeldOut,
    k: int = 10,
    relevant: float | None = None,
    batch_users: int = 1024,
) -> dict[str, Any]:
    """The Recommender form on a held-out table (see `evaluate_ranking`)."""
    k = check_k(k, rec.n_items)
    if relevant is None:
        relevant = default_relevant(rec, held)
    rows = np.ones(len(held), dtype=bool) if relevant is None else held.ratings >= relevant
    if not rows.any():
        raise DataError(
            f"{held.source}: no test rating is at least {relevant}: no user has an item to "
            "find (a lower --relevant, relevant=)"
        )
    first, n_relevant, lists = relevant_lists(held.keys[rows], held.items[rows])
    users = held.users[rows][first]  # the model's index of each test user, -1 if unknown
    scores, seen = recommend_scores(rec), lambda chunk: _seen_pairs(rec, chunk)
    hits, covered = rank_lists(scores, users, lists, seen, rec.n_items, k, batch_users)
    metrics = metrics_from_hits(hits, n_relevant, k)
    metrics[f"coverage@{k}"] = covered
    warm = (users >= 0) & (rec.user_counts[np.maximum(users, 0)] > 0)
    for name, value in metrics_from_hits(hits[warm], n_relevant[warm], k).items():
        metrics[f"{name}_warm"] = value
    metrics["n_users"] = int(len(users))
    metrics["n_cold"] = int((~warm).sum())
    return {**metrics, "relevant": relevant}  # None: every row was relevant


def recommend_scores(rec: Recommender) -> ScoreFn:
    """What `recommend` ranks by for each user index: the model's scores for users with
    training ratings; for the others (and -1, a user the model never saw) its fallback list,
    what a typical user rates highest."""

    def scores(users: np.ndarray) -> np.ndarray:
        known = users >= 0
        block = rec.score_items(np.where(known, users, 0))  # the block `recommend` scores
        cold = ~known | (rec.user_counts[np.maximum(users, 0)] == 0)
        if cold.any():
            block[cold] = np.where(rec.item_counts > 0, rec.typical_ratings(), -np.inf)
        return block

    return scores


def _seen_pairs(rec: Recommender, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, item) of each user's training items, from what the model stores; none for an
    unknown user (-1)."""
    if rec.seen_indptr is None or rec.seen_items is None:
        raise ModelError(
            "this model directory stores no training items per user (written by an older "
            "embedrec): retrain it to evaluate its rankings"
        )
    row_of, positions = csr_rows(rec.seen_indptr, np.maximum(users, 0))
    keep = users[row_of] >= 0
    return row_of[keep], rec.seen_items[positions[keep]]


def relevant_lists(
    keys: np.ndarray, items: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """For the relevant rows (user key, item index): the first row of each user (users in
    sorted key order), each user's count of relevant rows, and their item indices as CSR in
    the same order; items -1 (never seen by the model) count but are left out of the CSR."""
    _, first, position, counts = np.unique(
        keys, return_index=True, return_inverse=True, return_counts=True
    )
    known = items >= 0
    lists = group_by_user(position[known], items[known], len(first))
    return first, counts, lists


def rank_lists(
    score_fn: ScoreFn,
    users: np.ndarray,
    relevant: tuple[np.ndarray, np.ndarray],
    seen: SeenFn,
    n_items: int,
    k: int,
    batch_users: int,
) -> tuple[np.ndarray, float]:
    """(hits: a (users, k) boolean matrix, coverage) of the lists `score_fn` gives `users`,
    their `seen` items left out; `relevant`: each user's relevant item indices as CSR
    (indptr, items), in the order of `users`. Coverage: the share of the items the scorer
    can recommend (a finite score for someone: for a Recommender, the items with training
    ratings) that are in anyone's top k."""
    indptr, items = relevant
    all_hits, shown = [], np.zeros(n_items, dtype=bool)
    scorable = np.zeros(n_items, dtype=bool)
    for start in range(0, len(users), batch_users):
        chunk = users[start : start + batch_users]
        scores = np.asarray(score_fn(chunk))
        if not scores.flags.writeable:  # a broadcast row (popularity_scores): copied
            scores = scores.copy()
        scorable |= np.isfinite(scores).any(0)
        # the seen items are set to -inf for the selection and put back after: the block
        # (1,024 users x 59,047 items: 240 MB) is never copied, and a scorer's is left as given
        seen_at = seen(chunk)
        kept = scores[seen_at]
        scores[seen_at] = -np.inf
        top = top_k(scores, k)
        listed = np.isfinite(np.take_along_axis(scores, top, axis=1))  # -inf: not recommendable
        scores[seen_at] = kept
        del scores, kept
        shown[top[listed]] = True
        row_of, positions = csr_rows(indptr, np.arange(start, start + len(chunk)))
        wanted = row_of.astype(np.int64) * n_items + items[positions]
        listed_at = np.arange(len(chunk), dtype=np.int64)[:, None] * n_items + top
        all_hits.append(np.isin(listed_at, wanted) & listed)
    hits = np.concatenate(all_hits) if all_hits else np.zeros((0, k), dtype=bool)
    return hits, float(shown.sum() / max(int(scorable.sum()), 1))


def check_k(k: int, n_items: int) -> int:
    """k, at least 1, and no longer than the catalogue (a list cannot be)."""
    if k < 1:
        raise ModelError(f"k must be at least 1, got {k}")
    return min(k, n_items)


def popularity_scores(train: Ratings) -> ScoreFn:
    """The baseline every ranking table needs: items ranked by how often they were rated."""
    counts = train.item_counts().astype(np.float64)
    return lambda users: np.broadcast_to(counts, (len(users), len(counts)))
