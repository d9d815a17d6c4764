"""The HTTP service: `create_app(model_dir)` gives a FastAPI app serving one trained model.

Every route is a thin call into the public API (`import embedrec`): recommendations come from
`Recommender.recommend` (the model's ranking side), a user with stored feedback is folded in
again from their training ratings plus that feedback (`embedrec.user_ratings`), items are named
by raw id or title (`embedrec.item_id`). Bodies are the pydantic models of `schemas`; errors and
metrics are in `errors`; lists and rows in `responses`; the model and the feedback store in
`state`; Host checks, HEAD and security headers in `hygiene`. Write and admin routes
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

from fastapi import Body, Depends, FastAPI, Header, Query, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

import embedrec
from embedrec.service import schemas as s
from embedrec.service.cache import DEFAULT_CACHE_MB
from embedrec.service.errors import ApiError, Guard, Metrics, install_error_handlers, log
from embedrec.service.hygiene import Hygiene
from embedrec.service.responses import (
    JSONBody,
    item_noun,
    named_item,
    plain_id,
    recommendations,
    rows,
    user_key,
)
from embedrec.service.state import Service, limit_threads
from embedrec.service.store import database_message

STATIC = Path(__file__).resolve().parent / "static"
N = Annotated[int, Query(ge=1, le=s.MAX_N, description=f"How many items (1-{s.MAX_N}).")]
Exclude = Annotated[
    Optional[list[s.Text]], Query(description="Never these items (ids or titles; repeat).")
]
Genre = Annotated[
    Optional[list[str]], Query(description="Only items of these genres (repeat for any).")
]


def create_app(
    model_dir: str | Path,
    db_url: str | None = None,
    token: str | None = None,
    handle_sighup: bool = False,
    cache_mb: float = DEFAULT_CACHE_MB,
    server_id: str | None = None,
    allowed_hosts: list[str] | None = None,
) -> FastAPI:
    """The service for the model at `model_dir`, its feedback in `db_url` (default: SQLite
    beside the model). `handle_sighup`: reload the model directory on SIGHUP; `cache_mb`: MiB of
    lists of known users without feedback and of genre filters kept per loaded model (0: none);
    `server_id`: the workers sharing it follow each other's reloads through the database;
    `allowed_hosts`: the Host names it answers to (None: any)."""
    service = Service(model_dir, db_url, token, cache_mb, server_id)
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
            log.error(
                "reload on SIGHUP failed, still serving the old model: %s", database_message(exc)
            )

    app = FastAPIOffline(  # a FastAPI app whose /docs and /redoc need no CDN
        title="embedrec",
        version=embedrec.__version__,
        summary="Recommendations, feedback and item neighbours from a trained embedrec model.",
        lifespan=lifespan,
        responses={code: {"model": s.ErrorBody} for code in (400, 401, 404, 413, 422)},
    )
    app.state.service = service
    install_error_handlers(app)
    app.add_middleware(Hygiene, allowed_hosts=allowed_hosts)
    app.add_middleware(Guard, metrics=metrics)  # outermost: counts what Hygiene refuses too

    def token_given(authorization: str | None) -> bool:
        """Whether `authorization` bears the service's token (never, without one)."""
        if service.token is None or authorization is None:
            return False
        scheme, _, given = authorization.partition(" ")
        expected = service.token.encode()
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)

    def authorised(authorization: Annotated[str | None, Header()] = None) -> None:
        if service.token is None:
            return
        challenge = {"WWW-Authenticate": "Bearer"}
        if authorization is None:
            raise ApiError(401, "this endpoint needs 'Authorization: Bearer <token>'", challenge)
        if not token_given(authorization):
            raise ApiError(401, "wrong token", challenge)

    def administrator(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> None:
        """`authorised`, and a request no web page can make with a form: one bearing a token
        or a JSON Content-Type (a cross-site form POST sends neither), so that a page a local
        user visits cannot reload a server without a token."""
        authorised(authorization)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if authorization is None and content_type != "application/json":
            raise ApiError(
                415,
                "admin requests are JSON: send 'Content-Type: application/json' (an empty body "
                "is fine) or the token",
            )

    writer = [Depends(authorised)]
    # Reads are `async def`: they run on the event loop's thread, one at a time per worker, with
    # that thread's compute-thread limits (torch's and numba's are per thread) and no hop to a
    # thread pool. Writes (a commit waits for the disk) and reloads run in the pool.

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/health", response_model=s.Health)
    async def health(authorization: Annotated[str | None, Header()] = None) -> s.Health:
        served = service.serving()
        rec = served.rec
        n_feedback, feedback_status = service.feedback_state()
        private = token_given(authorization)  # where and who the server is: the operator's
        return s.Health(
            status="ok" if n_feedback is not None else "degraded",
            model=rec.model_name,
            engine=rec.engine,
            n_users=rec.n_users,
            n_items=rec.n_items,
            rating_scale=rec.rating_scale,
            interactions=rec.interactions,
            item_noun=item_noun(rec),
            loaded_at=served.loaded_at,
            load_seconds=served.load_seconds,
            version=embedrec.__version__,
            feedback_status=feedback_status,
            n_feedback=n_feedback,
            cache=s.CacheState(**served.cache.state()),
            model_dir=str(served.model_dir) if private else None,
            feedback_db=service.store.safe_url if private else None,
            pid=os.getpid() if private else None,
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
        rec = service.serving().rec
        pairs = [(pair.user, named_item(rec, pair.item)) for pair in body.pairs]
        frame = rec.predict(pairs)
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
        return s.FeedbackStored(
            user=rec.user_map.canonical(user),
            stored=stored,
            n_feedback=total,
            items=[item for item, _ in checked],
        )

    @app.get("/users/{user}/ratings", response_model=s.StoredRatings)
    async def stored_ratings(user: s.UserPath) -> s.StoredRatings:
        """The ratings stored for a user through the service (not their training ratings)."""
        rec = service.serving().rec
        stored = service.store.ratings_of(user_key(rec, user))
        rated = [s.RatingIn(item=plain_id(item), rating=value) for item, value in stored.items()]
        return s.StoredRatings(user=rec.user_map.canonical(user), ratings=rated)

    @app.get("/map", response_model=s.FactorMap)
    async def factor_map(n: Annotated[int, Query(ge=2, le=s.MAX_MAP)] = 300) -> s.FactorMap:
        """The most rated items' factors on their first two principal components (computed
        once per loaded model, in the thread pool: the event loop answers meanwhile)."""
        coords = await run_in_threadpool(service.serving().factor_map)
        return s.FactorMap(points=[s.MapPoint(**row) for row in rows(coords.head(n))])

    @app.post(
        "/admin/reload",
        response_model=s.Reloaded,
        dependencies=[Depends(administrator)],
        responses={415: {"model": s.ErrorBody}},
    )
    def reload(body: Annotated[s.ReloadRequest | None, Body()] = None) -> s.Reloaded:
        """Load a model directory and swap it in; on failure the old model keeps serving."""
        wanted = None if body is None else body.model_dir
        try:
            served = service.reload(wanted)
        except Exception as exc:  # noqa: BLE001 - whatever the cause, the old model serves on
            old = service.current.model_dir
            why = database_message(exc)
            raise ApiError(400, f"model not reloaded ({why}); still serving {old}") from None
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
    EMBEDREC_MODEL_DIR, EMBEDREC_DB, EMBEDREC_TOKEN, EMBEDREC_THREADS, EMBEDREC_CACHE_MB,
    EMBEDREC_SERVER_ID and EMBEDREC_ALLOWED_HOSTS (comma-separated; all but the first
    optional)."""
    limit_threads(int(os.environ.get("EMBEDREC_THREADS") or 1))
    return create_app(
        os.environ["EMBEDREC_MODEL_DIR"],
        os.environ.get("EMBEDREC_DB") or None,
        os.environ.get("EMBEDREC_TOKEN") or None,
        handle_sighup=True,
        cache_mb=float(os.environ.get("EMBEDREC_CACHE_MB") or DEFAULT_CACHE_MB),
        server_id=os.environ.get("EMBEDREC_SERVER_ID") or None,
        allowed_hosts=os.environ["EMBEDREC_ALLOWED_HOSTS"].split(",")
        if os.environ.get("EMBEDREC_ALLOWED_HOSTS")
        else None,
    )
