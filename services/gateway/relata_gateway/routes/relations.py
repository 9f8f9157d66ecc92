"""Relations as a view's users create and keep them: creating a person or an organisation in
a view, archiving and unarchiving it, and erasing it on a privacy request. (Merging is in
:mod:`relata_gateway.routes.merges`, functions in :mod:`relata_gateway.routes.functions`.)

An archived relation leaves every list, so it has no card until it is unarchived (and the
lists service has taken it back in); the answers here give the relation as the view's form
shows it instead, with its status. The view it was archived from keeps it in scope, so it can
be unarchived there (see :func:`relata_gateway.cards.require_visible_or_retired`)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import InvalidInput
from relata_common.fields import custom_field, filter_values
from relata_common.filters import (
    MAX_FILTER_DEPTH,
    MAX_FILTER_NODES,
    evaluate,
    not_evaluable,
    referenced_lists,
)
from relata_common.filters import parse_filter as parse_tree
from relata_common.web import IfMatchDep, etag
from relata_gateway import cache, dashboard, views
from relata_gateway.cards import RelationAsShown, as_shown, keep_state, require_visible_or_retired
from relata_gateway.clients import Services
from relata_gateway.deps import ServicesDep, SessionDep, card_context, editable, needs
from relata_gateway.forms import patch_fields_outside
from relata_gateway.models import views as views_table
from relata_gateway.rights import Right
from relata_gateway.security import User

router = APIRouter(prefix="/views", tags=["relations"])


class NewRelation(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "relation_type": "person",
                    "fields": {
                        "first_name": "Sanne",
                        "last_name": "Bakker",
                        "emails": [{"address": "sanne@bakker.example"}],
                        "addresses": [{"street": "Oudegracht", "city": "Utrecht"}],
                    },
                }
            ]
        },
    )

    relation_type: Literal["person", "organisation"]
    fields: dict[str, Any] = Field(description="fields of the view's form only")
    external_id: str | None = Field(default=None, min_length=1, max_length=200)


class CreatedRelation(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "relation_id": "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11",
                    "relation_number": 1042,
                    "version": 1,
                    "in_view": True,
                }
            ]
        }
    )

    relation_id: uuid.UUID
    relation_number: int
    version: int
    in_view: bool | None = Field(
        description="whether the view's base filter takes the new relation in: true, false, "
        "or null when the filter reads data the relation does not have yet (functions, contact "
        "moments, other lists); the card answers 404 until the view takes it in"
    )


@router.post(
    "/{view_id}/relations",
    status_code=status.HTTP_201_CREATED,
    responses={403: {"description": "the view is read-only or the role lacks relations.create"}},
)
async def create_relation(
    view_id: uuid.UUID,
    user: Annotated[User, needs(Right.RELATIONS_CREATE)],
    body: NewRelation,
    session: SessionDep,
    services: ServicesDep,
    response: Response,
) -> CreatedRelation:
    """Create a person or an organisation from a view, with fields of its form only. The
    answer says whether the new relation falls inside the view's scope."""
    view = await views.access(session, user, view_id)
    editable(view)
    outside = patch_fields_outside(view.form, body.fields)
    if outside:
        raise InvalidInput.single(("body", "fields"), f"not in this view's form: {outside}")
    created = await services.relations.call(
        "POST",
        "/relations",
        json=body.model_dump(exclude_none=True),
        actor=user.actor,
    )
    state = created.json()
    base_filter = await session.scalar(
        select(views_table.c.base_filter).where(views_table.c.id == view.id)
    )
    response.headers["Location"] = f"/views/{view.id}/relations/{state['relation_id']}"
    response.headers["ETag"] = etag(state["version"])
    return CreatedRelation(
        relation_id=state["relation_id"],
        relation_number=state["relation_number"],
        version=state["version"],
        in_view=await takes_in(services, base_filter, state),
    )


async def takes_in(services: Services, base_filter: Any, state: dict[str, Any]) -> bool | None:
    """Whether a filter takes in a relation by its own values; None when it reads more."""
    definitions = (await services.relations.call("GET", "/custom-fields")).json()
    custom = {
        spec.name: spec
        for spec in (
            custom_field(d["key"], d["label"], d["type"], d.get("choices")) for d in definitions
        )
    }
    node = parse_tree(
        base_filter,
        custom=custom,
        known_lists=None,
        max_depth=MAX_FILTER_DEPTH,
        max_nodes=MAX_FILTER_NODES,
    )
    if not_evaluable(node) or referenced_lists(node):
        return None  # the lists service decides these (the card follows within a second)
    return evaluate(node, filter_values(state), frozenset(), date.today())


# --- archiving ---------------------------------------------------------------------------------

_ARCHIVE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The relation as the view's form shows it, with its status and the new "
        "ETag. An archived relation has no card (GET answers 404) until it is unarchived.",
        "headers": {"ETag": {"description": "the new version", "schema": {"type": "string"}}},
    },
    403: {"description": "the view is read-only or the role lacks relations.archive"},
    404: {"description": "the view does not show the relation (nor did when it was archived)"},
    409: {"description": "the relation was merged into another or erased"},
    412: {"description": "If-Match names a version that is no longer current"},
    428: {"description": "If-Match is missing"},
}


@router.post("/{view_id}/relations/{relation_id}/archive", responses=_ARCHIVE_ANSWERS)
async def archive_relation(
    view_id: uuid.UUID,
    relation_id: uuid.UUID,
    user: Annotated[User, needs(Right.RELATIONS_ARCHIVE)],
    version: IfMatchDep,
    session: SessionDep,
    request: Request,
    response: Response,
) -> RelationAsShown:
    """Archive a relation (If-Match): it keeps its data and history but leaves every list and
    the search results. Archiving an archived relation changes nothing."""
    return await _set_archived(
        "archive", view_id, relation_id, user, version, session, request, response
    )


@router.post("/{view_id}/relations/{relation_id}/unarchive", responses=_ARCHIVE_ANSWERS)
async def unarchive_relation(
    view_id: uuid.UUID,
    relation_id: uuid.UUID,
    user: Annotated[User, needs(Right.RELATIONS_ARCHIVE)],
    version: IfMatchDep,
    session: SessionDep,
    request: Request,
    response: Response,
) -> RelationAsShown:
    """Bring an archived relation back (If-Match), in a view that showed it when it was
    archived. Its card follows once the lists have taken it in again (within moments)."""
    return await _set_archived(
        "unarchive", view_id, relation_id, user, version, session, request, response
    )


async def _set_archived(
    action: Literal["archive", "unarchive"],
    view_id: uuid.UUID,
    relation_id: uuid.UUID,
    user: User,
    version: int,
    session: AsyncSession,
    request: Request,
    response: Response,
) -> RelationAsShown:
    view = await views.access(session, user, view_id)
    editable(view)
    ctx = card_context(request)
    await require_visible_or_retired(ctx, view, relation_id)
    changed = await ctx.services.relations.call(
        "POST", f"/relations/{relation_id}/{action}", actor=user.actor, if_match=version
    )
    await keep_state(ctx, changed.body)
    response.headers["ETag"] = etag(changed.body["version"])
    return as_shown(view, changed.body)


# --- erasure -----------------------------------------------------------------------------------


class ErasedRelation(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "relation_id": "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11",
                    "status": "erased",
                    "version": 5,
                }
            ]
        }
    )

    relation_id: uuid.UUID
    status: Literal["erased"]
    version: int


@router.post(
    "/{view_id}/relations/{relation_id}/erasure",
    responses={
        403: {"description": "the view is read-only or the role lacks relations.erase"},
        404: {"description": "the view does not show the relation"},
        409: {"description": "the relation was merged into another: erase that one"},
    },
)
async def erase_relation(
    view_id: uuid.UUID,
    relation_id: uuid.UUID,
    user: Annotated[User, needs(Right.RELATIONS_ERASE)],
    session: SessionDep,
    request: Request,
) -> ErasedRelation:
    """Erase a relation on a privacy request (administrators' right relations.erase): its
    fields, functions and external id go, its history keeps only which fields changed and
    when, and the relations merged into it are erased with it. This cannot be undone; an
    archived relation can be erased from the view it was archived in."""
    view = await views.access(session, user, view_id)
    editable(view)
    ctx = card_context(request)
    await require_visible_or_retired(ctx, view, relation_id)
    erased = await ctx.services.relations.call(
        "POST", f"/relations/{relation_id}/erasure", actor=user.actor
    )
    # Privacy law: nothing of it stays here, not even until its event arrives.
    await cache.forget(ctx.redis, relation_id)
    await dashboard.forget_relation(ctx.redis, str(relation_id))
    return ErasedRelation(relation_id=relation_id, status="erased", version=erased.body["version"])
