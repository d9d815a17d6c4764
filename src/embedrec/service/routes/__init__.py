"""The service's routes, one `APIRouter` per resource; `create_app` includes `ROUTERS` in this
order (a path matches the first route that takes it)."""

from fastapi import APIRouter

from embedrec.service.routes import (
    admin,
    factor_map,
    health,
    items,
    page,
    predict,
    ratings,
    recommendations,
)

ROUTERS: list[APIRouter] = [
    page.router,
    health.router,
    recommendations.router,
    items.router,
    predict.router,
    ratings.router,
    factor_map.router,
    admin.router,
]
