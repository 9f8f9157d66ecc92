"""The outbox and its relay against real PostgreSQL and the Kafka-protocol broker."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from typing_extensions import override

from relata_cli.tansu import TansuBroker, free_port
from relata_common.db import asyncpg_dsn, create_engine
from relata_common.events import RELATIONS_TOPIC
from relata_common.kafka import EventConsumer, create_broker, create_producer, ensure_topics
from relata_common.outbox import OutboxRelay
from relata_common.settings import CommonSettings
from relata_relations.app import create_api, create_relay
from relata_relations.settings import RelationsSettings
from tests.helpers import OutageProxy, envelopes, eventually, read_topic, running
from tests.read_model import ReadModel, inbox
from tests.relations.fixtures import create, person


async def _make_history(client: httpx.AsyncClient, relations: int, updates: int) -> list[str]:
    """Create relations and update each several times, relations concurrently."""

    async def one() -> str:
        created = await create(client, person("Berg"))
        relation_id = created["relation_id"]
        for version in range(1, updates + 1):
            response = await client.patch(
                f"/relations/{relation_id}",
                json={"fields": {"first_name": f"Jan{version}"}},
                headers={"If-Match": f'"{version}"'},
            )
            assert response.status_code == 200, response.text
        return relation_id

    return list(await asyncio.gather(*(one() for _ in range(relations))))


def _by_subject(records, ids: set[str]) -> dict[str, list]:
    grouped: dict[str, list] = defaultdict(list)
    for record in records:
        if record.key.decode() in ids:
            grouped[record.key.decode()].append(record)
    return grouped


async def _outbox_size(settings: RelationsSettings) -> int:
    engine = create_engine(settings.database_url)
    async with engine.connect() as connection:
        size: int = (await connection.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
    await engine.dispose()
    return int(size)


@pytest.mark.usefixtures("relations_relay")
async def test_each_change_is_published_once_in_order(
    relations_api: httpx.AsyncClient, relations_settings, kafka_bootstrap
):
    ids = set(await _make_history(relations_api, relations=20, updates=5))
    expected = len(ids) * 6

    def complete(records) -> bool:
        return sum(len(v) for v in _by_subject(records, ids).values()) >= expected

    records = await read_topic(kafka_bootstrap, RELATIONS_TOPIC, until=complete)
    await asyncio.sleep(0.5)  # anything extra would arrive now
    records = await read_topic(kafka_bootstrap, RELATIONS_TOPIC, until=complete)
    for relation_id, mine in _by_subject(records, ids).items():
        events = envelopes(mine)
        assert [e.subject_version for e in events] == list(range(1, 7)), relation_id
        assert [e.type for e in events] == ["relation.created"] + ["relation.updated"] * 5
        assert len({record.partition for record in mine}) == 1
        assert events[-1].payload["state"]["fields"]["first_name"] == "Jan5"
        assert events[-1].payload["changed_fields"] == ["first_name"]
    assert await _outbox_size(relations_settings) == 0


class CrashBeforeMarkingSent(OutboxRelay):
    """A relay that dies after the broker acknowledged a batch, before deleting it."""

    @override
    async def mark_sent(self, connection, rows) -> None:
        raise RuntimeError("killed between publish and mark-sent")


async def test_relay_crash_after_publish_duplicates_are_ignored(
    relations_api: httpx.AsyncClient,
    relations_settings: RelationsSettings,
    kafka_bootstrap: str,
    read_model: ReadModel,
):
    ids = set(await _make_history(relations_api, relations=5, updates=2))
    await ensure_topics(kafka_bootstrap, [RELATIONS_TOPIC], partitions=12)
    producer = create_producer(relations_settings)
    await producer.start()
    crashing = CrashBeforeMarkingSent(asyncpg_dsn(relations_settings.database_url), producer)
    with pytest.raises(RuntimeError, match="killed"):
        await crashing.run()
    await producer.stop()
    assert await _outbox_size(relations_settings) == 15  # still pending: published, not marked

    async with LifespanManager(create_relay(relations_settings)):
        await eventually(lambda: _empty_outbox(relations_settings))

    records = await read_topic(
        kafka_bootstrap,
        RELATIONS_TOPIC,
        until=lambda rs: sum(map(len, _by_subject(rs, ids).values())) >= 30,
    )
    mine = [r for group in _by_subject(records, ids).values() for r in group]
    assert len(mine) == 30  # every event twice
    assert len({e.event_id for e in envelopes(mine)}) == 15

    consumer_settings = CommonSettings(kafka_bootstrap=kafka_bootstrap, service_name="test")
    consumer_producer = create_producer(consumer_settings)
    await consumer_producer.start()
    broker = create_broker(consumer_settings)
    EventConsumer(
        name=f"dedup-{relations_settings.database_name}",
        topics=[RELATIONS_TOPIC],
        sessions=read_model.sessions,
        inbox=inbox,
        apply=read_model.applier(),
        producer=consumer_producer,
    ).register(broker)
    await broker.start()
    try:

        async def all_applied() -> bool:
            return (
                len({row[1] for row in await read_model.rows()} & ids) == 5
                and sum(1 for row in await read_model.rows() if row[1] in ids) >= 15
            )

        await eventually(all_applied)
        await asyncio.sleep(0.5)
        rows = [row for row in await read_model.rows() if row[1] in ids]
        assert len(rows) == 15
        assert len({row[0] for row in rows}) == 15
    finally:
        await broker.stop()
        await consumer_producer.stop()


async def _empty_outbox(settings: RelationsSettings) -> bool:
    return await _outbox_size(settings) == 0


async def test_writes_while_broker_is_down_arrive_after_it_returns(
    postgres_server: str, database_name: str
):
    proxy_port = free_port()
    broker = TansuBroker(advertised_port=proxy_port).start()
    proxy = OutageProxy(proxy_port, broker.port)
    await proxy.restore()
    settings = RelationsSettings(
        postgres_url=postgres_server,
        database_name=database_name,
        kafka_bootstrap=broker.bootstrap,
        internal_token="t",
    )
    try:
        async with (
            LifespanManager(create_api(settings)) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app),
                base_url="http://relations",
                headers={"X-Internal-Token": "t"},
            ) as client,
            LifespanManager(create_relay(settings)),
        ):
            await create(client, person("Before"))
            await eventually(lambda: _empty_outbox(settings))
            await proxy.cut()
            during = [await create(client, person(f"During{i}")) for i in range(10)]
            await asyncio.sleep(2.0)
            assert await _outbox_size(settings) == 10  # held back, not lost
            await proxy.restore()
            await eventually(lambda: _empty_outbox(settings), timeout=90)
            ids = {r["relation_id"] for r in during}
            records = await read_topic(
                broker.bootstrap,
                RELATIONS_TOPIC,
                until=lambda rs: len(_by_subject(rs, ids)) == 10,
            )
            assert {e.subject_id for e in envelopes(records)} >= ids
    finally:
        await proxy.cut()
        broker.stop()


async def test_standby_relay_takes_over_when_the_leader_stops(
    relations_api: httpx.AsyncClient, relations_settings: RelationsSettings, kafka_bootstrap: str
):
    await ensure_topics(kafka_bootstrap, [RELATIONS_TOPIC], partitions=12)
    producer = create_producer(relations_settings)
    await producer.start()
    dsn = asyncpg_dsn(relations_settings.database_url)
    leader = OutboxRelay(dsn, producer, poll_interval=0.1)
    standby = OutboxRelay(dsn, producer, poll_interval=0.1)
    try:
        async with running(leader.run()) as leader_task:
            await eventually(lambda: _true(leader.is_leader))
            async with running(standby.run()):
                await asyncio.sleep(0.3)
                assert not standby.is_leader
                leader_task.cancel()
                await eventually(lambda: _true(standby.is_leader))
                await create(relations_api, person("AfterTakeover"))
                await eventually(lambda: _empty_outbox(relations_settings))
    finally:
        await producer.stop()


async def _true(value: bool) -> bool:
    return value
