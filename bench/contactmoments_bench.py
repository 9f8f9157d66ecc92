"""Timeline benchmark of the contact moments service: keyset paging against OFFSET paging.

Creates a fresh PostgreSQL database, starts the contact moments API as a real uvicorn process on
loopback, logs one relation's moments (10,000 by default) among other relations' moments through
``POST /contact-moments``, then walks that relation's timeline page by page over HTTP, measuring
every request. The same process also serves the simplest alternative, OFFSET paging of the same
query (a bench-only route added by this file's app factory), so both go through the same HTTP
stack, serialisation and database, and their ratio survives a noisy machine. Everything it
starts is stopped by its own handle and the database is dropped at the end. The results are
appended to ``bench/RESULTS.md`` under "Contact moments".

    uv run python bench/contactmoments_bench.py --help
    uv run python bench/contactmoments_bench.py --quick
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import harness
import httpx
from fastapi import APIRouter, Depends, FastAPI, Query
from harness import HOST, RESULTS_MD, percentiles, ratio, run_workers, say

from relata_cli.tansu import free_port
from relata_common.db import asyncpg_dsn
from relata_common.web import SessionDep, internal_token_guard
from relata_contactmoments.app import create_api
from relata_contactmoments.moments import MomentRecord
from relata_contactmoments.schemas import Kind
from relata_contactmoments.settings import get_settings
from relata_contactmoments.timeline import TimelinePage, timeline_statement

TARGET_P95_MS = 20.0
KINDS = ("phone", "email", "visit", "letter", "meeting", "other")
SECTION = "## Contact moments"


# --- the app under test: the service's API plus the OFFSET alternative ----------------------


def bench_app() -> FastAPI:
    """The contact moments API with one extra route: the same timeline query, OFFSET-paged.

    Served by uvicorn in the benchmark's subprocess (``--factory``); not part of the service.
    """
    settings = get_settings()
    app = create_api(settings)
    router = APIRouter()

    @router.get("/bench/relations/{relation_id}/contact-moments-offset")
    async def offset_timeline(
        relation_id: uuid.UUID,
        session: SessionDep,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
        kind: Annotated[list[Kind] | None, Query()] = None,
    ) -> TimelinePage:
        """OFFSET paging of the timeline query: the simplest alternative to keyset paging."""
        statement = timeline_statement(relation_id, kinds=kind or ()).offset(offset)
        rows = (await session.execute(statement.limit(limit + 1))).mappings().all()
        records = [MomentRecord.from_row(row) for row in rows[:limit]]
        following = str(offset + limit) if len(rows) > limit else None
        return TimelinePage(items=[r.out() for r in records], next=following)

    guard = Depends(internal_token_guard(settings.internal_token.get_secret_value()))
    app.include_router(router, dependencies=[guard])
    return app


# --- options ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    moments: int = 10_000
    other_moments: int = 10_000
    other_relations: int = 1_000
    page_size: int = 50
    walks: int = 3
    concurrency: int = 16
    postgres_url: str = harness.POSTGRES_URL
    max_seconds: float = 600.0
    results_file: Path = RESULTS_MD
    record: bool = True
    quick: bool = False


QUICK = {"moments": 2_000, "other_moments": 2_000, "walks": 1, "max_seconds": 180.0}

OPTION_HELP: harness.OptionHelp = (
    ("moments", int, "contact moments of the measured relation"),
    ("other_moments", int, "moments of other relations in the same tables"),
    ("other_relations", int, "how many other relations those are spread over"),
    ("page_size", int, "timeline page size (limit)"),
    ("walks", int, "full walks through the timeline per paging method (all measured)"),
    ("concurrency", int, "concurrent clients while logging the moments"),
    ("postgres_url", str, "PostgreSQL server URL without a database"),
    ("max_seconds", float, "abort the whole run after this many seconds"),
    ("results_file", Path, "the Markdown file the results are appended to"),
)


def parse_options(argv: list[str] | None = None) -> Options:
    """Options from the command line; --quick shrinks every size not given explicitly."""
    parser = harness.option_parser(
        __doc__, Options(), OPTION_HELP, QUICK, "a smoke run of about a minute"
    )
    parser.add_argument("--no-record", action="store_true", help="do not append to the file")
    chosen = harness.chosen_options(parser, argv, Options(), QUICK)
    record = not chosen.pop("no_record")
    return Options(**chosen, record=record)


# --- the process and the database ------------------------------------------------------------


@dataclass
class Stack:
    options: Options
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    database: str = field(default_factory=lambda: f"relata_bench_cm_{uuid.uuid4().hex[:10]}")
    port: int = field(default_factory=free_port)
    processes: harness.Processes = field(default_factory=harness.Processes.temporary)
    databases: harness.Databases = field(default_factory=harness.Databases)

    @property
    def log_dir(self) -> Path:
        return self.processes.log_dir

    @property
    def database_url(self) -> str:
        return harness.database_url(self.options.postgres_url, self.database)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        env = harness.service_env(
            postgres_url=self.options.postgres_url,
            database_name=self.database,
            internal_token=self.token,
            log_level="WARNING",
        )
        self.processes.spawn(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "contactmoments_bench:bench_app",
                "--app-dir",
                str(Path(__file__).parent),
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env,
        )

    def client(self, connections: int = 1) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url,
            headers={"X-Internal-Token": self.token, "X-Actor-Kind": "user", "X-Actor-Id": "b"},
            timeout=httpx.Timeout(30.0, connect=5.0),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )


# --- seeding ---------------------------------------------------------------------------------


async def seed(stack: Stack, relation: uuid.UUID) -> float:
    """Log the relation's moments and the others' through the API; returns the elapsed time."""
    options = stack.options
    others = [uuid.uuid4() for _ in range(options.other_relations)]
    rng = random.Random(7)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    total = options.moments + options.other_moments

    def body(i: int) -> dict[str, Any]:
        mine = i % (total // max(1, options.moments)) == 0 if options.moments else False
        relation_ids = [relation] if mine else [rng.choice(others)]
        at = start + timedelta(minutes=rng.randrange(5 * 365 * 24 * 60))
        return {
            "kind": rng.choice(KINDS),
            "direction": "in" if i % 2 else "out",
            "subject": f"Moment {i}",
            "notes": "Talked about the membership and the next event. " * 3,
            "occurred_at": at.isoformat(),
            "relation_ids": [str(r) for r in relation_ids],
        }

    bodies = [body(i) for i in range(total)]
    mine = sum(1 for b in bodies if b["relation_ids"] == [str(relation)])
    # Top up so the relation has exactly the asked number of moments.
    for i in range(options.moments - mine):
        bodies.append({**body(total + i), "relation_ids": [str(relation)]})
    started = time.perf_counter()
    async with stack.client(options.concurrency) as client:

        async def post(i: int) -> None:
            response = await client.post("/contact-moments", json=bodies[i])
            if response.status_code != 201:
                raise RuntimeError(f"POST answered {response.status_code}: {response.text}")

        await run_workers(len(bodies), options.concurrency, post)
    return time.perf_counter() - started


# --- measuring -------------------------------------------------------------------------------


async def walk_keyset(
    client: httpx.AsyncClient, relation: uuid.UUID, page_size: int, kinds: list[str]
) -> tuple[list[float], int]:
    latencies: list[float] = []
    cursor: str | None = None
    seen = 0
    while True:
        params: dict[str, Any] = {"limit": page_size, "kind": kinds}
        if cursor:
            params["cursor"] = cursor
        started = time.perf_counter()
        response = await client.get(f"/relations/{relation}/contact-moments", params=params)
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
        page = response.json()
        seen += len(page["items"])
        cursor = page["next"]
        if cursor is None:
            return latencies, seen


async def walk_offset(
    client: httpx.AsyncClient, relation: uuid.UUID, page_size: int, kinds: list[str]
) -> tuple[list[float], int]:
    latencies: list[float] = []
    offset = 0
    seen = 0
    while True:
        params: dict[str, Any] = {"limit": page_size, "offset": offset, "kind": kinds}
        started = time.perf_counter()
        response = await client.get(
            f"/bench/relations/{relation}/contact-moments-offset", params=params
        )
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
        page = response.json()
        seen += len(page["items"])
        if page["next"] is None:
            return latencies, seen
        offset = int(page["next"])


async def compare(
    stack: Stack, relation: uuid.UUID, kinds: list[str], label: str
) -> dict[str, Any]:
    """Walk the whole timeline with both methods, alternating, ``walks`` times each."""
    options = stack.options
    keyset: list[float] = []
    offset: list[float] = []
    keyset_deep: list[float] = []
    offset_deep: list[float] = []
    async with stack.client() as client:
        await walk_keyset(client, relation, options.page_size, kinds)  # warm up both paths
        await walk_offset(client, relation, options.page_size, kinds)
        counts = set()
        for walk in range(options.walks):
            say(f"   {label}: walk {walk + 1} of {options.walks}")
            k, k_seen = await walk_keyset(client, relation, options.page_size, kinds)
            o, o_seen = await walk_offset(client, relation, options.page_size, kinds)
            counts |= {k_seen, o_seen}
            keyset += k
            offset += o
            # The last tenth of the pages: where OFFSET pays for every row it skips.
            keyset_deep += k[-max(1, len(k) // 10) :]
            offset_deep += o[-max(1, len(o) // 10) :]
    if len(counts) != 1:
        raise RuntimeError(f"the two walks saw different numbers of moments: {counts}")
    result: dict[str, Any] = {
        "moments_walked": counts.pop(),
        "pages_per_walk": len(keyset) // options.walks,
        "keyset": percentiles(keyset),
        "offset": percentiles(offset),
        "keyset_deepest_tenth": percentiles(keyset_deep),
        "offset_deepest_tenth": percentiles(offset_deep),
    }
    result["offset_over_keyset_p95"] = ratio(
        result["offset"]["p95_ms"], result["keyset"]["p95_ms"], digits=1
    )
    result["offset_over_keyset_deep_p95"] = ratio(
        result["offset_deepest_tenth"]["p95_ms"],
        result["keyset_deepest_tenth"]["p95_ms"],
        digits=1,
    )
    return result


# --- the run ---------------------------------------------------------------------------------


async def postgres_version(stack: Stack) -> str:
    connection = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        await connection.execute("VACUUM ANALYZE")
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


async def run(stack: Stack) -> dict[str, Any]:
    options = stack.options
    results: dict[str, Any] = {"machine": harness.machine_facts(Path(__file__).name)}
    await stack.databases.create(stack.database_url)
    say(f"starting the API (uvicorn) on {HOST}:{stack.port}")
    stack.start()
    await harness.wait_ready(f"{stack.url}/ready", stack.processes)
    relation = uuid.uuid4()
    say(f"logging {options.moments} moments of one relation and {options.other_moments} others")
    elapsed = await seed(stack, relation)
    results["seed_seconds"] = round(elapsed, 1)
    results["postgres"] = await postgres_version(stack)
    say(f"   done in {elapsed:.1f} s; walking the timeline, {options.page_size} per page")
    results["all_kinds"] = await compare(stack, relation, [], "all kinds")
    say(f"   {results['all_kinds']}")
    results["two_kinds"] = await compare(stack, relation, ["phone", "visit"], "kind=phone,visit")
    say(f"   {results['two_kinds']}")
    results["machine"]["loadavg_at_end"] = os.getloadavg()
    return results


def markdown(results: dict[str, Any], options: Options) -> str:
    machine = results["machine"]
    memory = machine["memory"]
    lines = [
        SECTION,
        "",
        f"{machine['date']} · {machine['nproc']} CPUs ({machine['cpu_model']}) · {memory} · "
        f"Python {machine['python']} · PostgreSQL {results['postgres']} · load "
        f"{', '.join(f'{v:.2f}' for v in machine['loadavg_at_start'])} at start",
        "",
        f"Command: `{machine['command'].strip()}`",
        "",
        f"- data: {options.moments} moments of one relation among "
        f"{options.moments + options.other_moments} (others over {options.other_relations} "
        f"relations), logged through `POST /contact-moments` in {results['seed_seconds']} s; "
        f"pages of {options.page_size}, {options.walks} full walks per method, one client, "
        "real HTTP to a uvicorn subprocess on loopback",
    ]
    for key, label in (("all_kinds", "all kinds"), ("two_kinds", "`kind=phone&kind=visit`")):
        r = results[key]
        k, o = r["keyset"], r["offset"]
        verdict = "met" if k["p95_ms"] <= TARGET_P95_MS else "NOT met"
        lines.append(
            f"- timeline, {label} ({r['moments_walked']} moments, {r['pages_per_walk']} pages): "
            f"keyset p50 {k['p50_ms']} ms, p95 {k['p95_ms']} ms, p99 {k['p99_ms']} ms "
            f"(target p95 ≤ {TARGET_P95_MS:g} ms: {verdict}); OFFSET paging of the same query "
            f"p50 {o['p50_ms']} ms, p95 {o['p95_ms']} ms, p99 {o['p99_ms']} ms — "
            f"OFFSET/keyset p95 {r['offset_over_keyset_p95']}x; deepest tenth of the pages "
            f"p95 {r['keyset_deepest_tenth']['p95_ms']} ms vs "
            f"{r['offset_deepest_tenth']['p95_ms']} ms ({r['offset_over_keyset_deep_p95']}x)"
        )
    return "\n".join(lines) + "\n"


async def main_async(options: Options) -> int:
    stack = Stack(options)
    try:
        results = await asyncio.wait_for(run(stack), timeout=options.max_seconds)
    finally:
        say("stopping the API and dropping the database")
        stack.processes.stop()
        await stack.databases.drop_all()
    section = markdown(results, options)
    print("\n" + section)
    if options.record:
        harness.append_section(section, options.results_file)
        say(f"appended to {options.results_file}")
    shutil.rmtree(stack.log_dir, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_options(argv)))


if __name__ == "__main__":
    sys.exit(main())
