"""``crm status``: is each process ready, how much is waiting in each outbox, how far behind
each consumer group is. Whatever cannot be measured is reported as unknown, never a crash."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import httpx

from relata_cli import runstate
from relata_cli.processes import DEFAULT_PORT_BASE, PROCESSES, port

UNKNOWN = "unknown"


@dataclass(frozen=True)
class ProcessState:
    name: str
    port: int
    state: str


@dataclass(frozen=True)
class Backlog:
    database: str
    rows: int | None
    note: str = ""


@dataclass(frozen=True)
class Lag:
    group: str
    lag: int | None
    partitions: int = 0
    note: str = ""


async def process_states(
    client: httpx.AsyncClient, base: int = DEFAULT_PORT_BASE
) -> list[ProcessState]:
    async def one(name: str, port: int) -> ProcessState:
        try:
            response = await client.get(f"http://127.0.0.1:{port}/ready", timeout=3)
        except httpx.HTTPError as error:
            return ProcessState(name, port, f"down ({type(error).__name__})")
        try:
            state = str(response.json().get("status", response.status_code))
        except ValueError:
            state = str(response.status_code)
        return ProcessState(name, port, state if response.status_code == 200 else f"{state} !")

    return list(await asyncio.gather(*(one(s.name, port(s, base)) for s in PROCESSES)))


async def outbox_backlogs(env: dict[str, str]) -> list[Backlog]:
    import asyncpg
    from sqlalchemy.engine import make_url

    from relata_common.db import asyncpg_dsn

    server = runstate.postgres_url(env)
    databases = dict.fromkeys(runstate.database_name(env, s.database) for s in PROCESSES)

    async def one(database: str) -> Backlog:
        url = make_url(server).set(database=database).render_as_string(hide_password=False)
        try:
            connection = await asyncpg.connect(asyncpg_dsn(url), timeout=5)
        except asyncpg.InvalidCatalogNameError:
            return Backlog(database, None, "no such database")
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            return Backlog(database, None, type(error).__name__)
        try:
            if await connection.fetchval("SELECT to_regclass('outbox')") is None:
                return Backlog(database, None, "no outbox: publishes nothing")
            return Backlog(database, int(await connection.fetchval("SELECT count(*) FROM outbox")))
        except asyncpg.PostgresError as error:
            return Backlog(database, None, type(error).__name__)
        finally:
            await connection.close()

    return list(await asyncio.gather(*(one(d) for d in databases)))


async def consumer_lags(env: dict[str, str], timeout: float = 10.0) -> list[Lag]:
    """Committed offsets of every consumer group against the end of each partition."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the note says what failed
    bootstrap = runstate.kafka_bootstrap(env)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=1024,
    )
    try:
        await asyncio.wait_for(admin.start(), timeout)
        await asyncio.wait_for(consumer.start(), timeout)
        groups = await asyncio.wait_for(admin.list_consumer_groups(), timeout)
        # Tansu cannot answer "every offset of the group": ask for every partition instead.
        partitions = [
            TopicPartition(topic, partition)
            for topic in sorted(await consumer.topics())
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        lags = []
        for group in sorted({str(g[0]) for g in groups}):
            try:
                offsets = await asyncio.wait_for(
                    admin.list_consumer_group_offsets(group, partitions=partitions), timeout
                )
                committed = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
                ends = await _ends(consumer, committed, timeout)
                lag = sum(max(0, ends[tp] - offset) for tp, offset in committed.items())
                lags.append(Lag(group, lag, len(committed)))
            except Exception as error:  # a broker gap must not hide the other groups
                lags.append(Lag(group, None, note=str(error)[:80] or type(error).__name__))
        return lags
    except Exception as error:
        return [Lag("(consumer groups)", None, note=(str(error) or type(error).__name__)[:120])]
    finally:
        await _quietly(consumer.stop())
        await _quietly(admin.close())


async def _ends(consumer: Any, committed: dict[Any, int], timeout: float) -> dict[Any, int]:
    """The end of each partition, as fetch responses tell it (the high watermark).

    Tansu's ListOffsets answers the base offset of the last batch, not the end, once producers
    batch; its fetch responses carry the right high watermark, so read a sliver at the group's
    position and take it from there. ListOffsets covers what a fetch did not answer for.
    """
    if not committed:
        return {}
    consumer.assign(list(committed))
    for tp, offset in committed.items():
        consumer.seek(tp, offset)
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        await consumer.getmany(timeout_ms=500)
        if all(consumer.highwater(tp) is not None for tp in committed):
            break
    listed = await asyncio.wait_for(consumer.end_offsets(list(committed)), timeout)
    return {tp: consumer.highwater(tp) or listed[tp] for tp in committed}


async def _quietly(closing: Awaitable[object]) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(closing, 5)
