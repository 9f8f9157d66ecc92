"""What the staff web application needs beside the card and the lists: who is logged in, the
filter builder's catalogue, the named activity feed and a relation's history (contact
moments: :mod:`relata_gateway.routes.contact_moments`; functions:
:mod:`relata_gateway.routes.functions`). Every answer passes the view's form: only what
it shows leaves the gateway, and a relation outside the view answers 404."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relata_gateway import activity, pages, views
from relata_gateway.cards import require_visible
from relata_gateway.deps import (
    Limit,
    SessionDep,
    SnapshotDep,
    UserDep,
    card_context,
    needs_section,
)
from relata_gateway.forms import ALWAYS_SHOWN, CRITERIA_NEEDS, filter_fields_outside
from relata_gateway.models import users

router = APIRouter(tags=["web application"])


async def display_names(session: AsyncSession, user_ids: list[str]) -> dict[str, str]:
    """Users' display names by id (ids that are not user ids are left out)."""
    ids = []
    for raw in dict.fromkeys(user_ids):
        try:
            ids.append(uuid.UUID(raw))
        except (TypeError, ValueError):
            continue
    if not ids:
        return {}
    rows = await session.execute(
        select(users.c.id, users.c.display_name).where(users.c.id.in_(ids))
    )
    return {str(row.id): row.display_name for row in rows}


# --- who am I ----------------------------------------------------------------------------------


class Me(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "9a7d1c2b-3e4f-4a5b-8c6d-7e8f9a0b1c2d",
                    "username": "anouk",
                    "display_name": "Anouk Jansen",
                    "role": "staff",
                    "rights": [
                        "buttons.run",
                        "lists.manage",
                        "relations.archive",
                        "relations.create",
                        "selections.manage",
                    ],
                }
            ]
        }
    )

    user_id: uuid.UUID
    username: str
    display_name: str
    role: str
    rights: list[str] = Field(description="what the user's role allows (see the README)")


@router.get("/me")
async def me(user: UserDep, session: SessionDep, snapshot: SnapshotDep) -> Me:
    """The logged-in user (for the application's header) and their rights."""
    names = await display_names(session, [str(user.id)])
    return Me(
        user_id=user.id,
        username=user.username,
        display_name=names.get(str(user.id), user.username),
        role=user.role,
        rights=sorted(snapshot.rights_of(user)),
    )


# --- colleagues ----------------------------------------------------------------------------------


class Colleague(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"user_id": "9a7d1c2b-3e4f-4a5b-8c6d-7e8f9a0b1c2d", "display_name": "Anouk Jansen"}
            ]
        }
    )

    user_id: uuid.UUID
    display_name: str


@router.get("/colleagues")
async def colleagues(user: UserDep, session: SessionDep) -> list[Colleague]:
    """The active users by name (any logged-in user): whom a follow-up can be assigned to.
    Only names: usernames, roles and rights stay with the administration."""
    del user  # logged in is enough: the names are shown beside their work anyway
    rows = await session.execute(
        select(users.c.id, users.c.display_name)
        .where(users.c.active)
        .order_by(users.c.display_name, users.c.id)
    )
    return [Colleague(user_id=row.id, display_name=row.display_name) for row in rows]


# --- the filter builder's catalogue -------------------------------------------------------------


class CatalogueField(BaseModel):
    name: str
    label: str
    type: str
    operators: list[str]
    choices: list[str] = []


class RoleRef(BaseModel):
    code: str
    label: str


class ViewCatalogue(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fields": [
                        {
                            "name": "city",
                            "label": "City",
                            "type": "text",
                            "operators": ["equals", "contains", "starts_with", "is_empty"],
                            "choices": [],
                        }
                    ],
                    "criteria": ["function", "contact", "in_list"],
                    "lists": [
                        {
                            "list_id": "7e1d2c3b-4a5f-4e6d-9c8b-0a1f2e3d4c5b",
                            "name": "Members in Utrecht",
                        }
                    ],
                    "roles": [{"code": "director", "label": "Director"}],
                }
            ]
        }
    )

    fields: list[CatalogueField] = Field(description="fields the view's form lets one filter on")
    criteria: list[str] = Field(description="other criterion kinds the form allows")
    lists: list[views.ListRef] = Field(description="the view's lists, for 'in list' criteria")
    roles: list[RoleRef] = Field(default=[], description="roles, for function criteria")


@router.get("/views/{view_id}/fields")
async def view_catalogue(
    view_id: uuid.UUID, user: UserDep, request: Request, session: SessionDep
) -> ViewCatalogue:
    """The field catalogue as this view may filter: only fields and criteria its form shows."""
    view = await views.access(session, user, view_id)
    services = request.app.state.services
    catalogue = (await services.lists.call("GET", "/fields")).json()
    fields = [
        CatalogueField.model_validate(item)
        for item in catalogue["fields"]
        if item["name"] in ALWAYS_SHOWN
        or not filter_fields_outside(
            view.form, {"kind": "field", "field": item["name"]}, frozenset()
        )
    ]
    criteria = [kind for kind, needs in CRITERIA_NEEDS.items() if view.form.shows(needs)]
    roles: list[RoleRef] = []
    if "function" in criteria:
        roles = [
            RoleRef.model_validate(r)
            for r in (await services.relations.call("GET", "/roles")).json()
        ]
    return ViewCatalogue(
        fields=fields,
        criteria=criteria,
        lists=await views.view_lists_of(session, view.id),
        roles=roles,
    )


# --- recently edited by others, named ------------------------------------------------------------


class NamedActivity(activity.ActivityItem):
    display_name: str
    actor_name: str | None = Field(description="the colleague's name; null for a relation")


@router.get("/views/{view_id}/recently-edited")
async def recently_edited_named(
    view_id: uuid.UUID, user: UserDep, request: Request, session: SessionDep, limit: Limit = 10
) -> list[NamedActivity]:
    """Recently edited by others, as the activity feed, with the relations' names (as the
    view's form names them) and the colleagues' names."""
    view = await views.access(session, user, view_id)
    ctx = card_context(request)
    items = await activity.recently_edited_by_others(
        request.app.state.newest_activity,
        request.app.state.reading_sessions,
        ctx,
        user,
        view,
        limit,
    )
    names = await pages.names(ctx, view, [{"relation_id": i.relation_id} for i in items])
    actors = await display_names(
        session, [i.actor_id for i in items if i.actor_kind == "user" and i.actor_id]
    )
    return [
        NamedActivity(
            **item.model_dump(),
            display_name=names[str(item.relation_id)],
            actor_name=actors.get(item.actor_id or "") if item.actor_kind == "user" else None,
        )
        for item in items
    ]


# --- history ------------------------------------------------------------------------------------


class HistoryChange(BaseModel):
    field: str
    old: Any = None
    new: Any = None


class HistoryItem(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": 7,
                    "kind": "relation.updated",
                    "actor_kind": "user",
                    "actor_name": "Anouk Jansen",
                    "occurred_at": "2026-12-07T09:15:00Z",
                    "changes": [
                        {
                            "field": "addresses",
                            "old": [{"street": "Stationsplein", "city": "Amersfoort"}],
                            "new": [{"street": "Oudegracht", "city": "Utrecht"}],
                        }
                    ],
                }
            ]
        }
    )

    version: int
    kind: str
    actor_kind: str
    actor_name: str | None
    occurred_at: datetime
    changes: list[HistoryChange]


@router.get("/views/{view_id}/relations/{relation_id}/history")
async def relation_history(
    view_id: uuid.UUID,
    relation_id: uuid.UUID,
    user: UserDep,
    request: Request,
    session: SessionDep,
    limit: Limit = 50,
    before_version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,  # versions are int4
) -> list[HistoryItem]:
    """Who changed what, newest first, naming only fields the view's form shows (the form
    must show the history section)."""
    view = await views.access(session, user, view_id)
    needs_section(view, "history")
    await require_visible(card_context(request), view, relation_id)
    params: dict[str, Any] = {"limit": limit}
    if before_version is not None:
        params["before_version"] = before_version
    entries = (
        await request.app.state.services.relations.call(
            "GET", f"/relations/{relation_id}/history", params=params
        )
    ).json()
    actors = await display_names(
        session, [e["actor"].get("id") for e in entries if e["actor"]["kind"] == "user"]
    )
    out = []
    for entry in entries:
        shown = [c for c in entry["changes"] if view.form.shows(c["field"])]
        if entry["changes"] and not shown:
            continue  # a change of fields this view does not show: not even that it happened
        actor = entry["actor"]
        out.append(
            HistoryItem(
                version=entry["version"],
                kind=entry["kind"],
                actor_kind=actor["kind"],
                actor_name=actors.get(actor.get("id") or "") if actor["kind"] == "user" else None,
                occurred_at=entry["occurred_at"],
                changes=[HistoryChange.model_validate(c) for c in shown],
            )
        )
    return out
