"""Duplicate detection as relations change: keep each relation's profile and blocking keys, find
the relations sharing a key, score them, and keep the candidate pairs up to date.

A pair's score is recomputed whenever either relation changes. A pair judged "not a duplicate"
(``rejected``) keeps that status for good: it is never proposed again, whatever changes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Text, Uuid, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from relata_automation import publishing
from relata_automation.blocking import Profile, blocking_keys, profile_of
from relata_automation.models import blocking_keys as keys_table
from relata_automation.models import relation_profiles
from relata_automation.scoring import Score, score
from relata_common.events import (
    AutomationEventType,
    DuplicateFoundPayload,
    DuplicatePairState,
    RelationState,
)

UPDATABLE = ("open", "closed")
"""Statuses a new score may change; merged, merging and rejected pairs stay as they are."""


@dataclass(frozen=True)
class Pair:
    pair_id: uuid.UUID
    first_id: uuid.UUID
    second_id: uuid.UUID
    stars: int
    points: int
    reasons: list[dict[str, Any]]
    status: str

    def other(self, relation_id: uuid.UUID) -> uuid.UUID:
        return self.second_id if relation_id == self.first_id else self.first_id

    def state(self) -> DuplicatePairState:
        return DuplicatePairState.model_validate(self.__dict__)

    @classmethod
    def from_row(cls, row: Any) -> Pair:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


def ordered(a: uuid.UUID, b: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    return (a, b) if a < b else (b, a)


async def store_relation(session: AsyncSession, state: RelationState) -> Profile | None:
    """Store the relation's profile and keys; None when this event is older than what we hold."""
    profile = profile_of(state.relation_type, state.fields)
    statement = insert(relation_profiles).values(
        relation_id=state.relation_id,
        relation_type=state.relation_type,
        version=state.version,
        profile=profile.to_json(),
        created_at=state.created_at,
        updated_at=state.updated_at,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[relation_profiles.c.relation_id],
        set_={
            "version": statement.excluded.version,
            "profile": statement.excluded.profile,
            "updated_at": statement.excluded.updated_at,
        },
        where=relation_profiles.c.version < statement.excluded.version,
    ).returning(relation_profiles.c.relation_id)
    if (await session.execute(statement)).first() is None:
        return None
    await session.execute(
        text("DELETE FROM blocking_keys WHERE relation_id = :r"), {"r": state.relation_id}
    )
    keys = blocking_keys(profile)
    if keys:
        await session.execute(
            keys_table.insert(), [{"key": k, "relation_id": state.relation_id} for k in keys]
        )
    return profile


async def forget_relation(session: AsyncSession, relation_id: uuid.UUID) -> None:
    """A merged or erased relation is no one's duplicate any more: close its open pairs."""
    await session.execute(
        text("DELETE FROM relation_profiles WHERE relation_id = :r"), {"r": relation_id}
    )
    await session.execute(
        text(
            "UPDATE duplicate_pairs SET status = 'closed', scored_at = now()"
            " WHERE (first_id = :r OR second_id = :r) AND status = 'open'"
        ),
        {"r": relation_id},
    )


async def _candidates(
    session: AsyncSession,
    relation_id: uuid.UUID,
    keys: list[str],
    *,
    max_block: int,
    limit: int,
) -> dict[uuid.UUID, Profile]:
    """Relations sharing a usable key with this one, and those already paired with it."""
    rows = await session.execute(
        text(
            "WITH usable AS (SELECT key FROM blocking_keys WHERE key = ANY(:keys)"
            "  GROUP BY key HAVING count(*) <= :max_block),"
            " found AS (SELECT DISTINCT relation_id FROM blocking_keys"
            "  WHERE key IN (SELECT key FROM usable) AND relation_id <> :r LIMIT :limit),"
            " paired AS (SELECT CASE WHEN first_id = :r THEN second_id ELSE first_id END AS id"
            "  FROM duplicate_pairs WHERE (first_id = :r OR second_id = :r)"
            "  AND status IN ('open', 'closed'))"
            " SELECT p.relation_id, p.profile FROM relation_profiles p"
            " WHERE p.relation_id IN (SELECT relation_id FROM found UNION SELECT id FROM paired)"
        ).bindparams(bindparam("keys", type_=ARRAY(Text))),
        {"keys": keys, "max_block": max_block, "r": relation_id, "limit": limit},
    )
    return {row.relation_id: Profile.from_json(row.profile) for row in rows}


async def detect(
    session: AsyncSession,
    relation_id: uuid.UUID,
    profile: Profile,
    *,
    found_by: str,
    min_stars: int,
    max_block: int,
    max_candidates: int,
) -> list[Pair]:
    """Score this relation against its candidates; returns its open pairs, best first."""
    candidates = await _candidates(
        session, relation_id, blocking_keys(profile), max_block=max_block, limit=max_candidates
    )
    for other_id, other in candidates.items():
        if other.relation_type != profile.relation_type:
            continue
        await save_score(
            session,
            relation_id,
            other_id,
            score(profile, other),
            found_by=found_by,
            min_stars=min_stars,
        )
    return await open_pairs_of(session, relation_id)


async def save_score(
    session: AsyncSession,
    a: uuid.UUID,
    b: uuid.UUID,
    result: Score,
    *,
    found_by: str,
    min_stars: int,
) -> None:
    """Insert, rescore, reopen or drop one pair; announces pairs new to the queue."""
    first, second = ordered(a, b)
    params = {"f": first, "s": second}
    current = (
        (
            await session.execute(
                text(
                    "SELECT * FROM duplicate_pairs WHERE first_id = :f AND second_id = :s"
                    " FOR UPDATE"
                ),
                params,
            )
        )
        .mappings()
        .first()
    )
    reasons = [r.model_dump() for r in result.reasons]
    if current is not None and current["status"] not in UPDATABLE:
        return  # decided (or being merged): a new score changes nothing
    if result.stars < min_stars:
        if current is not None and current["status"] == "open":
            # No longer alike enough: out of the queue (found again if they grow alike).
            await session.execute(
                text("DELETE FROM duplicate_pairs WHERE pair_id = :p"), {"p": current["pair_id"]}
            )
        return
    if current is not None:
        await session.execute(
            text(
                "UPDATE duplicate_pairs SET stars = :stars, points = :points,"
                " reasons = CAST(:reasons AS jsonb), status = 'open', scored_at = now()"
                " WHERE pair_id = :p"
            ),
            {
                "p": current["pair_id"],
                "stars": result.stars,
                "points": result.points,
                "reasons": _json(reasons),
            },
        )
        if current["status"] == "open":
            return
    pair = Pair(
        pair_id=current["pair_id"] if current is not None else uuid.uuid4(),
        first_id=first,
        second_id=second,
        stars=result.stars,
        points=result.points,
        reasons=reasons,
        status="open",
    )
    if current is None:
        await session.execute(
            text(
                "INSERT INTO duplicate_pairs (pair_id, first_id, second_id, stars, points,"
                " reasons, status, found_by) VALUES (:p, :f, :s, :stars, :points,"
                " CAST(:reasons AS jsonb), 'open', :found_by)"
            ),
            {
                **params,
                "p": pair.pair_id,
                "stars": pair.stars,
                "points": pair.points,
                "reasons": _json(reasons),
                "found_by": found_by,
            },
        )
    await publishing.announce(
        session,
        event_type=AutomationEventType.DUPLICATE_FOUND,
        subject_id=first,
        payload=DuplicateFoundPayload(pair=pair.state(), found_by=found_by),
    )


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def open_pairs_of(session: AsyncSession, relation_id: uuid.UUID) -> list[Pair]:
    rows = await session.execute(
        text(
            "SELECT * FROM duplicate_pairs WHERE (first_id = :r OR second_id = :r)"
            " AND status = 'open' ORDER BY stars DESC, points DESC"
        ),
        {"r": relation_id},
    )
    return [Pair.from_row(row) for row in rows.mappings()]


async def profiles(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Profile]:
    rows = await session.execute(
        text(
            "SELECT relation_id, profile FROM relation_profiles WHERE relation_id = ANY(:ids)"
        ).bindparams(bindparam("ids", type_=ARRAY(Uuid))),
        {"ids": ids},
    )
    return {row.relation_id: Profile.from_json(row.profile) for row in rows}
