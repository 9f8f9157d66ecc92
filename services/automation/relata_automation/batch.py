"""The batch run: every relation against every other that shares a blocking key, in minutes at
a million relations.

PostgreSQL finds the candidate pairs with one self-join of the blocking keys (a hash join,
linear in the keys; keys shared by more than ``max_block`` relations are left out, so no block
turns quadratic). The pairs stream back with both profiles, are scored here in chunks, and the
scores go back with COPY and one upsert. Rejected and merged pairs are never touched.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import orjson

from relata_automation.blocking import Profile
from relata_automation.scoring import score

CHUNK = 20_000

Progress = Callable[[str], None]


@dataclass
class BatchResult:
    run_id: uuid.UUID
    relations: int
    candidates: int
    proposed: int
    seconds: dict[str, float]


async def run_batch(
    connection: asyncpg.Connection,
    *,
    min_stars: int,
    max_block: int,
    progress: Progress | None = None,
    run_id: uuid.UUID | None = None,
) -> BatchResult:
    """Score every candidate pair and bring the review queue up to date."""
    say = progress or (lambda _: None)
    run_id = run_id or uuid.uuid4()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    await connection.execute(
        "INSERT INTO batch_runs (run_id) VALUES ($1) ON CONFLICT DO NOTHING", run_id
    )
    relations = await connection.fetchval("SELECT count(*) FROM relation_profiles")
    async with connection.transaction():
        await connection.execute("SET LOCAL work_mem = '256MB'")
        await connection.execute(
            "CREATE TEMP TABLE candidate_pairs ON COMMIT DROP AS"
            " SELECT DISTINCT a.relation_id AS first_id, b.relation_id AS second_id"
            " FROM blocking_keys a JOIN blocking_keys b"
            "  ON a.key = b.key AND a.relation_id < b.relation_id"
            " WHERE a.key IN (SELECT key FROM blocking_keys GROUP BY key"
            "  HAVING count(*) BETWEEN 2 AND $1)",
            max_block,
        )
        candidates = await connection.fetchval("SELECT count(*) FROM candidate_pairs")
        seconds["candidates"] = round(time.perf_counter() - started, 2)
        say(f"{candidates:,} candidate pairs among {relations:,} relations")
        scored_rows = await _score_all(connection, min_stars, say)
        seconds["scoring"] = round(time.perf_counter() - started - seconds["candidates"], 2)
        proposed = await _store(connection, scored_rows)
    seconds["total"] = round(time.perf_counter() - started, 2)
    await connection.execute(
        "UPDATE batch_runs SET finished_at = now(), relations = $2, candidates = $3,"
        " proposed = $4, seconds = $5 WHERE run_id = $1",
        run_id,
        relations,
        candidates,
        proposed,
        orjson.dumps(seconds).decode(),
    )
    say(f"{proposed:,} pairs proposed in {seconds['total']} s")
    return BatchResult(run_id, relations, candidates, proposed, seconds)


async def _score_all(
    connection: asyncpg.Connection, min_stars: int, say: Progress
) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, int, int, str]]:
    rows: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, int, int, str]] = []
    done = 0
    cursor = connection.cursor(
        "SELECT c.first_id, c.second_id, a.profile::text, b.profile::text"
        " FROM candidate_pairs c"
        " JOIN relation_profiles a ON a.relation_id = c.first_id"
        " JOIN relation_profiles b ON b.relation_id = c.second_id",
        prefetch=CHUNK,
    )
    async for first_id, second_id, left, right in cursor:
        a = Profile.from_json(orjson.loads(left))
        b = Profile.from_json(orjson.loads(right))
        done += 1
        if done % 100_000 == 0:
            say(f"scored {done:,} pairs")
        if a.relation_type != b.relation_type:
            continue
        result = score(a, b)
        if result.stars >= min_stars:
            reasons = orjson.dumps(result.reasons_as_dicts()).decode()
            rows.append((uuid.uuid4(), first_id, second_id, result.stars, result.points, reasons))
    return rows


async def _store(
    connection: asyncpg.Connection,
    rows: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, int, int, str]],
) -> int:
    await connection.execute(
        "CREATE TEMP TABLE scored (pair_id uuid, first_id uuid, second_id uuid, stars int,"
        " points int, reasons text) ON COMMIT DROP"
    )
    await connection.copy_records_to_table("scored", records=rows)
    result = await connection.execute(
        "INSERT INTO duplicate_pairs (pair_id, first_id, second_id, stars, points, reasons,"
        " status, found_by)"
        " SELECT pair_id, first_id, second_id, stars, points, reasons::jsonb, 'open', 'batch'"
        " FROM scored"
        " ON CONFLICT (first_id, second_id) DO UPDATE SET stars = excluded.stars,"
        " points = excluded.points, reasons = excluded.reasons, status = 'open',"
        " scored_at = now()"
        " WHERE duplicate_pairs.status IN ('open', 'closed')"
    )
    return int(result.split()[-1])
