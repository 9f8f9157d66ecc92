"""Automation a functional administrator sets up (right ``automation.manage``): merge rules
for new relations that duplicate existing ones, and generated properties held while in a list.

The automation service keeps and applies them; the gateway checks the right, that named lists
exist, and documents the shapes. A generated property shows on relation cards whose form has
the ``properties`` section, within moments of its definition (its holders are announced and
their cached card parts dropped).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from relata_common.client import Upstream
from relata_common.errors import FieldError, InvalidInput
from relata_gateway.clients import Services
from relata_gateway.deps import ServicesDep, needs
from relata_gateway.rights import Right
from relata_gateway.security import User

router = APIRouter(prefix="/automation", tags=["automation"])
Manager = Annotated[User, needs(Right.AUTOMATION_MANAGE)]

MatchField = Literal[
    "first_name",
    "initials",
    "last_name",
    "birth_date",
    "email",
    "phone",
    "address",
    "organisation_name",
    "coc_number",
    "iban",
]
"""What a merge rule can require to match (as the automation service compares relations)."""
Keep = Literal["newest", "oldest", "non_empty", "existing", "new"]

Responses = dict[int | str, dict[str, Any]]
_FORBIDDEN: Responses = {403: {"description": "the role lacks automation.manage"}}
_UNKNOWN_LIST: Responses = {422: {"description": "a field is invalid, or a list_id names no list"}}


# --- merge rules -------------------------------------------------------------------------------


class MergeRuleInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Event registrations: same e-mail and birth date",
                    "list_ids": ["3f9d2c1a-7b4e-4e8a-9c21-5a6b7c8d9e0f"],
                    "match_fields": ["email", "birth_date"],
                    "keep": {"phones": "newest", "last_name": "existing"},
                    "default_keep": "non_empty",
                    "min_stars": 4,
                    "sources": ["module:events"],
                    "enabled": True,
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    list_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=50,
        description="look for the existing relation in these relation lists; empty: everywhere",
    )
    match_fields: list[MatchField] = Field(
        min_length=1,
        description="each must be filled in on both and equal (e-mail, phone, address: one "
        "shared is enough)",
    )
    keep: dict[str, Keep] = Field(
        default_factory=dict,
        description="per field whose values differ (custom fields as custom.<key>): which value "
        "stays: newest / oldest (of the relation changed last / created first), non_empty, "
        "existing, new",
    )
    default_keep: Keep = Field(default="non_empty", description="for fields not named in keep")
    min_stars: int = Field(default=3, ge=1, le=5, description="and at least this many stars")
    sources: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="apply only to relations created by these sources, as kind:id: "
        "module:<name> for a platform module's registrations (module:events), user:<user_id> "
        "for a user or their API key; empty: every new relation",
    )
    enabled: bool = True


class MergeRule(MergeRuleInput):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Event registrations: same e-mail and birth date",
                    "list_ids": ["3f9d2c1a-7b4e-4e8a-9c21-5a6b7c8d9e0f"],
                    "match_fields": ["email", "birth_date"],
                    "keep": {"phones": "newest", "last_name": "existing"},
                    "default_keep": "non_empty",
                    "min_stars": 4,
                    "sources": ["module:events"],
                    "enabled": True,
                    "rule_id": "9b2f4c6e-1d3a-4f5b-8c7d-0e1f2a3b4c5d",
                    "position": 1,
                    "created_at": "2026-12-07T09:00:00Z",
                }
            ]
        }
    )

    rule_id: uuid.UUID
    position: int = Field(description="rules are tried in this order; the first that fits wins")
    created_at: datetime


async def _lists_exist(services: Services, named: dict[tuple[str | int, ...], uuid.UUID]) -> None:
    """422 naming (by location in the body) every list id the lists service does not know."""
    errors = []
    for loc, list_id in named.items():
        try:
            await services.lists.call("GET", f"/lists/{list_id}")
        except Upstream as refused:
            if refused.status_code != 404:
                raise
            errors.append(FieldError(loc, "no such relation list"))
    if errors:
        raise InvalidInput(errors)


def _rule_lists(rule: MergeRuleInput) -> dict[tuple[str | int, ...], uuid.UUID]:
    return {("body", "list_ids", i): list_id for i, list_id in enumerate(rule.list_ids)}


@router.get("/merge-rules", responses=_FORBIDDEN)
async def merge_rules(user: Manager, services: ServicesDep) -> list[MergeRule]:
    """Every merge rule, in the order they are tried on a new relation."""
    answer = await services.automation.call("GET", "/merge-rules", actor=user.actor)
    return [MergeRule.model_validate(rule) for rule in answer.json()]


@router.post(
    "/merge-rules", status_code=status.HTTP_201_CREATED, responses=_FORBIDDEN | _UNKNOWN_LIST
)
async def create_merge_rule(
    body: MergeRuleInput, user: Manager, services: ServicesDep, response: Response
) -> MergeRule:
    """Add a merge rule, tried after the existing ones. When a new relation (from one of the
    rule's sources) has exactly one candidate that meets the rule, the two are merged at once:
    the existing relation stays, each differing field as the rule says. With several
    candidates they wait in the review queue. Two relations that both hold a self-service login
    are never merged."""
    await _lists_exist(services, _rule_lists(body))
    answer = await services.automation.call(
        "POST", "/merge-rules", json=body.model_dump(mode="json"), actor=user.actor
    )
    rule = MergeRule.model_validate(answer.json())
    response.headers["Location"] = f"/automation/merge-rules/{rule.rule_id}"
    return rule


@router.put(
    "/merge-rules/{rule_id}",
    responses=_FORBIDDEN | _UNKNOWN_LIST | {404: {"description": "no such merge rule"}},
)
async def replace_merge_rule(
    rule_id: uuid.UUID, body: MergeRuleInput, user: Manager, services: ServicesDep
) -> MergeRule:
    """Change a merge rule (it keeps its place in the order)."""
    await _lists_exist(services, _rule_lists(body))
    answer = await services.automation.call(
        "PUT", f"/merge-rules/{rule_id}", json=body.model_dump(mode="json"), actor=user.actor
    )
    return MergeRule.model_validate(answer.json())


@router.delete(
    "/merge-rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_FORBIDDEN | {404: {"description": "no such merge rule"}},
)
async def delete_merge_rule(rule_id: uuid.UUID, user: Manager, services: ServicesDep) -> None:
    """Delete a merge rule; pairs it queued for merging are left to reviewers."""
    await services.automation.call("DELETE", f"/merge-rules/{rule_id}", actor=user.actor)


# --- generated properties ----------------------------------------------------------------------


class GeneratedPropertyInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "key": "active_member",
                    "label": "Active member",
                    "list_id": "3f9d2c1a-7b4e-4e8a-9c21-5a6b7c8d9e0f",
                }
            ]
        },
    )

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="e.g. active_member")
    label: str = Field(min_length=1, max_length=200, description='shown on cards: "Active member"')
    list_id: uuid.UUID = Field(description="a relation holds the property while in this list")


class GeneratedProperty(GeneratedPropertyInput):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": "active_member",
                    "label": "Active member",
                    "list_id": "3f9d2c1a-7b4e-4e8a-9c21-5a6b7c8d9e0f",
                    "property_id": "c4d5e6f7-0a1b-4c2d-8e3f-4a5b6c7d8e9f",
                    "created_at": "2026-12-07T09:00:00Z",
                }
            ]
        }
    )

    property_id: uuid.UUID
    created_at: datetime


class DefinedProperty(GeneratedProperty):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": "active_member",
                    "label": "Active member",
                    "list_id": "3f9d2c1a-7b4e-4e8a-9c21-5a6b7c8d9e0f",
                    "property_id": "c4d5e6f7-0a1b-4c2d-8e3f-4a5b6c7d8e9f",
                    "created_at": "2026-12-07T09:00:00Z",
                    "holders": 412,
                }
            ]
        }
    )

    holders: int = Field(description="relations in the list now, who hold it from today")


@router.get("/properties", responses=_FORBIDDEN)
async def generated_properties(user: Manager, services: ServicesDep) -> list[GeneratedProperty]:
    """Every generated property, by key."""
    answer = await services.automation.call("GET", "/properties", actor=user.actor)
    return [GeneratedProperty.model_validate(p) for p in answer.json()]


@router.post(
    "/properties",
    status_code=status.HTTP_201_CREATED,
    responses=_FORBIDDEN | _UNKNOWN_LIST | {409: {"description": "the key is taken"}},
)
async def define_property(
    body: GeneratedPropertyInput, user: Manager, services: ServicesDep, response: Response
) -> DefinedProperty:
    """Define a property a relation holds while it is in a relation list ("Active member"
    while in "Paying members this year"). The list's members hold it at once; cards whose
    form shows ``properties`` show it within moments, also cards opened just before."""
    await _lists_exist(services, {("body", "list_id"): body.list_id})
    answer = await services.automation.call(
        "POST", "/properties", json=body.model_dump(mode="json"), actor=user.actor
    )
    defined = DefinedProperty.model_validate(answer.json())
    response.headers["Location"] = f"/automation/properties/{defined.property_id}"
    return defined


@router.delete(
    "/properties/{property_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_FORBIDDEN | {404: {"description": "no such generated property"}},
)
async def delete_property(property_id: uuid.UUID, user: Manager, services: ServicesDep) -> None:
    """Delete a generated property: nobody holds it any more, and cards stop showing it."""
    await services.automation.call("DELETE", f"/properties/{property_id}", actor=user.actor)
