"""What in automation uses a relation list: adjustment rules (triggered by entering or leaving
it, or reading it in their condition), merge rules limited to it and generated properties held
while in it. The gateway asks before it deletes a list, so nothing is left pointing at nothing."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import any_, select
from sqlalchemy.ext.asyncio import AsyncSession

from relata_automation.models import adjustment_rules, generated_properties, merge_rules
from relata_common.filters import criteria


class Reference(BaseModel):
    id: uuid.UUID
    name: str
    how: str = Field(description="trigger, condition, scope or holds_while_member")


class ListReferences(BaseModel):
    rules: list[Reference]
    merge_rules: list[Reference]
    properties: list[Reference]


def condition_reads(condition: Any, list_id: uuid.UUID) -> bool:
    """Whether a stored condition reads membership of ``list_id`` (in_list, or a function at
    a member of it)."""
    if not isinstance(condition, dict):
        return False
    wanted = str(list_id)
    for _, item in criteria(condition):
        named = (item.get("list_id"), item.get("at_list")) if isinstance(item, dict) else ()
        if wanted in (str(n) for n in named):
            return True
    return False


async def _rules(session: AsyncSession, list_id: uuid.UUID) -> list[Reference]:
    r = adjustment_rules
    rows = await session.execute(select(r.c.rule_id, r.c.name, r.c.trigger, r.c.condition))
    found = []
    for row in rows:
        if isinstance(row.trigger, dict) and row.trigger.get("list_id") == str(list_id):
            found.append(Reference(id=row.rule_id, name=row.name, how="trigger"))
        elif condition_reads(row.condition, list_id):
            found.append(Reference(id=row.rule_id, name=row.name, how="condition"))
    return found


async def of_list(session: AsyncSession, list_id: uuid.UUID) -> ListReferences:
    """Everything here that uses the list, by kind, in name order."""
    m, p = merge_rules, generated_properties
    merging = await session.execute(
        select(m.c.rule_id, m.c.name).where(any_(m.c.list_ids) == list_id).order_by(m.c.name)
    )
    held = await session.execute(
        select(p.c.property_id, p.c.label).where(p.c.list_id == list_id).order_by(p.c.label)
    )
    return ListReferences(
        rules=sorted(await _rules(session, list_id), key=lambda ref: ref.name),
        merge_rules=[Reference(id=row.rule_id, name=row.name, how="scope") for row in merging],
        properties=[
            Reference(id=row.property_id, name=row.label, how="holds_while_member") for row in held
        ],
    )
