"""`embedrec train --feedback URL`: a retrain on the original data plus every rating the service
stored, so no feedback is lost between model versions (new users and items included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import embedrec
from embedrec.cli import app
from embedrec.data import paired_split
from embedrec.service import FeedbackStore, create_app
from tests.conftest import low_rank_frame
from tests.service_support import AUTH, TOKEN, new_database, training_rows

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


TRAIN = ["train", "--model", "dot-bias", "--epochs", "1", "--data"]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_store_url(request, db_url) -> Iterator[str]:
    """An empty feedback store: a fresh SQLite file, or a database of its own on the test
    PostgreSQL (a retrain reads every stored rating: other tests' users must not be there)."""
    if request.param == "sqlite":
        yield db_url
        return
    with new_database(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture(scope="module")
def first_model(ml100k_dir, tmp_path_factory) -> Path:
    """dot-bias of MovieLens 100k by `embedrec train` (80% training, seed 3), saved once."""
    out = tmp_path_factory.mktemp("retrain") / "v1"
    first = runner.invoke(app, [*TRAIN, str(ml100k_dir), "--seed", "3", "--out", str(out)])
    assert first.exit_code == 0, first.output
    return out


def test_a_retrain_learns_the_data_plus_the_store_whatever_the_ids(
    ml100k_dir, first_model, empty_store_url, tmp_path
):
    """Ratings sent to the service of a model (a new text user, a new numeric user, a training
    pair and a validation pair re-rated), then `train --feedback`: the new model's training
    rows are exactly the first model's plus the store's, on SQLite and on PostgreSQL."""
    before = training_rows(embedrec.load(first_model))
    data = pd.read_csv(ml100k_dir / "u.data", sep="\t", names=["user", "item", "rating", "t"])
    held_out = [(str(u), str(i)) for u, i in zip(data["user"], data["item"])]
    held_out = [pair for pair in held_out if pair not in before]
    assert len(before) + len(held_out) == len(data) == 100_000
    retrained = next(pair for pair in before if pair[0] == "13")
    sent = [
        ("alice", {"item": 50, "rating": 5}),  # a new user with a text id
        ("13", {"item": int(retrained[1]), "rating": 6 - before[retrained]}),  # training pair
        (held_out[0][0], {"item": int(held_out[0][1]), "rating": 1}),  # a validation pair
        ("5000", {"item": "Star Wars (1977)", "rating": 2}),  # a new numeric user, by title
        ("5000.0", {"item": 50, "rating": 4}),  # the same user; the latest rating counts
    ]
    with TestClient(create_app(first_model, empty_store_url, TOKEN)) as client:
        for user, body in sent:
            posted = client.post(f"/users/{user}/ratings", json=body, headers=AUTH)
            assert posted.status_code == 201, posted.text
    store = FeedbackStore(empty_store_url)
    store.add("alice", [("99999", 3.0)])  # an item no one had (the service takes known ones)
    stored = store.all_ratings()
    store.close()
    second = runner.invoke(
        app,
        [*TRAIN, str(ml100k_dir), "--seed", "3", "--feedback", empty_store_url, "--out",
         str(tmp_path / "v2")],
    )  # fmt: skip
    assert second.exit_code == 0, second.output
    rec = embedrec.load(tmp_path / "v2")
    assert rec.n_users == 943 + 2 and rec.n_items == 1682 + 1  # alice, 5000; item 99999
    after = training_rows(rec)
    expected = dict(before)
    columns = (stored["user"], stored["item"], stored["rating"])
    expected.update({(user, item): rating for user, item, rating in zip(*columns)})
    assert after == expected  # nothing lost, every re-rating replaced, no validation row moved
    assert len(after) == len(before) + 4 and after[retrained] == 6 - before[retrained]
    assert after[held_out[0]] == 1.0 and after[("5000", "50")] == 4.0
    assert after[("alice", "50")] == 5.0 and after[("alice", "99999")] == 3.0


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


def test_a_bad_stored_rating_is_named_by_its_place_in_the_frame_given():
    """A frame without the store's row ids names a bad rating by its place in that frame, also
    after a pair rated twice before it kept only its latest rating."""
    split = embedrec.random_split(embedrec.ratings_from_frame(low_rank_frame()), seed=0)
    feedback = pd.DataFrame(
        {"user": ["u1", "u1", "u2"], "item": ["100", "100", "101"], "rating": [4.0, 3.0, "abc"]}
    )
    with pytest.raises(embedrec.DataError, match=r"stored rating 2 \(user 'u2', item '101'\)"):
        embedrec.with_feedback(split, feedback)


@pytest.mark.parametrize("value", ["rating", "plays"])
def test_a_pair_on_both_sides_of_a_split_made_as_two_files_stays_on_both(value):
    """A validation file may hold a pair the training file has too (a log split by time):
    with feedback on another pair, each side keeps its rows (before: an AssertionError, a
    traceback from `train --valid ... --feedback`)."""
    frame = pd.DataFrame({"user": ["a", "a", "b"], "item": [1, 2, 1], value: [5, 3, 2]})
    train = embedrec.ratings_from_frame(frame)
    valid = embedrec.ratings_from_frame(frame.iloc[:1].assign(**{value: [4]}))
    split = paired_split(train, valid)
    feedback = pd.DataFrame({"user": ["b"], "item": ["2"], "rating": [3.0]})
    joined = embedrec.with_feedback(split, feedback)

    def rows(side: embedrec.Ratings) -> list[list]:
        return sorted(side.to_frame(titles=False)[["user", "item", "rating"]].values.tolist())

    assert rows(joined.train) == [["a", 1, 5.0], ["a", 2, 3.0], ["b", 1, 2.0], ["b", 2, 3.0]]
    assert rows(joined.valid) == [["a", 1, 4.0]]
    assert joined.train.interactions == (value == "plays") == joined.valid.interactions
