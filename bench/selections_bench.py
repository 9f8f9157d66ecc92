"""Benchmark of freezing a selection: 200,000 relations, lists service to selections service.

Creates two fresh PostgreSQL databases, starts the lists API and the selections API as real
uvicorn processes on loopback, and fills the lists read model, a relation list and its
memberships directly in the lists database (COPY, for speed). Then it times
``POST /selections`` end to end: the selections API asks the lists API for the ids
(``POST /evaluate/ids``) and freezes them with one COPY. Beside it, in the same run, the
simplest alternative: inserting members one row at a time (one INSERT per member in one
transaction), timed on a sample and extrapolated. No broker is
needed: creating a selection writes its event to the outbox, which no relay publishes here.
Everything it starts is stopped by its own handle and both databases are dropped at the end.

    uv run python bench/selections_bench.py --help
    uv run python bench/selections_bench.py --quick
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import statistics
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import harness
import httpx
import orjson
from harness import HOST, RESULTS_MD, say

from relata_cli.tansu import free_port
from relata_common.db import asyncpg_dsn

TARGET_FREEZE_S = 5.0
CITY = "Utrecht"


@dataclass(frozen=True)
class Options:
    relations: int = 200_000
    runs: int = 3
    sample: int = 5_000
    postgres_url: str = harness.POSTGRES_URL
    log_level: str = "WARNING"
    max_seconds: float = 600.0
    write_results: bool = True
    quick: bool = False


QUICK = {"relations": 20_000, "runs": 1, "sample": 1_000, "max_seconds": 120.0}

OPTION_HELP: harness.OptionHelp = (
    ("relations", int, "relations in the list, all frozen into each selection"),
    ("runs", int, "selections created from the list (and as many from the filter)"),
    ("sample", int, "members inserted one row at a time, to extrapolate the naive way"),
    ("postgres_url", str, "PostgreSQL server URL without a database"),
    ("log_level", str, "CRM_LOG_LEVEL of the service processes"),
    ("max_seconds", float, "abort the whole run after this many seconds"),
)


def parse_options(argv: list[str] | None = None) -> Options:
    parser = harness.option_parser(
        __doc__, Options(), OPTION_HELP, QUICK, "a smoke run of well under a minute"
    )
    parser.add_argument(
        "--no-write", action="store_true", help=f"do not append to {RESULTS_MD.name}"
    )
    chosen = harness.chosen_options(parser, argv, Options(), QUICK)
    write = not chosen.pop("no_write")
    return Options(**chosen, write_results=write)


# --- processes ---------------------------------------------------------------------------------


@dataclass
class Stack:
    options: Options
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    lists_port: int = field(default_factory=free_port)
    selections_port: int = field(default_factory=free_port)
    nobody_port: int = field(default_factory=free_port)
    processes: harness.Processes = field(default_factory=harness.Processes.temporary)
    databases: harness.Databases = field(default_factory=harness.Databases)

    @property
    def log_dir(self) -> Path:
        return self.processes.log_dir

    def database(self, service: str) -> str:
        return f"relata_bench_{service}_{self.suffix}"

    def database_url(self, service: str) -> str:
        return harness.database_url(self.options.postgres_url, self.database(service))

    def url(self, port: int) -> str:
        return f"http://{HOST}:{port}"

    def spawn(self, name: str, command: str, port: int, **settings: str) -> None:
        env = harness.service_env(
            postgres_url=self.options.postgres_url,
            internal_token=self.token,
            log_level=self.options.log_level,
            # Nothing listens there: no relations service is part of this measurement.
            relations_url=self.url(self.nobody_port),
            **settings,
        )
        argv = [harness.executable(command), "api", "--host", HOST, "--port", str(port)]
        self.processes.spawn(name, argv, env)


async def start_stack(stack: Stack) -> None:
    for service in ("lists", "selections"):
        await stack.databases.create(stack.database_url(service))
    say(f"starting the lists API on port {stack.lists_port}")
    stack.spawn(
        "lists-api", "relata-lists", stack.lists_port, database_name=stack.database("lists")
    )
    say(f"starting the selections API on port {stack.selections_port}")
    stack.spawn(
        "selections-api",
        "relata-selections",
        stack.selections_port,
        database_name=stack.database("selections"),
        lists_url=stack.url(stack.lists_port),
    )
    await harness.wait_ready(f"{stack.url(stack.lists_port)}/ready", stack.processes)
    await harness.wait_ready(f"{stack.url(stack.selections_port)}/ready", stack.processes)


async def stop_stack(stack: Stack) -> None:
    say("stopping the APIs and dropping the databases")
    stack.processes.stop()
    await stack.databases.drop_all()


def client(stack: Stack, port: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=stack.url(port),
        headers={"X-Internal-Token": stack.token, "X-Actor-Kind": "system"},
        timeout=httpx.Timeout(300.0, connect=5.0),
    )


# --- the measurement ---------------------------------------------------------------------------


async def fill_read_model(stack: Stack) -> tuple[list[uuid.UUID], float]:
    """COPY the relations straight into the lists read model; returns their ids and the
    seconds it took."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    records = [
        (uuid.uuid4(), 1, "person", "active", 100_001 + i, f"lid {i}", [CITY.lower()], now, now)
        for i in range(stack.options.relations)
    ]
    connection = await asyncpg.connect(asyncpg_dsn(stack.database_url("lists")))
    try:
        await connection.copy_records_to_table(
            "rm_relations",
            records=records,
            columns=(
                "relation_id",
                "version",
                "relation_type",
                "status",
                "relation_number",
                "sort_name",
                "cities",
                "created_at",
                "updated_at",
            ),
        )
        await connection.execute("ANALYZE rm_relations")
    finally:
        await connection.close()
    return [r[0] for r in records], time.perf_counter() - started


def city_filter() -> dict[str, Any]:
    return {"all": [{"kind": "field", "field": "city", "op": "equals", "value": CITY}]}


async def define_list(stack: Stack, relation_ids: list[uuid.UUID]) -> tuple[str, float]:
    """A relation list with every relation as a member, written straight into the lists
    database (the lists API would evaluate it and announce each member entering, which is
    setup here, not the measurement)."""
    started = time.perf_counter()
    list_id = uuid.uuid4()
    connection = await asyncpg.connect(asyncpg_dsn(stack.database_url("lists")))
    try:
        async with connection.transaction():
            await connection.execute(
                "INSERT INTO lists (list_id, name, filter, version, aspects, relative,"
                " evaluated_on) VALUES ($1, 'Everyone', $2::jsonb, 1, ARRAY['field:city'],"
                " false, current_date)",
                list_id,
                orjson.dumps(city_filter()).decode(),
            )
            await connection.copy_records_to_table(
                "memberships",
                records=[(list_id, relation_id) for relation_id in relation_ids],
                columns=("list_id", "relation_id"),
            )
        await connection.execute("ANALYZE memberships")
    finally:
        await connection.close()
    return str(list_id), time.perf_counter() - started


async def freeze(stack: Stack, source: dict[str, Any]) -> float:
    async with client(stack, stack.selections_port) as selections:
        started = time.perf_counter()
        response = await selections.post("/selections", json={"name": "bench", "source": source})
        elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"POST /selections answered {response.status_code}: {response.text}")
    count = response.json()["member_count"]
    if count != stack.options.relations:
        raise RuntimeError(f"froze {count} members, expected {stack.options.relations}")
    return elapsed


async def insert_components(stack: Stack) -> dict[str, float]:
    """The insert alone: one COPY of every id versus one INSERT per row (a sample)."""
    options = stack.options
    connection = await asyncpg.connect(asyncpg_dsn(stack.database_url("selections")))
    try:
        ids = [str(uuid.uuid4()) for _ in range(options.relations)]

        async def scratch_selection() -> uuid.UUID:
            selection_id = uuid.uuid4()
            await connection.execute(
                "INSERT INTO selections (selection_id, name, source_kind, version)"
                " VALUES ($1, 'scratch', 'manual', 1)",
                selection_id,
            )
            return selection_id

        copy_into = await scratch_selection()
        now = datetime.now(UTC)
        started = time.perf_counter()
        async with connection.transaction():
            await connection.copy_records_to_table(
                "selection_members",
                records=[(copy_into, i, now, "source") for i in ids],
                columns=("selection_id", "relation_id", "added_at", "added_by"),
            )
        copy_s = time.perf_counter() - started

        row_into = await scratch_selection()
        sample = ids[: options.sample]
        started = time.perf_counter()
        async with connection.transaction():
            for relation_id in sample:
                await connection.execute(
                    "INSERT INTO selection_members (selection_id, relation_id, added_at, added_by)"
                    " VALUES ($1, $2, $3, 'source')",
                    row_into,
                    relation_id,
                    now,
                )
        sample_s = time.perf_counter() - started
    finally:
        await connection.close()
    return {
        "copy_all_s": round(copy_s, 3),
        "row_by_row_sample_rows": len(sample),
        "row_by_row_sample_s": round(sample_s, 3),
        "row_by_row_extrapolated_s": round(sample_s * options.relations / len(sample), 3),
    }


def summary(seconds: list[float]) -> dict[str, float]:
    return {
        "runs": len(seconds),
        "median_s": round(statistics.median(seconds), 3),
        "max_s": round(max(seconds), 3),
        "min_s": round(min(seconds), 3),
    }


async def run(stack: Stack) -> dict[str, Any]:
    options = stack.options
    results: dict[str, Any] = {
        "machine": harness.machine_facts(Path(__file__).name),
        "options": asdict(options),
    }
    await start_stack(stack)
    say(f"filling the lists read model with {options.relations} relations")
    relation_ids, fill_s = await fill_read_model(stack)
    results["setup_fill_s"] = round(fill_s, 3)
    say("defining the relation list with every relation as a member")
    list_id, define_s = await define_list(stack, relation_ids)
    results["setup_list_s"] = round(define_s, 3)
    from_list_times, from_filter_times = [], []
    for i in range(options.runs):
        say(f"run {i + 1}/{options.runs}: freeze from the list, then from the filter")
        from_list_times.append(await freeze(stack, {"kind": "list", "list_id": list_id}))
        from_filter_times.append(await freeze(stack, {"kind": "filter", "filter": city_filter()}))
        say(f"   list {from_list_times[-1]:.3f} s, filter {from_filter_times[-1]:.3f} s")
    results["freeze_from_list"] = summary(from_list_times)
    results["freeze_from_filter"] = summary(from_filter_times)
    say(f"the insert alone: COPY of {options.relations} vs one INSERT per row ({options.sample})")
    inserts = await insert_components(stack)
    results["inserts"] = inserts
    e2e = results["freeze_from_list"]["median_s"]
    naive_e2e = e2e - inserts["copy_all_s"] + inserts["row_by_row_extrapolated_s"]
    results["row_by_row_end_to_end_estimate_s"] = round(naive_e2e, 3)
    results["ratio_insert_row_by_row_vs_copy"] = round(
        inserts["row_by_row_extrapolated_s"] / inserts["copy_all_s"], 1
    )
    results["ratio_end_to_end_row_by_row_vs_ours"] = round(naive_e2e / e2e, 1)
    results["target"] = {
        "freeze_median_s": e2e,
        "freeze_max_s": max(
            results["freeze_from_list"]["max_s"], results["freeze_from_filter"]["max_s"]
        ),
        "target_s": TARGET_FREEZE_S,
        "met": max(from_list_times + from_filter_times) <= TARGET_FREEZE_S,
    }
    results["machine"]["loadavg_at_end"] = os.getloadavg()
    return results


def markdown(results: dict[str, Any]) -> str:
    m, o, t, ins = results["machine"], results["options"], results["target"], results["inserts"]
    fl, ff = results["freeze_from_list"], results["freeze_from_filter"]
    verdict = "met" if t["met"] else "NOT met"
    return "\n".join(
        [
            "",
            "## Selections",
            "",
            f"Freezing a selection of {o['relations']:,} relations end to end "
            "(`POST /selections` → lists `POST /evaluate/ids` → COPY), "
            f"{m['date']}, `{m['command'].strip()}`.",
            f"Machine: {m['cpu_model']}, {m['nproc']} CPUs, {m['memory']}, "
            f"Python {m['python']}, {m['platform']}; load average at start "
            f"{', '.join(f'{v:.2f}' for v in m['loadavg_at_start'])}.",
            "",
            "| measurement | result | target |",
            "|---|---|---|",
            f"| freeze from a list, median of {fl['runs']} (max) | {fl['median_s']} s "
            f"({fl['max_s']} s) | ≤ {TARGET_FREEZE_S} s ({verdict}) |",
            f"| freeze from a filter, median of {ff['runs']} (max) | {ff['median_s']} s "
            f"({ff['max_s']} s) | ≤ {TARGET_FREEZE_S} s |",
            f"| insert alone: one COPY of all members | {ins['copy_all_s']} s | |",
            f"| insert alone: one INSERT per member, {ins['row_by_row_sample_rows']:,} rows "
            f"extrapolated | {ins['row_by_row_extrapolated_s']} s | |",
            f"| ratio, insert: row by row vs COPY | {results['ratio_insert_row_by_row_vs_copy']}x "
            "| |",
            f"| ratio, end to end: row by row (estimated) vs ours | "
            f"{results['ratio_end_to_end_row_by_row_vs_ours']}x | |",
            "",
            f"Setup, not measured: read model filled by COPY in {results['setup_fill_s']} s; the "
            f"list and its memberships written by COPY in {results['setup_list_s']} s.",
            "",
        ]
    )


async def main_async(options: Options) -> int:
    stack = Stack(options)
    say(f"service logs go to {stack.log_dir}")
    try:
        results = await asyncio.wait_for(run(stack), timeout=options.max_seconds)
    finally:
        await stop_stack(stack)
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    text = markdown(results)
    print(text)
    if options.write_results:
        harness.append_section(text)
        say(f"appended to {RESULTS_MD}")
    shutil.rmtree(stack.log_dir, ignore_errors=True)
    return 0 if results["target"]["met"] else 1


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_options(argv)))


if __name__ == "__main__":
    sys.exit(main())
