"""Relation lists under a view: browse, save, rename, change the filter, copy or move to
another view, delete (refused while something uses the list), members on a date and why a
relation is in a list.

Reading needs the view granted; changing needs edit rights in the view and the right
``lists.manage``. Filters read only what the view's form shows, and are always narrowed to the
view's relations; members and causes are told only as the view's form shows them.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from relata_common.errors import InvalidInput, NotFound
from relata_common.input import Day
from relata_common.web import OptionalIfMatchDep
from relata_gateway import dashboard, directory, pages, views
from relata_gateway import relation_lists as rl
from relata_gateway.cards import require_visible, visible_ids
from relata_gateway.deps import (
    Limit,
    SessionDep,
    SnapshotDep,
    UserDep,
    card_context,
    editable,
    needs,
    views_changing,
)
from relata_gateway.models import view_lists
from relata_gateway.rights import Right
from relata_gateway.security import User

router = APIRouter(prefix="/views/{view_id}/lists", tags=["lists"])
Manager = Annotated[User, needs(Right.LISTS_MANAGE)]
VISIBILITY_CHUNK = 100
LIST_ID = "0b0e4b4e-8c8a-4c53-9f0e-6d1f0c7d1a11"
UTRECHT: dict[str, Any] = {"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"}

READ_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such view granted to you, or no such list (or relation) in it"},
}
ANSWERS: dict[int | str, dict[str, Any]] = {
    **READ_ANSWERS,
    403: {"description": "the view is read-only for you, or your role lacks lists.manage"},
}
SAVE_ANSWERS: dict[int | str, dict[str, Any]] = {
    **ANSWERS,
    409: {"description": "the name is taken in the view, or the list is the view's base list"},
    422: {"description": "the filter reads what the form does not show (the path is named)"},
}
CHANGE_ANSWERS: dict[int | str, dict[str, Any]] = {
    **SAVE_ANSWERS,
    412: {"description": "If-Match names an older version of the list"},
}


class SavedList(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "In Utrecht", "filter": UTRECHT}]}
    )

    name: str = Field(min_length=1, max_length=200, examples=["Members in Utrecht"])
    filter: dict[str, Any] = Field(examples=[UTRECHT])


class ListChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Utrecht and Zeist"}, {"filter": UTRECHT}],
        },
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    filter: dict[str, Any] | None = Field(
        default=None, description="the new filter: membership is re-evaluated at once"
    )


class ListDetail(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "list_id": "7e1d2c3b-4a5f-4e6d-9c8b-0a1f2e3d4c5b",
                    "name": "Members in Utrecht",
                    "filter": {
                        "kind": "field",
                        "field": "city",
                        "op": "equals",
                        "value": "Utrecht",
                    },
                    "member_count": 412,
                    "version": 3,
                    "base": False,
                }
            ]
        }
    )

    list_id: uuid.UUID
    name: str
    filter: dict[str, Any] = Field(description="as given (without the narrowing to the view)")
    member_count: int
    version: int
    base: bool = Field(description="the view's 'All relations' list")


class CopyInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"view_id": LIST_ID, "move": False},
                {"view_id": LIST_ID, "move": True, "name": "Utrecht (members)"},
            ]
        },
    )

    view_id: uuid.UUID = Field(description="the view to copy or move the list to")
    move: bool = Field(default=False, description="delete it from this view afterwards")
    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="default: the same name"
    )


class NamedMember(BaseModel):
    relation_id: uuid.UUID
    display_name: str


class MembersOn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "on": "2026-03-01",
                    "member_count": 2,
                    "relations": [{"relation_id": LIST_ID, "display_name": "Jan de Berg"}],
                    "next": None,
                }
            ]
        }
    )

    on: date
    member_count: int = Field(description="members that day (the view showed them then)")
    relations: list[NamedMember] = Field(description="those the view still shows, named")
    next: str | None = Field(default=None, description="cursor for the next page")


class Why(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "relation_id": LIST_ID,
                    "member": True,
                    "history": [
                        {
                            "change": "entered",
                            "at": "2026-12-07T10:00:00Z",
                            "cause": "relation.updated",
                            "explanation": "the relation's data changed",
                            "criteria": ["city equals 'Utrecht'"],
                            "changed_fields": ["addresses"],
                        }
                    ],
                }
            ]
        }
    )

    relation_id: uuid.UUID
    member: bool = Field(description="in the list now")
    history: list[rl.WhyEntry] = Field(description="entries and exits, newest first")


# --- reading -----------------------------------------------------------------------------------


@router.get("")
async def view_lists_all(
    view_id: uuid.UUID, user: UserDep, snapshot: SnapshotDep
) -> list[views.ListRef]:
    """The lists under a view, 'All relations' first."""
    view = directory.pick(snapshot.views_of(user), view_id)
    return snapshot.lists_of(view.id)


@router.get("/{list_id}", responses=READ_ANSWERS)
async def list_detail(
    view_id: uuid.UUID,
    list_id: uuid.UUID,
    user: UserDep,
    request: Request,
    session: SessionDep,
    response: Response,
) -> ListDetail:
    """One list: its name, filter and member count, with its version as ETag (for If-Match)."""
    view = await views.access(session, user, view_id)
    ref = await rl.list_of_view(session, view, list_id)
    found = (await request.app.state.services.lists.call("GET", f"/lists/{list_id}")).json()
    base = list_id == view.base_list_id
    response.headers["ETag"] = f'"{found["version"]}"'
    return ListDetail(
        list_id=list_id,
        name=ref.name,
        # The base filter may read fields the form does not show: not told.
        filter={} if base else rl.own_filter(view, found["filter"]),
        member_count=found["member_count"],
        version=found["version"],
        base=base,
    )


@router.get("/{list_id}/members", responses={**READ_ANSWERS, **pages.PAGE_ANSWER})
async def list_members(
    view_id: uuid.UUID,
    list_id: uuid.UUID,
    user: UserDep,
    request: Request,
    snapshot: SnapshotDep,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    on: Annotated[
        date | None, Query(description="members on this day (Europe/Amsterdam) instead of now")
    ] = None,
) -> Any:
    """Members of a list under the view, paged; a list too large to browse gives its count.
    With ``on``: who was in it that day (see ``/members-at``)."""
    if on is not None:
        return await members_on(view_id, list_id, user, request, snapshot, on, limit, cursor)
    view = directory.pick(snapshot.views_of(user), view_id)
    named = {ref.list_id: ref.name for ref in snapshot.lists_of(view.id)}
    if list_id not in named:
        raise InvalidInput.single(("path", "list_id"), "not a list of this view")
    ctx = card_context(request)
    params = await pages.page_params(ctx, user, view, limit, cursor)
    page = await request.app.state.services.lists.call(
        "GET", f"/lists/{list_id}/members", params=params
    )
    await dashboard.remember(
        ctx.redis,
        user,
        dashboard.RecentItem(
            kind="list", id=list_id, view_id=view.id, label=named[list_id], at=dashboard.now()
        ),
        request.app.state.settings.recent_items,
    )
    return await pages.redact_page(ctx, user, view, page.json())


@router.get("/{list_id}/members-at", responses=READ_ANSWERS)
async def members_on(
    view_id: uuid.UUID,
    list_id: uuid.UUID,
    user: UserDep,
    request: Request,
    snapshot: SnapshotDep,
    on: Annotated[Day, Query(description="the day (Europe/Amsterdam), YYYY-MM-DD")],
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> MembersOn:
    """Who was in the list at the end of a day, in relation id order; only relations the
    view still shows are named, the count is of everyone in it then."""
    view = directory.pick(snapshot.views_of(user), view_id)
    if list_id not in {ref.list_id for ref in snapshot.lists_of(view.id)}:
        raise NotFound(f"relation list {list_id} does not exist in this view")
    answer = await request.app.state.services.lists.call(
        "GET", f"/lists/{list_id}/members-at", params={"at": rl.end_of_day(on).isoformat()}
    )
    ids: list[str] = answer.json()
    after = _after(cursor)
    ctx = card_context(request)
    shown: list[str] = []
    pending = [i for i in ids if after is None or i > after]
    while pending and len(shown) <= limit:
        chunk, pending = pending[:VISIBILITY_CHUNK], pending[VISIBILITY_CHUNK:]
        seen = await visible_ids(ctx, view, [uuid.UUID(i) for i in chunk])
        shown += [i for i in chunk if i in seen]
    page = shown[:limit]
    names = await pages.names(ctx, view, [{"relation_id": i} for i in page])
    return MembersOn(
        on=on,
        member_count=len(ids),
        relations=[NamedMember(relation_id=uuid.UUID(i), display_name=names[i]) for i in page],
        next=page[-1] if len(shown) > limit else None,
    )


def _after(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return str(uuid.UUID(cursor))
    except ValueError:
        raise InvalidInput.single(("query", "cursor"), "not a cursor of this page") from None


@router.get("/{list_id}/members/{relation_id}/why", responses=READ_ANSWERS)
async def why_member(
    view_id: uuid.UUID,
    list_id: uuid.UUID,
    relation_id: uuid.UUID,
    user: UserDep,
    request: Request,
    session: SessionDep,
) -> Why:
    """Why a relation is (or is not) in a list: each time it entered or left, with the event
    that caused it, the criteria that then matched or failed and the fields an edit changed,
    as far as the view's form shows them. 404 for a relation the view does not show."""
    view = await views.access(session, user, view_id)
    await rl.list_of_view(session, view, list_id)
    ctx = card_context(request)
    await require_visible(ctx, view, relation_id)
    history = (
        await request.app.state.services.lists.call(
            "GET", f"/lists/{list_id}/members/{relation_id}/history"
        )
    ).json()
    names = {str(ref.list_id): ref.name for ref in await views.view_lists_of(session, view.id)}
    event_ids = [
        uuid.UUID(r["cause"]["event_id"]) for r in history if r.get("cause", {}).get("event_id")
    ]
    changed = await rl.changed_fields_of(session, view, event_ids)
    return Why(
        relation_id=relation_id,
        # The history itself, not the card's cached lists: it is what the answer explains.
        member=bool(history) and history[0]["change"] == "entered",
        history=[rl.why_entry(view, list_id, record, names, changed) for record in history],
    )


# --- changing ----------------------------------------------------------------------------------


@router.post("", status_code=status.HTTP_201_CREATED, responses=SAVE_ANSWERS)
async def save_list(
    view_id: uuid.UUID, body: SavedList, user: Manager, request: Request
) -> views.ListRef:
    """Save a filter as a relation list under the view (name unique in the view)."""
    async with views_changing(request) as session:
        view = await views.access(session, user, view_id)
        editable(view)
        await rl.lock_view(session, view)
        await rl.check_name_free(session, view, body.name)
        rl.check_filter(await views.view_lists_of(session, view.id), view, body.filter)
        services = request.app.state.services
        return await views.add_list(session, services, view, body.name, body.filter)


@router.patch("/{list_id}", responses=CHANGE_ANSWERS)
async def change_list(
    view_id: uuid.UUID,
    list_id: uuid.UUID,
    body: ListChange,
    user: Manager,
    request: Request,
    version: OptionalIfMatchDep,
) -> views.ListRef:
    """Rename a list or change its filter (optionally If-Match). A new filter re-evaluates
    the membership at once: who enters and leaves is recorded (see ``why``)."""
    async with views_changing(request) as session:
        view = await views.access(session, user, view_id)
        editable(view)
        await rl.lock_view(session, view)
        ref = await rl.list_of_view(session, view, list_id)
        rl.refuse_base_list(view, list_id, "rename or refilter")
        name = body.name or ref.name
        if name == ref.name and body.filter is None:
            return ref  # nothing to change
        if name != ref.name:
            await rl.check_name_free(session, view, name)
        if body.filter is not None:
            rl.check_filter(await views.view_lists_of(session, view.id), view, body.filter)
        await rl.change_definition(
            request.app.state.services,
            view,
            list_id,
            name=name,
            node=body.filter,
            if_match=version,
        )
        await session.execute(
            view_lists.update()
            .where(view_lists.c.view_id == view.id, view_lists.c.list_id == list_id)
            .values(name=name)
        )
        return views.ListRef(list_id=list_id, name=name)


@router.delete(
    "/{list_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **ANSWERS,
        409: {
            "description": "the base list, or a list still used: the answer names the rules, "
            "merge rules, generated properties, selections and lists that use it (used_by)"
        },
    },
)
async def delete_list(
    view_id: uuid.UUID, list_id: uuid.UUID, user: Manager, request: Request
) -> None:
    """Delete a list; refused while rules, properties, selections or other lists use it."""
    async with views_changing(request) as session:
        view = await views.access(session, user, view_id)
        editable(view)
        await rl.lock_view(session, view)
        await rl.list_of_view(session, view, list_id)
        rl.refuse_base_list(view, list_id, "delete")
        services = request.app.state.services
        await rl.refuse_when_used(session, services, view, list_id)
        await _delete(session, services, view, list_id)


async def _delete(session: Any, services: Any, view: views.View, list_id: uuid.UUID) -> None:
    await services.lists.call("DELETE", f"/lists/{list_id}", timeout=120.0)
    await session.execute(
        view_lists.delete().where(view_lists.c.view_id == view.id, view_lists.c.list_id == list_id)
    )


@router.post(
    "/{list_id}/copy",
    status_code=status.HTTP_201_CREATED,
    responses={
        **ANSWERS,
        409: {
            "description": "the name is taken in the target view, or (moving) the list is "
            "still used or is the base list"
        },
        422: {
            "description": "the filter names a list of this view, or reads what the target "
            "view's form does not show (the path is named)"
        },
    },
)
async def copy_list(
    view_id: uuid.UUID, list_id: uuid.UUID, body: CopyInput, user: Manager, request: Request
) -> views.ListRef:
    """Copy (or move) a list to another view: its filter runs anew over that view's
    relations. Edit rights are needed in both views."""
    async with views_changing(request) as session:
        source = await views.access(session, user, view_id)
        target = await views.access(session, user, body.view_id)
        editable(source)
        editable(target)
        for view in sorted((source, target), key=lambda v: v.id):  # one order: no deadlock
            await rl.lock_view(session, view)
        ref = await rl.list_of_view(session, source, list_id)
        rl.refuse_base_list(source, list_id, "copy or move")
        name = body.name or ref.name
        await rl.check_name_free(session, target, name, loc=("body", "name"))
        services = request.app.state.services
        found = (await services.lists.call("GET", f"/lists/{list_id}")).json()
        node = rl.own_filter(source, found["filter"])
        rl.check_filter(
            await views.view_lists_of(session, target.id), target, node, loc=("list", "filter")
        )
        if body.move:
            await rl.refuse_when_used(session, services, source, list_id)
        copied = await views.add_list(session, services, target, name, node)
        if body.move:
            await _delete(session, services, source, list_id)
        return copied
