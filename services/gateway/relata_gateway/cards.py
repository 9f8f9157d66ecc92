"""The relation card: one relation as a view shows it, composed from the relations, contact
moments, lists and automation (generated properties) services in parallel. A part whose
service is down or slow is left out and named under ``unavailable``; whether the relation is in
the view at all is never guessed."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from redis.asyncio import Redis

from relata_common.client import Upstream
from relata_common.errors import NotFound, ServiceUnavailable
from relata_gateway import cache
from relata_gateway.clients import Services
from relata_gateway.forms import Labels, display_name, visible_tabs
from relata_gateway.views import ListRef, View


class ViewRef(BaseModel):
    view_id: uuid.UUID
    name: str


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
    properties: list[dict[str, Any]] | None = None
    """Generated properties held ({key, label, since}), when the form shows ``properties``."""
    labels: dict[str, Labels] = {}
    """The label of every field and section on the tabs, per language (the form's own, else
    the default; a custom field's from its definition)."""
    other_views: list[ViewRef] = []
    """The user's other views that show this relation (to switch view from the card)."""
    unavailable: list[str] = []


@dataclass
class CardContext:
    services: Services
    redis: Redis
    ttl: int
    timeout: float


async def lists_of(
    ctx: CardContext, relation_id: uuid.UUID, prefetched: cache.Prefetched | None = None
) -> list[str]:
    """Ids of the lists the relation is in (the lists service decides visibility)."""

    async def load() -> list[str]:
        response = await ctx.services.lists.call("GET", f"/relations/{relation_id}/lists")
        return [item["list_id"] for item in response.json()]

    return await cache.cached(ctx.redis, "lists", relation_id, ctx.ttl, load, prefetched)


async def visible(ctx: CardContext, view: View, relation_id: uuid.UUID) -> bool:
    return str(view.base_list_id) in await lists_of(ctx, relation_id)


async def lists_of_many(ctx: CardContext, relation_ids: list[uuid.UUID]) -> dict[str, list[str]]:
    """The lists of many relations (cached parts; the missing ones asked for in parallel)."""

    async def load(ids: list[str]) -> dict[str, list[str]]:
        async def one(relation_id: str) -> list[str]:
            response = await ctx.services.lists.call("GET", f"/relations/{relation_id}/lists")
            return [item["list_id"] for item in response.json()]

        found = await asyncio.gather(*(one(r) for r in ids))
        return dict(zip(ids, found, strict=True))

    return await cache.cached_many(ctx.redis, "lists", relation_ids, ctx.ttl, load)


async def visible_ids(ctx: CardContext, view: View, relation_ids: list[uuid.UUID]) -> set[str]:
    """Which of these relations the view shows (none when the lists service does not answer)."""
    try:
        memberships = await lists_of_many(ctx, relation_ids)
    except ServiceUnavailable:
        return set()
    base = str(view.base_list_id)
    return {relation_id for relation_id, lists in memberships.items() if base in lists}


async def relation_states(ctx: CardContext, relation_ids: list[uuid.UUID]) -> dict[str, Any]:
    """Many relations' states at once (cached parts; the missing ones in one lookup call)."""

    async def load(ids: list[str]) -> dict[str, Any]:
        states = await ctx.services.client.lookup_relations(ids)
        return {state["relation_id"]: state for state in states}

    return await cache.cached_many(ctx.redis, "relation", relation_ids, ctx.ttl, load)


async def require_visible(
    ctx: CardContext,
    view: View,
    relation_id: uuid.UUID,
    prefetched: cache.Prefetched | None = None,
) -> list[str]:
    """The relation's lists, or 404 when the view does not show it (as if it did not exist)."""
    memberships = await lists_of(ctx, relation_id, prefetched)
    if str(view.base_list_id) not in memberships:
        raise NotFound(f"relation {relation_id} does not exist")
    return memberships


async def relation_state(
    ctx: CardContext, relation_id: uuid.UUID, prefetched: cache.Prefetched | None = None
) -> dict[str, Any]:
    async def load() -> dict[str, Any]:
        return (await ctx.services.relations.call("GET", f"/relations/{relation_id}")).json()

    return await cache.cached(ctx.redis, "relation", relation_id, ctx.ttl, load, prefetched)


async def recent_contact_moments(
    ctx: CardContext, relation_id: uuid.UUID, prefetched: cache.Prefetched | None = None
) -> list[dict[str, Any]]:
    async def load() -> list[dict[str, Any]]:
        response = await ctx.services.contactmoments.call(
            "GET", f"/relations/{relation_id}/contact-moments", params={"limit": 5}
        )
        items: list[dict[str, Any]] = response.json()["items"]  # the timeline page
        return items

    return await cache.cached(ctx.redis, "contact_moments", relation_id, ctx.ttl, load, prefetched)


async def generated_properties(
    ctx: CardContext, relation_id: uuid.UUID, prefetched: cache.Prefetched | None = None
) -> list[dict[str, Any]]:
    async def load() -> list[dict[str, Any]]:
        response = await ctx.services.automation.call("GET", f"/relations/{relation_id}/properties")
        return response.json()

    return await cache.cached(ctx.redis, "properties", relation_id, ctx.ttl, load, prefetched)


async def _bounded(ctx: CardContext, coroutine: Any) -> Any:
    return await asyncio.wait_for(coroutine, timeout=ctx.timeout)


async def compose(
    ctx: CardContext,
    view: View,
    relation_id: uuid.UUID,
    *,
    views_of_user: list[View],
    lists_of_view: list[ListRef],
    prefetched: cache.Prefetched | None = None,
) -> Card:
    """The card; ``prefetched`` holds the parts when the caller has already read them."""
    memberships = await require_visible(ctx, view, relation_id, prefetched)
    form = view.form
    state_task = _bounded(ctx, relation_state(ctx, relation_id, prefetched))
    optional = {
        part: _bounded(ctx, load(ctx, relation_id, prefetched))
        for part, load in (
            ("contact_moments", recent_contact_moments),
            ("properties", generated_properties),
        )
        if form.shows(part)
    }
    results = await asyncio.gather(state_task, *optional.values(), return_exceptions=True)
    state = results[0]
    if isinstance(state, Upstream) and state.status_code == 404:
        raise NotFound(f"relation {relation_id} does not exist")
    if isinstance(state, BaseException):
        raise ServiceUnavailable("the relations service did not answer; the card cannot be shown")
    if state.get("status") != "active":
        raise NotFound(f"relation {relation_id} does not exist")
    parts = dict(zip(optional, results[1:], strict=True))
    unavailable = [part for part, value in parts.items() if isinstance(value, BaseException)]
    moments = _answered(parts, "contact_moments")
    if moments:
        moments = await _moments_within_view(ctx, view, relation_id, moments)
    functions = None
    if form.shows("functions"):
        functions = await _functions_within_view(ctx, view, state.get("functions") or [])
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
        functions=functions,
        contact_moments=moments,
        lists=in_view_lists,
        properties=_answered(parts, "properties"),
        other_views=[
            ViewRef(view_id=v.id, name=v.name)
            for v in views_of_user
            if v.id != view.id and str(v.base_list_id) in memberships
        ],
        unavailable=unavailable,
    )


def _answered(parts: dict[str, Any], name: str) -> Any:
    """A part's value; None when the form leaves it out or its service did not answer."""
    value = parts.get(name)
    return None if isinstance(value, BaseException) else value


async def _moments_within_view(
    ctx: CardContext, view: View, relation_id: uuid.UUID, moments: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Contact moments naming only relations the view shows (a moment can link several)."""
    others = [r for m in moments for r in m.get("relation_ids", []) if r != str(relation_id)]
    shown = await visible_ids(ctx, view, others) | {str(relation_id)}
    return [
        {**m, "relation_ids": [r for r in m.get("relation_ids", []) if r in shown]} for m in moments
    ]


async def _functions_within_view(
    ctx: CardContext, view: View, functions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Functions whose other relation the view does not show keep their role, not the id."""
    shown = await visible_ids(ctx, view, [f["object_id"] for f in functions if f.get("object_id")])
    return [
        f if f.get("object_id") in shown else {**f, "object_id": None, "object_hidden": True}
        for f in functions
    ]
