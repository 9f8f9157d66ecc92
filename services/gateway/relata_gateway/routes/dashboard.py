"""The dashboard: what this user viewed last."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import TypeAdapter

from relata_gateway import dashboard
from relata_gateway.deps import SnapshotDep, UserDep, card_context
from relata_gateway.routes.views import json_response

router = APIRouter(tags=["dashboard"])
RECENT_ITEMS = TypeAdapter(list[dashboard.RecentItem])


@router.get("/dashboard/recent", response_model=list[dashboard.RecentItem])
async def recent_items(user: UserDep, request: Request, snapshot: SnapshotDep) -> Response:
    """The relations and lists this user viewed last."""
    recent = await dashboard.recent(card_context(request), snapshot, user)
    return json_response(RECENT_ITEMS, recent)
