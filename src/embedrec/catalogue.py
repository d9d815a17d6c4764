"""What an application asks of a Recommender about its catalogue and its users, beyond ranking:
title search for autocomplete, one item's card (title, genres, bias, rating count), what the
items are called, the items of a genre, a rating checked against the model's scale, and a
user's ratings to fold in again with new feedback. Functions of a Recommender (like evaluation
and interpretation), so the Recommender stays the object that scores; the HTTP service is
built on these.

>>> rec = embedrec.load("models/ml-100k")                       # doctest: +SKIP
>>> search_items(rec, "star wa", n=3)                        # doctest: +SKIP
>>> item_info(rec, "Fargo")["genres"]                            # doctest: +SKIP
['Crime', 'Drama', 'Thriller']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd

from embedrec.data.movielens import is_movielens_name
from embedrec.errors import DataError, UnknownIdError
from embedrec.recommender import Recommender
from embedrec.renamed import renamed_keyword
from embedrec.scoring import checked_ratings


def raw_id(value: Any) -> Any:
    """A raw id as plain Python (numpy scalars to int/str), for JSON and dict keys."""
    return value.item() if hasattr(value, "item") else value


def item_id(rec: Recommender, item: Any) -> Any:
    """The raw id of an item named by id or title (UnknownIdError / AmbiguousNameError)."""
    return raw_id(rec.item_map.ids[rec.item_index(item)])


def known_user(rec: Recommender, user: Any) -> Any | None:
    """The raw id of a user the model was trained with (tolerating '42' for 42), else None."""
    index = rec.user_map.lookup(user)
    return None if index < 0 else raw_id(rec.user_map.ids[index])


def search_items(
    rec: Recommender, query: str, n: int = 10, *, limit: int | None = None
) -> pd.DataFrame:
    """The `n` items whose title holds every word of `query` (word prefixes, so "star wa" finds
    "Star Wars (1977)"), titles starting with it first, then by rating count: columns item,
    title, n_ratings. `limit=` is the old spelling of `n=`."""
    n = renamed_keyword("search_items", "limit", "n", limit, n, default=10)
    if n < 1:
        raise DataError(f"n must be at least 1, got {n}")
    if rec.titles is None:
        return rec.describe(np.zeros(0, dtype=np.int64))
    starting, containing = rec.item_names.search(query)
    ranked = []
    for group in (starting, containing):
        indices = np.array(group, dtype=np.int64)
        ranked.append(indices[np.argsort(-rec.item_counts[indices], kind="stable")])
    return rec.describe(np.concatenate(ranked)[:n]).reset_index(drop=True)


def item_genres(rec: Recommender, index: int) -> list[str]:
    """The genres of the item at `index` ([] where the data named none)."""
    if rec.genres is None or not rec.genres[index]:
        return []
    return str(rec.genres[index]).split("|")


def genre_names(rec: Recommender) -> list[str]:
    """Every genre some item has, sorted."""
    if rec.genres is None:
        return []
    return sorted({g for text in rec.genres if text for g in str(text).split("|")})


def item_info(rec: Recommender, item: Any) -> dict[str, Any]:
    """One item's card: raw id, title, genres, learned bias (None where the model has no
    biases), that bias in stars (the rating typical users get from the model) and training
    rating count."""
    index = rec.item_index(item)
    biases = rec.model.biases("item")
    rated = rec.item_counts[index] > 0 and not rec.interactions  # interactions: no ratings
    typical = float(rec.typical_ratings()[index]) if rated else None
    return {
        "item": raw_id(rec.item_map.ids[index]),
        "title": None if rec.titles is None else str(rec.titles[index]) or None,
        "genres": item_genres(rec, index),
        "bias": None if biases is None else float(biases[index]),
        "rating": typical,
        "n_ratings": int(rec.item_counts[index]),
    }


def item_noun(rec: Recommender) -> str:
    """What the model's items are, plural, for people reading about them: 'films' where its
    recorded training source is MovieLens (by name or folder) or MovieTweetings, else 'items'
    (never 'films' for books or artists). A model trained through the Python API records no
    source: 'items'."""
    source = str((rec.split or {}).get("data") or "")
    for part in PurePath(source).parts:
        if is_movielens_name(part) or "movietweetings" in part.lower():
            return "films"
    return "items"


def genre_items(rec: Recommender, genres: Iterable[str]) -> list[Any]:
    """Raw ids of the items with any of `genres` (case ignored); DataError naming the genres
    the model knows when one is not among them."""
    known = {g.lower(): g for g in genre_names(rec)}
    wanted = set()
    for genre in genres:
        if genre.lower() not in known:
            listed = ", ".join(known.values()) or "none: the model was trained without genres"
            raise DataError(f"unknown genre {genre!r}; the genres are: {listed}")
        wanted.add(known[genre.lower()])
    assert rec.genres is not None  # known is empty otherwise
    chosen = [i for i, text in enumerate(rec.genres) if wanted & set(str(text).split("|"))]
    return [raw_id(v) for v in rec.item_map.decode(np.array(chosen, dtype=np.int64))]


def accepted_scale(rec: Recommender) -> tuple[float, float]:
    """The ratings the model takes from a user (a new user's, stored feedback): its declared
    scale, else the range of its training ratings (a 99 beside ratings of 1-5 is a typo, not a
    very strong like); any number for a model that records neither; any positive weight for a
    model trained on interactions (a count of plays past the training's largest is still one)."""
    if rec.interactions:
        return (float(np.nextafter(0.0, 1.0)), np.inf)
    return rec.rating_scale or rec.observed_scale or (-np.inf, np.inf)


def check_rating(rec: Recommender, item: Any, rating: Any) -> tuple[Any, float]:
    """(raw item id, rating as float) for one rating of an item named by id or title; errors
    name the item when it is unknown or the rating is outside the model's scale: the declared
    one, else the range of its training ratings (what a list folds in, so whatever is stored
    can be listed). No rating (None): an event, weighing 1, for a model trained on
    interactions; a rating model needs the rating."""
    if rating is None:
        if not rec.interactions:
            raise DataError(
                f"the rating of {item!r} is missing: this model predicts ratings; events without "
                "a value (plays, clicks) go to a model trained on interactions"
            )
        rating = 1.0
    indices, values = checked_ratings({item: rating}, rec.item_index, accepted_scale(rec))
    return raw_id(rec.item_map.ids[indices[0]]), float(values[0])


def user_ratings(
    rec: Recommender, user: Any = None, extra: Mapping[Any, float] | None = None
) -> dict[Any, float]:
    """A user's ratings by raw item id: their training ratings (a known `user`), updated with
    `extra` {item id or title: rating} (stored feedback; later wins, and for a model trained on
    interactions a weight adds to the training one: plays since). Items of `extra` the model
    does not know are skipped (a retrain picks them up). For a model directory written before
    training ratings were saved, the model's own predictions stand in for them."""
    ratings: dict[Any, float] = {}
    if user is not None:
        index = rec.user_index(user)
        seen = rec.seen(index)
        if rec.seen_ratings is not None and rec.seen_indptr is not None:
            values = rec.seen_ratings[rec.seen_indptr[index] : rec.seen_indptr[index + 1]]
        elif rec.model.predicts_ratings:
            values = rec.predict_indices(np.full(len(seen), index), seen)
        else:
            values = np.zeros(0, dtype=np.float32)
            seen = seen[:0]
        for item, value in zip(rec.item_map.decode(seen), values):
            ratings[raw_id(item)] = float(value)
    for item, value in (extra or {}).items():
        try:
            key = item_id(rec, item)
        except UnknownIdError:
            continue
        ratings[key] = float(value) + (ratings.get(key, 0.0) if rec.interactions else 0.0)
    return ratings
