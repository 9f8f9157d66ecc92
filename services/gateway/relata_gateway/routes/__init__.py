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
    automation,
    bulk,
    contact_moments,
    dashboard,
    duplicates,
    functions,
    lists,
    live,
    merges,
    presence,
    relation_cards,
    relation_facts,
    relations,
    rules,
    selections,
    views,
    workspace,
)

WEB_DIR = Path(__file__).parent.parent / "web"
ROUTERS = (
    auth.router,
    administration.router,
    views.router,
    lists.router,
    relation_cards.router,
    relation_facts.router,
    relations.router,
    merges.router,
    functions.router,
    dashboard.router,
    workspace.router,
    contact_moments.router,
    selections.router,
    presence.router,
    live.router,
    rules.router,
    bulk.router,
    duplicates.router,
    automation.router,
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
