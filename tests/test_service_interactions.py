"""The service on a model trained on interactions (plays, clicks): feedback is an event without
a value, lists and new users work, /health says what the model learned from; a rating model
still needs the rating."""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import embedrec
from embedrec.service import create_app
from tests.conftest import plays_frame
from tests.service_support import AUTH, TOKEN


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
