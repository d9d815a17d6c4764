"""The service as an HTTP citizen and under an anonymous client's control (issue 23, items 5, 6
and 9): the factor map computed once per model and off the event loop; every cache bounded by
bytes and its bound shown; `true` no id or rating; titles in /predict; 405 with Allow, HEAD
answered; the Host checked and admin requests impossible from a cross-site form; security
headers; /health's private fields only with the token; accents folded in title search."""

from __future__ import annotations

import asyncio
import json
import threading
import time

from fastapi.testclient import TestClient

import embedrec
from embedrec.cli.serve import health_timeout
from embedrec.service import create_app, errors
from embedrec.service.cache import ByteCache, approx_bytes
from embedrec.service.hygiene import default_hosts, host_name
from tests.service_support import AUTH, TOKEN, assert_error

JSON_TYPE = {"Content-Type": "application/json"}


def test_the_map_is_computed_once_per_loaded_model(client):
    served = client.app.state.service.current
    first = client.get("/map?n=20").json()["points"]
    computed = served.factor_map()
    assert len(client.get("/map?n=300").json()["points"]) == 300
    assert served.factor_map() is computed  # the same frame: not computed again
    assert client.get("/map?n=20").json()["points"] == first
    client.post("/admin/reload", headers=AUTH)
    assert client.app.state.service.current.factor_map() is not computed  # a new model's own


def test_health_answers_while_the_map_is_being_computed(client):
    served = client.app.state.service.current
    answers: list[int] = []
    others: list[int] = []

    def ask_others() -> None:
        others.append(client.get("/health").status_code)
        others.append(client.get("/users/196/recommendations?n=3").status_code)

    with served.map_lock:  # the map's computation holds this: as if it took a long time
        waiting = threading.Thread(target=lambda: answers.append(client.get("/map").status_code))
        waiting.start()
        time.sleep(0.3)  # the map request is in, waiting for the computation
        # asked from a thread, so that a map blocking the event loop fails here (the lock is
        # released on the way out), never hangs the test
        asking = threading.Thread(target=ask_others)
        asking.start()
        asking.join(10)
        assert others == [200, 200] and not answers  # answered; the map still waits
    asking.join(30)
    waiting.join(30)
    assert answers == [200]


def test_a_byte_cache_keeps_the_recently_used_within_its_bound():
    cache = ByteCache(10_000)
    for key in range(100):
        cache.put(key, b"x" * 900)
        cache.get(0)  # the first, used after each put, stays
        assert cache.bytes <= cache.max_bytes
    assert cache.get(0) is not None and cache.get(1) is None and cache.get(99) is not None
    assert cache.state()["entries"] == len(cache) < 11
    cache.put("huge", b"x" * 20_000)  # larger than the whole bound: not kept, nothing evicted
    assert cache.get("huge") is None and cache.get(99) is not None
    assert ByteCache(0).put("k", "v") == "v" and len(ByteCache(0)) == 0
    assert approx_bytes(("a", [1, 2], {"k": b"12345"})) > approx_bytes(b"12345")


def test_long_lists_and_genre_combinations_stay_within_the_cache_bound(served_model, db_url):
    with TestClient(create_app(served_model, db_url, TOKEN, cache_mb=0.5)) as client:
        for user in range(1, 41):  # 40 lists of 1,000 items: about 3 MB if all were kept
            assert client.get(f"/users/{user}/recommendations?n=1000").status_code == 200
        genres = ["Action", "Comedy", "Drama", "Romance", "Thriller", "War", "Crime", "Horror"]
        for mask in range(1, 2 ** len(genres)):  # 255 combinations
            chosen = [g for bit, g in enumerate(genres) if mask >> bit & 1]
            query = "&".join(f"genre={g}" for g in chosen)
            assert client.get(f"/users/5/recommendations?n=1&{query}").status_code == 200
        cache = client.get("/health").json()["cache"]
        assert cache["max_bytes"] == 512 * 1024
        assert 0 < cache["bytes"] <= cache["max_bytes"]
        kept = client.app.state.service.current.cache
        assert kept.bytes == cache["bytes"] and len(kept) == cache["entries"]
        # what is kept is still right: the same list as computed afresh
        listed = client.get("/users/40/recommendations?n=1000").json()
        with TestClient(create_app(served_model, db_url, cache_mb=0)) as uncached:
            assert uncached.get("/users/40/recommendations?n=1000").json() == listed


def test_invented_methods_do_not_grow_the_metrics(client):
    for number in range(30):
        client.request(f"FOO{number}", "/health")
    text = client.get("/metrics").text
    assert "FOO" not in text and 'method="other"' in text


def test_true_is_neither_an_id_nor_a_rating_nor_a_count(client):
    def post_rating(body: object) -> object:
        return client.post("/users/196/ratings", json=body, headers=AUTH)

    assert_error(post_rating({"item": 50, "rating": True}), 422, "rating")
    assert_error(post_rating({"item": True, "rating": 4}), 422, "item")
    assert_error(post_rating({"ratings": [{"item": 50, "rating": True}]}), 422, "rating")
    assert_error(client.post("/predict", json={"pairs": [{"user": True, "item": 50}]}), 422, "user")
    new_user = {"ratings": {"Fargo": True}}
    assert_error(client.post("/recommendations", json=new_user), 422, "ratings.Fargo")
    counted = {"ratings": {"Fargo": 5}, "n": True}
    assert_error(client.post("/recommendations", json=counted), 422, "body.n")
    assert_error(client.post("/recommendations", json={"ratings": {}, "exclude": [True]}), 422)
    assert post_rating({"item": 50, "rating": 4}).status_code == 201  # an int is a rating


def test_predict_names_items_by_title_as_everywhere_else(client):
    pairs = [
        {"user": 196, "item": "Star Wars (1977)"},
        {"user": 196, "item": "fargo"},
        {"user": 196, "item": "No Such Film Anywhere"},
        {"user": 196, "item": "Chasing Amy"},  # two items have this title
    ]
    rows = client.post("/predict", json={"pairs": pairs}).json()["predictions"]
    by_id = client.post(
        "/predict", json={"pairs": [{"user": 196, "item": 50}, {"user": 196, "item": 100}]}
    ).json()["predictions"]
    assert rows[:2] == by_id
    assert rows[2]["error"] == "unknown item" and rows[2]["item"] == "No Such Film Anywhere"
    assert rows[3]["score"] is None and rows[3]["error"] == "ambiguous title"


def test_a_wrong_method_is_a_405_naming_the_allowed_ones(client):
    response = client.post("/health")
    assert_error(response, 405, "GET")
    assert response.headers["allow"] == "GET, HEAD"
    both = client.post("/items/50/hidden", headers=AUTH)
    assert_error(both, 405)
    assert {"PUT", "DELETE"} <= set(both.headers["allow"].split(", "))


def test_head_is_answered_wherever_get_is(client):
    for path in ("/", "/health", "/users/196/recommendations"):
        response = client.head(path)
        assert response.status_code == 200 and response.content == b"", path
        assert int(response.headers["content-length"]) > 0
    assert client.head("/no/such/endpoint").status_code == 404


def test_every_response_carries_the_security_headers(client):
    for path in ("/", "/health", "/static/app.js", "/no/such/endpoint"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY"
        policy = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
        assert "unsafe-inline" not in policy
    assert "unsafe-inline" in client.get("/docs").headers["content-security-policy"]


def test_health_shows_where_and_who_only_with_the_token(client, served_model, db_url):
    public = client.get("/health").json()
    assert public["model_dir"] is None and public["pid"] is None
    assert public["feedback_db"] is None and str(served_model) not in str(public)
    private = client.get("/health", headers=AUTH).json()
    assert private["model_dir"] == str(served_model) and private["pid"] > 0
    wrong = client.get("/health", headers={"Authorization": "Bearer nope"}).json()
    assert wrong["model_dir"] is None
    with TestClient(create_app(served_model, db_url)) as open_client:  # no token: never
        assert open_client.get("/health").json()["model_dir"] is None


def test_a_cross_site_form_can_neither_reload_nor_rate_on_a_server_without_a_token(
    served_model, db_url
):
    with TestClient(create_app(served_model, db_url)) as client:
        before = client.app.state.service.current
        for form in ({"data": {"model_dir": "/tmp"}}, {"content": b"x=1"}, {}):
            assert_error(client.post("/admin/reload", **form), 415, "application/json")
        assert client.app.state.service.current is before
        # a page's form may post JSON-looking text as text/plain: never read as a rating
        looks_like_json = b'{"item": 50, "rating": 5}'
        for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
            posted = client.post(
                "/users/196/ratings", content=looks_like_json, headers={"Content-Type": kind}
            )
            assert_error(posted, 400, "Content-Type: application/json", kind)
        assert client.get("/users/196/ratings").json()["ratings"] == []
        plain = {"Content-Type": "text/plain"}
        assert_error(client.post("/admin/reload", content=b"{}", headers=plain), 415)
        assert client.post("/admin/reload", headers=JSON_TYPE).status_code == 200  # empty body
        assert client.post("/admin/reload", json={}).status_code == 200
        assert client.app.state.service.current is not before


def test_a_host_the_server_does_not_answer_to_is_refused(served_model, db_url):
    app = create_app(served_model, db_url, allowed_hosts=["localhost", "127.0.0.1", "::1"])
    with TestClient(app, base_url="http://localhost:8000") as client:
        assert client.get("/health").status_code == 200
        for host in ("127.0.0.1:8000", "[::1]:8000", "LOCALHOST"):
            assert client.get("/health", headers={"Host": host}).status_code == 200, host
        rebound = client.post("/admin/reload", json={}, headers={"Host": "evil.example:8000"})
        assert_error(rebound, 400, "evil.example", "--allowed-host")
        assert_error(client.get("/users/196/ratings", headers={"Host": "evil.example"}), 400)
    with TestClient(create_app(served_model, db_url, allowed_hosts=["*"])) as anywhere:
        assert anywhere.get("/health", headers={"Host": "any.example"}).status_code == 200


def test_title_search_and_lookup_ignore_accents(client):
    found = client.get("/items", params={"query": "miserables"}).json()["items"]
    assert [row["item"] for row in found] == [543]
    assert client.get("/items/Nenette et Boni").json()["item"] == 1233
    assert client.get("/items", params={"query": "Nénette"}).json()["items"][0]["item"] == 1233
    rec = client.app.state.service.current.rec
    assert embedrec.search_items(rec, "c'est arrive pres")["item"].tolist() == [1104]


def test_a_body_slower_than_the_deadline_is_a_408(client, monkeypatch):
    """The ASGI app called as uvicorn calls it, the body's second half arriving late."""
    monkeypatch.setattr(errors, "BODY_SECONDS", 0.3)
    chunks = [b'{"ratings": ', b"{}}"]
    sent: list[dict] = []

    async def receive() -> dict:
        if len(chunks) == 1:
            await asyncio.sleep(1.5)  # the rest comes after the deadline
        return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/recommendations",
        "raw_path": b"/recommendations",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    asyncio.run(client.app(scope, receive, send))
    assert sent[0]["status"] == 408, sent
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body["status"] == 408 and "body" in body["error"]


def test_serve_answers_to_its_own_names_and_waits_for_slow_workers():
    assert default_hosts("0.0.0.0") is None and default_hosts("::") is None
    assert default_hosts("10.1.2.3") == ["10.1.2.3", "127.0.0.1", "::1", "localhost"]
    assert host_name("[::1]:8000") == "::1" and host_name("Example.org:80") == "example.org"
    assert health_timeout(0.05) == 60 and health_timeout(10) == 200
