"""The staff web application: static HTML, ES modules and CSS under ``/app``, talking only to
the gateway's public API. ``/`` sends a browser there."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from relata_gateway import live, presence, selections, workspace

WEB_DIR = Path(__file__).parent / "web"
ROUTERS = (workspace.router, selections.router, presence.router, live.router)
"""The API the application needs beside the card, list and dashboard endpoints."""

_root = APIRouter(include_in_schema=False)


@_root.get("/")
async def to_app() -> RedirectResponse:
    return RedirectResponse("/app/")


def install(app: FastAPI) -> None:
    """The application's API routes, its static files at /app and the redirect from /."""
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(_root)
    app.mount("/app", StaticFiles(directory=WEB_DIR, html=True), name="app")
