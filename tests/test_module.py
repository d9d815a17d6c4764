"""Your own module, as the chapter writes it, trained through the public API."""

import numpy as np
import pytest
import torch
from torch import nn

import embedrec
from embedrec import ModelError, random_split, ratings_from_frame
from tests.conftest import low_rank_frame


def create_params(size):
    return nn.Parameter(torch.zeros(*size).normal_(0, 0.01))


class HandMadeDotProductBias(nn.Module):
    """The chapter's DotProductBias, built from nn.Parameters."""

    def __init__(self, n_users, n_movies, n_factors, y_range=(0, 5.5)):
        super().__init__()
        self.user_factors = create_params([n_users, n_factors])
        self.user_bias = create_params([n_users])
        self.movie_factors = create_params([n_movies, n_factors])
        self.movie_bias = create_params([n_movies])
        self.y_range = y_range

    def forward(self, users, items):
        res = (self.user_factors[users] * self.movie_factors[items]).sum(dim=1)
        res += self.user_bias[users] + self.movie_bias[items]
        low, high = self.y_range
        return torch.sigmoid(res) * (high - low) + low


@pytest.fixture(scope="module")
def split():
    return random_split(ratings_from_frame(low_rank_frame(n_users=50, n_items=40)), 0.2, 3)


def test_trains_predicts_recommends_saves_and_loads(split, tmp_path):
    torch.manual_seed(0)
    module = HandMadeDotProductBias(split.train.n_users, split.train.n_items, 8)
    rec = embedrec.train(split, model=module, epochs=8, lr=0.05, wd=0.01, bs=32)
    assert rec.model_name == "module" and rec.engine == "torch"
    assert [h.epoch for h in rec.history] == list(range(8))
    baseline = float(np.sqrt(np.mean((split.valid.ratings - split.train.ratings.mean()) ** 2)))
    assert embedrec.evaluate(rec, split.valid)["rmse"] < baseline
    user = rec.user_map.decode([0])[0]
    top = rec.recommend(user, n=5)
    assert len(top) == 5 and set(top["item"]).isdisjoint(rec.item_map.decode(rec.seen(0)))
    assert rec.weight(None, is_item=False).shape == (split.train.n_users, 8)  # user_factors
    rec.save(tmp_path / "m")
    with pytest.raises(ModelError, match="pass an instance"):
        embedrec.load(tmp_path / "m")
    fresh = HandMadeDotProductBias(split.train.n_users, split.train.n_items, 8)
    loaded = embedrec.load(tmp_path / "m", network=fresh)
    pairs = (split.valid.users, split.valid.items)
    np.testing.assert_array_equal(loaded.predict_indices(*pairs), rec.predict_indices(*pairs))


def test_a_new_user_is_folded_into_the_hand_made_model(split):
    """Folded in from a trained user's own ratings, the new user's predicted ratings follow
    that user's (through the module's own forward; the trained weights never move)."""
    torch.manual_seed(0)
    module = HandMadeDotProductBias(split.train.n_users, split.train.n_items, 8)
    rec = embedrec.train(split, model=module, epochs=8, lr=0.05, wd=0.01, bs=32)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    mine = split.train.users == 0
    items, ratings = split.train.items[mine], split.train.ratings[mine]
    raw = dict(zip(rec.item_map.decode(items).tolist(), ratings.tolist()))
    listed = rec.recommend(ratings=raw, n=10)
    assert len(listed) == 10 and "fallback" not in listed.columns
    assert set(listed["item"]).isdisjoint(raw)
    folded = rec.model.score_folded(rec.model.fold_in(items, ratings))
    trained = rec.rating_scores(np.array([0]))[0]
    rated = rec.item_counts > 0
    assert np.corrcoef(folded[rated], trained[rated])[0, 1] > 0.8
    for key, value in module.state_dict().items():
        assert torch.equal(value, before[key])


class HashedUsers(nn.Module):
    """A module with no per-user table: nothing to add a row to."""

    def __init__(self, n_items):
        super().__init__()
        self.item_factors = nn.Embedding(n_items, 4)
        self.user_hash = nn.Embedding(7, 4)

    def forward(self, users, items):
        return (self.user_hash(users % 7) * self.item_factors(items)).sum(1) + 3


def test_a_module_without_user_tables_says_it_folds_in_nobody(split):
    rec = embedrec.train(split, model=HashedUsers(split.train.n_items), epochs=1)
    with pytest.raises(ModelError, match="no per-user parameter tables"):
        rec.recommend(ratings={rec.item_map.decode([0])[0]: 5.0})
