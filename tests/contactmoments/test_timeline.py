"""A relation's timeline: newest first, keyset-paged, filtered by kind and period."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from sqlalchemy import tuple_
from sqlalchemy.dialects import postgresql

from relata_contactmoments.models import contact_moment_links as links
from relata_contactmoments.timeline import Cursor, timeline_statement
from tests.contactmoments.conftest import log, moment

KINDS = ("phone", "email", "visit", "letter", "meeting", "other")
START = datetime(2024, 1, 1, tzinfo=UTC)


async def _log_many(client: httpx.AsyncClient, bodies: list[dict]) -> list[dict]:
    logged: list[dict] = []
    for start in range(0, len(bodies), 20):
        logged += await asyncio.gather(*(log(client, b) for b in bodies[start : start + 20]))
    return logged


async def _walk(client: httpx.AsyncClient, url: str, **params) -> tuple[list[dict], int]:
    items: list[dict] = []
    pages = 0
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            return items, pages


def _newest_first(moments: list[dict]) -> list[str]:
    ordered = sorted(
        moments,
        key=lambda m: (datetime.fromisoformat(m["occurred_at"]), m["contact_moment_id"]),
        reverse=True,
    )
    return [m["contact_moment_id"] for m in ordered]


async def test_timeline_pages_newest_first_without_gaps_or_repeats(cm_api: httpx.AsyncClient):
    relation, other = uuid.uuid4(), uuid.uuid4()
    bodies = []
    for i in range(230):
        # Every tenth instant is shared by three moments: the id must break the tie.
        at = START + timedelta(hours=(i // 3) if i % 10 == 0 else i * 7)
        bodies.append(
            moment([relation], kind=KINDS[i % 6], occurred_at=at.isoformat(), subject=f"m{i}")
        )
    bodies += [moment([other], subject=f"other{i}") for i in range(20)]
    bodies += [moment([relation, other], subject=f"both{i}") for i in range(5)]
    logged = await _log_many(cm_api, bodies)
    mine = [m for m in logged if str(relation) in m["relation_ids"]]
    url = f"/relations/{relation}/contact-moments"

    items, pages = await _walk(cm_api, url, limit=25)
    assert pages == 10  # 235 moments: nine full pages and one of ten
    assert [m["contact_moment_id"] for m in items] == _newest_first(mine)

    first = (await cm_api.get(url)).json()
    assert len(first["items"]) == 50 and first["next"]
    last_page = await cm_api.get(url, params={"limit": 200, "cursor": first["next"]})
    assert len(last_page.json()["items"]) == 185 and last_page.json()["next"] is None


async def test_timeline_filters_by_kinds_and_period(cm_api: httpx.AsyncClient):
    relation = uuid.uuid4()
    bodies = [
        moment([relation], kind=KINDS[i % 6], occurred_at=(START + timedelta(days=i)).isoformat())
        for i in range(120)
    ]
    logged = await _log_many(cm_api, bodies)
    url = f"/relations/{relation}/contact-moments"

    calls, _ = await _walk(cm_api, url, limit=7, kind=["phone", "visit"])
    expected = [m for m in logged if m["kind"] in ("phone", "visit")]
    assert [m["contact_moment_id"] for m in calls] == _newest_first(expected)

    period = {"from": "2024-02-01", "to": "2024-03-01T00:00:00+00:00"}
    in_february, _ = await _walk(cm_api, url, limit=5, **period)
    assert len(in_february) == 29  # 2024 is a leap year; 'to' is exclusive
    assert all(m["occurred_at"].startswith("2024-02") for m in in_february)

    both, _ = await _walk(cm_api, url, limit=3, kind="email", **period)
    assert {m["kind"] for m in both} == {"email"}
    assert [m["contact_moment_id"] for m in both] == _newest_first(
        [m for m in in_february if m["kind"] == "email"]
    )


async def test_timeline_refuses_bad_queries_by_name(cm_api: httpx.AsyncClient):
    url = f"/relations/{uuid.uuid4()}/contact-moments"
    cases: dict[tuple[str | int, ...], dict[str, str | int]] = {
        ("query", "cursor"): {"cursor": "not-a-cursor"},
        ("query", "kind", 0): {"kind": "telepathy"},
        ("query", "limit"): {"limit": 0},
        ("query", "to"): {"from": "2024-03-01", "to": "2024-02-01"},
        ("query", "from"): {"from": "yesterday"},
    }
    for loc, params in cases.items():
        response = await cm_api.get(url, params=params)
        assert response.status_code == 422, params
        assert list(loc) in [e["loc"] for e in response.json()["detail"]], response.text
    empty = await cm_api.get(url)
    assert empty.status_code == 200 and empty.json() == {"items": [], "next": None}


async def test_a_deep_page_of_ten_thousand_is_one_index_range_scan(
    cm_api: httpx.AsyncClient, cm_db: asyncpg.Connection
):
    """10,000 moments of one relation among 30,000: no sort, no OFFSET, the timeline index."""
    relation = uuid.uuid4()
    await cm_db.execute(
        """
        WITH made AS (
            INSERT INTO contact_moments
                (id, version, kind, direction, subject, occurred_at, relation_ids)
            SELECT gen_random_uuid(), 1, (ARRAY['phone','email','visit'])[1 + i % 3], 'in',
                   'bulk ' || i, now() - i * interval '1 hour',
                   ARRAY[CASE WHEN i % 3 = 0 THEN $1::uuid ELSE gen_random_uuid() END]
            FROM generate_series(1, 30000) AS i
            RETURNING id, occurred_at, kind, relation_ids[1] AS relation_id
        )
        INSERT INTO contact_moment_links (contact_moment_id, relation_id, occurred_at, kind)
        SELECT id, relation_id, occurred_at, kind FROM made
        """,
        relation,
    )
    await cm_db.execute("ANALYZE")
    url = f"/relations/{relation}/contact-moments"
    items, pages = await _walk(cm_api, url, limit=200)
    assert len(items) == 10_000 and pages == 50
    last = items[-201]
    cursor = Cursor(
        datetime.fromisoformat(last["occurred_at"]), uuid.UUID(last["contact_moment_id"])
    )
    statement = (
        timeline_statement(relation, kinds=["phone", "email"])
        .where(
            tuple_(links.c.occurred_at, links.c.contact_moment_id)
            < tuple_(cursor.occurred_at, cursor.contact_moment_id)
        )
        .limit(51)
    )
    sql = str(
        statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )
    plan = "\n".join(r[0] for r in await cm_db.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"))
    assert "ix_contact_moment_links_timeline" in plan, plan
    # The cursor bounds the scan itself (an index condition), not a filter over earlier rows.
    assert "Index Cond: ((relation_id = " in plan and "occurred_at, contact_moment_id) <" in plan
    assert "Sort" not in plan, plan
