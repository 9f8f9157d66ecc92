"""Who is editing a relation right now, so a card can tell a colleague is at it too.

A card in edit mode says so (PUT) and repeats that while editing; a mark lapses after
``PRESENCE_SECONDS`` without a repeat (a closed tab leaves no mark behind for long). Marks are
a Redis sorted set per relation: the member is the user id, the score when the mark lapses.
Starting and stopping are published on the live channel.
"""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from relata_gateway import live, views
from relata_gateway.cards import require_visible
from relata_gateway.deps import SessionDep, UserDep, card_context, editable
from relata_gateway.routes.workspace import display_names
from relata_gateway.security import User

PRESENCE_SECONDS = 30
router = APIRouter(tags=["presence"])


def _key(relation_id: uuid.UUID) -> str:
    return f"presence:{relation_id}"


class Editor(BaseModel):
    user_id: uuid.UUID
    display_name: str


class Presence(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "editing": [
                        {
                            "user_id": "9a7d1c2b-3e4f-4a5b-8c6d-7e8f9a0b1c2d",
                            "display_name": "Daan de Vries",
                        }
                    ]
                }
            ]
        }
    )

    editing: list[Editor]
    """Colleagues editing the relation now (never the caller)."""


async def _view_and_check(
    request: Request,
    session: AsyncSession,
    user: User,
    view_id: uuid.UUID,
    relation_id: uuid.UUID,
) -> views.View:
    """The view, when the user has it and it shows the relation (else 404)."""
    view = await views.access(session, user, view_id)
    await require_visible(card_context(request), view, relation_id)
    return view


@router.get("/views/{view_id}/relations/{relation_id}/presence")
async def who_is_editing(
    view_id: uuid.UUID, relation_id: uuid.UUID, user: UserDep, request: Request, session: SessionDep
) -> Presence:
    """Colleagues editing this relation now."""
    await _view_and_check(request, session, user, view_id, relation_id)
    redis = request.app.state.redis
    now = time.time()
    await redis.zremrangebyscore(_key(relation_id), "-inf", now)
    ids = [raw.decode() for raw in await redis.zrange(_key(relation_id), 0, -1)]
    others = [i for i in ids if i != str(user.id)]
    names = await display_names(session, others)
    return Presence(
        editing=[Editor(user_id=uuid.UUID(i), display_name=names.get(i, "?")) for i in others]
    )


@router.put(
    "/views/{view_id}/relations/{relation_id}/presence", status_code=status.HTTP_204_NO_CONTENT
)
async def start_editing(
    view_id: uuid.UUID, relation_id: uuid.UUID, user: UserDep, request: Request, session: SessionDep
) -> None:
    """Say this user is editing the relation (repeat within 30 s to stay marked)."""
    view = await _view_and_check(request, session, user, view_id, relation_id)
    editable(view)
    redis = request.app.state.redis
    lapses = time.time() + PRESENCE_SECONDS
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zadd(_key(relation_id), {str(user.id): lapses})
        pipe.expire(_key(relation_id), PRESENCE_SECONDS * 2)
        added, _ = await pipe.execute()
    if added:  # only a new mark is news; a repeat is not
        await live.publish(
            redis,
            live.channel(request.app.state.settings),
            {"type": "presence", "relation_id": str(relation_id), "user_id": str(user.id)},
        )


@router.delete(
    "/views/{view_id}/relations/{relation_id}/presence", status_code=status.HTTP_204_NO_CONTENT
)
async def stop_editing(
    view_id: uuid.UUID, relation_id: uuid.UUID, user: UserDep, request: Request, session: SessionDep
) -> None:
    """Say this user stopped editing the relation."""
    await views.access(session, user, view_id)
    redis = request.app.state.redis
    if await redis.zrem(_key(relation_id), str(user.id)):
        await live.publish(
            redis,
            live.channel(request.app.state.settings),
            {"type": "presence", "relation_id": str(relation_id), "user_id": str(user.id)},
        )
