"""Merge rules, set by a functional administrator: where to look for duplicates of a new
relation, which fields must match, and which value to keep of each field that differs.

When exactly one existing relation meets a rule, the new relation is merged into it
automatically; with none or several, the pairs stay in the review queue. A rule may be limited
to relations from named sources (the registrations of one module, say). Two relations that both
hold a self-service login are never merged automatically (see :mod:`relata_automation.logins`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from relata_automation.blocking import Profile
from relata_automation.duplicates import Pair
from relata_automation.models import merge_rules
from relata_common.errors import NotFound

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
SourceName = Annotated[str, StringConstraints(pattern=r"^(user|relation|system|module):\S{0,200}$")]
Keep = Literal["newest", "oldest", "non_empty", "existing", "new"]
EMPTY: tuple[Any, ...] = (None, "", [], {})

_PROFILE_ATTRIBUTE: dict[str, str] = {"email": "emails", "phone": "phones", "address": "addresses"}


class MergeRuleInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    list_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=50,
        description="look for the existing relation in these relation lists; empty: everywhere",
    )
    match_fields: list[MatchField] = Field(
        min_length=1, description="each must be filled in on both and equal (e-mail: one shared)"
    )
    keep: dict[str, Keep] = Field(
        default_factory=dict,
        description="per field that differs (custom fields as custom.<key>): which value stays",
        json_schema_extra={"example": {"emails": "newest", "last_name": "existing"}},
    )
    default_keep: Keep = "non_empty"
    min_stars: int = Field(default=3, ge=1, le=5, description="and at least this many stars")
    sources: list[SourceName] = Field(
        default_factory=list,
        max_length=50,
        description="apply only to relations created by these sources, as their creation "
        "names them (``module:events`` for the events module's registrations, ``user:<id>`` "
        "for a user or an API key); empty: every new relation",
        json_schema_extra={"example": ["module:events"]},
    )
    enabled: bool = True


def applies_to(rule: MergeRuleInput, creator: str) -> bool:
    """Whether the rule looks at a relation created by ``creator`` (see ``sources``)."""
    return not rule.sources or creator in rule.sources


class MergeRuleOut(MergeRuleInput):
    rule_id: uuid.UUID
    position: int
    created_at: datetime


def fields_match(rule: MergeRuleInput, a: Profile, b: Profile) -> bool:
    """Every match field is filled in on both relations and the same."""
    for name in rule.match_fields:
        attribute = _PROFILE_ATTRIBUTE.get(name, name)
        left, right = getattr(a, attribute), getattr(b, attribute)
        if not left or not right:
            return False
        if isinstance(left, tuple):
            if not set(left) & set(right):
                return False
        elif left != right:
            return False
    return True


def _flatten(fields: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in fields.items() if k != "custom"}
    flat.update({f"custom.{k}": v for k, v in (fields.get("custom") or {}).items()})
    return flat


def merge_choices(
    rule: MergeRuleInput, existing: dict[str, Any], new: dict[str, Any]
) -> dict[str, str]:
    """The relations service's merge choices (``survivor`` = existing, ``merged`` = new) for
    every field whose values differ, following the rule's keep setting for each."""
    mine, theirs = _flatten(existing["fields"]), _flatten(new["fields"])
    existing_newer = existing["updated_at"] > new["updated_at"]
    existing_older = existing["created_at"] <= new["created_at"]
    choices: dict[str, str] = {}
    for name in sorted(set(mine) | set(theirs)):
        left, right = mine.get(name), theirs.get(name)
        if left == right:
            continue
        keep = rule.keep.get(name, rule.default_keep)
        if keep == "existing":
            side = "survivor"
        elif keep == "new":
            side = "merged"
        elif keep == "newest":
            side = "survivor" if existing_newer else "merged"
        elif keep == "oldest":
            side = "survivor" if existing_older else "merged"
        else:  # non_empty: the existing value, unless it is empty
            side = "merged" if left in EMPTY else "survivor"
        choices[name] = side
    return choices


def choose_candidate(
    rule: MergeRuleInput,
    relation_id: uuid.UUID,
    profile: Profile,
    pairs: list[Pair],
    others: dict[uuid.UUID, Profile],
    members: set[uuid.UUID],
) -> list[Pair]:
    """The open pairs of the new relation that meet the rule (``members``: the relations in
    the rule's lists; ignored when the rule names none)."""
    meeting = []
    for pair in pairs:
        other_id = pair.other(relation_id)
        other = others.get(other_id)
        if other is None or pair.stars < rule.min_stars:
            continue
        if rule.list_ids and other_id not in members:
            continue
        if fields_match(rule, profile, other):
            meeting.append(pair)
    return meeting


def older_survives(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[uuid.UUID, uuid.UUID]:
    """(survivor, merged) of two relation states: the one created first stays. The worker may
    see two creations in either order (they can sit on different partitions), so the states
    decide, not the order the events came in."""
    older, newer = sorted((a, b), key=lambda state: (state["created_at"], state["relation_number"]))
    return uuid.UUID(older["relation_id"]), uuid.UUID(newer["relation_id"])


# --- persistence -------------------------------------------------------------------------------


def _out(row: Any) -> MergeRuleOut:
    return MergeRuleOut.model_validate(dict(row))


async def create_rule(session: AsyncSession, rule: MergeRuleInput) -> MergeRuleOut:
    position = await session.scalar(text("SELECT coalesce(max(position), 0) + 1 FROM merge_rules"))
    row = (
        (
            await session.execute(
                merge_rules.insert()
                .values(rule_id=uuid.uuid4(), position=position, **rule.model_dump(mode="json"))
                .returning(merge_rules)
            )
        )
        .mappings()
        .one()
    )
    return _out(row)


async def replace_rule(
    session: AsyncSession, rule_id: uuid.UUID, rule: MergeRuleInput
) -> MergeRuleOut:
    row = (
        (
            await session.execute(
                merge_rules.update()
                .where(merge_rules.c.rule_id == rule_id)
                .values(**rule.model_dump(mode="json"))
                .returning(merge_rules)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"merge rule {rule_id} does not exist")
    return _out(row)


async def delete_rule(session: AsyncSession, rule_id: uuid.UUID) -> None:
    deleted = await session.execute(
        merge_rules.delete().where(merge_rules.c.rule_id == rule_id).returning(merge_rules.c.name)
    )
    if deleted.first() is None:
        raise NotFound(f"merge rule {rule_id} does not exist")


async def any_enabled(session: AsyncSession) -> bool:
    return bool(
        await session.scalar(text("SELECT EXISTS (SELECT 1 FROM merge_rules WHERE enabled)"))
    )


async def all_rules(session: AsyncSession, *, enabled_only: bool = False) -> list[MergeRuleOut]:
    statement = merge_rules.select().order_by(merge_rules.c.position)
    if enabled_only:
        statement = statement.where(merge_rules.c.enabled)
    return [_out(row) for row in (await session.execute(statement)).mappings()]
