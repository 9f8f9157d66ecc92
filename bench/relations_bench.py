"""End-to-end benchmark of the relations service: API, outbox, relay and broker together.

Starts its own Tansu broker, a fresh PostgreSQL database, the API (``relata-relations api``, a
real uvicorn process) and the outbox relay (``relata-relations relay``), all on loopback, then
measures create latency (one client and many), bulk import throughput until every event is
published, and commit-to-consumed latency of events. Each measurement is paired with the
simplest alternative in the same run, so ratios survive a noisy machine. Everything it starts
is stopped by its own handle and the database is dropped at the end.

    uv run python bench/relations_bench.py --help
    uv run python bench/relations_bench.py --quick
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import harness
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from harness import HOST, RESULTS_DIR, latency_summary, ratio, run_workers, say

from relata_cli.tansu import TansuBroker, free_port
from relata_common.db import asyncpg_dsn
from relata_common.events import RELATIONS_TOPIC

TARGET_CREATE_P95_MS = 15.0
TARGET_IMPORT_PUBLISHED_PER_S = 5_000.0
TARGET_CONSUMED_P95_MS = 100.0


# --- options -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    creates: int = 2_000
    concurrency: int = 20
    concurrent_creates: int = 4_000
    import_rows: int = 100_000
    import_sample: int = 2_000
    steady_rate: float = 200.0
    steady_seconds: float = 10.0
    consumer_max_wait_ms: str = "500,100,10"
    postgres_url: str = harness.POSTGRES_URL
    log_level: str = "WARNING"
    max_seconds: float = 900.0
    output_dir: Path = RESULTS_DIR
    quick: bool = False


QUICK = {
    "creates": 200,
    "concurrent_creates": 400,
    "import_rows": 5_000,
    "import_sample": 200,
    "steady_rate": 100.0,
    "steady_seconds": 3.0,
    "max_seconds": 120.0,
}

OPTION_HELP: harness.OptionHelp = (
    ("creates", int, "sequential POST /relations calls by one client"),
    ("concurrency", int, "concurrent clients in the concurrent create run"),
    ("concurrent_creates", int, "creates in total across the concurrent clients"),
    ("import_rows", int, "NDJSON rows streamed in one POST /relations/import"),
    ("import_sample", int, "rows sent one by one (POST /relations) to compare the import with"),
    ("steady_rate", float, "creates per second while measuring commit-to-consumed latency"),
    ("steady_seconds", float, "how long the steady create stream runs"),
    ("consumer_max_wait_ms", str, "fetch_max_wait_ms of the latency consumer, one run each"),
    ("postgres_url", str, "PostgreSQL server URL without a database"),
    ("log_level", str, "CRM_LOG_LEVEL of the service processes"),
    ("max_seconds", float, "abort the whole run after this many seconds"),
    ("output_dir", Path, "where the JSON results go"),
)


def parse_options(argv: list[str] | None = None) -> Options:
    """Options from the command line; --quick shrinks every size not given explicitly."""
    parser = harness.option_parser(
        __doc__, Options(), OPTION_HELP, QUICK, "a smoke run of under a minute"
    )
    return Options(**harness.chosen_options(parser, argv, Options(), QUICK))


# --- test data ---------------------------------------------------------------------------------

LAST_NAMES = ("Berg", "Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meijer", "Mulder")
FIRST_NAMES = ("Jan", "Marie", "Piet", "Anna", "Kees", "Sanne", "Tom", "Eva")
CITIES = (("Oudegracht", "3511 AB", "Utrecht"), ("Damrak", "1012 LG", "Amsterdam"))


def person_fields(tag: str, i: int) -> dict[str, Any]:
    street, postal_code, city = CITIES[i % len(CITIES)]
    return {
        "last_name": LAST_NAMES[i % len(LAST_NAMES)],
        "first_name": FIRST_NAMES[(i // 8) % len(FIRST_NAMES)],
        "emails": [{"address": f"{tag}-{i}@example.org"}],
        "phones": [{"number": f"06{10_000_000 + i % 40_000_000:08d}"}],
        "addresses": [
            {
                "street": street,
                "house_number": str(1 + i % 300),
                "postal_code": postal_code,
                "city": city,
            }
        ],
    }


def relation_body(tag: str, i: int, *, with_external_id: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"relation_type": "person", "fields": person_fields(tag, i)}
    if with_external_id:
        body["external_id"] = f"{tag}-{i}"
    return body


def ndjson_chunks(tag: str, rows: int, lines_per_chunk: int = 500) -> list[bytes]:
    """The import file, built up front so generating it costs nothing during the measurement."""
    chunks = []
    for start in range(0, rows, lines_per_chunk):
        lines = (
            orjson.dumps(relation_body(tag, i, with_external_id=True))
            for i in range(start, min(rows, start + lines_per_chunk))
        )
        chunks.append(b"\n".join(lines) + b"\n")
    return chunks


# --- processes and infrastructure --------------------------------------------------------------


@dataclass
class Stack:
    """Everything the benchmark started, each with its own handle."""

    options: Options
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    database: str = field(default_factory=lambda: f"relata_bench_{uuid.uuid4().hex[:10]}")
    api_port: int = field(default_factory=free_port)
    relay_port: int = field(default_factory=free_port)
    processes: harness.Processes = field(default_factory=harness.Processes.temporary)
    broker: TansuBroker | None = None
    databases: harness.Databases = field(default_factory=harness.Databases)

    @property
    def log_dir(self) -> Path:
        return self.processes.log_dir

    @property
    def database_url(self) -> str:
        return harness.database_url(self.options.postgres_url, self.database)

    @property
    def dsn(self) -> str:
        return asyncpg_dsn(self.database_url)

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    def spawn(self, name: str, role: str, port: int) -> None:
        assert self.broker is not None
        env = harness.service_env(
            postgres_url=self.options.postgres_url,
            database_name=self.database,
            kafka_bootstrap=self.broker.bootstrap,
            internal_token=self.token,
            log_level=self.options.log_level,
        )
        argv = [harness.executable("relata-relations"), role, "--host", HOST, "--port", str(port)]
        self.processes.spawn(name, argv, env)


async def start_stack(stack: Stack) -> None:
    say("starting the Tansu broker")
    stack.broker = harness.start_broker(stack.log_dir)
    say(f"creating database {stack.database}")
    await stack.databases.create(stack.database_url)
    say(f"starting the API on port {stack.api_port} (migrates the database)")
    stack.spawn("api", "api", stack.api_port)
    await harness.wait_ready(f"{stack.api_url}/ready", stack.processes)
    say(f"starting the outbox relay on port {stack.relay_port}")
    stack.spawn("relay", "relay", stack.relay_port)
    await harness.wait_ready(f"http://{HOST}:{stack.relay_port}/ready", stack.processes)


async def stop_stack(stack: Stack) -> None:
    say("stopping the API, the relay and the broker")
    stack.processes.stop()
    if stack.broker is not None:
        stack.broker.stop()
        stack.broker = None
    if stack.databases.created:
        say(f"dropping database {stack.database}")
        await stack.databases.drop_all()


def api_client(stack: Stack, connections: int) -> httpx.AsyncClient:
    headers = {"X-Internal-Token": stack.token, "X-Actor-Kind": "system"}
    return harness.keepalive_client(stack.api_url, connections, headers)


async def outbox_backlog(connection: asyncpg.Connection) -> int:
    return int(await connection.fetchval("SELECT count(*) FROM outbox"))


async def wait_outbox_empty(connection: asyncpg.Connection, limit: float = 300.0) -> float:
    """Poll the outbox until it is empty; returns the monotonic time it was seen empty."""
    deadline = time.monotonic() + limit
    while (backlog := await outbox_backlog(connection)) > 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"outbox still holds {backlog} rows after {limit} s")
        await asyncio.sleep(0.05)
    return time.monotonic()


# --- creating relations ------------------------------------------------------------------------


async def post_relation(client: httpx.AsyncClient, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    response = await client.post("/relations", json=body)
    elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"POST /relations answered {response.status_code}: {response.text}")
    return elapsed


async def measure_creates(stack: Stack, tag: str, total: int, workers: int) -> dict[str, float]:
    async with api_client(stack, workers) as client:
        await run_workers(min(50, total), 1, lambda i: post_relation(client, relation_body("w", i)))
        latencies, elapsed = await run_workers(
            total, workers, lambda i: post_relation(client, relation_body(tag, i))
        )
    return latency_summary(latencies, elapsed)


async def plain_insert(pool: asyncpg.Pool, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    async with pool.acquire() as connection:
        await connection.execute(
            "INSERT INTO bench_plain (id, doc) VALUES ($1, $2::jsonb)",
            uuid.uuid4(),
            orjson.dumps(body).decode(),
        )
    return time.perf_counter() - started


async def measure_plain_inserts(
    stack: Stack, tag: str, total: int, workers: int
) -> dict[str, float]:
    """The simplest alternative: asyncpg INSERT of the same JSON, no validation/outbox/history."""
    async with asyncpg.create_pool(stack.dsn, min_size=workers, max_size=workers) as pool:
        await pool.execute(
            "CREATE TABLE IF NOT EXISTS bench_plain (id uuid PRIMARY KEY, doc jsonb)"
        )
        latencies, elapsed = await run_workers(
            total, workers, lambda i: plain_insert(pool, relation_body(tag, i))
        )
    return latency_summary(latencies, elapsed)


# --- bulk import -------------------------------------------------------------------------------


async def stream(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def measure_import(stack: Stack, connection: asyncpg.Connection, rows: int) -> dict[str, Any]:
    tag = f"imp{uuid.uuid4().hex[:6]}"
    chunks = ndjson_chunks(tag, rows)
    say(f"import: streaming {rows} rows ({sum(map(len, chunks)) / 1e6:.1f} MB NDJSON)")
    async with api_client(stack, 1) as client:
        started = time.monotonic()
        response = await client.post(
            "/relations/import",
            content=stream(chunks),
            headers={"Content-Type": "application/x-ndjson"},
            timeout=httpx.Timeout(600.0, connect=5.0),
        )
        answered = time.monotonic()
    if response.status_code != 200:
        raise RuntimeError(f"import answered {response.status_code}: {response.text[:500]}")
    report = response.json()
    backlog = await outbox_backlog(connection)
    say(f"import answered in {answered - started:.1f} s; outbox backlog then {backlog}")
    drained = await wait_outbox_empty(connection, limit=600.0)
    events = await count_created_events(stack, tag)
    return {
        "rows": rows,
        "report": {k: v for k, v in report.items() if k != "invalid"},
        "seconds_to_response": round(answered - started, 3),
        "seconds_to_outbox_empty": round(drained - started, 3),
        "rows_per_s_to_response": round(rows / (answered - started), 1),
        "rows_per_s_published": round(rows / (drained - started), 1),
        "outbox_backlog_at_response": backlog,
        "events": events,
    }


async def measure_one_by_one(
    stack: Stack, connection: asyncpg.Connection, rows: int
) -> dict[str, Any]:
    """The same kind of rows through sequential POST /relations, until their events are out."""
    tag = f"one{uuid.uuid4().hex[:6]}"
    async with api_client(stack, 1) as client:
        started = time.monotonic()
        latencies, _ = await run_workers(
            rows, 1, lambda i: post_relation(client, relation_body(tag, i, with_external_id=True))
        )
        answered = time.monotonic()
    drained = await wait_outbox_empty(connection)
    return {
        "rows": rows,
        "rows_per_s_to_response": round(rows / (answered - started), 1),
        "rows_per_s_published": round(rows / (drained - started), 1),
        "latency": latency_summary(latencies),
    }


# --- reading the topic -------------------------------------------------------------------------


async def topic_consumer(stack: Stack, **settings: Any) -> tuple[AIOKafkaConsumer, list]:
    """A consumer without a group, assigned every partition of the relations topic."""
    assert stack.broker is not None
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.broker.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **settings,
    )
    await consumer.start()
    await consumer.topics()  # loads metadata
    partitions = consumer.partitions_for_topic(RELATIONS_TOPIC) or set()
    assigned = [TopicPartition(RELATIONS_TOPIC, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    return consumer, assigned


async def count_created_events(stack: Stack, tag: str, limit: float = 180.0) -> dict[str, int]:
    """Read the whole topic: every record, and the relation.created events of ``tag`` rows."""
    consumer, assigned = await topic_consumer(stack, max_partition_fetch_bytes=4 * 1024 * 1024)
    try:
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        totals = {"records": 0, "created_for_rows": 0, "unique_created_for_rows": 0}
        seen: set[str] = set()
        deadline = time.monotonic() + limit
        while await behind(consumer, ends):
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic not read to its end in {limit} s")
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batch.values():
                totals["records"] += len(records)
                for record in records:
                    external_id = created_external_id(record.value)
                    if external_id and external_id.startswith(f"{tag}-"):
                        totals["created_for_rows"] += 1
                        seen.add(external_id)
        totals["unique_created_for_rows"] = len(seen)
        return totals
    finally:
        await consumer.stop()


async def behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    """Whether the consumer has not yet reached ``ends`` on some partition."""
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return True
    return False


def created_external_id(value: bytes) -> str | None:
    envelope = orjson.loads(value)
    if envelope.get("type") != "relation.created":
        return None
    return envelope["payload"]["state"].get("external_id")


# --- commit-to-consumed latency ----------------------------------------------------------------


def consumed_delay(value: bytes, tag: str, now: float) -> float | None:
    """Seconds from the event's ``occurred_at`` to ``now``, for events of ``tag`` rows."""
    envelope = orjson.loads(value)
    external_id = envelope.get("payload", {}).get("state", {}).get("external_id") or ""
    if not external_id.startswith(f"{tag}-"):
        return None
    return now - datetime.fromisoformat(envelope["occurred_at"]).timestamp()


async def consume_delays(
    consumer: AIOKafkaConsumer, tag: str, delays: list[float], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        batch = await consumer.getmany(timeout_ms=100)
        now = time.time()
        for records in batch.values():
            for record in records:
                delay = consumed_delay(record.value, tag, now)
                if delay is not None:
                    delays.append(delay)


async def steady_creates(
    stack: Stack, tag: str, rate: float, seconds: float
) -> tuple[list[float], int]:
    """Create relations on a fixed schedule (open loop: a slow answer does not slow the rate)."""
    total = int(rate * seconds)
    latencies: list[float] = []
    async with api_client(stack, 50) as client:

        async def one(i: int) -> None:
            body = relation_body(tag, i, with_external_id=True)
            try:
                latencies.append(await post_relation(client, body))
            except httpx.TransportError as error:  # counted: consumed < created shows it
                say(f"   create {i} failed: {error!r}")

        tasks = []
        started = time.monotonic()
        for i in range(total):
            await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return latencies, total


async def measure_consumed_latency(stack: Stack, max_wait_ms: int) -> dict[str, Any]:
    options = stack.options
    tag = f"lat{uuid.uuid4().hex[:6]}"
    before = await relay_publish_delays(stack)
    consumer, assigned = await topic_consumer(stack, fetch_max_wait_ms=max_wait_ms)
    delays: list[float] = []
    stop = asyncio.Event()
    reader: asyncio.Task[None] | None = None
    try:
        await consumer.seek_to_end(*assigned)
        for tp in assigned:
            await consumer.position(tp)  # resolve the end offsets before producing
        reader = asyncio.create_task(consume_delays(consumer, tag, delays, stop))
        latencies, total = await steady_creates(
            stack, tag, options.steady_rate, options.steady_seconds
        )
        deadline = time.monotonic() + 30
        while len(delays) < total and time.monotonic() < deadline and not reader.done():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        stop.set()
        await reader
    finally:
        if reader is not None:
            reader.cancel()
        await consumer.stop()
    return {
        "rate_per_s": options.steady_rate,
        "seconds": options.steady_seconds,
        "created": total,
        "answered_201": len(latencies),
        "consumed": len(delays),
        "commit_to_consumed": latency_summary(delays),
        "create_latency": latency_summary(latencies),
        "consumer_fetch_max_wait_ms": max_wait_ms,
        "relay_commit_to_ack": bucket_summary(before, await relay_publish_delays(stack)),
    }


async def relay_publish_delays(stack: Stack) -> dict[str, float]:
    """The relay's publish-delay histogram (outbox row written to broker ack), cumulative."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        text = (await client.get(f"http://{HOST}:{stack.relay_port}/metrics")).text
    prefix = "relata_outbox_publish_delay_seconds"
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(f'{prefix}_bucket{{le="'):
            values[line.split('"')[1]] = float(line.rsplit(" ", 1)[1])
        elif line.startswith((f"{prefix}_count ", f"{prefix}_sum ")):
            name, value = line.split(" ")
            values[name.removeprefix(prefix)] = float(value)
    return values


def bucket_summary(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Share of events within each bucket bound, and the mean, between two scrapes."""
    count = after.get("_count", 0) - before.get("_count", 0)
    if not count:
        return {"count": 0}
    summary = {"count": count, "mean_ms": round(1000 * (after["_sum"] - before["_sum"]) / count, 2)}
    for bound in ("0.01", "0.025", "0.05", "0.1", "0.25"):
        within = after.get(bound, 0) - before.get(bound, 0)
        summary[f"share_within_{float(bound) * 1000:g}ms"] = round(within / count, 3)
    return summary


# --- the run -----------------------------------------------------------------------------------


async def phase_creates(stack: Stack, connection: asyncpg.Connection) -> dict[str, Any]:
    options = stack.options
    say(f"1. {options.creates} sequential creates, one client")
    single = await measure_creates(stack, "seq", options.creates, 1)
    say(f"   {single}")
    await wait_outbox_empty(connection)
    say(f"1b. baseline: {options.creates} sequential plain asyncpg INSERTs")
    plain_single = await measure_plain_inserts(stack, "pseq", options.creates, 1)
    say(f"   {plain_single}")
    say(f"2. {options.concurrent_creates} creates from {options.concurrency} concurrent clients")
    many = await measure_creates(stack, "conc", options.concurrent_creates, options.concurrency)
    say(f"   {many}")
    await wait_outbox_empty(connection)
    say(f"2b. baseline: {options.concurrent_creates} plain INSERTs, {options.concurrency} clients")
    plain_many = await measure_plain_inserts(
        stack, "pconc", options.concurrent_creates, options.concurrency
    )
    say(f"   {plain_many}")
    return {
        "sequential": single,
        "sequential_plain_insert": plain_single,
        "sequential_p95_vs_plain": ratio(single["p95_ms"], plain_single["p95_ms"]),
        "sequential_rate_vs_plain": ratio(single["per_second"], plain_single["per_second"]),
        "concurrent": many,
        "concurrent_plain_insert": plain_many,
        "concurrent_p95_vs_plain": ratio(many["p95_ms"], plain_many["p95_ms"]),
        "concurrent_rate_vs_plain": ratio(many["per_second"], plain_many["per_second"]),
    }


async def phase_import(stack: Stack, connection: asyncpg.Connection) -> dict[str, Any]:
    options = stack.options
    say(f"3a. baseline: {options.import_sample} rows one by one through POST /relations")
    single = await measure_one_by_one(stack, connection, options.import_sample)
    say(f"   {single}")
    say(f"3. bulk import of {options.import_rows} rows")
    bulk = await measure_import(stack, connection, options.import_rows)
    say(f"   {bulk}")
    return {
        "bulk": bulk,
        "one_by_one": single,
        "published_rate_vs_one_by_one": ratio(
            bulk["rows_per_s_published"], single["rows_per_s_published"]
        ),
        "response_rate_vs_one_by_one": ratio(
            bulk["rows_per_s_to_response"], single["rows_per_s_to_response"]
        ),
    }


async def topic_consistency(
    stack: Stack, connection: asyncpg.Connection, records_read: int
) -> dict[str, int]:
    """Every relation in the database has its relation.created event on the topic.

    ``records_read`` counts the records read from the topic (after the last phase); the sum of
    the end offsets the broker reports is kept beside it as a cross-check.
    """
    relations = int(await connection.fetchval("SELECT count(*) FROM relations"))
    consumer, assigned = await topic_consumer(stack)
    try:
        ends = await consumer.end_offsets(assigned)
    finally:
        await consumer.stop()
    return {
        "relations_in_database": relations,
        "records_read_from_topic": records_read,
        "end_offsets_sum": sum(ends.values()),
    }


async def run(stack: Stack) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": harness.machine_facts(Path(__file__).name),
        "options": _jsonable(stack.options),
    }
    await start_stack(stack)
    connection = await asyncpg.connect(stack.dsn)
    try:
        results["creates"] = await phase_creates(stack, connection)
        # Latency before the bulk import: the import leaves vacuum work behind it.
        results["consumed_latency"] = await phase_consumed_latency(stack, connection)
        results["import"] = await phase_import(stack, connection)
        await wait_outbox_empty(connection)
        read = results["import"]["bulk"]["events"]["records"]
        results["topic"] = await topic_consistency(stack, connection, read)
        say(f"   topic: {results['topic']}")
    finally:
        await connection.close()
    results["machine"]["loadavg_at_end"] = os.getloadavg()
    results["targets"] = targets(results)
    return results


async def phase_consumed_latency(
    stack: Stack, connection: asyncpg.Connection
) -> list[dict[str, Any]]:
    runs = []
    for max_wait_ms in (int(v) for v in stack.options.consumer_max_wait_ms.split(",")):
        await wait_outbox_empty(connection)
        await asyncio.sleep(1.0)  # let the previous run's stragglers settle
        say(
            f"4. commit-to-consumed latency at {stack.options.steady_rate:g} creates/s, "
            f"consumer fetch_max_wait_ms={max_wait_ms}"
        )
        runs.append(await measure_consumed_latency(stack, max_wait_ms))
        say(f"   {runs[-1]}")
    return runs


def targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    create_p95 = results["creates"]["sequential"]["p95_ms"]
    published = results["import"]["bulk"]["rows_per_s_published"]
    verdicts = {
        "create_p95_ms": harness.verdict(create_p95, TARGET_CREATE_P95_MS, at_most=True),
        "import_published_per_s": harness.verdict(
            published, TARGET_IMPORT_PUBLISHED_PER_S, at_most=False
        ),
    }
    for run in results["consumed_latency"]:
        p95 = run["commit_to_consumed"].get("p95_ms", float("inf"))
        name = f"commit_to_consumed_p95_ms (fetch_max_wait_ms={run['consumer_fetch_max_wait_ms']})"
        verdicts[name] = harness.verdict(p95, TARGET_CONSUMED_P95_MS, at_most=True)
    return verdicts


def _jsonable(options: Options) -> dict[str, Any]:
    return {k: v for k, v in asdict(options).items() if k != "output_dir"}


def print_summary(results: dict[str, Any]) -> None:
    creates, bulk = results["creates"], results["import"]
    harness.print_targets(results["targets"])
    print(f"| sequential create rate vs plain INSERT | {creates['sequential_rate_vs_plain']} | |")
    print(f"| concurrent create rate vs plain INSERT | {creates['concurrent_rate_vs_plain']} | |")
    print(f"| import published rate vs one by one | {bulk['published_rate_vs_one_by_one']} | |")


async def main_async(options: Options) -> int:
    stack = Stack(options)
    say(f"service logs go to {stack.log_dir}")
    try:
        results = await asyncio.wait_for(run(stack), timeout=options.max_seconds)
    finally:
        await stop_stack(stack)
    path = harness.write_json(results, options.output_dir, "relations")
    print_summary(results)
    say(f"results written to {path}")
    shutil.rmtree(stack.log_dir, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    return asyncio.run(main_async(options))


if __name__ == "__main__":
    sys.exit(main())
