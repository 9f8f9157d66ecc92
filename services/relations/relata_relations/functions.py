"""Functions: dated role links between two relations, from the role catalogue.

A function belongs to its subject ("Jan is director of Company X" belongs to Jan): changing it
is a change of the subject relation, with a new version, history and a relation.updated event.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import Conflict, InvalidInput, NotFound
from relata_common.events import Actor, FunctionState, RelationState
from relata_common.fields import KEY_PATTERN
from relata_relations.models import functions, roles
from relata_relations.relations import bump_version, get_active_record


class Role(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=KEY_PATTERN)
    label: str = Field(min_length=1, max_length=200)
    subject_types: list[str] = Field(min_length=1)
    object_types: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_types(self) -> Role:
        allowed = {"person", "organisation"}
        if not set(self.subject_types) <= allowed or not set(self.object_types) <= allowed:
            raise ValueError("relation types are person and organisation")
        return self


class FunctionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str
    object_id: uuid.UUID = Field(description="the relation the role is held at")
    start_date: date
    end_date: date | None = None

    @model_validator(mode="after")
    def _dates(self) -> FunctionInput:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date lies before start_date")
        return self


class FunctionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_date: date | None = None
    end_date: date | None = None


class FunctionOut(FunctionState):
    subject_id: uuid.UUID
    active: bool


async def list_roles(session: AsyncSession) -> list[Role]:
    rows = (await session.execute(select(roles).order_by(roles.c.code))).mappings()
    return [Role.model_validate(dict(row)) for row in rows]


async def add_role(session: AsyncSession, *, role: Role) -> Role:
    if await session.scalar(select(roles.c.code).where(roles.c.code == role.code)):
        raise Conflict(f"role {role.code!r} exists")
    await session.execute(roles.insert().values(**role.model_dump()))
    return role


async def _role(session: AsyncSession, code: str) -> Role:
    row = (await session.execute(select(roles).where(roles.c.code == code))).mappings().first()
    if row is None:
        raise InvalidInput.single(("body", "role"), f"no role {code!r} in the role catalogue")
    return Role.model_validate(dict(row))


def _out(row: Any) -> FunctionOut:
    today = date.today()
    return FunctionOut(
        function_id=row.id,
        subject_id=row.subject_id,
        role=row.role,
        object_id=row.object_id,
        start_date=row.start_date,
        end_date=row.end_date,
        active=row.start_date <= today and (row.end_date is None or row.end_date >= today),
    )


async def add_function(
    session: AsyncSession, *, subject_id: uuid.UUID, data: FunctionInput, actor: Actor
) -> tuple[FunctionOut, RelationState]:
    subject = await get_active_record(session, subject_id, for_update=True)
    if data.object_id == subject_id:
        raise InvalidInput.single(("body", "object_id"), "a relation holds no function at itself")
    try:
        target = await get_active_record(session, data.object_id)
    except (NotFound, Conflict) as error:
        raise InvalidInput.single(("body", "object_id"), error.message) from None
    role = await _role(session, data.role)
    if subject.relation_type not in role.subject_types:
        raise InvalidInput.single(
            ("body", "role"), f"a {subject.relation_type} cannot be {role.label.lower()}"
        )
    if target.relation_type not in role.object_types:
        raise InvalidInput.single(
            ("body", "object_id"), f"{role.label} is held at a {'/'.join(role.object_types)}"
        )
    function_id = uuid.uuid4()
    row = (
        await session.execute(
            functions.insert()
            .values(id=function_id, subject_id=subject_id, **data.model_dump())
            .returning(functions)
        )
    ).one()
    out = _out(row)
    change = {"functions": {"old": None, "new": out.model_dump(mode="json")}}
    return out, await bump_version(session, subject_id, change, actor)


async def list_functions(
    session: AsyncSession, *, relation_id: uuid.UUID, side: str
) -> list[FunctionOut]:
    await get_active_record(session, relation_id)
    columns = {"subject": [functions.c.subject_id], "object": [functions.c.object_id]}
    wanted = columns.get(side, [functions.c.subject_id, functions.c.object_id])
    condition = wanted[0] == relation_id
    for column in wanted[1:]:
        condition = condition | (column == relation_id)
    rows = await session.execute(
        select(functions).where(condition).order_by(functions.c.start_date, functions.c.id)
    )
    return [_out(row) for row in rows]


async def _function_row(session: AsyncSession, function_id: uuid.UUID) -> Any:
    row = (await session.execute(select(functions).where(functions.c.id == function_id))).first()
    if row is None:
        raise NotFound(f"function {function_id} does not exist")
    return row


async def get_function(session: AsyncSession, function_id: uuid.UUID) -> FunctionOut:
    return _out(await _function_row(session, function_id))


async def change_function(
    session: AsyncSession, *, function_id: uuid.UUID, data: FunctionUpdate, actor: Actor
) -> tuple[FunctionOut, RelationState]:
    before = await _function_row(session, function_id)
    await get_active_record(session, before.subject_id, for_update=True)
    given = data.model_dump(exclude_unset=True)
    start = given.get("start_date", before.start_date) or before.start_date
    end = given.get("end_date", before.end_date)
    if end is not None and end < start:
        raise InvalidInput.single(("body", "end_date"), "end_date lies before start_date")
    row = (
        await session.execute(
            update(functions)
            .where(functions.c.id == function_id)
            .values(start_date=start, end_date=end)
            .returning(functions)
        )
    ).one()
    out = _out(row)
    change = {
        "functions": {
            "old": _out(before).model_dump(mode="json"),
            "new": out.model_dump(mode="json"),
        }
    }
    return out, await bump_version(session, before.subject_id, change, actor)


async def remove_function(
    session: AsyncSession, *, function_id: uuid.UUID, actor: Actor
) -> RelationState:
    before = await _function_row(session, function_id)
    await get_active_record(session, before.subject_id, for_update=True)
    await session.execute(delete(functions).where(functions.c.id == function_id))
    change = {"functions": {"old": _out(before).model_dump(mode="json"), "new": None}}
    return await bump_version(session, before.subject_id, change, actor)
