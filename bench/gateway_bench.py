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

import argparse
import asyncio
import os
import platform
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from redis.asyncio import Redis

from relata_common.db import drop_database, ensure_database
from relata_common.tansu import TansuBroker, free_port

HOST = "127.0.0.1"
TARGET_CARD_P95_MS = 25.0
TARGET_CARDS_PER_S = 500.0
TARGET_DASHBOARD_P95_MS = 30.0
RESULTS_DIR = Path(__file__).parent / "results"
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
    card_requests: int = 20_000
    cold_requests: int = 2_000
    dashboard_requests: int = 5_000
    edits: int = 300
    postgres_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432"
    redis_url: str = "redis://127.0.0.1:6379/14"
    log_level: str = "WARNING"
    max_seconds: float = 900.0
    profile_seconds: float = 0.0
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

OPTION_HELP: tuple[tuple[str, type, str], ...] = (
    ("relations", int, "relations seeded in the view"),
    ("clients", int, "concurrent clients (one user each)"),
    ("card_requests", int, "card requests with a warm cache"),
    ("cold_requests", int, "card requests with the card cache emptied first"),
    ("dashboard_requests", int, "dashboard requests (recent items and activity, alternating)"),
    ("edits", int, "edits by a colleague, to fill the activity feed"),
    ("postgres_url", str, "PostgreSQL server URL (a database per service is created)"),
    ("redis_url", str, "Redis database for the gateway (flushed before and after)"),
    ("log_level", str, "log level of the services"),
    ("max_seconds", float, "give up after this many seconds"),
    ("profile_seconds", float, "record the gateway API with py-spy during the card phase"),
    ("output_dir", Path, "where the JSON results go"),
)


def parse_options(argv: list[str] | None = None) -> Options:
    """Options from the command line; --quick shrinks every size not given explicitly."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    for name, kind, help_text in OPTION_HELP:
        default = getattr(Options(), name)
        note = f"; --quick: {QUICK[name]}" if name in QUICK else ""
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=kind,
            default=None,
            help=f"{help_text} (default {default}{note})",
        )
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute")
    args = vars(parser.parse_args(argv))
    quick = args.pop("quick")
    fallback = QUICK if quick else {}
    chosen = {
        k: v if v is not None else fallback.get(k, getattr(Options(), k)) for k, v in args.items()
    }
    options = Options(**chosen, quick=quick)
    if not all(h in ("127.0.0.1", "localhost") for h in _hosts(options)):
        parser.error("this benchmark runs on loopback only")
    return options


def _hosts(options: Options) -> list[str]:
    return [httpx.URL(options.redis_url).host, options.postgres_url.split("@")[-1].split(":")[0]]


# --- progress and statistics -------------------------------------------------------------------

STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:7.1f}s] {message}", flush=True)


def latency_summary(seconds: list[float], elapsed: float | None = None) -> dict[str, float]:
    if not seconds:
        return {"count": 0}
    ms = sorted(s * 1000 for s in seconds)
    cuts = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else [ms[0]] * 99
    summary = {
        "count": len(ms),
        "p50_ms": round(cuts[49], 2),
        "p95_ms": round(cuts[94], 2),
        "p99_ms": round(cuts[98], 2),
        "max_ms": round(ms[-1], 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }
    if elapsed is not None:
        summary["elapsed_s"] = round(elapsed, 3)
        summary["per_second"] = round(len(ms) / elapsed, 1)
    return summary


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 2) if denominator else float("nan")


# --- the processes -----------------------------------------------------------------------------

SERVICES = ("relations", "lists", "contactmoments", "gateway")


@dataclass
class Stack:
    options: Options
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    jwt_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    ports: dict[str, int] = field(default_factory=dict)
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="relata-gw-bench-")))
    broker: TansuBroker | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)

    def database(self, service: str) -> str:
        return f"relata_bench_{service}_{self.tag}"

    def url(self, service: str) -> str:
        return f"http://{HOST}:{self.port(service)}"

    def port(self, name: str) -> int:
        return self.ports.setdefault(name, free_port(HOST))

    def env(self, service: str) -> dict[str, str]:
        assert self.broker is not None
        return {
            **os.environ,
            "CRM_POSTGRES_URL": self.options.postgres_url,
            "CRM_DATABASE_NAME": self.database(service),
            "CRM_KAFKA_BOOTSTRAP": self.broker.bootstrap,
            "CRM_INTERNAL_TOKEN": self.token,
            "CRM_LOG_LEVEL": self.options.log_level,
            "CRM_REDIS_URL": self.options.redis_url,
            "CRM_JWT_SECRET": self.jwt_secret,
            "CRM_CONSUMER_GROUP_SUFFIX": f"-{self.tag}",
            "CRM_CONSUMER_FETCH_MAX_WAIT_MS": "20",
            **{f"CRM_{s.upper()}_URL": self.url(f"{s}-api") for s in SERVICES if s != "gateway"},
            "CRM_SEARCH_URL": f"http://{HOST}:9",  # not started: the dashboard does not need it
            "CRM_SELECTIONS_URL": f"http://{HOST}:9",
        }

    def spawn(self, service: str, role: str) -> int:
        """Start ``relata-<service> <role>`` on a free port; returns its pid."""
        executable = shutil.which(f"relata-{service}", path=str(Path(sys.executable).parent))
        if executable is None:
            raise RuntimeError(f"relata-{service} is not installed: run with `uv run`")
        name = f"{service}-{role}"
        log = (self.log_dir / f"{name}.log").open("ab")
        args = [executable, role, "--host", HOST, "--port", str(self.port(name))]
        process = subprocess.Popen(args, env=self.env(service), stdout=log, stderr=log)
        log.close()
        self.processes[name] = process
        return process.pid

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {self.log_dir}")

    def stop_processes(self) -> None:
        for name, process in reversed(list(self.processes.items())):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in 15 s: killing it")
                process.kill()
                process.wait()
        self.processes.clear()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None


async def wait_ready(stack: Stack, name: str, limit: float = 90.0) -> None:
    url = f"http://{HOST}:{stack.port(name)}/ready"
    deadline = time.monotonic() + limit
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            stack.check_alive()
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} not ready in {limit} s; logs in {stack.log_dir}")


async def start_stack(stack: Stack) -> None:
    say(f"starting the Tansu broker; logs in {stack.log_dir}")
    stack.broker = TansuBroker(host=HOST, log_file=stack.log_dir / "tansu.log").start()
    for service in SERVICES:
        await ensure_database(f"{stack.options.postgres_url.rstrip('/')}/{stack.database(service)}")
        stack.databases.append(stack.database(service))
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
    stack.stop_processes()
    redis = Redis.from_url(stack.options.redis_url)
    await redis.flushdb()
    await redis.aclose()
    for name in stack.databases:
        await drop_database(f"{stack.options.postgres_url.rstrip('/')}/{name}")
    stack.databases.clear()


def client(
    base_url: str, connections: int, headers: dict[str, str] | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers or {},
        timeout=httpx.Timeout(60.0, connect=5.0),
        limits=httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=2.0,
        ),
    )


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
    executable = shutil.which("relata-gateway", path=str(Path(sys.executable).parent))
    assert executable is not None
    created = await asyncio.create_subprocess_exec(
        executable,
        *("create-admin", "--username", "admin", "--password", ADMIN_PASSWORD),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
    )
    if await created.wait() != 0:
        raise RuntimeError("relata-gateway create-admin failed")
    internal = {"X-Internal-Token": stack.token, "X-Actor-Kind": "system"}
    async with (
        client(stack.url("relations-api"), 20, internal) as relations,
        client(stack.url("contactmoments-api"), 20, internal) as moments,
        client(stack.url("lists-api"), 4, internal) as lists,
        client(stack.url("gateway-api"), 20) as gateway,
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

        ids = await in_parallel([lambda i=i: create(i) for i in range(options.relations)], 20)

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

        await in_parallel([lambda r=r: moment(r) for r in ids[::4]], 20)
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
            card = await gateway.get(url, headers=editor)
            card.raise_for_status()
            changed = await gateway.patch(
                url,
                json={"fields": {"first_name": f"Edited{i}"}},
                headers={**editor, "If-Match": card.headers["ETag"]},
            )
            changed.raise_for_status()

        await in_parallel(
            [lambda r=r, i=i: edit(r, i) for i, r in enumerate(ids[: options.edits])], 10
        )
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
) -> dict[str, Any]:
    """``options.clients`` concurrent clients working through ``(client, path)`` requests."""
    clients = stack.options.clients
    queues: list[list[str]] = [[] for _ in range(clients)]
    for who, path in requests:
        queues[who % clients].append(path)
    latencies: list[float] = []
    failures = 0
    async with client(base_url, clients) as http:

        async def worker(who: int) -> None:
            nonlocal failures
            headers = headers_of(who)
            for path in queues[who]:
                began = time.perf_counter()
                response = await http.get(path, headers=headers)
                latencies.append(time.perf_counter() - began)
                failures += response.status_code != 200

        began = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(clients)))
        elapsed = time.perf_counter() - began
    return {**latency_summary(latencies, elapsed), "failures": failures}


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
    profiler = start_profile(stack)
    warm_cards = await load(stack, gateway, card_requests(world, options.card_requests, rng), user)
    if profiler is not None:
        await asyncio.to_thread(profiler.wait, options.profile_seconds + 60)
    say(f"  {warm_cards}")

    say("direct GET /relations/{id} on the relations service, same clients")
    internal = {"X-Internal-Token": stack.token}
    direct_requests = [
        (i, f"/relations/{rng.choice(world.relation_ids)}") for i in range(options.card_requests)
    ]
    direct = await load(stack, stack.url("relations-api"), direct_requests, lambda w: internal)
    say(f"  {direct}")

    say("dashboard: GET /dashboard/recent and /views/{id}/activity, alternating")
    dashboard_requests = [
        (i, "/dashboard/recent" if i % 2 else f"/views/{world.view_id}/activity")
        for i in range(options.dashboard_requests)
    ]
    dashboard = await load(stack, gateway, dashboard_requests, user)
    recent = await load(stack, gateway, dashboard_requests[1::2], user)
    activity = await load(stack, gateway, dashboard_requests[::2], user)
    say(f"  {dashboard}")

    say(f"cold cards: card cache emptied, {options.cold_requests} distinct relations")
    await empty_card_cache(stack)
    cold_ids = rng.sample(world.relation_ids, min(options.cold_requests, len(world.relation_ids)))
    cold_requests = [(i, f"/views/{world.view_id}/relations/{r}") for i, r in enumerate(cold_ids)]
    cold = await load(stack, gateway, cold_requests, user)
    say(f"  {cold}")

    return {
        "warm_cards": warm_cards,
        "cold_cards": cold,
        "direct_relations_get": direct,
        "dashboard": dashboard,
        "dashboard_recent": recent,
        "dashboard_activity": activity,
        "ratios": {
            "cold_over_warm_p95": ratio(cold["p95_ms"], warm_cards["p95_ms"]),
            "warm_card_over_direct_get_p95": ratio(warm_cards["p95_ms"], direct["p95_ms"]),
            "warm_cards_per_s_over_direct_per_s": ratio(
                warm_cards["per_second"], direct["per_second"]
            ),
        },
    }


def targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    warm_cards, dashboard = results["warm_cards"], results["dashboard"]
    return {
        "card p95 ms (warm)": _target(warm_cards["p95_ms"], TARGET_CARD_P95_MS, at_most=True),
        "cards per second": _target(warm_cards["per_second"], TARGET_CARDS_PER_S, at_most=False),
        "dashboard p95 ms": _target(dashboard["p95_ms"], TARGET_DASHBOARD_P95_MS, at_most=True),
    }


def _target(value: float, target: float, *, at_most: bool) -> dict[str, Any]:
    return {
        "value": value,
        "target": target,
        "met": value <= target if at_most else value >= target,
    }


def machine_facts() -> dict[str, Any]:
    def first(path: str, prefix: str) -> str:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            return "unknown"
        return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith(prefix)), "?")

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "memory": first("/proc/meminfo", "MemTotal"),
        "cpu_model": first("/proc/cpuinfo", "model name"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": os.getloadavg(),
        "command": "uv run python bench/gateway_bench.py " + " ".join(sys.argv[1:]),
    }


def write_results(results: dict[str, Any], output_dir: Path) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M%S")
    path = output_dir / f"gateway-{stamp}.json"
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return path


def print_summary(results: dict[str, Any]) -> None:
    print("\n| measurement | result | target |\n|---|---|---|")
    for name, target in results["targets"].items():
        verdict = "met" if target["met"] else "NOT met"
        print(f"| {name} | {target['value']} | {target['target']} ({verdict}) |")
    for name, value in results["ratios"].items():
        print(f"| {name} | {value} | |")


async def main(options: Options) -> int:
    stack = Stack(options)
    facts = machine_facts()
    try:
        measured = await asyncio.wait_for(run(stack), timeout=options.max_seconds)
    finally:
        await stop_stack(stack)
    results = {"machine": facts, "options": asdict(options) | {"output_dir": None}, **measured}
    results["targets"] = targets(results)
    path = write_results(results, options.output_dir)
    print_summary(results)
    say(f"results in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_options())))
