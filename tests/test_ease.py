"""EASE (Steck 2019): the closed form, what it recommends, files, limits, and its top-10 on
MovieLens 100k u1."""

import json

import numpy as np
import pytest

import embedrec
from embedrec import ModelError, random_split, ratings_from_frame
from embedrec.data.interactions import InteractionRule, Interactions
from embedrec.models.gram import dense_gram
from tests.conftest import low_rank_frame


@pytest.fixture(scope="module")
def split():
    return random_split(ratings_from_frame(low_rank_frame(n_users=50, n_items=40)), 0.2, 1)


@pytest.fixture(scope="module")
def rec(split):
    return embedrec.train(split, model="ease", l2=20.0)


def test_weights_are_steck_closed_form(split, rec):
    x = np.zeros((split.train.n_users, split.train.n_items))
    x[split.train.users, split.train.items] = 1.0
    p = np.linalg.inv(x.T @ x + 20.0 * np.eye(x.shape[1]))
    expected = -p / np.diag(p)[None, :]
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(rec.model.weights, expected, atol=1e-5)


def test_gram_matches_the_dense_product_with_weights(split):
    seen = Interactions.from_ratings(split.train, InteractionRule(weighting="rating"))
    x = np.zeros((split.train.n_users, split.train.n_items))
    x[split.train.users, split.train.items] = split.train.ratings
    np.testing.assert_allclose(dense_gram(seen), x.T @ x, rtol=1e-6)


def test_recommends_unseen_items_by_rated_set_times_b(split, rec):
    user = split.train.user_map.decode([0])[0]
    top = rec.recommend(user, n=5)
    seen = set(rec.item_map.decode(rec.seen(0)).tolist())
    assert len(top) == 5 and seen.isdisjoint(top["item"])
    assert top["score"].is_monotonic_decreasing
    rated = {item: 5.0 for item in rec.item_map.decode(rec.seen(0))}
    folded = rec.recommend(ratings=rated, n=5)
    assert folded["item"].tolist() == top["item"].tolist()  # a known user folds in to itself


def test_saves_loads_and_ranks_the_same(tmp_path, rec):
    rec.save(tmp_path / "m")
    loaded = embedrec.load(tmp_path / "m")
    assert loaded.model_name == "ease" and loaded.engine == "direct"
    users = np.arange(5)
    np.testing.assert_array_equal(loaded.score_items(users), rec.score_items(users))


def test_predicts_no_ratings(split, rec):
    with pytest.raises(ModelError, match="ranks items and predicts no ratings"):
        embedrec.evaluate(rec, split.valid)


def test_refuses_a_catalogue_past_its_memory_limit(split):
    with pytest.raises(ModelError, match=r"40 items need about .* --model ials"):
        embedrec.train(split, model="ease", max_gb=1e-9)


def test_bad_option_names_the_option(split):
    with pytest.raises(ModelError, match="l2"):
        embedrec.train(split, model="ease", l2=-1)
    with pytest.raises(ModelError, match="its options: l2"):
        embedrec.train(split, model="ease", lambda_=3)


@pytest.mark.slow
def test_top10_on_ml100k_u1_matches_the_published_ease(ml100k_dir):
    split = embedrec.load_movielens_fold(ml100k_dir, "u1")
    rec = embedrec.train(split, model="ease", l2=500.0)
    metrics = embedrec.evaluate_ranking(rec.score_items, split.train, split.valid, k=10)
    # issue 11's table: EASE at lambda 500 reaches precision@10 0.377, ndcg@10 0.448
    assert metrics["precision@10"] >= 0.37 and metrics["ndcg@10"] >= 0.44
    similar = rec.similar_items("Star Wars (1977)", n=3)["title"].tolist()
    assert "Return of the Jedi (1983)" in similar


def test_review_findings_are_handled(split, rec, tmp_path):
    # an average of ranking models would clip its scores to the rating scale: refused
    with pytest.raises(ModelError, match="an average blends rating models"):
        embedrec.train(split, model="average", members=[{"model": "ease"}, {"model": "ease"}])
    # a bad ranker option is an error, not a silently missing ranker
    with pytest.raises(ModelError, match="l2"):
        embedrec.train(split, epochs=2, ranker_options={"l2": "abc"})
    # k past the catalogue: a list of the whole catalogue, never an unlisted item as a hit
    whole = embedrec.evaluate_ranking(rec.score_items, split.train, split.valid, k=10_000)
    relevant = split.valid.ratings >= 4
    users = np.unique(split.valid.users[relevant])
    trained = split.train.item_counts() > 0
    seen = np.zeros((split.train.n_users, split.train.n_items), dtype=bool)
    seen[split.train.users, split.train.items] = True
    found = [trained[split.valid.items[relevant & (split.valid.users == u)]].mean() for u in users]
    assert whole["recall@40"] == pytest.approx(np.mean(found))  # every listable item found
    listable = trained & ~seen[users].all(axis=0)  # trained, and unseen by some user
    assert whole["coverage@40"] == pytest.approx(listable.mean())  # seen items never listed


def test_cli_evaluates_a_ranking_model_with_ranking_only(tmp_path):
    from typer.testing import CliRunner

    from embedrec.cli import app
    from tests.conftest import low_rank_frame

    data = tmp_path / "r.csv"
    low_rank_frame(n_users=30, n_items=20).to_csv(data, index=False)
    runner = CliRunner()
    trained = runner.invoke(
        app, ["train", "--data", str(data), "--model", "ease", "--out", str(tmp_path / "m")]
    )
    assert trained.exit_code == 0, trained.output
    plain = runner.invoke(app, ["evaluate", str(tmp_path / "m"), "--data", str(data)])
    assert plain.exit_code == 2 and "--ranking" in plain.output
    ranked = runner.invoke(
        app, ["evaluate", str(tmp_path / "m"), "--data", str(data), "--ranking", "--json"]
    )
    assert ranked.exit_code == 0, ranked.output
    assert "ndcg@10" in json.loads(ranked.stdout)["ranking"]
