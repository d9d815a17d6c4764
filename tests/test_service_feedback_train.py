"""`embedrec train --feedback URL`: a retrain on the original data plus every rating the service
stored, so no feedback is lost between model versions (new users and items included)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from typer.testing import CliRunner

import embedrec
from embedrec.cli import app
from embedrec.service import FeedbackStore
from tests.conftest import low_rank_frame

runner = CliRunner()


def test_train_with_feedback_learns_every_stored_rating(ml100k_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    store = FeedbackStore(url)
    store.add("newcomer", [("50", 5.0), ("100", 4.0)])
    store.add("196", [("242", 1.0), ("242", 2.0)])  # the latest rating of an item counts
    store.close()
    out = tmp_path / "v2"
    args = ["train", "--data", str(ml100k_dir), "--model", "dot-bias", "--epochs", "1"]
    result = runner.invoke(app, [*args, "--valid-pct", "0", "--feedback", url, "--out", str(out)])
    assert result.exit_code == 0, result.output
    rec = embedrec.load(out)
    assert rec.n_users == 944 and embedrec.known_user(rec, "newcomer") == "newcomer"
    assert embedrec.user_ratings(rec, "newcomer") == {50: 5.0, 100: 4.0}
    assert embedrec.user_ratings(rec, 196)[242] == 2.0  # replaces the training rating (3)
    assert rec.titles is not None and embedrec.item_info(rec, 50)["genres"][0] == "Action"
    assert rec.recommend("newcomer", n=3)["item"].isin([50, 100]).sum() == 0


def test_train_with_an_unusable_feedback_database_is_one_line(ml100k_dir, tmp_path):
    args = ["train", "--data", str(ml100k_dir), "--feedback", "nosuch://db", "--out"]
    result = runner.invoke(app, [*args, str(tmp_path / "m")])
    assert result.exit_code == 2 and "feedback database" in result.output
    assert not (tmp_path / "m").exists()


def test_with_feedback_keeps_the_validation_rows_except_pairs_with_feedback(chapter_split):
    valid = chapter_split.valid.to_frame(titles=False)
    user, item = valid["user"].iloc[0], valid["item"].iloc[0]
    feedback = pd.DataFrame(
        {"user": ["newcomer", str(user)], "item": ["50", str(item)], "rating": [5.0, 1.0]}
    )
    joined = embedrec.with_feedback(chapter_split, feedback)
    assert len(joined.train) == len(chapter_split.train) + 2
    columns = ["user", "item", "rating"]  # no timestamps in this feedback: none kept
    after = joined.valid.to_frame(titles=False)[columns].astype({"user": str, "item": str})
    before = valid.iloc[1:][columns].astype({"user": str, "item": str})
    assert after.reset_index(drop=True).equals(before.reset_index(drop=True))
    assert joined.train.titles is not None and len(joined.train.titles) == joined.train.n_items


def training_rows(rec: embedrec.Recommender) -> dict[tuple[str, str], float]:
    """What a model was trained on, {(user, item): rating}, ids as text."""
    assert rec.seen_indptr is not None and rec.seen_items is not None
    assert rec.seen_ratings is not None
    users = np.repeat(np.arange(rec.n_users), np.diff(rec.seen_indptr))
    pairs = zip(rec.user_map.decode(users).tolist(), rec.item_map.decode(rec.seen_items).tolist())
    return {(str(u), str(i)): float(r) for (u, i), r in zip(pairs, rec.seen_ratings.tolist())}


def test_a_retrain_learns_the_data_plus_the_store_whatever_the_ids(ml100k_dir, tmp_path):
    args = ["train", "--data", str(ml100k_dir), "--model", "dot-bias", "--epochs", "1"]
    first = runner.invoke(app, [*args, "--seed", "3", "--out", str(tmp_path / "v1")])
    assert first.exit_code == 0, first.output
    before = training_rows(embedrec.load(tmp_path / "v1"))
    data = pd.read_csv(ml100k_dir / "u.data", sep="\t", names=["user", "item", "rating", "t"])
    held_out = [(str(u), str(i)) for u, i in zip(data["user"], data["item"])]
    held_out = [pair for pair in held_out if pair not in before]
    assert len(before) + len(held_out) == len(data) == 100_000
    retrained = next(pair for pair in before if pair[0] == "13")
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    store = FeedbackStore(url)
    store.add("alice", [("50", 5.0), ("99999", 3.0)])  # a new user, and an item no one had
    store.add("13", [(retrained[1], 6 - before[retrained])])  # a training pair re-rated
    store.add(held_out[0][0], [(held_out[0][1], 1.0)])  # a validation pair re-rated
    store.add("5000", [("50", 2.0), ("50", 4.0)])  # a new numeric user; the latest counts
    stored = store.all_ratings()
    store.close()
    second = runner.invoke(
        app, [*args, "--seed", "3", "--feedback", url, "--out", str(tmp_path / "v2")]
    )
    assert second.exit_code == 0, second.output
    after = training_rows(embedrec.load(tmp_path / "v2"))
    expected = dict(before)
    columns = (stored["user"], stored["item"], stored["rating"])
    expected.update({(user, item): rating for user, item, rating in zip(*columns)})
    assert after == expected  # nothing lost, every re-rating replaced, no validation row moved
    assert len(after) == len(before) + 4 and after[retrained] == 6 - before[retrained]
    assert after[held_out[0]] == 1.0 and after[("5000", "50")] == 4.0


def test_stored_ratings_outside_the_datas_scale_never_widen_it():
    """A 9 stored by an older service beside data rated 1-5 that declared no scale: left out
    with a note, so the retrained model learns and accepts 1-5 as before."""
    split = embedrec.random_split(embedrec.ratings_from_frame(low_rank_frame()), seed=0)
    assert split.train.rating_scale is None and split.train.observed_range == (1.0, 5.0)
    feedback = pd.DataFrame(
        {"user": ["u1", "newbie"], "item": ["100", "101"], "rating": [9.0, 4.0]}
    )
    joined = embedrec.with_feedback(split, feedback)
    assert joined.train.observed_range == (1.0, 5.0)
    assert len(joined.train) == len(split.train) + 1  # the newcomer's 4 only
    assert any("1 stored ratings outside the scale 1-5 left out" in n for n in joined.train.notes)
