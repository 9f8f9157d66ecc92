"""Benchmark of the gateway's reads at scale, uncached: the card of a donor (with its donation
summary and registrations), the paged donations, the view's duplicate review queue and why a
relation is in a list, at up to 1,000,000 relations.

Part of the gateway benchmark (it starts the same stack as ``gateway_bench.py``): a Tansu
broker, fresh databases named ``relata_bench_don_*`` (dropped at the end), Redis (flushed
before and after) and as uvicorn processes the relations, lists, automation and gateway APIs.
The data is written straight into the services' databases with ``generate_series`` (as the
services would hold it after the events): ``--relations`` persons in the relations service,
the same in the lists read model and in the view's base list (with the "entered" row of the
membership history each, caused by the relation's creation, which the gateway's activity
table holds), donations for most of them (0 to 6 each, every 1,000th relation 200), two event
registrations for every third relation, and one open duplicate pair per 100 relations in the
automation service. Then a few clients (one user each) read in a closed loop, each request
for a random relation (or a random place in the duplicate queue) whose cached card parts were
deleted from Redis right before it: what a user opening a card nobody opened recently waits
for.

Reads are measured in rounds (``--repeats``), each read once per round in turn, so a change in
the machine's load shows as spread between rounds rather than as a difference between reads.
Other reads of a relation are added by URL template (``--read name=/path``, repeatable) with
``{view_id}``, ``{relation_id}``, ``{base_list_id}`` and ``{plain_view_id}`` (a view of the
same relations whose form shows no donations) filled in::

    uv run python bench/gateway_reads_bench.py --relations 10000
    uv run python bench/gateway_reads_bench.py --relations 1000000 --repeats 3 \\
        --read 'members_page=/views/{view_id}/lists/{base_list_id}/members?limit=20'
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import harness
from gateway_bench import ADMIN_PASSWORD, VIEW_FILTER, Stack, log_in, wait_ready
from harness import RESULTS_DIR, keepalive_client, latency_summary, say, verdict
from redis.asyncio import Redis

from relata_common.web import INTERNAL_TOKEN_HEADER

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
    "why_in_list": "/views/{view_id}/lists/{base_list_id}/members/{relation_id}/why",
}
"""The card of a view whose form shows donations and registrations, their page, (the
baseline in the same run) the same relation's card in a view whose form shows neither, and
why the relation is in the view's base list."""
QUEUE_PAGE = 25
"""Pairs per page of the duplicate review queue, as the web application asks."""
SCAN_PAGE = 100
"""Pairs the gateway reads from the automation service per round after the first (duplicates.
SCAN_PAGE): the card parts of these pairs' relations, all a queue page may look up, are deleted
before each request."""
DUPLICATE_READS = ("duplicates_first_page", "duplicates_later_page", "duplicates_in_service")
"""The queue's first page, a page further in (a random place), and (the alternative in the same
run) the automation service's own page of as many pairs at such a place, unnarrowed: what the
gateway's narrowing to the view and naming of the relations cost on top."""
PAIR_EVERY = 100
"""One open duplicate pair per this many relations."""
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
        "PATH may use {view_id}, {relation_id}, {base_list_id} and {plain_view_id}",
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

    def env(self, service: str) -> dict[str, str]:
        """The common environment, with the automation service (the duplicate queue) in it."""
        return super().env(service) | {"CRM_AUTOMATION_URL": self.url("automation-api")}


async def start(stack: ReadsStack) -> None:
    """The broker, the databases and the four APIs the cards, the duplicate queue and
    why-in-list need."""
    say(f"starting the Tansu broker; logs in {stack.log_dir}")
    stack.broker = harness.start_broker(stack.log_dir)
    for service in ("relations", "lists", "contactmoments", "automation", "gateway"):
        await stack.databases.create(
            harness.database_url(stack.options.postgres_url, stack.database(service))
        )
    redis = Redis.from_url(stack.options.redis_url)
    await redis.flushdb()
    await redis.aclose()
    for service in ("relations", "lists", "automation", "gateway"):
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
CREATED_EVENT = "md5('created-' || i)::uuid"
"""The id of relation i's relation.created event (the gateway's activity, the lists history)."""
SEED_HISTORY = f"""
INSERT INTO membership_history (list_id, relation_id, change, at, cause)
SELECT $3::uuid, {RELATION_ID}, 'entered', TIMESTAMPTZ '2026-01-01' + i * interval '1 second',
       jsonb_build_object('event_id', {CREATED_EVENT}::text, 'event_type', 'relation.created',
                          'criteria', '[]'::jsonb)
FROM generate_series($1::int, $2::int) AS i
"""
SEED_ACTIVITY = f"""
INSERT INTO activity (event_id, relation_id, version, kind, actor_kind, actor_id,
                      changed_fields, at)
SELECT {CREATED_EVENT}, {RELATION_ID}, 1, 'relation.created', 'user', 'importer',
       ARRAY['first_name', 'last_name', 'emails', 'addresses'],
       TIMESTAMPTZ '2026-01-01' + i * interval '1 second'
FROM generate_series($1::int, $2::int) AS i
"""
SEED_PAIRS = f"""
INSERT INTO duplicate_pairs (pair_id, first_id, second_id, stars, points, reasons, status,
                             found_by, found_at, scored_at)
SELECT md5('pair-' || k)::uuid, LEAST(a, b), GREATEST(a, b), k % 5 + 1, 3 * (k % 5 + 1) + k % 3,
       $3::jsonb, 'open', 'batch', now(), now()
FROM generate_series($1::int, $2::int) AS k,
     LATERAL (SELECT md5('relation-' || ({PAIR_EVERY} * k - 1))::uuid AS a,
                     md5('relation-' || ({PAIR_EVERY} * k))::uuid AS b) AS pair
"""
"""Pair k: relations 100k - 1 and 100k, with the stars and points of ``pair_score``."""
PAIR_REASONS = [
    {"points": 4, "reason": "same e-mail address", "fields": ["emails"]},
    {"points": 2, "reason": "nearly the same last name", "fields": ["last_name"]},
    {"points": 3, "reason": "same birth date", "fields": ["birth_date"]},
]
"""A pair's reasons; the view's form hides birth dates, so one is summed under a hidden line."""


def pair_score(k: int) -> tuple[int, int]:
    """Pair k's stars and points (the same formulas as in SEED_PAIRS)."""
    stars = k % 5 + 1
    return stars, 3 * stars + k % 3


CHUNK = 100_000


def _dsn(stack: ReadsStack, service: str) -> str:
    url = harness.database_url(stack.options.postgres_url, stack.database(service))
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _in_chunks(connection: asyncpg.Connection, sql: str, total: int, *args: Any) -> None:
    for start in range(1, total + 1, CHUNK):
        await connection.execute(sql, start, min(total, start + CHUNK - 1), *args)


async def seed_databases(stack: ReadsStack, base_list_ids: list[str]) -> dict[str, Any]:
    """The relations, the read model, the views' base lists (the first one's membership history
    with it), the gateway's activity and the duplicate pairs; seconds and row counts."""
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
    facts |= await _seed_lists(stack, base_list_ids)
    facts |= await _seed_gateway_and_automation(stack)
    return facts


async def _seed_lists(stack: ReadsStack, base_list_ids: list[str]) -> dict[str, Any]:
    total = stack.options.relations
    facts: dict[str, Any] = {}
    started = time.perf_counter()
    lists = await asyncpg.connect(_dsn(stack, "lists"))
    try:
        await _in_chunks(lists, SEED_READ_MODEL, total)
        for base_list_id in base_list_ids:
            await _in_chunks(lists, SEED_MEMBERS, total, base_list_id)
        await _in_chunks(lists, SEED_HISTORY, total, base_list_ids[0])
        await _in_chunks(lists, SEED_DONATIONS, total)
        await _in_chunks(lists, SEED_REGISTRATIONS, total)
        await lists.execute("VACUUM ANALYZE")
        for table in (
            "rm_relations",
            "memberships",
            "membership_history",
            "rm_donations",
            "rm_registrations",
        ):
            facts[f"{table}_rows"] = await lists.fetchval(f"SELECT count(*) FROM {table}")
        facts["rm_donations_mb"] = round(
            await lists.fetchval("SELECT pg_total_relation_size('rm_donations')") / 2**20
        )
    finally:
        await lists.close()
    facts["lists_s"] = round(time.perf_counter() - started, 1)
    say(f"   the lists read model in {facts['lists_s']} s: {facts}")
    return facts


async def _seed_gateway_and_automation(stack: ReadsStack) -> dict[str, Any]:
    total = stack.options.relations
    facts: dict[str, Any] = {}
    started = time.perf_counter()
    gateway = await asyncpg.connect(_dsn(stack, "gateway"))
    try:
        await _in_chunks(gateway, SEED_ACTIVITY, total)
        await gateway.execute("VACUUM ANALYZE activity")
        facts["activity_rows"] = await gateway.fetchval("SELECT count(*) FROM activity")
    finally:
        await gateway.close()
    automation = await asyncpg.connect(_dsn(stack, "automation"))
    try:
        await _in_chunks(automation, SEED_PAIRS, total // PAIR_EVERY, json.dumps(PAIR_REASONS))
        await automation.execute("VACUUM ANALYZE duplicate_pairs")
        facts["duplicate_pairs_rows"] = await automation.fetchval(
            "SELECT count(*) FROM duplicate_pairs"
        )
    finally:
        await automation.close()
    facts["gateway_automation_s"] = round(time.perf_counter() - started, 1)
    say(f"   the activity and the duplicate pairs in {facts['gateway_automation_s']} s")
    return facts


@dataclass
class World:
    view_id: str
    base_list_id: str
    plain_view_id: str
    users: list[dict[str, str]]
    seeding: dict[str, Any] = field(default_factory=dict)


REVIEWER_ROLE = {"labels": {"en": "Reviewer", "nl": "Beoordelaar"}, "rights": ["duplicates.review"]}
"""The clients' role: the built-in staff role may not review duplicates."""


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
        role = await gateway.put("/admin/roles/reviewer", json=REVIEWER_ROLE, headers=admin)
        role.raise_for_status()
        users = []
        for u in range(options.clients):
            password = f"bench-user-{u}-password"
            created = await gateway.post(
                "/users",
                json={
                    "username": f"u{u}",
                    "display_name": f"U{u}",
                    "password": password,
                    "role": "reviewer",
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


# --- what is read ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request: its path, and the relations whose cached card parts go before it."""

    path: str
    relations: tuple[str, ...]


@dataclass(frozen=True)
class Read:
    """A read: where it goes (the gateway as a user, or a service with the internal token)
    and how to pick each request."""

    pick: Callable[[random.Random], Request]
    service: str = "gateway-api"


def relation_read(world: World, total: int, template: str) -> Read:
    """A read of one random relation, by URL template."""

    def pick(rng: random.Random) -> Request:
        rid = relation_id(rng.randint(1, total))
        path = template.format(
            view_id=world.view_id,
            relation_id=rid,
            base_list_id=world.base_list_id,
            plain_view_id=world.plain_view_id,
        )
        return Request(path, (rid,))

    return Read(pick)


@dataclass(frozen=True)
class QueuedPair:
    cursor: str
    relations: tuple[str, str]


def duplicate_queue(total: int) -> list[QueuedPair]:
    """The open pairs in the automation service's order (stars, then points, best first, then
    pair id), each with the cursor that follows it."""
    pairs = []
    for k in range(1, total // PAIR_EVERY + 1):
        stars, points = pair_score(k)
        pair_id = str(uuid.UUID(hashlib.md5(f"pair-{k}".encode()).hexdigest()))
        pairs.append(
            (
                (-stars, -points, pair_id),
                QueuedPair(
                    f"{stars}:{points}:{pair_id}",
                    (relation_id(PAIR_EVERY * k - 1), relation_id(PAIR_EVERY * k)),
                ),
            )
        )
    return [pair for _, pair in sorted(pairs, key=lambda p: p[0])]


def duplicate_reads(world: World, total: int) -> dict[str, Read]:
    """The queue's first page and a page at a random place further in, through the gateway,
    and the automation service's own page at such a place. Before each, the card parts of the
    relations of the SCAN_PAGE pairs from that place are deleted: the ones the gateway looks
    up to narrow the page to the view."""
    queue = duplicate_queue(total)
    page = f"/views/{world.view_id}/duplicates?limit={QUEUE_PAGE}"

    def at(place: int, path: str) -> Request:
        scanned = queue[place : place + SCAN_PAGE]
        cursor = f"&cursor={queue[place - 1].cursor}" if place else ""
        return Request(path + cursor, tuple(r for pair in scanned for r in pair.relations))

    def later(rng: random.Random) -> int:
        return rng.randint(1, max(1, len(queue) - QUEUE_PAGE))

    return {
        "duplicates_first_page": Read(lambda _: at(0, page)),
        "duplicates_later_page": Read(lambda rng: at(later(rng), page)),
        "duplicates_in_service": Read(
            lambda rng: at(later(rng), f"/duplicates?status=open&limit={QUEUE_PAGE}"),
            service="automation-api",
        ),
    }


def reads_of(options: Options, world: World) -> dict[str, Read]:
    templates = BUILT_IN_READS | dict(item.split("=", 1) for item in options.read)
    reads = {
        name: relation_read(world, options.relations, template)
        for name, template in templates.items()
    }
    return reads | duplicate_reads(world, options.relations)


# --- measuring ---------------------------------------------------------------------------------


async def measure(
    stack: ReadsStack, world: World, read: Read, requests: list[Request]
) -> dict[str, Any]:
    """``clients`` closed-loop clients, each sending its share of ``requests``; the cached card
    parts of each request's relations are deleted right before it (outside the timed part)."""
    clients = stack.options.clients
    redis = Redis.from_url(stack.options.redis_url)
    latencies: list[float] = []
    failures: dict[int, int] = {}
    began = time.perf_counter()

    async def client(who: int) -> None:
        connection = harness.lean_connection(stack.url(read.service))
        headers = (
            world.users[who]
            if read.service == "gateway-api"
            else {INTERNAL_TOKEN_HEADER: stack.token}
        )
        try:
            for request in requests[who::clients]:
                await redis.delete(*(f"card:{p}:{r}" for r in request.relations for p in PARTS))
                start = time.perf_counter()
                status, _ = await connection.get(request.path, headers)
                elapsed = time.perf_counter() - start
                if status == 200:
                    latencies.append(elapsed)
                else:
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


async def run(stack: ReadsStack, options: Options) -> dict[str, Any]:
    rng = random.Random(11)
    await start(stack)
    world = await seed(stack)
    reads = reads_of(options, world)
    say("one round unmeasured (first connections, the services' first queries)")
    for read in reads.values():
        await measure(stack, world, read, [read.pick(rng) for _ in range(50)])
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in reads}
    for round_number in range(1, options.repeats + 1):
        for name, read in reads.items():
            requests = [read.pick(rng) for _ in range(options.requests)]
            measured = await measure(stack, world, read, requests)
            measured["loadavg"] = [round(x, 2) for x in os.getloadavg()]
            rounds[name].append(measured)
            say(f"round {round_number} {name}: {measured}")
    return {
        "seeding": world.seeding,
        "reads": {name: _example(read, rng) for name, read in reads.items()},
        "rounds": rounds,
    }


def _example(read: Read, rng: random.Random) -> str:
    """What a read asks, for the record: one of its paths."""
    return f"{read.service}: {read.pick(rng).path}"


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
