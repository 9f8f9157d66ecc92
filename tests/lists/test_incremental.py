"""Incremental re-checks: what a relation event touches is what changed in value, and each real
membership change is recorded and announced once, with its cause."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_common.db import create_engine, create_sessionmaker, migrate, transaction
from relata_common.events import Envelope
from relata_lists.app import MIGRATIONS
from relata_lists.compiler import FUNCTIONS, STATUS, field_aspect
from relata_lists.definitions import ListInput, save_list
from relata_lists.membership import reevaluate
from relata_lists.models import membership_history, memberships, outbox, rm_functions
from relata_lists.readmodel import Touches, apply_events
from relata_lists.settings import ListsSettings

TODAY = date(2026, 6, 15)
ORG = uuid.UUID(int=900)


@pytest.fixture
async def sessions(
    lists_settings: ListsSettings,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await migrate(MIGRATIONS, lists_settings.database_url)
    engine = create_engine(lists_settings.database_url, pool_size=2)
    yield create_sessionmaker(engine)
    await engine.dispose()


def state(relation_id: uuid.UUID, version: int, **fields: Any) -> dict[str, Any]:
    functions = fields.pop("functions", [])
    stamp = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    return {
        "relation_id": str(relation_id),
        "relation_type": "person",
        "relation_number": relation_id.int % 1_000_000,
        "status": "active",
        "version": version,
        "created_at": stamp,
        "updated_at": stamp,
        "fields": {"last_name": "Jansen", **fields},
        "functions": functions,
    }


def event(relation_id: uuid.UUID, version: int, changed: list[str], **fields: Any) -> Envelope:
    return Envelope(
        type="relation.created" if version == 1 else "relation.updated",
        producer="relations",
        subject_id=str(relation_id),
        subject_version=version,
        payload={"state": state(relation_id, version, **fields), "changed_fields": changed},
    )


async def apply(sessions: async_sessionmaker[AsyncSession], *envelopes: Envelope) -> Touches:
    async with transaction(sessions) as session:
        touches = await apply_events(session, list(envelopes))
        await reevaluate(session, touches, today=TODAY, custom={})
    return touches


def function(role: str) -> dict[str, Any]:
    return {
        "function_id": str(uuid.UUID(int=77)),
        "role": role,
        "object_id": str(ORG),
        "start_date": "2020-01-01",
        "end_date": None,
    }


async def test_an_event_touches_what_changed_in_value(
    sessions: async_sessionmaker[AsyncSession],
):
    rid = uuid.uuid4()
    utrecht = {"addresses": [{"city": "Utrecht"}], "phones": [{"number": "1"}]}
    touches = await apply(sessions, event(rid, 1, [], **utrecht, functions=[function("a")]))
    assert touches[rid].aspects == {STATUS}  # new: every list may change

    # The event says the addresses changed; only the phone did.
    phone = {**utrecht, "phones": [{"number": "2"}]}
    touches = await apply(
        sessions, event(rid, 2, ["addresses"], **phone, functions=[function("a")])
    )
    assert touches[rid].aspects == {field_aspect("phones")}

    # A redelivery, and an older event, change nothing.
    assert await apply(sessions, event(rid, 2, ["phones"], **phone)) == {}
    assert await apply(sessions, event(rid, 1, [], **utrecht)) == {}

    # Custom values compare as JSON: 1 and true differ to a filter.
    touches = await apply(sessions, event(rid, 3, [], **phone, custom={"level": 1}))
    assert touches[rid].aspects == {field_aspect("custom.level"), FUNCTIONS}
    touches = await apply(sessions, event(rid, 4, [], **phone, custom={"level": True}))
    assert touches[rid].aspects == {field_aspect("custom.level")}

    # Functions are replaced only when they change.
    touches = await apply(
        sessions, event(rid, 5, [], **phone, custom={"level": True}, functions=[function("b")])
    )
    assert touches[rid].aspects == {FUNCTIONS}
    async with transaction(sessions) as session:
        roles: list[str] = list((await session.execute(select(rm_functions.c.role))).scalars())
    assert roles == ["b"]


async def test_each_real_change_is_announced_once_with_its_cause(
    sessions: async_sessionmaker[AsyncSession],
):
    async with transaction(sessions) as session:
        saved, _ = await save_list(
            session,
            data=ListInput(
                name="utrecht",
                filter={"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"},
            ),
            custom={},
            max_depth=12,
            max_nodes=200,
        )
    rid = uuid.uuid4()
    await apply(sessions, event(rid, 1, [], addresses=[{"city": "Amsterdam"}]))
    moved = event(rid, 2, ["addresses"], addresses=[{"city": "Utrecht"}])
    again = event(rid, 3, ["phones"], addresses=[{"city": "Utrecht"}], phones=[{"number": "3"}])
    await apply(sessions, moved)
    await apply(sessions, moved)  # redelivered
    await apply(sessions, again)  # no change of membership
    async with transaction(sessions) as session:
        history = (
            (
                await session.execute(
                    select(membership_history).where(membership_history.c.list_id == saved.list_id)
                )
            )
            .mappings()
            .all()
        )
        events: list[str] = list(
            (
                await session.execute(
                    select(outbox.table.c.event).where(
                        outbox.table.c.topic == "crm.lists.membership"
                    )
                )
            ).scalars()
        )
        announced = [orjson.loads(e) for e in events]
        count = await session.scalar(select(func.count()).select_from(membership_history))
    assert count == 1
    [entry] = history
    assert entry["change"] == "entered"
    assert entry["cause"] == {
        "event_id": str(moved.event_id),
        "event_type": "relation.updated",
        "criteria": ["city equals 'Utrecht'"],
    }
    [message] = announced
    assert message["type"] == "membership.entered"
    assert message["subject_id"] == str(rid)
    assert message["payload"] == {
        "list_id": str(saved.list_id),
        "relation_id": str(rid),
        "cause": entry["cause"],
    }


async def test_lists_on_cities_follow_moves_judged_by_the_cities_that_changed(
    sessions: async_sessionmaker[AsyncSession],
):
    filters = {
        "utrecht": {"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"},
        "not_utrecht": {"kind": "field", "field": "city", "op": "not_equals", "value": "utrecht"},
        "in": {"kind": "field", "field": "city", "op": "in", "value": ["Delft", "Ede"]},
        "starts": {"kind": "field", "field": "city", "op": "starts_with", "value": "Ut"},
        "contains": {"kind": "field", "field": "city", "op": "contains", "value": "ELF"},
        "nowhere": {"kind": "field", "field": "city", "op": "empty"},
    }
    ids = {}
    async with transaction(sessions) as session:
        for name, node in filters.items():
            saved, _ = await save_list(
                session,
                data=ListInput(name=name, filter=node),
                custom={},
                max_depth=12,
                max_nodes=200,
            )
            ids[saved.list_id] = name
    rid = uuid.uuid4()
    moves = [["Utrecht"], [], ["Delft"], ["Utrecht", "Delft"], ["Ede"], ["Oss"], ["Utrecht"], []]
    for version, cities in enumerate(moves, start=1):
        await apply(sessions, event(rid, version, [], addresses=[{"city": c} for c in cities]))
        async with transaction(sessions) as session:
            list_ids: list[uuid.UUID] = list(
                (
                    await session.execute(
                        select(memberships.c.list_id).where(memberships.c.relation_id == rid)
                    )
                ).scalars()
            )
            held = {ids[list_id] for list_id in list_ids}
        lowered = {c.lower() for c in cities}
        expected = {
            name
            for name, matches in {
                "utrecht": "utrecht" in lowered,
                "not_utrecht": "utrecht" not in lowered,
                "in": bool(lowered & {"delft", "ede"}),
                "starts": any(c.startswith("ut") for c in lowered),
                "contains": any("elf" in c for c in lowered),
                "nowhere": not lowered,
            }.items()
            if matches
        }
        assert held == expected, cities
