"""The relation card: one relation as a view shows it, composed from the relations, contact
moments, lists (memberships, donations, registrations) and automation (generated properties)
services in parallel. A part whose service is down or slow is left out and named under
``unavailable``; whether the relation is in the view at all is never guessed."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis

from relata_common.client import Upstream
from relata_common.errors import NotFound, ServiceUnavailable
from relata_gateway import cache
from relata_gateway.clients import Services
from relata_gateway.forms import Form, Labels, display_name, visible_tabs
from relata_gateway.views import ListRef, View

CARD_EVENTS = 5
"""Events the card shows; the rest are a page away."""


class ViewRef(BaseModel):
    view_id: uuid.UUID
    name: str


class CardButton(BaseModel):
    """An action button the form places on the card (press it at ``.../buttons/{rule_id}``)."""

    rule_id: uuid.UUID
    label: str
    tab: str = Field(description="the tab of the form that places it")


class Card(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "relation_id": "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11",
                    "relation_type": "person",
                    "version": 7,
                    "display_name": "Sanne Bakker",
                    "view_id": "5d0c2f4e-2a57-4c1e-8d0a-6f3a2b1c9e77",
                    "can_edit": True,
                    "tabs": [
                        {
                            "name": "Person",
                            "fields": {
                                "first_name": "Sanne",
                                "infix": None,
                                "last_name": "Bakker",
                                "emails": [{"address": "sanne@bakker.example"}],
                            },
                        }
                    ],
                    "functions": [
                        {
                            "function_id": "4d5e6f70-8192-4a3b-8c4d-5e6f708192a3",
                            "role": "director",
                            "object_id": "3c2e1f0a-4b5d-4e6f-8a7b-9c0d1e2f3a4b",
                            "start_date": "2024-01-01",
                            "end_date": None,
                        }
                    ],
                    "contact_moments": [
                        {
                            "moment_id": "6f708192-a3b4-4c5d-8e6f-708192a3b4c5",
                            "channel": "phone",
                            "subject": "Membership renewal",
                            "occurred_at": "2026-12-01T10:30:00Z",
                        }
                    ],
                    "lists": [
                        {
                            "list_id": "1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b",
                            "name": "All relations",
                        },
                        {
                            "list_id": "7e1d2c3b-4a5f-4e6d-9c8b-0a1f2e3d4c5b",
                            "name": "Members in Utrecht",
                        },
                    ],
                    "properties": [
                        {
                            "key": "active_member",
                            "label": "Active member",
                            "since": "2026-01-03T08:00:00Z",
                        }
                    ],
                    "buttons": [
                        {
                            "rule_id": "8192a3b4-c5d6-4e7f-8091-a2b3c4d5e6f7",
                            "label": "Send welcome pack",
                            "tab": "Person",
                        }
                    ],
                    "donations": None,
                    "registrations": None,
                    "other_views": [
                        {"view_id": "c4d5e6f7-0819-4a2b-9c3d-4e5f60718293", "name": "Donors"}
                    ],
                    "unavailable": [],
                }
            ]
        }
    )

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
    buttons: list[CardButton] | None = None
    """Action buttons the form places (enabled button rules only), when it places any."""
    donations: dict[str, Any] | None = Field(
        default=None,
        description="the donations in short, when the form shows ``donations``: count, totals "
        "per currency, first and last gift (the list: ``.../relations/{relation_id}/donations``)",
        examples=[
            {
                "count": 3,
                "total": [{"currency": "EUR", "amount": "85.00", "count": 3}],
                "first_gift": {"received_on": "2024-12-20", "amount": "25.00", "currency": "EUR"},
                "last_gift": {"received_on": "2026-11-02", "amount": "35.00", "currency": "EUR"},
            }
        ],
    )
    registrations: list[dict[str, Any]] | None = Field(
        default=None,
        description=f"the {CARD_EVENTS} latest events registered for, each with its "
        "registrations, when the form shows ``registrations`` (all of them: "
        "``.../relations/{relation_id}/registrations``)",
        examples=[
            [
                {
                    "event_code": "GALA-2026",
                    "event_date": "2026-12-12",
                    "registrations": [
                        {
                            "registration_id": "8b7e0c1a-3d4f-4e5a-9b6c-7d8e9f0a1b2c",
                            "status": "registered",
                            "registered_at": "2026-11-20T09:12:00Z",
                        }
                    ],
                }
            ]
        ],
    )
    labels: dict[str, Labels] = {}
    """The label of every field and section on the tabs, per language (the form's own, else
    the default; a custom field's from its definition)."""
    other_views: list[ViewRef] = []
    """The user's other views that show this relation (to switch view from the card)."""
    unavailable: list[str] = []


class RelationAsShown(BaseModel):
    """A relation as a view's form shows it, whatever its status: the answer to a change after
    which the relation may have no card (an archived or merged relation leaves every list)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "relation_id": "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11",
                    "relation_type": "person",
                    "status": "archived",
                    "version": 4,
                    "display_name": "Sanne Bakker",
                    "view_id": "5d0c1f8e-2b7a-4c1e-9a43-1f0f8f0a11c3",
                    "tabs": [{"name": "Person", "fields": {"last_name": "Bakker"}}],
                }
            ]
        }
    )

    relation_id: uuid.UUID
    relation_type: str
    status: str
    version: int
    display_name: str
    view_id: uuid.UUID
    tabs: list[dict[str, Any]]


def as_shown(view: View, state: dict[str, Any]) -> RelationAsShown:
    """The relation's state through the view's form (nothing the form hides)."""
    return RelationAsShown(
        relation_id=state["relation_id"],
        relation_type=state["relation_type"],
        status=state["status"],
        version=state["version"],
        display_name=display_name(view.form, state.get("fields", {}), state.get("relation_number")),
        view_id=view.id,
        tabs=visible_tabs(view.form, state),
    )


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


LISTS_LOOKUP_MAX = 1000
"""Relations the lists service looks up in one ``POST /relations/lists/lookup``."""


async def lists_of_many(ctx: CardContext, relation_ids: list[uuid.UUID]) -> dict[str, list[str]]:
    """The lists of many relations (cached parts; the missing ones asked for in parallel)."""

    async def load(ids: list[str]) -> dict[str, list[str]]:
        # One call per LISTS_LOOKUP_MAX relations, not one per relation: a page of the
        # duplicate queue asks for two hundred at once.
        found: dict[str, list[str]] = {}
        for start in range(0, len(ids), LISTS_LOOKUP_MAX):
            response = await ctx.services.lists.call(
                "POST",
                "/relations/lists/lookup",
                json={"ids": ids[start : start + LISTS_LOOKUP_MAX]},
            )
            for relation_id, memberships in response.json().items():
                found[relation_id] = [item["list_id"] for item in memberships]
        return found

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


RETIRED = ("archived", "merged")
"""Statuses of a relation that has left every list but can come back (unarchive, undo)."""


async def require_visible_or_retired(
    ctx: CardContext, view: View, relation_id: uuid.UUID
) -> dict[str, Any]:
    """The relation's state when the view shows it, or showed it when it was archived or
    merged away; else 404 (as if it did not exist).

    An archived or merged relation is in no list, so no view's scope takes it in any more.
    It belongs to the views that showed it until then: those whose base list it left when
    it was retired, not before (a relation that had left a view earlier stays outside it).
    """
    try:
        memberships, state = await asyncio.gather(
            lists_of(ctx, relation_id), relation_state(ctx, relation_id)
        )
    except Upstream as error:
        if error.status_code == 404:
            raise NotFound(f"relation {relation_id} does not exist") from None
        raise
    if str(view.base_list_id) in memberships:
        return state  # shown (or the lists service has not yet heard of its retirement)
    if state.get("status") in RETIRED and await _left_when_retired(ctx, view, relation_id):
        return state
    raise NotFound(f"relation {relation_id} does not exist")


async def _left_when_retired(ctx: CardContext, view: View, relation_id: uuid.UUID) -> bool:
    """Whether the relation's last change in the view's base list is leaving it, no earlier
    than the relation's last change of status (its archiving or merge): the lists service
    hears of a change only after the relations service committed it."""
    changes, memberships = await asyncio.gather(
        ctx.services.relations.call(
            "GET", f"/relations/{relation_id}/history", params={"field": "status", "limit": 1}
        ),
        ctx.services.lists.call("GET", f"/lists/{view.base_list_id}/members/{relation_id}/history"),
    )
    if not changes.json() or not memberships.json():
        return False
    retired_at = datetime.fromisoformat(changes.json()[0]["occurred_at"])
    newest = memberships.json()[0]
    return newest["change"] == "left" and datetime.fromisoformat(newest["at"]) >= retired_at


async def relation_state(
    ctx: CardContext, relation_id: uuid.UUID, prefetched: cache.Prefetched | None = None
) -> dict[str, Any]:
    async def load() -> dict[str, Any]:
        return (await ctx.services.relations.call("GET", f"/relations/{relation_id}")).json()

    return await cache.cached(ctx.redis, "relation", relation_id, ctx.ttl, load, prefetched)


async def keep_state(ctx: CardContext, state: dict[str, Any]) -> None:
    """A relation's state as a change answered it: cached as the card's relation part at once
    (the event that would drop the old part follows later)."""

    async def given() -> dict[str, Any]:
        return state

    relation_id = uuid.UUID(str(state["relation_id"]))
    await cache.invalidate(ctx.redis, relation_id, "relation")
    await cache.cached(ctx.redis, "relation", relation_id, ctx.ttl, given)


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


BUTTONS_KEY = uuid.UUID(int=0)
"""The button rules are one cache entry for every card (kept under the nil id)."""


async def button_rules(ctx: CardContext) -> dict[str, str]:
    """The enabled button rules' labels by rule id (cached; the gateway's rule routes drop
    the entry when they change a rule)."""

    async def load() -> dict[str, str]:
        response = await ctx.services.automation.call("GET", "/rules/buttons")
        return {rule["rule_id"]: rule["trigger"]["label"] for rule in response.json()}

    return await cache.cached(ctx.redis, "buttons", BUTTONS_KEY, ctx.ttl, load)


async def placed_buttons(ctx: CardContext, form: Form) -> list[CardButton]:
    """The buttons the form places that are enabled button rules, in the form's order."""
    labels = await button_rules(ctx)
    return [
        CardButton(rule_id=rule_id, label=labels[str(rule_id)], tab=tab.name)
        for tab in form.tabs
        for rule_id in tab.buttons
        if str(rule_id) in labels
    ]


FACT_SECTIONS = ("donations", "registrations")
"""Card sections read from the lists read model in one call and cached as one part, ``facts``."""


async def relation_facts(
    ctx: CardContext, relation_id: uuid.UUID, prefetched: cache.Prefetched | None = None
) -> dict[str, Any]:
    """The donation summary and the latest events registered for, in one call: a cold card
    of a donor then costs one internal call more than a card without them, not two."""

    async def load() -> dict[str, Any]:
        response = await ctx.services.lists.call(
            "GET", f"/relations/{relation_id}/facts", params={"events": CARD_EVENTS}
        )
        return response.json()

    return await cache.cached(ctx.redis, "facts", relation_id, ctx.ttl, load, prefetched)


def _shows(form: Any, part: str) -> bool:
    if part == "facts":
        return any(form.shows(section) for section in FACT_SECTIONS)
    return form.shows(part)


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
            ("facts", relation_facts),
        )
        if _shows(form, part)
    }
    if form.buttons:
        optional["buttons"] = _bounded(ctx, placed_buttons(ctx, form))
    results = await asyncio.gather(state_task, *optional.values(), return_exceptions=True)
    state = results[0]
    if isinstance(state, Upstream) and state.status_code == 404:
        raise NotFound(f"relation {relation_id} does not exist")
    if isinstance(state, BaseException):
        raise ServiceUnavailable("the relations service did not answer; the card cannot be shown")
    if state.get("status") != "active":
        raise NotFound(f"relation {relation_id} does not exist")
    parts = dict(zip(optional, results[1:], strict=True))
    unavailable = [
        section
        for part, value in parts.items()
        if isinstance(value, BaseException)
        for section in (FACT_SECTIONS if part == "facts" else (part,))
        if form.shows(section)
    ]
    facts = _answered(parts, "facts") or {}
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
        buttons=_answered(parts, "buttons"),
        donations=facts.get("donations") if form.shows("donations") else None,
        registrations=facts.get("registrations") if form.shows("registrations") else None,
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
