"""How the routes' answers are made from the library's: result frames as JSON rows, a user's
list (kept per loaded model when it can be, folded in again with their stored feedback when
they have some; `rating` in stars wherever the scores are not), items of a (user, item) pair
named by id or title."""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi.responses import Response

import embedrec
from embedrec.service import schemas as s
from embedrec.service.errors import ApiError
from embedrec.service.state import Served, Service, in_scale


def rows(frame: pd.DataFrame, leave_out: str = "") -> list[dict[str, Any]]:
    """A result frame as JSON-ready rows: Python scalars (`tolist`), NaN as None; without the
    column `leave_out` (cheaper than dropping it from the frame)."""
    columns = {
        str(name): [None if value != value else value for value in frame[name].tolist()]
        for name in frame.columns
        if name != leave_out
    }
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


def user_key(rec: embedrec.Recommender, user: str, known: Any = None) -> str:
    """How a user's feedback is keyed: the model's raw id when known (`known`, when the caller
    has looked it up already), else the id given in the type of the model's ids where it
    converts exactly (`IdMap.canonical`: '1.0' is the new user 1 of a model of integer ids,
    one user however a client writes it), as text."""
    known = embedrec.known_user(rec, user) if known is None else known
    return str(rec.user_map.canonical(user) if known is None else known)


def usable(rec: embedrec.Recommender, items: set[str]) -> list[Any]:
    """Those of `items` (stored ids) this model knows, as its raw ids."""
    return [embedrec.item_id(rec, i) for i in items if rec.item_map.lookup(i) >= 0]


def named_item(rec: embedrec.Recommender, item: Any) -> Any:
    """An item of a (user, item) pair by raw id or title, as everywhere else; one that names
    nothing (or several) stays as given, so its row reports 'unknown item' alone."""
    if rec.item_map.lookup(item) >= 0 or not isinstance(item, str):
        return item
    try:
        return embedrec.item_id(rec, item)
    except embedrec.EmbedrecError:
        return item


def plain_id(text: str) -> int | str:
    """A stored id as the JSON the API takes: 42 for "42"."""
    return int(text) if text.lstrip("-").isdigit() else text


class JSONBody(Response):
    """A response body already rendered as JSON (what the endpoint's response model documents)."""

    media_type = "application/json"


def recommendations(
    served: Served,
    service: Service,
    user: str | None,
    ratings: dict[Any, float] | None,
    n: int,
    exclude: list[Any],
    genre: list[str],
) -> JSONBody:
    """A known user's list (folded in again with their feedback when they have some), or a new
    user's from `ratings`; hidden and `exclude`d items never appear. A known user's list without
    feedback is kept rendered: repeating it costs a dictionary lookup."""
    rec = served.rec
    excluded = usable(rec, service.hidden()) + [embedrec.item_id(rec, e) for e in exclude]
    candidates = served.genre_items(genre)
    n_feedback = 0
    known = None
    degraded = False
    if user is not None:
        known = embedrec.known_user(rec, user)
        stored_as = user_key(rec, user, known)
        feedback = service.feedback_of(stored_as, summed=rec.interactions)
        if feedback is None:
            if known is None:  # nothing but the store knows them: no list to give
                raise ApiError(
                    503,
                    f"the feedback database is unavailable, and only it knows "
                    f"user {user!r}; try again later",
                )
            feedback, degraded = {}, True
        feedback = in_scale(rec, stored_as, feedback)
        n_feedback = len(feedback)
        if known is None and not feedback:
            raise ApiError(
                404,
                f"unknown user {user!r}: not in the training data and no ratings stored for "
                f"them; POST /users/{user}/ratings first, or POST /recommendations with ratings",
            )
        if feedback:
            ratings = embedrec.user_ratings(rec, known, feedback)
            excluded += list(ratings)  # what they just rated, even items the model never saw
    if ratings is not None:
        frame = rec.recommend(ratings=ratings, n=n, exclude=excluded or None, items=candidates)
        named = None if user is None else rec.user_map.canonical(user)
        return JSONBody(_listed(rec, frame, named, n, n_feedback))
    # a known user without feedback: the same list until the model, the hidden items or the
    # request change, so it is kept (per loaded model, bounded)
    genres = tuple(sorted(g.lower() for g in genre))
    key = (known, n, tuple(sorted(map(str, excluded))), genres, degraded)
    cached = served.kept(key)
    if cached is None:
        frame = rec.recommend(known, n=n, exclude=excluded or None, items=candidates)
        cached = served.keep(key, _listed(rec, frame, known, n, 0, degraded))
    return JSONBody(cached)


def in_stars(rec: embedrec.Recommender, fallback: bool) -> bool:
    """Whether a list's scores are ratings on the model's scale: a rating model's are its
    predictions (clipped to the scale), and a fallback list's are what typical users rate (on
    ratings, not interactions); a ranking model's and a ranker's are unitless."""
    return not rec.interactions and (rec.model.predicts_ratings or fallback)


def _listed(
    rec: embedrec.Recommender,
    frame: pd.DataFrame,
    user: Any,
    n: int,
    n_feedback: int,
    degraded: bool = False,
) -> bytes:
    fallback = "fallback" in frame
    listed_rows = rows(frame, leave_out="fallback")
    if "rating" not in frame and in_stars(rec, fallback):  # the score is the rating itself
        for row in listed_rows:
            row["rating"] = row["score"]
    items = [s.RecommendedItem(**row) for row in listed_rows]
    listed = s.Recommendations(
        user=user, n=n, fallback=fallback, n_feedback=n_feedback, degraded=degraded, items=items
    )
    return listed.model_dump_json().encode()
