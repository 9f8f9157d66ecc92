"""Which relations hold a self-service login, and the guard that keeps two of them apart.

The CRM holds no logins itself; a relation that has acted on its own record (an event whose
actor is the relation: the self-service module acts as the logged-in relation) holds one. Two
such relations are never merged, by a rule or by a reviewer: one of them would lose the login
it uses, and with it access to its own data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from relata_automation.models import self_service_logins
from relata_common.errors import Conflict

BOTH_HOLD_A_LOGIN = "both relations hold a self-service login; merging would take one away"


async def record(session: AsyncSession, relation_ids: Iterable[uuid.UUID]) -> None:
    """Remember relations seen acting themselves."""
    rows = [{"relation_id": r} for r in dict.fromkeys(relation_ids)]
    if rows:
        await session.execute(insert(self_service_logins).on_conflict_do_nothing(), rows)


async def holders(session: AsyncSession, relation_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Those of these relations that hold a login."""
    if not relation_ids:
        return set()
    rows = await session.execute(
        text(
            "SELECT relation_id FROM self_service_logins WHERE relation_id = ANY(:ids)"
        ).bindparams(bindparam("ids", type_=ARRAY(Uuid))),
        {"ids": relation_ids},
    )
    return set(rows.scalars())


async def both_hold_one(session: AsyncSession, a: uuid.UUID, b: uuid.UUID) -> bool:
    return len(await holders(session, [a, b])) == 2


async def refuse_if_both(session: AsyncSession, a: uuid.UUID, b: uuid.UUID) -> None:
    """409 when the two relations both hold a login."""
    if await both_hold_one(session, a, b):
        raise Conflict(BOTH_HOLD_A_LOGIN)


async def forget(session: AsyncSession, relation_id: uuid.UUID) -> None:
    """An erased relation holds nothing any more."""
    await session.execute(
        text("DELETE FROM self_service_logins WHERE relation_id = :r"), {"r": relation_id}
    )


async def follow_merge(session: AsyncSession, merged_id: uuid.UUID, survivor_id: uuid.UUID) -> None:
    """A merged relation's login now opens the survivor's record."""
    if await holders(session, [merged_id]):
        await record(session, [survivor_id])
    await forget(session, merged_id)
