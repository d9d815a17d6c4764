"""Predicted ratings of (user, item) pairs."""

from __future__ import annotations

from fastapi import APIRouter

from embedrec.service import schemas as s
from embedrec.service.deps import ServiceDep
from embedrec.service.responses import named_item, rows

router = APIRouter()


@router.post("/predict", response_model=s.Predictions)
async def predict(service: ServiceDep, body: s.PredictRequest) -> s.Predictions:
    """Predicted ratings of (user, item) pairs; unknown ids come back in `error`."""
    rec = service.serving().rec
    pairs = [(pair.user, named_item(rec, pair.item)) for pair in body.pairs]
    frame = rec.predict(pairs)
    frame["error"] = frame["error"].where(frame["error"] != "", None)
    return s.Predictions(predictions=[s.Prediction(**row) for row in rows(frame)])
