"""The Recommender is built once, complete, and its lists are what its model's scores say."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import embedrec
from embedrec import lists
from embedrec.data import random_split
from tests.conftest import low_rank_frame


@pytest.fixture(scope="module")
def trained():
    ratings = embedrec.ratings_from_frame(
        low_rank_frame(n_users=30, n_items=20), rating_scale=(1, 5)
    )
    split = random_split(ratings, 0.2, 0)
    return split, embedrec.train(split, model="dot-bias", epochs=3, seed=0, ranker=None)


def test_a_recommender_cannot_be_changed_after_it_is_built(trained):
    _, rec = trained
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.split = {"name": "mine"}  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.blend = 1.0  # type: ignore[misc]
    named = dataclasses.replace(rec, split={"name": "mine"})
    assert named.split == {"name": "mine"} and rec.split != named.split


def test_a_list_is_the_models_own_predictions_ranked(trained):
    """recommend(user) ranks every unseen item by the model's predicted rating (clipped to the
    scale): the same items, in the same order, with the same scores as predict gives."""
    _, rec = trained
    for user in rec.user_map.to_list()[:5]:
        index = rec.user_index(user)
        items = np.arange(rec.n_items)
        predicted = np.clip(rec.model.predict(np.full(rec.n_items, index), items), 1, 5)
        predicted[rec.seen(index)] = -np.inf
        order = np.argsort(-predicted, kind="stable")[:4]
        listed = rec.recommend(user, n=4)
        assert list(listed["item"]) == list(rec.item_map.decode(order))
        np.testing.assert_allclose(listed["score"], predicted[order], rtol=1e-6)
        batch = rec.recommend([user], n=4)
        assert list(batch["item"]) == list(listed["item"]) and list(batch["rank"]) == [1, 2, 3, 4]


def test_a_model_swapped_in_by_replace_has_its_own_typical_ratings(trained):
    split, rec = trained
    other = embedrec.train(split, model="dot-bias", epochs=1, seed=1, ranker=None, lr=1e-4)
    before = rec.typical_ratings().copy()
    swapped = dataclasses.replace(rec, model=other.model)
    np.testing.assert_array_equal(swapped.typical_ratings(), other.typical_ratings())
    assert not np.array_equal(swapped.typical_ratings(), before)
    np.testing.assert_array_equal(rec.typical_ratings(), before)  # the original keeps its own


def test_lists_of_arrays():
    scores = np.array([[0.1, 0.9, -np.inf, 0.5], [0.3, 0.2, 0.1, -np.inf]], dtype=np.float32)
    rows = lists.top_rows(scores, 3)
    assert rows.items.tolist() == [1, 3, 0, 0, 1, 2]  # -inf never listed
    assert rows.row_of.tolist() == [0, 0, 0, 1, 1, 1] and rows.rank.tolist() == [1, 2, 3] * 2
    allowed = lists.candidates(4, np.array([0, 1, 3]), np.array([1]))
    assert allowed is not None and allowed.tolist() == [True, False, False, True]
    top, top_scores = lists.top_items(scores[0], 5, allowed)
    assert top.tolist() == [3, 0] and top_scores.tolist() == pytest.approx([0.5, 0.1])
    indptr, seen = np.array([0, 2, 3]), np.array([1, 3, 0])
    assert [r.tolist() for r in lists.seen_pairs(indptr, seen, np.array([1, 0]))] == [
        [0, 1, 1],
        [0, 1, 3],
    ]
    asked = lists.pairs_seen(indptr, seen, 4, np.array([0, 0, 1]), np.array([3, 0, 0]))
    assert asked.tolist() == [True, False, True]
    block = scores.copy()
    cold = np.array([False, True])
    lists.mask_block(block, cold, np.array([1, 2, 3, 4.0]), (np.array([0]), np.array([1])), allowed)
    assert block[0].tolist() == pytest.approx([0.1, -np.inf, -np.inf, 0.5])
    assert block[1].tolist() == [1.0, -np.inf, -np.inf, 4.0]  # the fallback, masked alike
    fallback = lists.popularity_or(np.array([4.0, 3.0]), np.array([5, 0]), interactions=False)
    assert fallback.tolist() == [4.0, -np.inf]
