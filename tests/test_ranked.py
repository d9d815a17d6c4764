"""A rating model with a ranker beside it is one model (`embedrec.models.Ranked`): its stars are
the rating model's, its lists the ranker's scores blended with the stars, and a model directory
keeps it as the two models it always kept."""

from __future__ import annotations

import copy
import json
import pickle

import numpy as np
import pytest

import embedrec
from embedrec.data import random_split
from embedrec.models import Ranked
from tests.conftest import low_rank_frame

BLEND = 0.5


@pytest.fixture(scope="module")
def split():
    ratings = embedrec.ratings_from_frame(
        low_rank_frame(n_users=30, n_items=20), rating_scale=(1, 5)
    )
    return random_split(ratings, 0.2, 0)


@pytest.fixture(scope="module")
def ranked(split):
    return embedrec.train(split, model="dot-bias", ranker="ease", blend=BLEND, epochs=3, seed=0)


def by_hand(ranker_scores: np.ndarray, stars: np.ndarray, trained: np.ndarray) -> np.ndarray:
    """standardise(ranker) + blend * standardise(stars), per user over the trained items."""

    def z(block: np.ndarray) -> np.ndarray:
        part = block[:, trained].astype(np.float64)
        return (block - part.mean(1, keepdims=True)) / part.std(1, keepdims=True)

    return np.where(trained, z(ranker_scores) + BLEND * z(stars), -np.inf)


def test_the_recommender_holds_one_model_made_of_the_two(ranked):
    assert isinstance(ranked.model, Ranked)
    assert ranked.ranker is ranked.model.ranker and ranked.blend == BLEND
    assert ranked.model_name == "dot-bias+ease" and ranked.model.rating.name == "dot-bias"


def test_predictions_are_the_rating_models_and_lists_the_blend(ranked):
    users = np.flatnonzero(ranked.user_counts > 0)[:8]
    items = np.arange(ranked.n_items)
    rating = ranked.model.rating
    for user in users:
        expected = np.clip(rating.predict(np.full(len(items), user), items), 1, 5)
        np.testing.assert_allclose(
            ranked.predict_indices(np.full(len(items), user), items), expected
        )
    trained = ranked.item_counts > 0
    stars = np.clip(rating.score_items(users), 1, 5)
    expected = by_hand(ranked.model.ranker.score_items(users), stars, trained)
    np.testing.assert_allclose(ranked.score_items(users), expected, rtol=1e-5, atol=1e-5)
    listed = ranked.recommend(ranked.user_map.decode(users[:1])[0], n=5)
    # the list shows each item's predicted rating beside the score it was ranked by
    np.testing.assert_allclose(
        listed["rating"], stars[0][ranked.item_map.indexer(list(listed["item"]))], rtol=1e-6
    )


def test_a_new_user_is_folded_into_both_parts(ranked):
    trained = np.flatnonzero(ranked.item_counts > 0)
    given = {ranked.item_map.decode(trained[:4])[k]: float(5 - k) for k in range(4)}
    folded = ranked.fold_in(given)
    assert folded is not None
    rating, ranker = ranked.model.rating, ranked.model.ranker
    stars = np.clip(
        rating.score_folded(rating.fold_in(folded.items, np.array([5.0, 4, 3, 2]))), 1, 5
    )
    ranker_row = ranker.score_folded(ranker.fold_in(folded.items, np.array([5.0, 4, 3, 2])))
    expected = by_hand(ranker_row[None], stars[None], ranked.item_counts > 0)[0]
    np.testing.assert_allclose(ranked.score_folded(folded), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        ranked.predict_new(given, list(given)), stars[folded.items], rtol=1e-6
    )


def test_a_model_directory_keeps_the_two_models(ranked, tmp_path):
    ranked.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert (config["model"], config["ranker"], config["blend"]) == ("dot-bias", "ease", BLEND)
    loaded = embedrec.load(tmp_path / "m")
    assert isinstance(loaded.model, Ranked) and loaded.model_name == ranked.model_name
    users = ranked.user_map.to_list()[:10]
    assert loaded.recommend(users, n=5).equals(ranked.recommend(users, n=5))
    served = embedrec.load(tmp_path / "m", arrays_only=True)  # numpy's sums, not torch's
    np.testing.assert_allclose(
        served.score_items(np.arange(5)), ranked.score_items(np.arange(5)), atol=1e-5
    )


def test_its_state_restores_it(ranked):
    model = ranked.model
    again = model.restored(model.config(), model.arrays())
    users = np.arange(6)
    stars = model.score_items(users)
    trained = ranked.item_counts > 0
    warm = np.ones(len(users), dtype=bool)
    np.testing.assert_array_equal(
        again.ranking(users, warm, stars, trained), model.ranking(users, warm, stars, trained)
    )


def test_a_ranking_model_with_a_ranker_predicts_no_ratings(split):
    rec = embedrec.train(split, model="ials", ranker="ease", blend=0.7, epochs=2, seed=0)
    assert not rec.model.predicts_ratings and rec.model_name == "ials+ease"
    with pytest.raises(embedrec.ModelError, match="predicts no ratings"):
        rec.predict([(rec.user_map.to_list()[0], rec.item_map.to_list()[0])])
    users = np.flatnonzero(rec.user_counts > 0)[:5]
    # nothing to blend: the lists are the ranker's own order
    ranker_scores = rec.model.ranker.score_items(users)
    order = np.argsort(-np.where(rec.item_counts > 0, ranker_scores, -np.inf), axis=1)[:, :5]
    assert (np.argsort(-rec.score_items(users), axis=1)[:, :5] == order).all()
    assert "rating" not in rec.recommend(rec.user_map.decode(users[:1])[0], n=3).columns


def test_it_refuses_parts_that_do_not_fit(ranked):
    rating, ranker = ranked.model.rating, ranked.model.ranker
    with pytest.raises(embedrec.ModelError, match="is a rating model"):
        Ranked(ranker, rating)
    smaller = embedrec.ratings_from_frame(low_rank_frame(n_users=10, n_items=8))
    other = embedrec.train(smaller, model="ease")
    with pytest.raises(embedrec.ModelError, match="the rating model's users and items"):
        Ranked(rating, other.model)


@pytest.mark.parametrize(
    "duplicate",
    [copy.deepcopy, lambda rec: pickle.loads(pickle.dumps(rec))],
    ids=["deepcopy", "pickle"],
)
def test_a_recommender_with_a_ranker_copies_and_pickles(ranked, split, duplicate):
    """The default model has a ranker beside it: a copy of it (a notebook's deepcopy, a process
    pool's pickle) recommends as the original, whichever kind of ranked model it holds."""
    rankers = embedrec.train(split, model="ials", ranker="ease", epochs=2, seed=0)
    for rec in (ranked, rankers):
        again = duplicate(rec)
        assert type(again.model) is type(rec.model) and again.model_name == rec.model_name
        user = rec.user_map.decode(np.flatnonzero(rec.user_counts > 0)[:1])[0]
        assert again.recommend(user, n=5).equals(rec.recommend(user, n=5))
