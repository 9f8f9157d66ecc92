"""The relation card: one relation as a view shows it, composed from the relations, contact
moments and lists services in parallel. A part whose service is down or slow is left out and
named under ``unavailable``; whether the relation is in the view at all is never guessed."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from redis.asyncio import Redis

from relata_common.errors import NotFound
from relata_gateway import cache
from relata_gateway.clients import Services, ServiceUnavailable, Upstream
from relata_gateway.forms import display_name, visible_tabs
from relata_gateway.views import ListRef, View


class Card(BaseModel):
    relation_id: uuid.UUID
    relation_type: str
    version: int
    display_name: str
    view_id: uuid.UUID
    can_edit: bool
    tabs: list[dict[str, Any]]
    functions: list[dict[str, Any]] | None = None
    contact_moments: list[dict[str, Any]] | None = None
    lists: list[ListRef] | None = None
    other_views: list[ListRef] = []
    unavailable: list[str] = []


@dataclass
class CardContext:
    services: Services
    redis: Redis
    ttl: int
    timeout: float


async def lists_of(ctx: CardContext, relation_id: uuid.UUID) -> list[str]:
    """Ids of the lists the relation is in (the lists service decides visibility)."""

    async def load() -> list[str]:
        response = await ctx.services.lists.call("GET", f"/relations/{relation_id}/lists")
        return [item["list_id"] for item in response.json()]

    return await cache.cached(ctx.redis, "lists", relation_id, ctx.ttl, load)


async def visible(ctx: CardContext, view: View, relation_id: uuid.UUID) -> bool:
    return str(view.base_list_id) in await lists_of(ctx, relation_id)


async def require_visible(ctx: CardContext, view: View, relation_id: uuid.UUID) -> list[str]:
    """The relation's lists, or 404 when the view does not show it (as if it did not exist)."""
    memberships = await lists_of(ctx, relation_id)
    if str(view.base_list_id) not in memberships:
        raise NotFound(f"relation {relation_id} does not exist")
    return memberships


async def relation_state(ctx: CardContext, relation_id: uuid.UUID) -> dict[str, Any]:
    async def load() -> dict[str, Any]:
        return (await ctx.services.relations.call("GET", f"/relations/{relation_id}")).json()

    return await cache.cached(ctx.redis, "relation", relation_id, ctx.ttl, load)


async def recent_contact_moments(ctx: CardContext, relation_id: uuid.UUID) -> list[dict[str, Any]]:
    async def load() -> list[dict[str, Any]]:
        response = await ctx.services.contactmoments.call(
            "GET", f"/relations/{relation_id}/contact-moments", params={"limit": 5}
        )
        body = response.json()
        return (
            body.get("items", body.get("contact_moments", [])) if isinstance(body, dict) else body
        )

    return await cache.cached(ctx.redis, "contact_moments", relation_id, ctx.ttl, load)


async def _bounded(ctx: CardContext, coroutine: Any) -> Any:
    return await asyncio.wait_for(coroutine, timeout=ctx.timeout)


async def compose(
    ctx: CardContext,
    view: View,
    relation_id: uuid.UUID,
    *,
    views_of_user: list[View],
    lists_of_view: list[ListRef],
) -> Card:
    memberships = await require_visible(ctx, view, relation_id)
    form = view.form
    wanted_moments = form.shows("contact_moments")
    state_task = _bounded(ctx, relation_state(ctx, relation_id))
    moments_task = (
        _bounded(ctx, recent_contact_moments(ctx, relation_id)) if wanted_moments else None
    )
    tasks = [state_task] if moments_task is None else [state_task, moments_task]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    state = results[0]
    if isinstance(state, Upstream) and state.status_code == 404:
        raise NotFound(f"relation {relation_id} does not exist")
    if isinstance(state, BaseException):
        raise ServiceUnavailable("the relations service did not answer; the card cannot be shown")
    if state.get("status") != "active":
        raise NotFound(f"relation {relation_id} does not exist")
    unavailable: list[str] = []
    moments = None
    if moments_task is not None:
        moments = results[1]
        if isinstance(moments, BaseException):
            unavailable.append("contact_moments")
            moments = None
    in_view_lists = None
    if form.shows("lists"):  # only this view's lists: others may reveal what the form hides
        in_view_lists = [ref for ref in lists_of_view if str(ref.list_id) in memberships]

    return Card(
        relation_id=relation_id,
        relation_type=state["relation_type"],
        version=state["version"],
        display_name=display_name(form, state.get("fields", {}), state.get("relation_number")),
        view_id=view.id,
        can_edit=view.can_edit,
        tabs=visible_tabs(form, state),
        functions=state.get("functions") if form.shows("functions") else None,
        contact_moments=moments,
        lists=in_view_lists,
        other_views=[
            ListRef(list_id=v.id, name=v.name)
            for v in views_of_user
            if v.id != view.id and str(v.base_list_id) in memberships
        ],
        unavailable=unavailable,
    )
