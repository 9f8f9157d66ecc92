"""Relation lists under a view, as the gateway keeps them: a name unique within the view, a
filter that reads only what the view's form shows (always narrowed to the view's relations),
what still uses a list before it may go, and why a relation entered or left one.

The lists service holds the definitions and memberships; the gateway's ``view_lists`` table
says which view a list belongs to and its name there.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import Conflict, FieldError, InvalidInput, NotFound
from relata_common.fields import lookup
from relata_common.filters import criteria
from relata_gateway.clients import Services
from relata_gateway.forms import filter_fields_outside
from relata_gateway.models import activity, view_lists, view_selections, views
from relata_gateway.views import ALL_RELATIONS, ListRef, View, view_lists_of, within_view

LOCAL_ZONE = ZoneInfo("Europe/Amsterdam")
"""A date asked for ("members on 1 March") is a day in the organisation's time zone."""


# --- the view's lists --------------------------------------------------------------------------


async def lock_view(session: AsyncSession, view: View) -> None:
    """Serialise changes to one view's lists (names stay unique within the view)."""
    await session.execute(select(views.c.id).where(views.c.id == view.id).with_for_update())


async def list_of_view(session: AsyncSession, view: View, list_id: uuid.UUID) -> ListRef:
    """One of the view's lists, or 404 (a list of another view is not told about)."""
    row = (
        await session.execute(
            select(view_lists.c.name).where(
                view_lists.c.view_id == view.id, view_lists.c.list_id == list_id
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"relation list {list_id} does not exist in this view")
    return ListRef(list_id=list_id, name=row.name)


async def check_name_free(
    session: AsyncSession, view: View, name: str, loc: tuple[str, ...] = ("body", "name")
) -> None:
    """409 when another list of the view has this name."""
    taken = await session.scalar(
        select(view_lists.c.list_id).where(
            view_lists.c.view_id == view.id, view_lists.c.name == name
        )
    )
    if taken is not None:
        raise Conflict(f"this view has a list named {name!r}", field=list(loc))


def refuse_base_list(view: View, list_id: uuid.UUID, doing: str) -> None:
    """The view's own 'All relations' list is the view's base filter: changed with the view."""
    if list_id == view.base_list_id:
        raise Conflict(
            f"cannot {doing} {ALL_RELATIONS!r}: it is the view's base list (an administrator "
            "changes the view's base filter)"
        )


def check_filter(
    own: list[ListRef], view: View, node: dict[str, Any], loc: tuple[str, ...] = ("body", "filter")
) -> None:
    """422 naming every criterion that reads what the form does not show, or a list that is
    not one of the view's own."""
    own_lists = frozenset(str(ref.list_id) for ref in own)
    outside = filter_fields_outside(view.form, node, own_lists)
    if outside:
        raise InvalidInput(
            [
                FieldError(
                    [*loc, *path],
                    "reads data this view's form does not show, or a list of another view",
                    "forbidden_field",
                )
                for path in outside
            ]
        )


def own_filter(view: View, stored: dict[str, Any]) -> dict[str, Any]:
    """The filter a user gave, without the narrowing to the view that the gateway added."""
    parts = stored.get("all")
    base = {"kind": "in_list", "list_id": str(view.base_list_id)}
    if not isinstance(parts, list) or not parts or parts[0] != base:
        return stored
    rest = parts[1:]
    return rest[0] if len(rest) == 1 else {"all": rest}


async def change_definition(
    services: Services,
    view: View,
    list_id: uuid.UUID,
    *,
    name: str,
    node: dict[str, Any] | None,
    if_match: int | None,
) -> dict[str, Any]:
    """Rename a list or change its filter in the lists service, which re-evaluates it (who
    enters and leaves is announced there). ``if_match`` defaults to the current version."""
    current = (await services.lists.call("GET", f"/lists/{list_id}")).json()
    body = {
        "name": f"{view.name}: {name}",
        "view_id": str(view.id),
        "filter": current["filter"] if node is None else within_view(view, node),
    }
    version = current["version"] if if_match is None else if_match
    changed = await services.lists.call(
        "PUT", f"/lists/{list_id}", json=body, if_match=version, timeout=120.0
    )
    answer: dict[str, Any] = changed.json()
    return answer


# --- what uses a list --------------------------------------------------------------------------


class ListUser(BaseModel):
    """Something that uses a list, named as its owner names it."""

    id: uuid.UUID
    name: str


class UsedBy(BaseModel):
    rules: list[ListUser] = Field(default_factory=list, description="adjustment rules")
    merge_rules: list[ListUser] = Field(default_factory=list)
    properties: list[ListUser] = Field(default_factory=list, description="generated properties")
    selections: list[ListUser] = Field(default_factory=list)
    lists: list[ListUser] = Field(default_factory=list, description="lists whose filter reads it")

    def named(self) -> list[str]:
        kinds = (
            ("rule", self.rules),
            ("merge rule", self.merge_rules),
            ("generated property", self.properties),
            ("selection", self.selections),
            ("list", self.lists),
        )
        return [f"{kind} {user.name!r}" for kind, found in kinds for user in found]


def reads_list(node: Any, list_id: uuid.UUID) -> bool:
    """Whether a stored filter reads membership of the list (in_list, or a function at one
    of its members)."""
    wanted = str(list_id)
    for _, item in criteria(node):
        named = (item.get("list_id"), item.get("at_list")) if isinstance(item, dict) else ()
        if wanted in (str(n) for n in named if n is not None):
            return True
    return False


async def _selections_using(session: AsyncSession, list_id: uuid.UUID) -> list[ListUser]:
    rows = await session.execute(
        select(view_selections.c.selection_id, view_selections.c.name)
        .where(view_selections.c.list_id == list_id)
        .order_by(view_selections.c.name)
    )
    return [ListUser(id=row.selection_id, name=row.name) for row in rows]


async def _lists_using(
    services: Services, view: View, own: list[ListRef], list_id: uuid.UUID
) -> list[ListUser]:
    """The view's other lists whose filter reads this one (filters name only own lists)."""
    names = {ref.list_id: ref.name for ref in own}
    found = (await services.lists.call("GET", "/lists", params={"view_id": str(view.id)})).json()
    return [
        ListUser(id=uuid.UUID(item["list_id"]), name=names.get(uuid.UUID(item["list_id"]), "?"))
        for item in found
        if uuid.UUID(item["list_id"]) != list_id and reads_list(item["filter"], list_id)
    ]


async def used_by(
    session: AsyncSession, services: Services, view: View, list_id: uuid.UUID
) -> UsedBy:
    """Everything that would point at nothing if the list went."""
    automation = (
        await services.automation.call("GET", "/references", params={"list_id": str(list_id)})
    ).json()

    def refs(kind: str) -> list[ListUser]:
        return [ListUser(id=ref["id"], name=ref["name"]) for ref in automation.get(kind, [])]

    own = await view_lists_of(session, view.id)
    return UsedBy(
        rules=refs("rules"),
        merge_rules=refs("merge_rules"),
        properties=refs("properties"),
        selections=await _selections_using(session, list_id),
        lists=await _lists_using(services, view, own, list_id),
    )


async def refuse_when_used(
    session: AsyncSession, services: Services, view: View, list_id: uuid.UUID
) -> None:
    """409 naming what still uses the list."""
    found = await used_by(session, services, view, list_id)
    named = found.named()
    if named:
        raise Conflict(
            "the list is still used by " + ", ".join(named), used_by=found.model_dump(mode="json")
        )


# --- members on a date and why -----------------------------------------------------------------


def end_of_day(day: date) -> datetime:
    """The last moment of a day in :data:`LOCAL_ZONE` (who was in the list that evening)."""
    return datetime.combine(day, time.max, tzinfo=LOCAL_ZONE)


EXPLANATIONS = {
    "list.defined": "the list was created",
    "list.changed": "the list's filter changed",
    "list.deleted": "the list was deleted",
    "relation.created": "the relation was created",
    "relation.updated": "the relation's data changed",
    "relation.merged": "the relation was merged",
    "relation.restored": "the relation was restored",
    "relation.erased": "the relation was erased",
    "relation.archived": "the relation was archived",
    "contactmoment.logged": "a contact moment was logged",
    "contactmoment.changed": "a contact moment changed",
    "contactmoment.deleted": "a contact moment was deleted",
    "schedule.daily": "the daily re-evaluation (dates in the filter moved on)",
    "evaluation.requested": "the list was re-evaluated",
    "membership.entered": "the relation entered a list this list reads",
    "membership.left": "the relation left a list this list reads",
}


class WhyEntry(BaseModel):
    change: str = Field(description="entered or left", examples=["entered"])
    at: datetime
    cause: str = Field(description="the event type that caused it", examples=["relation.updated"])
    explanation: str = Field(examples=["the relation's data changed"])
    criteria: list[str] = Field(
        description="the criteria that then matched (entered) or failed (left), as far as the "
        "view's form shows them",
        examples=[["city equals 'Utrecht'"]],
    )
    changed_fields: list[str] = Field(
        description="the form's fields that change altered, when the cause was an edit",
        examples=[["addresses"]],
    )


_FIELD_WORD = re.compile(r"^([a-z_]+(?:\.[A-Za-z0-9_-]+)?) ")
_LIST_ID = re.compile(r"member of list ([0-9a-f-]{36})")


def shown_criterion(view: View, text: str, names: dict[str, str]) -> str | None:
    """A recorded criterion as the view may show it: lists by their name here, and nothing
    about a field the form does not show (a form can be narrowed after a list was made)."""
    if text.startswith("not (") and text.endswith(")"):
        inner = shown_criterion(view, text[5:-1], names)
        return None if inner is None else f"not ({inner})"
    head = _FIELD_WORD.match(text)
    if head:
        spec = lookup(head.group(1))
        source = spec.source if spec is not None else head.group(1)
        known = spec is not None or head.group(1).startswith("custom.")
        if known and head.group(1) != "relation_type" and not view.form.shows(source):
            return None
    listed = _LIST_ID.search(text)
    if listed:
        name = names.get(listed.group(1))
        if name is None:
            return None
        text = text.replace(listed.group(1), repr(name))
    return text


async def changed_fields_of(
    session: AsyncSession, view: View, event_ids: list[uuid.UUID]
) -> dict[str, list[str]]:
    """Per relation event: the fields it changed that the view's form shows."""
    if not event_ids:
        return {}
    rows = await session.execute(
        select(activity.c.event_id, activity.c.changed_fields).where(
            activity.c.event_id.in_(event_ids)
        )
    )
    return {
        str(row.event_id): [f for f in row.changed_fields if view.form.shows(f)] for row in rows
    }


def why_entry(
    view: View,
    list_id: uuid.UUID,
    record: dict[str, Any],
    names: dict[str, str],
    changed: dict[str, list[str]],
) -> WhyEntry:
    cause = record.get("cause", {})
    event_type = str(cause.get("event_type", "unknown"))
    criteria: list[str] = []
    # The base list's criteria are the view's base filter, which may read any field.
    if list_id != view.base_list_id:
        for text in cause.get("criteria", []):
            shown = shown_criterion(view, str(text), names)
            if shown is not None:
                criteria.append(shown)
    return WhyEntry(
        change=record["change"],
        at=record["at"],
        cause=event_type,
        explanation=EXPLANATIONS.get(event_type, event_type.replace(".", " ")),
        criteria=criteria,
        changed_fields=changed.get(str(cause.get("event_id")), []),
    )
