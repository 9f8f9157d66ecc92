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
from relata_automation.models import outbox, relation_profiles
from relata_automation.scoring import Score, score
from relata_common.events import (
    AUTOMATION_TOPIC,
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


async def store_relations(
    session: AsyncSession, states: list[RelationState]
) -> dict[uuid.UUID, Profile]:
    """Store profiles and keys of many relations in a few statements; returns those stored
    (an event older than what is held stores nothing)."""
    newest: dict[uuid.UUID, RelationState] = {}
    for state in states:
        held = newest.get(state.relation_id)
        if held is None or held.version < state.version:
            newest[state.relation_id] = state
    if not newest:
        return {}
    made = {i: profile_of(s.relation_type, s.fields) for i, s in newest.items()}
    statement = insert(relation_profiles).values(
        [
            {
                "relation_id": i,
                "relation_type": s.relation_type,
                "version": s.version,
                "profile": made[i].to_json(),
                "created_at": s.created_at,
                "updated_at": s.updated_at,
            }
            for i, s in newest.items()
        ]
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[relation_profiles.c.relation_id],
        set_={
            "version": statement.excluded.version,
            "profile": statement.excluded.profile,
            "updated_at": statement.excluded.updated_at,
        },
        where=relation_profiles.c.version < statement.excluded.version,
    ).returning(relation_profiles.c.relation_id)
    stored: list[uuid.UUID] = list((await session.execute(upsert)).scalars())
    if not stored:
        return {}
    await session.execute(
        text("DELETE FROM blocking_keys WHERE relation_id = ANY(:ids)").bindparams(
            bindparam("ids", type_=ARRAY(Uuid))
        ),
        {"ids": stored},
    )
    keys = [{"key": k, "relation_id": i} for i in stored for k in blocking_keys(made[i])]
    if keys:
        await session.execute(keys_table.insert(), keys)
    return {i: made[i] for i in stored}


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


async def candidates(
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


async def _candidates_of_many(
    session: AsyncSession, ids: list[uuid.UUID], *, max_block: int, limit: int
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Per relation: those sharing a usable key with it, and those already paired with it."""
    found: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in ids}
    ids_param = bindparam("ids", type_=ARRAY(Uuid))
    rows = await session.execute(
        text(
            "WITH mine AS (SELECT key, relation_id FROM blocking_keys"
            "  WHERE relation_id = ANY(:ids)),"
            " usable AS (SELECT key FROM blocking_keys WHERE key IN (SELECT key FROM mine)"
            "  GROUP BY key HAVING count(*) <= :max_block)"
            " SELECT DISTINCT m.relation_id AS me, o.relation_id AS other"
            " FROM mine m JOIN blocking_keys o ON o.key = m.key AND o.relation_id <> m.relation_id"
            " WHERE m.key IN (SELECT key FROM usable)"
        ).bindparams(ids_param),
        {"ids": ids, "max_block": max_block},
    )
    for me, other in rows.tuples():
        if len(found[me]) < limit:
            found[me].append(other)
    paired = await session.execute(
        text(
            "SELECT first_id, second_id FROM duplicate_pairs"
            " WHERE (first_id = ANY(:ids) OR second_id = ANY(:ids))"
            " AND status IN ('open', 'closed')"
        ).bindparams(ids_param),
        {"ids": ids},
    )
    for first, second in paired.tuples():
        for me, other in ((first, second), (second, first)):
            if me in found and other not in found[me]:
                found[me].append(other)
    return found


async def detect_many(
    session: AsyncSession,
    stored: dict[uuid.UUID, Profile],
    *,
    found_by: dict[uuid.UUID, str],
    min_stars: int,
    max_block: int,
    max_candidates: int,
) -> None:
    """Score each stored relation against its candidates and bring their pairs up to date:
    new pairs enter the queue, known ones are rescored, decided ones stay as they are."""
    if not stored:
        return
    candidates = await _candidates_of_many(
        session, list(stored), max_block=max_block, limit=max_candidates
    )
    known = dict(stored)
    missing = {o for others in candidates.values() for o in others if o not in known}
    known |= await profiles(session, list(missing))
    scores: dict[tuple[uuid.UUID, uuid.UUID], tuple[Score, str]] = {}
    for me, others in candidates.items():
        for other in others:
            pair = ordered(me, other)
            if pair in scores or other not in known:
                continue
            if known[me].relation_type != known[other].relation_type:
                continue
            scores[pair] = (score(known[pair[0]], known[pair[1]]), found_by[me])
    await save_scores(session, scores, min_stars=min_stars)


async def save_scores(
    session: AsyncSession,
    scores: dict[tuple[uuid.UUID, uuid.UUID], tuple[Score, str]],
    *,
    min_stars: int,
) -> None:
    """Insert, rescore, reopen or drop pairs in a few statements; announces pairs new to the
    queue. Rows are locked in pair order, so two workers cannot deadlock over them."""
    if not scores:
        return
    pairs = sorted(scores)
    rows = await session.execute(
        text(
            "SELECT d.* FROM duplicate_pairs d"
            " JOIN unnest(:firsts, :seconds) AS p(f, s) ON d.first_id = p.f AND d.second_id = p.s"
            " ORDER BY d.first_id, d.second_id FOR UPDATE OF d"
        ).bindparams(
            bindparam("firsts", type_=ARRAY(Uuid)), bindparam("seconds", type_=ARRAY(Uuid))
        ),
        {"firsts": [p[0] for p in pairs], "seconds": [p[1] for p in pairs]},
    )
    current = {(r["first_id"], r["second_id"]): r for r in rows.mappings()}
    inserts, updates, deletes, found = [], [], [], []
    for pair in pairs:
        result, found_by = scores[pair]
        row = current.get(pair)
        if row is not None and row["status"] not in UPDATABLE:
            continue  # decided (or being merged): a new score changes nothing
        if result.stars < min_stars:
            if row is not None and row["status"] == "open":
                # No longer alike enough: out of the queue (found again if they grow alike).
                deletes.append(row["pair_id"])
            continue
        reasons = result.reasons_as_dicts()
        values = {
            "stars": result.stars,
            "points": result.points,
            "reasons": _json(reasons),
        }
        if row is not None:
            updates.append({**values, "p": row["pair_id"]})
            if row["status"] == "open":
                continue
        pair_id = row["pair_id"] if row is not None else uuid.uuid4()
        if row is None:
            inserts.append(
                {**values, "p": pair_id, "f": pair[0], "s": pair[1], "found_by": found_by}
            )
        found.append(
            publishing.PUBLISHER.event(
                AUTOMATION_TOPIC,
                AutomationEventType.DUPLICATE_FOUND,
                pair[0],
                DuplicateFoundPayload(
                    pair=Pair(
                        pair_id, pair[0], pair[1], result.stars, result.points, reasons, "open"
                    ).state(),
                    found_by=found_by,
                ),
            )
        )
    if deletes:
        await session.execute(
            text("DELETE FROM duplicate_pairs WHERE pair_id = ANY(:ids)").bindparams(
                bindparam("ids", type_=ARRAY(Uuid))
            ),
            {"ids": deletes},
        )
    if updates:
        await session.execute(
            text(
                "UPDATE duplicate_pairs SET stars = :stars, points = :points,"
                " reasons = CAST(:reasons AS jsonb), status = 'open', scored_at = now()"
                " WHERE pair_id = :p"
            ),
            updates,
        )
    if inserts:
        await session.execute(
            text(
                "INSERT INTO duplicate_pairs (pair_id, first_id, second_id, stars, points,"
                " reasons, status, found_by) VALUES (:p, :f, :s, :stars, :points,"
                " CAST(:reasons AS jsonb), 'open', :found_by)"
                # Another worker may find the same pair at the same moment.
                " ON CONFLICT (first_id, second_id) DO NOTHING"
            ),
            inserts,
        )
    await outbox.add_many(session, found)


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
