"""The map of items: the most rated items' factors on two principal components."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from embedrec.service import schemas as s
from embedrec.service.deps import ServiceDep
from embedrec.service.responses import rows

router = APIRouter()


@router.get("/map", response_model=s.FactorMap)
async def factor_map(
    service: ServiceDep, n: Annotated[int, Query(ge=2, le=s.MAX_MAP)] = 300
) -> s.FactorMap:
    """The most rated items' factors on their first two principal components (computed
    once per loaded model, in the thread pool: the event loop answers meanwhile)."""
    coords = await run_in_threadpool(service.serving().factor_map)
    return s.FactorMap(points=[s.MapPoint(**row) for row in rows(coords.head(n))])
