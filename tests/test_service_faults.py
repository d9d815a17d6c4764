"""The service when a request or the database goes wrong: one request's bad id or rating is that
request's 422 and never fails the writes beside it; a rating outside the model's scale is
refused, and one an older store already holds is skipped rather than breaking the user's lists;
with the feedback database down, known users still get the model's list (flagged) and /health
says so. On SQLite and on a real PostgreSQL."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

import embedrec
from embedrec.service import FeedbackStore, create_app
from tests.conftest import low_rank_frame
from tests.service_support import AUTH, TOKEN, Relay, assert_error, start_server


def test_control_characters_in_ids_are_a_422_naming_the_field(served_model, tmp_path):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    with TestClient(create_app(served_model, url, TOKEN)) as client:
        for user in ("a%00b", "tab%09in", "line%0Abreak", "del%7F", "%C2%85next"):
            posted = client.post(
                f"/users/{user}/ratings", json={"item": 50, "rating": 4}, headers=AUTH
            )
            assert_error(posted, 422, "path.user", "control character")
            assert_error(client.get(f"/users/{user}/recommendations"), 422, "path.user")
            assert_error(client.get(f"/users/{user}/ratings"), 422, "path.user")
        assert_error(client.post("/users/%20/ratings", json={}, headers=AUTH), 422, "user")
        nul_item = {"item": "Star Wars\x00", "rating": 4}
        assert_error(client.post("/users/7/ratings", json=nul_item, headers=AUTH), 422, "item")
        new_user = {"ratings": {"Fargo\x00": 5}}
        assert_error(client.post("/recommendations", json=new_user), 422, "ratings")
        excluded = client.get("/users/7/recommendations?exclude=a%00b")
        assert_error(excluded, 422, "exclude", "control character")
        assert_error(client.get("/items/Far%00go"), 422, "path.item")
        assert_error(client.put("/items/Far%00go/hidden", headers=AUTH), 422, "path.item")
        assert client.get("/users/7/recommendations").status_code == 200  # still serving
    assert FeedbackStore(url).count() == 0


def test_bad_writes_among_concurrent_good_ones_fail_alone(store_url, served_model, tmp_path):
    """300 good ratings and 30 bad ones (a NUL, a tab or a lone surrogate in an id) from 32
    clients at once: every good one 201 and stored, every bad one 422."""
    server = start_server(served_model, tmp_path, store_url)
    tag = uuid.uuid4().hex[:8]
    good = [
        (f"/users/good-{tag}-{u}/ratings", {"item": i, "rating": 4})
        for u in range(30)
        for i in range(1, 11)
    ]
    bad = [
        *[(f"/users/bad-{tag}-{n}%00/ratings", {"item": 50, "rating": 4}) for n in range(10)],
        *[(f"/users/bad-{tag}-{n}%09/ratings", {"item": 50, "rating": 4}) for n in range(10)],
        *[
            (f"/users/good-{tag}-{n}/ratings", {"item": "Fargo\ud800", "rating": 4})
            for n in range(10)
        ],
    ]
    requests = [(path, body, True) for path, body in good] + [(p, b, False) for p, b in bad]
    random.Random(0).shuffle(requests)
    try:
        with server.client(headers=AUTH) as http:

            def post(request: tuple[str, dict, bool]) -> tuple[bool, int]:
                path, body, is_good = request
                content = json.dumps(body)  # ASCII escapes: a lone surrogate travels too
                headers = {"Content-Type": "application/json"}
                return is_good, http.post(path, content=content, headers=headers).status_code

            with ThreadPoolExecutor(32) as pool:
                answers = list(pool.map(post, requests))
    finally:
        server.stop()
    assert sorted(status for is_good, status in answers if is_good) == [201] * 300
    assert sorted(status for is_good, status in answers if not is_good) == [422] * 30
    store = FeedbackStore(store_url)
    try:
        expected = {str(i): 4.0 for i in range(1, 11)}
        assert all(store.ratings_of(f"good-{tag}-{u}") == expected for u in range(30))
        users = set(store.all_ratings()["user"])
        assert not {user for user in users if user.startswith(f"bad-{tag}")}
    finally:
        store.close()


@pytest.fixture(scope="module")
def unscaled_model(tmp_path_factory) -> Path:
    """A model of data that declared no rating scale: it accepts what it was trained on, 1-5."""
    ratings = embedrec.ratings_from_frame(low_rank_frame())
    rec = embedrec.train(ratings, model="dot-bias", epochs=2, n_factors=4, seed=0)
    assert rec.rating_scale is None and rec.observed_scale == (1.0, 5.0)
    return rec.save(tmp_path_factory.mktemp("models") / "unscaled")


def test_a_rating_outside_the_models_scale_is_refused_and_not_stored(unscaled_model, tmp_path):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    with TestClient(create_app(unscaled_model, url)) as client:
        for user in ("u3", "newcomer"):
            nine = client.post(f"/users/{user}/ratings", json={"item": 105, "rating": 9})
            assert_error(nine, 422, "rating", "9", "scale 1-5")
        batch = {"ratings": [{"item": 105, "rating": 4}, {"item": 106, "rating": 0}]}
        assert_error(client.post("/users/u3/ratings", json=batch), 422, "scale 1-5")
        assert client.post("/users/u3/ratings", json={"item": 105, "rating": 5}).status_code == 201
    assert FeedbackStore(url).all_ratings()[["user", "item", "rating"]].values.tolist() == [
        ["u3", "105", 5.0]
    ]


def test_stored_ratings_outside_the_scale_are_skipped_with_a_note(unscaled_model, tmp_path, caplog):
    """A store written by an older version, which took any number, may hold a 9: the user's
    lists skip it (and say so in the log) instead of answering 422 forever."""
    url = f"sqlite:///{tmp_path / 'f.db'}"
    store = FeedbackStore(url)
    store.add("u3", [("105", 9.0)])
    store.add("old-timer", [("105", 9.0), ("106", 4.0)])
    store.close()
    with TestClient(create_app(unscaled_model, url)) as client:
        known = client.get("/users/u3/recommendations?n=3")
        assert known.status_code == 200 and known.json()["n_feedback"] == 0
        new = client.get("/users/old-timer/recommendations?n=3")
        assert new.status_code == 200 and new.json()["n_feedback"] == 1
    assert "1 stored ratings of user 'u3' skipped: outside the model's scale 1-5" in caplog.text


@dataclass
class Breakable:
    """A feedback database a test can take down and bring back."""

    url: str
    cut: Callable[[], None]
    restore: Callable[[], None]


@pytest.fixture(params=["sqlite", "postgresql"])
def breakable(request, tmp_path) -> Iterator[Breakable]:
    if request.param == "sqlite":  # a folder moved away: the file cannot be opened
        (tmp_path / "store").mkdir()
        yield Breakable(
            f"sqlite:///{tmp_path / 'store' / 'f.db'}",
            lambda: (tmp_path / "store").rename(tmp_path / "away"),
            lambda: (tmp_path / "away").rename(tmp_path / "store"),
        )
        return
    url = make_url(request.getfixturevalue("postgres_url"))
    relay = Relay(url.host or "127.0.0.1", url.port or 5432)  # PostgreSQL as if stopped
    through = url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    yield Breakable(through, relay.cut, relay.restore)
    relay.cut()


def test_with_the_database_down_known_users_get_the_models_list(breakable, served_model):
    newcomer = f"new-{uuid.uuid4().hex[:8]}"
    with TestClient(create_app(served_model, breakable.url)) as client:
        service = client.app.state.service
        first = client.get("/users/9/recommendations").json()
        before, unrated = first["n_feedback"], first["items"][0]["item"]
        assert (
            client.post(f"/users/{newcomer}/ratings", json={"item": 50, "rating": 4}).status_code
            == 201
        )
        service.store.engine.dispose()  # no connection kept open past the cut
        breakable.cut()
        assert_error(
            client.post("/users/9/ratings", json={"item": 50, "rating": 4}), 503, "unavailable"
        )
        listed = client.get("/users/9/recommendations?n=10")
        assert listed.status_code == 200, listed.text
        assert listed.json()["degraded"] is True and listed.json()["n_feedback"] == 0
        expected = service.current.rec.recommend(9, n=10)["item"].tolist()
        assert [row["item"] for row in listed.json()["items"]] == expected
        # a user only the store knows: no list without it
        assert_error(client.get(f"/users/{newcomer}/recommendations"), 503, "unavailable")
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        assert health.json()["feedback_status"].startswith("unavailable")
        assert health.json()["n_feedback"] is None
        assert client.get("/items/50").status_code == 200  # what needs no feedback serves
        breakable.restore()
        assert (
            client.post("/users/9/ratings", json={"item": unrated, "rating": 4}).status_code == 201
        )
        back = client.get("/users/9/recommendations").json()
        assert back["degraded"] is False and back["n_feedback"] == before + 1
        assert client.get(f"/users/{newcomer}/recommendations").json()["n_feedback"] == 1
        health = client.get("/health").json()
        assert health["status"] == "ok" and health["feedback_status"] == "ok"
