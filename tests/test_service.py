"""The HTTP service in process (FastAPI's TestClient): every endpoint answers what the library
answers, writes need the token, feedback lands in the database and changes the next list, and
every bad request is a JSON error with the right status. The real-uvicorn tests are in
test_service_server.py."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import embedrec
from embedrec.cli import app as cli_app
from embedrec.cli.serve import is_loopback
from embedrec.service import FeedbackStore, create_app
from embedrec.service.schemas import MAX_BODY_BYTES, MAX_PAIRS
from tests.conftest import low_rank_frame
from tests.service_support import AUTH, TOKEN, assert_error


@pytest.fixture(scope="module")
def rec(served_model):
    return embedrec.load(served_model)


def items_of(response) -> list:
    assert response.status_code == 200, response.text
    return [row["item"] for row in response.json()["items"]]


def test_health_names_the_model_and_its_counts(client, served_model):
    health = client.get("/health", headers=AUTH).json()
    assert health["model"] == "dot-bias" and health["status"] == "ok"
    assert (health["n_users"], health["n_items"]) == (943, 1682)
    assert health["model_dir"] == str(served_model) and health["version"] == embedrec.__version__
    assert health["rating_scale"] == [1.0, 5.0] and health["n_feedback"] == 0
    assert health["load_seconds"] > 0 and "sqlite" in health["feedback_db"]
    assert health["cache"] == {"entries": 0, "bytes": 0, "max_bytes": 64 * 1024 * 1024}


def test_a_known_users_list_is_the_librarys_unseen_top_n(client, rec):
    body = client.get("/users/196/recommendations", params={"n": 5}).json()
    expected = rec.recommend(196, n=5)
    assert [row["item"] for row in body["items"]] == expected["item"].tolist()
    assert [row["title"] for row in body["items"]] == expected["title"].tolist()
    assert body["user"] == 196 and body["n"] == 5 and body["fallback"] is False
    seen = set(rec.item_map.decode(rec.seen(rec.user_index(196))).tolist())
    assert not seen & {row["item"] for row in body["items"]}


def test_an_unknown_user_is_a_404_that_says_so(client):
    assert_error(client.get("/users/no-such-user/recommendations"), 404, "unknown user")


def test_exclude_and_genre_filter_the_list(client, rec):
    top = items_of(client.get("/users/196/recommendations", params={"n": 3}))
    title = embedrec.item_info(rec, top[0])["title"]
    after = items_of(client.get("/users/196/recommendations", params={"n": 3, "exclude": title}))
    assert top[0] not in after and after[0] == top[1]
    comedies = items_of(client.get("/users/196/recommendations?n=10&genre=comedy"))
    assert len(comedies) == 10
    assert all("Comedy" in embedrec.item_info(rec, i)["genres"] for i in comedies)
    assert_error(client.get("/users/196/recommendations?genre=Space+Opera"), 422, "Sci-Fi")


def test_a_new_user_is_folded_in_and_nothing_usable_falls_back(client, rec):
    ratings = {"Star Wars (1977)": 5, "Return of the Jedi": 5, "Toy Story": 1}
    response = client.post("/recommendations", json={"ratings": ratings, "n": 5})
    expected = rec.recommend(ratings=ratings, n=5)["item"].tolist()
    assert items_of(response) == expected and 50 not in expected
    assert response.json()["fallback"] is False
    empty = client.post("/recommendations", json={"ratings": {}, "n": 3}).json()
    assert empty["fallback"] is True and len(empty["items"]) == 3


def test_item_card_search_and_neighbours(client, rec):
    card = client.get("/items/Star Wars").json()
    assert card["item"] == 50 and card["title"] == "Star Wars (1977)"
    assert card["genres"] == ["Action", "Adventure", "Romance", "Sci-Fi", "War"]
    assert card["bias"] == pytest.approx(float(rec.bias([50])[0]), rel=1e-6)
    typical = rec.typical_ratings()[rec.item_index(50)]
    assert card["rating"] == pytest.approx(float(typical)) and 1 <= card["rating"] <= 5
    assert card["n_ratings"] == int(rec.item_counts[rec.item_index(50)]) and not card["hidden"]
    assert client.get("/items/50").json() == card
    found = client.get("/items", params={"query": "star wa", "n": 3}).json()["items"]
    assert found[0]["title"] == "Star Wars (1977)"
    assert all("star" in row["title"].lower() for row in found)
    similar = client.get("/items/Star Wars (1977)/similar", params={"n": 4}).json()
    assert similar["item"] == 50
    assert [r["item"] for r in similar["items"]] == rec.similar_items(50, n=4)["item"].tolist()
    assert client.get("/items", params={"query": "zzzxqq"}).json()["items"] == []


def test_titles_with_a_slash_name_items_in_paths(client):
    assert client.get("/items/Face/Off (1997)").json()["title"] == "Face/Off (1997)"
    assert len(client.get("/items/Face/Off (1997)/similar?n=2").json()["items"]) == 2


def test_predict_scores_a_batch_and_reports_unknown_ids(client, rec):
    pairs = [{"user": 196, "item": 242}, {"user": 186, "item": 302}, {"user": 1, "item": 99999}]
    rows = client.post("/predict", json={"pairs": pairs}).json()["predictions"]
    expected = rec.predict([(196, 242), (186, 302)])["score"].tolist()
    assert [r["score"] for r in rows[:2]] == pytest.approx(expected)
    assert rows[2] == {"user": 1, "item": 99999, "score": None, "error": "unknown item"}
    too_many = {"pairs": [{"user": 1, "item": 1}] * (MAX_PAIRS + 1)}
    assert_error(client.post("/predict", json=too_many), 422, "pairs")


def test_a_hidden_item_is_never_recommended_again(client):
    top = items_of(client.get("/users/196/recommendations?n=5"))
    assert_error(client.put(f"/items/{top[0]}/hidden"), 401)
    assert client.put(f"/items/{top[0]}/hidden", headers=AUTH).json()["hidden"] is True
    assert top[0] not in items_of(client.get("/users/196/recommendations?n=5"))
    assert top[0] not in items_of(client.get("/users/22/recommendations?n=50"))
    assert client.get(f"/items/{top[0]}").json()["hidden"] is True
    client.delete(f"/items/{top[0]}/hidden", headers=AUTH)
    assert items_of(client.get("/users/196/recommendations?n=5")) == top


def test_feedback_is_stored_and_changes_the_next_list(client, db_url, rec):
    before = items_of(client.get("/users/196/recommendations?n=10"))
    rated = {"item": before[0], "rating": 1}
    response = client.post("/users/196/ratings", json=rated, headers=AUTH)
    assert response.status_code == 201, response.text
    assert response.json() == {"user": 196, "stored": 1, "n_feedback": 1, "items": [before[0]]}
    assert FeedbackStore(db_url).ratings_of("196") == {str(before[0]): 1.0}  # on disk
    after = client.get("/users/196/recommendations?n=10").json()
    assert after["n_feedback"] == 1 and before[0] not in [r["item"] for r in after["items"]]
    training = embedrec.user_ratings(rec, 196)
    expected = rec.recommend(ratings={**training, before[0]: 1.0}, n=10)["item"].tolist()
    assert [r["item"] for r in after["items"]] == expected
    batch = {"ratings": [{"item": "Fargo", "rating": 4.5}, {"item": 1, "rating": 2}]}
    stored = client.post("/users/196/ratings", json=batch, headers=AUTH).json()
    assert stored["stored"] == 2 and stored["n_feedback"] == 3 and stored["items"] == [100, 1]


def test_a_user_the_model_never_saw_gets_a_list_from_their_feedback(client):
    rating = {"ratings": [{"item": "Star Wars", "rating": 5}, {"item": "Toy Story", "rating": 4}]}
    assert client.post("/users/newcomer/ratings", json=rating, headers=AUTH).status_code == 201
    body = client.get("/users/newcomer/recommendations?n=5").json()
    assert body["user"] == "newcomer" and body["n_feedback"] == 2 and not body["fallback"]
    assert {50, 1}.isdisjoint(row["item"] for row in body["items"])


def test_bad_feedback_is_refused_with_the_reason_and_nothing_stored(client, db_url):
    def post(body: object) -> object:
        return client.post("/users/196/ratings", json=body, headers=AUTH)

    assert_error(post({"item": "Star Wars", "rating": 9}), 422, "outside the model's scale 1-5")
    assert_error(post({"item": "Star Wars", "rating": "lots"}), 422, "rating")
    assert_error(post({"item": "No Such Film", "rating": 3}), 404, "unknown item")
    body = assert_error(post({"item": "Chasing Amy", "rating": 3}), 400, "matches 2 items")
    assert "246" in body["error"] and "268" in body["error"]
    assert_error(post({"item": 50}), 422, "rating of 50 is missing")  # a rating model needs it
    assert_error(post({"ratings": []}), 422, "ratings")
    assert_error(post({"ratings": [{"item": 50, "rating": 3}, {"item": 50, "rating": 0}]}), 422)
    assert FeedbackStore(db_url).count() == 0  # a batch with one bad rating stores none


def test_malformed_and_mistyped_requests_are_json_errors(client):
    headers = {"Content-Type": "application/json"}
    bad = client.post("/recommendations", content=b'{"ratings": {', headers=headers)
    assert_error(bad, 400, "not valid JSON")
    assert_error(client.post("/recommendations", json={"ratings": [1, 2]}), 422, "ratings")
    assert_error(client.post("/recommendations", json={"ratings": {}, "n": "ten"}), 422, "n")
    assert_error(client.post("/recommendations", json={"ratings": {}, "x": 1}), 422, "x")
    assert_error(client.get("/no/such/endpoint"), 404, "/docs")
    for n in (0, 10**9, -1):
        assert_error(client.get(f"/users/196/recommendations?n={n}"), 422, "n")
    assert_error(client.get("/items/No Such Film Anywhere"), 404, "unknown item")
    assert client.get("/health").status_code == 200  # still serving


def test_a_body_over_the_limit_is_a_413(client):
    body = json.dumps({"ratings": {"x" * (MAX_BODY_BYTES + 10): 1}})
    response = client.post("/recommendations", content=body, headers={"Content-Type": "x"})
    assert_error(response, 413, "bytes")


def test_writes_and_reloads_need_the_token_reads_do_not(client):
    rating = {"item": 50, "rating": 4}
    assert_error(client.post("/users/196/ratings", json=rating), 401, "Bearer")
    wrong = {"Authorization": "Bearer nope"}
    assert_error(client.post("/users/196/ratings", json=rating, headers=wrong), 401, "token")
    assert_error(client.post("/admin/reload", headers={"Authorization": TOKEN}), 401)
    assert client.get("/users/196/recommendations").status_code == 200


def test_without_a_token_writes_are_open(served_model, db_url):
    with TestClient(create_app(served_model, db_url)) as open_client:
        response = open_client.post("/users/196/ratings", json={"item": 50, "rating": 4})
        assert response.status_code == 201


def test_reload_swaps_the_model_and_a_broken_one_leaves_the_old_serving(
    client,
    rec,
    tmp_path,
    served_model,
):
    (tmp_path / "empty").mkdir()
    failed = client.post("/admin/reload", json={"model_dir": str(tmp_path / "empty")}, headers=AUTH)
    assert_error(failed, 400, "model not reloaded", str(served_model))
    assert client.get("/health", headers=AUTH).json()["model_dir"] == str(served_model)
    other = rec.save(tmp_path / "v2")
    swapped = client.post("/admin/reload", json={"model_dir": str(other)}, headers=AUTH)
    assert swapped.status_code == 200 and swapped.json()["model"] == "dot-bias"
    assert client.get("/health", headers=AUTH).json()["model_dir"] == str(other)
    assert client.post("/admin/reload", headers=AUTH).json()["model_dir"] == str(other)


def test_metrics_count_requests_and_latency_per_endpoint(client):
    client.get("/users/196/recommendations")
    client.get("/users/nobody/recommendations")
    text = client.get("/metrics").text
    assert (
        'embedrec_requests_total{endpoint="/users/{user}/recommendations",method="GET",'
        'status="200"} 1.0' in text
    )
    assert 'status="404"' in text
    assert 'embedrec_request_seconds_bucket{endpoint="/users/{user}/recommendations"' in text


def test_docs_the_map_and_the_page(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/users/{user}/recommendations", "/recommendations", "/predict", "/items"):
        assert path in paths
    docs = client.get("/docs").text
    assert "swagger" in docs.lower() and "cdn" not in docs.lower()  # shipped, as the page is
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    points = client.get("/map?n=50").json()["points"]
    assert len(points) == 50 and points[0]["title"] == "Star Wars (1977)"
    assert {"x", "y", "item", "n_ratings"} <= set(points[0])
    page = client.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_serve_warns_without_a_token_off_loopback_and_fails_in_one_line(tmp_path):
    runner = CliRunner()
    missing = tmp_path / "no-model"
    # --port 0: the default 8000 may be taken (the README's server runs on another worker)
    result = runner.invoke(cli_app, ["serve", str(missing), "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "warning: serving on 0.0.0.0 without a token" in result.output
    assert str(missing) in result.output
    quiet = runner.invoke(cli_app, ["serve", str(missing), "--host", "127.0.0.1", "--port", "0"])
    assert quiet.exit_code == 2 and "warning" not in quiet.output
    assert is_loopback("::1") and is_loopback("localhost") and not is_loopback("10.0.0.1")


def test_serve_refuses_a_database_it_cannot_open(served_model):
    result = CliRunner().invoke(
        cli_app, ["serve", str(served_model), "--port", "0", "--db", "nosuch://x"]
    )
    assert result.exit_code == 2 and "feedback database" in result.output


def test_a_model_without_titles_or_genres_serves_ids(tmp_path):
    frame = low_rank_frame(n_users=30, n_items=20, density=0.6)
    ratings = embedrec.ratings_from_frame(frame, rating_scale=(1, 5))
    rec = embedrec.train(ratings, model="dot-bias", epochs=2, n_factors=4, seed=0)
    model_dir = rec.save(tmp_path / "plain")
    with TestClient(create_app(model_dir, f"sqlite:///{tmp_path / 'f.db'}")) as client:
        body = client.get("/users/u3/recommendations?n=3").json()
        assert body["user"] == "u3" and len(body["items"]) == 3
        assert all(row["title"] is None for row in body["items"])
        assert client.get("/items/105").json()["genres"] == []
        assert client.get("/items?query=anything").json()["items"] == []
        assert_error(client.get("/users/u3/recommendations?genre=Drama"), 422, "without genres")
        assert_error(client.get("/users/u99999/recommendations"), 404, "unknown user")


def test_kept_lists_are_the_lists_computed_afresh(served_model, db_url, client):
    with TestClient(create_app(served_model, db_url, cache_mb=0)) as uncached:
        for query in ("n=5", "n=5", "n=7&genre=Drama", "n=3&exclude=Fargo", "n=3&exclude=100"):
            path = f"/users/22/recommendations?{query}"
            assert client.get(path).json() == uncached.get(path).json()
    kept = client.app.state.service.current.cache
    assert len(kept) == 4  # three lists ("Fargo" is 100: one list) and Drama's items
    assert len(uncached.app.state.service.current.cache) == 0


def test_a_kept_list_gives_way_to_a_rating_another_server_stored(served_model, store_url):
    with TestClient(create_app(served_model, store_url)) as client:
        first = client.get("/users/22/recommendations?n=5").json()  # now kept in memory
        before = [row["item"] for row in first["items"]]
        FeedbackStore(store_url).add("22", [(str(before[0]), 1.0)])  # as a second server would
        after = client.get("/users/22/recommendations?n=5").json()
    assert after["n_feedback"] == first["n_feedback"] + 1
    assert before[0] not in [row["item"] for row in after["items"]]


def test_a_model_with_a_ranker_shows_the_predicted_rating_too(tmp_path):
    ratings = embedrec.ratings_from_frame(low_rank_frame(), rating_scale=(1, 5))
    rec = embedrec.train(ratings, model="dot-bias", ranker="ease", epochs=2, n_factors=4)
    model_dir = rec.save(tmp_path / "ranked")
    with TestClient(create_app(model_dir, f"sqlite:///{tmp_path / 'f.db'}")) as client:
        assert client.get("/health").json()["model"] == "dot-bias+ease"
        listed = client.get("/users/u1/recommendations?n=4").json()["items"]
        assert [row["item"] for row in listed] == rec.recommend("u1", n=4)["item"].tolist()
        assert all(1 <= row["rating"] <= 5 for row in listed)
        new = client.post("/recommendations", json={"ratings": {"100": 5, "101": 1}, "n": 3})
        assert len(new.json()["items"]) == 3 and new.json()["items"][0]["rating"] is not None
        similar = client.get("/items/100/similar?n=3&min_ratings=0").json()["items"]
        assert len(similar) == 3 and similar[0]["title"] is None
        assert client.get("/map?n=5").json()["points"][0]["title"] is None
