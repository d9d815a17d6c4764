"""One user is one user however a client writes the id: JSON 1, "1" and 1.0 (and the path's
"1.0") name the same user or item of a model whose ids are integers, in every answer, in the
feedback store and in the retrain that reads it; "1" stays a text id of a model whose ids are
text. A number with a fraction names no id (422, naming the field)."""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import embedrec
from embedrec.service import FeedbackStore, create_app

ROWS = [
    (u, i, float((u * i) % 5 + 1)) for u in range(1, 21) for i in range(100, 115) if (u + i) % 3
]


def trained(directory, users_as_text: bool):
    frame = pd.DataFrame(ROWS, columns=["user", "item", "rating"])
    if users_as_text:
        frame["user"] = frame["user"].astype(str)
    rec = embedrec.train(embedrec.ratings_from_frame(frame), model="dot-bias", epochs=1)
    rec.save(directory)
    return directory


@pytest.fixture(scope="module")
def integer_ids(tmp_path_factory):
    return trained(tmp_path_factory.mktemp("ids") / "integers", users_as_text=False)


@pytest.fixture(scope="module")
def text_ids(tmp_path_factory):
    return trained(tmp_path_factory.mktemp("ids") / "text", users_as_text=True)


def serve(model_dir, tmp_path):
    return TestClient(create_app(model_dir, f"sqlite:///{tmp_path / 'feedback.db'}"))


def predictions(client, users: list) -> list[dict]:
    response = client.post("/predict", json={"pairs": [{"user": u, "item": 101} for u in users]})
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


@pytest.mark.parametrize("model", ["integer_ids", "text_ids"])
def test_json_1_1_0_and_text_1_are_the_same_known_user(request, model, tmp_path):
    with serve(request.getfixturevalue(model), tmp_path) as client:
        rows = predictions(client, [1, "1", 1.0])
    assert [row["error"] for row in rows] == [None, None, None]
    assert len({row["score"] for row in rows}) == 1


def test_a_new_user_written_50_or_50_0_is_one_user_in_the_store_and_the_retrain(
    integer_ids, tmp_path
):
    with serve(integer_ids, tmp_path) as client:
        first = client.post("/users/50/ratings", json={"item": 101, "rating": 4})
        second = client.post("/users/50.0/ratings", json={"item": 102.0, "rating": 2})
        assert first.status_code == second.status_code == 201, second.text
        assert second.json()["user"] == 50 and second.json()["n_feedback"] == 2
        stored = client.get("/users/50/ratings").json()
        assert stored == {
            "user": 50,
            "ratings": [{"item": 101, "rating": 4.0}, {"item": 102, "rating": 2.0}],
        }
        listed = client.get("/users/50.0/recommendations").json()
        assert listed["user"] == 50 and listed["n_feedback"] == 2
    store = FeedbackStore(f"sqlite:///{tmp_path / 'feedback.db'}")
    feedback = store.all_ratings()
    store.close()
    assert feedback["user"].tolist() == ["50", "50"]
    ratings = embedrec.ratings_from_frame(pd.DataFrame(ROWS, columns=["user", "item", "rating"]))
    joined = embedrec.with_feedback(embedrec.random_split(ratings, 0.2), feedback).train
    assert joined.n_users == ratings.n_users + 1  # one new user, 50, an integer like the rest
    assert joined.user_map.ids.dtype.kind == "i" and 50 in joined.user_map.ids.tolist()


def test_stored_ids_written_as_14_and_14_0_retrain_as_one_new_user():
    """Stored by a service that keyed ids as given: the retrain keys them as the service now
    does, so a user written two ways is still one user, and every id stays an integer."""
    ratings = embedrec.ratings_from_frame(pd.DataFrame(ROWS, columns=["user", "item", "rating"]))
    feedback = pd.DataFrame(
        {
            "user": ["14", "14.0", "77", "77.0"],
            "item": ["101", "102", "101", "103.0"],
            "rating": [4.0, 2.0, 5.0, 1.0],
        }
    )
    joined = embedrec.with_feedback(embedrec.random_split(ratings, 0.0), feedback).train
    assert joined.n_users == ratings.n_users + 1 and joined.user_map.ids.dtype.kind == "i"
    seen = joined.to_frame(titles=False)
    assert sorted(seen[seen["user"] == 77]["item"].tolist()) == [101, 103]


def test_an_id_past_int64_stays_text_and_retrains():
    """'1e300' and 25 nines are whole numbers no int64 holds: a new text user, not a crash."""
    ratings = embedrec.ratings_from_frame(pd.DataFrame(ROWS, columns=["user", "item", "rating"]))
    for huge in ("1e300", "9" * 25):
        assert ratings.user_map.canonical(huge) == huge
    feedback = pd.DataFrame({"user": ["1e300"], "item": ["101"], "rating": [4.0]})
    joined = embedrec.with_feedback(embedrec.random_split(ratings, 0.0), feedback).train
    assert joined.n_users == ratings.n_users + 1 and "1e300" in set(joined.user_map.ids)


def test_a_number_with_a_fraction_is_no_id(integer_ids, tmp_path):
    with serve(integer_ids, tmp_path) as client:
        response = client.post("/predict", json={"pairs": [{"user": 1.5, "item": 101}]})
        assert response.status_code == 422, response.text
        assert "body.pairs.0.user" in response.json()["error"]
        assert "1.5" in response.json()["error"]
        refused = client.post("/users/3/ratings", json={"item": 101.5, "rating": 4})
        assert refused.status_code == 422 and "item" in refused.json()["error"]
        assert client.get("/users/3/ratings").json()["ratings"] == []


def test_text_1_stays_a_text_id_where_the_models_ids_are_text(text_ids, tmp_path):
    rec = embedrec.load(text_ids)
    assert rec.user_map.ids.dtype == object and embedrec.known_user(rec, 1) == "1"
    with serve(text_ids, tmp_path) as client:
        assert (
            client.post("/users/1/ratings", json={"item": 101, "rating": 4}).json()["user"] == "1"
        )
        assert (
            client.post("/users/1.0/ratings", json={"item": 101, "rating": 4}).json()["user"]
            == "1.0"
        )
        assert len(client.get("/users/1/ratings").json()["ratings"]) == 1


def test_a_user_id_holding_a_slash_is_served_as_item_ids_are(tmp_path):
    """Ids such as `team/alice` (a tenant and a name) reach the user endpoints written with
    %2F, as `/items/{item}` already takes `sku/1`; a new one is stored and read back."""
    frame = pd.DataFrame(ROWS, columns=["user", "item", "rating"])
    frame["user"] = "team/" + frame["user"].astype(str)
    embedrec.train(embedrec.ratings_from_frame(frame), model="dot-bias", epochs=1).save(
        tmp_path / "m"
    )
    with serve(tmp_path / "m", tmp_path) as client:
        listed = client.get("/users/team%2F1/recommendations?n=2")
        assert listed.status_code == 200, listed.text
        assert listed.json()["user"] == "team/1" and not listed.json()["fallback"]
        stored = client.post("/users/guest%2F9/ratings", json={"item": 101, "rating": 4})
        assert stored.status_code == 201, stored.text
        assert client.get("/users/guest%2F9/ratings").json()["ratings"] == [
            {"item": 101, "rating": 4.0}
        ]
