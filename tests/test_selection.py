"""The default model is chosen on a validation set carved from the training side: what a user
checks is which candidates were tried, that the kept one scored best there, that the test side
never sways the choice, and that the choice is printed and saved with the model."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import embedrec
from embedrec import selection
from embedrec.cli import app
from embedrec.data.splits import Split
from tests.conftest import low_rank_frame


@pytest.fixture(scope="module")
def ratings():
    return embedrec.ratings_from_frame(low_rank_frame(n_users=50, n_items=30, density=0.4, seed=3))


@pytest.fixture(scope="module")
def base(ratings):
    return embedrec.random_split(ratings, valid_pct=0.2, seed=1)


@pytest.fixture(scope="module")
def default(base):
    return embedrec.train(base)


def _tried(rec, role):
    return [t for t in rec.selection if t["role"] == role and t["value"] is not None]


def test_the_kept_rating_model_scored_best_on_the_carved_rows(default):
    tried = _tried(default, "rating model")
    assert {t["label"].split()[0] for t in tried} == {"bmf", "bias", "dot-bias"}
    kept = [t for t in tried if t["kept"]]
    assert len(kept) == 1 and kept[0]["value"] == min(t["value"] for t in tried)
    assert default.model_name.split("+")[0] == kept[0]["label"].split()[0]  # bmf+ease


def test_the_kept_ranker_is_never_below_popularity(default):
    tried = _tried(default, "ranker")
    popular = next(t for t in tried if t["label"] == "most popular items")
    kept = next(t for t in tried if t["kept"])
    assert kept["value"] == max(t["value"] for t in tried) >= popular["value"]
    assert any(t["label"].startswith("ease") for t in tried)  # 30 items: EASE fits
    assert default.ranker is not None
    blends = _tried(default, "blend")
    kept_blend = next(t for t in blends if t["kept"])
    assert float(kept_blend["label"].split()[0]) == default.blend


def test_the_test_side_never_sways_the_choice(base, default):
    """Two splits with the same training side and different test sides choose alike."""
    other = Split(base.train, base.valid.subset(np.arange(len(base.valid)) % 2 == 0))
    first, second = default, embedrec.train(other)
    assert first.selection == [
        {**t, "seconds": s["seconds"]} for t, s in zip(second.selection, first.selection)
    ]
    assert first.config == second.config


def test_timestamps_never_sway_the_choice_nor_the_model(base, default):
    """`embedrec train` drops the timestamps once the split is made, and the choice carves
    its copies without them (memory): the same seed chooses and trains the same model."""
    assert base.train.timestamps is not None
    lean = embedrec.train(base.without_timestamps())
    assert lean.selection == [
        {**t, "seconds": s["seconds"]} for t, s in zip(default.selection, lean.selection)
    ]
    assert lean.config == default.config
    pairs = base.valid.to_frame(titles=False)[["user", "item"]]
    np.testing.assert_array_equal(lean.predict(pairs)["score"], default.predict(pairs)["score"])
    user = pairs["user"].iloc[0]
    pd.testing.assert_frame_equal(lean.recommend(user), default.recommend(user))


def test_a_named_model_is_trained_as_named(ratings):
    rec = embedrec.train(ratings, model="bmf", epochs=20)
    assert rec.selection is None and rec.model_name == "bmf" and rec.ranker is None


def test_model_options_without_a_model_are_refused(ratings):
    with pytest.raises(embedrec.ModelError, match="belong to a named model"):
        embedrec.train(ratings, l2=300)


def test_over_the_budget_the_data_rule_is_kept_untried(ratings, monkeypatch):
    monkeypatch.setattr(selection, "MIN_BUDGET_SECONDS", 0.0)
    monkeypatch.setattr(selection, "BUDGET_SHARE", 1e-9)
    rec = embedrec.train(ratings)
    rating = [t for t in rec.selection if t["role"] == "rating model"]
    assert all(t["note"] == "over the budget" for t in rating)
    assert rating[0]["kept"] and "data rule" in rating[0]["label"]
    assert rec.model_name.startswith("bmf+") and rec.blend == selection.UNTRIED_BLEND
    # popularity and the first personal ranker are always tried: the floor is always checked
    assert len(_tried(rec, "ranker")) == 2


def test_the_choice_is_printed_and_saved(tmp_path):
    data = tmp_path / "ratings.csv"
    low_rank_frame(n_users=50, n_items=30, seed=5).to_csv(data, index=False)
    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "carved out for validation" in result.output and "<- kept" in result.output
    loaded = embedrec.load(out)
    assert loaded.selection is not None
    assert sum(t["kept"] for t in loaded.selection if t["role"] == "rating model") == 1


def test_similar_on_a_small_catalogue_lowers_the_floor_and_says_so(default):
    item = default.item_map.ids[0]  # 6 of the 30 items have 20 training ratings
    with pytest.warns(embedrec.EmbedrecWarning, match="fewer than 10 items have 20"):
        frame = default.similar_items(item, n=10)
    assert len(frame) == 10 and frame["n_ratings"].min() < embedrec.MIN_RATINGS
    assert default.similar_items(item, n=10, min_ratings=100).empty  # a floor given is kept


def test_on_counts_the_weight_of_a_count_is_chosen_too():
    """A catalogue too large for EASE's solve: iALS's regularization and, on play counts, the
    confidence a count earns are tried on the carved rows."""
    rng = np.random.default_rng(0)
    items = np.arange(16_000)  # past EASE's 4 GB items x items limit (20 bytes a cell)
    frame = pd.DataFrame({"user": items % 60, "item": items, "plays": rng.integers(1, 50, 16_000)})
    rec = embedrec.train(embedrec.ratings_from_frame(frame), epochs=2, n_factors=4)
    labels = [t["label"] for t in rec.selection]
    assert any("alpha 1" in label for label in labels) and any(
        "alpha 10" in label for label in labels
    )
    assert not any(label.startswith("ease") for label in labels)


def test_the_bias_baseline_is_a_model_the_default_can_keep(tmp_path):
    """Ratings that are user + item offsets and noise: factors add only noise."""
    rng = np.random.default_rng(1)
    users, items = rng.integers(0, 80, 3000), rng.integers(0, 60, 3000)
    offsets = rng.normal(0, 0.7, 80)[users] + rng.normal(0, 0.7, 60)[items]
    noisy = np.clip(np.round(3 + offsets + rng.normal(0, 1.0, 3000)), 1, 5)
    frame = pd.DataFrame({"user": users, "item": items, "rating": noisy})
    ratings = embedrec.ratings_from_frame(frame, rating_scale=(1, 5))
    rec = embedrec.train(ratings, ranker=None)
    tried = {t["label"].split()[0]: t["value"] for t in rec.selection if t["value"] is not None}
    assert "bias" in tried and rec.model.name == min(tried, key=tried.get)
    alone = embedrec.train(ratings, model="bias")
    saved = embedrec.load(alone.save(tmp_path / "bias"))
    np.testing.assert_allclose(
        saved.predict([(0, 0), (1, 2)])["score"], alone.predict([(0, 0), (1, 2)])["score"]
    )
    assert saved.recommend(ratings={1: 5, 2: 1}, n=3)["item"].tolist()  # folds a new user in


def test_a_candidates_cost_is_planned_at_its_kinds_own_size(ratings):
    """iALS trains 64 factors for 16 epochs unless told otherwise: so the budget plans it."""
    planned = selection.estimate_seconds(embedrec.TrainConfig(model="ials"), ratings)
    spelled = embedrec.TrainConfig(model="ials", n_factors=64, epochs=16)
    assert planned == selection.estimate_seconds(spelled, ratings)
    assert planned > selection.estimate_seconds(spelled.replace(n_factors=10), ratings)
