"""Bulk edits from a view: set (or clear) fields of every relation of one of the view's lists
or selections at once, kept and run by the automation service.

The view bounds a bulk edit three ways: only fields its form shows may change, only relations
it shows are touched (a selection's members who left the view since are passed over), and only
lists and selections of the view can be the source. A dry run answers with every change the
edit would make; the real run answers at once and shows its progress while it goes through the
relations; undo puts the previous values back where nobody changed the relation since.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import FieldError, InvalidInput, NotFound
from relata_common.fields import CUSTOM_PREFIX, is_stored_field
from relata_gateway import views
from relata_gateway.cards import relation_states, visible_ids
from relata_gateway.deps import SessionDep, SnapshotDep, card_context, editable, needs
from relata_gateway.directory import Snapshot
from relata_gateway.forms import Form, display_name
from relata_gateway.models import view_selections
from relata_gateway.rights import Right
from relata_gateway.security import User

router = APIRouter(prefix="/views/{view_id}/bulk-edits", tags=["bulk edits"])

BulkEditor = Annotated[User, needs(Right.BULK_EDIT)]
MAX_CHANGES = 50
EXAMPLE_LIST = "0b0e4b4e-8c8a-4c53-9f0e-6d1f0c7d1a11"
EXAMPLE_BATCH = "6e2b7a94-3c1d-4f5e-8a9b-1c2d3e4f5a6b"
EXAMPLE_RELATION = "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11"
REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"description": "the role lacks bulk.edit, or the view is read-only"},
    404: {"description": "no such view (or bulk edit in it)"},
}


class BulkSource(BaseModel):
    """One of the view's relation lists, or a selection made in the view."""

    model_config = ConfigDict(extra="forbid")

    list_id: uuid.UUID | None = Field(default=None, description="a list of this view")
    selection_id: uuid.UUID | None = Field(default=None, description="a selection of this view")

    @model_validator(mode="after")
    def _one(self) -> BulkSource:
        if (self.list_id is None) == (self.selection_id is None):
            raise ValueError("give either list_id or selection_id")
        return self


class BulkEditInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "source": {"list_id": EXAMPLE_LIST},
                    "changes": {"salutation": "Dear friend", "custom.newsletter": True},
                    "dry_run": True,
                }
            ]
        },
    )

    source: BulkSource
    changes: dict[str, Any] = Field(
        min_length=1,
        max_length=MAX_CHANGES,
        description="field of the view's form (standard or custom.<key>) to its new value; "
        "null clears the field",
    )
    dry_run: bool = Field(default=True, description="answer with every change; change nothing")


class FieldChange(BaseModel):
    field: str
    old: Any
    new: Any


class PlannedRelation(BaseModel):
    relation_id: uuid.UUID
    display_name: str | None = Field(description="as the view's form names the relation")
    outcome: Literal["changes", "unchanged", "skipped"]
    changes: list[FieldChange] = Field(description="every field that would change, old → new")
    reason: str | None = Field(default=None, description="why it is skipped (archived, say)")


class BulkPreview(BaseModel):
    """A dry run: nothing changed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "relations": 2,
                    "changing": 1,
                    "unchanged": 1,
                    "skipped": 0,
                    "planned": [
                        {
                            "relation_id": EXAMPLE_RELATION,
                            "display_name": "Sanne Bakker",
                            "outcome": "changes",
                            "changes": [
                                {"field": "salutation", "old": "Dear Sanne", "new": "Dear friend"}
                            ],
                            "reason": None,
                        }
                    ],
                }
            ]
        }
    )

    relations: int = Field(description="relations of the source the view shows")
    changing: int
    unchanged: int
    skipped: int
    planned: list[PlannedRelation]


class BulkEdit(BaseModel):
    """A bulk edit and its progress: ``done`` of ``total`` relations gone through so far."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "batch_id": EXAMPLE_BATCH,
                    "source": {"list_id": EXAMPLE_LIST, "selection_id": None},
                    "changes": {"salutation": "Dear friend"},
                    "status": "running",
                    "total": 1200,
                    "done": 450,
                    "changed": 440,
                    "unchanged": 8,
                    "failed": 2,
                    "created_at": "2026-12-07T10:00:00Z",
                    "finished_at": None,
                    "undone_at": None,
                }
            ]
        }
    )

    batch_id: uuid.UUID
    source: BulkSource
    changes: dict[str, Any]
    status: Literal["running", "done", "interrupted"] = Field(
        description="interrupted: the run stopped half-way; what it did can be undone"
    )
    total: int | None
    done: int
    changed: int
    unchanged: int
    failed: int
    created_at: datetime
    finished_at: datetime | None
    undone_at: datetime | None


class BulkItem(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "relation_id": "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11",
                    "outcome": "changed",
                    "changes": [
                        {"field": "salutation", "old": "Dear Ms Bakker", "new": "Dear friend"}
                    ],
                    "error": None,
                    "undo_outcome": None,
                }
            ]
        }
    )

    relation_id: uuid.UUID
    outcome: str = Field(description="changed, unchanged or failed")
    changes: list[FieldChange]
    error: str | None
    undo_outcome: str | None = Field(description="restored, conflict or failed, once undone")


class BulkUndo(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "batch": {
                        "batch_id": EXAMPLE_BATCH,
                        "source": {"list_id": EXAMPLE_LIST, "selection_id": None},
                        "changes": {"salutation": "Dear friend"},
                        "status": "done",
                        "total": 1200,
                        "done": 1200,
                        "changed": 1190,
                        "unchanged": 8,
                        "failed": 2,
                        "created_at": "2026-12-07T10:00:00Z",
                        "finished_at": "2026-12-07T10:02:10Z",
                        "undone_at": "2026-12-07T11:00:00Z",
                    },
                    "restored": 1187,
                    "conflicts": ["0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11"],
                    "failed": 0,
                }
            ]
        }
    )

    batch: BulkEdit
    restored: int
    conflicts: list[uuid.UUID] = Field(description="changed since the edit: left as they are")
    failed: int


# --- checks ------------------------------------------------------------------------------------


def changes_outside(form: Form, changes: dict[str, Any]) -> list[FieldError]:
    """Fields a bulk edit may not change in this view: outside its form, or not stored."""
    errors = []
    for name in changes:
        if not form.shows(name):
            errors.append(FieldError(("body", "changes", name), "not in this view's form"))
        elif not is_stored_field(name):
            errors.append(FieldError(("body", "changes", name), "cannot be changed in bulk"))
    return errors


async def service_source(
    session: AsyncSession, snapshot: Snapshot, view: views.View, source: BulkSource
) -> dict[str, Any]:
    """The automation service's source for a view's list or selection, bounded by the view."""
    if source.list_id is not None:
        if source.list_id not in {ref.list_id for ref in snapshot.lists_of(view.id)}:
            raise InvalidInput.single(("body", "source", "list_id"), "not a list of this view")
        kind, source_id = "list", source.list_id
    else:
        made_here = await session.scalar(
            select(view_selections.c.selection_id).where(
                view_selections.c.selection_id == source.selection_id,
                view_selections.c.view_id == view.id,
            )
        )
        if made_here is None:
            raise InvalidInput.single(
                ("body", "source", "selection_id"), "not a selection of this view"
            )
        kind, source_id = "selection", made_here
    return {"kind": kind, "id": str(source_id), "within_list": str(view.base_list_id)}


def field_values(patch: dict[str, Any] | None) -> dict[str, Any]:
    """A PATCH body as field names to values (custom fields as custom.<key>)."""
    values: dict[str, Any] = {}
    for name, value in (patch or {}).items():
        if name == "custom" and isinstance(value, dict):
            values.update({f"{CUSTOM_PREFIX}{k}": v for k, v in value.items()})
        else:
            values[name] = value
    return values


def field_changes(form: Form, before: Any, after: Any) -> list[FieldChange]:
    """The changed fields the form shows (a form may have changed since the edit)."""
    old, new = field_values(before), field_values(after)
    return [
        FieldChange(field=name, old=old.get(name), new=value)
        for name, value in new.items()
        if form.shows(name)
    ]


def public_batch(batch: dict[str, Any], form: Form) -> BulkEdit:
    source = batch["source"]
    key = "list_id" if source["kind"] == "list" else "selection_id"
    counts = {k: batch[k] for k in ("changed", "unchanged", "failed")}
    return BulkEdit(
        batch_id=batch["batch_id"],
        source=BulkSource.model_validate({key: source["id"]}),
        changes={k: v for k, v in (batch["change"].get("fields") or {}).items() if form.shows(k)},
        status=batch["status"],
        total=batch["total"],
        done=sum(counts.values()),
        **counts,
        created_at=batch["created_at"],
        finished_at=batch["finished_at"],
        undone_at=batch["undone_at"],
    )


async def batch_of_view(request: Request, view: views.View, batch_id: uuid.UUID) -> dict:
    """The service's batch, or 404 when it was not made in this view."""
    batch = (
        await request.app.state.services.automation.call("GET", f"/bulk-edits/{batch_id}")
    ).json()
    if batch["source"].get("within_list") != str(view.base_list_id):
        raise NotFound(f"bulk edit {batch_id} does not exist")
    return batch


# --- routes ------------------------------------------------------------------------------------


@router.post(
    "",
    responses={
        **REFUSED,
        200: {"model": BulkPreview, "description": "the dry run: every change, nothing changed"},
        202: {
            "model": BulkEdit,
            "description": "the bulk edit, running: poll its Location for the progress",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        422: {"description": "a field outside the form, or a source outside the view"},
    },
)
async def bulk_edit(
    view_id: uuid.UUID,
    body: BulkEditInput,
    user: BulkEditor,
    session: SessionDep,
    snapshot: SnapshotDep,
    request: Request,
    response: Response,
) -> BulkPreview | BulkEdit:
    """Change fields of every relation of one of the view's lists or selections. With
    ``dry_run`` (the default) nothing changes: the answer lists every change, relation by
    relation, old → new. Without it (edit rights in the view needed) the edit starts and is
    answered at once (202); its Location shows the progress. Only fields of the view's form,
    only relations the view shows."""
    view = await views.access(session, user, view_id)
    if not body.dry_run:
        editable(view)
    errors = changes_outside(view.form, body.changes)
    if errors:
        raise InvalidInput(errors)
    answer = await request.app.state.services.automation.call(
        "POST",
        "/bulk-edits",
        json={
            "source": await service_source(session, snapshot, view, body.source),
            "change": {"kind": "set_fields", "fields": body.changes},
            "dry_run": body.dry_run,
            "background": True,
        },
        actor=user.actor,
        timeout=60.0,
    )
    if body.dry_run:
        return await preview(request, view, answer.json())
    batch = public_batch(answer.json(), view.form)
    response.status_code = status.HTTP_202_ACCEPTED
    response.headers["Location"] = f"/views/{view.id}/bulk-edits/{batch.batch_id}"
    return batch


async def preview(request: Request, view: views.View, dry: dict[str, Any]) -> BulkPreview:
    """The service's dry run as the view shows it, each relation named by the form."""
    planned = dry["planned"]
    states = await relation_states(card_context(request), [p["relation_id"] for p in planned])

    def name(relation_id: str) -> str | None:
        state = states.get(relation_id)
        if state is None:
            return None
        return display_name(view.form, state.get("fields", {}), state.get("relation_number"))

    return BulkPreview(
        relations=dry["relations"],
        changing=dry["changes"],
        unchanged=dry["unchanged"],
        skipped=dry["skipped"],
        planned=[
            PlannedRelation(
                relation_id=p["relation_id"],
                display_name=name(p["relation_id"]),
                outcome=p["outcome"],
                changes=[
                    FieldChange(field=f, old=(p["before"] or {}).get(f), new=v)
                    for f, v in (p["after"] or {}).items()
                ],
                reason=p.get("reason"),
            )
            for p in planned
        ],
    )


@router.get("/{batch_id}", responses=REFUSED)
async def get_bulk_edit(
    view_id: uuid.UUID, batch_id: uuid.UUID, user: BulkEditor, session: SessionDep, request: Request
) -> BulkEdit:
    """A bulk edit and its progress (``status``, ``done`` of ``total``), and whether it was
    undone."""
    view = await views.access(session, user, view_id)
    return public_batch(await batch_of_view(request, view, batch_id), view.form)


@router.get("/{batch_id}/items", responses=REFUSED)
async def bulk_edit_items(
    view_id: uuid.UUID,
    batch_id: uuid.UUID,
    user: BulkEditor,
    session: SessionDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[uuid.UUID | None, Query(description="the last relation_id seen")] = None,
) -> list[BulkItem]:
    """Relation by relation: the outcome and every field changed, old → new (page on with
    ``after``)."""
    view = await views.access(session, user, view_id)
    await batch_of_view(request, view, batch_id)
    params: dict[str, Any] = {"limit": limit}
    if after is not None:
        params["after"] = str(after)
    items = (
        await request.app.state.services.automation.call(
            "GET", f"/bulk-edits/{batch_id}/items", params=params
        )
    ).json()
    return [
        BulkItem(
            relation_id=i["relation_id"],
            outcome=i["outcome"],
            changes=field_changes(view.form, i["before"], i["after"]),
            error=i["error"],
            undo_outcome=i["undo_outcome"],
        )
        for i in items
    ]


@router.post(
    "/{batch_id}/undo",
    responses={**REFUSED, 409: {"description": "undone already, or still running"}},
)
async def undo_bulk_edit(
    view_id: uuid.UUID, batch_id: uuid.UUID, user: BulkEditor, session: SessionDep, request: Request
) -> BulkUndo:
    """Put back the previous values (edit rights in the view needed). A relation changed since
    the edit is left as it is and named under ``conflicts`` (when the view still shows it)."""
    view = await views.access(session, user, view_id)
    editable(view)
    await batch_of_view(request, view, batch_id)
    report = (
        await request.app.state.services.automation.call(
            "POST", f"/bulk-edits/{batch_id}/undo", actor=user.actor, timeout=60.0
        )
    ).json()
    conflicts = [uuid.UUID(r) for r in report["conflicts"]]
    shown = await visible_ids(card_context(request), view, conflicts)
    return BulkUndo(
        batch=public_batch(report["batch"], view.form),
        restored=report["restored"],
        conflicts=[r for r in conflicts if str(r) in shown],
        failed=report["failed"],
    )
