"""Lists: a user's top-n (their stored feedback folded in) and a new user's, folded in from the
ratings they send."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from embedrec.service import schemas as s
from embedrec.service.deps import Exclude, Genre, N, ServiceDep
from embedrec.service.responses import JSONBody, recommendations

router = APIRouter()


# Reads are `async def`: they run on the event loop's thread, one at a time per worker, with
# that thread's compute-thread limits (torch's and numba's are per thread) and no hop to a
# thread pool. Writes (a commit waits for the disk) and reloads run in the pool.
@router.get("/users/{user:id}/recommendations", response_model=s.Recommendations)
async def user_recommendations(
    service: ServiceDep, user: s.UserPath, n: N = 10, exclude: Exclude = None, genre: Genre = None
) -> JSONBody:
    """Top-n unseen items for a user (with their stored feedback folded in)."""
    served = service.serving()
    return recommendations(served, service, user, None, n, exclude or [], genre or [])


@router.post("/recommendations", response_model=s.Recommendations)
async def new_user_recommendations(service: ServiceDep, body: s.NewUserRequest) -> JSONBody:
    """Top-n for a new user folded in from their ratings, without retraining."""
    ratings: dict[Any, float] = dict(body.ratings)
    return recommendations(
        service.serving(), service, None, ratings, body.n, body.exclude, body.genre
    )
