"""The HTTP service: `create_app(model_dir)` gives a FastAPI app serving one trained model.

Every route is a thin call into the public API (`import embedrec`): recommendations come from
`Recommender.recommend` (the model's ranking side), a user with stored feedback is folded in
again from their training ratings plus that feedback (`embedrec.user_ratings`), items are named
by raw id or title (`embedrec.item_id`). The routes are one `APIRouter` per resource in
`routes/`, given what they need by `deps` (the `Service` and `Metrics` this app holds on
`app.state`); bodies are the pydantic models of `schemas`; errors and metrics are in `errors`;
lists and rows in `responses`; the model and the feedback store in `state`; Host checks, HEAD
and security headers in `hygiene`. Write and admin routes need `Authorization: Bearer <token>`
when the service has a token.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

import embedrec
from embedrec.service import schemas as s
from embedrec.service.cache import DEFAULT_CACHE_MB
from embedrec.service.errors import Guard, Metrics, install_error_handlers, log
from embedrec.service.hygiene import Hygiene
from embedrec.service.routes import ROUTERS
from embedrec.service.routes.page import STATIC
from embedrec.service.state import Service, limit_threads
from embedrec.service.store import database_message


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
    app = FastAPIOffline(  # a FastAPI app whose /docs and /redoc need no CDN
        title="embedrec",
        version=embedrec.__version__,
        summary="Recommendations, feedback and item neighbours from a trained embedrec model.",
        lifespan=lifespan,
        responses={code: {"model": s.ErrorBody} for code in (400, 401, 404, 413, 422)},
    )
    # what the routes are given (`deps`)
    app.state.service = Service(model_dir, db_url, token, cache_mb, server_id)
    app.state.metrics = Metrics()
    app.state.handle_sighup = handle_sighup
    install_error_handlers(app)
    app.add_middleware(Hygiene, allowed_hosts=allowed_hosts)
    app.add_middleware(Guard, metrics=app.state.metrics)  # outermost: counts what Hygiene refuses
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    return app


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Reload on SIGHUP while serving (where asked), close the feedback store at the end."""
    service: Service = app.state.service
    if app.state.handle_sighup:
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(
                signal.SIGHUP,
                lambda: threading.Thread(target=reload_quietly, args=(service,)).start(),
            )
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread or not POSIX: /admin/reload still works
    yield
    service.close()


def reload_quietly(service: Service) -> None:
    """A reload on SIGHUP: one that fails is logged, and the old model keeps serving."""
    try:
        service.reload()
    except Exception as exc:  # noqa: BLE001 - a failed reload keeps the old model
        log.error("reload on SIGHUP failed, still serving the old model: %s", database_message(exc))


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
