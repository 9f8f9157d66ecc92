"""``GET /views/{view_id}/live``: server-sent events of what changes in a view (see
:mod:`relata_gateway.live` for what passes)."""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from relata_common.db import transaction
from relata_gateway import live as live_updates
from relata_gateway import views
from relata_gateway.deps import UserDep, card_context

router = APIRouter(tags=["live"])


@router.get(
    "/views/{view_id}/live",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "server-sent events: `relation` (a relation the view shows changed; "
            "fields its form shows), `membership` (a relation entered or left one of the "
            "view's lists), `contact_moments` (moments of shown relations changed), "
            "`presence` (someone started or stopped editing a shown relation); a comment "
            "line every 15 s keeps the connection open",
        }
    },
)
async def live(view_id: uuid.UUID, user: UserDep, request: Request) -> StreamingResponse:
    """A stream of what changes in this view, until the access token would expire (then
    reconnect with a new one)."""
    state = request.app.state
    async with transaction(state.sessions) as session:  # no session held while streaming
        view = await views.access(session, user, view_id)
        lists = {str(ref.list_id) for ref in await views.view_lists_of(session, view.id)}
    allowed = live_updates.ViewFilter(card_context(request), user, view, lists)
    until = time.monotonic() + state.settings.access_token_minutes * 60
    return StreamingResponse(
        live_updates.stream(state.redis, live_updates.channel(state.settings), allowed, until),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
