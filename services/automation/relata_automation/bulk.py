"""Bulk edits: one change applied to every relation of a relation list or a selection.

A dry run shows exactly which relations change and from what to what, and changes nothing.
The source may be narrowed to the relations also in another list (``within_list``: the gateway
passes a view's own relations, so a selection's members who left the view are not touched).
The real run goes through the relations service relation by relation (PATCH with If-Match on
the version just read, so a relation changed in between is reported, not overwritten) and is
recorded as one batch with each relation's previous values. Undoing the batch puts those back
the same way; a relation changed since the batch is reported as a conflict and left as it is.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_automation import publishing
from relata_automation.clients import Services
from relata_common.db import transaction
from relata_common.errors import Conflict, NotFound
from relata_common.events import Actor, AutomationEventType, BulkEditPayload
from relata_common.fields import field_patch, is_stored_field, stored_value
from relata_common.versions import is_stale

CONCURRENCY = 8


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["list", "selection"]
    id: uuid.UUID
    within_list: uuid.UUID | None = Field(
        default=None, description="only relations also in this list (a view's own relations)"
    )


MAX_FIELDS = 50


class Change(BaseModel):
    """``set_field`` (field, value), ``clear_field`` (field), ``set_fields`` (fields: several
    at once, null clears one), ``add_function`` (role, object_id, start_date) or ``archive``
    (nothing else)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["set_field", "clear_field", "set_fields", "add_function", "archive"]
    field: str | None = Field(default=None, description="a standard field or custom.<key>")
    value: Any = None
    fields: dict[str, Any] | None = Field(
        default=None,
        max_length=MAX_FIELDS,
        description="set_fields: field (standard or custom.<key>) to new value; null clears",
    )
    role: str | None = Field(default=None, max_length=100)
    object_id: uuid.UUID | None = None
    start_date: date | None = Field(default=None, description="default: the day it runs")

    @model_validator(mode="after")
    def _complete(self) -> Change:
        if self.kind in ("set_field", "clear_field"):
            if not self.field:
                raise ValueError(f"{self.kind} needs field")
            if not is_stored_field(self.field):
                raise ValueError(f"no field {self.field!r}: a standard field or custom.<key>")
            if self.kind == "set_field" and self.value is None:
                raise ValueError("set_field needs a value (use clear_field to empty a field)")
        elif self.kind == "set_fields":
            if self.field or self.value is not None or self.role or self.object_id:
                raise ValueError("set_fields takes fields only (no field, value, role, object_id)")
            if not self.fields:
                raise ValueError("set_fields needs fields")
            unknown = [name for name in self.fields if not is_stored_field(name)]
            if unknown:
                raise ValueError(f"no fields {unknown}: a standard field or custom.<key>")
        elif self.kind == "archive":
            if self.field or self.value is not None or self.role or self.object_id:
                raise ValueError("archive takes no field, value, role or object_id")
        elif not self.role or self.object_id is None:
            raise ValueError("add_function needs role and object_id")
        if self.fields is not None and self.kind != "set_fields":
            raise ValueError("only set_fields takes fields")
        return self


class BulkEditInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Source
    change: Change
    dry_run: bool = Field(default=True, description="show what would change; change nothing")
    background: bool = Field(
        default=False,
        description="answer at once (202) with the batch running; poll it for its progress",
    )


class PlannedChange(BaseModel):
    relation_id: uuid.UUID
    version: int
    outcome: Literal["changes", "unchanged", "skipped"]
    before: Any = None
    after: Any = None
    reason: str | None = None


class DryRun(BaseModel):
    source: Source
    change: Change
    relations: int
    changes: int
    unchanged: int
    skipped: int
    planned: list[PlannedChange]


class BulkEditOut(BaseModel):
    batch_id: uuid.UUID
    source: dict[str, Any]
    change: dict[str, Any]
    actor_kind: str
    actor_id: str | None
    created_at: datetime
    status: Literal["running", "done", "interrupted"]
    total: int | None = Field(description="relations the batch goes through")
    finished_at: datetime | None
    changed: int
    unchanged: int
    failed: int
    undone_at: datetime | None
    undone_by: str | None


class BulkItem(BaseModel):
    relation_id: uuid.UUID
    outcome: str
    before: Any
    after: Any
    version_after: int | None
    function_id: uuid.UUID | None
    error: str | None
    undo_outcome: str | None


class UndoReport(BaseModel):
    batch: BulkEditOut
    restored: int
    conflicts: list[uuid.UUID] = Field(description="changed since the batch: left as they are")
    failed: int


# --- planning (pure) ---------------------------------------------------------------------------


ACTIVE, ARCHIVED = {"status": "active"}, {"status": "archived"}


def plan(change: Change, state: dict[str, Any]) -> PlannedChange:
    """What the change would do to one relation."""
    base = {"relation_id": state["relation_id"], "version": state["version"]}
    status = state.get("status", "active")
    if change.kind == "archive" and status == "archived":
        return PlannedChange(**base, outcome="unchanged", before=ARCHIVED, after=ARCHIVED)
    if status != "active":
        return PlannedChange(**base, outcome="skipped", reason=f"relation is {state['status']}")
    if change.kind == "add_function":
        held = [
            f
            for f in state.get("functions") or []
            if f["role"] == change.role
            and f["object_id"] == str(change.object_id)
            and f.get("end_date") is None
        ]
        function = {"role": change.role, "object_id": str(change.object_id)}
        if held:
            return PlannedChange(**base, outcome="unchanged", reason="holds this function")
        return PlannedChange(**base, outcome="changes", before=None, after=function)
    if change.kind == "archive":
        return PlannedChange(**base, outcome="changes", before=ACTIVE, after=ARCHIVED)
    if change.kind == "set_fields":
        return _plan_fields(change.fields or {}, state, base)
    assert change.field is not None
    before = stored_value(state["fields"], change.field)
    after = change.value if change.kind == "set_field" else None
    if _same(before, after):
        return PlannedChange(**base, outcome="unchanged", before=before, after=after)
    return PlannedChange(**base, outcome="changes", before=before, after=after)


def _same(before: Any, after: Any) -> bool:
    """Whether writing ``after`` changes nothing (clearing an empty field included)."""
    return before == after or (after is None and before in (None, "", [], {}))


def _plan_fields(
    fields: dict[str, Any], state: dict[str, Any], base: dict[str, Any]
) -> PlannedChange:
    """Several fields at once: before and after hold only the fields that would change."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in fields.items():
        old = stored_value(state["fields"], name)
        if not _same(old, value):
            before[name], after[name] = old, value
    if not after:
        return PlannedChange(**base, outcome="unchanged")
    return PlannedChange(**base, outcome="changes", before=before, after=after)


def fields_patch(values: dict[str, Any]) -> dict[str, Any]:
    """One PATCH body for several fields (custom fields merged under ``custom``)."""
    patch: dict[str, Any] = {}
    for name, value in values.items():
        for key, part in field_patch(name, value).items():
            if key == "custom":
                patch.setdefault("custom", {}).update(part)
            else:
                patch[key] = part
    return patch


async def dry_run(services: Services, body: BulkEditInput) -> DryRun:
    planned = await _plan_all(services, body)
    count = {kind: sum(p.outcome == kind for p in planned) for kind in ("changes", "unchanged")}
    return DryRun(
        source=body.source,
        change=body.change,
        relations=len(planned),
        changes=count["changes"],
        unchanged=count["unchanged"],
        skipped=len(planned) - count["changes"] - count["unchanged"],
        planned=planned,
    )


async def _relation_ids(services: Services, source: Source) -> list[uuid.UUID]:
    if source.kind == "list":
        return await services.list_member_ids(source.id, within=source.within_list)
    ids = await services.selection_member_ids(source.id)
    if ids is None:
        raise NotFound(f"selection {source.id} does not exist")
    if source.within_list is None:
        return ids
    shown = set(await services.list_member_ids(source.within_list))
    return [i for i in ids if i in shown]


async def _plan_all(services: Services, body: BulkEditInput) -> list[PlannedChange]:
    ids = await _relation_ids(services, body.source)
    states = await services.lookup(ids)
    return [plan(body.change, states[i]) for i in ids if i in states]


# --- running and undoing -----------------------------------------------------------------------


async def _apply_one(
    services: Services, change: Change, planned: PlannedChange, actor: Actor
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "relation_id": planned.relation_id,
        "before": None,
        "after": None,
        "version_after": None,
        "function_id": None,
        "error": None,
    }
    if planned.outcome != "changes":
        return {**item, "outcome": "unchanged"}
    if change.kind == "add_function":
        body = {
            "role": change.role,
            "object_id": str(change.object_id),
            "start_date": (change.start_date or datetime.now(UTC).date()).isoformat(),
        }
        answer = await services.call(
            "relations",
            "POST",
            f"/relations/{planned.relation_id}/functions",
            json=body,
            actor=actor,
        )
        if not answer.ok:
            return {**item, "outcome": "failed", "error": answer.error()}
        after = await services.relation(planned.relation_id)
        return {
            **item,
            "outcome": "changed",
            "after": body,
            "function_id": uuid.UUID(answer.body["function_id"]),
            "version_after": after.version,
        }
    if change.kind == "archive":
        answer = await services.set_archived(
            planned.relation_id, True, version=planned.version, actor=actor
        )
        if not answer.ok:
            return {**item, "outcome": "failed", "error": answer.error()}
        return {
            **item,
            "outcome": "changed",
            "before": ACTIVE,
            "after": ARCHIVED,
            "version_after": answer.version,
        }
    if change.kind == "set_fields":
        restore, patch = fields_patch(planned.before), fields_patch(planned.after)
    else:
        assert change.field is not None
        restore = field_patch(change.field, planned.before)
        patch = field_patch(change.field, planned.after)
    answer = await services.patch_relation(
        planned.relation_id, patch, version=planned.version, actor=actor
    )
    if not answer.ok:
        return {**item, "outcome": "failed", "error": answer.error()}
    return {
        **item,
        "outcome": "changed",
        "before": restore,
        "after": patch,
        "version_after": answer.version,
    }


def _who(actor: Actor) -> str:
    return f"{actor.kind.value}:{actor.id}" if actor.id else actor.kind.value


CHUNK = 50
"""Relations applied (and their items recorded, the counts raised) per step: the batch's
progress as a poller sees it."""


async def begin(
    sessions: async_sessionmaker[AsyncSession],
    services: Services,
    body: BulkEditInput,
    actor: Actor,
) -> tuple[BulkEditOut, list[PlannedChange]]:
    """Plan the change and record the batch as running; nothing is changed yet."""
    planned = await _plan_all(services, body)
    batch_id = uuid.uuid4()
    async with transaction(sessions) as session:
        await session.execute(
            text(
                "INSERT INTO bulk_edits (batch_id, source, change, actor_kind, actor_id, status,"
                " total) VALUES (:b, CAST(:source AS jsonb), CAST(:change AS jsonb), :kind, :id,"
                " 'running', :total)"
            ),
            {
                "b": batch_id,
                "source": _json(body.source.model_dump(mode="json")),
                "change": _json(body.change.model_dump(mode="json")),
                "kind": actor.kind.value,
                "id": actor.id,
                "total": len(planned),
            },
        )
        return await get_batch(session, batch_id), planned


async def apply(
    sessions: async_sessionmaker[AsyncSession],
    services: Services,
    batch: BulkEditOut,
    change: Change,
    planned: list[PlannedChange],
    actor: Actor,
) -> BulkEditOut:
    """Carry out a begun batch, a chunk at a time (each chunk's items and counts committed, so
    the batch shows its progress), then mark it done and announce it."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(p: PlannedChange) -> dict[str, Any]:
        async with limit:
            return await _apply_one(services, change, p, actor)

    counts = dict.fromkeys(("changed", "unchanged", "failed"), 0)
    for start in range(0, len(planned), CHUNK):
        items = await asyncio.gather(*(one(p) for p in planned[start : start + CHUNK]))
        step = {k: sum(i["outcome"] == k for i in items) for k in counts}
        counts = {k: counts[k] + step[k] for k in counts}
        async with transaction(sessions) as session:
            await _record(session, batch.batch_id, items, step)
    async with transaction(sessions) as session:
        await session.execute(
            text("UPDATE bulk_edits SET status = 'done', finished_at = now() WHERE batch_id = :b"),
            {"b": batch.batch_id},
        )
        out = await get_batch(session, batch.batch_id)
        await publishing.announce(
            session,
            event_type=AutomationEventType.BULK_EDIT_APPLIED,
            subject_id=batch.batch_id,
            payload=BulkEditPayload(
                batch_id=batch.batch_id, source=out.source, change=out.change, **counts
            ),
            actor=actor,
        )
    return out


async def _record(
    session: AsyncSession, batch_id: uuid.UUID, items: list[dict[str, Any]], step: dict[str, int]
) -> None:
    await session.execute(
        text(
            "INSERT INTO bulk_edit_items (batch_id, relation_id, outcome, before, after,"
            " version_after, function_id, error) VALUES (:b, :relation_id, :outcome,"
            " CAST(:before AS jsonb), CAST(:after AS jsonb), :version_after,"
            " :function_id, :error)"
        ),
        [
            {**i, "b": batch_id, "before": _json(i["before"]), "after": _json(i["after"])}
            for i in items
        ],
    )
    await session.execute(
        text(
            "UPDATE bulk_edits SET changed = changed + :changed,"
            " unchanged = unchanged + :unchanged, failed = failed + :failed WHERE batch_id = :b"
        ),
        {"b": batch_id, **step},
    )


async def interrupted(sessions: async_sessionmaker[AsyncSession], batch_id: uuid.UUID) -> None:
    """Mark a batch whose run stopped half-way: what it did stays recorded (and undoable)."""
    async with transaction(sessions) as session:
        await session.execute(
            text(
                "UPDATE bulk_edits SET status = 'interrupted', finished_at = now()"
                " WHERE batch_id = :b AND status = 'running'"
            ),
            {"b": batch_id},
        )


async def run(
    sessions: async_sessionmaker[AsyncSession],
    services: Services,
    body: BulkEditInput,
    actor: Actor,
) -> BulkEditOut:
    """Apply the change to every relation of the source now, recorded as one batch."""
    batch, planned = await begin(sessions, services, body, actor)
    return await apply(sessions, services, batch, body.change, planned, actor)


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


async def get_batch(
    session: AsyncSession, batch_id: uuid.UUID, *, lock: bool = False
) -> BulkEditOut:
    row = (
        (
            await session.execute(
                text(
                    "SELECT * FROM bulk_edits WHERE batch_id = :b" + (" FOR UPDATE" if lock else "")
                ),
                {"b": batch_id},
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"bulk edit {batch_id} does not exist")
    return BulkEditOut.model_validate(dict(row))


async def items(
    session: AsyncSession, batch_id: uuid.UUID, *, limit: int, after: uuid.UUID | None
) -> list[BulkItem]:
    await get_batch(session, batch_id)
    rows = await session.execute(
        text(
            "SELECT * FROM bulk_edit_items WHERE batch_id = :b"
            " AND (CAST(:after AS uuid) IS NULL OR relation_id > :after)"
            " ORDER BY relation_id LIMIT :limit"
        ),
        {"b": batch_id, "after": after, "limit": limit},
    )
    return [BulkItem.model_validate(dict(r)) for r in rows.mappings()]


async def _undo_one(services: Services, item: BulkItem, actor: Actor) -> str:
    current = await services.relation(item.relation_id)
    version = item.version_after  # recorded for every changed item
    if not current.ok or version is None or current.version != version:
        return "conflict"  # changed since the batch (or gone): leave it
    if item.function_id is not None:
        answer = await services.call(
            "relations", "DELETE", f"/functions/{item.function_id}", actor=actor
        )
    elif item.after == ARCHIVED:
        answer = await services.set_archived(item.relation_id, False, version=version, actor=actor)
    else:
        answer = await services.patch_relation(
            item.relation_id, item.before or {}, version=version, actor=actor
        )
    if is_stale(answer.status):
        return "conflict"
    return "restored" if answer.ok else "failed"


async def undo(
    sessions: async_sessionmaker[AsyncSession],
    services: Services,
    batch_id: uuid.UUID,
    actor: Actor,
) -> UndoReport:
    """Put back every value the batch changed, unless the relation changed since."""
    async with transaction(sessions) as session:
        batch = await get_batch(session, batch_id, lock=True)
        if batch.undone_at is not None:
            raise Conflict(f"bulk edit {batch_id} was undone already")
        if batch.status == "running":
            raise Conflict(f"bulk edit {batch_id} is still running: undo it once it is done")
        # Claimed first, so two undo calls cannot both run.
        await session.execute(
            text("UPDATE bulk_edits SET undone_at = now(), undone_by = :by WHERE batch_id = :b"),
            {"by": _who(actor), "b": batch_id},
        )
        changed = [
            i
            for i in await items(session, batch_id, limit=10_000_000, after=None)
            if i.outcome == "changed"
        ]
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(item: BulkItem) -> tuple[uuid.UUID, str]:
        async with limit:
            return item.relation_id, await _undo_one(services, item, actor)

    outcomes = dict(await asyncio.gather(*(one(i) for i in changed)))
    async with transaction(sessions) as session:
        for relation_id, outcome in outcomes.items():
            await session.execute(
                text(
                    "UPDATE bulk_edit_items SET undo_outcome = :o"
                    " WHERE batch_id = :b AND relation_id = :r"
                ),
                {"o": outcome, "b": batch_id, "r": relation_id},
            )
        out = await get_batch(session, batch_id)
        conflicts = sorted(r for r, o in outcomes.items() if o == "conflict")
        restored = sum(o == "restored" for o in outcomes.values())
        failed = sum(o == "failed" for o in outcomes.values())
        await publishing.announce(
            session,
            event_type=AutomationEventType.BULK_EDIT_UNDONE,
            subject_id=batch_id,
            payload=BulkEditPayload(
                batch_id=batch_id,
                source=out.source,
                change=out.change,
                changed=restored,
                unchanged=0,
                failed=failed,
                conflicts=len(conflicts),
            ),
            actor=actor,
        )
    return UndoReport(batch=out, restored=restored, conflicts=conflicts, failed=failed)
