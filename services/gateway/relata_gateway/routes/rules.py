"""Adjustment rules and action buttons through the gateway (kept and run by the automation
service).

A rule says what to do when something happens to a relation: it is created, a field changes,
it enters or leaves a relation list, or someone presses the rule's button on its card. Rules
act on any relation and any field, so defining them and reading their run log are for roles
with ``automation.manage``.

A button is a rule with a button trigger that a view's form places on its card (a tab's
``buttons``). Pressing it runs the rule at once for that relation, on behalf of the user, and
answers with what it changed, as far as the view's form shows it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from relata_common.errors import FieldError, InvalidInput, NotFound
from relata_common.rules import (
    Action,
    Strict,
    Trigger,
)
from relata_gateway import cache, views
from relata_gateway.cards import BUTTONS_KEY, require_visible
from relata_gateway.clients import Services
from relata_gateway.deps import ServicesDep, SessionDep, card_context, editable, needs
from relata_gateway.forms import Form
from relata_gateway.rights import Right, Scope, scope
from relata_gateway.security import User

router = APIRouter(tags=["adjustment rules and buttons"])

Manager = Annotated[User, needs(Right.AUTOMATION_MANAGE)]
RunLimit = Annotated[int, Query(ge=1, le=500)]

EXAMPLE_LIST = "0b0e4b4e-8c8a-4c53-9f0e-6d1f0c7d1a11"
EXAMPLE_RULE = "5d3c1c1e-2f4b-4c1a-9a57-1f8e2b0c7d21"
EXAMPLE_RELATION = "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11"

MANAGE_REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"description": "the role lacks automation.manage"}
}
DEFINING: dict[int | str, dict[str, Any]] = {
    403: {"description": "the role lacks automation.manage, or an API key lacks the admin scope"},
    422: {"description": "a trigger, condition or action names a field, list or value wrongly"},
}


# --- the rule vocabulary (the automation service checks fields, lists and conditions) ----------


RULE_EXAMPLE: dict[str, Any] = {
    "name": "Welcome new members",
    "trigger": {"kind": "entered_list", "list_id": EXAMPLE_LIST},
    "condition": {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"},
    "actions": [
        {"kind": "set_field", "field": "custom.welcomed_on", "value": "{today}"},
        {"kind": "log_contact_moment", "contact_kind": "letter", "subject": "Welcome pack"},
    ],
    "enabled": True,
}
BUTTON_EXAMPLE: dict[str, Any] = {
    "name": "Assign to me",
    "trigger": {"kind": "button", "label": "Assign to me"},
    "actions": [{"kind": "set_field", "field": "custom.account_manager", "value": "{actor}"}],
}


class RuleInput(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [RULE_EXAMPLE, BUTTON_EXAMPLE]}
    )

    name: str = Field(min_length=1, max_length=200)
    trigger: Trigger
    condition: dict[str, Any] | None = Field(
        default=None,
        description="a filter as a relation list's: {all|any: [...]}, {not: ...}, field "
        'criteria {"kind": "field", "field", "op", "value"} and {"kind": "in_list", '
        '"list_id"}; criteria on functions, contact moments, donations or registrations only '
        "through a list (in_list). Any field: rules are administration.",
    )
    actions: list[Action] = Field(min_length=1, max_length=20)
    enabled: bool = True


class Rule(RuleInput):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **BUTTON_EXAMPLE,
                    "condition": None,
                    "enabled": True,
                    "rule_id": EXAMPLE_RULE,
                    "created_at": "2026-12-07T09:30:00Z",
                }
            ]
        }
    )

    rule_id: uuid.UUID
    created_at: datetime


class RuleRun(BaseModel):
    """One run of a rule for one relation, with everything it changed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "run_id": "9a1d6c55-6a43-4a8e-8f7b-2d3c4e5f6a70",
                    "rule_id": EXAMPLE_RULE,
                    "relation_id": EXAMPLE_RELATION,
                    "trigger": {"button": "Assign to me"},
                    "status": "done",
                    "actor_kind": "user",
                    "actor_id": "3f2a0c7e-1b4d-4e6f-8a9b-0c1d2e3f4a5b",
                    "changes": [
                        {
                            "action": "set_field",
                            "field": "custom.account_manager",
                            "old": None,
                            "new": "3f2a0c7e-1b4d-4e6f-8a9b-0c1d2e3f4a5b",
                        }
                    ],
                    "error": None,
                    "queued_at": "2026-12-07T09:31:00Z",
                    "ran_at": "2026-12-07T09:31:00Z",
                }
            ]
        }
    )

    run_id: uuid.UUID
    rule_id: uuid.UUID
    relation_id: uuid.UUID
    trigger: dict[str, Any] = Field(description="what set it off (event, changed fields, list)")
    status: str = Field(description="pending, done, skipped or failed")
    actor_kind: str
    actor_id: str | None
    changes: list[dict[str, Any]] | None
    error: str | None
    queued_at: datetime
    ran_at: datetime | None


# --- defining rules ----------------------------------------------------------------------------


async def _forget_buttons(request: Request) -> None:
    """Cards list the enabled button rules from a cached entry: drop it after a change."""
    await cache.invalidate(request.app.state.redis, BUTTONS_KEY, "buttons")


@router.get("/automation/rules", responses=MANAGE_REFUSED)
async def all_rules(_: Manager, services: ServicesDep) -> list[Rule]:
    """Every adjustment rule (button rules included), oldest first."""
    return (await services.automation.call("GET", "/rules")).json()


@router.post(
    "/automation/rules",
    status_code=status.HTTP_201_CREATED,
    responses=DEFINING,
    openapi_extra=scope(Scope.ADMIN),
)
async def create_rule(
    body: RuleInput, user: Manager, services: ServicesDep, request: Request, response: Response
) -> Rule:
    """Add an adjustment rule: a trigger, an optional condition, one or more actions. A button
    rule shows on cards once a view's form places it (a tab's ``buttons``)."""
    created = await services.automation.call(
        "POST", "/rules", json=body.model_dump(mode="json"), actor=user.actor
    )
    await _forget_buttons(request)
    rule = created.json()
    response.headers["Location"] = f"/automation/rules/{rule['rule_id']}"
    return rule


@router.get(
    "/automation/rules/{rule_id}",
    responses={**MANAGE_REFUSED, 404: {"description": "no such rule"}},
)
async def get_rule(rule_id: uuid.UUID, _: Manager, services: ServicesDep) -> Rule:
    """One adjustment rule."""
    return (await services.automation.call("GET", f"/rules/{rule_id}")).json()


@router.put(
    "/automation/rules/{rule_id}",
    responses={**DEFINING, 404: {"description": "no such rule"}},
    openapi_extra=scope(Scope.ADMIN),
)
async def replace_rule(
    rule_id: uuid.UUID, body: RuleInput, user: Manager, services: ServicesDep, request: Request
) -> Rule:
    """Change an adjustment rule (disable it with ``enabled: false``; its runs stay)."""
    changed = await services.automation.call(
        "PUT", f"/rules/{rule_id}", json=body.model_dump(mode="json"), actor=user.actor
    )
    await _forget_buttons(request)
    return changed.json()


@router.delete(
    "/automation/rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**DEFINING, 404: {"description": "no such rule"}},
    openapi_extra=scope(Scope.ADMIN),
)
async def delete_rule(
    rule_id: uuid.UUID, user: Manager, services: ServicesDep, request: Request
) -> None:
    """Delete an adjustment rule with its run log; forms placing its button stop showing it."""
    await services.automation.call("DELETE", f"/rules/{rule_id}", actor=user.actor)
    await _forget_buttons(request)


# --- the run log -------------------------------------------------------------------------------


@router.get(
    "/automation/rules/{rule_id}/runs",
    responses={**MANAGE_REFUSED, 404: {"description": "no such rule"}},
)
async def runs_of_rule(
    rule_id: uuid.UUID,
    _: Manager,
    services: ServicesDep,
    relation_id: uuid.UUID | None = None,
    limit: RunLimit = 50,
) -> list[RuleRun]:
    """The runs of one rule, newest first: which relation, what set it off, what it changed."""
    await services.automation.call("GET", f"/rules/{rule_id}")  # 404 for an unknown rule
    return await _runs(services, rule_id=rule_id, relation_id=relation_id, limit=limit)


@router.get("/automation/runs", responses=MANAGE_REFUSED)
async def all_runs(
    _: Manager,
    services: ServicesDep,
    rule_id: uuid.UUID | None = None,
    relation_id: uuid.UUID | None = None,
    limit: RunLimit = 50,
) -> list[RuleRun]:
    """Every rule's runs, newest first (narrowed to a rule or a relation when asked)."""
    return await _runs(services, rule_id=rule_id, relation_id=relation_id, limit=limit)


async def _runs(
    services: Services, *, rule_id: uuid.UUID | None, relation_id: uuid.UUID | None, limit: int
) -> list[RuleRun]:
    params: dict[str, Any] = {"limit": limit}
    if rule_id is not None:
        params["rule_id"] = str(rule_id)
    if relation_id is not None:
        params["relation_id"] = str(relation_id)
    return (await services.automation.call("GET", "/rules/runs", params=params)).json()


# --- placing buttons on a form -----------------------------------------------------------------


async def check_placed_buttons(services: Services, form: Form) -> None:
    """Refuse a form placing a button that is not a button rule (422 naming the tab's entry).
    A rule disabled or deleted later simply stops showing on cards."""
    if not form.buttons:
        return
    rules = (await services.automation.call("GET", "/rules")).json()
    buttons = {rule["rule_id"] for rule in rules if rule["trigger"]["kind"] == "button"}
    errors = [
        FieldError(("body", "form", "tabs", t, "buttons", b), "not a button rule")
        for t, tab in enumerate(form.tabs)
        for b, rule_id in enumerate(tab.buttons)
        if str(rule_id) not in buttons
    ]
    if errors:
        raise InvalidInput(errors)


# --- pressing a button on a card ---------------------------------------------------------------


class ButtonChange(BaseModel):
    """One thing a button did, as far as the view's form shows it."""

    action: str = Field(description="set_field, clear_field, add_function, end_function, ...")
    field: str | None = Field(default=None, description="set_field and clear_field")
    old: Any = None
    new: Any = None
    unchanged: bool = Field(default=False, description="the field held the value already")
    details: dict[str, Any] | None = Field(
        default=None, description="what else the action reports (the function or moment made)"
    )
    hidden: bool = Field(
        default=False, description="the change concerns data this view's form does not show"
    )


class ButtonRun(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "run_id": "9a1d6c55-6a43-4a8e-8f7b-2d3c4e5f6a70",
                    "rule_id": EXAMPLE_RULE,
                    "relation_id": EXAMPLE_RELATION,
                    "label": "Assign to me",
                    "status": "done",
                    "message": None,
                    "changes": [
                        {
                            "action": "set_field",
                            "field": "custom.account_manager",
                            "old": None,
                            "new": "3f2a0c7e-1b4d-4e6f-8a9b-0c1d2e3f4a5b",
                            "unchanged": False,
                            "details": None,
                            "hidden": False,
                        }
                    ],
                }
            ]
        }
    )

    run_id: uuid.UUID
    rule_id: uuid.UUID
    relation_id: uuid.UUID
    label: str | None
    status: Literal["done", "skipped", "failed"]
    message: str | None = Field(description="why it was skipped or failed")
    changes: list[ButtonChange]


SECTION_OF_ACTION = {
    "add_function": "functions",
    "end_function": "functions",
    "log_contact_moment": "contact_moments",
}
"""The card section that shows what an action (other than a field's) changes."""
TOLD_REASONS = frozenset({"the condition does not hold", "the relation is not active"})
"""Reasons a skipped run gives that name nothing the form may hide."""


def shown_change(form: Form, change: dict[str, Any]) -> ButtonChange:
    """A change as the view may tell it: a field or section the form does not show is told
    only as an action that happened."""
    action = str(change.get("action"))
    field = change.get("field")
    if action in ("set_field", "clear_field"):
        if not (isinstance(field, str) and form.shows(field)):
            return ButtonChange(action=action, hidden=True)
        return ButtonChange(
            action=action,
            field=field,
            old=change.get("old"),
            new=change.get("new"),
            unchanged=bool(change.get("unchanged")),
        )
    section = SECTION_OF_ACTION.get(action)
    if section is None or not form.shows(section):
        return ButtonChange(action=action, hidden=True)
    details = {k: v for k, v in change.items() if k != "action"}
    return ButtonChange(action=action, details=details)


def told_message(run: dict[str, Any]) -> str | None:
    """Why a run did not finish, without what the form hides (the run log has the detail)."""
    if run["status"] == "done":
        return None
    if run["status"] == "skipped":
        reason = run.get("error")
        return reason if reason in TOLD_REASONS else "the button's rule did not run"
    return "the button could not finish; the rule's run log says why"


@router.post(
    "/views/{view_id}/relations/{relation_id}/buttons/{rule_id}",
    tags=["views"],
    responses={
        403: {"description": "the role lacks buttons.run, or the view is read-only"},
        404: {"description": "no such view or relation, or the form does not place the button"},
        422: {"description": "the rule is disabled"},
    },
)
async def press_button(
    view_id: uuid.UUID,
    relation_id: uuid.UUID,
    rule_id: uuid.UUID,
    user: Annotated[User, needs(Right.BUTTONS_RUN)],
    session: SessionDep,
    request: Request,
) -> ButtonRun:
    """Press an action button on a relation's card: its rule runs now for this relation, on
    your behalf (edit rights in the view needed). The answer says what it changed; changes to
    data the view's form does not show are told as hidden."""
    view = await views.access(session, user, view_id)
    editable(view)
    if rule_id not in view.form.buttons:
        raise NotFound(f"this view's form places no button {rule_id}")
    ctx = card_context(request)
    await require_visible(ctx, view, relation_id)
    answer = await ctx.services.automation.call(
        "POST",
        f"/rules/{rule_id}/run",
        json={"relation_id": str(relation_id)},
        actor=user.actor,
        timeout=30.0,
    )
    run = answer.json()
    await cache.invalidate(ctx.redis, relation_id)  # the card shows the button's work at once
    return ButtonRun(
        run_id=run["run_id"],
        rule_id=rule_id,
        relation_id=relation_id,
        label=(run.get("trigger") or {}).get("button"),
        status=run["status"],
        message=told_message(run),
        changes=[shown_change(view.form, c) for c in run.get("changes") or []],
    )
