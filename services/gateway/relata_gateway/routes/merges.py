"""Merging two relations of a view into one, choosing per field which value survives, and
undoing a merge (right relations.merge).

Both relations must be in the view, and a choice can only be made for a field the view's form
shows; fields the form does not show follow the default (the survivor's value, unless it is
empty). Answers name only fields the form shows. A merged relation leaves every list, so the
view it was merged in keeps it in scope for reading and undoing the merge (see
:func:`relata_gateway.cards.require_visible_or_retired`).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from relata_common.errors import FieldError, InvalidInput
from relata_gateway import cache, views
from relata_gateway.cards import (
    CardContext,
    RelationAsShown,
    as_shown,
    keep_state,
    require_visible,
    require_visible_or_retired,
)
from relata_gateway.deps import SessionDep, card_context, editable, needs
from relata_gateway.forms import SECTIONS, Form
from relata_gateway.rights import Right
from relata_gateway.security import User

router = APIRouter(prefix="/views", tags=["merges"])

Choice = Literal["survivor", "merged", "both"]
_SURVIVOR = "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11"
_MERGED = "7c2d9a4e-1b3f-4e8a-b5c6-d7e8f9a0b1c2"
_MERGE = "e3a1c5b7-9d2f-4a6e-8c0b-1d3f5a7c9e2b"
_VIEW = "5d0c1f8e-2b7a-4c1e-9a43-1f0f8f0a11c3"


def _choosable(form: Form, name: str) -> bool:
    """A field a merge may choose for in this form: one it shows, not a section."""
    return form.shows(name) and name not in SECTIONS and name != "relation_number"


# --- preview -----------------------------------------------------------------------------------


class FieldDifference(BaseModel):
    field: str = Field(description="a field of the form; custom fields as custom.<key>")
    survivor: Any = Field(description="the survivor's value")
    merged: Any = Field(description="the merged relation's value")
    default: Choice = Field(description="which value wins when no choice is given")
    can_keep_both: bool = Field(description="whether 'both' may be chosen (addresses, phones…)")


class MergePreview(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "survivor_id": _SURVIVOR,
                    "merged_id": _MERGED,
                    "survivor_version": 3,
                    "merged_version": 1,
                    "differences": [
                        {
                            "field": "last_name",
                            "survivor": "Berg",
                            "merged": "Bergh",
                            "default": "survivor",
                            "can_keep_both": False,
                        },
                        {
                            "field": "emails",
                            "survivor": [{"type": "private", "address": "jan@example.org"}],
                            "merged": [{"type": "work", "address": "jan@acme.example"}],
                            "default": "survivor",
                            "can_keep_both": True,
                        },
                    ],
                }
            ]
        }
    )

    survivor_id: uuid.UUID
    merged_id: uuid.UUID
    survivor_version: int = Field(description="send as survivor_version to refuse a stale merge")
    merged_version: int
    differences: list[FieldDifference] = Field(
        description="the fields of the view's form whose values differ, to choose between"
    )


@router.get(
    "/{view_id}/merges/preview",
    responses={
        403: {"description": "the role lacks relations.merge"},
        404: {"description": "the view does not show one of the relations"},
        409: {"description": "one of the relations was merged or erased"},
        422: {"description": "the same relation twice, or a person and an organisation"},
    },
)
async def preview_merge(
    view_id: uuid.UUID,
    survivor_id: uuid.UUID,
    merged_id: uuid.UUID,
    user: Annotated[User, needs(Right.RELATIONS_MERGE)],
    session: SessionDep,
    request: Request,
) -> MergePreview:
    """What merging ``merged_id`` into ``survivor_id`` would ask: each field of the view's
    form whose values differ, both values, and which wins without a choice. Changes nothing."""
    view = await views.access(session, user, view_id)
    ctx = card_context(request)
    await _both_shown(ctx, view, survivor_id, merged_id)
    preview = (
        await ctx.services.relations.call(
            "GET",
            "/merges/preview",
            params={"survivor_id": str(survivor_id), "merged_id": str(merged_id)},
        )
    ).body
    return MergePreview.model_validate(
        {
            **preview,
            "differences": [d for d in preview["differences"] if _choosable(view.form, d["field"])],
        }
    )


# --- merging -----------------------------------------------------------------------------------


class MergeInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "survivor_id": _SURVIVOR,
                    "merged_id": _MERGED,
                    "choices": {"last_name": "merged", "emails": "both"},
                    "survivor_version": 3,
                    "merged_version": 1,
                }
            ]
        },
    )

    survivor_id: uuid.UUID = Field(description="the relation that stays")
    merged_id: uuid.UUID = Field(description="the relation merged into it (a tombstone after)")
    choices: dict[str, Choice] = Field(
        default_factory=dict,
        description="per field of the form (custom fields as custom.<key>): which side's value "
        "wins; 'both' keeps the entries of both for addresses, phones and emails",
    )
    survivor_version: int | None = Field(
        default=None, description="the version read (412 when no longer current)"
    )
    merged_version: int | None = None


class MergeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "merge_id": _MERGE,
                    "survivor_id": _SURVIVOR,
                    "merged_id": _MERGED,
                    "decisions": {"last_name": "merged", "emails": "both"},
                    "undone": False,
                    "survivor": {
                        "relation_id": _SURVIVOR,
                        "relation_type": "person",
                        "status": "active",
                        "version": 4,
                        "display_name": "Jan Bergh",
                        "view_id": _VIEW,
                        "tabs": [{"name": "Person", "fields": {"last_name": "Bergh"}}],
                    },
                }
            ]
        }
    )

    merge_id: uuid.UUID
    survivor_id: uuid.UUID
    merged_id: uuid.UUID
    decisions: dict[str, Choice] = Field(
        description="which side won each field of the form that differed"
    )
    undone: bool
    survivor: RelationAsShown | None = Field(
        default=None, description="the survivor after the merge (in the answer to the merge)"
    )


_MERGE_ANSWERS: dict[int | str, dict[str, Any]] = {
    403: {"description": "the view is read-only or the role lacks relations.merge"},
    404: {"description": "the view does not show one of the relations"},
    409: {"description": "one of the relations was merged or erased"},
    412: {"description": "a relation changed since the version given"},
    422: {"description": "a choice for a field the form does not show, or an impossible pair"},
}


@router.post("/{view_id}/merges", status_code=status.HTTP_201_CREATED, responses=_MERGE_ANSWERS)
async def merge_relations(
    view_id: uuid.UUID,
    user: Annotated[User, needs(Right.RELATIONS_MERGE)],
    body: MergeInput,
    session: SessionDep,
    request: Request,
    response: Response,
) -> MergeOut:
    """Merge ``merged_id`` into ``survivor_id`` with a choice per differing field (see the
    preview). The survivor takes the chosen values and the merged relation's functions; the
    merged relation leaves the lists. The merge can be undone while the survivor is unchanged."""
    view = await views.access(session, user, view_id)
    editable(view)
    outside = [name for name in body.choices if not _choosable(view.form, name)]
    if outside:
        raise InvalidInput(
            [FieldError(("body", "choices", n), "not in this view's form") for n in outside]
        )
    ctx = card_context(request)
    await _both_shown(ctx, view, body.survivor_id, body.merged_id)
    merged = (
        await ctx.services.relations.call(
            "POST", "/merges", json=body.model_dump(mode="json"), actor=user.actor
        )
    ).body
    await cache.invalidate(ctx.redis, body.merged_id)
    await keep_state(ctx, merged["survivor"])
    response.headers["Location"] = f"/views/{view.id}/merges/{merged['merge_id']}"
    return _merge_out(view, merged)


async def _both_shown(
    ctx: CardContext, view: views.View, survivor_id: uuid.UUID, merged_id: uuid.UUID
) -> None:
    await require_visible(ctx, view, survivor_id)
    await require_visible(ctx, view, merged_id)


def _merge_out(view: views.View, merge: dict[str, Any]) -> MergeOut:
    survivor = merge.get("survivor")
    return MergeOut(
        merge_id=merge["merge_id"],
        survivor_id=merge["survivor_id"],
        merged_id=merge["merged_id"],
        decisions={k: v for k, v in merge["decisions"].items() if _choosable(view.form, k)},
        undone=merge["undone"],
        survivor=as_shown(view, survivor) if survivor else None,
    )


# --- reading and undoing -----------------------------------------------------------------------


async def _merge_in_view(ctx: CardContext, view: views.View, merge_id: uuid.UUID) -> dict[str, Any]:
    """The merge, or 404 unless the view shows (or showed, when merged) both its relations."""
    merge = (await ctx.services.relations.call("GET", f"/merges/{merge_id}")).body
    for relation_id in (merge["survivor_id"], merge["merged_id"]):
        await require_visible_or_retired(ctx, view, uuid.UUID(relation_id))
    return merge


@router.get(
    "/{view_id}/merges/{merge_id}",
    responses={
        403: {"description": "the role lacks relations.merge"},
        404: {"description": "no such merge, or the view does not show its relations"},
    },
)
async def get_merge(
    view_id: uuid.UUID,
    merge_id: uuid.UUID,
    user: Annotated[User, needs(Right.RELATIONS_MERGE)],
    session: SessionDep,
    request: Request,
) -> MergeOut:
    """A merge: its relations, which side won each field of the form, and whether it was
    undone (``survivor`` is left out here)."""
    view = await views.access(session, user, view_id)
    merge = await _merge_in_view(card_context(request), view, merge_id)
    return _merge_out(view, {**merge, "survivor": None})


class UndoneMerge(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "survivor": {
                        "relation_id": _SURVIVOR,
                        "relation_type": "person",
                        "status": "active",
                        "version": 5,
                        "display_name": "Jan Berg",
                        "view_id": _VIEW,
                        "tabs": [{"name": "Person", "fields": {"last_name": "Berg"}}],
                    },
                    "restored": {
                        "relation_id": _MERGED,
                        "relation_type": "person",
                        "status": "active",
                        "version": 3,
                        "display_name": "Jan Bergh",
                        "view_id": _VIEW,
                        "tabs": [{"name": "Person", "fields": {"last_name": "Bergh"}}],
                    },
                }
            ]
        }
    )

    survivor: RelationAsShown = Field(description="the survivor as it was before the merge")
    restored: RelationAsShown = Field(
        description="the merged relation back (its card follows once the lists take it in)"
    )


@router.post(
    "/{view_id}/merges/{merge_id}/undo",
    responses={
        403: {"description": "the view is read-only or the role lacks relations.merge"},
        404: {"description": "no such merge, or the view does not show its relations"},
        409: {"description": "undone already, or the survivor changed since the merge"},
    },
)
async def undo_merge(
    view_id: uuid.UUID,
    merge_id: uuid.UUID,
    user: Annotated[User, needs(Right.RELATIONS_MERGE)],
    session: SessionDep,
    request: Request,
) -> UndoneMerge:
    """Undo a merge: both relations as they were before it, functions included. Refused
    once the survivor has changed since (undoing would discard that change)."""
    view = await views.access(session, user, view_id)
    editable(view)
    ctx = card_context(request)
    await _merge_in_view(ctx, view, merge_id)
    undone = (
        await ctx.services.relations.call("POST", f"/merges/{merge_id}/undo", actor=user.actor)
    ).body
    for state in (undone["survivor"], undone["restored"]):
        await keep_state(ctx, state)
    return UndoneMerge(
        survivor=as_shown(view, undone["survivor"]),
        restored=as_shown(view, undone["restored"]),
    )
