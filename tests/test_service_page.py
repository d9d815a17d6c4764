"""What the web page reads from the API, checked without a browser: a list's `rating` is the
predicted rating in stars wherever the model predicts one (the page shows it, never the unitless
ranking score), and `/health` names the catalogue's items (the page never says "films" for
books). The page itself in Chromium: tests/test_service_browser.py."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

import embedrec
from embedrec.service import create_app
from tests.conftest import low_rank_frame, plays_frame


@pytest.fixture(scope="module")
def rated_dir(tmp_path_factory):
    """dot-bias on ratings 1-5: it predicts ratings, so its lists' scores are stars."""
    ratings = embedrec.ratings_from_frame(low_rank_frame(), rating_scale=(1, 5))
    rec = embedrec.train(ratings, model="dot-bias", epochs=2, n_factors=4, seed=0)
    return rec.save(tmp_path_factory.mktemp("models") / "rated")


def served(model_dir, tmp_path) -> TestClient:
    return TestClient(create_app(model_dir, f"sqlite:///{tmp_path / 'feedback.db'}"))


def test_a_rating_models_lists_carry_the_predicted_rating_in_stars(rated_dir, tmp_path):
    rec = embedrec.load(rated_dir)
    with served(rated_dir, tmp_path) as client:
        known = client.get("/users/u1/recommendations?n=5").json()["items"]
        new = client.post("/recommendations", json={"ratings": {"100": 5}, "n": 5}).json()
        fallback = client.post("/recommendations", json={"ratings": {}, "n": 5}).json()
    assert [row["item"] for row in known] == rec.recommend("u1", n=5)["item"].tolist()
    expected = rec.predict([("u1", row["item"]) for row in known])["score"].tolist()
    assert [row["rating"] for row in known] == pytest.approx(expected, abs=1e-5)
    predicted_new = rec.predict_new({100: 5}, [row["item"] for row in new["items"]])
    assert [row["rating"] for row in new["items"]] == pytest.approx(predicted_new, abs=1e-5)
    assert fallback["fallback"] is True
    typical = rec.typical_ratings()[rec.item_indices([row["item"] for row in fallback["items"]])]
    assert [row["rating"] for row in fallback["items"]] == pytest.approx(typical, abs=1e-5)
    for row in known + new["items"] + fallback["items"]:
        assert 1 <= row["rating"] <= 5


def test_a_model_of_interactions_gives_no_rating_to_show(tmp_path):
    plays = embedrec.ratings_from_frame(plays_frame(30, 20))
    model_dir = embedrec.train(plays, model="ease").save(tmp_path / "plays")
    with served(model_dir, tmp_path) as client:
        listed = client.get("/users/u1/recommendations?n=4").json()["items"]
        new = client.post("/recommendations", json={"ratings": {"101": 1}, "n": 4}).json()
        popular = client.post("/recommendations", json={"ratings": {}, "n": 4}).json()
    assert listed and new["items"] and popular["fallback"]
    assert all(row["rating"] is None for row in listed + new["items"] + popular["items"])


@pytest.mark.parametrize(
    ("source", "noun"),
    [
        ("movielens-100k", "films"),
        ("/data/movielens/ml-100k", "films"),
        ("/data/ml-latest-small/ratings.csv", "films"),
        ("/data/MovieTweetings/snapshots/100K/ratings.dat", "films"),
        ("/data/goodbooks-10k/ratings.csv", "items"),
        ("/data/html/ratings.csv", "items"),  # 'ml' alone names no MovieLens release
        (None, "items"),
    ],
)
def test_the_items_are_films_only_for_a_film_catalogue(rated_dir, source, noun):
    split = None if source is None else {"name": "random", "spec": {}, "data": source}
    rec = dataclasses.replace(embedrec.load(rated_dir), split=split)
    assert embedrec.item_noun(rec) == noun


def test_health_names_the_items_as_the_page_will(rated_dir, tmp_path):
    rec = embedrec.load(rated_dir)
    films_split = {"name": "random", "spec": {}, "data": "movielens-100k"}
    films = dataclasses.replace(rec, split=films_split).save(tmp_path / "films")
    books_split = {"name": "random", "spec": {}, "data": "/data/goodbooks-10k/ratings.csv"}
    books = dataclasses.replace(rec, split=books_split).save(tmp_path / "books")
    with served(films, tmp_path) as client:
        assert client.get("/health").json()["item_noun"] == "films"
    with served(books, tmp_path) as client:
        assert client.get("/health").json()["item_noun"] == "items"
