"""Views: a base filter (which relations a view shows at all), a relation form, and the
relation lists under it, "All relations" first. Users are granted views, read-only or with
edit rights; functional administrators have every view."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select, union_all
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import Conflict, InvalidInput, NotFound
from relata_gateway.clients import Services
from relata_gateway.forms import Form, Labels, check_filter_depth
from relata_gateway.models import grants, role_grants, users, view_lists, views
from relata_gateway.security import User

ALL_RELATIONS = "All relations"


FORM_EXAMPLE: dict[str, Any] = {
    "tabs": [
        {
            "name": "Person",
            "labels": {"nl": "Persoon", "en": "Person"},
            "fields": ["first_name", "last_name", "emails", "custom.member_since", "functions"],
        }
    ],
    "field_labels": {"custom.member_since": {"nl": "Lid sinds", "en": "Member since"}},
}


class ViewInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Members",
                    "base_filter": {
                        "kind": "field",
                        "field": "relation_type",
                        "op": "equals",
                        "value": "person",
                    },
                    "form": FORM_EXAMPLE,
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    base_filter: dict[str, Any] = Field(
        description="which relations the view shows at all (a filter tree)",
        examples=[{"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}],
    )
    form: Form

    @field_validator("base_filter")
    @classmethod
    def _bounded(cls, node: dict[str, Any]) -> dict[str, Any]:
        return check_filter_depth(node)


class ListRef(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"list_id": "7e1d2c3b-4a5f-4e6d-9c8b-0a1f2e3d4c5b", "name": "Members in Utrecht"}
            ]
        }
    )

    list_id: uuid.UUID
    name: str


class ViewOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "view_id": "8d3c1f0e-2b4a-4e6f-9a1b-3c5d7e9f1a2b",
                    "name": "Members",
                    "form": FORM_EXAMPLE,
                    "lists": [
                        {"list_id": "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b", "name": ALL_RELATIONS}
                    ],
                    "can_edit": True,
                }
            ]
        }
    )

    view_id: uuid.UUID
    name: str
    form: Form
    lists: list[ListRef]
    can_edit: bool
    labels: dict[str, Labels] = Field(
        default_factory=dict,
        description="the label of every field and section of the form, per language (the "
        "form's own, else the default; a custom field's from its definition)",
    )


@dataclass(frozen=True)
class View:
    id: uuid.UUID
    name: str
    base_list_id: uuid.UUID
    form: Form
    can_edit: bool


@lru_cache(maxsize=1024)
def _parsed_form(raw: str) -> Form:
    return Form.model_validate_json(raw)


def stored_form(raw: dict[str, Any]) -> Form:
    """A stored form, parsed once per distinct form (forms are read on every request)."""
    return _parsed_form(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS).decode())


async def create_view(session: AsyncSession, services: Services, data: ViewInput) -> ViewOut:
    """Create a view; its base filter becomes its 'All relations' list in the lists service."""
    if await session.scalar(select(views.c.id).where(views.c.name == data.name)):
        raise Conflict(f"a view named {data.name!r} exists")
    view_id = uuid.uuid4()
    created = await services.lists.call(
        "POST",
        "/lists",
        json={
            "name": f"{data.name}: {ALL_RELATIONS}",
            "view_id": str(view_id),
            "filter": data.base_filter,
        },
    )
    base_list_id = uuid.UUID(created.json()["list_id"])
    await session.execute(
        views.insert().values(
            id=view_id,
            name=data.name,
            base_filter=data.base_filter,
            base_list_id=base_list_id,
            form=data.form.model_dump(),
        )
    )
    await session.execute(
        view_lists.insert().values(
            view_id=view_id, list_id=base_list_id, name=ALL_RELATIONS, position=0
        )
    )
    view = await view_for_admin(session, view_id)
    return view_out(view, await view_lists_of(session, view.id))


async def view_for_admin(session: AsyncSession, view_id: uuid.UUID) -> View:
    row = (await session.execute(select(views).where(views.c.id == view_id))).mappings().first()
    if row is None:
        raise NotFound(f"view {view_id} does not exist")
    return View(row["id"], row["name"], row["base_list_id"], stored_form(row["form"]), True)


async def access(session: AsyncSession, user: User, view_id: uuid.UUID) -> View:
    """The view as this user may use it; 404 when not granted (its existence is not told)."""
    if user.is_admin:
        return await view_for_admin(session, view_id)
    granted = union_all(
        select(grants.c.can_edit).where(grants.c.view_id == view_id, grants.c.user_id == user.id),
        select(role_grants.c.can_edit).where(
            role_grants.c.view_id == view_id, role_grants.c.role == user.role
        ),
    ).subquery()
    can_edit = select(func.bool_or(granted.c.can_edit)).scalar_subquery()
    row = (
        (
            await session.execute(
                select(views, can_edit.label("can_edit")).where(views.c.id == view_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None or row["can_edit"] is None:
        raise NotFound(f"view {view_id} does not exist")
    return View(
        row["id"],
        row["name"],
        row["base_list_id"],
        stored_form(row["form"]),
        row["can_edit"],
    )


async def view_lists_of(session: AsyncSession, view_id: uuid.UUID) -> list[ListRef]:
    rows = await session.execute(
        select(view_lists.c.list_id, view_lists.c.name)
        .where(view_lists.c.view_id == view_id)
        .order_by(view_lists.c.position, view_lists.c.name)
    )
    return [ListRef(list_id=row.list_id, name=row.name) for row in rows]


def view_out(view: View, lists: list[ListRef]) -> ViewOut:
    return ViewOut(
        view_id=view.id, name=view.name, form=view.form, lists=lists, can_edit=view.can_edit
    )


def within_view(view: View, node: dict[str, Any]) -> dict[str, Any]:
    """A filter narrowed to the view's relations."""
    return {"all": [{"kind": "in_list", "list_id": str(view.base_list_id)}, node]}


async def add_list(
    session: AsyncSession, services: Services, view: View, name: str, node: dict[str, Any]
) -> ListRef:
    """Save a filter as a relation list under a view (always within the view's relations)."""
    created = await services.lists.call(
        "POST",
        "/lists",
        json={
            "name": f"{view.name}: {name}",
            "view_id": str(view.id),
            "filter": within_view(view, node),
        },
    )
    list_id = uuid.UUID(created.json()["list_id"])
    position = await session.scalar(
        select(func.coalesce(func.max(view_lists.c.position), 0) + 1).where(
            view_lists.c.view_id == view.id
        )
    )
    await session.execute(
        view_lists.insert().values(view_id=view.id, list_id=list_id, name=name, position=position)
    )
    return ListRef(list_id=list_id, name=name)


async def grant(
    session: AsyncSession, *, user_id: uuid.UUID, view_id: uuid.UUID, can_edit: bool
) -> None:
    """Grant a user a view (or change the right); granting twice is harmless."""
    await view_for_admin(session, view_id)
    if await session.scalar(select(users.c.id).where(users.c.id == user_id)) is None:
        raise InvalidInput.single(("body", "user_id"), "no such user")
    upsert = insert(grants).values(user_id=user_id, view_id=view_id, can_edit=can_edit)
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=[grants.c.user_id, grants.c.view_id], set_={"can_edit": can_edit}
        )
    )
