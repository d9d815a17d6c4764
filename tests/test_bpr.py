"""BPR: a ranking kind added as one file on the objective seam. It learns a planted taste
structure better than popularity, is validated by NDCG@10, saves and loads, folds new users in,
and draws negatives among the items a user did not choose."""

import numpy as np
import pytest
import torch

import embedrec
from embedrec import ModelError, evaluate_ranking, popularity_scores, train
from embedrec.models.bpr import Pairwise
from tests.planted import taste_groups

SETTINGS = {"model": "bpr", "n_factors": 16, "epochs": 15, "bs": 128, "lr": 1e-2, "seed": 0}


@pytest.fixture(scope="module")
def split():
    return taste_groups(interactions=True)


@pytest.fixture(scope="module")
def rec(split):
    return train(split, **SETTINGS)


def ndcg(score_fn, split):
    return evaluate_ranking(score_fn, split.train, split.valid, 10, None)["ndcg@10"]


def test_ranks_a_planted_structure_above_popularity(split, rec):
    assert ndcg(rec.score_items, split) > 1.5 * ndcg(popularity_scores(split.train), split)
    assert rec.history[-1].train_loss < 0.7 * rec.history[0].train_loss
    assert rec.history[-1].metric == "ndcg@10"
    assert rec.history[-1].valid_metric == pytest.approx(ndcg(rec.score_items, split))


def test_saves_and_loads(split, rec, tmp_path):
    rec.save(tmp_path / "m")
    loaded = embedrec.load(tmp_path / "m")
    assert loaded.config.model == "bpr"
    users = np.arange(split.train.n_users)
    np.testing.assert_array_equal(loaded.score_items(users), rec.score_items(users))


def test_folds_a_new_user_into_their_taste_group(rec):
    group = [item for item in rec.item_map.ids if item % 3 == 1][:8]  # items of one group
    lists = rec.recommend(ratings={item: 1.0 for item in group}, n=10)
    assert (lists["item"] % 3 == 1).mean() >= 0.8
    again = rec.recommend(ratings={item: 1.0 for item in group}, n=10)
    assert lists["item"].tolist() == again["item"].tolist()  # seeded: the same list


def test_negatives_are_never_chosen_items():
    users = np.repeat(np.arange(4), 5)
    items = np.tile(np.arange(5), 4)  # each user chose items 0-4 of 8
    pairs = Pairwise(n_items=8, min_rating=None)
    pairs.load(users, items, np.ones(20, np.float32), torch.device("cpu"), seed=0)
    drawn = pairs.negatives(torch.as_tensor(np.repeat(np.arange(4), 500)))
    assert set(drawn.tolist()) == {5, 6, 7}


def test_min_rating_keeps_low_ratings_out_of_the_positives():
    pairs = Pairwise(n_items=3, min_rating=4.0)
    pairs.load(
        np.array([0, 0]), np.array([0, 1]), np.array([5.0, 2.0], np.float32), torch.device("cpu"), 0
    )
    _, _, negatives, weights = pairs.batch(torch.arange(2))
    assert weights.tolist() == [1.0, 0.0]
    assert set(negatives.tolist()) == {2}  # the low-rated item is not drawn as a negative either


def test_ranks_only(rec):
    assert not rec.model.predicts_ratings
    with pytest.raises(ModelError):
        rec.predict([(rec.user_map.ids[0], rec.item_map.ids[0])])
