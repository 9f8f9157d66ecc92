"""Adjustment rules: when something happens to a relation (created, a field changed, entered or
left a list, or a button pressed on its card), and an optional condition holds, carry out
actions (set or clear a field, add or end a function, add to or remove from a selection, log a
contact moment).

Event triggers are queued in the consumer's transaction (``rule_runs``, status ``pending``) and
carried out by the worker's executor; a button runs at once. Every action goes through the
owning service's API, so history, validation and events are as for any other change, and every
run is recorded with what it changed and announced as ``rule.ran``.

Changes made by a rule do not trigger rules again (their events carry the automation actor):
two rules that set each other's fields would otherwise loop forever.
"""

from __future__ import annotations

import uuid
from collections.abc import Set
from datetime import UTC, date, datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_automation import publishing
from relata_automation.clients import Services
from relata_automation.models import adjustment_rules
from relata_common.db import transaction
from relata_common.errors import FieldError, InvalidInput, NotFound
from relata_common.events import (
    Actor,
    ActorKind,
    AutomationEventType,
    Envelope,
    MembershipPayload,
    RelationChangedPayload,
    RelationEventType,
    RuleRanPayload,
)
from relata_common.fields import field_patch, filter_values, is_stored_field, stored_value
from relata_common.filters import (
    MAX_FILTER_DEPTH,
    MAX_FILTER_NODES,
    Loc,
    evaluate,
    not_evaluable,
    parse_filter,
)
from relata_common.logging import get_logger
from relata_common.rules import (
    Action,
    AddFunction,
    ButtonTrigger,
    ClearField,
    EndFunction,
    FieldChangedTrigger,
    LogContactMoment,
    SelectionAction,
    SetField,
    Strict,
    Trigger,
)
from relata_common.versions import is_stale

log = get_logger(__name__)

ACTOR_PREFIX = "automation:"


# --- definitions -------------------------------------------------------------------------------


class RuleInput(Strict):
    name: str = Field(min_length=1, max_length=200)
    trigger: Trigger
    condition: dict[str, Any] | None = Field(
        default=None,
        description="a filter as a relation list's (the lists service's field catalogue): "
        '{"all"|"any": [...]}, {"not": ...}, field criteria {"kind": "field", "field", "op", '
        '"value"} and {"kind": "in_list", "list_id"}; the other criteria only in a list',
    )
    actions: list[Action] = Field(min_length=1, max_length=20)
    enabled: bool = True


class RuleOut(RuleInput):
    rule_id: uuid.UUID
    created_at: datetime


class RunOut(BaseModel):
    run_id: uuid.UUID
    rule_id: uuid.UUID
    relation_id: uuid.UUID
    trigger: dict[str, Any]
    status: str
    actor_kind: str
    actor_id: str | None
    changes: list[dict[str, Any]] | None
    error: str | None
    queued_at: datetime
    ran_at: datetime | None


def condition_errors(raw: Any, loc: Loc = ("body", "condition")) -> list[FieldError]:
    """The errors of a condition, each naming where it is: a filter as a list's (same
    fields, operators and meaning), of the criteria a relation's own values decide."""
    try:
        node = parse_condition(raw, loc)
    except InvalidInput as invalid:
        return list(invalid.errors)
    return [
        FieldError(
            (*path, "kind"),
            f"a rule's condition cannot use {kind} criteria (they need facts only the lists "
            "service holds: put them in a list and use in_list)",
        )
        for path, kind in not_evaluable(node, loc)
    ]


def parse_condition(raw: Any, loc: Loc = ("body", "condition")) -> Any:
    """A condition as a filter tree, or 422. Custom fields are checked by name only (their
    values are compared by JSON type, as in a list); any list id may be named."""
    return parse_filter(
        raw,
        custom={},
        known_lists=None,
        max_depth=MAX_FILTER_DEPTH,
        max_nodes=MAX_FILTER_NODES,
        loc=loc,
    )


def validate(rule: RuleInput) -> None:
    errors = condition_errors(rule.condition) if rule.condition is not None else []
    if isinstance(rule.trigger, FieldChangedTrigger) and not is_stored_field(rule.trigger.field):
        errors.append(FieldError(("body", "trigger", "field"), "no such field"))
    for i, action in enumerate(rule.actions):
        if isinstance(action, SetField | ClearField) and not is_stored_field(action.field):
            errors.append(FieldError(("body", "actions", i, "field"), "no such field"))
    if errors:
        raise InvalidInput(errors)


def holds(
    condition: dict[str, Any] | None,
    state: dict[str, Any],
    lists: Set[uuid.UUID],
    day: date,
) -> bool:
    """Whether a relation (its state, the lists it is in) meets a condition, as a list with
    the condition as its filter would have it on ``day``."""
    if condition is None:
        return True
    return evaluate(parse_condition(condition), filter_values(state), lists, day)


# --- persistence -------------------------------------------------------------------------------


def _row_values(rule: RuleInput) -> dict[str, Any]:
    data = rule.model_dump(mode="json")
    return {**data, "trigger_kind": data["trigger"]["kind"]}


def _out(row: Any) -> RuleOut:
    data = {k: v for k, v in dict(row).items() if k != "trigger_kind"}
    return RuleOut.model_validate(data)


async def create_rule(session: AsyncSession, rule: RuleInput) -> RuleOut:
    validate(rule)
    row = (
        (
            await session.execute(
                adjustment_rules.insert()
                .values(rule_id=uuid.uuid4(), **_row_values(rule))
                .returning(adjustment_rules)
            )
        )
        .mappings()
        .one()
    )
    return _out(row)


async def replace_rule(session: AsyncSession, rule_id: uuid.UUID, rule: RuleInput) -> RuleOut:
    validate(rule)
    row = (
        (
            await session.execute(
                adjustment_rules.update()
                .where(adjustment_rules.c.rule_id == rule_id)
                .values(**_row_values(rule))
                .returning(adjustment_rules)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"adjustment rule {rule_id} does not exist")
    return _out(row)


async def get_rule(session: AsyncSession, rule_id: uuid.UUID) -> RuleOut:
    row = (
        (
            await session.execute(
                text("SELECT * FROM adjustment_rules WHERE rule_id = :r"), {"r": rule_id}
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"adjustment rule {rule_id} does not exist")
    return _out(row)


async def all_rules(session: AsyncSession) -> list[RuleOut]:
    rows = await session.execute(text("SELECT * FROM adjustment_rules ORDER BY created_at"))
    return [_out(r) for r in rows.mappings()]


async def delete_rule(session: AsyncSession, rule_id: uuid.UUID) -> None:
    gone = await session.execute(
        text("DELETE FROM adjustment_rules WHERE rule_id = :r RETURNING rule_id"), {"r": rule_id}
    )
    if gone.first() is None:
        raise NotFound(f"adjustment rule {rule_id} does not exist")


async def any_enabled(session: AsyncSession) -> bool:
    return bool(
        await session.scalar(text("SELECT EXISTS (SELECT 1 FROM adjustment_rules WHERE enabled)"))
    )


async def runs(
    session: AsyncSession, *, rule_id: uuid.UUID | None, relation_id: uuid.UUID | None, limit: int
) -> list[RunOut]:
    rows = await session.execute(
        text(
            "SELECT * FROM rule_runs WHERE (CAST(:rule AS uuid) IS NULL OR rule_id = :rule)"
            " AND (CAST(:rel AS uuid) IS NULL OR relation_id = :rel)"
            " ORDER BY queued_at DESC LIMIT :limit"
        ),
        {"rule": rule_id, "rel": relation_id, "limit": limit},
    )
    return [RunOut.model_validate(dict(r)) for r in rows.mappings()]


# --- queueing from events ----------------------------------------------------------------------


def _by_automation(envelope: Envelope) -> bool:
    actor = envelope.actor
    return actor.kind == ActorKind.MODULE and (actor.id or "").startswith(ACTOR_PREFIX)


async def _queue(
    session: AsyncSession,
    rule_ids: list[uuid.UUID],
    relation_id: uuid.UUID,
    trigger: dict[str, Any],
) -> None:
    for rule_id in rule_ids:
        await session.execute(
            text(
                "INSERT INTO rule_runs (run_id, rule_id, relation_id, trigger, status,"
                " actor_kind, actor_id) VALUES (:run, :rule, :rel, CAST(:trigger AS jsonb),"
                " 'pending', 'module', :actor)"
            ),
            {
                "run": uuid.uuid4(),
                "rule": rule_id,
                "rel": relation_id,
                "trigger": _json(trigger),
                "actor": f"{ACTOR_PREFIX}rule:{rule_id}",
            },
        )


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def queue_for_relation_event(
    session: AsyncSession, envelope: Envelope, changed: RelationChangedPayload
) -> None:
    if _by_automation(envelope) or changed.state.status != "active":
        return
    trigger: dict[str, Any] = {"event_type": envelope.type, "event_id": str(envelope.event_id)}
    if envelope.type == RelationEventType.CREATED:
        rows = await session.execute(
            text("SELECT rule_id FROM adjustment_rules WHERE enabled AND trigger_kind = 'created'")
        )
    elif envelope.type == RelationEventType.UPDATED:
        rows = await session.execute(
            text(
                "SELECT rule_id FROM adjustment_rules WHERE enabled"
                " AND trigger_kind = 'field_changed' AND trigger->>'field' = ANY(:fields)"
            ),
            {"fields": changed.changed_fields},
        )
        trigger["changed_fields"] = changed.changed_fields
    else:
        return
    await _queue(session, list(rows.scalars()), changed.state.relation_id, trigger)


async def queue_for_membership(
    session: AsyncSession, envelope: Envelope, membership: MembershipPayload, *, entered: bool
) -> None:
    kind = "entered_list" if entered else "left_list"
    rows = await session.execute(
        text(
            "SELECT rule_id FROM adjustment_rules WHERE enabled AND trigger_kind = :kind"
            " AND trigger->>'list_id' = :list"
        ),
        {"kind": kind, "list": str(membership.list_id)},
    )
    trigger = {
        "event_type": envelope.type,
        "event_id": str(envelope.event_id),
        "list_id": str(membership.list_id),
    }
    await _queue(session, list(rows.scalars()), membership.relation_id, trigger)


# --- running -----------------------------------------------------------------------------------


def today() -> date:
    return datetime.now(UTC).date()


def _fill(value: Any, actor: Actor) -> Any:
    if value == "{actor}":
        return actor.id
    if value == "{today}":
        return today().isoformat()
    return value


class ActionFailed(Exception):
    pass


async def _do(
    services: Services, action: Any, relation_id: uuid.UUID, actor: Actor, by: Actor
) -> dict[str, Any]:
    """Carry out one action; returns what it changed. ``by`` is who pressed the button (or
    the rule, for an event), ``actor`` who the owning services record."""
    if isinstance(action, SetField | ClearField):
        value = _fill(action.value, by) if isinstance(action, SetField) else None
        return await _write_field(services, action, value, relation_id, actor)
    if isinstance(action, AddFunction):
        return await _add_function(services, action, relation_id, actor)
    if isinstance(action, EndFunction):
        return await _end_functions(services, action, relation_id, actor)
    if isinstance(action, SelectionAction):
        return await _change_selection(services, action, relation_id, actor)
    assert isinstance(action, LogContactMoment)
    return await _log_contact_moment(services, action, relation_id, actor)


async def _write_field(
    services: Services,
    action: SetField | ClearField,
    value: Any,
    relation_id: uuid.UUID,
    actor: Actor,
) -> dict[str, Any]:
    """Set or clear one field, unless it already holds the value."""
    for _ in range(3):  # re-read after a concurrent change (412)
        current = await services.relation(relation_id)
        if not current.ok:
            raise ActionFailed(f"{action.kind}: {current.error()}")
        before = stored_value(current.body["fields"], action.field)
        if before == value:
            return {"action": action.kind, "field": action.field, "unchanged": True}
        answer = await services.patch_relation(
            relation_id,
            field_patch(action.field, value),
            version=current.version or 0,
            actor=actor,
        )
        if answer.ok:
            return {"action": action.kind, "field": action.field, "old": before, "new": value}
        if not is_stale(answer.status):
            raise ActionFailed(f"{action.kind} {action.field}: {answer.error()}")
    raise ActionFailed(f"{action.kind} {action.field}: the relation keeps changing")


async def _add_function(
    services: Services, action: AddFunction, relation_id: uuid.UUID, actor: Actor
) -> dict[str, Any]:
    """A function from today at the action's organisation."""
    answer = await services.call(
        "relations",
        "POST",
        f"/relations/{relation_id}/functions",
        json={
            "role": action.role,
            "object_id": str(action.object_id),
            "start_date": today().isoformat(),
        },
        actor=actor,
    )
    if not answer.ok:
        raise ActionFailed(f"add_function: {answer.error()}")
    return {"action": "add_function", "function_id": answer.body["function_id"]}


async def _end_functions(
    services: Services, action: EndFunction, relation_id: uuid.UUID, actor: Actor
) -> dict[str, Any]:
    """End today every current function in the role (at the organisation, when given)."""
    current = await services.relation(relation_id)
    if not current.ok:
        raise ActionFailed(f"end_function: {current.error()}")
    ended = []
    for held in current.body.get("functions") or []:
        if held["role"] != action.role or held.get("end_date") is not None:
            continue
        if action.object_id is not None and held["object_id"] != str(action.object_id):
            continue
        answer = await services.call(
            "relations",
            "PATCH",
            f"/functions/{held['function_id']}",
            json={"end_date": today().isoformat()},
            actor=actor,
        )
        if not answer.ok:
            raise ActionFailed(f"end_function: {answer.error()}")
        ended.append(held["function_id"])
    return {"action": "end_function", "ended": ended, "end_date": today().isoformat()}


async def _change_selection(
    services: Services, action: SelectionAction, relation_id: uuid.UUID, actor: Actor
) -> dict[str, Any]:
    """Add the relation to a selection or remove it, at the selection's current version."""
    selection = await services.call("selections", "GET", f"/selections/{action.selection_id}")
    if not selection.ok:
        raise ActionFailed(f"{action.kind}: {selection.error()}")
    path = "members" if action.kind == "add_to_selection" else "members/removal"
    answer = await services.call(
        "selections",
        "POST",
        f"/selections/{action.selection_id}/{path}",
        json={"relation_ids": [str(relation_id)]},
        if_match=selection.version,
        actor=actor,
    )
    if not answer.ok:
        raise ActionFailed(f"{action.kind}: {answer.error()}")
    return {"action": action.kind, "selection_id": str(action.selection_id)}


async def _log_contact_moment(
    services: Services, action: LogContactMoment, relation_id: uuid.UUID, actor: Actor
) -> dict[str, Any]:
    """A contact moment with the relation, now."""
    answer = await services.call(
        "contactmoments",
        "POST",
        "/contact-moments",
        json={
            "kind": action.contact_kind,
            "direction": action.direction,
            "subject": action.subject,
            "occurred_at": datetime.now(UTC).isoformat(),
            "relation_ids": [str(relation_id)],
        },
        actor=actor,
    )
    if not answer.ok:
        raise ActionFailed(f"log_contact_moment: {answer.error()}")
    return {
        "action": "log_contact_moment",
        "contact_moment_id": answer.body.get("contact_moment_id"),
    }


def _condition_refusal(condition: dict[str, Any] | None) -> str | None:
    """Why a stored condition cannot be decided (saved under an older vocabulary), if so."""
    if condition is None:
        return None
    errors = condition_errors(condition)
    return f"the condition is no longer valid: {InvalidInput(errors).message}" if errors else None


async def _execute(
    session: AsyncSession,
    services: Services,
    rule: RuleOut,
    run: RunOut,
    by: Actor,
) -> RunOut:
    """Run one rule for one relation and record the outcome (the run row is locked)."""
    actor = Actor(kind=ActorKind(run.actor_kind), id=run.actor_id)
    changes: list[dict[str, Any]] = []
    error = None
    state = await services.relation(run.relation_id)
    if not state.ok or state.body.get("status") != "active":
        status = "skipped"
        error = "the relation is not active" if state.ok else state.error()
    else:
        lists: set[uuid.UUID] = set(
            (
                await session.execute(
                    text("SELECT list_id FROM list_members WHERE relation_id = :r"),
                    {"r": run.relation_id},
                )
            ).scalars()
        )
        if not rule.enabled and run.trigger.get("button") is None:
            status, error = "skipped", "the rule was disabled"
        elif (refusal := _condition_refusal(rule.condition)) is not None:
            status, error = "skipped", refusal
        elif not holds(rule.condition, state.body, lists, today()):
            status = "skipped"
            error = "the condition does not hold"
        else:
            status = "done"
            for action in rule.actions:
                try:
                    changes.append(await _do(services, action, run.relation_id, actor, by))
                except ActionFailed as failure:
                    status, error = "failed", str(failure)
                    break
    row = (
        (
            await session.execute(
                text(
                    "UPDATE rule_runs SET status = :s, changes = CAST(:c AS jsonb), error = :e,"
                    " ran_at = now() WHERE run_id = :r RETURNING *"
                ),
                {"s": status, "c": _json(changes), "e": error, "r": run.run_id},
            )
        )
        .mappings()
        .one()
    )
    done = RunOut.model_validate(dict(row))
    await publishing.announce(
        session,
        event_type=AutomationEventType.RULE_RAN,
        subject_id=run.relation_id,
        payload=RuleRanPayload(
            run_id=done.run_id,
            rule_id=rule.rule_id,
            rule_name=rule.name,
            relation_id=run.relation_id,
            trigger=done.trigger,
            status=status,
            changes=changes,
            error=error,
        ),
        actor=actor,
    )
    log.info("rule ran", rule=rule.name, relation=str(run.relation_id), status=status)
    return done


async def run_pending(sessions: async_sessionmaker[AsyncSession], services: Services) -> bool:
    """Carry out one queued run; False when none waits."""
    async with transaction(sessions) as session:
        row = (
            (
                await session.execute(
                    text(
                        "SELECT * FROM rule_runs WHERE status = 'pending' ORDER BY queued_at"
                        " LIMIT 1 FOR UPDATE SKIP LOCKED"
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return False
        run = RunOut.model_validate(dict(row))
        rule = await get_rule(session, run.rule_id)
        await _execute(session, services, rule, run, Actor(kind=ActorKind.MODULE, id=run.actor_id))
        return True


async def press_button(
    sessions: async_sessionmaker[AsyncSession],
    services: Services,
    *,
    rule_id: uuid.UUID,
    relation_id: uuid.UUID,
    actor: Actor,
) -> RunOut:
    """Run a button rule for one relation now, on behalf of whoever pressed it."""
    async with transaction(sessions) as session:
        rule = await get_rule(session, rule_id)
        if not isinstance(rule.trigger, ButtonTrigger):
            raise InvalidInput.single(("path", "rule_id"), "this rule is not a button")
        if not rule.enabled:
            raise InvalidInput.single(("path", "rule_id"), "this rule is disabled")
        run_id = uuid.uuid4()
        row = (
            (
                await session.execute(
                    text(
                        "INSERT INTO rule_runs (run_id, rule_id, relation_id, trigger, status,"
                        " actor_kind, actor_id) VALUES (:run, :rule, :rel,"
                        " CAST(:trigger AS jsonb), 'pending', :kind, :id) RETURNING *"
                    ),
                    {
                        "run": run_id,
                        "rule": rule_id,
                        "rel": relation_id,
                        "trigger": _json({"button": rule.trigger.label}),
                        "kind": actor.kind.value,
                        "id": actor.id,
                    },
                )
            )
            .mappings()
            .one()
        )
        return await _execute(session, services, rule, RunOut.model_validate(dict(row)), actor)
