"""Interactions without ratings (plays, clicks, purchases): a table of which items each user
chose, maybe with a count and a timestamp, loads, trains a ranking model by default, and that
model recommends, folds a new user in from a list of items, finds similar items, saves and
loads; what it cannot do (predict, RMSE, a rating model) is refused with a line saying why."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import embedrec
from embedrec import DataError, ModelError
from embedrec.data import InteractionRule
from tests.hostile import assert_refused, invoke

LASTFM = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "lastfm"
    / "hetrec2011-lastfm-2k"
    / "user_artists.dat"
)

# two tastes: users 1-6 play the a-artists, users 7-12 the b-artists; plays differ per row
GROUPS = {"a": ["a1", "a2", "a3", "a4"], "b": ["b1", "b2", "b3", "b4"]}


def plays_rows() -> list[tuple[int, str, int]]:
    rows = []
    for user in range(1, 13):
        group = GROUPS["a" if user <= 6 else "b"]
        for k, item in enumerate(group):
            if (user + k) % 4 != 0:  # each user misses one item of their group
                rows.append((user, item, 1 + (user * 7 + k * 3) % 20))
    return rows


@pytest.fixture
def plays_file(tmp_path) -> Path:
    path = tmp_path / "plays.tsv"
    lines = ["user\tartist\tplays"] + [f"{u}\t{i}\t{p}" for u, i, p in plays_rows()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def plays_model(tmp_path, plays_file) -> Path:
    result = invoke("train", "--data", plays_file, "--out", tmp_path / "m", "--valid-pct", "0")
    assert result.exit_code == 0, result.output
    return tmp_path / "m"


# ---- loading -------------------------------------------------------------------------------
def test_a_plays_file_loads_as_interactions_weighted_by_its_counts(plays_file):
    ratings = embedrec.load_ratings(plays_file)
    assert ratings.interactions
    frame = ratings.to_frame()
    expected = pd.DataFrame(plays_rows(), columns=["user", "item", "rating"])
    merged = frame.merge(expected, on=["user", "item"], suffixes=("", "_file"))
    assert len(merged) == len(expected) == len(ratings)
    assert np.array_equal(merged["rating"], merged["rating_file"])
    assert any("interactions" in note and "'plays'" in note for note in ratings.notes)


def test_a_file_of_two_id_columns_is_interactions_each_weighing_1(tmp_path):
    path = tmp_path / "clicks.csv"
    path.write_text("customer_id,sku,timestamp\nc1,s1,100\nc1,s2,200\nc2,s1,300\n")
    ratings = embedrec.load_ratings(path)
    assert ratings.interactions and ratings.ratings.tolist() == [1.0, 1.0, 1.0]
    assert ratings.timestamps is not None and sorted(ratings.timestamps) == [100, 200, 300]
    headerless = tmp_path / "pairs.txt"
    headerless.write_text("1 7\n1 8\n2 7\n")
    assert embedrec.load_ratings(headerless).interactions


def test_a_rating_column_keeps_a_table_ratings():
    frame = pd.DataFrame({"user": [1, 2], "item": [5, 6], "rating": [4.0, 2.0]})
    assert not embedrec.ratings_from_frame(frame).interactions


def test_weight_col_names_the_count_in_python_and_on_the_command_line(tmp_path):
    frame = pd.DataFrame({"user": [1, 1, 2], "item": [5, 6, 5], "n_orders": [2, 1, 4]})
    ratings = embedrec.load_ratings(frame, weight_col="n_orders")
    assert ratings.interactions and sorted(ratings.ratings.tolist()) == [1.0, 2.0, 4.0]
    path = tmp_path / "orders.csv"
    frame.to_csv(path, index=False)
    assert embedrec.read_ratings(path, weight_col="n_orders").interactions
    # without the option the column is neither a rating nor a count it knows: asked about
    with pytest.raises(DataError, match="--weight-col"):
        embedrec.load_ratings(path)
    result = invoke("train", "--data", path, "--weight-col", "n_orders", "--out", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert embedrec.load(tmp_path / "m").interactions


def test_a_rating_and_a_weight_column_both_named_is_an_error():
    frame = pd.DataFrame({"user": [1], "item": [5], "rating": [4.0], "plays": [3]})
    with pytest.raises(DataError, match="not both"):
        embedrec.ratings_from_frame(frame, rating_col="rating", weight_col="plays")


def test_repeated_pairs_sum_their_weights_at_the_latest_time_and_zero_rows_drop(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "user,item,quantity,timestamp\nu1,x,2,100\nu1,y,0,150\nu1,x,3,300\nu2,x,1,200\nu1,x,1,250\n"
    )
    ratings = embedrec.load_ratings(path)
    frame = ratings.to_frame().set_index(["user", "item"])
    assert frame.loc[("u1", "x"), "rating"] == 6.0  # 2 + 3 + 1 orders of the same item
    assert frame.loc[("u1", "x"), "timestamp"] == 300
    assert ("u1", "y") not in frame.index  # a quantity of 0 is no purchase
    assert any("summed" in note for note in ratings.notes)
    assert any("weight 0 dropped" in note for note in ratings.notes)


@pytest.mark.parametrize(
    "value, shown",
    [("-3", "-3, a negative weight"), ("", "empty"), ("many", "'many', not a number")],
)
def test_a_bad_weight_is_one_line_naming_file_line_and_column(tmp_path, value, shown):
    path = tmp_path / "plays.csv"
    path.write_text(f"user,item,plays\n1,a,4\n2,b,{value}\n3,c,1\n")
    with pytest.raises(DataError) as info:
        embedrec.load_ratings(path)
    assert f"{path} line 3: field 'plays' is {shown}" in str(info.value)
    assert_refused(
        invoke("train", "--data", path, "--out", tmp_path / "m"), f"{path} line 3", "'plays'"
    )


def test_log_weighting_damps_counts():
    weights = InteractionRule(weighting="log").weigh(np.array([0.0, 1.0, np.e - 1]))
    assert np.allclose(weights, [0.0, np.log(2.0), 1.0])


# ---- training ------------------------------------------------------------------------------
def test_a_rating_model_on_interactions_is_refused_naming_the_ranking_models(plays_file, tmp_path):
    ratings = embedrec.load_ratings(plays_file)
    rankers = embedrec.models.ranking_names()
    assert {"ease", "ials"} <= set(rankers)
    for model in ("dot-bias", "bmf", "nn", "average"):
        with pytest.raises(ModelError, match="needs ratings") as info:
            embedrec.train(ratings, model=model)
        assert all(name in str(info.value) for name in rankers)
    assert_refused(
        invoke("train", "--data", plays_file, "--model", "bmf", "--out", tmp_path / "m"),
        "needs ratings",
        "ease, ials",
    )


def test_train_without_a_model_picks_a_ranking_model_that_fits(plays_file):
    ratings = embedrec.load_ratings(plays_file)
    rec = embedrec.train(ratings)
    assert rec.model.name == "ease" and not rec.model.predicts_ratings and rec.interactions


def test_a_catalogue_too_large_for_ease_trains_ials_weighing_counts_by_their_log():
    n_items = 16_000  # ease's items x items solve would need over its 4 GB limit
    items = np.arange(n_items)
    frame = pd.DataFrame({"user": items % 50, "item": items, "plays": 1 + items % 7})
    plays = embedrec.ratings_from_frame(frame)
    rec = embedrec.train(plays, epochs=1, n_factors=4)
    tried = {t["label"].split()[0] for t in rec.selection if t["value"] is not None}
    assert tried == {"most", "ials"}  # the most popular items, and ials instead of ease
    # one play per user and item: nothing to learn, so the default keeps the popularity floor
    assert rec.model.name == "popular"
    rec = embedrec.train(plays, model="ials", epochs=1, n_factors=4)
    assert rec.config.options["weighting"] == "log" and rec.config.options["alpha"] > 0


def test_ials_on_equal_weights_counts_each_item_once():
    frame = pd.DataFrame({"user": [1, 1, 2, 3], "item": [5, 6, 5, 6]})
    rec = embedrec.train(embedrec.ratings_from_frame(frame), model="ials", epochs=1)
    assert rec.config.options["weighting"] == "binary"


def test_cli_train_on_a_plays_file_says_what_it_chose(plays_file, tmp_path):
    result = invoke("train", "--data", plays_file, "--out", tmp_path / "m")
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())
    assert "training interactions carved out for validation" in shown
    assert "valid interactions" in shown and "most popular items" in shown
    kept = [t["label"] for t in embedrec.load(tmp_path / "m").selection if t["kept"]]
    name = kept[0].split()[0].replace("most", "popular")  # "most popular items", "ease l2 500"
    assert len(kept) == 1 and f"saved {name} model" in shown


# ---- using the model -----------------------------------------------------------------------
def test_recommend_and_similar_work_on_an_interaction_model(plays_model):
    result = invoke("recommend", plays_model, "--user", "1", "--json")
    assert result.exit_code == 0, result.output
    items = [row["item"] for row in json.loads(result.output)["items"]]
    assert items[0] == "a4"  # user 1 played a1-a3: their group's last artist comes first
    result = invoke("similar", plays_model, "a1", "--min-ratings", "0", "--json", "-n", "3")
    assert result.exit_code == 0, result.output
    assert {row["item"] for row in json.loads(result.output)["similar"]} <= set(GROUPS["a"])


def test_the_tables_and_notes_speak_of_interactions(plays_model, plays_file):
    table = invoke("recommend", plays_model, "--user", "1", "-n", "2")
    assert table.exit_code == 0, table.output
    header = table.output.splitlines()[2]  # after the table's title and top border
    assert "item" in header and "score" in header and "title" not in header  # no titles here
    scored = invoke("evaluate", plays_model, "--test", plays_file, "--ranking")
    assert scored.exit_code == 0, scored.output
    shown = " ".join(scored.output.split())
    assert f"{len(plays_rows())} of {len(plays_rows())} test rows are interactions" in shown


def test_a_new_user_folds_in_from_the_items_they_chose(plays_model):
    rec = embedrec.load(plays_model)
    top = rec.recommend(liked=["b1", "b2"], n=2)
    assert set(top["item"]) == {"b3", "b4"}  # their taste's other items, not what they chose
    result = invoke("recommend", plays_model, "--liked", "a1,a2", "-n", "2", "--json")
    assert result.exit_code == 0, result.output
    assert {row["item"] for row in json.loads(result.output)["items"]} == {"a3", "a4"}


def test_a_new_user_with_nothing_to_go_on_gets_the_most_popular_items(plays_model):
    rec = embedrec.load(plays_model)
    top = rec.recommend(liked=[], n=3)
    counts = pd.DataFrame(plays_rows(), columns=["user", "item", "plays"])["item"].value_counts()
    assert (top["fallback"] == "popular").all()
    assert top["score"].tolist() == sorted(counts.to_numpy().tolist(), reverse=True)[:3]


def test_liked_on_a_rating_model_says_to_give_ratings(small_frame):
    rec = embedrec.train(embedrec.ratings_from_frame(small_frame), model="dot-bias", epochs=1)
    with pytest.raises(ModelError, match="ratings="):
        rec.recommend(liked=[100, 101])


def test_predict_on_an_interaction_model_says_it_ranks_only(plays_model, tmp_path):
    rec = embedrec.load(plays_model)
    with pytest.raises(ModelError, match="evaluate --ranking"):
        rec.predict([(1, "a1")])
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("user,item\n1,a4\n")
    assert_refused(invoke("predict", plays_model, "--pairs", pairs), "evaluate --ranking")


def test_save_and_load_keep_interactions_and_old_directories_load_as_ratings(plays_model):
    assert embedrec.load(plays_model).interactions
    config_path = plays_model / "config.json"
    config = json.loads(config_path.read_text())
    assert config["interactions"] is True
    del config["interactions"]  # as a model directory written before the field
    config_path.write_text(json.dumps(config))
    assert not embedrec.load(plays_model).interactions


@pytest.mark.skipif(not LASTFM.is_file(), reason=f"needs Last.fm's user_artists.dat at {LASTFM}")
def test_lastfm_trains_with_no_flag_but_data(tmp_path):
    result = invoke("train", "--data", LASTFM, "--out", tmp_path / "m", "--valid-pct", "0")
    assert result.exit_code == 0, result.output
    rec = embedrec.load(tmp_path / "m")
    assert rec.interactions and not rec.model.predicts_ratings
    top = rec.recommend(2, n=10)
    played = rec.item_map.decode(rec.seen(rec.user_index(2)))
    assert len(top) == 10 and not set(top["item"]) & set(played)


def test_benchmark_ranks_interactions_named_by_weight_col(tmp_path):
    path = tmp_path / "orders.csv"
    frame = pd.DataFrame(plays_rows(), columns=["user", "item", "n_orders"])
    frame.to_csv(path, index=False)
    result = invoke(
        "benchmark", "--ranking", "--data", path, "--weight-col", "n_orders",
        "--protocol", "random:0.25:1", "--models", "default", "--k", "2", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.splitlines()[-1])
    assert report["threshold"] is None  # every held-out interaction is relevant
    assert [row["system"] for row in report["rows"]] == ["most popular", "default"]


def test_tune_ranks_interactions_and_lr_find_refuses_them(plays_file):
    ratings = embedrec.load_ratings(plays_file)
    split = embedrec.random_split(ratings, 0.2, 1)
    result = embedrec.tune(split, embedrec.TrainConfig(model="ials", epochs=2), trials=1)
    assert result.metric.name == "ndcg@10"
    with pytest.raises(ModelError, match="needs ratings"):
        embedrec.tune(split, embedrec.TrainConfig(model="dot-bias"), trials=1)
    with pytest.raises(ModelError, match="needs ratings"):
        embedrec.lr_find(ratings, model="dot-bias")


def test_a_user_only_in_the_test_file_is_scored_by_popularity(plays_file, tmp_path):
    test_file = tmp_path / "test.tsv"
    test_file.write_text("user\tartist\tplays\n99\ta1\t5\n")
    rec = embedrec.train(embedrec.load_split(plays_file, valid=test_file))
    scores = rec.score_items([rec.user_index(99)])[0]
    assert np.array_equal(scores, rec.item_counts.astype(np.float32))


def test_a_ratings_test_file_beside_a_plays_file_is_refused(plays_file, tmp_path):
    test_file = tmp_path / "test.csv"
    test_file.write_text("user,artist,rating\n1,a4,5\n")
    with pytest.raises(DataError, match="same columns"):
        embedrec.load_split(plays_file, valid=test_file)


def test_an_event_log_with_a_text_event_column_says_how_to_train_on_it(tmp_path):
    """RetailRocket's events.csv: `timestamp,visitorid,event,itemid`, event one of view,
    addtocart, transaction. The type is neither a rating nor a count: the error says so and
    what to do, rather than suggesting --weight-col event, which cannot work."""
    path = tmp_path / "events.csv"
    path.write_text(
        "timestamp,visitorid,event,itemid\n1433221332117,257597,view,355908\n"
        "1433224214164,992329,addtocart,248676\n1433221999827,111016,transaction,318965\n"
    )
    refused = assert_refused(
        invoke("train", "--data", path, "--user-col", "visitorid", "--out", tmp_path / "m"),
        "events.csv",
        "'event' holds text ('view', 'addtocart', 'transaction'), neither a rating nor a count",
        "drop that column",
    )
    assert "--weight-col" in refused  # to weigh the kinds, as a count column
    path.write_text(path.read_text().replace(",view,", ",3,"))  # one number: could be a rating
    with pytest.raises(DataError) as numbers:
        embedrec.load_ratings(path, user_col="visitorid")
    assert "holds text" not in str(numbers.value)
