"""Model kinds by name: every registered kind builds, trains, saves, loads and predicts the same
numbers after loading; and the options a kind reads do what they say (`nn`'s `n_factors`)."""

import numpy as np
import pytest
from torch import nn

import embedrec
from embedrec import TrainConfig, embedding_size, random_split, ratings_from_frame, train
from embedrec.models import KINDS, build, get_kind, model_names
from tests.conftest import low_rank_frame


@pytest.fixture(scope="module")
def tiny():
    frame = low_rank_frame(n_users=24, n_items=18, density=0.6, seed=4)
    frame["title"] = [f"Film {i}" for i in frame["item"]]
    return random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)


def test_every_kind_is_registered_under_its_own_name():
    # every kind but a user's own module (train(model=MyModule(...))) is built by name
    assert model_names() == [name for name in KINDS if name != "module"]
    assert {"dot", "dot-bias", "bmf", "nn", "average", "ease", "ials"} <= set(model_names())
    for name in KINDS:
        assert get_kind(name).name == name


@pytest.mark.parametrize("name", model_names())
def test_every_kind_builds_trains_saves_and_predicts_the_same_after_load(name, tiny, tmp_path):
    kind = get_kind(name)
    fresh = build(TrainConfig(model=name), tiny.train)
    assert isinstance(fresh, kind)
    assert (fresh.n_users, fresh.n_items) == (tiny.train.n_users, tiny.train.n_items)

    rec = train(tiny, model=name, epochs=1)
    assert rec.model.name == name and isinstance(rec.model, kind)
    assert len(rec.history) >= 1

    rec.save(tmp_path / name)
    loaded = embedrec.load(tmp_path / name)
    assert type(loaded.model) is type(rec.model)
    assert type(loaded.ranker) is type(rec.ranker)  # a ranking model beside it, if any
    assert loaded.model_name == rec.model_name and loaded.engine == rec.engine
    assert loaded.config == rec.config

    users, items = tiny.valid.users, tiny.valid.items
    assert np.array_equal(loaded.model.predict(users, items), rec.model.predict(users, items))
    every_user = np.arange(rec.n_users)
    assert np.array_equal(loaded.score_items(every_user), rec.score_items(every_user))
    if kind.predicts_ratings:
        assert np.array_equal(
            loaded.predict_indices(users, items), rec.predict_indices(users, items)
        )
    known_user = rec.user_map.ids[0]
    assert loaded.recommend(known_user, n=5).equals(rec.recommend(known_user, n=5))
    new_user = {100: 5, 101: 1, "Film 102": 4}
    assert loaded.recommend(ratings=new_user, n=5).equals(rec.recommend(ratings=new_user, n=5))


def test_nn_n_factors_is_the_width_of_both_embeddings(tiny, tmp_path):
    rec = train(tiny, model="nn", n_factors=12, epochs=1)
    network = rec.model.network
    assert network.user_factors.weight.shape == (tiny.train.n_users, 12)
    assert network.item_factors.weight.shape == (tiny.train.n_items, 12)
    first = next(m for m in network.mlp if isinstance(m, nn.Linear))
    assert first.in_features == 12 + 12
    assert rec.weight(is_item=True).shape[1] == rec.weight(is_item=False).shape[1] == 12
    rec.save(tmp_path / "m")
    loaded = embedrec.load(tmp_path / "m").model.network
    assert (loaded.user_size, loaded.item_size) == (12, 12)


def test_nn_without_n_factors_takes_fastais_size_rule(tiny):
    network = train(tiny, model="nn", epochs=1).model.network
    assert network.user_factors.weight.shape[1] == embedding_size(tiny.train.n_users)
    assert network.item_factors.weight.shape[1] == embedding_size(tiny.train.n_items)
