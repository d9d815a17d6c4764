"""The HTTP service: `create_app(model_dir)` gives a FastAPI app serving one trained model.

Every route is a thin call into the public API (`import embedrec`): recommendations come from
`Recommender.recommend` (the model's ranking side), a user with stored feedback is folded in
again from their training ratings plus that feedback (`embedrec.user_ratings`), items are named
by raw id or title (`embedrec.item_id`). Bodies are the pydantic models of `schemas`; errors and
metrics are in `errors`; the model and the feedback store in `state`. Write and admin routes
need `Authorization: Bearer <token>` when the service has a token.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import pandas as pd
from fastapi import Body, Depends, FastAPI, Header, Query
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import embedrec
from embedrec.service import schemas as s
from embedrec.service.errors import ApiError, Guard, Metrics, install_error_handlers, log
from embedrec.service.state import DEFAULT_CACHE, Served, Service, in_scale, limit_threads

STATIC = Path(__file__).resolve().parent / "static"
N = Annotated[int, Query(ge=1, le=s.MAX_N, description=f"How many items (1-{s.MAX_N}).")]
Exclude = Annotated[
    Optional[list[s.Text]], Query(description="Never these items (ids or titles; repeat).")
]
Genre = Annotated[
    Optional[list[str]], Query(description="Only items of these genres (repeat for any).")
]


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
    has looked it up already), else the text given."""
    known = embedrec.known_user(rec, user) if known is None else known
    return user if known is None else str(known)


def usable(rec: embedrec.Recommender, items: set[str]) -> list[Any]:
    """Those of `items` (stored ids) this model knows, as its raw ids."""
    return [embedrec.item_id(rec, i) for i in items if rec.item_map.lookup(i) >= 0]


def _plain_id(text: str) -> int | str:
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
        feedback = service.feedback_of(stored_as)
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
        return JSONBody(_listed(frame, user if known is None else known, n, n_feedback))
    # a known user without feedback: the same list until the model, the hidden items or the
    # request change, so it is kept (per loaded model, bounded)
    genres = tuple(sorted(g.lower() for g in genre))
    key = (known, n, tuple(sorted(map(str, excluded))), genres, degraded)
    cached = served.lists.get(key)
    if cached is None:
        frame = rec.recommend(known, n=n, exclude=excluded or None, items=candidates)
        cached = served.keep(key, _listed(frame, known, n, 0, degraded))
    return JSONBody(cached)


def _listed(
    frame: pd.DataFrame, user: Any, n: int, n_feedback: int, degraded: bool = False
) -> bytes:
    fallback = "fallback" in frame
    items = [s.RecommendedItem(**row) for row in rows(frame, leave_out="fallback")]
    listed = s.Recommendations(
        user=user, n=n, fallback=fallback, n_feedback=n_feedback, degraded=degraded, items=items
    )
    return listed.model_dump_json().encode()


def create_app(
    model_dir: str | Path,
    db_url: str | None = None,
    token: str | None = None,
    handle_sighup: bool = False,
    cache: int = DEFAULT_CACHE,
    server_id: str | None = None,
) -> FastAPI:
    """The service for the model at `model_dir`, its feedback in `db_url` (default: SQLite
    beside the model). `handle_sighup`: reload the model directory on SIGHUP; `cache`: how many
    lists of known users without feedback to keep per loaded model (0: none); `server_id`: the
    workers sharing it follow each other's reloads through the database."""
    service = Service(model_dir, db_url, token, cache, server_id)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if handle_sighup:
            loop = asyncio.get_running_loop()
            try:
                loop.add_signal_handler(
                    signal.SIGHUP, lambda: threading.Thread(target=_reload_quietly).start()
                )
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread or not POSIX: /admin/reload still works
        yield
        service.close()

    def _reload_quietly() -> None:
        try:
            service.reload()
        except Exception as exc:  # noqa: BLE001 - a failed reload keeps the old model
            log.error("reload on SIGHUP failed, still serving the old model: %s", exc)

    app = FastAPIOffline(  # a FastAPI app whose /docs and /redoc need no CDN
        title="embedrec",
        version=embedrec.__version__,
        summary="Recommendations, feedback and item neighbours from a trained embedrec model.",
        lifespan=lifespan,
        responses={code: {"model": s.ErrorBody} for code in (400, 401, 404, 413, 422)},
    )
    app.state.service = service
    install_error_handlers(app)
    app.add_middleware(Guard, metrics=metrics)

    def authorised(authorization: Annotated[str | None, Header()] = None) -> None:
        if service.token is None:
            return
        challenge = {"WWW-Authenticate": "Bearer"}
        if authorization is None:
            raise ApiError(401, "this endpoint needs 'Authorization: Bearer <token>'", challenge)
        scheme, _, given = authorization.partition(" ")
        expected = service.token.encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            raise ApiError(401, "wrong token", challenge)

    writer = [Depends(authorised)]
    # Reads are `async def`: they run on the event loop's thread, one at a time per worker, with
    # that thread's compute-thread limits (torch's and numba's are per thread) and no hop to a
    # thread pool. Writes (a commit waits for the disk) and reloads run in the pool.

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/health", response_model=s.Health)
    async def health() -> s.Health:
        served = service.serving()
        rec = served.rec
        n_feedback, feedback_status = service.feedback_state()
        return s.Health(
            status="ok" if n_feedback is not None else "degraded",
            model=rec.model_name,
            model_dir=str(served.model_dir),
            engine=rec.engine,
            n_users=rec.n_users,
            n_items=rec.n_items,
            rating_scale=rec.rating_scale,
            interactions=rec.interactions,
            loaded_at=served.loaded_at,
            load_seconds=served.load_seconds,
            version=embedrec.__version__,
            feedback_db=service.store.safe_url,
            feedback_status=feedback_status,
            n_feedback=n_feedback,
            pid=os.getpid(),
        )

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/users/{user}/recommendations", response_model=s.Recommendations)
    async def user_recommendations(
        user: s.UserPath, n: N = 10, exclude: Exclude = None, genre: Genre = None
    ) -> JSONBody:
        """Top-n unseen items for a user (with their stored feedback folded in)."""
        served = service.serving()
        return recommendations(served, service, user, None, n, exclude or [], genre or [])

    @app.post("/recommendations", response_model=s.Recommendations)
    async def new_user_recommendations(body: s.NewUserRequest) -> JSONBody:
        """Top-n for a new user folded in from their ratings, without retraining."""
        ratings: dict[Any, float] = dict(body.ratings)
        return recommendations(
            service.serving(), service, None, ratings, body.n, body.exclude, body.genre
        )

    @app.get("/items", response_model=s.Search)
    async def search(
        query: Annotated[str, Query(min_length=1, max_length=200)],
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> s.Search:
        """Items whose title holds every word of the query (for autocomplete)."""
        found = embedrec.search_items(service.serving().rec, query, limit)
        return s.Search(query=query, items=[s.FoundItem(**row) for row in rows(found)])

    @app.get("/items/{item:path}/similar", response_model=s.Similar)
    async def similar(
        item: s.ItemPath,
        n: N = 10,
        min_ratings: Annotated[
            int | None,
            Query(
                ge=0,
                description="Leave out items with fewer training ratings (default: "
                f"{embedrec.MIN_RATINGS}, lowered where fewer than n items reach it).",
            ),
        ] = None,
    ) -> s.Similar:
        """The items most similar to this one by the learned factors."""
        rec = service.serving().rec
        card = embedrec.item_info(rec, item)
        frame = rec.similar_items(item, n=n, min_ratings=min_ratings)
        neighbours = [s.SimilarItem(**row) for row in rows(frame)]
        return s.Similar(item=card["item"], title=card["title"], items=neighbours)

    @app.put("/items/{item:path}/hidden", response_model=s.Hidden, dependencies=writer)
    def hide(item: s.ItemPath) -> s.Hidden:
        """Never recommend this item again (on every server sharing the database)."""
        return set_hidden(item, True)

    @app.delete("/items/{item:path}/hidden", response_model=s.Hidden, dependencies=writer)
    def unhide(item: s.ItemPath) -> s.Hidden:
        """Recommend this item again."""
        return set_hidden(item, False)

    def set_hidden(item: str, hidden: bool) -> s.Hidden:
        card = embedrec.item_info(service.serving().rec, item)
        service.set_hidden(str(card["item"]), hidden)
        return s.Hidden(item=card["item"], title=card["title"], hidden=hidden)

    @app.get("/items/{item:path}", response_model=s.ItemCard)
    async def item_card(item: s.ItemPath) -> s.ItemCard:
        """Title, genres, learned bias and training rating count of one item."""
        card = embedrec.item_info(service.serving().rec, item)
        return s.ItemCard(**card, hidden=str(card["item"]) in service.hidden())

    @app.post("/predict", response_model=s.Predictions)
    async def predict(body: s.PredictRequest) -> s.Predictions:
        """Predicted ratings of (user, item) pairs; unknown ids come back in `error`."""
        pairs = [(pair.user, pair.item) for pair in body.pairs]
        frame = service.serving().rec.predict(pairs)
        frame["error"] = frame["error"].where(frame["error"] != "", None)
        return s.Predictions(predictions=[s.Prediction(**row) for row in rows(frame)])

    @app.post(
        "/users/{user}/ratings",
        response_model=s.FeedbackStored,
        status_code=201,
        dependencies=writer,
    )
    def add_ratings(user: s.UserPath, body: s.FeedbackRequest) -> s.FeedbackStored:
        """Store ratings durably (committed before the 201); the user's next list uses them.
        Every rating is checked against the model's scale first: none is stored otherwise."""
        rec = service.serving().rec
        checked = [embedrec.check_rating(rec, row.item, row.rating) for row in body.rows()]
        key = user_key(rec, user)
        stored = service.add_feedback(key, [(str(item), rating) for item, rating in checked])
        total = len(service.store.ratings_of(key))
        known = embedrec.known_user(rec, user)
        return s.FeedbackStored(
            user=user if known is None else known,
            stored=stored,
            n_feedback=total,
            items=[item for item, _ in checked],
        )

    @app.get("/users/{user}/ratings", response_model=s.StoredRatings)
    async def stored_ratings(user: s.UserPath) -> s.StoredRatings:
        """The ratings stored for a user through the service (not their training ratings)."""
        rec = service.serving().rec
        stored = service.store.ratings_of(user_key(rec, user))
        rated = [s.RatingIn(item=_plain_id(item), rating=value) for item, value in stored.items()]
        known = embedrec.known_user(rec, user)
        return s.StoredRatings(user=user if known is None else known, ratings=rated)

    @app.get("/map", response_model=s.FactorMap)
    async def factor_map(n: Annotated[int, Query(ge=2, le=5000)] = 300) -> s.FactorMap:
        """The most rated items' factors on their first two principal components."""
        rec = service.serving().rec
        coords = embedrec.pca_map(rec, n_items=min(n, rec.n_items))
        coords = coords.rename(columns={"pc1": "x", "pc2": "y"})
        return s.FactorMap(points=[s.MapPoint(**row) for row in rows(coords)])

    @app.post("/admin/reload", response_model=s.Reloaded, dependencies=writer)
    def reload(body: Annotated[s.ReloadRequest | None, Body()] = None) -> s.Reloaded:
        """Load a model directory and swap it in; on failure the old model keeps serving."""
        wanted = None if body is None else body.model_dir
        try:
            served = service.reload(wanted)
        except Exception as exc:  # noqa: BLE001 - whatever the cause, the old model serves on
            old = service.current.model_dir
            raise ApiError(400, f"model not reloaded ({exc}); still serving {old}") from None
        rec = served.rec
        return s.Reloaded(
            model_dir=str(served.model_dir),
            model=rec.model_name,
            n_users=rec.n_users,
            n_items=rec.n_items,
            load_seconds=served.load_seconds,
        )

    return app


def app_from_env() -> FastAPI:
    """The app `embedrec serve` runs in each uvicorn worker, configured by the environment:
    EMBEDREC_MODEL_DIR, EMBEDREC_DB, EMBEDREC_TOKEN, EMBEDREC_THREADS, EMBEDREC_CACHE and
    EMBEDREC_SERVER_ID (all but the first optional)."""
    limit_threads(int(os.environ.get("EMBEDREC_THREADS") or 1))
    return create_app(
        os.environ["EMBEDREC_MODEL_DIR"],
        os.environ.get("EMBEDREC_DB") or None,
        os.environ.get("EMBEDREC_TOKEN") or None,
        handle_sighup=True,
        cache=int(os.environ.get("EMBEDREC_CACHE") or DEFAULT_CACHE),
        server_id=os.environ.get("EMBEDREC_SERVER_ID") or None,
    )
