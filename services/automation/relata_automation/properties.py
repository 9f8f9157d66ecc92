"""Generated properties: a property a relation holds while it is in a relation list ("active
member" while in "Paying members this year").

Staff who may not see the list's criteria (payments, say) still see the property on the relation
card: the card shows the property, not the data behind it. Membership events keep it current;
a property defined for a list that already has members is filled from the lists service.

Every relation that gains or loses a property is announced (``property.changed``), also when a
definition is made or deleted: a card cached before the definition would otherwise go on
showing what it held, however long its cache lives.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from relata_automation import publishing
from relata_automation.models import generated_properties, outbox, property_holders
from relata_common.errors import Conflict, NotFound
from relata_common.events import (
    AUTOMATION_TOPIC,
    AutomationEventType,
    MembershipPayload,
    PropertyChangedPayload,
)
from relata_common.fields import KEY_PATTERN


class PropertyInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN, description="e.g. active_member")
    label: str = Field(min_length=1, max_length=200, description='e.g. "Active member"')
    list_id: uuid.UUID = Field(description="the relation holds the property while in this list")


class PropertyOut(PropertyInput):
    property_id: uuid.UUID
    created_at: datetime


class HeldProperty(BaseModel):
    key: str
    label: str
    since: date


def today() -> date:
    return datetime.now(UTC).date()


async def define(session: AsyncSession, data: PropertyInput) -> PropertyOut:
    taken = await session.scalar(
        text("SELECT 1 FROM generated_properties WHERE key = :k"), {"k": data.key}
    )
    if taken:
        raise Conflict(f"generated property {data.key!r} exists")
    row = (
        (
            await session.execute(
                generated_properties.insert()
                .values(property_id=uuid.uuid4(), **data.model_dump())
                .returning(generated_properties)
            )
        )
        .mappings()
        .one()
    )
    return PropertyOut.model_validate(dict(row))


async def fill(session: AsyncSession, prop: PropertyOut, relation_ids: list[uuid.UUID]) -> None:
    """Give a new property to the list's current members (read from the lists service) and
    announce each of them."""
    if relation_ids:
        gained = await session.execute(
            insert(property_holders)
            .on_conflict_do_nothing()
            .returning(property_holders.c.relation_id),
            [
                {"property_id": prop.property_id, "relation_id": r, "since": today()}
                for r in relation_ids
            ],
        )
        await _announce_many(session, prop, list(gained.scalars()), held=True)


async def all_properties(session: AsyncSession) -> list[PropertyOut]:
    rows = await session.execute(generated_properties.select().order_by(generated_properties.c.key))
    return [PropertyOut.model_validate(dict(r)) for r in rows.mappings()]


async def delete(session: AsyncSession, property_id: uuid.UUID) -> None:
    """Delete a definition; every relation that held it is announced as no longer holding it."""
    held = await session.execute(
        property_holders.delete()
        .where(property_holders.c.property_id == property_id)
        .returning(property_holders.c.relation_id)
    )
    holders: list[uuid.UUID] = list(held.scalars())
    row = (
        (
            await session.execute(
                generated_properties.delete()
                .where(generated_properties.c.property_id == property_id)
                .returning(generated_properties)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"generated property {property_id} does not exist")
    prop = PropertyOut.model_validate(dict(row))
    await _announce_many(session, prop, holders, held=False)


async def of_relation(session: AsyncSession, relation_id: uuid.UUID) -> list[HeldProperty]:
    rows = await session.execute(
        text(
            "SELECT p.key, p.label, h.since FROM property_holders h"
            " JOIN generated_properties p USING (property_id)"
            " WHERE h.relation_id = :r ORDER BY p.key"
        ),
        {"r": relation_id},
    )
    return [HeldProperty.model_validate(dict(r)) for r in rows.mappings()]


async def apply_membership(
    session: AsyncSession, membership: MembershipPayload, *, entered: bool
) -> None:
    """Keep the local list membership and every property derived from that list current."""
    params = {"l": membership.list_id, "r": membership.relation_id, "d": today()}
    if entered:
        await session.execute(
            text(
                "INSERT INTO list_members (list_id, relation_id) VALUES (:l, :r)"
                " ON CONFLICT DO NOTHING"
            ),
            params,
        )
        changed = await session.execute(
            text(
                "INSERT INTO property_holders (property_id, relation_id, since)"
                " SELECT property_id, :r, :d FROM generated_properties WHERE list_id = :l"
                " ON CONFLICT DO NOTHING RETURNING property_id"
            ),
            params,
        )
    else:
        await session.execute(
            text("DELETE FROM list_members WHERE list_id = :l AND relation_id = :r"), params
        )
        changed = await session.execute(
            text(
                "DELETE FROM property_holders h USING generated_properties p"
                " WHERE h.property_id = p.property_id AND p.list_id = :l"
                " AND h.relation_id = :r RETURNING h.property_id"
            ),
            params,
        )
    property_ids: list[uuid.UUID] = list(changed.scalars())
    for property_id in property_ids:
        await _announce(session, property_id, membership.relation_id, held=entered)


async def _announce(
    session: AsyncSession, property_id: uuid.UUID, relation_id: uuid.UUID, *, held: bool
) -> None:
    row = (
        (
            await session.execute(
                generated_properties.select().where(
                    generated_properties.c.property_id == property_id
                )
            )
        )
        .mappings()
        .one()
    )
    await publishing.announce(
        session,
        event_type=AutomationEventType.PROPERTY_CHANGED,
        subject_id=relation_id,
        payload=PropertyChangedPayload(
            property_id=property_id,
            key=row["key"],
            label=row["label"],
            relation_id=relation_id,
            held=held,
            since=today() if held else None,
        ),
    )


async def _announce_many(
    session: AsyncSession, prop: PropertyOut, relation_ids: list[uuid.UUID], *, held: bool
) -> None:
    since = today() if held else None
    await outbox.add_many(
        session,
        (
            publishing.PUBLISHER.event(
                AUTOMATION_TOPIC,
                AutomationEventType.PROPERTY_CHANGED,
                relation_id,
                PropertyChangedPayload(
                    property_id=prop.property_id,
                    key=prop.key,
                    label=prop.label,
                    relation_id=relation_id,
                    held=held,
                    since=since,
                ),
            )
            for relation_id in relation_ids
        ),
    )


async def forget(session: AsyncSession, relation_id: uuid.UUID) -> None:
    """A merged or erased relation leaves every list and gives up every property."""
    params = {"r": relation_id}
    await session.execute(text("DELETE FROM list_members WHERE relation_id = :r"), params)
    await session.execute(text("DELETE FROM property_holders WHERE relation_id = :r"), params)
