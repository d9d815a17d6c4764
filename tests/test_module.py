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
    with pytest.raises(ModelError, match="cannot be folded"):
        rec.recommend(ratings={rec.item_map.decode([0])[0]: 5.0})
