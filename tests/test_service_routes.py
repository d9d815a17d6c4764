"""The HTTP API's vocabulary, as a client relies on it: every path, method, parameter and
response model of the OpenAPI schema (routes moving between modules must not change it), and
"how many" one word, `n`, everywhere (the search's old `limit` still taken, and deprecated)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from embedrec.service import create_app

# (method, path) -> (parameter names, request body, 2xx response model); taken from the app of
# main 096e8e4, before the routes moved into routers, plus `n` on GET /items
VOCABULARY = {
    ("POST", "/admin/reload"): ({"authorization"}, "ReloadRequest", "200 Reloaded"),
    ("GET", "/health"): ({"authorization"}, None, "200 Health"),
    ("GET", "/items"): ({"query", "n", "limit"}, None, "200 Search"),
    ("GET", "/items/{item}"): ({"item"}, None, "200 ItemCard"),
    ("PUT", "/items/{item}/hidden"): ({"authorization", "item"}, None, "200 Hidden"),
    ("DELETE", "/items/{item}/hidden"): ({"authorization", "item"}, None, "200 Hidden"),
    ("GET", "/items/{item}/similar"): ({"item", "min_ratings", "n"}, None, "200 Similar"),
    ("GET", "/map"): ({"n"}, None, "200 FactorMap"),
    ("POST", "/predict"): (set(), "PredictRequest", "200 Predictions"),
    ("POST", "/recommendations"): (set(), "NewUserRequest", "200 Recommendations"),
    ("GET", "/users/{user}/ratings"): ({"user"}, None, "200 StoredRatings"),
    ("POST", "/users/{user}/ratings"): (
        {"authorization", "user"},
        "FeedbackRequest",
        "201 FeedbackStored",
    ),
    ("GET", "/users/{user}/recommendations"): (
        {"exclude", "genre", "n", "user"},
        None,
        "200 Recommendations",
    ),
}
ERRORS = {"400", "401", "404", "413", "422"}  # every operation documents these as ErrorBody


@pytest.fixture(scope="module")
def app(served_model, tmp_path_factory):
    return create_app(served_model, f"sqlite:///{tmp_path_factory.mktemp('db') / 'f.db'}")


@pytest.fixture
def client(app):
    with TestClient(app) as test_client:
        yield test_client


def schema_name(schema: dict) -> str | None:
    """The component a body or response names ('#/components/schemas/X' -> 'X'), directly or
    as the one non-null alternative of an optional body."""
    refs = [schema.get("$ref")] + [one.get("$ref") for one in schema.get("anyOf", [])]
    named = [ref.rsplit("/", 1)[-1] for ref in refs if ref]
    return named[0] if named else None


def test_the_openapi_vocabulary_is_what_clients_know(app):
    found = {}
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            params = {p["name"] for p in operation.get("parameters", [])}
            body = operation.get("requestBody", {}).get("content", {})
            body_name = schema_name(body.get("application/json", {}).get("schema", {}))
            responses = operation["responses"]
            success = [code for code in responses if code.startswith("2")]
            assert len(success) == 1, (method, path, responses)
            model = schema_name(responses[success[0]]["content"]["application/json"]["schema"])
            found[(method.upper(), path)] = (params, body_name, f"{success[0]} {model}")
            errors = {c for c, r in responses.items() if c != success[0]}
            assert ERRORS <= errors, (method, path)
            for code in errors:
                assert schema_name(responses[code]["content"]["application/json"]["schema"]) == (
                    "ErrorBody"
                )
    assert found == VOCABULARY


def test_the_search_counts_with_n_and_its_old_limit_is_deprecated(app, client):
    (limit,) = [
        p for p in app.openapi()["paths"]["/items"]["get"]["parameters"] if p["name"] == "limit"
    ]
    assert limit["deprecated"] is True
    by_n = client.get("/items", params={"query": "star", "n": 3})
    by_limit = client.get("/items", params={"query": "star", "limit": 3})
    assert by_n.status_code == by_limit.status_code == 200
    assert len(by_n.json()["items"]) == 3 and by_n.json() == by_limit.json()
    assert "deprecation" in by_limit.headers and "deprecation" not in by_n.headers
    # both given: the same number is fine, two numbers are a 422 naming both
    same = client.get("/items", params={"query": "star", "n": 3, "limit": 3})
    assert same.json() == by_n.json()
    clash = client.get("/items", params={"query": "star", "n": 2, "limit": 3})
    assert clash.status_code == 422 and clash.json()["status"] == 422
    assert "n=2" in clash.json()["error"] and "limit=3" in clash.json()["error"]
    # the old name keeps its range
    assert client.get("/items", params={"query": "star", "limit": 0}).status_code == 422
