"""What merges and erasures of relations do to selections.

- merged: the merged relation's id is replaced by the survivor's in every selection — members,
  exclusions and refresh history — without duplicates. Where both were members, the survivor
  stays, as a hand member if either was one. Where the person was excluded by hand under either
  id, the exclusion holds over a source membership, and a hand membership holds over the
  exclusion (the rules a refresh follows).
- erased: the relation leaves every selection, its exclusions and the refresh history (the
  recorded counts stay: they hold nothing personal).

Each touched selection gets a new version and a ``selection.changed`` event.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.events import Actor, SelectionChangedPayload, SelectionEventType
from relata_selections import publishing

Membership = set[tuple[uuid.UUID, uuid.UUID]]

_MERGE_STATEMENTS = (
    # members: a hand membership of the merged relation makes the survivor's a hand one
    "UPDATE selection_members s SET added_by = 'hand' FROM selection_members o"
    " WHERE s.selection_id = o.selection_id AND s.relation_id = :v AND o.relation_id = :m"
    " AND o.added_by = 'hand'",
    "DELETE FROM selection_members o WHERE o.relation_id = :m AND EXISTS (SELECT 1"
    " FROM selection_members s WHERE s.selection_id = o.selection_id AND s.relation_id = :v)",
    "UPDATE selection_members SET relation_id = :v WHERE relation_id = :m",
    # exclusions
    "DELETE FROM selection_exclusions o WHERE o.relation_id = :m AND EXISTS (SELECT 1"
    " FROM selection_exclusions s WHERE s.selection_id = o.selection_id AND s.relation_id = :v)",
    "UPDATE selection_exclusions SET relation_id = :v WHERE relation_id = :m",
    # a hand membership holds over an exclusion; an exclusion holds over a source membership
    "DELETE FROM selection_exclusions e USING selection_members s"
    " WHERE e.relation_id = :v AND s.relation_id = :v AND s.selection_id = e.selection_id"
    " AND s.added_by = 'hand'",
    "DELETE FROM selection_members s USING selection_exclusions e"
    " WHERE e.relation_id = :v AND s.relation_id = :v AND s.selection_id = e.selection_id",
    # refresh history
    "DELETE FROM refresh_changes o WHERE o.relation_id = :m AND EXISTS (SELECT 1"
    " FROM refresh_changes s WHERE s.refresh_id = o.refresh_id AND s.relation_id = :v)",
    "UPDATE refresh_changes SET relation_id = :v WHERE relation_id = :m",
)


async def _lock_selections_of(session: AsyncSession, relation_ids: list[uuid.UUID]) -> None:
    """Lock the selections holding these relations, in id order, before touching their rows:
    refreshes and hand changes lock the selection first too, so none of them deadlock."""
    await session.execute(
        text(
            "SELECT 1 FROM selections WHERE selection_id IN ("
            " SELECT selection_id FROM selection_members WHERE relation_id = ANY(:ids)"
            " UNION SELECT selection_id FROM selection_exclusions WHERE relation_id = ANY(:ids))"
            " ORDER BY selection_id FOR UPDATE"
        ).bindparams(bindparam("ids", type_=ARRAY(Uuid))),
        {"ids": relation_ids},
    )


async def _memberships(session: AsyncSession, relation_ids: list[uuid.UUID]) -> Membership:
    rows = await session.execute(
        text(
            "SELECT selection_id, relation_id FROM selection_members WHERE relation_id = ANY(:ids)"
        ).bindparams(bindparam("ids", type_=ARRAY(Uuid))),
        {"ids": relation_ids},
    )
    return {(r.selection_id, r.relation_id) for r in rows}


async def _excluded_in(session: AsyncSession, relation_id: uuid.UUID) -> set[uuid.UUID]:
    rows = await session.execute(
        text("SELECT selection_id FROM selection_exclusions WHERE relation_id = :r"),
        {"r": relation_id},
    )
    return set(rows.scalars())


async def apply_merge(
    session: AsyncSession,
    *,
    survivor_id: uuid.UUID,
    merged_id: uuid.UUID,
    actor: Actor,
    cap: int,
) -> list[uuid.UUID]:
    """Re-point the merged relation to the survivor everywhere; returns the touched selections."""
    ids = [merged_id, survivor_id]
    await _lock_selections_of(session, ids)
    before = await _memberships(session, ids)
    excluded = await _excluded_in(session, merged_id)
    for statement in _MERGE_STATEMENTS:
        await session.execute(text(statement), {"m": merged_id, "v": survivor_id})
    after = await _memberships(session, ids)
    return await _settle(session, before, after, excluded, "relation.merged", actor, cap)


async def apply_erasure(
    session: AsyncSession, *, relation_id: uuid.UUID, actor: Actor, cap: int
) -> list[uuid.UUID]:
    """Remove the relation from every selection and the history; returns the touched ones."""
    await _lock_selections_of(session, [relation_id])
    before = await _memberships(session, [relation_id])
    params = {"r": relation_id}
    excluded: set[uuid.UUID] = set(
        (
            await session.execute(
                text(
                    "DELETE FROM selection_exclusions WHERE relation_id = :r RETURNING selection_id"
                ),
                params,
            )
        ).scalars()
    )
    await session.execute(text("DELETE FROM selection_members WHERE relation_id = :r"), params)
    await session.execute(text("DELETE FROM refresh_changes WHERE relation_id = :r"), params)
    return await _settle(session, before, set(), excluded, "relation.erased", actor, cap)


async def _settle(
    session: AsyncSession,
    before: Membership,
    after: Membership,
    excluded: set[uuid.UUID],
    reason: str,
    actor: Actor,
    cap: int,
) -> list[uuid.UUID]:
    """New counts and versions for the touched selections, and an event for each."""
    added: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    removed: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for selection_id, relation_id in after - before:
        added[selection_id].append(relation_id)
    for selection_id, relation_id in before - after:
        removed[selection_id].append(relation_id)
    touched = sorted({*added, *removed, *excluded})
    if not touched:
        return []
    rows = await session.execute(
        text(
            "UPDATE selections s SET version = version + 1, updated_at = now(),"
            " member_count = (SELECT count(*) FROM selection_members m"
            "  WHERE m.selection_id = s.selection_id)"
            " WHERE s.selection_id = ANY(:ids) RETURNING s.*"
        ).bindparams(bindparam("ids", type_=ARRAY(Uuid))),
        {"ids": touched},
    )
    for row in rows.mappings():
        selection_id = row["selection_id"]
        ins, outs = added[selection_id], removed[selection_id]
        await publishing.announce(
            session,
            event_type=SelectionEventType.CHANGED,
            subject_id=str(selection_id),
            version=row["version"],
            payload=SelectionChangedPayload(
                state=publishing.state_of(row),
                reason=reason,
                changes=publishing.capped(
                    ins, outs, added_count=len(ins), removed_count=len(outs), cap=cap
                ),
            ),
            actor=actor,
        )
    return touched
