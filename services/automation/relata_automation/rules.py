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
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_automation import publishing
from relata_automation.bulk import STANDARD_FIELDS, current_value, field_patch
from relata_automation.clients import Services
from relata_automation.models import adjustment_rules
from relata_common.db import transaction
from relata_common.errors import InvalidInput, NotFound
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
from relata_common.logging import get_logger
from relata_common.versions import is_stale

log = get_logger(__name__)

ACTOR_PREFIX = "automation:"


# --- definitions -------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreatedTrigger(_Strict):
    kind: Literal["created"]


class FieldChangedTrigger(_Strict):
    kind: Literal["field_changed"]
    field: str = Field(description="a standard field or custom.<key>")


class ListTrigger(_Strict):
    kind: Literal["entered_list", "left_list"]
    list_id: uuid.UUID


class ButtonTrigger(_Strict):
    kind: Literal["button"]
    label: str = Field(min_length=1, max_length=100, description="the button's text")


Trigger = Annotated[
    CreatedTrigger | FieldChangedTrigger | ListTrigger | ButtonTrigger,
    Field(discriminator="kind"),
]


class SetField(_Strict):
    kind: Literal["set_field"]
    field: str
    value: Any = Field(description='"{actor}" is who pressed the button, "{today}" the date')


class ClearField(_Strict):
    kind: Literal["clear_field"]
    field: str


class AddFunction(_Strict):
    kind: Literal["add_function"]
    role: str
    object_id: uuid.UUID


class EndFunction(_Strict):
    kind: Literal["end_function"]
    role: str
    object_id: uuid.UUID | None = Field(default=None, description="any, when not given")


class SelectionAction(_Strict):
    kind: Literal["add_to_selection", "remove_from_selection"]
    selection_id: uuid.UUID


class LogContactMoment(_Strict):
    kind: Literal["log_contact_moment"]
    contact_kind: Literal["phone", "email", "visit", "letter", "meeting", "other"] = "other"
    direction: Literal["in", "out"] = "out"
    subject: str = Field(min_length=1, max_length=200)


Action = Annotated[
    SetField | ClearField | AddFunction | EndFunction | SelectionAction | LogContactMoment,
    Field(discriminator="kind"),
]


class RuleInput(_Strict):
    name: str = Field(min_length=1, max_length=200)
    trigger: Trigger
    condition: dict[str, Any] | None = Field(
        default=None,
        description='a filter: {"all"|"any": [...]}, {"not": ...}, field criteria '
        '{"kind": "field", "field", "op": equals|not_equals|empty|not_empty|contains|in, '
        '"value"} and {"kind": "in_list", "list_id"}',
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


FIELD_OPS = frozenset({"equals", "not_equals", "empty", "not_empty", "contains", "in"})


def check_condition(node: Any, loc: tuple[str | int, ...] = ("body", "condition")) -> list[dict]:
    """The errors of a condition tree, each naming where it is."""
    if not isinstance(node, dict):
        return [{"loc": list(loc), "msg": "a condition is an object", "type": "value_error"}]
    for combinator in ("all", "any"):
        if combinator in node:
            children = node[combinator]
            if not isinstance(children, list) or not children:
                return [
                    {"loc": [*loc, combinator], "msg": "a non-empty list", "type": "value_error"}
                ]
            return [
                e for i, c in enumerate(children) for e in check_condition(c, (*loc, combinator, i))
            ]
    if "not" in node:
        return check_condition(node["not"], (*loc, "not"))
    kind = node.get("kind")
    if kind == "in_list":
        try:
            uuid.UUID(str(node.get("list_id")))
            return []
        except ValueError:
            return [{"loc": [*loc, "list_id"], "msg": "a list id", "type": "value_error"}]
    if kind == "field":
        errors = []
        if not _known_field(str(node.get("field", ""))):
            errors.append({"loc": [*loc, "field"], "msg": "no such field", "type": "value_error"})
        if node.get("op") not in FIELD_OPS:
            errors.append(
                {"loc": [*loc, "op"], "msg": f"one of {sorted(FIELD_OPS)}", "type": "value_error"}
            )
        return errors
    return [
        {"loc": [*loc, "kind"], "msg": "field or in_list, or all/any/not", "type": "value_error"}
    ]


def _known_field(name: str) -> bool:
    return name in STANDARD_FIELDS or (name.startswith("custom.") and len(name) > 7)


def validate(rule: RuleInput) -> None:
    errors = check_condition(rule.condition) if rule.condition is not None else []
    if isinstance(rule.trigger, FieldChangedTrigger) and not _known_field(rule.trigger.field):
        errors.append(
            {"loc": ["body", "trigger", "field"], "msg": "no such field", "type": "value_error"}
        )
    for i, action in enumerate(rule.actions):
        if isinstance(action, SetField | ClearField) and not _known_field(action.field):
            errors.append(
                {
                    "loc": ["body", "actions", i, "field"],
                    "msg": "no such field",
                    "type": "value_error",
                }
            )
    if errors:
        raise InvalidInput(errors)


def holds(node: dict[str, Any] | None, state: dict[str, Any], lists: set[str]) -> bool:
    """Whether a relation (its state, the lists it is in) meets a condition."""
    if node is None:
        return True
    if "all" in node:
        return all(holds(c, state, lists) for c in node["all"])
    if "any" in node:
        return any(holds(c, state, lists) for c in node["any"])
    if "not" in node:
        return not holds(node["not"], state, lists)
    if node["kind"] == "in_list":
        return str(node["list_id"]) in lists
    value = current_value(state, node["field"])
    wanted = node.get("value")
    empty = value in (None, "", [], {})
    match node["op"]:
        case "equals":
            return value == wanted
        case "not_equals":
            return value != wanted
        case "empty":
            return empty
        case "not_empty":
            return not empty
        case "contains":
            return not empty and str(wanted).lower() in str(value).lower()
        case "in":
            return value in (wanted or [])
    return False


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
    trigger = {"event_type": envelope.type, "event_id": str(envelope.event_id)}
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
        for _ in range(3):  # re-read after a concurrent change (412)
            current = await services.relation(relation_id)
            if not current.ok:
                raise ActionFailed(f"{action.kind}: {current.error()}")
            before = current_value(current.body, action.field)
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
    if isinstance(action, AddFunction):
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
    if isinstance(action, EndFunction):
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
    if isinstance(action, SelectionAction):
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
    assert isinstance(action, LogContactMoment)
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
        lists = {
            str(r)
            for r in (
                await session.execute(
                    text("SELECT list_id FROM list_members WHERE relation_id = :r"),
                    {"r": run.relation_id},
                )
            ).scalars()
        }
        if not rule.enabled and run.trigger.get("button") is None:
            status, error = "skipped", "the rule was disabled"
        elif not holds(rule.condition, state.body, lists):
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
            status=status,  # type: ignore[arg-type]
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
