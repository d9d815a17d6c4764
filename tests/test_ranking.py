"""Ranking metrics against hand-computed values and a plain per-user reference."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedrec import ratings_from_frame
from embedrec.evaluation.ranking import evaluate_ranking, metrics_from_hits, popularity_scores
from embedrec.topk import NUMPY_UP_TO_ROWS, top_k


def test_hand_computed_case():
    # user A: relevant {1, 3}, ranking hits at positions 1 and 3 of k=3
    hits = np.array([[True, False, True]])
    m = metrics_from_hits(hits, np.array([2]), k=3)
    assert m["precision@3"] == pytest.approx(2 / 3)
    assert m["recall@3"] == pytest.approx(1.0)
    assert m["ndcg@3"] == pytest.approx((1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3)))
    assert m["map@3"] == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert m["hit_rate@3"] == 1.0


def test_top_k_orders_best_first():
    scores = np.array([[0.1, 0.9, 0.5, 0.7]])
    assert top_k(scores, 3).tolist() == [[1, 3, 2]]


def reference(scores, train_pairs, test_rows, k, threshold):
    """One user at a time, the textbook definitions."""
    out = {"precision": [], "recall": [], "ndcg": [], "map": [], "hit": []}
    for user in sorted({u for u, _, r in test_rows if r >= threshold}):
        relevant = {i for u, i, r in test_rows if u == user and r >= threshold}
        seen = {i for u, i in train_pairs if u == user}
        ranked = [i for i in np.argsort(-scores[user], kind="stable") if i not in seen][:k]
        gains = [1.0 if i in relevant else 0.0 for i in ranked]
        out["precision"].append(sum(gains) / k)
        out["recall"].append(sum(gains) / len(relevant))
        dcg = sum(g / np.log2(p + 2) for p, g in enumerate(gains))
        idcg = sum(1 / np.log2(p + 2) for p in range(min(k, len(relevant))))
        out["ndcg"].append(dcg / idcg)
        ap = sum(sum(gains[: p + 1]) / (p + 1) for p, g in enumerate(gains) if g)
        out["map"].append(ap / min(k, len(relevant)))
        out["hit"].append(float(sum(gains) > 0))
    return {name: float(np.mean(values)) for name, values in out.items()}


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 6))
def test_matches_the_per_user_reference(seed, k):
    rng = np.random.default_rng(seed)
    n_users, n_items = 6, 12
    pairs = [(u, i) for u in range(n_users) for i in range(n_items) if rng.random() < 0.5]
    rng.shuffle(pairs)
    cut = len(pairs) // 2
    rows = [(u, i, float(rng.integers(1, 6))) for u, i in pairs]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    ratings = ratings_from_frame(frame)
    train, test = ratings.subset(np.arange(cut)), ratings.subset(np.arange(cut, len(rows)))
    scores = rng.random((ratings.n_users, ratings.n_items))
    got = evaluate_ranking(lambda users: scores[users], train, test, k=k)
    train_pairs = list(zip(train.users.tolist(), train.items.tolist()))
    test_rows = list(zip(test.users.tolist(), test.items.tolist(), test.ratings.tolist()))
    if not any(r >= 4 for _, _, r in test_rows):
        return
    want = reference(scores, train_pairs, test_rows, k, 4.0)
    assert got[f"precision@{k}"] == pytest.approx(want["precision"])
    assert got[f"recall@{k}"] == pytest.approx(want["recall"])
    assert got[f"ndcg@{k}"] == pytest.approx(want["ndcg"])
    assert got[f"map@{k}"] == pytest.approx(want["map"])
    assert got[f"hit_rate@{k}"] == pytest.approx(want["hit"])
    for name in ("precision", "recall", "ndcg", "map", "hit_rate"):
        assert 0 <= got[f"{name}@{k}"] <= 1


def test_popularity_baseline_and_coverage():
    frame = pd.DataFrame(
        {"user": [0, 1, 2, 0, 1, 2], "item": [0, 0, 0, 1, 2, 1], "rating": [5, 5, 5, 4, 4, 4]}
    )
    ratings = ratings_from_frame(frame)
    train, test = ratings.subset(np.arange(3)), ratings.subset(np.arange(3, 6))
    m = evaluate_ranking(popularity_scores(train), train, test, k=1)
    assert m["n_users"] == 3
    assert m["coverage@1"] == pytest.approx(1 / 3)  # everyone gets the same item


def test_a_scorers_own_block_is_left_as_given():
    """The seen items are left out without a copy of the (users x items) block (memory): a
    scorer that hands back a block it keeps (a cache) finds it unchanged, and scores alike
    the second time."""
    rng = np.random.default_rng(5)
    rows = [(u, i, float(rng.integers(1, 6))) for u in range(8) for i in range(15)]
    ratings = ratings_from_frame(pd.DataFrame(rows, columns=["user", "item", "rating"]))
    order = rng.permutation(len(ratings))
    train, test = ratings.subset(order[:60]), ratings.subset(order[60:])
    scores = rng.random((ratings.n_users, ratings.n_items))
    cache: dict[tuple[int, ...], np.ndarray] = {}

    def cached(users):
        return cache.setdefault(tuple(users.tolist()), scores[users])

    first = evaluate_ranking(cached, train, test, k=3, batch_users=3)
    assert len(cache) > 1
    for users, block in cache.items():
        np.testing.assert_array_equal(block, scores[list(users)])
    assert evaluate_ranking(cached, train, test, k=3, batch_users=3) == first
    assert first == evaluate_ranking(lambda users: scores[users], train, test, k=3)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([-np.inf, 0.0, 0.5, 1.0, 2.0, 3.5]), min_size=1, max_size=40),
    st.integers(1, 45),
)
def test_one_users_top_k_by_numpy_matches_the_kernel_on_ties(values, k):
    """A list for one user (numpy's partition) and a block of rows (numba's kernel) agree,
    ties and seen items (-inf) included: the k highest, best first, lower index first."""
    row = np.array(values)
    block = np.tile(row, (NUMPY_UP_TO_ROWS + 1, 1))  # enough rows for the kernel
    by_numpy = top_k(row[None], k)[0]
    expected = np.argsort(-row, kind="stable")[: min(k, len(row))]
    assert by_numpy.tolist() == expected.tolist()
    assert top_k(block, k)[0].tolist() == expected.tolist()


def test_a_nan_score_ranks_last_in_a_short_list():
    assert top_k(np.array([[1.0, np.nan, 2.0, 3.0]], dtype=np.float32), 2).tolist() == [[3, 2]]
    assert top_k(np.array([[np.nan, np.nan, 2.0]]), 3)[0, 0] == 2
