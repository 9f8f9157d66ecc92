"""Relations as a view's users create and keep them: creating a person or an organisation in
a view. (Archiving, merging and erasing follow here.)"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

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
from relata_common.web import etag
from relata_gateway import views
from relata_gateway.clients import Services
from relata_gateway.deps import ServicesDep, SessionDep, editable, needs
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
