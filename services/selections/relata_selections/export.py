"""CSV export of a selection's members with the fields asked for, read from the relations
service in chunks of 1000 (a few lookups at a time) and streamed as it goes.

Rows follow the members' relation id order; relations that are no longer active (merged or
erased, not yet re-pointed here) are left out. Cells that a spreadsheet would run as a formula
are prefixed with an apostrophe (OWASP's advice on CSV injection); phone numbers such as
``+31 6 ...`` stay as they are.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_common.db import transaction
from relata_common.errors import InvalidInput
from relata_common.fields import display_name
from relata_selections.directory import LOOKUP_MAX, RelationsDirectory
from relata_selections.models import selection_members

State = dict[str, Any]


def _field(name: str) -> Callable[[State], Any]:
    return lambda state: state.get("fields", {}).get(name)


def _first(collection: str, key: str) -> Callable[[State], Any]:
    def value(state: State) -> Any:
        items = state.get("fields", {}).get(collection) or []
        return items[0].get(key) if items else None

    return value


def _name(state: State) -> str:
    return display_name(state.get("fields", {}), state.get("relation_type"))


EXPORT_FIELDS: dict[str, Callable[[State], Any]] = {
    "relation_id": lambda s: s.get("relation_id"),
    "relation_number": lambda s: s.get("relation_number"),
    "relation_type": lambda s: s.get("relation_type"),
    "name": _name,
    **{
        name: _field(name)
        for name in (
            "first_name",
            "initials",
            "infix",
            "last_name",
            "organisation_name",
            "salutation",
            "gender",
            "birth_date",
            "coc_number",
        )
    },
    "email": _first("emails", "address"),
    "phone": _first("phones", "number"),
    **{
        name: _first("addresses", name)
        for name in ("street", "house_number", "postal_code", "city", "country")
    },
}
"""Exportable fields; the first e-mail address, phone number and address count. Custom fields
are ``custom.<key>``."""

DEFAULT_FIELDS = ("relation_number", "name", "email")
_CUSTOM = re.compile(r"^custom\.([A-Za-z0-9_]{1,64})$")
_NUMBERISH = re.compile(r"^[+-][0-9 ()./-]*$")


def parse_fields(raw: str | None) -> list[str]:
    """The fields of ``?fields=a,b,c`` (422 naming the unknown ones)."""
    if raw is None or not raw.strip():
        return list(DEFAULT_FIELDS)
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in EXPORT_FIELDS and not _CUSTOM.match(n)]
    if unknown:
        known = ", ".join(EXPORT_FIELDS)
        raise InvalidInput.single(
            ("query", "fields"),
            f"unknown field(s): {', '.join(unknown)}; known: {known}, custom.<key>",
        )
    if len(set(names)) != len(names):
        raise InvalidInput.single(("query", "fields"), "a field is named twice")
    return names


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list | dict):
        text = orjson.dumps(value).decode()
    else:
        text = str(value)
    if text[:1] in ("=", "@", "\t", "\r") or (text[:1] in "+-" and not _NUMBERISH.match(text)):
        return "'" + text
    return text


def _getter(name: str) -> Callable[[State], Any]:
    custom = _CUSTOM.match(name)
    if custom:
        key = custom.group(1)
        return lambda state: (state.get("fields", {}).get("custom") or {}).get(key)
    return EXPORT_FIELDS[name]


def render(fields: Sequence[str], states: Sequence[State], *, header: bool = False) -> str:
    getters = [_getter(name) for name in fields]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(fields)
    for state in states:
        if state.get("status", "active") != "active":
            continue
        writer.writerow([_cell(get(state)) for get in getters])
    return buffer.getvalue()


async def member_chunks(
    sessions: async_sessionmaker[AsyncSession], selection_id: uuid.UUID, size: int = LOOKUP_MAX
) -> AsyncGenerator[list[uuid.UUID], None]:
    """Member ids in order, ``size`` at a time, each page in a short transaction of its own."""
    m = selection_members
    after: uuid.UUID | None = None
    while True:
        async with transaction(sessions) as session:
            statement = select(m.c.relation_id).where(m.c.selection_id == selection_id)
            if after is not None:
                statement = statement.where(m.c.relation_id > after)
            rows = await session.execute(statement.order_by(m.c.relation_id).limit(size))
            ids: list[uuid.UUID] = list(rows.scalars())
        if not ids:
            return
        yield ids
        if len(ids) < size:
            return
        after = ids[-1]


async def csv_rows(
    sessions: async_sessionmaker[AsyncSession],
    directory: RelationsDirectory,
    *,
    selection_id: uuid.UUID,
    fields: Sequence[str],
    concurrency: int,
) -> AsyncGenerator[bytes, None]:
    """The CSV document, header first, as UTF-8 chunks of up to 1000 rows.

    Up to ``concurrency`` lookups run ahead; chunks come out in member order (the relations
    service answers in the order asked). The first
    lookup happens before the first byte, so an unreachable relations service is an error
    response rather than a cut-off file.
    """
    pending: deque[asyncio.Task[list[State]]] = deque()
    chunks = member_chunks(sessions, selection_id)
    try:
        async for ids in chunks:
            pending.append(asyncio.create_task(directory.lookup(ids)))
            if len(pending) >= concurrency:
                break
        if pending:
            await asyncio.wait({pending[0]})
            pending[0].result()  # raises when the relations service failed
        yield render(fields, [], header=True).encode()
        async for ids in chunks:
            states = await pending.popleft()
            pending.append(asyncio.create_task(directory.lookup(ids)))
            yield render(fields, states).encode()
        while pending:
            yield render(fields, await pending.popleft()).encode()
    finally:
        for task in pending:
            task.cancel()
        await chunks.aclose()
