"""Pages of relations (list members, ad-hoc filters, search hits) as a view may show them.

Services answer with names built from every name field, and list cursors carry a sort name:
both are rebuilt or hidden here, so only what the view's form shows leaves the gateway.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis

from relata_common.errors import InvalidInput, ServiceUnavailable
from relata_gateway.cards import CardContext, relation_states, visible_ids
from relata_gateway.forms import SEARCH_FIELD_SOURCES, display_name
from relata_gateway.security import User
from relata_gateway.views import View

CURSOR_SECONDS = 3600


async def names(ctx: CardContext, view: View, rows: list[dict[str, Any]]) -> dict[str, str]:
    """Display names from only the name fields the view's form shows, by relation id."""
    ids = [uuid.UUID(str(row["relation_id"])) for row in rows]
    try:
        states = await relation_states(ctx, ids)
    except ServiceUnavailable:
        states = {}
    out = {}
    for row in rows:
        relation_id = str(row["relation_id"])
        state = states.get(relation_id, {})
        number = state.get("relation_number", row.get("relation_number"))
        out[relation_id] = display_name(view.form, state.get("fields", {}), number)
    return out


PAGE_EXAMPLE = {
    "count": 412,
    "relations": [
        {
            "relation_id": "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11",
            "relation_type": "person",
            "relation_number": 1042,
            "display_name": "Sanne Bakker",
        }
    ],
    "next": "Zm9yLXRoZS1uZXh0LXBhZ2U",
}
"""What a members or evaluation page looks like (for the OpenAPI document)."""
PAGE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"example": PAGE_EXAMPLE}}}
}


async def redact_page(
    ctx: CardContext, user: User, view: View, page: dict[str, Any]
) -> dict[str, Any]:
    """A members or evaluation page: names from the form, numbers only when shown, and the
    service's cursor (which holds a sort name) swapped for an opaque one."""
    rows = page.get("relations", [])
    shown_names = await names(ctx, view, rows)
    page["relations"] = [
        {
            "relation_id": row["relation_id"],
            "relation_type": row["relation_type"],
            "relation_number": row["relation_number"]
            if view.form.shows("relation_number")
            else None,
            "display_name": shown_names[str(row["relation_id"])],
        }
        for row in rows
    ]
    if page.get("next"):
        page["next"] = await wrap_cursor(ctx.redis, user, view, page["next"])
    return page


def _cursor_key(token: str) -> str:
    return f"cursor:{token}"


async def wrap_cursor(redis: Redis, user: User, view: View, cursor: str) -> str:
    """An opaque cursor standing for the service's one, for this user and view only."""
    token = secrets.token_urlsafe(18)
    value = {"user": str(user.id), "view": str(view.id), "cursor": cursor}
    await redis.set(_cursor_key(token), orjson.dumps(value), ex=CURSOR_SECONDS)
    return token


async def page_params(
    ctx: CardContext, user: User, view: View, limit: int, cursor: str | None
) -> dict[str, Any]:
    """A service's paging parameters from a client's limit and opaque cursor."""
    params: dict[str, Any] = {"limit": limit}
    service_cursor = await unwrap_cursor(ctx.redis, user, view, cursor)
    if service_cursor:
        params["cursor"] = service_cursor
    return params


async def unwrap_cursor(redis: Redis, user: User, view: View, token: str | None) -> str | None:
    if not token:
        return None
    raw = await redis.get(_cursor_key(token))
    value = orjson.loads(raw) if raw else None
    if value is None or value["user"] != str(user.id) or value["view"] != str(view.id):
        raise InvalidInput.single(("query", "cursor"), "not a cursor of this page (or expired)")
    return str(value["cursor"])


class SearchHit(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "relation_id": "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11",
                    "relation_type": "person",
                    "display_name": "Sanne Bakker",
                    "matched_field": "last_name",
                    "matched_value": "Bakker",
                    "relation_number": 1042,
                    "city": "Utrecht",
                    "email": "sanne@bakker.example",
                }
            ]
        }
    )

    relation_id: uuid.UUID
    relation_type: str | None = None
    display_name: str
    matched_field: str | None = None
    matched_value: str | None = None
    relation_number: int | None = Field(default=None, description="when the form shows it")
    city: str | None = Field(
        default=None, description="of the first address, when the form shows addresses"
    )
    email: str | None = Field(
        default=None, description="the first e-mail address, when the form shows them"
    )


SEARCHABLE_FIELDS = (
    "email",
    "phone",
    "relation_number",
    "postal_code",
    "city",
    "first_name",
    "initials",
    "infix",
    "last_name",
    "organisation_name",
)
"""The fields the search service matches on."""


def _matched_shown(view: View, field: str | None) -> bool:
    return field is not None and view.form.shows(SEARCH_FIELD_SOURCES.get(field, field))


def searchable_fields(view: View) -> list[str]:
    """The fields a search in this view may match on: those its form shows. A query must not
    find a relation through a field the form hides, not even beside a word that is shown."""
    return [field for field in SEARCHABLE_FIELDS if _matched_shown(view, field)]


async def search_hits(
    ctx: CardContext, view: View, results: list[dict[str, Any]]
) -> list[SearchHit]:
    """Hits the view shows that matched on a field its form shows, named from the form, with
    what tells namesakes apart (relation number, city, e-mail) as far as the form shows it.

    A hit that matched only on a hidden field is left out: showing it would tell that the
    relation has the typed value (an e-mail address, a city) the form hides."""
    results = [r for r in results if _matched_shown(view, r.get("matched_field"))]
    in_view = await visible_ids(ctx, view, [uuid.UUID(r["relation_id"]) for r in results])
    results = [r for r in results if r["relation_id"] in in_view]
    try:
        states = await relation_states(ctx, [uuid.UUID(r["relation_id"]) for r in results])
    except ServiceUnavailable:
        states = {}
    hits = []
    for r in results:
        state = states.get(r["relation_id"], {})
        fields = state.get("fields", {})
        number = state.get("relation_number", r.get("relation_number"))
        hits.append(
            SearchHit(
                relation_id=r["relation_id"],
                relation_type=r.get("relation_type"),
                display_name=display_name(view.form, fields, number),
                matched_field=r["matched_field"],
                matched_value=r.get("matched_value"),
                relation_number=number if view.form.shows("relation_number") else None,
                city=_first(fields, "addresses", "city") if view.form.shows("addresses") else None,
                email=_first(fields, "emails", "address") if view.form.shows("emails") else None,
            )
        )
    return hits


def _first(fields: dict[str, Any], name: str, part: str) -> str | None:
    """A part of the first item of a repeating field that has it (a city, an address)."""
    for item in fields.get(name) or []:
        if isinstance(item, dict) and item.get(part):
            return str(item[part])
    return None
