"""HTTP API of the relations service (internal: only the gateway and other services call it)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.db import transaction
from relata_common.errors import Conflict, InvalidInput, NotFound, UnsupportedMediaType
from relata_common.events import Actor, RelationState
from relata_common.web import ActorDep, IfMatchDep, ReadingSessionDep, SessionDep, with_etag
from relata_relations import erasure, functions, history, importing, merges, relations
from relata_relations.custom_fields import CustomFieldDefinition
from relata_relations.fields import RelationFields, RelationType
from relata_relations.models import custom_field_definitions
from relata_relations.models import relations as relations_table
from relata_relations.validation import load_definitions

relations_router = APIRouter(prefix="/relations", tags=["relations"])
functions_router = APIRouter(tags=["functions"])
custom_fields_router = APIRouter(prefix="/custom-fields", tags=["custom fields"])
merges_router = APIRouter(prefix="/merges", tags=["merges"])


class RelationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    relation_type: RelationType
    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    fields: RelationFields


class RelationPatch(BaseModel):
    """Only the fields given change; ``null`` clears a field. Custom values merge per key."""

    model_config = ConfigDict(extra="forbid")

    relation_type: str | None = Field(default=None, description="never changes: refused if given")
    fields: dict[str, Any] = Field(
        description="a partial RelationFields object",
        json_schema_extra={"example": {"last_name": "Jansen", "custom": {"member_since": None}}},
    )


class RelationLookup(BaseModel):
    ids: list[uuid.UUID] = Field(max_length=1000)


@relations_router.post("", status_code=status.HTTP_201_CREATED)
async def create_relation(
    body: RelationCreate, session: SessionDep, actor: ActorDep, response: Response
) -> RelationState:
    """Create a person or an organisation."""
    state = await relations.create_relation(
        session,
        relation_type=body.relation_type,
        raw_fields=body.fields.model_dump(exclude_none=True),
        external_id=body.external_id,
        actor=actor,
    )
    response.headers["Location"] = f"/relations/{state.relation_id}"
    return with_etag(response, state)


@relations_router.get("/{relation_id}")
async def get_relation(
    relation_id: uuid.UUID, session: ReadingSessionDep, response: Response
) -> RelationState:
    """One relation with its ETag; a merged one says which relation it was merged into."""
    return with_etag(response, await relations.get_state(session, relation_id))


@relations_router.get("")
async def find_relations(
    session: ReadingSessionDep,
    external_id: Annotated[str | None, Query(max_length=200)] = None,
    relation_number: int | None = None,
) -> list[RelationState]:
    """Find relations by external id or relation number."""
    if external_id is None and relation_number is None:
        raise InvalidInput.single(("query",), "give external_id or relation_number")
    table = relations_table
    statement = select(table.c.id)
    if external_id is not None:
        statement = statement.where(table.c.external_id == external_id)
    if relation_number is not None:
        statement = statement.where(table.c.relation_number == relation_number)
    ids: list[uuid.UUID] = list((await session.execute(statement)).scalars())
    return [await relations.get_state(session, relation_id) for relation_id in ids]


@relations_router.post("/lookup")
async def lookup_relations(body: RelationLookup, session: ReadingSessionDep) -> list[RelationState]:
    """Many relations by id at once (unknown ids are left out)."""
    return await relations.get_states(session, list(dict.fromkeys(body.ids)))


@relations_router.patch("/{relation_id}")
async def update_relation(
    relation_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    version: IfMatchDep,
    response: Response,
    patch: RelationPatch,
) -> RelationState:
    """Change fields of a relation. Needs If-Match with the ETag read (412 when stale)."""
    if "relation_type" in patch.model_fields_set:
        relations.refuse_type_change()
    state = await relations.update_relation(
        session, relation_id=relation_id, expected_version=version, patch=patch.fields, actor=actor
    )
    return with_etag(response, state)


@relations_router.post("/{relation_id}/archive")
async def archive_relation(
    relation_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    version: IfMatchDep,
    response: Response,
) -> RelationState:
    """Archive a relation: it keeps its data and history but leaves every relation list and
    the search results until it is unarchived. Needs If-Match (412 when stale)."""
    return await _set_archived(True, relation_id, session, actor, version, response)


@relations_router.post("/{relation_id}/unarchive")
async def unarchive_relation(
    relation_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    version: IfMatchDep,
    response: Response,
) -> RelationState:
    """Bring an archived relation back. Needs If-Match (412 when stale)."""
    return await _set_archived(False, relation_id, session, actor, version, response)


async def _set_archived(
    archived: bool,
    relation_id: uuid.UUID,
    session: AsyncSession,
    actor: Actor,
    version: int,
    response: Response,
) -> RelationState:
    state = await relations.set_archived(
        session, relation_id=relation_id, expected_version=version, archived=archived, actor=actor
    )
    return with_etag(response, state)


@relations_router.get("/{relation_id}/history")
async def relation_history(
    relation_id: uuid.UUID,
    session: ReadingSessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,  # versions are int4
    field: Annotated[str | None, Query(max_length=100)] = None,
) -> list[history.HistoryEntry]:
    """Who changed which field from what to what, newest first."""
    return await history.relation_history(
        session, relation_id=relation_id, limit=limit, before_version=before_version, field=field
    )


@relations_router.post("/{relation_id}/erasure")
async def erase_relation(
    relation_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> RelationState:
    """Erase a relation on a privacy request: its data goes, a tombstone stays."""
    return await erasure.erase_relation(session, relation_id=relation_id, actor=actor)


@relations_router.post(
    "/import",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
            "required": True,
        }
    },
)
async def import_relations(request: Request, actor: ActorDep) -> importing.ImportReport:
    """Stream NDJSON or CSV rows in; valid rows are kept, invalid ones reported by line.

    Rows match existing relations on ``external_id``, so an import can be repeated safely.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    parsers = {"application/x-ndjson": importing.ndjson_rows, "text/csv": importing.csv_rows}
    if content_type not in parsers:
        raise UnsupportedMediaType("send application/x-ndjson or text/csv")
    settings = request.app.state.settings
    sessions = request.app.state.sessions
    async with transaction(sessions) as session:
        definitions = await load_definitions(session)
    report = importing.ImportReport()
    chunk: list[importing.ImportRow] = []
    writing: asyncio.Task[None] | None = None

    async def write(rows: list[importing.ImportRow]) -> None:
        async with transaction(sessions) as session:
            await importing.import_chunk(
                session, rows=rows, definitions=definitions, actor=actor, report=report
            )

    async def flush() -> None:
        # One chunk is written while the next is read and validated: PostgreSQL works on the
        # other core meanwhile. Chunks still commit one after the other, in file order.
        nonlocal writing, chunk
        if writing is not None:
            await writing
        writing = asyncio.create_task(write(chunk))
        chunk = []

    lines = importing.lines_of(request.stream(), settings.import_max_line_bytes)
    try:
        async for raw in parsers[content_type](lines):
            checked = importing.check_row(raw, definitions)
            if isinstance(checked, importing.InvalidRow):
                report.reject(checked)
                continue
            chunk.append(checked)
            if len(chunk) >= settings.import_chunk_size:
                await flush()
        if chunk:
            await flush()
    except ValueError as error:
        raise InvalidInput.single(("body",), str(error)) from None
    finally:
        if writing is not None:
            await writing
    return report


# --- functions ---------------------------------------------------------------------------------


@functions_router.get("/roles")
async def list_roles(session: SessionDep) -> list[functions.Role]:
    """The role catalogue functions are drawn from."""
    return await functions.list_roles(session)


@functions_router.post("/roles", status_code=status.HTTP_201_CREATED)
async def add_role(role: functions.Role, session: SessionDep) -> functions.Role:
    """Add a role to the catalogue."""
    return await functions.add_role(session, role=role)


@functions_router.post("/relations/{relation_id}/functions", status_code=status.HTTP_201_CREATED)
async def add_function(
    relation_id: uuid.UUID, body: functions.FunctionInput, session: SessionDep, actor: ActorDep
) -> functions.FunctionOut:
    """Give a relation a role at another relation, from a date."""
    out, _ = await functions.add_function(session, subject_id=relation_id, data=body, actor=actor)
    return out


@functions_router.get("/relations/{relation_id}/functions")
async def list_functions(
    relation_id: uuid.UUID,
    session: SessionDep,
    side: Annotated[str, Query(pattern="^(subject|object|both)$")] = "both",
) -> list[functions.FunctionOut]:
    """Functions the relation holds (subject), is held at (object), or both."""
    return await functions.list_functions(session, relation_id=relation_id, side=side)


@functions_router.get("/functions/{function_id}")
async def get_function(function_id: uuid.UUID, session: SessionDep) -> functions.FunctionOut:
    """One function, with both its relations."""
    return await functions.get_function(session, function_id)


@functions_router.patch("/functions/{function_id}")
async def change_function(
    function_id: uuid.UUID, body: functions.FunctionUpdate, session: SessionDep, actor: ActorDep
) -> functions.FunctionOut:
    """Change a function's dates, for instance end it."""
    out, _ = await functions.change_function(
        session, function_id=function_id, data=body, actor=actor
    )
    return out


@functions_router.delete("/functions/{function_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_function(function_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> None:
    """Remove a function entered by mistake (end it instead when it really ended)."""
    await functions.remove_function(session, function_id=function_id, actor=actor)


# --- custom fields -----------------------------------------------------------------------------


@custom_fields_router.get("")
async def list_custom_fields(session: SessionDep) -> list[CustomFieldDefinition]:
    """Every custom field definition."""
    return list((await load_definitions(session)).values())


@custom_fields_router.post("", status_code=status.HTTP_201_CREATED)
async def define_custom_field(
    definition: CustomFieldDefinition, session: SessionDep
) -> CustomFieldDefinition:
    """Define a custom field."""
    if definition.key in await load_definitions(session):
        raise Conflict(f"custom field {definition.key!r} exists")
    await session.execute(
        custom_field_definitions.insert().values(**definition.model_dump(exclude_none=True))
    )
    return definition


@custom_fields_router.put("/{key}")
async def redefine_custom_field(
    key: str, definition: CustomFieldDefinition, session: SessionDep
) -> CustomFieldDefinition:
    """Change a custom field's label or validation; its key and type never change."""
    current = (await load_definitions(session)).get(key)
    if current is None:
        raise NotFound(f"custom field {key!r} does not exist")
    if definition.key != key:
        raise InvalidInput.single(("body", "key"), "the key of a custom field never changes")
    if definition.type != current.type:
        raise InvalidInput.single(("body", "type"), "the type of a custom field never changes")
    await session.execute(
        custom_field_definitions.update()
        .where(custom_field_definitions.c.key == key)
        .values(**definition.model_dump(exclude={"key"}))
    )
    return definition


# --- merges ------------------------------------------------------------------------------------


@merges_router.post("", status_code=status.HTTP_201_CREATED)
async def merge_relations(
    body: merges.MergeRequest, session: SessionDep, actor: ActorDep
) -> merges.MergeOut:
    """Merge one relation into another, choosing per field which value survives."""
    return await merges.merge_relations(session, request=body, actor=actor)


@merges_router.get("/preview")
async def preview_merge(
    survivor_id: uuid.UUID, merged_id: uuid.UUID, session: ReadingSessionDep
) -> merges.MergePreview:
    """What a merge of these two would ask: each field that differs (custom fields as
    custom.<key>), both values, which wins without a choice, and whether both can be kept."""
    return await merges.preview_merge(session, survivor_id=survivor_id, merged_id=merged_id)


@merges_router.get("/{merge_id}")
async def get_merge(merge_id: uuid.UUID, session: SessionDep) -> merges.MergeOut:
    """A merge and which value won for each field."""
    return await merges.get_merge(session, merge_id)


class UndoneMerge(BaseModel):
    survivor: RelationState
    restored: RelationState


@merges_router.post("/{merge_id}/undo")
async def undo_merge(merge_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> UndoneMerge:
    """Undo a merge: both relations are restored as they were before it."""
    survivor, restored = await merges.undo_merge(session, merge_id=merge_id, actor=actor)
    return UndoneMerge(survivor=survivor, restored=restored)


ROUTERS = (relations_router, functions_router, custom_fields_router, merges_router)
