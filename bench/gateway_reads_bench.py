"""Benchmark of the gateway's relation reads at scale, uncached: the card of a donor (with its
donation summary and registrations) and the paged donations, at up to 1,000,000 relations.

Part of the gateway benchmark (it starts the same stack as ``gateway_bench.py``): a Tansu
broker, fresh databases named ``relata_bench_don_*`` (dropped at the end), Redis (flushed
before and after) and as uvicorn processes the relations, lists and gateway APIs. The data is
written straight into the services' databases with ``generate_series`` (as the services would
hold it after the events): ``--relations`` persons in the relations service, the same in the
lists read model and in the view's base list, donations for most of them (0 to 6 each, every
1,000th relation 200) and two event registrations for every third relation. Then a few clients
(one user each) read in a closed loop, each request for a random relation whose cached card
parts were deleted from Redis right before it: what a user opening a card nobody opened
recently waits for.

Reads are measured in rounds (``--repeats``), each read once per round in turn, so a change in
the machine's load shows as spread between rounds rather than as a difference between reads.
Other reads of a relation are added by URL template (``--read name=/path``, repeatable) with
``{view_id}``, ``{relation_id}``, ``{base_list_id}`` and ``{plain_view_id}`` (a view of the
same relations whose form shows no donations) filled in, e.g. the duplicate queue or
why-in-list once they exist::

    uv run python bench/gateway_reads_bench.py --relations 10000
    uv run python bench/gateway_reads_bench.py --relations 1000000 --repeats 3 \\
        --read 'why_in_list=/views/{view_id}/relations/{relation_id}/lists/{base_list_id}/why'
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import harness
from gateway_bench import ADMIN_PASSWORD, VIEW_FILTER, Stack, log_in, wait_ready
from harness import RESULTS_DIR, keepalive_client, latency_summary, say, verdict
from redis.asyncio import Redis

TARGET_P95_MS = 25.0
FORM = [
    {"name": "Person", "fields": ["first_name", "last_name", "emails", "addresses"]},
    {"name": "Donations", "fields": ["donations", "registrations", "lists"]},
]
PLAIN_FORM = FORM[:1]
CARD = "/views/{view_id}/relations/{relation_id}"
BUILT_IN_READS = {
    "card_with_donations": CARD,
    "donations_page": CARD + "/donations?limit=20",
    "card_without_donations": "/views/{plain_view_id}/relations/{relation_id}",
}
"""The card of a view whose form shows donations and registrations, their page, and (the
baseline in the same run) the same relation's card in a view whose form shows neither."""
PARTS = ("relation", "contact_moments", "lists", "properties", "facts")
"""The card parts the gateway caches (relata_gateway.cache.PARTS), deleted before each read."""


@dataclass(frozen=True)
class Options:
    relations: int = 10_000
    clients: int = 4
    requests: int = 1_000
    repeats: int = 3
    read: tuple[str, ...] = ()
    postgres_url: str = harness.POSTGRES_URL
    redis_url: str = "redis://127.0.0.1:6379/14"
    log_level: str = "WARNING"
    max_seconds: float = 1_800.0
    output_dir: Path = RESULTS_DIR
    quick: bool = False
    # What gateway_bench's Stack reads of its options and this benchmark does not use.
    profile_seconds: float = 0.0
    profile_phase: str = "cards"


QUICK = {"relations": 2_000, "requests": 200, "repeats": 2, "max_seconds": 300.0}
OPTION_HELP: harness.OptionHelp = (
    ("relations", int, "relations (persons) in the view, written straight into the databases"),
    ("clients", int, "concurrent clients, one user each, in a closed loop"),
    ("requests", int, "requests per read per round"),
    ("repeats", int, "rounds; each read is measured once per round"),
    ("postgres_url", str, "PostgreSQL server URL (a database per service is created)"),
    ("redis_url", str, "Redis database for the gateway (flushed before and after)"),
    ("log_level", str, "log level of the services"),
    ("max_seconds", float, "give up after this many seconds (everything is still cleaned up)"),
    ("output_dir", Path, "where the JSON results go"),
)


def parse_options(argv: list[str] | None = None) -> Options:
    parser = harness.option_parser(
        __doc__, Options(), OPTION_HELP, QUICK, "a smoke run of a few minutes"
    )
    parser.add_argument(
        "--read",
        action="append",
        default=None,
        metavar="NAME=PATH",
        help="another read of one relation, measured like the built-in ones (repeatable); "
        "PATH may use {view_id}, {relation_id} and {base_list_id}",
    )
    chosen = harness.chosen_options(parser, argv, Options(), QUICK)
    chosen["read"] = tuple(chosen["read"] or ())
    for item in chosen["read"]:
        name, _, path = item.partition("=")
        if not name or not path.startswith("/"):
            parser.error(f"--read {item!r}: give NAME=/path")
    options = Options(**chosen)
    if options.relations < 1_000:
        parser.error("--relations: at least 1000 (every 1,000th relation is a heavy donor)")
    return options


class ReadsStack(Stack):
    """The gateway benchmark's stack under database names of its own."""

    def database(self, service: str) -> str:
        return f"relata_bench_don_{service}_{self.tag}"


async def start(stack: ReadsStack) -> None:
    """The broker, the databases and the three APIs a card of a donor needs."""
    say(f"starting the Tansu broker; logs in {stack.log_dir}")
    stack.broker = harness.start_broker(stack.log_dir)
    for service in ("relations", "lists", "contactmoments", "gateway"):
        await stack.databases.create(
            harness.database_url(stack.options.postgres_url, stack.database(service))
        )
    redis = Redis.from_url(stack.options.redis_url)
    await redis.flushdb()
    await redis.aclose()
    for service in ("relations", "lists", "gateway"):
        say(f"starting relata-{service} api")
        stack.spawn(service, "api")
        await wait_ready(stack, f"{service}-api")


# --- seeding -----------------------------------------------------------------------------------

RELATION_ID = "md5('relation-' || i)::uuid"
"""The id of relation i, the same in every database (and in ``relation_id``)."""


def relation_id(i: int) -> str:
    return str(uuid.UUID(hashlib.md5(f"relation-{i}".encode()).hexdigest()))


SEED_RELATIONS = f"""
INSERT INTO relations (id, relation_type, version, status, fields)
SELECT {RELATION_ID}, 'person', 1, 'active', jsonb_build_object(
    'first_name', (ARRAY['Jan','Marie','Piet','Anna','Kees','Sanne','Tom','Eva'])[i % 8 + 1],
    'last_name', 'Donor' || i,
    'emails', jsonb_build_array(jsonb_build_object('address', 'p' || i || '@example.org')),
    'addresses', jsonb_build_array(jsonb_build_object(
        'street', 'Oudegracht', 'house_number', i::text, 'city', 'Utrecht')))
FROM generate_series($1::int, $2::int) AS i
"""
SEED_READ_MODEL = f"""
INSERT INTO rm_relations (relation_id, version, relation_type, status, relation_number,
                          display_name, sort_name, first_name, last_name, cities, emails)
SELECT {RELATION_ID}, 1, 'person', 'active', 100000 + i,
       'Jan Donor' || i, 'donor' || i || ' jan', 'Jan', 'Donor' || i,
       ARRAY['utrecht'], ARRAY['p' || i || '@example.org']
FROM generate_series($1::int, $2::int) AS i
"""
SEED_MEMBERS = f"""
INSERT INTO memberships (list_id, relation_id)
SELECT $3::uuid, {RELATION_ID} FROM generate_series($1::int, $2::int) AS i
"""
SEED_DONATIONS = f"""
INSERT INTO rm_donations (donation_id, relation_id, amount, received_on, currency, campaign)
SELECT md5('donation-' || i || '-' || j)::uuid, {RELATION_ID},
       ((i * 7 + j * 13) % 95 + 5)::numeric(14, 2),
       DATE '2026-12-01' - ((i * 31 + j * 97) % 1500),
       CASE WHEN i % 50 = 0 THEN 'USD' ELSE 'EUR' END,
       CASE WHEN j % 3 = 0 THEN 'Christmas appeal' END
FROM generate_series($1::int, $2::int) AS i,
     generate_series(1, CASE WHEN i % 1000 = 0 THEN 200 ELSE i % 7 END) AS j
"""
SEED_REGISTRATIONS = f"""
INSERT INTO rm_registrations (registration_id, relation_id, event_code, status, event_date,
                              registered_at)
SELECT md5('registration-' || i || '-' || j)::uuid, {RELATION_ID},
       'EVENT-' || (i % 40 + j), CASE WHEN j = 2 AND i % 9 = 0 THEN 'cancelled' ELSE
       'registered' END, DATE '2026-12-01' - (i % 700), now() - (i % 700) * interval '1 day'
FROM generate_series($1::int, $2::int) AS i, generate_series(1, 2) AS j
WHERE i % 3 = 0
"""
CHUNK = 100_000


def _dsn(stack: ReadsStack, service: str) -> str:
    url = harness.database_url(stack.options.postgres_url, stack.database(service))
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _in_chunks(connection: asyncpg.Connection, sql: str, total: int, *args: Any) -> None:
    for start in range(1, total + 1, CHUNK):
        await connection.execute(sql, start, min(total, start + CHUNK - 1), *args)


async def seed_databases(stack: ReadsStack, base_list_ids: list[str]) -> dict[str, Any]:
    """The relations, the read model and the views' base lists; seconds and row counts."""
    total = stack.options.relations
    facts: dict[str, Any] = {}
    started = time.perf_counter()
    relations = await asyncpg.connect(_dsn(stack, "relations"))
    try:
        await _in_chunks(relations, SEED_RELATIONS, total)
        await relations.execute("VACUUM ANALYZE relations")
    finally:
        await relations.close()
    facts["relations_s"] = round(time.perf_counter() - started, 1)
    say(f"   {total} relations in the relations service in {facts['relations_s']} s")
    started = time.perf_counter()
    lists = await asyncpg.connect(_dsn(stack, "lists"))
    try:
        await _in_chunks(lists, SEED_READ_MODEL, total)
        for base_list_id in base_list_ids:
            await _in_chunks(lists, SEED_MEMBERS, total, base_list_id)
        await _in_chunks(lists, SEED_DONATIONS, total)
        await _in_chunks(lists, SEED_REGISTRATIONS, total)
        await lists.execute("VACUUM ANALYZE")
        for table in ("rm_relations", "memberships", "rm_donations", "rm_registrations"):
            facts[f"{table}_rows"] = await lists.fetchval(f"SELECT count(*) FROM {table}")
        facts["rm_donations_mb"] = round(
            await lists.fetchval("SELECT pg_total_relation_size('rm_donations')") / 2**20
        )
    finally:
        await lists.close()
    facts["lists_s"] = round(time.perf_counter() - started, 1)
    say(f"   the lists read model in {facts['lists_s']} s: {facts}")
    return facts


@dataclass
class World:
    view_id: str
    base_list_id: str
    plain_view_id: str
    users: list[dict[str, str]]
    seeding: dict[str, Any] = field(default_factory=dict)


async def seed(stack: ReadsStack) -> World:
    options = stack.options
    create_admin = await asyncio.create_subprocess_exec(
        harness.executable("relata-gateway"),
        *("create-admin", "--username", "admin", "--password", ADMIN_PASSWORD),
        env=stack.env("gateway"),
        stdout=asyncio.subprocess.DEVNULL,
    )
    if await create_admin.wait() != 0:
        raise RuntimeError("relata-gateway create-admin failed")
    async with keepalive_client(stack.url("gateway-api"), 4) as gateway:
        admin = await log_in(gateway, "admin", ADMIN_PASSWORD)
        view = await gateway.post(
            "/admin/views",
            json={"name": "Donors", "base_filter": VIEW_FILTER, "form": {"tabs": FORM}},
            headers=admin,
        )
        view.raise_for_status()
        view_id, base = view.json()["view_id"], view.json()["lists"][0]["list_id"]
        plain = await gateway.post(
            "/admin/views",
            json={"name": "Persons", "base_filter": VIEW_FILTER, "form": {"tabs": PLAIN_FORM}},
            headers=admin,
        )
        plain.raise_for_status()
        plain_id, plain_base = plain.json()["view_id"], plain.json()["lists"][0]["list_id"]
        users = []
        for u in range(options.clients):
            password = f"bench-user-{u}-password"
            created = await gateway.post(
                "/users",
                json={
                    "username": f"u{u}",
                    "display_name": f"U{u}",
                    "password": password,
                    "role": "staff",
                },
                headers=admin,
            )
            created.raise_for_status()
            for granted in (view_id, plain_id):
                grant = await gateway.put(
                    f"/admin/views/{granted}/grants",
                    json={"user_id": created.json()["user_id"], "can_edit": False},
                    headers=admin,
                )
                grant.raise_for_status()
            users.append(await log_in(gateway, f"u{u}", password))
    say(f"writing {options.relations} relations with donations into the databases")
    facts = await seed_databases(stack, [base, plain_base])
    return World(view_id, base, plain_id, users, facts)


# --- measuring ---------------------------------------------------------------------------------


async def measure(
    stack: ReadsStack, world: World, template: str, relations: list[int]
) -> dict[str, Any]:
    """``clients`` closed-loop clients, one request per relation; the relation's cached card
    parts are deleted right before its request (outside the timed part)."""
    clients = stack.options.clients
    redis = Redis.from_url(stack.options.redis_url)
    latencies: list[float] = []
    failures: dict[int, int] = {}
    began = time.perf_counter()

    async def client(who: int) -> None:
        connection = harness.lean_connection(stack.url("gateway-api"))
        try:
            for i in relations[who::clients]:
                rid = relation_id(i)
                await redis.delete(*(f"card:{part}:{rid}" for part in PARTS))
                path = template.format(
                    view_id=world.view_id,
                    relation_id=rid,
                    base_list_id=world.base_list_id,
                    plain_view_id=world.plain_view_id,
                )
                start = time.perf_counter()
                status, _ = await connection.get(path, world.users[who])
                latencies.append(time.perf_counter() - start)
                if status != 200:
                    failures[status] = failures.get(status, 0) + 1
        finally:
            await connection.close()

    try:
        await asyncio.gather(*(client(w) for w in range(clients)))
    finally:
        await redis.aclose()
    elapsed = time.perf_counter() - began
    return {
        **latency_summary(latencies, elapsed),
        "failures": sum(failures.values()),
        "failures_by_status": {str(k): v for k, v in failures.items()},
    }


def reads_of(options: Options) -> dict[str, str]:
    extra = dict(item.split("=", 1) for item in options.read)
    return {**BUILT_IN_READS, **extra}


async def run(stack: ReadsStack, options: Options) -> dict[str, Any]:
    rng = random.Random(11)
    await start(stack)
    world = await seed(stack)
    reads = reads_of(options)
    say("one round unmeasured (first connections, the services' first queries)")
    for template in reads.values():
        await measure(stack, world, template, rng.sample(range(1, options.relations + 1), 50))
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in reads}
    for round_number in range(1, options.repeats + 1):
        for name, template in reads.items():
            sample = [rng.randint(1, options.relations) for _ in range(options.requests)]
            measured = await measure(stack, world, template, sample)
            measured["loadavg"] = [round(x, 2) for x in os.getloadavg()]
            rounds[name].append(measured)
            say(f"round {round_number} {name}: {measured}")
    return {"seeding": world.seeding, "reads": reads, "rounds": rounds}


def summary(rounds: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per read: the median round's figures and the spread of p95 over the rounds."""
    out = {}
    for name, measured in rounds.items():
        p95s = [m["p95_ms"] for m in measured]
        median = sorted(measured, key=lambda m: m["p95_ms"])[len(measured) // 2]
        out[name] = {
            "p50_ms": median["p50_ms"],
            "p95_ms": round(statistics.median(p95s), 2),
            "p99_ms": median["p99_ms"],
            "max_ms": max(m["max_ms"] for m in measured),
            "per_second": median["per_second"],
            "p95_spread_ms": [min(p95s), max(p95s)],
            "failures": sum(m["failures"] for m in measured),
            "requests": sum(m["count"] for m in measured),
        }
    return out


def print_table(results: dict[str, Any]) -> None:
    print("\n| read | p50 | p95 (median of rounds) | p99 | max | p95 over rounds | rate | failed |")
    print("|---|---|---|---|---|---|---|---|")
    for name, s in results["summary"].items():
        low, high = s["p95_spread_ms"]
        print(
            f"| {name} | {s['p50_ms']} ms | {s['p95_ms']} ms | {s['p99_ms']} ms | "
            f"{s['max_ms']} ms | {low} to {high} ms | {s['per_second']}/s | "
            f"{s['failures']} of {s['requests']} |"
        )
    harness.print_targets(results["targets"])


async def main(options: Options) -> int:
    stack = ReadsStack(options)  # type: ignore[arg-type]  # the Stack reads what it needs
    facts = harness.machine_facts(Path(__file__).name)
    try:
        measured = await asyncio.wait_for(run(stack, options), timeout=options.max_seconds)
    finally:
        say("stopping every process, dropping the databases, flushing Redis")
        await stop(stack)
    facts["loadavg_at_end"] = os.getloadavg()
    results = {"machine": facts, "options": asdict(options) | {"output_dir": None}, **measured}
    results["summary"] = summary(measured["rounds"])
    results["targets"] = {
        f"{name} p95 ms (uncached)": verdict(s["p95_ms"], TARGET_P95_MS, at_most=True)
        for name, s in results["summary"].items()
    }
    path = harness.write_json(results, options.output_dir, "gateway-reads")
    print_table(results)
    say(f"results in {path}")
    return 0


async def stop(stack: ReadsStack) -> None:
    stack.processes.stop()
    if stack.broker is not None:
        stack.broker.stop()
        stack.broker = None
    redis = Redis.from_url(stack.options.redis_url)
    await redis.flushdb()
    await redis.aclose()
    await stack.databases.drop_all()


if __name__ == "__main__":
    import uvloop

    sys.exit(uvloop.run(main(parse_options())))
