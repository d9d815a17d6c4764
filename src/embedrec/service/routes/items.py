"""Items: title search (autocomplete), an item's card, its neighbours, and hiding it from every
list. `{item}` is a raw id or a title (`:path`: a title may hold a slash), so the routes with a
suffix come before the card's."""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Query, Request, Response

import embedrec
from embedrec.service import schemas as s
from embedrec.service.deps import WRITER, N, ServiceDep
from embedrec.service.errors import ApiError
from embedrec.service.responses import rows
from embedrec.service.state import Service

MAX_FOUND = 100  # longest title search one request may ask for
# `limit` was the search's own word for what every other list calls `n`: still taken, marked
# deprecated in the schema and by a `Deprecation` header (RFC 9745: since 2026-12-06)
DEPRECATED_SINCE = "@1796515200"

router = APIRouter()


@router.get("/items", response_model=s.Search)
async def search(
    request: Request,
    response: Response,
    service: ServiceDep,
    query: Annotated[str, Query(min_length=1, max_length=200)],
    n: Annotated[
        int, Query(ge=1, le=MAX_FOUND, description=f"How many items (1-{MAX_FOUND}).")
    ] = 10,
    limit: Annotated[
        Optional[int],
        Query(ge=1, le=MAX_FOUND, deprecated=True, description="The old name of `n`."),
    ] = None,
) -> s.Search:
    """Items whose title holds every word of the query (for autocomplete)."""
    if limit is not None:
        if "n" in request.query_params and n != limit:
            raise ApiError(422, f"n={n} and its old name limit={limit} disagree: give n alone")
        n = limit
        response.headers["Deprecation"] = DEPRECATED_SINCE
    found = embedrec.search_items(service.serving().rec, query, n)
    return s.Search(query=query, items=[s.FoundItem(**row) for row in rows(found)])


@router.get("/items/{item:path}/similar", response_model=s.Similar)
async def similar(
    service: ServiceDep,
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


@router.put("/items/{item:path}/hidden", response_model=s.Hidden, dependencies=WRITER)
def hide(service: ServiceDep, item: s.ItemPath) -> s.Hidden:
    """Never recommend this item again (on every server sharing the database)."""
    return set_hidden(service, item, True)


@router.delete("/items/{item:path}/hidden", response_model=s.Hidden, dependencies=WRITER)
def unhide(service: ServiceDep, item: s.ItemPath) -> s.Hidden:
    """Recommend this item again."""
    return set_hidden(service, item, False)


def set_hidden(service: Service, item: str, hidden: bool) -> s.Hidden:
    card = embedrec.item_info(service.serving().rec, item)
    service.set_hidden(str(card["item"]), hidden)
    return s.Hidden(item=card["item"], title=card["title"], hidden=hidden)


@router.get("/items/{item:path}", response_model=s.ItemCard)
async def item_card(service: ServiceDep, item: s.ItemPath) -> s.ItemCard:
    """Title, genres, learned bias and training rating count of one item."""
    card = embedrec.item_info(service.serving().rec, item)
    return s.ItemCard(**card, hidden=str(card["item"]) in service.hidden())
