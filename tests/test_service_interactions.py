"""The service on a model trained on interactions (plays, clicks): feedback is an event without
a value, lists and new users work, /health says what the model learned from; a rating model
still needs the rating. Events add up: in the store, in a user's list and in a retrain."""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import embedrec
from embedrec.cli import app
from embedrec.service import FeedbackStore, create_app
from embedrec.service.state import in_scale
from tests.conftest import plays_frame
from tests.service_support import AUTH, TOKEN, training_rows


@pytest.fixture(scope="module")
def plays_model(tmp_path_factory):
    """ease on 40 listeners x 30 artists in two taste groups, with play counts."""
    plays = embedrec.ratings_from_frame(plays_frame())
    assert plays.interactions
    rec = embedrec.train(plays, model="ease")
    return rec.save(tmp_path_factory.mktemp("plays") / "model")


@pytest.fixture
def client(plays_model, tmp_path):
    app = create_app(plays_model, f"sqlite:///{tmp_path / 'feedback.db'}", TOKEN)
    with TestClient(app) as test_client:
        yield test_client


def test_health_says_the_model_learned_from_interactions(client):
    health = client.get("/health").json()
    assert health["interactions"] is True and health["rating_scale"] is None


def test_an_event_without_a_value_is_stored_and_changes_the_list(client):
    before = client.get("/users/u1/recommendations?n=5").json()["items"]
    chosen = before[0]["item"]
    stored = client.post("/users/u1/ratings", json={"item": chosen}, headers=AUTH)
    assert stored.status_code == 201, stored.text
    assert client.get("/users/u1/ratings").json()["ratings"] == [{"item": chosen, "rating": 1.0}]
    after = client.get("/users/u1/recommendations?n=5").json()["items"]
    assert chosen not in [row["item"] for row in after]  # what the user chose is not offered


def test_a_new_listener_folds_in_from_items_chosen(client):
    body = client.post("/recommendations", json={"ratings": {"100": 1, "101": 1}, "n": 5}).json()
    items = [row["item"] for row in body["items"]]
    assert len(items) == 5 and all(100 <= item < 115 for item in items)  # the same taste group


def test_a_rating_model_still_needs_the_rating(tmp_path):
    frame = pd.DataFrame({"user": [1, 1, 2, 2], "item": [5, 6, 5, 7], "rating": [4, 2, 5, 3]})
    rated = embedrec.train(embedrec.ratings_from_frame(frame), model="dot-bias", epochs=1)
    app = create_app(rated.save(tmp_path / "m"), f"sqlite:///{tmp_path / 'f.db'}", TOKEN)
    with TestClient(app) as client:
        response = client.post("/users/1/ratings", json={"item": 7}, headers=AUTH)
    assert response.status_code == 422, response.text
    assert "rating" in response.json()["error"] and "interactions" in response.json()["error"]


def test_events_of_an_item_add_up_in_the_store_and_on_the_training_plays(client, plays_model):
    rec = embedrec.load(plays_model)
    item, plays = next(iter(embedrec.user_ratings(rec, "u1").items()))  # a training pair
    for body in ({"item": item}, {"item": item, "rating": 2}):
        assert client.post("/users/u1/ratings", json=body, headers=AUTH).status_code == 201
    assert client.get("/users/u1/ratings").json()["ratings"] == [{"item": item, "rating": 3.0}]
    # what the user's list folds in: their plays in training and since
    assert embedrec.user_ratings(rec, "u1", {str(item): 3.0})[item] == plays + 3


def test_a_retrain_adds_the_stored_events_to_the_plays_in_the_file(tmp_path):
    """`train --feedback` on plays: each stored event adds to its pair's plays, a validation
    pair moves to training with its plays and events, and the model still learns from
    interactions. Expected weights counted here from the file and the events sent."""
    frame = plays_frame()
    path = tmp_path / "plays.csv"
    frame.to_csv(path, index=False)
    train = ["train", "--data", str(path), "--item-col", "artist", "--model", "ease"]
    train += ["--seed", "0"]
    runner = CliRunner()
    first = runner.invoke(app, [*train, "--out", str(tmp_path / "v1")])
    assert first.exit_code == 0, first.output
    before = training_rows(embedrec.load(tmp_path / "v1"))
    plays = {(u, str(i)): float(n) for u, i, n in frame.itertuples(index=False)}
    held_out = sorted(set(plays) - set(before))
    trained, moved = sorted(before)[0], held_out[0]
    sent = [
        (trained[0], {"item": int(trained[1])}),  # two events of a training pair
        (trained[0], {"item": int(trained[1])}),
        (moved[0], {"item": int(moved[1]), "rating": 3}),  # three plays of a validation pair
        ("newbie", {"item": 100}),
    ]
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    with TestClient(create_app(tmp_path / "v1", url, TOKEN)) as client:
        for user, body in sent:
            posted = client.post(f"/users/{user}/ratings", json=body, headers=AUTH)
            assert posted.status_code == 201, posted.text
    second = runner.invoke(app, [*train, "--feedback", url, "--out", str(tmp_path / "v2")])
    assert second.exit_code == 0, second.output
    rec = embedrec.load(tmp_path / "v2")
    expected = {**before, trained: before[trained] + 2, moved: plays[moved] + 3}
    expected[("newbie", "100")] = 1.0
    assert training_rows(rec) == expected
    assert rec.interactions and not rec.model.predicts_ratings


def test_stored_weights_of_zero_or_less_are_no_interaction():
    split = embedrec.random_split(embedrec.ratings_from_frame(plays_frame()), seed=0)
    feedback = pd.DataFrame(
        {"user": ["u1", "u2", "newbie"], "item": ["100", "101", "102"], "rating": [0, -1, 2]}
    )
    joined = embedrec.with_feedback(split, feedback)
    assert joined.train.interactions and len(joined.train) == len(split.train) + 1
    assert "2 stored weights of 0 or less left out (no interaction)" in joined.train.notes


def test_a_stored_weight_of_zero_or_less_cancels_no_event_in_a_list_or_a_retrain(
    plays_model, tmp_path
):
    """An older version stored any number: a -5 beside three events of a listener's training
    artist is no event. The stored sum, the list and a retrain all count the three events."""
    rec = embedrec.load(plays_model)
    item, plays = next(iter(embedrec.user_ratings(rec, "u1").items()))
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    old = FeedbackStore(url)
    old.add("u1", [(str(item), -5.0)])
    old.add("u2", [("101", -1.0)])  # only a weight of 0 or less: nothing to count
    old.close()
    with TestClient(create_app(plays_model, url, TOKEN)) as client:
        for _ in range(3):
            posted = client.post("/users/u1/ratings", json={"item": item}, headers=AUTH)
            assert posted.json()["n_feedback"] == 1  # one item: its events, not the -5 row
        assert client.get("/users/u1/ratings").json()["ratings"] == [{"item": item, "rating": 3.0}]
        assert client.get("/users/u1/recommendations?n=3").json()["n_feedback"] == 1  # folded in
        posted = client.post("/users/u2/ratings", json={"item": 102}, headers=AUTH)
        assert posted.json()["n_feedback"] == 1  # 102; not 101, whose only weight is -1
        assert client.get("/users/u2/ratings").json()["ratings"] == [{"item": 102, "rating": 1.0}]
    store = FeedbackStore(url)
    split = embedrec.random_split(embedrec.ratings_from_frame(plays_frame()), 0.0)
    retrained = embedrec.with_feedback(split, store.all_ratings()).train
    store.close()
    frame = retrained.to_frame(titles=False)
    pair = frame[(frame["user"] == "u1") & (frame["item"] == item)]
    assert pair["rating"].tolist() == [plays + 3]


def test_a_stored_count_a_list_cannot_use_is_skipped_with_a_note(plays_model, caplog):
    """A sum PostgreSQL made NaN from a stored NaN: the list skips it, and the log says why in
    the words of counts (not a rating scale of 5e-324 to inf)."""
    rec = embedrec.load(plays_model)
    assert in_scale(rec, "u1", {"100": float("nan"), "101": 2.0}) == {"101": 2.0}
    assert "1 stored ratings of user 'u1' skipped: not a count above 0 (items 100)" in caplog.text
