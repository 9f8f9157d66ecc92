"""One meaning per operator: for any filter over relation fields, the lists service's SQL
compilation (over its read model in PostgreSQL) and the common Python evaluator (what
automation's rule conditions use) select exactly the same relations.

Breakage it catches: with the Python ``equals`` on text made case-sensitive again (as rule
conditions had it), this test failed, shrinking to ``{"kind": "field", "field": "coc_number",
"op": "equals", "value": "AB"}`` against an organisation whose number was "ab"; any other
operator of either side that drifts from the other fails it the same way. It also found that
the SQL side failed on a number criterion beyond 64-bit integers (``relation_number equals
1e20``), now compared as a numeric.

Not covered, as neither side gives them a meaning: ``lt``/``gt``/``between`` with ``true`` or
``false`` on an undefined custom field (an SQL error), letters whose lower case depends on
context or locale (final sigma, dotted capital I), and criteria on facts other than the
relation's own values (functions, contact moments, donations, registrations), which rule
conditions refuse.
"""

from __future__ import annotations

import os
import time as clock
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_common.db import create_engine, create_sessionmaker, migrate, transaction
from relata_common.fields import (
    RELATIVE_OPS,
    STANDARD_FIELDS,
    FieldSpec,
    custom_field,
    custom_key,
    filter_values,
    lookup,
)
from relata_common.filters import NODE, evaluate, is_number, parse_filter, walk
from relata_lists.app import MIGRATIONS
from relata_lists.compiler import Compiler
from relata_lists.models import memberships, rm_relations
from relata_lists.readmodel import relation_row

TODAY = date(2026, 6, 15)
LISTS = [uuid.UUID(int=901), uuid.UUID(int=902)]
CUSTOM = {
    spec.name: spec
    for spec in (
        custom_field("level", "Level", "text", None),
        custom_field("score", "Score", "number", None),
        custom_field("since", "Member since", "date", None),
        custom_field("paid", "Paid", "boolean", None),
        custom_field("tier", "Tier", "choice", ["Gold", "silver"]),
        custom_field("fee", "Fee", "money", None),
    )
}
UNDEFINED = "custom.note"
"""A custom field without a definition: every operator, values of any JSON type."""

# Small pools, so criteria and relations often meet: letters in both cases, accents, LIKE's
# wildcards and its escape character; criteria also look for pieces of them.
TEXTS = ["ab", "Ab", "AB", "a%b", "A%B", "a_b", "x\\y", "X\\Y", "é", "É", "ab cd", "AB CD", ""]
PIECES = ["b", "B", "%", "_", "\\", " c", "A"]
NUMBERS = [0, 1, 2, 2.0, 2.5, -1, 10, 1e20, 1.5e-7]
DAYS = [TODAY - timedelta(days=n) for n in (0, 1, 6, 7, 8, 30, 31, 365, 366, 800)]

pooled = st.sampled_from(TEXTS)
texts = pooled | pooled | st.text("aAbB%_\\ éÉ", max_size=3)
sought = texts | st.sampled_from(PIECES)
numbers = st.sampled_from(NUMBERS) | st.integers(-3, 12)
days = st.sampled_from(DAYS)
iso_days = days.map(date.isoformat)


hours = st.sampled_from([0, 12, 23])


def moment(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


@st.composite
def relations(draw: st.DrawFn, number: int) -> dict[str, Any]:
    """A relation's state as its events carry it."""
    person = draw(st.booleans())
    maybe = st.none() | texts | texts
    fields: dict[str, Any] = {}
    names = ["first_name", "initials", "infix", "last_name", "salutation"]
    for name in names if person else ["organisation_name", "coc_number"]:
        if (value := draw(maybe)) is not None:
            fields[name] = value
    if person:
        fields["gender"] = draw(st.none() | st.sampled_from(["female", "male", "unknown"]))
        fields["birth_date"] = draw(st.none() | iso_days)
    address = st.fixed_dictionaries(
        {},
        optional={k: texts for k in ("street", "postal_code", "city", "country")},
    )
    fields["addresses"] = draw(st.lists(address, max_size=2))
    fields["emails"] = [{"address": a} for a in draw(st.lists(texts, max_size=2))]
    fields["phones"] = [{"number": n} for n in draw(st.lists(texts, max_size=1))]
    fields["custom"] = draw(custom_values())
    fields = {k: v for k, v in fields.items() if v is not None}
    created = moment(draw(days), draw(hours))
    return {
        "relation_id": str(uuid.UUID(int=number)),
        "relation_type": "person" if person else "organisation",
        "relation_number": number,
        "status": "active",
        "version": 1,
        "created_at": created.isoformat(),
        "updated_at": (created + timedelta(days=draw(st.integers(0, 40)))).isoformat(),
        "fields": fields,
    }


def money(amount: Any) -> dict[str, Any]:
    return {"amount": amount, "currency": "EUR"}


def custom_values() -> st.SearchStrategy[dict[str, Any]]:
    anything = st.one_of(texts, numbers, st.booleans(), iso_days, numbers.map(money), st.none())
    return st.fixed_dictionaries(
        {},
        optional={
            "level": texts,
            "score": numbers,
            "since": iso_days,
            "paid": st.booleans(),
            "tier": st.sampled_from(["Gold", "gold", "silver"]),
            "fee": numbers.map(money),
            "note": anything,
        },
    )


@dataclass(frozen=True)
class Seen:
    """The values the relations of an example hold in one field, for criteria on it to compare
    with: a criterion on values nobody holds selects nobody, and proves little."""

    texts: tuple[str, ...]
    numbers: tuple[Any, ...]
    days: tuple[date, ...]

    @classmethod
    def of(cls, states: tuple[dict[str, Any], ...], spec: FieldSpec) -> Seen:
        found: list[Any] = []
        for state in states:
            values = filter_values(state)
            if spec.column == "custom":
                held = values["custom"].get(custom_key(spec.name))
            else:
                held = values[spec.column]
            found += held if isinstance(held, list) else [held]
        found += [v["amount"] for v in found if isinstance(v, dict)]
        found += [v.date() for v in found if isinstance(v, datetime)]
        found += [date.fromisoformat(v) for v in found if isinstance(v, str) and is_day(v)]
        return cls(
            texts=tuple(v for v in found if isinstance(v, str)) or ("",),
            numbers=tuple(v for v in found if is_number(v)) or (0,),
            days=tuple(v for v in found if type(v) is date) or (TODAY,),
        )

    def text(self) -> st.SearchStrategy[str]:
        held = st.sampled_from(self.texts)
        pieces = held.flatmap(lambda t: st.integers(min(1, len(t)), len(t)).map(lambda i: t[:i]))
        return st.one_of(sought, held, held.map(str.swapcase), pieces, pieces.map(str.upper))

    def number(self) -> st.SearchStrategy[Any]:
        return numbers | st.sampled_from(self.numbers)

    def day(self) -> st.SearchStrategy[str]:
        return (days | st.sampled_from(self.days)).map(date.isoformat)

    def scalars(self, spec: FieldSpec) -> st.SearchStrategy[Any]:
        """Values a criterion on this field may compare with."""
        match spec.type:
            case "text":
                return self.text()
            case "number" | "money":
                return self.number()
            case "date":
                return self.day()
            case "datetime":
                stamped = st.builds(
                    lambda d, h: moment(d, h).isoformat(), st.sampled_from(self.days), hours
                )
                return self.day() | stamped
            case "boolean":
                return st.booleans()
            case "choice":
                return st.sampled_from(spec.choices)
        return st.one_of(self.text(), self.number(), st.booleans(), self.day())


def is_day(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def criterion(
    draw: st.DrawFn, states: tuple[dict[str, Any], ...], name: str, op: str
) -> dict[str, Any]:
    """A criterion on a field with an operator, its value drawn from what the relations hold
    (or near it)."""
    spec = lookup(name, CUSTOM)
    assert spec is not None
    seen = Seen.of(states, spec)
    scalars = seen.scalars(spec)
    value: Any = None
    if op in RELATIVE_OPS:
        unit = draw(st.sampled_from(["days", "weeks", "months", "years"]))
        value = {"amount": draw(st.integers(0, 40)), "unit": unit}
    elif op in ("lt", "gt", "between") and spec.type == "any":
        # Ordered against one kind: numbers, or text (ISO dates among it).
        kind = draw(st.sampled_from([seen.number(), seen.text() | seen.day()]))
        value = draw(st.lists(kind, min_size=2, max_size=2)) if op == "between" else draw(kind)
    elif op == "between":
        value = draw(st.lists(scalars, min_size=2, max_size=2))
    elif op == "in":
        value = draw(st.lists(scalars, min_size=1, max_size=3))
    elif op not in ("empty", "not_empty"):
        value = draw(scalars)
    return {"kind": "field", "field": name, "op": op, "value": value}


@st.composite
def field_criteria(draw: st.DrawFn, states: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    name = draw(st.sampled_from(draw(st.sampled_from(FIELD_GROUPS))))
    spec = lookup(name, CUSTOM)
    assert spec is not None
    return criterion(draw, states, name, draw(st.sampled_from(spec.operators)))


@st.composite
def every_operator(draw: st.DrawFn, states: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """A criterion for every operator of every kind of field (random trees alone reach some
    pairs too rarely to be relied on)."""
    found = []
    for group in FIELD_GROUPS:
        name = draw(st.sampled_from(group))
        spec = lookup(name, CUSTOM)
        assert spec is not None
        found += [criterion(draw, states, name, op) for op in spec.operators]
    return found


def _group(spec: FieldSpec) -> str:
    return spec.name if spec.column == "custom" else f"{spec.type}{'*' * spec.multi}"


FIELD_GROUPS = [
    [name for name, spec in STANDARD_FIELDS.items() if _group(spec) == group]
    for group in dict.fromkeys(_group(spec) for spec in STANDARD_FIELDS.values())
] + [[name] for name in [*CUSTOM, UNDEFINED]]
"""Fields by kind (text, choice, number, date, timestamp, multi-valued, each custom field):
a criterion picks a kind first, so each kind is tried about as often."""

in_list = st.sampled_from(LISTS).map(lambda i: {"kind": "in_list", "list_id": str(i)})


def filters(states: tuple[dict[str, Any], ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        st.one_of(field_criteria(states), field_criteria(states), in_list),
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda c: {"all": c}),
            st.lists(inner, min_size=1, max_size=3).map(lambda c: {"any": c}),
            inner.map(lambda c: {"not": c}),
        ),
        max_leaves=8,
    )


World = tuple[tuple[dict[str, Any], ...], tuple[set[uuid.UUID], ...]]
worlds: st.SearchStrategy[World] = st.lists(
    st.integers(1, 10_000), min_size=3, max_size=10, unique=True
).flatmap(
    lambda numbers: st.tuples(
        st.tuples(*(relations(n) for n in numbers)),
        st.tuples(*(st.sets(st.sampled_from(LISTS)) for _ in numbers)),
    )
)
cases = worlds.flatmap(
    lambda world: st.tuples(
        st.just(world),
        st.lists(filters(world[0]), min_size=1, max_size=4),
        every_operator(world[0]),
    )
)


@pytest.fixture(scope="module", autouse=True)
def utc_process() -> Iterator[None]:
    """Timestamps have their day in the local time zone; the process and the database
    session are both pinned to UTC, so that day is one day on both sides."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    clock.tzset()
    yield
    if before is None:
        os.environ.pop("TZ")
    else:
        os.environ["TZ"] = before
    clock.tzset()


@pytest.fixture
async def sessions(
    postgres_server: str, database_name: str
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = f"{postgres_server}/{database_name}"
    await migrate(MIGRATIONS, url)
    engine = create_engine(url, pool_size=1)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def load(session: AsyncSession, states: tuple[dict[str, Any], ...], held: tuple) -> None:
    await session.execute(text("TRUNCATE rm_relations, memberships"))
    await session.execute(insert(rm_relations), [relation_row(s) for s in states])
    rows = [
        {"list_id": list_id, "relation_id": uuid.UUID(s["relation_id"])}
        for s, lists in zip(states, held, strict=True)
        for list_id in lists
    ]
    if rows:
        await session.execute(insert(memberships), rows)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases)
async def test_sql_and_python_select_the_same_relations(
    sessions: async_sessionmaker[AsyncSession],
    case: tuple[World, list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    (states, held), trees, criteria = case
    # Every node of every tree, and every criterion, each judged on its own: one query
    # answers them all.
    nodes = [
        node
        for raw in [*trees, *criteria]
        for _, node in walk(
            parse_filter(raw, custom=CUSTOM, known_lists=set(LISTS), max_depth=12, max_nodes=200)
        )
    ]
    compiler = Compiler(today=TODAY, custom=CUSTOM)
    columns = [compiler.condition(node).label(f"n{i}") for i, node in enumerate(nodes)]
    async with transaction(sessions) as session:
        await session.execute(text("SET LOCAL TIME ZONE 'UTC'"))
        await load(session, states, held)
        rows = await session.execute(select(rm_relations.c.relation_id, *columns))
        by_sql = {row[0]: list(row[1:]) for row in rows}
    for state, lists in zip(states, held, strict=True):
        relation_id = uuid.UUID(state["relation_id"])
        values = filter_values(state)
        by_python = [evaluate(node, values, lists, TODAY) for node in nodes]
        for node, sql, python in zip(nodes, by_sql[relation_id], by_python, strict=True):
            assert sql == python, (NODE.dump_python(node, by_alias=True), state, lists)
