"""Implicit ALS: what it learns, its fold-in, determinism across thread counts, its options."""

import numpy as np
import pandas as pd
import pytest

import embedrec
from embedrec import ModelError, random_split, ratings_from_frame


@pytest.fixture(scope="module")
def split():
    """Three taste groups: a user picks most of their items from their own group's."""
    rng = np.random.default_rng(3)
    users, items = np.meshgrid(np.arange(90), np.arange(60), indexing="ij")
    own = users % 3 == items % 3
    chosen = rng.random(users.shape) < np.where(own, 0.5, 0.04)
    frame = pd.DataFrame(
        {
            "user": users[chosen],
            "item": items[chosen],
            "rating": rng.integers(1, 6, int(chosen.sum())),
        }
    )
    return random_split(ratings_from_frame(frame), 0.2, 1)


def test_ranks_held_out_items_above_popularity(split):
    rec = embedrec.train(split, model="ials", n_factors=16, epochs=10)
    ours = embedrec.evaluate_ranking(rec.score_items, split.train, split.valid, k=5, threshold=None)
    popular = embedrec.popularity_scores(split.train)
    base = embedrec.evaluate_ranking(popular, split.train, split.valid, k=5, threshold=None)
    assert ours["ndcg@5"] > base["ndcg@5"]
    assert rec.history[-1].train_loss < rec.history[0].train_loss  # the CG sweeps descend


def test_same_model_on_one_thread_and_two(split):
    one = embedrec.train(split, model="ials", n_factors=8, epochs=3, threads=1)
    two = embedrec.train(split, model="ials", n_factors=8, epochs=3, threads=2)
    np.testing.assert_allclose(one.model.user_factors, two.model.user_factors, rtol=1e-5)


def test_fold_in_is_the_least_squares_solve_of_a_known_user(split):
    rec = embedrec.train(split, model="ials", n_factors=8, epochs=20, cg_steps=8)
    user = 0
    items = rec.seen(user)
    folded = rec.model.fold_in(items, np.full(len(items), 4.0, dtype=np.float32))
    # after many sweeps a training user's vector is (nearly) the solve its fold-in makes
    cosine = folded @ rec.model.user_factors[user]
    cosine /= np.linalg.norm(folded) * np.linalg.norm(rec.model.user_factors[user])
    assert cosine > 0.95
    top = rec.recommend(ratings=dict.fromkeys(rec.item_map.decode(items), 4.0), n=5)
    assert set(top["item"]).isdisjoint(rec.item_map.decode(items))


def test_options_are_checked(split):
    with pytest.raises(ModelError, match="alpha0"):
        embedrec.train(split, model="ials", alpha0=0)
    with pytest.raises(ModelError, match="predicts no ratings"):
        embedrec.evaluate(embedrec.train(split, model="ials", epochs=1), split.valid)
