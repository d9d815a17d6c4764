"""Catalogue look-ups of a Recommender (what the service asks): title search, item cards with
MovieLens genres, genre filters, checked ratings, a user's ratings; and what the model directory
now keeps for them (genres, each user's training ratings)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import embedrec


@pytest.fixture(scope="module")
def rec(served_model):
    return embedrec.load(served_model)


def test_movielens_genres_are_loaded_and_saved(ml100k, rec):
    assert ml100k.genres is not None and len(ml100k.genres) == ml100k.n_items
    assert embedrec.item_info(rec, "Toy Story")["genres"] == ["Animation", "Children's", "Comedy"]
    assert "Film-Noir" in embedrec.genre_names(rec) and len(embedrec.genre_names(rec)) == 19


def test_search_finds_word_prefixes_with_titles_starting_with_the_query_first(rec):
    found = embedrec.search_items(rec, "star", n=20)
    assert found["title"].iloc[0] == "Star Wars (1977)"
    starting = [t.lower().startswith("star") for t in found["title"]]
    assert starting == sorted(starting, reverse=True)  # every 'Star...' before '... Star ...'
    assert embedrec.search_items(rec, "lambs silence")["item"].tolist() == [98]
    assert embedrec.search_items(rec, "the net")["title"].iloc[0] == "Net, The (1995)"
    with pytest.raises(embedrec.DataError, match="n must be at least 1"):
        embedrec.search_items(rec, "star", n=0)


def test_search_items_old_limit_keyword_still_works_and_names_n(rec):
    with pytest.warns(DeprecationWarning, match=r"search_items\(n=\)"):
        old = embedrec.search_items(rec, "star", limit=3)
    assert old.equals(embedrec.search_items(rec, "star", n=3)) and len(old) == 3


def test_genre_items_and_exclude_filter_recommendations(rec):
    westerns = embedrec.genre_items(rec, ["western"])
    listed = rec.recommend(196, n=5, items=westerns)["item"].tolist()
    assert listed and all("Western" in embedrec.item_info(rec, i)["genres"] for i in listed)
    top = rec.recommend(196, n=3)["item"].tolist()
    assert rec.recommend(196, n=3, exclude=[top[0], "Fargo"])["item"].tolist()[:2] == top[1:]
    with pytest.raises(embedrec.DataError, match="unknown genre 'Space'"):
        embedrec.genre_items(rec, ["Space"])


def test_check_rating_names_the_item_and_the_scale(rec):
    assert embedrec.check_rating(rec, "Star Wars", 4.5) == (50, 4.5)
    with pytest.raises(embedrec.DataError, match="outside the model's scale 1-5"):
        embedrec.check_rating(rec, 50, 6)
    with pytest.raises(embedrec.UnknownIdError, match="unknown item"):
        embedrec.check_rating(rec, "No Such Film", 3)
    with pytest.raises(embedrec.AmbiguousNameError, match="matches 2 items"):
        embedrec.check_rating(rec, "Chasing Amy", 3)


def test_user_ratings_are_the_training_ratings_updated_by_feedback(rec, chapter_split):
    frame = chapter_split.train.to_frame(titles=False)
    mine = frame[frame["user"] == 196]
    training = embedrec.user_ratings(rec, 196)
    assert training == dict(zip(mine["item"].tolist(), mine["rating"].astype(float).tolist()))
    some = mine["item"].iloc[0]
    updated = embedrec.user_ratings(rec, 196, {str(some): 1.0, "Heat": 5, "99999": 3})
    assert updated[some] == 1.0 and updated[273] == 5.0 and 99999 not in updated


def test_a_model_directory_without_saved_ratings_falls_back_to_predictions(rec):
    old = dataclasses.replace(rec, seen_ratings=None)
    guessed = embedrec.user_ratings(old, 196)
    assert set(guessed) == set(embedrec.user_ratings(rec, 196))
    items = list(guessed)[:3]
    predicted = rec.predict([(196, i) for i in items])["score"].to_numpy()
    assert np.allclose([guessed[i] for i in items], predicted, atol=1e-5)


def test_limit_and_n_at_odds_are_an_error_naming_both(rec):
    with pytest.raises(embedrec.ModelError, match=r"n=3 and limit=2 are one setting"):
        embedrec.search_items(rec, "star", n=3, limit=2)
