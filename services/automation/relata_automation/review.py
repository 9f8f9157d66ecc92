"""The review queue (open pairs, best score first), reviewers' decisions, and merges of pairs
through the relations service's merge API.

A decision is kept on the pair: a rejected pair is never proposed again, a merged one is done.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_automation import logins, publishing
from relata_automation.clients import Services
from relata_automation.duplicates import Pair
from relata_automation.merge_rules import MergeRuleOut, merge_choices, older_survives
from relata_common.db import transaction
from relata_common.errors import Conflict, FieldError, InvalidInput, NotFound
from relata_common.events import Actor, AutomationEventType, DuplicateResolvedPayload
from relata_common.logging import get_logger

log = get_logger(__name__)


class PairOut(BaseModel):
    pair_id: uuid.UUID
    first_id: uuid.UUID
    second_id: uuid.UUID
    stars: int
    points: int
    reasons: list[dict[str, Any]]
    status: str
    found_by: str
    rule_id: uuid.UUID | None
    survivor_id: uuid.UUID | None
    merge_id: uuid.UUID | None
    note: str | None
    decided_by: str | None
    decided_at: datetime | None
    found_at: datetime
    scored_at: datetime


class QueuePage(BaseModel):
    pairs: list[PairOut]
    next_cursor: str | None = Field(description="pass as cursor for the next page")


class Decision(BaseModel):
    """``merge`` (``survivor_id`` stays, the other goes; ``choices`` as the relations service's
    merge takes them) or ``not_duplicate`` (never proposed again)."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["merge", "not_duplicate"]
    survivor_id: uuid.UUID | None = None
    choices: dict[str, Literal["survivor", "merged", "both"]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _merge_needs_survivor(self) -> Decision:
        if self.decision == "merge" and self.survivor_id is None:
            raise ValueError("a merge needs survivor_id: which of the two relations stays")
        if self.decision == "not_duplicate" and (self.survivor_id or self.choices):
            raise ValueError("not_duplicate takes no survivor_id or choices")
        return self


async def queue(
    session: AsyncSession, *, status: str, min_stars: int, limit: int, cursor: str | None
) -> QueuePage:
    """Pairs by stars, then points, best first; keyset-paged."""
    params: dict[str, Any] = {"status": status, "min": min_stars, "limit": limit + 1}
    after = ""
    if cursor:
        try:
            stars, points, pair_id = cursor.split(":")
            params |= {"cs": int(stars), "cp": int(points), "cid": uuid.UUID(pair_id)}
        except ValueError:
            raise InvalidInput.single(("query", "cursor"), "not a cursor this API gave") from None
        # Typed: a bare "-$1" is ambiguous to PostgreSQL (which minus?), a 500 on every page 2.
        after = (
            " AND (-stars, -points, pair_id)"
            " > (-CAST(:cs AS integer), -CAST(:cp AS integer), CAST(:cid AS uuid))"
        )
    rows = (
        await session.execute(
            text(
                "SELECT * FROM duplicate_pairs WHERE status = :status AND stars >= :min"
                + after
                + " ORDER BY stars DESC, points DESC, pair_id LIMIT :limit"
            ),
            params,
        )
    ).mappings()
    pairs = [PairOut.model_validate(dict(r)) for r in rows]
    next_cursor = None
    if len(pairs) > limit:
        pairs = pairs[:limit]
        last = pairs[-1]
        next_cursor = f"{last.stars}:{last.points}:{last.pair_id}"
    return QueuePage(pairs=pairs, next_cursor=next_cursor)


async def get_pair(session: AsyncSession, pair_id: uuid.UUID, *, lock: bool = False) -> PairOut:
    row = (
        (
            await session.execute(
                text(
                    "SELECT * FROM duplicate_pairs WHERE pair_id = :p"
                    + (" FOR UPDATE" if lock else "")
                ),
                {"p": pair_id},
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"duplicate pair {pair_id} does not exist")
    return PairOut.model_validate(dict(row))


def _pair(out: PairOut) -> Pair:
    return Pair(**{name: getattr(out, name) for name in Pair.__dataclass_fields__})


async def _resolve(
    session: AsyncSession,
    pair: PairOut,
    *,
    status: Literal["merged", "rejected"],
    decided_by: str,
    survivor_id: uuid.UUID | None = None,
    merge_id: uuid.UUID | None = None,
    rule_id: uuid.UUID | None = None,
    actor: Actor | None = None,
) -> PairOut:
    row = (
        (
            await session.execute(
                text(
                    "UPDATE duplicate_pairs SET status = :status, decided_by = :by,"
                    " decided_at = now(), survivor_id = :survivor, merge_id = :merge,"
                    " rule_id = coalesce(:rule, rule_id), note = NULL"
                    " WHERE pair_id = :p RETURNING *"
                ),
                {
                    "status": status,
                    "by": decided_by,
                    "survivor": survivor_id,
                    "merge": merge_id,
                    "rule": rule_id,
                    "p": pair.pair_id,
                },
            )
        )
        .mappings()
        .one()
    )
    resolved = PairOut.model_validate(dict(row))
    await publishing.announce(
        session,
        event_type=AutomationEventType.DUPLICATE_RESOLVED,
        subject_id=resolved.first_id,
        payload=DuplicateResolvedPayload(
            pair=_pair(resolved).state(),
            decision=status,
            survivor_id=survivor_id,
            merge_id=merge_id,
            rule_id=rule_id,
        ),
        actor=actor,
    )
    return resolved


def _who(actor: Actor) -> str:
    return f"{actor.kind.value}:{actor.id}" if actor.id else actor.kind.value


async def decide(
    sessions: async_sessionmaker[AsyncSession],
    services: Services,
    *,
    pair_id: uuid.UUID,
    decision: Decision,
    actor: Actor,
) -> PairOut:
    """Record a reviewer's decision; a merge goes through the relations service first. Two
    relations that both hold a self-service login are not merged (409).

    The pair stays locked during the merge call, so two reviewers cannot decide it twice.
    """
    async with transaction(sessions) as session:
        pair = await get_pair(session, pair_id, lock=True)
        if pair.status not in ("open", "closed"):
            raise Conflict(f"this pair was decided already: {pair.status}", status=pair.status)
        if decision.decision == "not_duplicate":
            return await _resolve(
                session, pair, status="rejected", decided_by=_who(actor), actor=actor
            )
        survivor = decision.survivor_id
        if survivor not in (pair.first_id, pair.second_id):
            raise InvalidInput.single(
                ("body", "survivor_id"), "the survivor must be one of the pair's two relations"
            )
        await logins.refuse_if_both(session, pair.first_id, pair.second_id)
        merged = pair.second_id if survivor == pair.first_id else pair.first_id
        answer = await services.call(
            "relations",
            "POST",
            "/merges",
            json={
                "survivor_id": str(survivor),
                "merged_id": str(merged),
                "choices": decision.choices,
            },
            actor=actor,
        )
        if answer.status == 422:
            raise InvalidInput(
                [
                    FieldError(e.get("loc", ["body"]), e.get("msg", ""))
                    for e in answer.body.get("detail", [])
                ]
                if isinstance(answer.body.get("detail"), list)
                else [FieldError(["body"], str(answer.body))]
            )
        if not answer.ok:
            raise Conflict(f"the relations service refused the merge: {answer.error()}")
        return await _resolve(
            session,
            pair,
            status="merged",
            decided_by=_who(actor),
            survivor_id=survivor,
            merge_id=uuid.UUID(answer.body["merge_id"]),
            actor=actor,
        )


async def merge_by_rule(
    sessions: async_sessionmaker[AsyncSession], services: Services, rules: list[MergeRuleOut]
) -> bool:
    """Carry out one automatic merge a rule chose (status ``merging``); False when none waits.

    The existing relation survives and the new one is merged into it, keeping per field what
    the rule says. A merge the relations service refuses puts the pair back in the queue.
    """
    by_id = {rule.rule_id: rule for rule in rules}
    async with transaction(sessions) as session:
        row = (
            (
                await session.execute(
                    text(
                        "SELECT * FROM duplicate_pairs WHERE status = 'merging'"
                        " ORDER BY scored_at LIMIT 1 FOR UPDATE SKIP LOCKED"
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return False
        pair = PairOut.model_validate(dict(row))
        rule = by_id.get(pair.rule_id) if pair.rule_id else None
        actor = Actor(kind="module", id=f"automation:merge-rule:{pair.rule_id}")
        note = await _try_rule_merge(session, services, pair, rule, actor)
        if note is not None:
            log.info("automatic merge not done", pair=str(pair.pair_id), note=note)
            await session.execute(
                text("UPDATE duplicate_pairs SET status = 'open', note = :n WHERE pair_id = :p"),
                {"n": note, "p": pair.pair_id},
            )
        return True


async def _try_rule_merge(
    session: AsyncSession,
    services: Services,
    pair: PairOut,
    rule: MergeRuleOut | None,
    actor: Actor,
) -> str | None:
    """Merge as the rule says; the reason it could not, or None when done."""
    if rule is None:
        return "its merge rule was deleted"
    if await logins.both_hold_one(session, pair.first_id, pair.second_id):
        return f"not merged automatically: {logins.BOTH_HOLD_A_LOGIN}"
    states = await services.lookup([pair.first_id, pair.second_id])
    if len(states) < 2 or any(s.get("status") != "active" for s in states.values()):
        return "a relation of the pair is no longer active"
    survivor, merged = older_survives(states[pair.first_id], states[pair.second_id])
    answer = await services.call(
        "relations",
        "POST",
        "/merges",
        json={
            "survivor_id": str(survivor),
            "merged_id": str(merged),
            "choices": merge_choices(rule, states[survivor], states[merged]),
            "survivor_version": states[survivor]["version"],
            "merged_version": states[merged]["version"],
        },
        actor=actor,
    )
    if not answer.ok:
        return f"merge rule {rule.name!r}: the relations service refused: {answer.error()}"
    await _resolve(
        session,
        pair,
        status="merged",
        decided_by=f"merge rule {rule.name}",
        survivor_id=survivor,
        merge_id=uuid.UUID(answer.body["merge_id"]),
        rule_id=rule.rule_id,
        actor=actor,
    )
    return None
