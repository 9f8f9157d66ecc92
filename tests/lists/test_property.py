"""The key proof: after any sequence of relation, contact moment and donation events, delivered
in batches (with redeliveries), incremental membership equals a full evaluation of every list."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_common.db import create_engine, create_sessionmaker, migrate, transaction
from relata_common.events import Envelope
from relata_lists.app import MIGRATIONS
from relata_lists.compiler import Compiler
from relata_lists.definitions import ListInput, save_list
from relata_lists.membership import load_lists, reevaluate
from relata_lists.models import memberships, rm_relations
from relata_lists.readmodel import apply_events
from relata_lists.settings import ListsSettings

TODAY = date(2026, 6, 15)
PEOPLE = [uuid.UUID(int=i) for i in range(1, 6)]
ORGS = [uuid.UUID(int=i) for i in range(101, 104)]
CITIES = ["Utrecht", "Amsterdam", None]


@dataclass
class Relation:
    relation_id: uuid.UUID
    relation_type: str
    version: int = 0
    status: str = "active"
    merged_into: uuid.UUID | None = None
    city: str | None = None
    level: int | None = None
    functions: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)

    def state(self) -> dict[str, Any]:
        name = "organisation_name" if self.relation_type == "organisation" else "last_name"
        fields: dict[str, Any] = {name: f"R{self.relation_id.int}"}
        if self.city:
            fields["addresses"] = [{"city": self.city}]
        if self.level is not None:
            fields["custom"] = {"level": self.level}
        stamp = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
        return {
            "relation_id": str(self.relation_id),
            "relation_type": self.relation_type,
            "relation_number": self.relation_id.int,
            "status": self.status,
            "merged_into": str(self.merged_into) if self.merged_into else None,
            "version": self.version,
            "created_at": stamp,
            "updated_at": stamp,
            "fields": fields,
            "functions": list(self.functions.values()),
        }


@dataclass
class World:
    """Turns operations into the envelopes the owning services would publish."""

    relations: dict[uuid.UUID, Relation] = field(default_factory=dict)
    moments: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    registrations: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)

    def relation(self, relation_id: uuid.UUID) -> Relation:
        kind = "organisation" if relation_id in ORGS else "person"
        return self.relations.setdefault(relation_id, Relation(relation_id, kind))

    def _relation_event(self, rel: Relation, changed: list[str]) -> Envelope:
        kind = "relation.created" if rel.version == 0 else "relation.updated"
        rel.version += 1
        return Envelope(
            type=kind,
            producer="relations",
            subject_id=str(rel.relation_id),
            subject_version=rel.version,
            payload={"state": rel.state(), "changed_fields": changed},
        )

    def apply(self, op: tuple[Any, ...]) -> list[Envelope]:
        name, *args = op
        return getattr(self, name)(*args)

    def update(self, rid: uuid.UUID, city: str | None, level: int | None) -> list[Envelope]:
        rel = self.relation(rid)
        if rel.status != "active":
            return []
        changed = [n for n, old, new in (("addresses", rel.city, city),) if old != new]
        changed += ["custom.level"] if rel.level != level else []
        rel.city, rel.level = city, level
        return [self._relation_event(rel, changed)]

    def function(self, rid: uuid.UUID, org: uuid.UUID, role: str, ended: bool) -> list[Envelope]:
        rel = self.relation(rid)
        if rel.status != "active" or rel.relation_type != "person":
            return []
        if rel.functions and ended:  # end or remove one
            rel.functions.pop(next(iter(rel.functions)))
        else:
            function_id = uuid.uuid4()
            rel.functions[function_id] = {
                "function_id": str(function_id),
                "role": role,
                "object_id": str(org),
                "start_date": (TODAY - timedelta(days=30)).isoformat(),
                "end_date": (TODAY - timedelta(days=1)).isoformat() if ended else None,
            }
        return [self._relation_event(rel, ["functions"])]

    def contact(
        self, rids: list[uuid.UUID], kind: str, days_ago: int, action: str
    ) -> list[Envelope]:
        """Log a new contact moment, or relink or delete the oldest one still there."""
        if action != "log" and self.moments:
            moment = self.moments[next(iter(self.moments))]
            moment["version"] += 1
            if action == "delete":
                moment["deleted"] = True
                self.moments.pop(uuid.UUID(moment["contact_moment_id"]))
            else:
                moment["relation_ids"] = [str(r) for r in dict.fromkeys(rids)]
            event = f"contactmoment.{'deleted' if action == 'delete' else 'changed'}"
        else:
            moment_id = uuid.uuid4()
            when = datetime.combine(TODAY - timedelta(days=days_ago), time(12), tzinfo=UTC)
            moment = {
                "contact_moment_id": str(moment_id),
                "version": 1,
                "kind": kind,
                "direction": "out",
                "subject": "call",
                "occurred_at": when.isoformat(),
                "relation_ids": [str(r) for r in dict.fromkeys(rids)],
                "deleted": False,
            }
            self.moments[moment_id] = moment
            event = "contactmoment.logged"
        return [
            Envelope(
                type=event,
                producer="contactmoments",
                subject_id=moment["contact_moment_id"],
                subject_version=moment["version"],
                payload={"state": dict(moment)},
            )
        ]

    def registration(self, rid: uuid.UUID, cancel: bool) -> list[Envelope]:
        """Register for the gala, or cancel the relation's earlier registration."""
        held = self.registrations.get(rid)
        if cancel and held is None:
            return []
        registration_id = held if cancel and held else uuid.uuid4()
        self.registrations[rid] = registration_id
        payload = {
            "registration_id": str(registration_id),
            "relation_id": str(rid),
            "event_code": "gala",
            "status": "cancelled" if cancel else "registered",
        }
        kind = "registration.cancelled" if cancel else "registration.created"
        return [Envelope(type=kind, producer="events", subject_id=str(rid), payload=payload)]

    def donation(self, rid: uuid.UUID, amount: int, days_ago: int) -> list[Envelope]:
        payload = {
            "donation_id": str(uuid.uuid4()),
            "relation_id": str(rid),
            "amount": str(amount),
            "received_on": (TODAY - timedelta(days=days_ago)).isoformat(),
        }
        return [
            Envelope(
                type="donation.received", producer="donations", subject_id=str(rid), payload=payload
            )
        ]

    def merge(self, merged: uuid.UUID, survivor: uuid.UUID) -> list[Envelope]:
        m, s = self.relation(merged), self.relation(survivor)
        same_type = m.relation_type == s.relation_type
        if merged == survivor or not same_type or m.version == 0 or s.version == 0:
            return []
        if m.status != "active" or s.status != "active":
            return []
        events = []
        if m.functions:  # the survivor takes over the merged relation's functions
            s.functions.update(m.functions)
            m.functions = {}
            events.append(self._relation_event(s, ["functions"]))
        m.status, m.merged_into = "merged", survivor
        m.version += 1
        payload = {
            "survivor_id": str(survivor),
            "merged_id": str(merged),
            "merge_id": str(uuid.uuid4()),
            "state": m.state(),
        }
        events.append(
            Envelope(
                type="relation.merged",
                producer="relations",
                subject_id=str(merged),
                subject_version=m.version,
                payload=payload,
            )
        )
        return events

    def erase(self, rid: uuid.UUID) -> list[Envelope]:
        rel = self.relation(rid)
        if rel.version == 0 or rel.status == "erased":
            return []
        rel.status, rel.city, rel.level, rel.functions = "erased", None, None, {}
        rel.version += 1
        return [
            Envelope(
                type="relation.erased",
                producer="relations",
                subject_id=str(rid),
                subject_version=rel.version,
                payload={"relation_id": str(rid)},
            )
        ]


everyone = st.sampled_from(PEOPLE + ORGS)
people = st.sampled_from(PEOPLE)
operations = st.one_of(
    st.tuples(st.just("update"), everyone, st.sampled_from(CITIES), st.none() | st.integers(0, 6)),
    st.tuples(
        st.just("function"),
        people,
        st.sampled_from(ORGS),
        st.sampled_from(["board_member", "director"]),
        st.booleans(),
    ),
    st.tuples(
        st.just("contact"),
        st.lists(everyone, min_size=1, max_size=3),
        st.sampled_from(["phone", "email"]),
        st.sampled_from([1, 60, 120, 200]),
        st.sampled_from(["log", "log", "change", "delete"]),
    ),
    st.tuples(st.just("registration"), everyone, st.booleans()),
    st.tuples(
        st.just("donation"), everyone, st.sampled_from([20, 60, 150]), st.sampled_from([10, 400])
    ),
    st.tuples(st.just("merge"), everyone, everyone),
    st.tuples(st.just("erase"), everyone),
)
# Each step: operations, then how many events go into one batch and whether one is redelivered.
steps = st.lists(st.tuples(operations, st.integers(1, 4), st.booleans()), min_size=1, max_size=25)


def leaf(name: str, op: str, value: Any = None) -> dict[str, Any]:
    """A field criterion (named apart from dataclasses.field, which the models above use)."""
    return {"kind": "field", "field": name, "op": op, "value": value}


def contact_within(days: int, **extra: Any) -> dict[str, Any]:
    return {"kind": "contact", "within_last": {"amount": days, "unit": "days"}, **extra}


def in_list(ids: dict[str, uuid.UUID], name: str) -> dict[str, Any]:
    return {"kind": "in_list", "list_id": str(ids[name])}


# A list's filter: fixed, or built from the ids of the lists saved before it that it refers to.
Builder = Callable[[dict[str, uuid.UUID]], dict[str, Any]]
LISTS: list[tuple[str, dict[str, Any] | Builder]] = [
    ("utrecht", {"all": [leaf("city", "equals", "Utrecht")]}),
    (
        "orgs_in_utrecht",
        lambda ids: {
            "all": [leaf("relation_type", "equals", "organisation"), in_list(ids, "utrecht")]
        },
    ),
    (
        "donors",
        {
            "kind": "donations",
            "within_last": {"amount": 12, "unit": "months"},
            "total_more_than": 100,
        },
    ),
    ("quiet", {"not": contact_within(90)}),
    ("phoned", {"kind": "contact", "contact_kinds": ["phone"], "this_year": True}),
    (
        "level",
        {"any": [leaf("custom.level", "gt", 3), {"not": leaf("custom.level", "not_empty")}]},
    ),
    (
        "board_in_utrecht",
        lambda ids: {
            "kind": "function",
            "role": "board_member",
            "at_list": str(ids["orgs_in_utrecht"]),
        },
    ),
    ("gala", {"kind": "registration", "event_code": "gala"}),
    # Judged by the cities that came or went (not every move re-checks them).
    ("amsterdam_or_delft", leaf("city", "in", ["Amsterdam", "Delft"])),
    (
        "city_text",
        {"any": [leaf("city", "starts_with", "ut"), leaf("city", "contains", "STERD")]},
    ),
    ("nowhere", {"not": leaf("city", "not_empty")}),
    ("at_first_org", {"kind": "function", "at": str(ORGS[0])}),
    (
        "combined",
        lambda ids: {
            "any": [
                in_list(ids, "board_in_utrecht"),
                {"all": [in_list(ids, "donors"), {"not": in_list(ids, "quiet")}]},
                {"kind": "donations", "min_count": 2},
                {"all": [in_list(ids, "gala"), {"not": in_list(ids, "utrecht")}]},
            ]
        },
    ),
]


@pytest.fixture
async def sessions(
    lists_settings: ListsSettings,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await migrate(MIGRATIONS, lists_settings.database_url)
    engine = create_engine(lists_settings.database_url, pool_size=2)
    yield create_sessionmaker(engine)
    await engine.dispose()


TABLES = (
    "rm_relations, rm_functions, rm_contact_moments, rm_contact_links, rm_donations, "
    "rm_registrations, lists, memberships, membership_history, outbox"
)


async def define_lists(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The fixed lists, each saved (and fully evaluated) after the lists it refers to."""
    ids: dict[str, uuid.UUID] = {}
    for name, definition in LISTS:
        raw = definition(ids) if callable(definition) else definition
        async with transaction(sessions) as session:
            saved, _ = await save_list(
                session,
                data=ListInput(name=name, filter=raw),
                custom={},
                max_depth=12,
                max_nodes=200,
            )
        ids[name] = saved.list_id


async def mismatches(session: AsyncSession) -> dict[str, tuple[set[Any], set[Any]]]:
    """Per list: (members by incremental evaluation, members by full evaluation), if they differ."""
    compiler = Compiler(today=TODAY, custom={})
    found = {}
    for item in await load_lists(session):
        held: set[uuid.UUID] = set(
            (
                await session.execute(
                    select(memberships.c.relation_id).where(memberships.c.list_id == item.list_id)
                )
            ).scalars()
        )
        full: set[uuid.UUID] = set(
            (
                await session.execute(
                    select(rm_relations.c.relation_id).where(compiler.matching(item.filter))
                )
            ).scalars()
        )
        if held != full:
            found[item.name] = (held, full)
    return found


@settings(
    max_examples=30,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
async def test_incremental_membership_equals_full_evaluation(
    sessions: async_sessionmaker[AsyncSession], plan: list[tuple[Any, int, bool]]
) -> None:
    async with transaction(sessions) as session:
        await session.execute(text(f"TRUNCATE {TABLES}"))
    await define_lists(sessions)
    world = World()  # relations come into being with their first event; facts may come first
    sent: list[Envelope] = []
    pending: list[Envelope] = []
    for operation, batch_size, redeliver in plan:
        pending += world.apply(operation)
        if len(pending) < batch_size:
            continue
        batch = pending + ([sent[len(sent) // 2]] if redeliver and sent else [])
        sent += pending
        pending = []
        async with transaction(sessions) as session:
            touches = await apply_events(session, batch)
            await reevaluate(session, touches, today=TODAY, custom={})
    if pending:
        async with transaction(sessions) as session:
            await reevaluate(session, await apply_events(session, pending), today=TODAY, custom={})
    async with transaction(sessions) as session:
        assert await mismatches(session) == {}
