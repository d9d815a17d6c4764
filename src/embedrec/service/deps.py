"""What the routes are given (FastAPI dependencies): the process's `Service` and `Metrics`,
held on `app.state` by `create_app`, the token checks of write and admin routes, and the query
parameters several routes share. No route closes over the app: each lives in a router of its
own (`routes/`) and asks for what it needs."""

from __future__ import annotations

import hmac
from typing import Annotated, Optional

from fastapi import Depends, Header, Query, Request

from embedrec.service import schemas as s
from embedrec.service.errors import ApiError, Metrics, media_type
from embedrec.service.state import Service

N = Annotated[int, Query(ge=1, le=s.MAX_N, description=f"How many items (1-{s.MAX_N}).")]
Exclude = Annotated[
    Optional[list[s.Text]], Query(description="Never these items (ids or titles; repeat).")
]
Genre = Annotated[
    Optional[list[str]], Query(description="Only items of these genres (repeat for any).")
]
Authorization = Annotated[Optional[str], Header()]


# `async def`: FastAPI runs these on the event loop, as the reads they serve (a plain `def`
# would hop to the thread pool on every request)
async def service_of(request: Request) -> Service:
    """The model being served and its feedback store."""
    service: Service = request.app.state.service
    return service


async def metrics_of(request: Request) -> Metrics:
    """The app's request counts and latencies."""
    metrics: Metrics = request.app.state.metrics
    return metrics


ServiceDep = Annotated[Service, Depends(service_of)]
MetricsDep = Annotated[Metrics, Depends(metrics_of)]


def token_given(service: Service, authorization: str | None) -> bool:
    """Whether `authorization` bears the service's token (never, without one)."""
    if service.token is None or authorization is None:
        return False
    scheme, _, given = authorization.partition(" ")
    expected = service.token.encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)


async def authorised(service: ServiceDep, authorization: Authorization = None) -> None:
    """A write: the service's token, when it has one."""
    if service.token is None:
        return
    challenge = {"WWW-Authenticate": "Bearer"}
    if authorization is None:
        raise ApiError(401, "this endpoint needs 'Authorization: Bearer <token>'", challenge)
    if not token_given(service, authorization):
        raise ApiError(401, "wrong token", challenge)


async def administrator(
    request: Request, service: ServiceDep, authorization: Authorization = None
) -> None:
    """`authorised`, and a request no web page can make with a form: one bearing a token
    or a JSON Content-Type (a cross-site form POST sends neither), so that a page a local
    user visits cannot reload a server without a token."""
    await authorised(service, authorization)
    if authorization is None and media_type(request) != "application/json":
        raise ApiError(
            415,
            "admin requests are JSON: send 'Content-Type: application/json' (an empty body "
            "is fine) or the token",
        )


WRITER = [Depends(authorised)]
ADMIN = [Depends(administrator)]
