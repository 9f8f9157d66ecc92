"""The duplicate review queue as a view shows it: candidate pairs whose two relations are both
in the view, named and compared with the fields of the view's form only, and the reviewer's
decision on a pair (merge, with a choice per field, or "not a duplicate").

The automation service keeps the pairs, their scores and decisions, and carries out a merge
through the relations service; the gateway narrows the queue to the view. A reason for a pair
that rests on a field the form hides is not told ("same birth date" in a view without birth
dates); its points are summed under one line instead, so the stars still add up.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from relata_common.errors import Forbidden, InvalidInput, NotFound
from relata_gateway import cache, views
from relata_gateway.cards import CardContext, relation_states, visible_ids
from relata_gateway.deps import Limit, SessionDep, card_context, editable, needs
from relata_gateway.forms import SECTIONS, Form, display_name, field_value
from relata_gateway.rights import Right
from relata_gateway.security import User

router = APIRouter(prefix="/views/{view_id}/duplicates", tags=["duplicates"])
Reviewer = Annotated[User, needs(Right.DUPLICATES_REVIEW)]

SCAN_PAGE = 100
"""Pairs read from the automation service per round after the first while filling a page. The
first round reads as many as the page holds: in a view that shows most of the queue it fills the
page, and every pair read costs a lookup of its two relations."""
SCAN_ROUNDS = 10
"""Rounds per request at most: a view showing few of the queue's pairs answers a short page
with a cursor rather than reading the whole queue in one request."""
HIDDEN_REASON = "fields this view does not show"

_NOT_FOUND = {"description": "no such view for you, or a relation of the pair is not in it"}


class DuplicateReason(BaseModel):
    points: int
    reason: str = Field(description="e.g. same e-mail address, different birth date")


class DuplicateRelation(BaseModel):
    relation_id: uuid.UUID
    relation_type: Literal["person", "organisation"]
    relation_number: int | None = Field(description="when the form shows it")
    display_name: str
    fields: dict[str, Any] = Field(description="the values of the form's fields, side by side")


class DuplicatePair(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "pair_id": "5d0c7a8e-2f0b-4d35-9a65-0f3d8d7b1c22",
                    "stars": 4,
                    "reasons": [
                        {"points": 4, "reason": "same e-mail address"},
                        {"points": 2, "reason": "same last name"},
                        {"points": 3, "reason": HIDDEN_REASON},
                    ],
                    "note": None,
                    "relations": [
                        {
                            "relation_id": "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11",
                            "relation_type": "person",
                            "relation_number": None,
                            "display_name": "Sanne Bakker",
                            "fields": {
                                "first_name": "Sanne",
                                "last_name": "Bakker",
                                "emails": [{"address": "sanne@bakker.example"}],
                            },
                        },
                        {
                            "relation_id": "7a1e0c55-31c4-4b8e-8f2a-6c0d9e4b2a10",
                            "relation_type": "person",
                            "relation_number": None,
                            "display_name": "S. Bakker",
                            "fields": {
                                "first_name": None,
                                "last_name": "Bakker",
                                "emails": [{"address": "sanne@bakker.example"}],
                            },
                        },
                    ],
                    "found_at": "2026-12-07T09:14:03Z",
                }
            ]
        }
    )

    pair_id: uuid.UUID
    stars: int = Field(ge=1, le=5, description="how alike: 5 is almost certainly one relation")
    reasons: list[DuplicateReason] = Field(description="the points for and against, per reason")
    note: str | None = Field(description="why an automatic merge rule left it to a reviewer")
    relations: list[DuplicateRelation] = Field(min_length=2, max_length=2)
    found_at: datetime


class DuplicatePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"pairs": [], "next_cursor": "4:9:5d0c7a8e-..."}]}
    )

    pairs: list[DuplicatePair] = Field(description="most stars first")
    next_cursor: str | None = Field(
        description="pass as cursor for the next page; a page can hold fewer pairs than asked "
        "while more follow (pairs outside the view are skipped); null at the end"
    )


class DuplicateDecision(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "decision": "merge",
                    "survivor_id": "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11",
                    "choices": {"first_name": "survivor", "emails": "both"},
                },
                {"decision": "not_duplicate"},
            ]
        },
    )

    decision: Literal["merge", "not_duplicate"] = Field(
        description="merge the two (needs relations.merge) or never propose the pair again"
    )
    survivor_id: uuid.UUID | None = Field(
        default=None, description="merge: which of the two relations stays"
    )
    choices: dict[str, Literal["survivor", "merged", "both"]] = Field(
        default_factory=dict,
        description="merge: per field of the form whose values differ, which value stays "
        "(both: keep every address, phone number or e-mail address); a field left out keeps "
        "the survivor's value, or the other's when the survivor's is empty",
    )

    @model_validator(mode="after")
    def _consistent(self) -> DuplicateDecision:
        if self.decision == "merge" and self.survivor_id is None:
            raise ValueError("a merge needs survivor_id: which of the two relations stays")
        if self.decision == "not_duplicate" and (self.survivor_id or self.choices):
            raise ValueError("not_duplicate takes no survivor_id or choices")
        return self


class DuplicateDecided(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "pair_id": "5d0c7a8e-2f0b-4d35-9a65-0f3d8d7b1c22",
                    "status": "merged",
                    "survivor_id": "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11",
                    "merge_id": "e3b1f7c2-3a7d-4f9e-b0a4-0e2d1c5f8a90",
                    "decided_at": "2026-12-07T10:02:41Z",
                }
            ]
        }
    )

    pair_id: uuid.UUID
    status: Literal["merged", "rejected"]
    survivor_id: uuid.UUID | None
    merge_id: uuid.UUID | None = Field(description="the relations service's merge (to undo it)")
    decided_at: datetime


# --- narrowing pairs to a view -----------------------------------------------------------------


def shown_reasons(form: Form, reasons: list[dict[str, Any]]) -> list[DuplicateReason]:
    """The reasons resting on fields the form shows; the others' points summed in one line
    (a reason that names no fields is treated as hidden)."""
    shown: list[DuplicateReason] = []
    hidden = 0
    for reason in reasons:
        fields = reason.get("fields") or []
        if fields and all(form.shows(name) for name in fields):
            shown.append(DuplicateReason(points=reason["points"], reason=reason["reason"]))
        else:
            hidden += int(reason["points"])
    if hidden:
        shown.append(DuplicateReason(points=hidden, reason=HIDDEN_REASON))
    return shown


def _relation(form: Form, state: dict[str, Any]) -> DuplicateRelation:
    fields = state.get("fields", {})
    return DuplicateRelation(
        relation_id=state["relation_id"],
        relation_type=state["relation_type"],
        relation_number=state.get("relation_number") if form.shows("relation_number") else None,
        display_name=display_name(form, fields, state.get("relation_number")),
        fields={
            name: field_value(fields, name, state)
            for tab in form.tabs
            for name in tab.fields
            if name not in SECTIONS and name != "relation_number"
        },
    )


async def _shown_pairs(
    ctx: CardContext, view: views.View, pairs: list[dict[str, Any]]
) -> dict[str, DuplicatePair]:
    """The pairs (by id) whose two relations the view shows and are still active."""
    ids = [uuid.UUID(p[side]) for p in pairs for side in ("first_id", "second_id")]
    inside = await visible_ids(ctx, view, ids)
    both_in = [p for p in pairs if p["first_id"] in inside and p["second_id"] in inside]
    states = await relation_states(ctx, [uuid.UUID(r) for p in both_in for r in _ids(p)])
    shown: dict[str, DuplicatePair] = {}
    for pair in both_in:
        pair_states = [states.get(r) for r in _ids(pair)]
        if any(s is None or s.get("status") != "active" for s in pair_states):
            continue
        shown[pair["pair_id"]] = DuplicatePair(
            pair_id=pair["pair_id"],
            stars=pair["stars"],
            reasons=shown_reasons(view.form, pair["reasons"]),
            note=pair.get("note"),
            relations=[_relation(view.form, s) for s in pair_states if s is not None],
            found_at=pair["found_at"],
        )
    return shown


def _ids(pair: dict[str, Any]) -> tuple[str, str]:
    return pair["first_id"], pair["second_id"]


def _cursor(pair: dict[str, Any]) -> str:
    """The automation service's keyset cursor after this pair."""
    return f"{pair['stars']}:{pair['points']}:{pair['pair_id']}"


async def _pair_in_view(ctx: CardContext, view: views.View, pair_id: uuid.UUID) -> DuplicatePair:
    """An open pair of the view, or 404 (as if it did not exist)."""
    pair = (await ctx.services.automation.call("GET", f"/duplicates/{pair_id}")).json()
    shown = await _shown_pairs(ctx, view, [pair])
    if pair["status"] not in ("open", "closed") or pair["pair_id"] not in shown:
        raise NotFound(f"duplicate pair {pair_id} does not exist")
    return shown[pair["pair_id"]]


# --- routes ------------------------------------------------------------------------------------


@router.get(
    "",
    responses={
        403: {"description": "the role lacks duplicates.review"},
        404: {"description": "no such view for you"},
        422: {"description": "a cursor this API did not give"},
    },
)
async def review_queue(
    view_id: uuid.UUID,
    user: Reviewer,
    session: SessionDep,
    request: Request,
    min_stars: Annotated[int, Query(ge=1, le=5, description="only pairs this alike")] = 1,
    limit: Limit = 25,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> DuplicatePage:
    """The duplicate review queue of a view: open candidate pairs whose two relations are both
    in the view, most stars first, each with its reasons and the two relations side by side as
    the view's form shows them."""
    view = await views.access(session, user, view_id)
    ctx = card_context(request)
    found: list[DuplicatePair] = []
    next_cursor: str | None = cursor
    for round_number in range(SCAN_ROUNDS):
        size = limit if round_number == 0 else SCAN_PAGE
        page = (
            await ctx.services.automation.call(
                "GET",
                "/duplicates",
                params={"status": "open", "min_stars": min_stars, "limit": size}
                | ({"cursor": next_cursor} if next_cursor else {}),
            )
        ).json()
        shown = await _shown_pairs(ctx, view, page["pairs"])
        for pair in page["pairs"]:
            next_cursor = _cursor(pair)
            if pair["pair_id"] in shown:
                found.append(shown[pair["pair_id"]])
                if len(found) == limit:
                    return DuplicatePage(pairs=found, next_cursor=next_cursor)
        if page["next_cursor"] is None:
            return DuplicatePage(pairs=found, next_cursor=None)
    return DuplicatePage(pairs=found, next_cursor=next_cursor)


@router.get(
    "/{pair_id}",
    responses={403: {"description": "the role lacks duplicates.review"}, 404: _NOT_FOUND},
)
async def duplicate_pair(
    view_id: uuid.UUID, pair_id: uuid.UUID, user: Reviewer, session: SessionDep, request: Request
) -> DuplicatePair:
    """One open pair of the view's queue, to compare before deciding."""
    view = await views.access(session, user, view_id)
    return await _pair_in_view(card_context(request), view, pair_id)


@router.post(
    "/{pair_id}/decision",
    responses={
        403: {
            "description": "the role lacks duplicates.review (or relations.merge to merge), "
            "or the view is read-only for a merge"
        },
        404: _NOT_FOUND,
        409: {
            "description": "the pair was decided already, a relation changed meanwhile, or both "
            "relations hold a self-service login (never merged)"
        },
        422: {
            "description": "survivor_id is not one of the pair, or a choice names a field "
            "outside the view's form"
        },
    },
)
async def decide(
    view_id: uuid.UUID,
    pair_id: uuid.UUID,
    body: DuplicateDecision,
    user: Reviewer,
    session: SessionDep,
    request: Request,
) -> DuplicateDecided:
    """Decide a pair of the view's queue: merge the two relations (the survivor stays, taking
    per field the value chosen; fields outside the view's form keep the survivor's value unless
    it is empty) or mark them "not a duplicate", after which the pair is never proposed again."""
    view = await views.access(session, user, view_id)
    if body.decision == "merge":
        snapshot = await request.app.state.directory.snapshot()
        if Right.RELATIONS_MERGE not in snapshot.rights_of(user):
            raise Forbidden(f"your role lacks the right {Right.RELATIONS_MERGE.value!r}")
        editable(view)
        outside = sorted(name for name in body.choices if not _choosable(view.form, name))
        if outside:
            raise InvalidInput.single(("body", "choices"), f"not in this view's form: {outside}")
    ctx = card_context(request)
    pair = await _pair_in_view(ctx, view, pair_id)
    answer = await ctx.services.automation.call(
        "POST",
        f"/duplicates/{pair_id}/decision",
        json=body.model_dump(mode="json", exclude_none=True),
        actor=user.actor,
    )
    if body.decision == "merge":  # both cards change at once; the events follow for the rest
        await cache.invalidate_many(
            ctx.redis, {str(r.relation_id): set(cache.PARTS) for r in pair.relations}
        )
    return DuplicateDecided.model_validate(answer.json())


def _choosable(form: Form, name: str) -> bool:
    return form.shows(name) and name not in SECTIONS and name != "relation_number"
