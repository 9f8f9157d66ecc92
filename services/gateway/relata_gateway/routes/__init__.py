"""The gateway's public API, one module per area, and the staff web application it serves
(static HTML, ES modules and CSS under ``/app``; ``/`` sends a browser there). What the routes
depend on is in :mod:`relata_gateway.deps`."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from relata_gateway.routes import (
    administration,
    auth,
    dashboard,
    live,
    presence,
    relation_cards,
    relations,
    selections,
    views,
    workspace,
)

WEB_DIR = Path(__file__).parent.parent / "web"
ROUTERS = (
    auth.router,
    administration.router,
    views.router,
    relation_cards.router,
    relations.router,
    dashboard.router,
    workspace.router,
    selections.router,
    presence.router,
    live.router,
)

_root = APIRouter(include_in_schema=False)


@_root.get("/")
async def to_app() -> RedirectResponse:
    return RedirectResponse("/app/")


def install(app: FastAPI) -> None:
    """Every public route, the application's static files at /app and the redirect from /."""
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(_root)
    app.mount("/app", StaticFiles(directory=WEB_DIR, html=True), name="app")
