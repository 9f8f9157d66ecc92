"""Relation list definitions: create, change and delete, each followed by its evaluation."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common import filters
from relata_common.errors import Conflict, InvalidInput, NotFound
from relata_common.events import (
    LISTS_TOPIC,
    ListDefinitionPayload,
    ListEventType,
)
from relata_common.fields import FieldSpec
from relata_common.filters import NODE, referenced_lists
from relata_common.outbox import OutgoingEvent
from relata_common.versions import check_version
from relata_lists import clock
from relata_lists.compiler import Compiler, aspects, is_relative
from relata_lists.membership import (
    PUBLISHER,
    Change,
    ListDef,
    evaluate_fully,
    record_changes,
)
from relata_lists.models import lists, memberships, outbox
from relata_lists.readmodel import Cause


class ListInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    view_id: str | None = Field(default=None, max_length=200)
    filter: dict[str, Any] = Field(
        description="a filter tree: all/any/not over criteria",
        examples=[
            {"all": [{"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"}]}
        ],
    )


class ListOut(BaseModel):
    list_id: uuid.UUID
    name: str
    view_id: str | None
    filter: dict[str, Any]
    version: int
    relative: bool
    member_count: int


def parse_filter(
    raw: Any,
    *,
    custom: dict[str, FieldSpec],
    known_lists: set[uuid.UUID],
    max_depth: int,
    max_nodes: int,
    loc: tuple[str | int, ...] = ("body", "filter"),
) -> Any:
    """A validated filter tree, or 422 naming the path of every bad node."""
    return filters.parse_filter(
        raw,
        custom=custom,
        known_lists=known_lists,
        max_depth=max_depth,
        max_nodes=max_nodes,
        loc=loc,
    )


async def known_list_ids(session: AsyncSession) -> set[uuid.UUID]:
    return set((await session.execute(select(lists.c.list_id))).scalars())


async def _dependency_graph(session: AsyncSession) -> dict[uuid.UUID, set[uuid.UUID]]:
    rows = await session.execute(select(lists.c.list_id, lists.c.depends_on))
    return {row.list_id: set(row.depends_on) for row in rows}


def find_cycle(graph: dict[uuid.UUID, set[uuid.UUID]], start: uuid.UUID) -> list[uuid.UUID] | None:
    """A path from ``start`` back to itself through list references, if there is one."""
    stack: list[tuple[uuid.UUID, list[uuid.UUID]]] = [(start, [start])]
    seen: set[uuid.UUID] = set()
    while stack:
        current, path = stack.pop()
        for dependency in graph.get(current, set()):
            if dependency == start:
                return [*path, start]
            if dependency not in seen:
                seen.add(dependency)
                stack.append((dependency, [*path, dependency]))
    return None


def _definition_event(
    kind: ListEventType,
    list_id: uuid.UUID,
    body: dict[str, Any],
    version: int,
    deleted: bool = False,
) -> OutgoingEvent:
    payload = ListDefinitionPayload(
        list_id=list_id,
        name=body["name"],
        view_id=body.get("view_id"),
        filter=body["filter"],
        deleted=deleted,
    )
    return PUBLISHER.event(LISTS_TOPIC, kind, list_id, payload, version=version)


async def save_list(
    session: AsyncSession,
    *,
    data: ListInput,
    custom: dict[str, FieldSpec],
    max_depth: int,
    max_nodes: int,
    list_id: uuid.UUID | None = None,
    expected_version: int | None = None,
) -> tuple[ListOut, list[Change]]:
    """Create a list (no ``list_id``) or change one, then evaluate it in full."""
    creating = list_id is None
    list_id = list_id or uuid.uuid4()
    current = None
    if not creating:
        current = (
            (
                await session.execute(
                    select(lists).where(lists.c.list_id == list_id).with_for_update()
                )
            )
            .mappings()
            .first()
        )
        if current is None:
            raise NotFound(f"relation list {list_id} does not exist")
        check_version(f"list {list_id}", current["version"], expected_version)
    known = await known_list_ids(session)
    node = parse_filter(
        data.filter, custom=custom, known_lists=known, max_depth=max_depth, max_nodes=max_nodes
    )
    depends_on = referenced_lists(node)
    if list_id in depends_on:
        raise InvalidInput.single(("body", "filter"), "a list cannot refer to itself")
    graph = await _dependency_graph(session)
    graph[list_id] = depends_on
    cycle = find_cycle(graph, list_id)
    if cycle:
        path = " -> ".join(str(i) for i in cycle)
        raise InvalidInput.single(("body", "filter"), f"lists would refer in a cycle: {path}")
    stored = NODE.dump_python(node, mode="json", by_alias=True, exclude_defaults=True)
    values = {
        "name": data.name,
        "view_id": data.view_id,
        "filter": stored,
        "aspects": sorted(aspects(node, custom)),
        "relative": is_relative(node),
        "depends_on": sorted(depends_on),
    }
    version = 1 if current is None else current["version"] + 1
    if creating:
        await session.execute(lists.insert().values(list_id=list_id, version=version, **values))
    else:
        await session.execute(
            lists.update()
            .where(lists.c.list_id == list_id)
            .values(version=version, updated_at=func.now(), **values)
        )
    kind = ListEventType.DEFINED if creating else ListEventType.CHANGED
    await outbox.add(
        session, LISTS_TOPIC, _definition_event(kind, list_id, values, version).envelope
    )
    item = ListDef(
        list_id,
        data.name,
        node,
        frozenset(values["aspects"]),
        frozenset(depends_on),
        values["relative"],
    )
    changes = await evaluate_fully(
        session, item, today=clock.today(), custom=custom, cause=Cause(None, kind.value)
    )
    return await get_list(session, list_id), changes


async def delete_list(session: AsyncSession, *, list_id: uuid.UUID) -> list[Change]:
    """Delete a list: its members leave it (announced), then the definition goes."""
    row = (
        (await session.execute(select(lists).where(lists.c.list_id == list_id).with_for_update()))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"relation list {list_id} does not exist")
    users = [other for other, deps in (await _dependency_graph(session)).items() if list_id in deps]
    if users:
        raise Conflict(
            "other lists refer to this list", referring_lists=[str(u) for u in sorted(users)]
        )
    removed = await session.execute(
        memberships.delete()
        .where(memberships.c.list_id == list_id)
        .returning(memberships.c.relation_id)
    )
    cause = Cause(None, ListEventType.DELETED.value)
    removed_ids: list[uuid.UUID] = list(removed.scalars())
    changes = [Change(list_id, rid, False, cause) for rid in removed_ids]
    await record_changes(session, changes, Compiler(clock.today(), {}), {})
    await session.execute(lists.delete().where(lists.c.list_id == list_id))
    event = _definition_event(ListEventType.DELETED, list_id, dict(row), row["version"] + 1, True)
    await outbox.add(session, LISTS_TOPIC, event.envelope)
    return changes


async def require_list(session: AsyncSession, list_id: uuid.UUID) -> None:
    """404 unless the list exists: one key lookup, where ``get_list`` also counts the members
    (a million for a view's base list at scale)."""
    found = await session.scalar(select(lists.c.list_id).where(lists.c.list_id == list_id))
    if found is None:
        raise NotFound(f"relation list {list_id} does not exist")


async def get_list(session: AsyncSession, list_id: uuid.UUID) -> ListOut:
    row = (
        (await session.execute(select(lists).where(lists.c.list_id == list_id))).mappings().first()
    )
    if row is None:
        raise NotFound(f"relation list {list_id} does not exist")
    count = await session.scalar(
        select(func.count()).select_from(memberships).where(memberships.c.list_id == list_id)
    )
    return ListOut(
        list_id=row["list_id"],
        name=row["name"],
        view_id=row["view_id"],
        filter=row["filter"],
        version=row["version"],
        relative=row["relative"],
        member_count=int(count or 0),
    )


async def all_lists(session: AsyncSession, view_id: str | None) -> list[ListOut]:
    statement = select(lists.c.list_id).order_by(lists.c.name, lists.c.list_id)
    if view_id is not None:
        statement = statement.where(lists.c.view_id == view_id)
    list_ids: list[uuid.UUID] = list((await session.execute(statement)).scalars())
    return [await get_list(session, list_id) for list_id in list_ids]
