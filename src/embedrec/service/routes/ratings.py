"""A user's feedback: ratings stored through the service (durably, checked against the model's
scale), which their next lists fold in."""

from __future__ import annotations

from fastapi import APIRouter

import embedrec
from embedrec.service import schemas as s
from embedrec.service.deps import WRITER, ServiceDep
from embedrec.service.responses import plain_id, user_key

router = APIRouter()


@router.post(
    "/users/{user:id}/ratings",
    response_model=s.FeedbackStored,
    status_code=201,
    dependencies=WRITER,
)
def add_ratings(service: ServiceDep, user: s.UserPath, body: s.FeedbackRequest) -> s.FeedbackStored:
    """Store ratings durably (committed before the 201); the user's next list uses them.
    Every rating is checked against the model's scale first: none is stored otherwise."""
    rec = service.serving().rec
    checked = [embedrec.check_rating(rec, row.item, row.rating) for row in body.rows()]
    key = user_key(rec, user)
    stored = service.add_feedback(key, [(str(item), rating) for item, rating in checked])
    total = len(service.store.ratings_of(key, summed=rec.interactions))  # as GET counts
    return s.FeedbackStored(
        user=rec.user_map.canonical(user),
        stored=stored,
        n_feedback=total,
        items=[item for item, _ in checked],
    )


@router.get("/users/{user:id}/ratings", response_model=s.StoredRatings)
async def stored_ratings(service: ServiceDep, user: s.UserPath) -> s.StoredRatings:
    """The ratings stored for a user through the service (not their training ratings); for a
    model trained on interactions, each item's events added up."""
    rec = service.serving().rec
    stored = service.store.ratings_of(user_key(rec, user), summed=rec.interactions)
    rated = [s.RatingIn(item=plain_id(item), rating=value) for item, value in stored.items()]
    return s.StoredRatings(user=rec.user_map.canonical(user), ratings=rated)
