"""The read model of relations this service keeps: status and e-mail addresses.

Fed by ``crm.relations`` events (event-carried state), so finding relations by e-mail address
never calls the relations service. An event is applied only when its ``subject_version`` is newer
than the version held, so duplicates, replays and late arrivals change nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import FieldError, InvalidInput
from relata_common.events import RelationStatus
from relata_contactmoments.models import known_relations, relation_emails

# Advisory lock namespace (two-key form, apart from single-key locks) for "moments of relation
# X": logging takes it shared, following a merge or erasure exclusive, so a moment logged
# against a relation while its merge is applied is either re-pointed too or refused.
_RELATION_LOCK_SPACE = 0x434D5231  # "CMR1"


def normalise_address(address: str) -> str:
    """Addresses match case-insensitively (local part included, as mail systems treat them)."""
    return address.strip().lower()


async def lock_relations(
    session: AsyncSession, relation_ids: Iterable[uuid.UUID], *, exclusive: bool = False
) -> None:
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    # Sorted, so two transactions locking overlapping sets cannot deadlock on each other.
    for relation_id in sorted(set(relation_ids)):
        await session.execute(
            text(f"SELECT {function}(:space, hashtext(:id))"),
            {"space": _RELATION_LOCK_SPACE, "id": str(relation_id)},
        )


async def check_linkable(
    session: AsyncSession, relation_ids: Sequence[uuid.UUID], *, loc: str = "relation_ids"
) -> None:
    """Refuse relations known to be merged or erased (422 naming each).

    A relation not (yet) known is accepted: its created event may still be on its way.
    """
    if not relation_ids:
        return
    rows = await session.execute(
        select(known_relations).where(known_relations.c.relation_id.in_(list(relation_ids)))
    )
    status = {row.relation_id: row for row in rows}
    errors = []
    for index, relation_id in enumerate(relation_ids):
        row = status.get(relation_id)
        if row is None or row.status == RelationStatus.ACTIVE:
            continue
        if row.status == RelationStatus.MERGED:
            message = f"relation {relation_id} was merged into {row.merged_into}: use that one"
        else:
            message = f"relation {relation_id} was erased"
        errors.append(FieldError(("body", loc, index), message, "relation_not_active"))
    if errors:
        raise InvalidInput(errors)


async def relations_by_address(
    session: AsyncSession, addresses: Sequence[str]
) -> dict[str, list[uuid.UUID]]:
    """Active relations per (normalised) address; addresses nobody has are left out."""
    if not addresses:
        return {}
    rows = await session.execute(
        select(relation_emails.c.address, relation_emails.c.relation_id)
        .join(known_relations, known_relations.c.relation_id == relation_emails.c.relation_id)
        .where(relation_emails.c.address.in_(list(addresses)))
        .where(known_relations.c.status == RelationStatus.ACTIVE.value)
        .order_by(relation_emails.c.address, relation_emails.c.relation_id)
    )
    found: dict[str, list[uuid.UUID]] = {}
    for row in rows:
        found.setdefault(row.address, []).append(row.relation_id)
    return found


async def apply_state(
    session: AsyncSession,
    *,
    relation_id: uuid.UUID,
    version: int,
    status: str,
    merged_into: uuid.UUID | None,
    fields: dict[str, Any],
) -> bool:
    """Take a relation's new state if it is newer than what is held; True when applied."""
    upsert = insert(known_relations).values(
        relation_id=relation_id, version=version, status=status, merged_into=merged_into
    )
    applied = await session.scalar(
        upsert.on_conflict_do_update(
            index_elements=[known_relations.c.relation_id],
            set_={"version": version, "status": status, "merged_into": merged_into},
            # Erasure is final: no later event brings an erased relation back.
            where=(known_relations.c.version < upsert.excluded.version)
            & (known_relations.c.status != RelationStatus.ERASED.value),
        ).returning(known_relations.c.relation_id)
    )
    if applied is None:
        return False
    # Only an active relation is found by its addresses; a merged one's moved to the survivor.
    addresses = _addresses(fields) if status == RelationStatus.ACTIVE else set()
    await _replace_addresses(session, relation_id, addresses)
    return True


def _addresses(fields: dict[str, Any]) -> set[str]:
    emails = fields.get("emails") or []
    found = set()
    for entry in emails if isinstance(emails, list) else []:
        address = entry.get("address") if isinstance(entry, dict) else None
        if isinstance(address, str) and "@" in address:
            found.add(normalise_address(address))
    return found


async def _replace_addresses(
    session: AsyncSession, relation_id: uuid.UUID, addresses: set[str]
) -> None:
    await session.execute(
        delete(relation_emails).where(relation_emails.c.relation_id == relation_id)
    )
    if addresses:
        await session.execute(
            insert(relation_emails).on_conflict_do_nothing(),
            [{"address": a, "relation_id": relation_id} for a in sorted(addresses)],
        )


async def forget(session: AsyncSession, *, relation_id: uuid.UUID, version: int | None) -> None:
    """An erased relation: keep only that it was erased (so late events cannot revive it)."""
    upsert = insert(known_relations).values(
        relation_id=relation_id,
        version=version or 0,
        status=RelationStatus.ERASED.value,
        merged_into=None,
    )
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=[known_relations.c.relation_id],
            set_={
                "version": func.greatest(known_relations.c.version, upsert.excluded.version),
                "status": RelationStatus.ERASED.value,
                "merged_into": None,
            },
        )
    )
    await _replace_addresses(session, relation_id, set())
