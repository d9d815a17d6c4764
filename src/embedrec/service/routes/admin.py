"""The operator's routes: reload a model directory (this worker, and every worker sharing the
database follows)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from embedrec.service import schemas as s
from embedrec.service.deps import ADMIN, ServiceDep
from embedrec.service.errors import ApiError
from embedrec.service.store import database_message

router = APIRouter()


@router.post(
    "/admin/reload",
    response_model=s.Reloaded,
    dependencies=ADMIN,
    responses={415: {"model": s.ErrorBody}},
)
def reload(
    service: ServiceDep, body: Annotated[s.ReloadRequest | None, Body()] = None
) -> s.Reloaded:
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
