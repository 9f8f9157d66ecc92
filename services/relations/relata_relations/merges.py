"""Merging two relations into one, and undoing a merge.

The survivor takes the chosen values, the merged relation's functions and custom values; the
merged relation stays as a tombstone pointing at the survivor. A snapshot of both, taken before
the merge, lets the merge be undone exactly as long as the survivor has not changed since.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import Conflict, InvalidInput, NotFound
from relata_common.events import Actor, RelationEventType, RelationState, RelationStatus
from relata_common.versions import check_version
from relata_relations.merging import LIST_FIELDS, Choice, decide, default_choice, differences
from relata_relations.models import functions, merges, relations
from relata_relations.relations import (
    RelationRecord,
    bump_version,
    change_event,
    functions_of,
    get_active_record,
    get_record,
    record_changes,
    save_fields,
    state_of,
)
from relata_relations.validation import diff_fields


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    survivor_id: uuid.UUID
    merged_id: uuid.UUID
    choices: dict[str, Choice] = Field(
        default_factory=dict,
        description="per field (custom fields as custom.<key>): which side's value wins",
    )
    survivor_version: int | None = Field(default=None, description="refuse if no longer current")
    merged_version: int | None = None


class MergeOut(BaseModel):
    merge_id: uuid.UUID
    survivor_id: uuid.UUID
    merged_id: uuid.UUID
    decisions: dict[str, Choice]
    undone: bool
    survivor: RelationState | None = None


class FieldDifference(BaseModel):
    field: str = Field(description="a field name; custom fields as custom.<key>")
    survivor: Any = Field(description="the survivor's value")
    merged: Any = Field(description="the merged relation's value")
    default: Choice = Field(description="which value wins without a choice")
    can_keep_both: bool = Field(description="whether 'both' may be chosen (list fields)")


class MergePreview(BaseModel):
    survivor_id: uuid.UUID
    merged_id: uuid.UUID
    survivor_version: int
    merged_version: int
    differences: list[FieldDifference]


def _check_pair(survivor: RelationRecord, merged: RelationRecord) -> None:
    if survivor.relation_type != merged.relation_type:
        raise InvalidInput.single(
            ("body", "merged_id"), "a person and an organisation cannot be merged"
        )


async def preview_merge(
    session: AsyncSession, *, survivor_id: uuid.UUID, merged_id: uuid.UUID
) -> MergePreview:
    """What merging would ask: the fields that differ, with both values and the default."""
    if survivor_id == merged_id:
        raise InvalidInput.single(("query", "merged_id"), "a relation cannot merge with itself")
    survivor = await get_active_record(session, survivor_id)
    merged = await get_active_record(session, merged_id)
    _check_pair(survivor, merged)
    return MergePreview(
        survivor_id=survivor.id,
        merged_id=merged.id,
        survivor_version=survivor.version,
        merged_version=merged.version,
        differences=[
            FieldDifference(
                field=name,
                survivor=mine,
                merged=theirs,
                default=default_choice(mine),
                can_keep_both=name in LIST_FIELDS,
            )
            for name, (mine, theirs) in differences(survivor.fields, merged.fields).items()
        ],
    )


async def _lock_pair(
    session: AsyncSession, first: uuid.UUID, second: uuid.UUID
) -> tuple[RelationRecord, RelationRecord]:
    """Lock both rows in id order, so two merges of the same pair cannot deadlock."""
    locked = {}
    for relation_id in sorted([first, second]):
        locked[relation_id] = await get_record(session, relation_id, for_update=True)
    return locked[first], locked[second]


async def merge_relations(
    session: AsyncSession, *, request: MergeRequest, actor: Actor
) -> MergeOut:
    if request.survivor_id == request.merged_id:
        raise InvalidInput.single(("body", "merged_id"), "a relation cannot merge with itself")
    await _lock_pair(session, request.survivor_id, request.merged_id)
    survivor = await get_active_record(session, request.survivor_id)
    merged = await get_active_record(session, request.merged_id)
    _check_pair(survivor, merged)
    for record, expected in (
        (survivor, request.survivor_version),
        (merged, request.merged_version),
    ):
        check_version(f"relation {record.id}", record.version, expected)

    fields, decisions = decide(survivor.fields, merged.fields, request.choices)
    moved = await _repoint_functions(session, source=merged.id, target=survivor.id)
    changes = diff_fields(survivor.fields, fields)
    if any(m["side"] != "object" for m in moved):
        changes["functions"] = {"old": None, "new": [m["id"] for m in moved]}
    survivor_after = await save_fields(session, survivor, fields, changes, actor)
    merged_after = await _retire(session, merged, survivor.id)
    await _touch_counterparties(session, moved, actor)

    merge_id = uuid.uuid4()
    await session.execute(
        merges.insert().values(
            id=merge_id,
            survivor_id=survivor.id,
            merged_id=merged.id,
            decisions=decisions,
            survivor_before={"fields": survivor.fields},
            # An archived relation can be merged; undoing the merge archives it again.
            merged_before={"fields": merged.fields, "status": merged.status},
            moved_functions=moved,
            survivor_version_after=survivor_after.version,
            actor_kind=actor.kind.value,
            actor_id=actor.id,
        )
    )
    _, event = change_event(
        RelationEventType.MERGED,
        merged_after,
        {},
        actor,
        payload={
            "survivor_id": str(survivor.id),
            "merged_id": str(merged.id),
            "merge_id": str(merge_id),
            "state": merged_after.model_dump(mode="json"),
        },
    )
    history = {
        "relation_id": merged.id,
        "version": merged_after.version,
        "kind": RelationEventType.MERGED.value,
        "actor_kind": actor.kind.value,
        "actor_id": actor.id,
        "changes": {
            "status": {"old": merged.status, "new": "merged"},
            "merged_into": {"old": None, "new": str(survivor.id)},
        },
    }
    await record_changes(session, [(history, event)])
    return MergeOut(
        merge_id=merge_id,
        survivor_id=survivor.id,
        merged_id=merged.id,
        decisions=decisions,
        undone=False,
        survivor=survivor_after,
    )


async def _retire(
    session: AsyncSession, merged: RelationRecord, survivor_id: uuid.UUID
) -> RelationState:
    row = (
        (
            await session.execute(
                update(relations)
                .where(relations.c.id == merged.id)
                .values(
                    status=RelationStatus.MERGED.value,
                    merged_into=survivor_id,
                    version=relations.c.version + 1,
                    updated_at=func.now(),
                )
                .returning(relations)
            )
        )
        .mappings()
        .one()
    )
    return state_of(RelationRecord.from_row(row), [])


async def _repoint_functions(
    session: AsyncSession, *, source: uuid.UUID, target: uuid.UUID
) -> list[dict[str, Any]]:
    """Move the source's functions to the target; a link between the two is parked, not kept."""
    rows = (
        (
            await session.execute(
                select(functions).where(
                    (functions.c.subject_id == source) | (functions.c.object_id == source)
                )
            )
        )
        .mappings()
        .all()
    )
    moved: list[dict[str, Any]] = []
    for row in rows:
        other = row["object_id"] if row["subject_id"] == source else row["subject_id"]
        if other == target:
            await session.execute(functions.delete().where(functions.c.id == row["id"]))
            moved.append({"id": str(row["id"]), "side": "parked", "row": _jsonable(row)})
            continue
        side = "subject" if row["subject_id"] == source else "object"
        column = "subject_id" if side == "subject" else "object_id"
        await session.execute(
            update(functions).where(functions.c.id == row["id"]).values({column: target})
        )
        moved.append({"id": str(row["id"]), "side": side, "holder": str(row["subject_id"])})
    return moved


def _jsonable(row: Any) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "subject_id": str(row["subject_id"]),
        "object_id": str(row["object_id"]),
        "role": row["role"],
        "start_date": row["start_date"].isoformat(),
        "end_date": row["end_date"].isoformat() if row["end_date"] else None,
    }


async def _touch_counterparties(
    session: AsyncSession, moved: list[dict[str, Any]], actor: Actor
) -> None:
    """Relations holding a function at the moved relation see its object change."""
    holders = sorted({m["holder"] for m in moved if m["side"] == "object"})
    for holder in holders:
        await bump_version(
            session,
            uuid.UUID(holder),
            {"functions": {"old": None, "new": "re-pointed by a merge"}},
            actor,
        )


async def get_merge(session: AsyncSession, merge_id: uuid.UUID) -> MergeOut:
    row = (await session.execute(select(merges).where(merges.c.id == merge_id))).mappings().first()
    if row is None:
        raise NotFound(f"merge {merge_id} does not exist")
    return MergeOut(
        merge_id=row["id"],
        survivor_id=row["survivor_id"],
        merged_id=row["merged_id"],
        decisions=row["decisions"],
        undone=row["undone_at"] is not None,
    )


async def undo_merge(
    session: AsyncSession, *, merge_id: uuid.UUID, actor: Actor
) -> tuple[RelationState, RelationState]:
    """Restore both relations as they were before the merge; returns (survivor, restored)."""
    row = (
        (await session.execute(select(merges).where(merges.c.id == merge_id).with_for_update()))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"merge {merge_id} does not exist")
    if row["undone_at"] is not None:
        raise Conflict(f"merge {merge_id} was undone already")
    if row["survivor_before"] is None or row["merged_before"] is None:
        raise Conflict("a relation of this merge was erased since; the merge cannot be undone")
    survivor, merged = await _lock_pair(session, row["survivor_id"], row["merged_id"])
    gone = survivor.status in (RelationStatus.MERGED, RelationStatus.ERASED)
    if survivor.version != row["survivor_version_after"] or gone:
        raise Conflict(
            "the survivor changed after the merge; undoing would discard those changes",
            survivor_version=survivor.version,
        )
    if merged.status != RelationStatus.MERGED:
        raise Conflict(f"relation {merged.id} is no longer merged")

    await _restore_functions(session, row["moved_functions"], merged.id)
    survivor_fields = row["survivor_before"]["fields"]
    merged_fields = row["merged_before"]["fields"]
    merged_status = RelationStatus(row["merged_before"].get("status", RelationStatus.ACTIVE))
    survivor_changes = diff_fields(survivor.fields, survivor_fields)
    survivor_changes["functions"] = {"old": None, "new": "restored by undoing a merge"}
    survivor_after = await save_fields(session, survivor, survivor_fields, survivor_changes, actor)
    restored = await save_fields(
        session,
        merged,
        merged_fields,
        {"status": {"old": "merged", "new": merged_status}, **diff_fields({}, merged_fields)},
        actor,
        kind=RelationEventType.RESTORED,
        status=merged_status,
    )
    await _touch_counterparties(session, row["moved_functions"], actor)
    await session.execute(
        update(merges).where(merges.c.id == merge_id).values(undone_at=func.now())
    )
    restored = state_of(
        await get_record(session, merged.id), await functions_of(session, merged.id)
    )
    return survivor_after, restored


async def _restore_functions(
    session: AsyncSession, moved: list[dict[str, Any]], merged_id: uuid.UUID
) -> None:
    for entry in moved:
        if entry["side"] == "parked":
            parked = dict(entry["row"])
            await session.execute(functions.insert().values(**_from_json(parked)))
        else:
            column = "subject_id" if entry["side"] == "subject" else "object_id"
            await session.execute(
                update(functions)
                .where(functions.c.id == uuid.UUID(entry["id"]))
                .values({column: merged_id})
            )


def _from_json(row: dict[str, Any]) -> dict[str, Any]:
    from datetime import date

    return {
        "id": uuid.UUID(row["id"]),
        "subject_id": uuid.UUID(row["subject_id"]),
        "object_id": uuid.UUID(row["object_id"]),
        "role": row["role"],
        "start_date": date.fromisoformat(row["start_date"]),
        "end_date": date.fromisoformat(row["end_date"]) if row["end_date"] else None,
    }
