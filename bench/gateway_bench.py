"""Benchmark of the gateway's read path: relation cards and the dashboard, warm cache.

Starts everything on loopback: a Tansu broker, fresh PostgreSQL databases (dropped at the end),
and as real uvicorn processes the relations API and relay, the lists API, worker and relay, the
contact moments API, and the gateway API and worker (Redis database 14, flushed before and
after). It seeds relations in one view, warms the card cache, then lets concurrent clients
(one user each) fetch cards and the dashboard. Each measurement is paired with the simplest
alternative in the same run: the same cards with a cold cache, and a direct call to the
relations service. Everything it starts is stopped by its own handle.

    uv run python bench/gateway_bench.py --help
    uv run python bench/gateway_bench.py --quick
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import harness
import httpx
from harness import HOST, RESULTS_DIR, keepalive_client, latency_summary, ratio, say, verdict
from redis.asyncio import Redis

from relata_cli.tansu import TansuBroker, free_port

TARGET_CARD_P95_MS = 25.0
TARGET_CARDS_PER_S = 500.0
TARGET_DASHBOARD_P95_MS = 30.0
ADMIN_PASSWORD = "bench-admin-password"
VIEW_FILTER = {"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"}
FORM = [
    {"name": "Person", "fields": ["first_name", "infix", "last_name", "emails", "phones"]},
    {"name": "Address", "fields": ["addresses"]},
    {"name": "Relations", "fields": ["lists", "contact_moments"]},
]


@dataclass(frozen=True)
class Options:
    relations: int = 2_000
    clients: int = 50
    rate: float = TARGET_CARDS_PER_S
    card_requests: int = 20_000
    cold_requests: int = 2_000
    dashboard_requests: int = 5_000
    edits: int = 300
    postgres_url: str = harness.POSTGRES_URL
    redis_url: str = "redis://127.0.0.1:6379/14"
    log_level: str = "WARNING"
    max_seconds: float = 900.0
    profile_seconds: float = 0.0
    profile_phase: str = "cards"
    output_dir: Path = RESULTS_DIR
    quick: bool = False


QUICK = {
    "relations": 300,
    "card_requests": 2_000,
    "cold_requests": 300,
    "dashboard_requests": 1_000,
    "edits": 50,
    "max_seconds": 180.0,
}

OPTION_HELP: harness.OptionHelp = (
    ("relations", int, "relations seeded in the view"),
    ("clients", int, "concurrent clients (one user each)"),
    ("rate", float, "requests per second of the paced runs (all clients together)"),
    ("card_requests", int, "card requests with a warm cache"),
    ("cold_requests", int, "card requests with the card cache emptied first"),
    ("dashboard_requests", int, "dashboard requests (recent items and activity, alternating)"),
    ("edits", int, "edits by a colleague, to fill the activity feed"),
    ("postgres_url", str, "PostgreSQL server URL (a database per service is created)"),
    ("redis_url", str, "Redis database for the gateway (flushed before and after)"),
    ("log_level", str, "log level of the services"),
    ("max_seconds", float, "give up after this many seconds"),
    ("profile_seconds", float, "record the gateway API with py-spy for this many seconds"),
    ("profile_phase", str, "the closed loop to profile: cards or dashboard"),
    ("output_dir", Path, "where the JSON results go"),
)


def parse_options(argv: list[str] | None = None) -> Options:
    """Options from the command line; --quick shrinks every size not given explicitly."""
    parser = harness.option_parser(
        __doc__, Options(), OPTION_HELP, QUICK, "a smoke run of about a minute"
    )
    options = Options(**harness.chosen_options(parser, argv, Options(), QUICK))
    if options.profile_phase not in ("cards", "dashboard"):
        parser.error("--profile-phase is cards or dashboard")
    if not all(h in ("127.0.0.1", "localhost") for h in _hosts(options)):
        parser.error("this benchmark runs on loopback only")
    return options


def _hosts(options: Options) -> list[str]:
    return [httpx.URL(options.redis_url).host, options.postgres_url.split("@")[-1].split(":")[0]]


# --- the processes -----------------------------------------------------------------------------

SERVICES = ("relations", "lists", "contactmoments", "gateway")


@dataclass
class Stack:
    options: Options
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    jwt_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    ports: dict[str, int] = field(default_factory=dict)
    processes: harness.Processes = field(
        default_factory=lambda: harness.Processes.temporary("relata-gw-bench-")
    )
    broker: TansuBroker | None = None
    databases: harness.Databases = field(default_factory=harness.Databases)

    @property
    def log_dir(self) -> Path:
        return self.processes.log_dir

    def database(self, service: str) -> str:
        return f"relata_bench_{service}_{self.tag}"

    def url(self, service: str) -> str:
        return f"http://{HOST}:{self.port(service)}"

    def port(self, name: str) -> int:
        return self.ports.setdefault(name, free_port(HOST))

    def env(self, service: str) -> dict[str, str]:
        assert self.broker is not None
        return harness.service_env(
            postgres_url=self.options.postgres_url,
            database_name=self.database(service),
            kafka_bootstrap=self.broker.bootstrap,
            internal_token=self.token,
            log_level=self.options.log_level,
            redis_url=self.options.redis_url,
            jwt_secret=self.jwt_secret,
            consumer_group_suffix=f"-{self.tag}",
            consumer_fetch_max_wait_ms="20",
            **{f"{s}_url": self.url(f"{s}-api") for s in SERVICES if s != "gateway"},
            search_url=f"http://{HOST}:9",  # not started: the dashboard does not need it
            selections_url=f"http://{HOST}:9",
        )

    def spawn(self, service: str, role: str) -> int:
        """Start ``relata-<service> <role>`` on a free port; returns its pid."""
        name = f"{service}-{role}"
        argv = [harness.executable(f"relata-{service}"), role]
        argv += ["--host", HOST, "--port", str(self.port(name))]
        return self.processes.spawn(name, argv, self.env(service)).pid


async def wait_ready(stack: Stack, name: str, limit: float = 90.0) -> None:
    url = f"http://{HOST}:{stack.port(name)}/ready"
    await harness.wait_ready(url, stack.processes, limit=limit, interval=0.2)


async def start_stack(stack: Stack) -> None:
    say(f"starting the Tansu broker; logs in {stack.log_dir}")
    stack.broker = harness.start_broker(stack.log_dir)
    for service in SERVICES:
        await stack.databases.create(
            harness.database_url(stack.options.postgres_url, stack.database(service))
        )
    redis = Redis.from_url(stack.options.redis_url)
    await redis.flushdb()
    await redis.aclose()
    roles = {
        "relations": ("api", "relay"),
        "lists": ("api", "worker", "relay"),
        "contactmoments": ("api",),
        "gateway": ("api", "worker"),
    }
    for service, names in roles.items():
        for role in names:
            say(f"starting relata-{service} {role}")
            stack.spawn(service, role)
            await wait_ready(stack, f"{service}-{role}")


async def stop_stack(stack: Stack) -> None:
    say("stopping every process and the broker")
    stack.processes.stop()
    if stack.broker is not None:
        stack.broker.stop()
        stack.broker = None
    redis = Redis.from_url(stack.options.redis_url)
    await redis.flushdb()
    await redis.aclose()
    await stack.databases.drop_all()


# --- seeding -----------------------------------------------------------------------------------

LAST_NAMES = ("Berg", "Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meijer", "Mulder")
FIRST_NAMES = ("Jan", "Marie", "Piet", "Anna", "Kees", "Sanne", "Tom", "Eva")


def person(i: int) -> dict[str, Any]:
    return {
        "relation_type": "person",
        "fields": {
            "first_name": FIRST_NAMES[i % len(FIRST_NAMES)],
            "last_name": f"{LAST_NAMES[i % len(LAST_NAMES)]}{i}",
            "birth_date": "1980-01-01",
            "emails": [{"address": f"p{i}@example.org"}],
            "addresses": [{"street": "Oudegracht", "house_number": str(i), "city": "Utrecht"}],
        },
    }


async def in_parallel(jobs: list[Callable[[], Awaitable[Any]]], width: int) -> list[Any]:
    semaphore = asyncio.Semaphore(width)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


async def log_in(gateway: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await gateway.post("/auth/token", json={"username": username, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@dataclass
class World:
    view_id: str
    base_list_id: str
    relation_ids: list[str]
    users: list[dict[str, str]]


async def seed(stack: Stack) -> World:
    options = stack.options
    env = stack.env("gateway")
    create_admin = await asyncio.create_subprocess_exec(
        harness.executable("relata-gateway"),
        *("create-admin", "--username", "admin", "--password", ADMIN_PASSWORD),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
    )
    if await create_admin.wait() != 0:
        raise RuntimeError("relata-gateway create-admin failed")
    internal = {"X-Internal-Token": stack.token, "X-Actor-Kind": "system"}
    async with (
        keepalive_client(stack.url("relations-api"), 20, internal) as relations,
        keepalive_client(stack.url("contactmoments-api"), 20, internal) as moments,
        keepalive_client(stack.url("lists-api"), 4, internal) as lists,
        keepalive_client(stack.url("gateway-api"), 20) as gateway,
    ):
        admin = await log_in(gateway, "admin", ADMIN_PASSWORD)
        view = await gateway.post(
            "/admin/views",
            json={"name": "Utrecht", "base_filter": VIEW_FILTER, "form": {"tabs": FORM}},
            headers=admin,
        )
        view.raise_for_status()
        view_id, base = view.json()["view_id"], view.json()["lists"][0]["list_id"]
        say(f"seeding {options.relations} relations")

        async def create(i: int) -> str:
            response = await relations.post("/relations", json=person(i))
            response.raise_for_status()
            return str(response.json()["relation_id"])

        ids = await in_parallel([partial(create, i) for i in range(options.relations)], 20)

        async def moment(relation_id: str) -> None:
            body = {
                "kind": "phone",
                "direction": "in",
                "subject": "Membership",
                "notes": "Pays yearly.",
                "occurred_at": "2025-03-04T10:00:00+01:00",
                "relation_ids": [relation_id],
            }
            (await moments.post("/contact-moments", json=body)).raise_for_status()

        await in_parallel([partial(moment, r) for r in ids[::4]], 20)
        say("creating users and waiting for the view's list to hold every relation")
        users = []
        for u in range(options.clients + 1):
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
            grant = await gateway.put(
                f"/admin/views/{view_id}/grants",
                json={"user_id": created.json()["user_id"], "can_edit": True},
                headers=admin,
            )
            grant.raise_for_status()
            users.append(await log_in(gateway, f"u{u}", password))
        deadline = time.monotonic() + 300
        while True:
            page = await lists.get(f"/lists/{base}/members", params={"limit": 1})
            if page.json()["count"] >= options.relations:
                break
            if time.monotonic() > deadline:
                raise TimeoutError("the view's list did not fill in 300 s")
            await asyncio.sleep(0.5)
        say(f"a colleague makes {options.edits} edits (the activity feed)")
        editor = users[-1]

        async def edit(relation_id: str, i: int) -> None:
            url = f"/views/{view_id}/relations/{relation_id}"
            for _ in range(20):  # a 503 (database busy on a shared machine) says: retry
                card = await gateway.get(url, headers=editor)
                if card.status_code != 503:
                    card.raise_for_status()
                    changed = await gateway.patch(
                        url,
                        json={"fields": {"first_name": f"Edited{i}"}},
                        headers={**editor, "If-Match": card.headers["ETag"]},
                    )
                    if changed.status_code != 503:
                        changed.raise_for_status()
                        return
                await asyncio.sleep(1.0)
            raise RuntimeError(f"{url} stayed unavailable")

        await in_parallel([partial(edit, r, i) for i, r in enumerate(ids[: options.edits])], 10)
        deadline = time.monotonic() + 120
        while len((await gateway.get(f"/views/{view_id}/activity", headers=users[0])).json()) < 20:
            if time.monotonic() > deadline:
                raise TimeoutError("the activity feed did not fill in 120 s")
            await asyncio.sleep(0.5)
    return World(view_id, base, ids, users[:-1])


# --- measurements ------------------------------------------------------------------------------


async def load(
    stack: Stack,
    base_url: str,
    requests: list[tuple[int, str]],
    headers_of: Callable[[int], dict[str, str]],
    rate: float | None = None,
) -> dict[str, Any]:
    """``options.clients`` concurrent clients working through ``(client, path)`` requests.

    Without ``rate`` it is a closed loop: each client sends its next request as soon as the
    last one is answered, which measures the most the gateway can serve (latency is then about
    clients / throughput). With ``rate`` the clients together send ``rate`` requests a second
    on a fixed schedule, as users with think time do; a latency counts from the scheduled
    moment, so a late answer also delays what the schedule would have sent next."""
    clients = stack.options.clients
    queues: list[list[str]] = [[] for _ in range(clients)]
    for who, path in requests:
        queues[who % clients].append(path)
    latencies: list[float] = []
    failures = 0
    began = time.perf_counter()

    async def client(who: int) -> None:
        nonlocal failures
        headers = headers_of(who)
        connection = harness.lean_connection(base_url)
        try:
            for k, path in enumerate(queues[who]):
                start = time.perf_counter()
                if rate is not None:
                    start = began + (k * clients + who) / rate
                    await asyncio.sleep(max(0.0, start - time.perf_counter()))
                status, _ = await connection.get(path, headers)
                latencies.append(time.perf_counter() - start)
                failures += status != 200
        finally:
            await connection.close()

    await asyncio.gather(*(client(w) for w in range(clients)))
    elapsed = time.perf_counter() - began
    return {**latency_summary(latencies, elapsed), "failures": failures}


def renumbered(requests: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The same paths spread over every client again (a slice keeps its clients' numbers)."""
    return [(i, path) for i, (_, path) in enumerate(requests)]


def card_requests(world: World, count: int, rng: random.Random) -> list[tuple[int, str]]:
    return [
        (i, f"/views/{world.view_id}/relations/{rng.choice(world.relation_ids)}")
        for i in range(count)
    ]


async def warm(stack: Stack, world: World) -> None:
    say("warming the card cache (every relation once)")
    requests = [
        (i, f"/views/{world.view_id}/relations/{r}") for i, r in enumerate(world.relation_ids)
    ]
    await load(stack, stack.url("gateway-api"), requests, lambda w: world.users[w])


async def empty_card_cache(stack: Stack) -> None:
    redis = Redis.from_url(stack.options.redis_url)
    async for key in redis.scan_iter(match="card:*", count=1000):
        await redis.delete(key)
    await redis.aclose()


def start_profile(stack: Stack) -> subprocess.Popen[bytes] | None:
    seconds = stack.options.profile_seconds
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if seconds <= 0:
        return None
    if py_spy is None:
        say("py-spy is not installed (uv pip install py-spy): not profiling")
        return None
    out = stack.log_dir / "gateway-api.collapsed.txt"
    say(f"profiling the gateway API for {seconds} s into {out}")
    pid = stack.processes["gateway-api"].pid
    args = [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--format"]
    return subprocess.Popen(
        [*args, "raw", "--output", str(out), "--rate", "200"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextlib.asynccontextmanager
async def profiled(stack: Stack, phase: str) -> AsyncIterator[None]:
    """Profile the gateway API during this phase if it is the one asked for."""
    profiler = start_profile(stack) if stack.options.profile_phase == phase else None
    yield
    if profiler is not None:
        await asyncio.to_thread(profiler.wait, stack.options.profile_seconds + 60)


async def run(stack: Stack) -> dict[str, Any]:
    options = stack.options
    rng = random.Random(7)
    await start_stack(stack)
    world = await seed(stack)
    await warm(stack, world)
    gateway = stack.url("gateway-api")

    def user(w: int) -> dict[str, str]:
        return world.users[w]

    say(f"warm cards: {options.card_requests} requests from {options.clients} clients")
    async with profiled(stack, "cards"):
        warm_cards = await load(
            stack, gateway, card_requests(world, options.card_requests, rng), user
        )
    say(f"  closed loop: {warm_cards}")
    paced_cards = await load(
        stack, gateway, card_requests(world, options.card_requests, rng), user, options.rate
    )
    say(f"  at {options.rate}/s: {paced_cards}")

    say("direct GET /relations/{id} on the relations service, same clients")
    internal = {"X-Internal-Token": stack.token}
    direct_requests = [
        (i, f"/relations/{rng.choice(world.relation_ids)}") for i in range(options.card_requests)
    ]
    relations_api = stack.url("relations-api")
    direct = await load(stack, relations_api, direct_requests, lambda _: internal)
    say(f"  closed loop: {direct}")
    paced_direct = await load(
        stack, relations_api, direct_requests, lambda _: internal, options.rate
    )
    say(f"  at {options.rate}/s: {paced_direct}")

    say("dashboard: GET /dashboard/recent and /views/{id}/activity, alternating")
    dashboard_requests = [
        (i, "/dashboard/recent" if i % 2 else f"/views/{world.view_id}/activity")
        for i in range(options.dashboard_requests)
    ]
    async with profiled(stack, "dashboard"):
        dashboard = await load(stack, gateway, dashboard_requests, user)
    say(f"  closed loop: {dashboard}")
    paced_dashboard = await load(stack, gateway, dashboard_requests, user, options.rate)
    say(f"  at {options.rate}/s: {paced_dashboard}")
    recent = await load(stack, gateway, renumbered(dashboard_requests[1::2]), user, options.rate)
    activity = await load(stack, gateway, renumbered(dashboard_requests[::2]), user, options.rate)

    say(f"cold cards: card cache emptied, {options.cold_requests} distinct relations")
    await empty_card_cache(stack)
    cold_ids = rng.sample(world.relation_ids, min(options.cold_requests, len(world.relation_ids)))
    cold_requests = [(i, f"/views/{world.view_id}/relations/{r}") for i, r in enumerate(cold_ids)]
    cold = await load(stack, gateway, cold_requests, user)
    say(f"  {cold}")

    return {
        "warm_cards": warm_cards,
        "warm_cards_paced": paced_cards,
        "cold_cards": cold,
        "direct_relations_get": direct,
        "direct_relations_get_paced": paced_direct,
        "dashboard": dashboard,
        "dashboard_paced": paced_dashboard,
        "dashboard_recent_paced": recent,
        "dashboard_activity_paced": activity,
        "ratios": {
            "cold_over_warm_p95 (closed loop)": ratio(cold["p95_ms"], warm_cards["p95_ms"]),
            "warm_card_over_direct_get_p95 (paced)": ratio(
                paced_cards["p95_ms"], paced_direct["p95_ms"]
            ),
            "warm_cards_per_s_over_direct_per_s (closed loop)": ratio(
                warm_cards["per_second"], direct["per_second"]
            ),
        },
    }


def targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Throughput from the closed loop; latencies from the paced runs, at the target rate."""
    cards, paced, dashboard = (
        results["warm_cards"],
        results["warm_cards_paced"],
        results["dashboard_paced"],
    )
    return {
        "card p95 ms (warm, paced)": verdict(paced["p95_ms"], TARGET_CARD_P95_MS, at_most=True),
        "cards per second (closed loop)": verdict(
            cards["per_second"], TARGET_CARDS_PER_S, at_most=False
        ),
        "dashboard p95 ms (paced)": verdict(
            dashboard["p95_ms"], TARGET_DASHBOARD_P95_MS, at_most=True
        ),
    }


def print_summary(results: dict[str, Any]) -> None:
    harness.print_targets(results["targets"])
    for name, value in results["ratios"].items():
        print(f"| {name} | {value} | |")


async def main(options: Options) -> int:
    stack = Stack(options)
    facts = harness.machine_facts(Path(__file__).name)
    try:
        measured = await asyncio.wait_for(run(stack), timeout=options.max_seconds)
    finally:
        await stop_stack(stack)
    results = {"machine": facts, "options": asdict(options) | {"output_dir": None}, **measured}
    results["targets"] = targets(results)
    path = harness.write_json(results, options.output_dir, "gateway")
    print_summary(results)
    say(f"results in {path}")
    return 0


if __name__ == "__main__":
    import uvloop  # the load generator's own loop must cost little per request

    sys.exit(uvloop.run(main(parse_options())))
