"""Membership of relation lists: full and incremental evaluation, changes, causes, history.

Incremental: after events touch some relations, only the lists whose criteria depend on what
changed are re-checked, only for those relations, one SQL query per dependency level. A list
that reads another list's membership (``in_list``, functions ``at_list``) is checked after that
list, and a change of its membership touches the relations that depend on it in turn.

Entered and left are decided by the membership table itself (insert-if-absent, delete-if-
present), so two workers re-checking the same relation cannot both announce the same change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

import orjson
from prometheus_client import Histogram
from sqlalchemy import (
    Boolean,
    Integer,
    Uuid,
    any_,
    bindparam,
    column,
    delete,
    exists,
    false,
    func,
    literal,
    not_,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, array, insert
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.events import (
    LIST_MEMBERSHIP_TOPIC,
    MembershipEventType,
)
from relata_common.fields import FieldSpec
from relata_common.filters import NODE
from relata_common.publishing import Publisher
from relata_lists.compiler import (
    VALUE_OPS,
    Compiler,
    Guard,
    aspects,
    describe,
    guards,
    leaves,
    list_aspect,
    may_change,
)
from relata_lists.models import (
    lists,
    membership_history,
    memberships,
    outbox,
    rm_functions,
    rm_relations,
)
from relata_lists.readmodel import Cause, Touch, Touches, Values
from relata_lists.settings import ListsSettings

PUBLISHER = Publisher.of(ListsSettings)


@dataclass(frozen=True)
class ListDef:
    list_id: uuid.UUID
    name: str
    filter: Any
    aspects: frozenset[str]
    depends_on: frozenset[uuid.UUID]
    relative: bool
    guards: Mapping[str, tuple[Guard, ...]] = field(default_factory=dict)
    """Multi-valued column aspects whose changes can be judged by the values that came or
    went (see :func:`compiler.guards`); none: every change of an aspect is re-checked."""

    @cached_property
    def fingerprint(self) -> bytes:
        """The filter as canonical JSON: what a statement compiled from it depends on."""
        return NODE.dump_json(self.filter)


@dataclass(frozen=True)
class Change:
    list_id: uuid.UUID
    relation_id: uuid.UUID
    entered: bool
    cause: Cause


async def load_lists(session: AsyncSession) -> list[ListDef]:
    """Every list definition, dependencies before their dependents."""
    rows = (await session.execute(select(lists))).mappings().all()
    return dependency_order([_list_def(row) for row in rows])


# Parsed definitions: a batch reads every list, and parsing 200 filters each time would cost
# more than the query.
_PARSED: dict[tuple[Any, ...], ListDef] = {}
_PARSED_LIMIT = 10_000


def _list_def(row: Any) -> ListDef:
    # The stored filter is part of the key: a version number is reused when the transaction
    # that saved it rolls back.
    filter_json = orjson.dumps(row["filter"], option=orjson.OPT_SORT_KEYS)
    key = (row["list_id"], row["version"], filter_json, row["name"], row["relative"])
    item = _PARSED.get(key)
    if item is None:
        node = NODE.validate_python(row["filter"])
        item = ListDef(
            list_id=row["list_id"],
            name=row["name"],
            filter=node,
            # From the filter, not the stored column: lists saved before the dependencies
            # were per column hold coarser aspects, which no touch names any more.
            aspects=frozenset(aspects(node, {})),
            depends_on=frozenset(row["depends_on"]),
            relative=row["relative"],
            guards=guards(node, {}),
        )
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.clear()
        _PARSED[key] = item
    return item


def dependency_order(defs: list[ListDef]) -> list[ListDef]:
    """Topological order; cycles are refused when a list is saved, so there are none."""
    by_id = {d.list_id: d for d in defs}
    ordered: list[ListDef] = []
    placed: set[uuid.UUID] = set()

    def place(item: ListDef, trail: frozenset[uuid.UUID]) -> None:
        if item.list_id in placed or item.list_id in trail:
            return
        for dependency in sorted(item.depends_on):
            if dependency in by_id:
                place(by_id[dependency], trail | {item.list_id})
        placed.add(item.list_id)
        ordered.append(item)

    for item in sorted(defs, key=lambda d: str(d.list_id)):
        place(item, frozenset())
    return ordered


def levels(ordered: list[ListDef]) -> list[list[ListDef]]:
    """Group lists so that each group depends only on lists of earlier groups."""
    depth: dict[uuid.UUID, int] = {}
    for item in ordered:
        depth[item.list_id] = 1 + max((depth.get(d, -1) for d in item.depends_on), default=-1)
    grouped: dict[int, list[ListDef]] = {}
    for item in ordered:
        grouped.setdefault(depth[item.list_id], []).append(item)
    return [grouped[level] for level in sorted(grouped)]


# --- incremental -----------------------------------------------------------------------------


EVALUATION_SECONDS = Histogram(
    "relata_list_evaluation_seconds",
    "Time to evaluate lists",
    ["mode"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


async def reevaluate(
    session: AsyncSession,
    touches: Touches,
    *,
    today: date,
    custom: dict[str, FieldSpec],
    only: set[uuid.UUID] | None = None,
) -> list[Change]:
    """Re-check touched relations against the lists that can depend on what touched them."""
    if not touches:
        return []
    with EVALUATION_SECONDS.labels("incremental").time():
        return await _reevaluate(session, touches, today=today, custom=custom, only=only)


async def _reevaluate(
    session: AsyncSession,
    touches: Touches,
    *,
    today: date,
    custom: dict[str, FieldSpec],
    only: set[uuid.UUID] | None,
) -> list[Change]:
    ordered = await load_lists(session)
    if only is not None:
        ordered = [d for d in ordered if d.list_id in only]
    compiler = Compiler(today=today, custom=custom)
    await _lock_relations(session, {rid for rid, touched in touches.items() if not touched.locked})
    await _plan_cache_mode(session, "force_generic_plan")
    changes: list[Change] = []
    for level in levels(ordered):
        level_changes = await _evaluate_level(session, level, touches, compiler)
        changes += level_changes
        await _propagate(session, level_changes, touches)
    await record_changes(session, changes, compiler, {d.list_id: d for d in ordered})
    await _plan_cache_mode(session, "auto")
    return changes


async def _plan_cache_mode(session: AsyncSession, mode: str) -> None:
    """For this transaction: how PostgreSQL plans prepared statements.

    The re-check statements are the same every batch, with other candidates bound. Left to
    itself, PostgreSQL keeps planning them anew for their values (most lists have none, so a
    fresh plan always looks cheaper), which costs more than running them: planning a union
    over 200 filters takes tens of milliseconds. A generic plan is made once per connection.
    """
    await session.execute(text("SELECT set_config('plan_cache_mode', :mode, true)"), {"mode": mode})


async def _lock_relations(session: AsyncSession, relation_ids: set[uuid.UUID]) -> None:
    """Serialise evaluations of one relation across workers (in id order: no deadlocks)."""
    if not relation_ids:
        return
    await session.execute(
        select(rm_relations.c.relation_id)
        .where(rm_relations.c.relation_id == any_(_uuid_array("ids", relation_ids)))
        .order_by(rm_relations.c.relation_id)
        .with_for_update()
    )


def _uuid_array(name: str, ids: Iterable[uuid.UUID]) -> Any:
    """Ids bound as one array: a list's evaluation can touch more relations than the 32,767
    parameters a statement may have."""
    return bindparam(name, sorted(ids), type_=ARRAY(Uuid))


async def _evaluate_level(
    session: AsyncSession, level: list[ListDef], touches: Touches, compiler: Compiler
) -> list[Change]:
    """Re-check, in one query, each list of a level for the relations touched in what it
    depends on; only the pairs whose membership must change come back."""
    prepared = _prepared_level(level, compiler)
    wanted = prepared.dependents.candidates(touches)
    if not wanted:
        return []
    params = {f"ids{i}": sorted(wanted.get(item.list_id, ())) for i, item in enumerate(level)}
    rows = (await session.execute(prepared.mismatches, params)).tuples().all()
    desired_in: set[tuple[uuid.UUID, uuid.UUID]] = set()
    desired_out: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for i, relation_id, matched in rows:
        (desired_in if matched else desired_out).add((level[i].list_id, relation_id))
    return await _apply(session, desired_in, desired_out, touches)


@dataclass(frozen=True)
class _PreparedLevel:
    dependents: Dependents
    mismatches: Any


# Statements over every list of a level (or of all lists), built once per set of filters,
# day and custom fields. A batch binds each list's candidates (none for most lists),
# so SQLAlchemy reuses the compiled SQL and PostgreSQL the prepared statement and its plan:
# compiling and planning a query over 200 filters per batch would cost more than running it.
_PREPARED: dict[tuple[Any, ...], Any] = {}
_PREPARED_LIMIT = 64  # a statement over 200 filters is large; a new day or list rebuilds it


def _prepared(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    found = _PREPARED.get(key)
    if found is None:
        if len(_PREPARED) >= _PREPARED_LIMIT:
            _PREPARED.clear()
        found = _PREPARED[key] = build()
    return found


def _key(kind: str, items: Iterable[ListDef], compiler: Compiler) -> tuple[Any, ...]:
    filters = tuple((item.list_id, item.fingerprint) for item in items)
    return (kind, filters, compiler.today, tuple(sorted(compiler.custom.items())))


def _prepared_level(level: list[ListDef], compiler: Compiler) -> _PreparedLevel:
    def build() -> _PreparedLevel:
        branches = [_mismatches(i, item, compiler) for i, item in enumerate(level)]
        statement = branches[0] if len(branches) == 1 else union_all(*branches)
        return _PreparedLevel(Dependents.of(level), statement)

    return _prepared(_key("level", level, compiler), build)


@dataclass
class Dependents:
    """Which lists of a level a touched aspect may affect, indexed so that a batch of moves
    finds the few city lists of the cities moved from and to without trying every list."""

    unguarded: dict[str, list[ListDef]] = field(default_factory=dict)
    """aspect: lists re-checked on any change of it"""
    by_value: dict[str, dict[str, list[ListDef]]] = field(default_factory=dict)
    """guarded aspect, value: lists whose criteria on the aspect only test for given values"""
    scanned: dict[str, list[ListDef]] = field(default_factory=dict)
    """guarded aspect: lists with other judgeable criteria on it, judged one by one"""

    @classmethod
    def of(cls, level: list[ListDef]) -> Dependents:
        index = cls()
        for item in level:
            for aspect in item.aspects:
                criteria = item.guards.get(aspect)
                if criteria is None:
                    index.unguarded.setdefault(aspect, []).append(item)
                elif all(op in VALUE_OPS for op, _ in criteria):
                    values = index.by_value.setdefault(aspect, {})
                    for value in {v for _, guarded in criteria for v in guarded}:
                        values.setdefault(value, []).append(item)
                else:
                    index.scanned.setdefault(aspect, []).append(item)
        return index

    def candidates(self, touches: Touches) -> dict[uuid.UUID, set[uuid.UUID]]:
        """Per list: the touched relations whose membership of it may have changed."""
        wanted: dict[uuid.UUID, set[uuid.UUID]] = {}
        for relation_id, touched in touches.items():
            for aspect in touched.aspects:
                for item in self._affected(aspect, touched.values.get(aspect)):
                    wanted.setdefault(item.list_id, set()).add(relation_id)
        return wanted

    def _affected(self, aspect: str, values: tuple[Values, Values] | None) -> list[ListDef]:
        affected = list(self.unguarded.get(aspect, ()))
        by_value, scanned = self.by_value.get(aspect, {}), self.scanned.get(aspect, ())
        if values is None:  # what changed is unknown: every list on the aspect
            return affected + [i for items in by_value.values() for i in items] + list(scanned)
        old, new = values
        affected += [item for value in old ^ new for item in by_value.get(value, ())]
        affected += [
            item for item in scanned if any(may_change(c, old, new) for c in item.guards[aspect])
        ]
        return affected


def _mismatches(i: int, item: ListDef, compiler: Compiler) -> Any:
    """``(i, relation_id, matches)`` for the candidates (bound as ``ids<i>``) whose membership
    of ``item`` differs from whether they match it now. A relation not in the read model
    matches nothing (and is in no list: relation rows are never deleted)."""
    r = rm_relations
    held = exists().where(
        memberships.c.list_id == _literal(item.list_id),
        memberships.c.relation_id == r.c.relation_id,
    )
    matches = func.coalesce(compiler.matching(item.filter), false())
    checked = (
        select(
            literal(i, Integer).label("i"),
            r.c.relation_id,
            matches.label("matches"),
            held.label("held"),
        )
        .where(r.c.relation_id == any_(bindparam(f"ids{i}", type_=ARRAY(Uuid))))
        .subquery(f"c{i}")
    )
    return select(checked.c.i, checked.c.relation_id, checked.c.matches).where(
        checked.c.matches != checked.c.held
    )


async def _apply(
    session: AsyncSession,
    desired_in: set[tuple[uuid.UUID, uuid.UUID]],
    desired_out: set[tuple[uuid.UUID, uuid.UUID]],
    touches: Touches,
) -> list[Change]:
    """Make membership match the evaluation; report only what actually changed.

    The pairs travel as two arrays (``unnest``), not one bound pair each: a batch of 500
    relations against 200 lists is up to 100,000 pairs, beyond the 32,767 parameters a
    statement may have (and a row-value ``IN`` that long exhausts PostgreSQL's stack).
    """
    changes: list[Change] = []
    if desired_in:
        pairs = _pairs(desired_in)
        inserted = await session.execute(
            insert(memberships)
            .from_select(["list_id", "relation_id"], select(pairs.c.list_id, pairs.c.relation_id))
            .on_conflict_do_nothing()
            .returning(memberships.c.list_id, memberships.c.relation_id)
        )
        changes += [Change(li, r, True, _cause(touches, r)) for li, r in inserted.tuples()]
    if desired_out:
        pairs = _pairs(desired_out)
        deleted = await session.execute(
            delete(memberships)
            .where(
                memberships.c.list_id == pairs.c.list_id,
                memberships.c.relation_id == pairs.c.relation_id,
            )
            .returning(memberships.c.list_id, memberships.c.relation_id)
        )
        changes += [Change(li, r, False, _cause(touches, r)) for li, r in deleted.tuples()]
    return changes


def _pairs(pairs: set[tuple[uuid.UUID, uuid.UUID]]) -> Any:
    """``unnest(list_ids, relation_ids) AS pairs(list_id, relation_id)``, in sorted order
    (so concurrent writers take row locks in one order)."""
    ordered = sorted(pairs)
    return (
        func.unnest(
            bindparam("list_ids", [p[0] for p in ordered], type_=ARRAY(Uuid)),
            bindparam("relation_ids", [p[1] for p in ordered], type_=ARRAY(Uuid)),
        )
        .table_valued(column("list_id", Uuid), column("relation_id", Uuid))
        .render_derived(name="pairs")
    )


def _cause(touches: Touches, relation_id: uuid.UUID) -> Cause:
    touched = touches.get(relation_id)
    return touched.cause if touched and touched.cause else Cause(None, "evaluation.requested")


async def _propagate(session: AsyncSession, changes: list[Change], touches: Touches) -> None:
    """A membership change touches the relation itself (``in_list``) and the relations that
    hold a function at it (functions ``at_list``)."""
    if not changes:
        return
    holders_of = await _function_holders(session, {change.relation_id for change in changes})
    unlocked: set[uuid.UUID] = set()
    for change in changes:
        aspect = list_aspect(change.list_id)
        touches.setdefault(change.relation_id, Touch(cause=change.cause)).aspects.add(aspect)
        for holder in holders_of.get(change.relation_id, ()):
            if holder not in touches:
                unlocked.add(holder)
            touches.setdefault(holder, Touch(cause=change.cause)).aspects.add(aspect)
    if unlocked:
        await _lock_relations(session, unlocked)


async def _function_holders(
    session: AsyncSession, relation_ids: set[uuid.UUID]
) -> dict[uuid.UUID, set[uuid.UUID]]:
    """Who holds a function at each of these relations, in one query."""
    f = rm_functions
    rows = await session.execute(
        select(f.c.object_id, f.c.subject_id).where(
            f.c.object_id == any_(_uuid_array("objects", relation_ids))
        )
    )
    holders: dict[uuid.UUID, set[uuid.UUID]] = {}
    for object_id, subject_id in rows.tuples():
        holders.setdefault(object_id, set()).add(subject_id)
    return holders


# --- full evaluation -------------------------------------------------------------------------


async def evaluate_fully(
    session: AsyncSession,
    item: ListDef,
    *,
    today: date,
    custom: dict[str, FieldSpec],
    cause: Cause,
) -> list[Change]:
    """Re-evaluate one list over every relation with one query, and apply the difference."""
    with EVALUATION_SECONDS.labels("full").time():
        return await _evaluate_fully(session, item, today=today, custom=custom, cause=cause)


async def _evaluate_fully(
    session: AsyncSession,
    item: ListDef,
    *,
    today: date,
    custom: dict[str, FieldSpec],
    cause: Cause,
) -> list[Change]:
    """The body of :func:`evaluate_fully`.

    Incremental writers are held off meanwhile: batches in flight commit first (their share
    lock on ``lists`` conflicts with this one), so this evaluation sees their read model
    changes, and later batches wait, so nothing they decide is overwritten by an older picture.
    """
    await session.execute(text("LOCK TABLE lists IN ROW EXCLUSIVE MODE"))
    await session.execute(text("LOCK TABLE memberships IN SHARE ROW EXCLUSIVE MODE"))
    compiler = Compiler(today=today, custom=custom)
    condition = compiler.matching(item.filter)
    r = rm_relations
    left = await session.execute(
        delete(memberships)
        .where(
            memberships.c.list_id == item.list_id,
            not_(exists().where(r.c.relation_id == memberships.c.relation_id, condition)),
        )
        .returning(memberships.c.relation_id)
    )
    left_ids: list[uuid.UUID] = list(left.scalars())
    changes = [Change(item.list_id, rid, False, cause) for rid in left_ids]
    entered = await session.execute(
        insert(memberships)
        .from_select(
            ["list_id", "relation_id"],
            select(_literal(item.list_id), r.c.relation_id).where(condition),
        )
        .on_conflict_do_nothing()
        .returning(memberships.c.relation_id)
    )
    changes += [Change(item.list_id, rid, True, cause) for rid in entered.scalars()]
    await session.execute(
        lists.update().where(lists.c.list_id == item.list_id).values(evaluated_on=today)
    )
    # Lists reading this one's membership follow, for the relations that changed.
    touches: Touches = {}
    for change in changes:
        touches.setdefault(change.relation_id, Touch(cause=cause)).aspects.add(
            list_aspect(item.list_id)
        )
    await _propagate(session, changes, touches)
    by_id = {item.list_id: item}
    await record_changes(session, changes, compiler, by_id)
    if touches:
        changes += await reevaluate(session, touches, today=today, custom=custom)
    return changes


def _literal(list_id: uuid.UUID) -> Any:
    return literal(list_id, Uuid)


# --- recording -------------------------------------------------------------------------------


async def record_changes(
    session: AsyncSession,
    changes: list[Change],
    compiler: Compiler,
    defs: dict[uuid.UUID, ListDef],
) -> None:
    """History rows with their causes, and entered/left events in the outbox."""
    if not changes:
        return
    reasons = await _explain(session, changes, compiler, defs)
    history, events = [], []
    for change in changes:
        # The contract's JSON (MembershipPayload, MembershipCause), built as plain data: a
        # batch can record thousands of changes and validating each model cost more than
        # writing it.
        cause = {
            "event_id": str(change.cause.event_id) if change.cause.event_id else None,
            "event_type": change.cause.event_type,
            "criteria": reasons.get((change.list_id, change.relation_id), []),
        }
        history.append(
            {
                "list_id": change.list_id,
                "relation_id": change.relation_id,
                "change": "entered" if change.entered else "left",
                "cause": cause,
            }
        )
        kind = MembershipEventType.ENTERED if change.entered else MembershipEventType.LEFT
        payload = {
            "list_id": str(change.list_id),
            "relation_id": str(change.relation_id),
            "cause": cause,
        }
        events.append(
            PUBLISHER.event(
                LIST_MEMBERSHIP_TOPIC, kind, change.relation_id, payload, validate=False
            )
        )
    for start in range(0, len(history), 5000):
        await session.execute(membership_history.insert(), history[start : start + 5000])
    await outbox.add_many(session, events)


EXPLAINED_PER_LIST = 1000  # more changes than this: the cause without per-criterion detail


async def _explain(
    session: AsyncSession,
    changes: list[Change],
    compiler: Compiler,
    defs: dict[uuid.UUID, ListDef],
) -> dict[tuple[uuid.UUID, uuid.UUID], list[str]]:
    """For each change: the criteria that now match (entered) or fail (left), in one query
    for every list that changed."""
    by_list: dict[uuid.UUID, list[Change]] = {}
    for change in changes:
        by_list.setdefault(change.list_id, []).append(change)
    items = list(defs.values())
    ids: dict[str, list[uuid.UUID]] = {}
    explained: list[tuple[ListDef, list[Change]]] = []
    for i, item in enumerate(items):
        list_changes = by_list.get(item.list_id, [])
        if len(list_changes) > EXPLAINED_PER_LIST:
            list_changes = []
        ids[f"explain{i}"] = sorted({c.relation_id for c in list_changes})
        if list_changes:
            explained.append((item, list_changes))
    if not explained:
        return {}
    statement = _prepared(_key("explain", items, compiler), lambda: _explaining(items, compiler))
    outcomes: dict[tuple[int, uuid.UUID], tuple[str, list[bool | None]]] = {
        (i, relation_id): (status, results)
        for i, relation_id, status, results in (await session.execute(statement, ids)).tuples()
    }
    index = {item.list_id: i for i, item in enumerate(items)}
    reasons: dict[tuple[uuid.UUID, uuid.UUID], list[str]] = {}
    for item, list_changes in explained:
        i = index[item.list_id]
        criteria = leaves(item.filter)
        for change in list_changes:
            status, results = outcomes.get((i, change.relation_id), ("unknown", []))
            described = [
                describe(criterion)
                for criterion, result in zip(criteria, results, strict=False)
                if bool(result) == change.entered
            ]
            if not change.entered and status != "active":
                described.insert(0, f"relation is {status}")
            reasons[(item.list_id, change.relation_id)] = described
    return reasons


def _explaining(items: list[ListDef], compiler: Compiler) -> Any:
    branches = [_outcomes(i, leaves(item.filter), compiler) for i, item in enumerate(items)]
    return branches[0] if len(branches) == 1 else union_all(*branches)


def _outcomes(i: int, criteria: list[Any], compiler: Compiler) -> Any:
    """``(i, relation_id, status, [outcome of each criterion])`` for the relations bound as
    ``explain<i>``."""
    r = rm_relations
    # SQLAlchemy's stubs give the elements (conditions) and ``type_`` (their SQL type) one type
    # parameter, which no element type satisfies; the array is only selected, never read here.
    results: array[Any] = array([compiler.condition(c) for c in criteria], type_=Boolean)
    return select(literal(i, Integer), r.c.relation_id, r.c.status, results).where(
        r.c.relation_id == any_(bindparam(f"explain{i}", type_=ARRAY(Uuid)))
    )
