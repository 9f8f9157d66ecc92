"""The common consumer plumbing: consumer groups, idempotence, dead-lettering."""

from __future__ import annotations

import asyncio
import uuid

import orjson
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY

from relata_common.events import Envelope, dead_letter_topic
from relata_common.kafka import EventConsumer, create_broker, create_producer, ensure_topics
from relata_common.settings import CommonSettings
from tests.helpers import eventually, read_topic
from tests.read_model import ReadModel, inbox


def _event(subject: str, version: int, type_: str = "test.happened", **extra) -> bytes:
    envelope = Envelope(
        type=type_, producer="test", subject_id=subject, subject_version=version, **extra
    )
    return envelope.to_json()


async def _start_consumer(
    bootstrap: str, topic: str, group: str, read_model: ReadModel, label: str
) -> tuple[KafkaBroker, AIOKafkaProducer]:
    settings = CommonSettings(kafka_bootstrap=bootstrap, service_name=label)
    producer = create_producer(settings)
    await producer.start()
    broker = create_broker(settings)
    EventConsumer(
        name=group,
        topics=[topic],
        sessions=read_model.sessions,
        inbox=inbox,
        apply=read_model.applier(label),
        producer=producer,
        retry_backoff=0.01,
    ).register(broker)
    await broker.start()
    return broker, producer


async def _produce(bootstrap: str, topic: str, messages: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key.encode()) for key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def test_two_consumers_in_one_group_split_the_partitions(
    kafka_bootstrap: str, read_model: ReadModel, topic_prefix: str
):
    topic = f"{topic_prefix}.split"
    await ensure_topics(kafka_bootstrap, [topic], partitions=12)
    group = f"{topic_prefix}-group"
    first = await _start_consumer(kafka_bootstrap, topic, group, read_model, "first")
    second = await _start_consumer(kafka_bootstrap, topic, group, read_model, "second")
    try:
        await asyncio.sleep(3)  # let the group settle on its two members
        subjects = [f"s{i}" for i in range(200)]
        await _produce(
            kafka_bootstrap, topic, [(s, _event(s, v)) for s in subjects for v in (1, 2, 3)]
        )

        async def all_applied() -> bool:
            return await read_model.count() >= 600

        await eventually(all_applied, timeout=60)
        await asyncio.sleep(0.5)
        rows = await read_model.rows()
        assert len(rows) == 600 and len({row[0] for row in rows}) == 600
        by_consumer = {
            label: {row[1] for row in rows if row[3] == label} for label in ("first", "second")
        }
        assert by_consumer["first"] and by_consumer["second"], "both members got partitions"
        assert not by_consumer["first"] & by_consumer["second"], "a subject went to one member"
    finally:
        for broker, producer in (first, second):
            await broker.stop()
            await producer.stop()


async def test_poison_events_are_dead_lettered_with_their_reason(
    kafka_bootstrap: str, read_model: ReadModel, topic_prefix: str
):
    topic = f"{topic_prefix}.poison"
    await ensure_topics(kafka_bootstrap, [topic], partitions=3)
    future_version = orjson.loads(_event("s1", 2))
    future_version["schema_version"] = 99
    messages = [
        ("s1", _event("s1", 1)),
        ("s1", b"{not json"),
        ("s1", orjson.dumps(future_version)),
        ("s1", _event("s1", 3, type_="test.poison")),
        ("s1", orjson.dumps({"type": "no envelope"})),
        ("s1", _event("s1", 4)),
    ]
    await _produce(kafka_bootstrap, topic, messages)
    consumer = await _start_consumer(
        kafka_bootstrap, topic, f"{topic_prefix}-g", read_model, "only"
    )
    try:
        dead = await read_topic(
            kafka_bootstrap, dead_letter_topic(topic), until=lambda r: len(r) >= 4
        )
        reasons = [dict(record.headers)["x-error"].decode() for record in dead]
        assert any("not a valid event envelope" in r for r in reasons)
        assert any("unsupported schema_version 99" in r for r in reasons)
        assert any("can never be applied" in r for r in reasons)
        assert all(dict(r.headers)["x-original-topic"] == topic.encode() for r in dead)
        assert {record.value for record in dead} >= {b"{not json"}

        async def good_ones_applied() -> bool:
            return await read_model.count() >= 2

        await eventually(good_ones_applied)
        assert sorted(row[2] for row in await read_model.rows()) == [1, 4]
    finally:
        await consumer[0].stop()
        await consumer[1].stop()


async def test_redelivered_events_are_applied_once(
    kafka_bootstrap: str, read_model: ReadModel, topic_prefix: str
):
    topic = f"{topic_prefix}.dupes"
    await ensure_topics(kafka_bootstrap, [topic], partitions=2)
    event_id = uuid.uuid4()
    same = _event("s", 1, event_id=event_id)
    await _produce(kafka_bootstrap, topic, [("s", same), ("s", same), ("s", _event("s", 2))])
    consumer = await _start_consumer(kafka_bootstrap, topic, f"{topic_prefix}-g", read_model, "x")
    try:

        async def both_applied() -> bool:
            return await read_model.count() >= 2

        await eventually(both_applied)
        await asyncio.sleep(0.5)
        assert sorted(row[2] for row in await read_model.rows()) == [1, 2]
        lags = [
            sample.value
            for metric in REGISTRY.collect()
            if metric.name == "relata_consumer_lag"
            for sample in metric.samples
            if sample.labels["group"] == f"{topic_prefix}-g"
        ]
        assert lags and all(lag == 0 for lag in lags)  # caught up, and reported
    finally:
        await consumer[0].stop()
        await consumer[1].stop()
