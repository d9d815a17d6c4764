"""`embedrec train --feedback URL`: a retrain on the original data plus every rating the service
stored, so no feedback is lost between model versions (new users and items included)."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

import embedrec
from embedrec.cli import app
from embedrec.service import FeedbackStore

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
