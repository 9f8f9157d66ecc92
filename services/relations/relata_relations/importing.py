"""Bulk import of relations from NDJSON or CSV streams.

Rows are read as they arrive, validated one by one, and written in chunks, each chunk one
transaction with its history and outbox events. Valid rows are kept, each invalid row is
reported with its line number and reason. Rows are matched on ``external_id``: importing the
same file twice changes nothing the second time.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.events import Actor, RelationEventType
from relata_common.ids import random_uuids
from relata_relations.custom_fields import CustomFieldDefinition
from relata_relations.models import relations
from relata_relations.relations import (
    RelationRecord,
    change_event,
    functions_of_many,
    record_changes,
    state_of,
)
from relata_relations.validation import apply_patch, diff_fields, field_errors

CSV_ADDRESS_COLUMNS = {
    "address_type": "type",
    "street": "street",
    "house_number": "house_number",
    "postal_code": "postal_code",
    "city": "city",
    "country": "country",
}
MAX_INVALID_REPORTED = 10_000


@dataclass
class ImportRow:
    line: int
    relation_type: str
    external_id: str
    fields: dict[str, Any]
    stored: dict[str, Any] | None = None
    """The validated, stored form of ``fields``, when they were checked on their own."""


class InvalidRow(BaseModel):
    line: int
    external_id: str | None = None
    errors: list[dict[str, Any]]


class ImportReport(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid_count: int = 0
    invalid: list[InvalidRow] = Field(default_factory=list)

    def reject(self, row: InvalidRow) -> None:
        self.invalid_count += 1
        if len(self.invalid) < MAX_INVALID_REPORTED:
            self.invalid.append(row)


# --- reading -----------------------------------------------------------------------------------


async def lines_of(chunks: AsyncIterator[bytes], max_line_bytes: int) -> AsyncIterator[bytes]:
    """Split a byte stream into lines without holding more than one line in memory."""
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            yield line.rstrip(b"\r")
        if len(buffer) > max_line_bytes:
            raise ValueError(f"a line is longer than {max_line_bytes} bytes")
    if buffer.strip():
        yield buffer.rstrip(b"\r")


@dataclass
class RawRow:
    line: int
    data: dict[str, Any] | None
    error: str | None = None


async def ndjson_rows(lines: AsyncIterator[bytes]) -> AsyncIterator[RawRow]:
    number = 0
    async for line in lines:
        number += 1
        if not line.strip():
            continue
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            yield RawRow(number, None, f"not valid JSON: {error}")
            continue
        if not isinstance(data, dict):
            yield RawRow(number, None, "each line must be a JSON object")
            continue
        yield RawRow(number, data)


async def csv_rows(lines: AsyncIterator[bytes]) -> AsyncIterator[RawRow]:
    header: list[str] | None = None
    pending, start, number = "", 0, 0
    async for raw in lines:
        number += 1
        text = raw.decode("utf-8-sig" if number == 1 else "utf-8", errors="replace")
        if not pending:
            start = number
        pending = f"{pending}\n{text}" if pending else text
        if pending.count('"') % 2:
            continue  # a quoted value goes on on the next line
        record, pending = pending, ""
        if not record.strip():
            continue
        values = next(csv.reader([record]))
        if header is None:
            header = [name.strip() for name in values]
            continue
        if len(values) != len(header):
            yield RawRow(start, None, f"{len(values)} values for {len(header)} columns")
            continue
        yield RawRow(start, csv_to_row(dict(zip(header, values, strict=True))))
    if pending:
        yield RawRow(start, None, "unterminated quoted value")


def csv_to_row(cells: dict[str, str]) -> dict[str, Any]:
    """One CSV record as an import row: flat columns become the nested fields shape."""
    values = {k: v.strip() for k, v in cells.items() if v is not None and v.strip() != ""}
    fields: dict[str, Any] = {}
    address = {CSV_ADDRESS_COLUMNS[k]: v for k, v in values.items() if k in CSV_ADDRESS_COLUMNS}
    if address:
        fields["addresses"] = [address]
    if "phone" in values:
        fields["phones"] = [{"number": values["phone"], "type": values.get("phone_type", "mobile")}]
    if "email" in values:
        fields["emails"] = [
            {"address": values["email"], "type": values.get("email_type", "private")}
        ]
    custom = {k.removeprefix("custom."): v for k, v in values.items() if k.startswith("custom.")}
    if custom:
        fields["custom"] = custom
    skip = {"relation_type", "external_id", "phone", "phone_type", "email", "email_type"}
    for key, value in values.items():
        if key not in skip and key not in CSV_ADDRESS_COLUMNS and not key.startswith("custom."):
            fields[key] = value
    return {
        "relation_type": values.get("relation_type"),
        "external_id": values.get("external_id"),
        "fields": fields,
    }


def check_row(raw: RawRow, definitions: dict[str, CustomFieldDefinition]) -> ImportRow | InvalidRow:
    """An import row whose fields validate on their own, or the reasons it is refused."""
    if raw.data is None:
        return InvalidRow(line=raw.line, errors=[{"loc": [], "msg": raw.error}])
    data = raw.data
    external_id = data.get("external_id")
    ext = external_id if isinstance(external_id, str) else None
    errors: list[dict[str, Any]] = []
    if ext is None or not ext.strip():
        errors.append({"loc": ["external_id"], "msg": "required: imports match on external_id"})
    named_type = data.get("relation_type")
    relation_type = named_type if named_type in ("person", "organisation") else None
    if relation_type is None:
        errors.append({"loc": ["relation_type"], "msg": "must be person or organisation"})
    fields = data.get("fields", {})
    if not isinstance(fields, dict):
        errors.append({"loc": ["fields"], "msg": "must be an object"})
    unknown = set(data) - {"external_id", "relation_type", "fields"}
    errors += [{"loc": [key], "msg": "unknown key"} for key in sorted(unknown)]
    stored = None
    if not errors and relation_type is not None:
        stored, problems = field_errors(fields, relation_type, definitions, ("fields",))
        errors += [dict(problem) for problem in problems]
    if errors or ext is None or relation_type is None:
        return InvalidRow(line=raw.line, external_id=ext, errors=errors)
    return ImportRow(raw.line, relation_type, ext.strip(), fields, stored)


# --- writing -----------------------------------------------------------------------------------


@dataclass
class _ChunkPlan:
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[tuple[RelationRecord, dict[str, Any], dict[str, Any]]] = field(
        default_factory=list
    )


async def import_chunk(
    session: AsyncSession,
    *,
    rows: list[ImportRow],
    definitions: dict[str, CustomFieldDefinition],
    actor: Actor,
    report: ImportReport,
) -> None:
    """Create or update one chunk of valid rows, with their history and events."""
    existing = {
        row["external_id"]: RelationRecord.from_row(row)
        for row in (
            await session.execute(
                select(relations)
                .where(relations.c.external_id.in_({r.external_id for r in rows}))
                .with_for_update()
            )
        ).mappings()
    }
    plan = _ChunkPlan()
    pending_new: dict[str, dict[str, Any]] = {}
    for row in rows:
        current = existing.get(row.external_id)
        if current is None and row.external_id in pending_new:
            refused = _fold_into_new(pending_new[row.external_id], row, definitions)
            if refused is not None:
                report.reject(refused)
            else:
                report.unchanged += 1  # folded into the row above it in the same file
            continue
        if current is None:
            stored = row.stored  # validated once already, in check_row
            if stored is None:
                stored, _ = field_errors(row.fields, row.relation_type, definitions, ("fields",))
            new = {
                "relation_type": row.relation_type,
                "external_id": row.external_id,
                "version": 1,
                "fields": stored,
            }
            pending_new[row.external_id] = new
            plan.inserts.append(new)
            continue
        if current.relation_type != row.relation_type or current.status != "active":
            why = (
                "relation_type never changes"
                if current.relation_type != row.relation_type
                else f"the relation with this external_id is {current.status}"
            )
            report.reject(
                InvalidRow(
                    line=row.line,
                    external_id=row.external_id,
                    errors=[{"loc": ["relation_type"], "msg": why}],
                )
            )
            continue
        stored, problems = field_errors(
            apply_patch(current.fields, row.fields), row.relation_type, definitions, ("fields",)
        )
        if problems or stored is None:
            report.reject(
                InvalidRow(
                    line=row.line, external_id=row.external_id, errors=[dict(p) for p in problems]
                )
            )
            continue
        changes = diff_fields(current.fields, stored)
        if not changes:
            report.unchanged += 1
            continue
        current.fields = stored  # a later row of the same file sees this one
        current.version += 1
        plan.updates.append((replace(current), stored, changes))
    await _write(session, plan, actor, report)


def _fold_into_new(
    new: dict[str, Any], row: ImportRow, definitions: dict[str, CustomFieldDefinition]
) -> InvalidRow | None:
    """Apply a later row of a relation this chunk creates to it, or say why it cannot be."""
    if new["relation_type"] != row.relation_type:
        errors = [{"loc": ["relation_type"], "msg": "relation_type never changes"}]
        return InvalidRow(line=row.line, external_id=row.external_id, errors=errors)
    merged, problems = field_errors(
        apply_patch(new["fields"], row.fields), row.relation_type, definitions, ("fields",)
    )
    if problems or merged is None:
        errors = [dict(problem) for problem in problems]
        return InvalidRow(line=row.line, external_id=row.external_id, errors=errors)
    new["fields"] = merged
    return None


async def _write(
    session: AsyncSession, plan: _ChunkPlan, actor: Actor, report: ImportReport
) -> None:
    changes = []
    if plan.inserts:
        for new, relation_id in zip(plan.inserts, random_uuids(len(plan.inserts)), strict=True):
            new["id"] = relation_id
        # Only what the database assigns comes back: the fields are the ones just written.
        assigned = relations.c.relation_number, relations.c.created_at, relations.c.updated_at
        inserted = (
            await session.execute(
                relations.insert().returning(*assigned, sort_by_parameter_order=True),
                plan.inserts,
            )
        ).all()
        event_ids = random_uuids(len(inserted))
        for new, row in zip(plan.inserts, inserted, strict=True):
            record = RelationRecord(
                new["id"],
                new["relation_type"],
                row.relation_number,
                new["external_id"],
                "active",
                None,
                1,
                new["fields"],
                row.created_at,
                row.updated_at,
            )
            created = diff_fields({}, new["fields"])
            changes.append(
                change_event(
                    RelationEventType.CREATED,
                    state_of(record, []),
                    created,
                    actor,
                    event_id=next(event_ids),
                )
            )
        report.created += len(inserted)
    if plan.updates:
        await session.execute(
            update(relations)
            .where(relations.c.id == bindparam("target_id"))
            .values(
                fields=bindparam("new_fields"),
                version=bindparam("new_version"),
                updated_at=func.now(),
            ),
            [
                {"target_id": r.id, "new_fields": stored, "new_version": r.version}
                for r, stored, _ in plan.updates
            ],
        )
        held = await functions_of_many(session, [record.id for record, _, _ in plan.updates])
        now = datetime.now(UTC)
        for record, stored, diff in plan.updates:
            record.fields = stored
            record.updated_at = now
            state = state_of(record, held.get(record.id, []))
            changes.append(change_event(RelationEventType.UPDATED, state, diff, actor))
        report.updated += len(plan.updates)
    await record_changes(session, changes)
