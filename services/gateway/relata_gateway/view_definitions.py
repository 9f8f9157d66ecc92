"""Views as functional administrators define them: reading, changing and deleting a view, and
granting it to users and roles.

A view's base filter is its 'All relations' list in the lists service; changing the filter
changes that list (which re-evaluates its members, and the members of the view's other lists
follow, as they are always taken within it). A view is deleted with its lists but not while
selections were made in it: they are frozen sets somebody made for a purpose (a mailing), and
deleting them is a decision of its own, taken first.

Every change here runs in :func:`relata_gateway.deps.views_changing`, so every process loads
the views again: a card composed after the change shows the new form.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import Conflict, NotFound, PreconditionFailed, ServiceUnavailable
from relata_common.logging import get_logger
from relata_gateway.clients import Services
from relata_gateway.forms import Form
from relata_gateway.models import grants, role_grants, roles, users, view_selections
from relata_gateway.models import views as views_table
from relata_gateway.views import ALL_RELATIONS, ListRef, ViewInput, view_lists_of

log = get_logger(__name__)

VIEW_EXAMPLE: dict[str, Any] = {
    "view_id": "8d3c1f0e-2b4a-4e6f-9a1b-3c5d7e9f1a2b",
    "name": "Members",
    "base_filter": {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"},
    "form": {
        "tabs": [
            {
                "name": "Person",
                "labels": {"nl": "Persoon", "en": "Person"},
                "fields": ["first_name", "last_name", "emails", "custom.member_since"],
            }
        ],
        "field_labels": {"custom.member_since": {"nl": "Lid sinds", "en": "Member since"}},
    },
    "lists": [{"list_id": "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b", "name": "All relations"}],
    "version": 2,
}


class AdminViewOut(BaseModel):
    """A view with everything that defines it (its base filter included)."""

    model_config = ConfigDict(json_schema_extra={"examples": [VIEW_EXAMPLE]})

    view_id: uuid.UUID
    name: str
    base_filter: dict[str, Any]
    form: Form
    lists: list[ListRef]
    version: int = Field(description="also the ETag; PUT names it in If-Match")


async def _admin_view(session: AsyncSession, row: Any) -> AdminViewOut:
    return AdminViewOut(
        view_id=row.id,
        name=row.name,
        base_filter=row.base_filter,
        form=Form.model_validate(row.form),
        lists=await view_lists_of(session, row.id),
        version=row.version,
    )


async def list_views(session: AsyncSession) -> list[AdminViewOut]:
    rows = (await session.execute(select(views_table).order_by(views_table.c.name))).all()
    return [await _admin_view(session, row) for row in rows]


async def _row(session: AsyncSession, view_id: uuid.UUID, *, lock: bool = False) -> Any:
    query = select(views_table).where(views_table.c.id == view_id)
    row = (await session.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise NotFound(f"view {view_id} does not exist")
    return row


async def get_view(session: AsyncSession, view_id: uuid.UUID) -> AdminViewOut:
    return await _admin_view(session, await _row(session, view_id))


async def update_view(
    session: AsyncSession, services: Services, view_id: uuid.UUID, data: ViewInput, version: int
) -> AdminViewOut:
    """Change a view's name, base filter and form (If-Match); a changed base filter is
    re-evaluated by the lists service at once."""
    row = await _row(session, view_id, lock=True)
    if row.version != version:
        raise PreconditionFailed(f"the view is at version {row.version}, not {version}")
    taken = await session.scalar(
        select(views_table.c.id).where(views_table.c.name == data.name, views_table.c.id != view_id)
    )
    if taken:
        raise Conflict(f"a view named {data.name!r} exists")
    if data.base_filter != row.base_filter or data.name != row.name:
        await _change_base_list(services, row.base_list_id, view_id, data)
    await session.execute(
        views_table.update()
        .where(views_table.c.id == view_id)
        .values(
            name=data.name,
            base_filter=data.base_filter,
            form=data.form.model_dump(),
            version=row.version + 1,
        )
    )
    return await get_view(session, view_id)


async def _change_base_list(
    services: Services, list_id: uuid.UUID, view_id: uuid.UUID, data: ViewInput
) -> None:
    current = await services.lists.call("GET", f"/lists/{list_id}")
    await services.lists.call(
        "PUT",
        f"/lists/{list_id}",
        json={
            "name": f"{data.name}: {ALL_RELATIONS}",
            "view_id": str(view_id),
            "filter": data.base_filter,
        },
        if_match=current.version,
    )


async def delete_view(session: AsyncSession, view_id: uuid.UUID) -> list[uuid.UUID]:
    """Delete a view and its grants; the ids of its lists, to delete in the lists service
    once this has committed (the base list last: the others are taken within it). Refused
    while selections made in the view exist."""
    await _row(session, view_id, lock=True)
    selections = await session.scalar(
        select(func.count()).where(view_selections.c.view_id == view_id)
    )
    if selections:
        raise Conflict(
            f"{selections} selection(s) were made in this view: delete them first",
            selections=selections,
        )
    lists = [ref.list_id for ref in await view_lists_of(session, view_id)]
    await session.execute(views_table.delete().where(views_table.c.id == view_id))
    return list(reversed(lists))


async def delete_lists(services: Services, list_ids: list[uuid.UUID]) -> None:
    """Delete a deleted view's lists; a list the lists service cannot delete now stays there,
    named by its view id, and is logged (no view shows it any more)."""
    for list_id in list_ids:
        try:
            answer = await services.lists.call("DELETE", f"/lists/{list_id}", refusals="return")
        except ServiceUnavailable:
            log.warning("list of a deleted view left behind", list_id=str(list_id))
            continue
        if not answer.ok and answer.status != 404:
            log.warning(
                "list of a deleted view left behind", list_id=str(list_id), error=answer.error()
            )


# --- grants ------------------------------------------------------------------------------------


class UserGrant(BaseModel):
    user_id: uuid.UUID
    username: str
    can_edit: bool


class RoleGrant(BaseModel):
    role: str
    can_edit: bool


class ViewGrants(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "users": [
                        {
                            "user_id": "5f0c7a52-9d7e-4d33-9d8c-0d6b1f2e8a11",
                            "username": "daan",
                            "can_edit": True,
                        }
                    ],
                    "roles": [{"role": "staff", "can_edit": False}],
                }
            ]
        }
    )

    users: list[UserGrant]
    roles: list[RoleGrant]


class GrantRight(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"can_edit": True}]})

    can_edit: bool = False


async def grants_of(session: AsyncSession, view_id: uuid.UUID) -> ViewGrants:
    await _row(session, view_id)
    by_user = await session.execute(
        select(grants.c.user_id, users.c.username, grants.c.can_edit)
        .join(users, users.c.id == grants.c.user_id)
        .where(grants.c.view_id == view_id)
        .order_by(users.c.username)
    )
    by_role = await session.execute(
        select(role_grants.c.role, role_grants.c.can_edit)
        .where(role_grants.c.view_id == view_id)
        .order_by(role_grants.c.role)
    )
    return ViewGrants(
        users=[
            UserGrant(user_id=r.user_id, username=r.username, can_edit=r.can_edit) for r in by_user
        ],
        roles=[RoleGrant(role=r.role, can_edit=r.can_edit) for r in by_role],
    )


async def grant_role(
    session: AsyncSession, *, role: str, view_id: uuid.UUID, can_edit: bool
) -> None:
    """Grant everyone with a role a view (or change the right); granting twice is harmless."""
    await _row(session, view_id)
    if await session.scalar(select(roles.c.name).where(roles.c.name == role)) is None:
        raise NotFound(f"role {role!r} does not exist")
    upsert = insert(role_grants).values(role=role, view_id=view_id, can_edit=can_edit)
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=[role_grants.c.role, role_grants.c.view_id], set_={"can_edit": can_edit}
        )
    )


async def revoke_user(session: AsyncSession, *, user_id: uuid.UUID, view_id: uuid.UUID) -> None:
    """Take a view from a user (what their role grants stays); revoking twice is harmless."""
    await _row(session, view_id)
    await session.execute(
        grants.delete().where(grants.c.user_id == user_id, grants.c.view_id == view_id)
    )


async def revoke_role(session: AsyncSession, *, role: str, view_id: uuid.UUID) -> None:
    await _row(session, view_id)
    await session.execute(
        role_grants.delete().where(role_grants.c.role == role, role_grants.c.view_id == view_id)
    )
