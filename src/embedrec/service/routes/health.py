"""How the server is: `/health` (the model, the feedback store, the cache; where and who the
server is only for the token's bearer) and `/metrics` (Prometheus)."""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import embedrec
from embedrec.service import schemas as s
from embedrec.service.deps import Authorization, MetricsDep, ServiceDep, token_given

router = APIRouter()


@router.get("/health", response_model=s.Health)
async def health(service: ServiceDep, authorization: Authorization = None) -> s.Health:
    served = service.serving()
    rec = served.rec
    n_feedback, feedback_status = service.feedback_state()
    private = token_given(service, authorization)  # where and who the server is: the operator's
    return s.Health(
        status="ok" if n_feedback is not None else "degraded",
        model=rec.model_name,
        engine=rec.engine,
        n_users=rec.n_users,
        n_items=rec.n_items,
        rating_scale=rec.rating_scale,
        interactions=rec.interactions,
        item_noun=embedrec.item_noun(rec),
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


@router.get("/metrics", include_in_schema=False)
async def prometheus(metrics: MetricsDep) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
