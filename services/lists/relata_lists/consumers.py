"""The lists worker: keeps the read model current and membership with it, and re-evaluates
lists with relative dates once a day (time moves without events)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from sqlalchemy import or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_common.db import transaction
from relata_common.events import (
    CONTACTMOMENTS_TOPIC,
    DONATIONS_TOPIC,
    REGISTRATIONS_TOPIC,
    RELATIONS_TOPIC,
    Envelope,
)
from relata_common.kafka import EventConsumer, service_consumer
from relata_common.logging import get_logger
from relata_lists import clock
from relata_lists.membership import NODE, ListDef, evaluate_fully, reevaluate
from relata_lists.models import inbox, lists
from relata_lists.readmodel import Cause, apply_events
from relata_lists.settings import ListsSettings

CONSUMED_TOPICS = (RELATIONS_TOPIC, CONTACTMOMENTS_TOPIC, DONATIONS_TOPIC, REGISTRATIONS_TOPIC)
log = get_logger(__name__)


async def apply_batch(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """Apply events to the read model, then re-check the relations they touched.

    The share lock on ``lists`` (taken before any read model write) makes a full evaluation,
    which locks ``lists`` exclusively for rows, wait for this batch to commit, and this batch
    wait for it: otherwise a full evaluation could miss this batch's changes while this batch
    re-checks only the lists it saw (a list being saved is not among them yet).
    """
    await session.execute(text("LOCK TABLE lists IN SHARE MODE"))
    touches = await apply_events(session, envelopes)
    await reevaluate(session, touches, today=clock.today(), custom={})


def lists_consumer(
    sessions: async_sessionmaker[AsyncSession], producer: AIOKafkaProducer, settings: ListsSettings
) -> EventConsumer:
    return service_consumer(
        settings,
        name="lists",
        topics=CONSUMED_TOPICS,
        sessions=sessions,
        inbox=inbox,
        apply_batch=apply_batch,
        producer=producer,
    )


async def evaluate_due_list(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Re-evaluate one relative list not yet evaluated today; False when none is due.

    ``SKIP LOCKED`` lets several workers share the daily run without doing a list twice.
    """
    today = clock.today()
    async with transaction(sessions) as session:
        row = (
            (
                await session.execute(
                    select(lists)
                    .where(
                        lists.c.relative,
                        or_(lists.c.evaluated_on.is_(None), lists.c.evaluated_on < today),
                    )
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return False
        item = ListDef(
            row["list_id"],
            row["name"],
            NODE.validate_python(row["filter"]),
            frozenset(row["aspects"]),
            frozenset(row["depends_on"]),
            row["relative"],
        )
        changes = await evaluate_fully(
            session, item, today=today, custom={}, cause=Cause(None, "schedule.daily")
        )
        log.info("daily re-evaluation", list_id=str(item.list_id), changes=len(changes))
        return True


async def daily_schedule(app: FastAPI, interval: float = 60.0) -> None:
    while True:
        while await evaluate_due_list(app.state.sessions):
            pass
        await asyncio.sleep(interval)


def register(settings: ListsSettings):
    async def build(broker: KafkaBroker, app: FastAPI) -> None:
        lists_consumer(app.state.sessions, app.state.producer, settings).register(
            broker, description="Keeps the filter read model and list membership current."
        )

    return build
