"""Averages of models: the weighted mean of the members' predictions, trained, saved, served
and folded into like one model."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from embedrec import ModelError, Recommender, TrainConfig, random_split, ratings_from_frame, train
from embedrec.cli import app
from embedrec.models import AverageKind, DotProductBias, DotProductBiasKind, resolve
from tests.conftest import low_rank_frame

MEMBERS = [{"model": "dot-bias", "epochs": 4, "lr": 3e-2}, {"model": "nn", "epochs": 2}]


@pytest.fixture(scope="module")
def split():
    frame = low_rank_frame(n_users=50, n_items=40, density=0.5, seed=21)
    return random_split(ratings_from_frame(frame, rating_scale=(1, 5)), 0.2, 0)


@pytest.fixture(scope="module")
def average(split):
    return train(split, model="average", members=MEMBERS, weights=[3, 1])


def test_average_is_the_weighted_mean_of_its_members(split, average):
    dot, nn_model = (
        train(split, config)
        for config in AverageKind.members_of(TrainConfig(model="average", members=MEMBERS))
    )
    users, items = split.valid.users, split.valid.items
    want = 0.75 * dot.model.predict(users, items) + 0.25 * nn_model.model.predict(users, items)
    got = average.model.predict(users, items)
    assert np.allclose(got, want, atol=1e-5)
    assert average.model_name == "average" and average.model.weights == [0.75, 0.25]
    assert len(average.history) == 4 + 2


def test_batch_scores_match_pairwise_predictions(split, average):
    user = split.valid.users[0]
    scores = average.score_items([user])[0]
    pairwise = average.predict_indices(np.full(len(scores), user), np.arange(len(scores)))
    trained = average.item_counts > 0
    assert np.allclose(scores[trained], pairwise[trained], atol=1e-4)


def test_average_saves_loads_recommends_and_folds_in(split, average, tmp_path):
    average.save(tmp_path / "avg")
    loaded = Recommender.load(tmp_path / "avg")
    users, items = split.valid.users, split.valid.items
    assert np.allclose(average.predict_indices(users, items), loaded.predict_indices(users, items))
    assert loaded.config.options["members"] == MEMBERS and loaded.model_name == "average"
    assert len(loaded.recommend(split.train.user_map.decode([0])[0], n=5)) == 5
    folded = loaded.recommend(ratings={100: 5, 101: 5, 102: 1}, n=4)
    assert len(folded) == 4 and not {100, 101, 102} & set(folded["item"])
    assert len(loaded.similar_items(100, n=3, min_ratings=1)) == 3


def test_default_members_are_bmf_chains_with_their_own_seeds():
    configs = [resolve(c) for c in AverageKind.members_of(TrainConfig(model="average", seed=5))]
    assert [(c.model, c.seed, c.n_factors) for c in configs] == [("bmf", s, 10) for s in (5, 6, 7)]


def test_options_set_on_the_average_apply_to_members_that_do_not_set_them():
    members = [{"model": "dot-bias"}, {"model": "nn", "epochs": 7}]
    config = TrainConfig(model="average", members=members, epochs=2, wd=0.05, dropout=0.2)
    configs = AverageKind.members_of(config)
    assert [(c.epochs, c.wd) for c in configs] == [(2, 0.05), (7, 0.05)]
    # an option of one kind goes to the members of that kind only
    assert [c.options for c in configs] == [{}, {"dropout": 0.2}]
    with pytest.raises(ModelError, match="l2: no member's kind takes them"):
        AverageKind.members_of(TrainConfig(model="average", members=members, options={"l2": 3.0}))


def test_bad_averages_are_refused():
    with pytest.raises(ModelError, match="one non-negative weight per member"):
        resolve(TrainConfig(model="average", members=MEMBERS, weights=[1.0]))
    with pytest.raises(ModelError, match="not another average"):
        resolve(TrainConfig(model="average", members=[{"model": "average"}]))
    with pytest.raises(
        ModelError, match=r"weights.0 \(--weights\): Input should be greater than or equal"
    ):
        resolve(TrainConfig(model="average", members=MEMBERS, weights=[-1.0, 2.0]))
    with pytest.raises(ModelError, match="same users and items"):
        AverageKind([_dot(3, 4), _dot(3, 5)])


def _dot(n_users, n_items):
    return DotProductBiasKind(DotProductBias(n_users, n_items, n_factors=2))


def test_cli_trains_an_average_of_named_members(tmp_path):
    data = tmp_path / "r.csv"
    low_rank_frame(seed=3).to_csv(data, index=False)
    result = CliRunner().invoke(
        app,
        ["train", "--data", str(data), "--out", str(tmp_path / "m"), "--json"]
        + "--members dot-bias,nn --weights 0.7,0.3 --epochs 2".split(),
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["model"] == "average" and report["config"]["options"]["weights"] == [0.7, 0.3]
    assert Recommender.load(tmp_path / "m").model.weights == pytest.approx([0.7, 0.3])


def test_a_members_own_options_win_over_the_averages():
    """What a member names (at its top level or under "options") is its own; the average's
    options fill in only what it leaves unset."""
    config = TrainConfig(
        model="average",
        members=[
            {"model": "bmf", "options": {"shrink": 5, "implicit": True}},
            {"model": "bmf", "shrink": 7},
            {"model": "bmf"},
        ],
        options={"shrink": 2, "implicit": False},
    )
    assert [m.options for m in AverageKind.members_of(config)] == [
        {"shrink": 5, "implicit": True},
        {"shrink": 7, "implicit": False},
        {"shrink": 2, "implicit": False},
    ]
