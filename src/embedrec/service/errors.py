"""Every failure as a JSON error with the right status, never a traceback; and the request-size
limit and the Prometheus metrics, as one plain ASGI middleware (no per-request task overhead).

Statuses: 400 malformed JSON or a body sent as another type, an ambiguous title (the message
lists the matches), a request the model cannot answer or a Host the server does not answer to;
401 a missing or wrong token; 404 an unknown user or item; 405 a method the path does not answer
(with Allow); 408 a body slower than BODY_SECONDS; 413 a body over the limit; 415 an admin
request neither JSON nor bearing the token; 422 a value of the wrong type or outside its range
(a rating outside the scale, `n` of 0, `true` or 1.5 as an id, `true` as a rating, a control
character in an id, ratings the database refused for their values); 503 the feedback database
cannot be reached (for a write, or a list that needs a user's stored ratings); 500 anything
unexpected (logged, not shown).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import embedrec
from embedrec.service.schemas import MAX_BODY_BYTES
from embedrec.service.store import RejectedWrite, database_message

log = logging.getLogger("embedrec.service")

# a label per method a client invents would grow the metrics without bound
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
BODY_SECONDS = 30.0  # a request's body arrives within this, or it is refused
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class ApiError(Exception):
    """An error the service answers with `status` and `message`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def error_response(
    status: int,
    message: str,
    detail: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": message, "status": status}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, headers=headers)


def status_of(exc: embedrec.EmbedrecError) -> int:
    """The HTTP status of one of embedrec's own errors."""
    if isinstance(exc, embedrec.UnknownIdError):
        return 404
    if isinstance(exc, embedrec.AmbiguousNameError):
        return 400
    if isinstance(exc, (embedrec.DataError, RejectedWrite)):
        return 422
    return 400


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, headers=exc.headers)

    @app.exception_handler(embedrec.EmbedrecError)
    async def embedrec_error(_: Request, exc: embedrec.EmbedrecError) -> JSONResponse:
        return error_response(status_of(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        if any(_malformed(e) for e in exc.errors()):
            return error_response(400, _unread_body(media_type(request)), detail=problems)
        summary = "; ".join(f"{p['where']}: {p['problem']}" for p in problems[:5])
        return error_response(422, f"invalid request: {summary}", detail=problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, ApiError):  # FastAPI wraps errors raised reading a body
            return error_response(exc.__cause__.status, exc.__cause__.message)
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        headers = dict(exc.headers or {})
        if exc.status_code == 404 and message == "Not Found":
            message = "no such endpoint; the API is listed at /docs"
        if exc.status_code == 405:
            allowed = allowed_methods(app, request.scope)
            headers["Allow"] = ", ".join(allowed)
            message = f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"
        return error_response(exc.status_code, message, headers=headers or None)

    @app.exception_handler(SQLAlchemyError)
    async def database_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.error(
            "feedback database error on %s %s: %s",
            request.method,
            request.url.path,
            database_message(exc),
        )
        return error_response(503, f"the feedback database is unavailable ({type(exc).__name__})")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("error serving %s %s", request.method, request.url.path)
        return error_response(500, f"internal error ({type(exc).__name__}); see the server log")


def media_type(request: Request) -> str:
    """The request's Content-Type without its parameters, lower case ('' when none)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route answers at this request's path (Starlette's 405 names only the
    first route that matched the path; PUT and DELETE of /items/{item}/hidden are two), HEAD
    wherever GET is (the hygiene middleware answers it). Each route is asked method by method:
    FastAPI keeps an included router as one route answering several paths and methods. A mount
    (the static files) answers any method and names none."""
    methods = {
        method
        for route in app.router.routes
        if not isinstance(route, Mount)
        for method in KNOWN_METHODS
        if route.matches({**scope, "method": method})[0] == Match.FULL
    }
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _unread_body(given: str) -> str:
    """Why a body was not read: not JSON, or sent as another type (FastAPI reads a body as
    JSON only under a JSON type or none, so a form, or a cross-site page's text/plain post,
    is never taken for one)."""
    if given and given != "application/json" and not given.endswith("+json"):
        return f"the request body is JSON: send 'Content-Type: application/json', not {given!r}"
    return "the request body is not valid JSON"


def _malformed(error: dict[str, Any]) -> bool:
    """A body that did not parse as JSON (FastAPI hands unparsed bodies on as bytes)."""
    whole_body = tuple(error.get("loc", ())) == ("body",)
    return error.get("type") == "json_invalid" or (
        whole_body and isinstance(error.get("input"), (bytes, str))
    )


class Metrics:
    """Request counts and latency histograms per endpoint, in a registry of the app's own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "embedrec_requests",
            "HTTP requests by endpoint, method and status.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "embedrec_request_seconds",
            "Time to answer a request, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )


class Guard:
    """ASGI middleware: refuse bodies over MAX_BODY_BYTES with 413 (by Content-Length, or
    while reading a chunked body) and bodies slower than BODY_SECONDS with 408, and record
    each request's endpoint, status and latency."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body: int = MAX_BODY_BYTES):
        self.app, self.metrics, self.max_body = app, metrics, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}
        too_large = f"request body over {self.max_body:,} bytes"
        length = dict(scope.get("headers", [])).get(b"content-length")
        try:
            if length is not None and length.isdigit() and int(length) > self.max_body:
                status["code"] = 413
                await error_response(413, too_large)(scope, receive, send)
                return
            received = 0
            body_done = False

            async def limited() -> Message:
                nonlocal received, body_done
                if body_done:  # later reads wait for a disconnect: no deadline on those
                    return await receive()
                try:
                    message = await asyncio.wait_for(receive(), BODY_SECONDS)
                except asyncio.TimeoutError:
                    raise ApiError(408, f"the request body took over {BODY_SECONDS:g} s") from None
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > self.max_body:
                    raise ApiError(413, too_large)
                return message

            async def recorded(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status["code"] = message["status"]
                await send(message)

            try:
                await self.app(scope, limited, recorded)
            except ApiError as exc:  # raised while reading, before any response started
                status["code"] = exc.status
                await error_response(exc.status, exc.message)(scope, receive, send)
        finally:
            route = scope.get("route")
            # the template as documented: /users/{user}/ratings, not {user:path}
            endpoint = getattr(route, "path_format", None) or "unmatched"
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            self.metrics.requests.labels(endpoint, method, str(status["code"])).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
