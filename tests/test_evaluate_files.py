"""`evaluate` on a split made as two files: the figures agree with what a user computes by hand
from `recommend` and `predict`, cold rows are scored and reported apart, and bad test files
are refused with one line."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import embedrec
from embedrec.cli import app
from tests.conftest import low_rank_frame

runner = CliRunner()
K = 5


def invoke(*args: object) -> dict:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """train.csv and test.csv (a random 85/15 split of rows, integer ids), and an ease and a
    dot-bias model trained from train.csv alone by the CLI."""
    root = tmp_path_factory.mktemp("evalfiles")
    frame = low_rank_frame(n_users=60, n_items=40, seed=3)
    frame["user"] = frame["user"].str[1:].astype(int)
    rows = np.random.default_rng(0).permutation(len(frame))
    cut = int(0.85 * len(frame))
    train, test = frame.iloc[rows[:cut]], frame.iloc[rows[cut:]]
    assert set(test["user"]) <= set(train["user"])  # every test user can be recommended for
    train.to_csv(root / "train.csv", index=False)
    test.to_csv(root / "test.csv", index=False)
    for kind in ("ease", "dot-bias"):
        invoke("train", "--data", root / "train.csv", "--valid-pct", "0", "--model", kind,
               "--epochs", "3", "--out", root / kind, "--json")  # fmt: skip
    return root, train, test


def train_with_valid(train: Path, valid: Path, out: Path) -> dict:
    return invoke("train", "--data", train, "--valid", valid, "--model", "dot-bias",
                  "--epochs", "1", "--out", out, "--json")  # fmt: skip


def by_hand(rec: embedrec.Recommender, train: pd.DataFrame, test: pd.DataFrame, relevant: float):
    """Precision and NDCG@K from each test user's `recommend` list: relevant = test rating at
    least `relevant`, the user's training items never listed."""
    liked = test[test["rating"] >= relevant]
    lists = rec.recommend(sorted(liked["user"].unique()), n=K)
    precision, ndcg = [], []
    for user, rows in liked.groupby("user"):
        listed = lists[lists["user"] == user].sort_values("rank")["item"].tolist()
        assert not set(listed) & set(train.loc[train["user"] == user, "item"])
        gains = [item in set(rows["item"]) for item in listed]
        precision.append(sum(gains) / K)
        dcg = sum(g / np.log2(i + 2) for i, g in enumerate(gains))
        ndcg.append(dcg / sum(1 / np.log2(i + 2) for i in range(min(K, len(rows)))))
    return float(np.mean(precision)), float(np.mean(ndcg))


@pytest.mark.parametrize("kind", ["ease", "dot-bias"])
def test_evaluate_ranking_agrees_with_the_recommend_lists(files, kind):
    root, train, test = files
    metrics = invoke("evaluate", root / kind, "--test", root / "test.csv", "--ranking",
                     "--k", K, "--json")  # fmt: skip
    ranking = metrics["ranking"]
    assert ranking["relevant"] == 4.0  # 3/4 of the way up the 1-5 scale
    precision, ndcg = by_hand(embedrec.load(root / kind), train, test, 4.0)
    assert ranking[f"precision@{K}"] == pytest.approx(precision, abs=1e-9)
    assert ranking[f"ndcg@{K}"] == pytest.approx(ndcg, abs=1e-9)
    assert ranking["n_users"] == test.loc[test["rating"] >= 4, "user"].nunique()
    stricter = invoke("evaluate", root / kind, "--test", root / "test.csv", "--ranking",
                      "--k", K, "--relevant", "5", "--json")["ranking"]  # fmt: skip
    assert stricter[f"ndcg@{K}"] == pytest.approx(
        by_hand(embedrec.load(root / kind), train, test, 5.0)[1], abs=1e-9
    )


def rmse_by_hand(rec: embedrec.Recommender, test: pd.DataFrame) -> float:
    scores = rec.predict(test[["user", "item"]])["score"].to_numpy(dtype=np.float64)
    return float(np.sqrt(np.mean((scores - test["rating"].to_numpy()) ** 2)))


def test_evaluate_rmse_agrees_with_predict(files):
    root, _, test = files
    metrics = invoke("evaluate", root / "dot-bias", "--test", root / "test.csv", "--json")
    assert metrics["n"] == len(test) and metrics["n_cold"] == 0
    assert metrics["rmse"] == pytest.approx(rmse_by_hand(embedrec.load(root / "dot-bias"), test))
    assert metrics["rmse_warm"] == metrics["rmse"]


def test_cold_rows_are_scored_by_the_baseline_and_reported_apart(files, tmp_path):
    root, _, test = files
    strangers = pd.DataFrame(
        {"user": [9999, test["user"].iloc[0]], "item": [test["item"].iloc[0], 7777],
         "rating": [5.0, 2.0], "timestamp": [1, 2]}
    )  # fmt: skip
    cold = pd.concat([test, strangers], ignore_index=True)
    cold.to_csv(tmp_path / "cold.csv", index=False)
    rec = embedrec.load(root / "dot-bias")
    metrics = invoke("evaluate", root / "dot-bias", "--test", tmp_path / "cold.csv", "--json")
    assert metrics["n"] == len(cold) and metrics["n_cold"] == metrics["n_unknown"] == 2
    assert metrics["rmse_warm"] == pytest.approx(rmse_by_hand(rec, test), abs=1e-9)
    b = rec.baseline  # an unknown side adds no offset: the known side's alone
    fallback = [
        b.global_mean + b.item_offsets[rec.item_index(strangers["item"][0])],
        b.global_mean + b.user_offsets[rec.user_index(strangers["user"][1])],
    ]
    errors = np.concatenate(
        [rec.predict(test[["user", "item"]])["score"].to_numpy() - test["rating"].to_numpy(),
         np.array(fallback) - strangers["rating"].to_numpy()]
    )  # fmt: skip
    assert metrics["rmse"] == pytest.approx(float(np.sqrt(np.mean(errors**2))), abs=1e-6)
    text = runner.invoke(app, ["evaluate", str(root / "dot-bias"), "--test",
                               str(tmp_path / "cold.csv"), "--ranking", "--k", str(K)])  # fmt: skip
    assert text.exit_code == 0, text.output
    assert "2 cold, scored by the bias baseline" in text.stdout
    assert "1 users the model cannot rank got its fallback list" in text.stdout
    ranking = invoke("evaluate", root / "dot-bias", "--test", tmp_path / "cold.csv",
                     "--ranking", "--k", K, "--json")["ranking"]  # fmt: skip
    assert ranking["n_cold"] == 1 and ranking[f"precision@{K}_warm"] is not None
    # train --valid reports the same way
    report = train_with_valid(root / "train.csv", tmp_path / "cold.csv", tmp_path / "m")
    assert report["n_cold"] == 2 and report["valid_rmse_warm"] != report["valid_rmse"]


def test_evaluate_reads_the_recorded_data_and_asks_for_data_when_it_moved(files, tmp_path):
    root, _, _ = files
    shutil.copy(root / "train.csv", tmp_path / "ratings.csv")
    invoke("train", "--data", tmp_path / "ratings.csv", "--model", "dot-bias", "--epochs", "1",
           "--out", tmp_path / "m", "--json")  # fmt: skip
    recorded = json.loads((tmp_path / "m" / "config.json").read_text())["split"]
    assert recorded["data"] == str((tmp_path / "ratings.csv").resolve())
    metrics = invoke("evaluate", tmp_path / "m", "--json")  # no --data: the recorded file
    assert metrics["split"] == recorded["name"] and metrics["n_trained_on"] == 0
    (tmp_path / "ratings.csv").rename(tmp_path / "moved.csv")
    moved = runner.invoke(app, ["evaluate", str(tmp_path / "m")])
    assert moved.exit_code == 2
    assert f"give --data (trained on {tmp_path / 'ratings.csv'})" in moved.output
    assert "Traceback" not in moved.output
    again = invoke("evaluate", tmp_path / "m", "--data", tmp_path / "moved.csv", "--json")
    assert again["n_trained_on"] == 0 and again["rmse"] == pytest.approx(metrics["rmse"])


def test_a_model_saved_from_python_needs_a_test_file_or_data(files, tmp_path):
    root, train, test = files
    embedrec.train(embedrec.ratings_from_frame(train), model="ease").save(tmp_path / "m")
    result = runner.invoke(app, ["evaluate", str(tmp_path / "m")])  # not movielens-100k
    assert result.exit_code == 2 and "give --test FILE, or --data" in result.output
    metrics = invoke("evaluate", tmp_path / "m", "--test", root / "test.csv", "--ranking", "--json")
    assert metrics["ranking"]["n_users"] > 0


def test_a_test_file_sharing_no_id_with_the_model_is_refused(files, tmp_path):
    root, _, _ = files
    (tmp_path / "other.csv").write_text("user,item,rating\n5001,9001,4\n5002,9002,3\n")
    for kind in ("dot-bias", "ease"):
        result = runner.invoke(app, ["evaluate", str(root / kind), "--test",
                                     str(tmp_path / "other.csv"), "--ranking"])  # fmt: skip
        assert result.exit_code == 2
        assert "other.csv: none of its 2 users and 2 items is one the model knows" in result.output
        assert "nan" not in result.output.lower() and "Traceback" not in result.output


def test_text_ids_in_the_test_file_match_the_models_integer_ids(files, tmp_path):
    root, _, test = files
    mixed = test.astype({"user": object})
    mixed.loc[mixed.index[:2], "user"] = "stranger"  # the column reads back as text
    mixed.to_csv(tmp_path / "mixed.csv", index=False)
    metrics = invoke("evaluate", root / "dot-bias", "--test", tmp_path / "mixed.csv", "--json")
    assert metrics["n"] == len(test) and metrics["n_unknown"] == 2
    assert metrics["rmse_warm"] == pytest.approx(
        rmse_by_hand(embedrec.load(root / "dot-bias"), test.iloc[2:]), abs=1e-9
    )
    # and as a validation file beside integer training ids: the same ids, the strangers cold
    report = train_with_valid(root / "train.csv", tmp_path / "mixed.csv", tmp_path / "m")
    assert report["n_valid"] == len(test) and report["n_cold"] == 2
    assert embedrec.load(tmp_path / "m").recommend(test["user"].iloc[5], n=3)["item"].size == 3


def test_python_takes_a_dataframe_or_ratings_in_raw_ids(files):
    root, _, test = files
    rec = embedrec.load(root / "dot-bias")
    cli = invoke("evaluate", root / "dot-bias", "--test", root / "test.csv", "--ranking",
                 "--k", K, "--json")  # fmt: skip
    loaded = embedrec.load_ratings(root / "test.csv")  # its own id maps, not the model's
    for data in (test, loaded):
        assert embedrec.evaluate(rec, data)["rmse"] == pytest.approx(cli["rmse"], abs=1e-12)
        ranking = embedrec.evaluate_ranking(rec, data, k=K)
        assert ranking[f"ndcg@{K}"] == pytest.approx(cli["ranking"][f"ndcg@{K}"], abs=1e-12)
    assert embedrec.evaluate_ranking(rec, test, K) == embedrec.evaluate_ranking(rec, test, k=K)
    both = embedrec.evaluate(rec, test, ranking=True, k=K)
    assert both["ranking"] == cli["ranking"]
    with pytest.raises(embedrec.ModelError, match="relevant="):
        embedrec.evaluate_ranking(rec, test, k=K, threshold=3.0)
    with pytest.raises(embedrec.DataError, match="no test rating is at least 6: "):
        embedrec.evaluate_ranking(rec, test, k=K, relevant=6)


def test_interactions_count_every_held_out_row_as_relevant(files):
    root, _, _ = files
    rec = embedrec.load(root / "ease")
    test = embedrec.load_ratings(root / "test.csv")
    plays = dataclasses.replace(test, interactions=True)
    every_row = embedrec.evaluate_ranking(rec, plays, k=K)
    assert every_row["relevant"] is None
    assert (
        every_row[f"ndcg@{K}"]
        == embedrec.evaluate_ranking(rec, test, k=K, relevant=1.0)[f"ndcg@{K}"]
    )
    trained_on_plays = dataclasses.replace(rec, interactions=True)
    assert embedrec.evaluate_ranking(trained_on_plays, test, k=K)["relevant"] is None
    with pytest.raises(embedrec.DataError, match="interactions"):
        embedrec.evaluate(embedrec.load(root / "dot-bias"), plays)


def test_the_default_threshold_is_the_same_share_of_any_scale():
    frame = low_rank_frame(n_users=20, n_items=15, seed=1)
    frame["rating"] = (frame["rating"] - 1) * 2.5  # 0-10
    ratings = embedrec.ratings_from_frame(frame, rating_scale=(0.0, 10.0))
    rec = embedrec.train(ratings, model="ease")
    assert embedrec.evaluate_ranking(rec, frame, k=3)["relevant"] == 7.5


def test_evaluate_rereads_the_recorded_data_with_the_options_train_was_given(files, tmp_path):
    """A shop's log names its users `visitorid`: train needs --user-col, and evaluate with no
    --data reads the recorded file the same way, not asking for the option again."""
    root, train, _ = files
    train.rename(columns={"user": "visitorid", "rating": "stars"}).to_csv(
        tmp_path / "log.csv", index=False
    )
    invoke("train", "--data", tmp_path / "log.csv", "--user-col", "visitorid", "--rating-col",
           "stars", "--model", "dot-bias", "--epochs", "1",
           "--out", tmp_path / "m", "--json")  # fmt: skip
    metrics = invoke("evaluate", tmp_path / "m", "--json")
    assert metrics["n_trained_on"] == 0 and metrics["n"] == round(0.2 * len(train))
    same = invoke("evaluate", tmp_path / "m", "--data", tmp_path / "log.csv", "--user-col",
                  "visitorid", "--rating-col", "stars", "--json")  # fmt: skip
    assert same["rmse"] == pytest.approx(metrics["rmse"])


def test_a_test_file_whose_isbns_lost_their_leading_zeros_still_finds_the_items(tmp_path):
    """Book-Crossing's ISBNs: the training file holds some with an X, so its ids are text
    ('0000034784'); a hold-out without one reads as integers (34784). They are the same
    books: evaluate scores them warm, not as ids the model never saw."""
    isbns = ["0000034784", "0000020355", "034545104X", "0155061224"]
    train = pd.DataFrame(
        [(u, isbns[(u + k) % 4], float((u * k) % 5 + 1)) for u in range(1, 13) for k in range(3)],
        columns=["User-ID", "ISBN", "Book-Rating"],
    )
    train.to_csv(tmp_path / "train.csv", sep=";", index=False)
    held = pd.DataFrame({"User-ID": [1, 2, 3], "ISBN": isbns[:2] + ["0155061224"]})
    held["Book-Rating"] = [4, 2, 5]
    held.to_csv(tmp_path / "test.csv", sep=";", index=False)
    invoke("train", "--data", tmp_path / "train.csv", "--model", "bias", "--valid-pct", "0",
           "--out", tmp_path / "m", "--json")  # fmt: skip
    metrics = invoke("evaluate", tmp_path / "m", "--test", tmp_path / "test.csv", "--json")
    assert embedrec.load_ratings(tmp_path / "test.csv").item_map.ids.dtype.kind == "i"
    assert metrics["n"] == 3 and metrics["n_unknown"] == 0 and metrics["n_cold"] == 0
    # an integer that two text ids both read as ('7' and '007') names neither
    ids = embedrec.IdMap(["007", "7", "0042"])
    assert ids.lookup(42) == 0 and ids.lookup(7) == 2 and ids.lookup(8) == -1
