"""A relation card as a view shows it, and editing it through the card."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from relata_common.errors import FieldError, InvalidInput
from relata_common.web import IfMatchDep, etag
from relata_gateway import cache, dashboard, directory, labels, views
from relata_gateway.cards import Card, compose, require_visible
from relata_gateway.deps import SessionDep, UserDep, card_context, editable
from relata_gateway.forms import patch_fields_outside

router = APIRouter(prefix="/views", tags=["views"])


@router.get("/{view_id}/relations/{relation_id}", response_model=Card)
async def relation_card(
    view_id: uuid.UUID, relation_id: uuid.UUID, user: UserDep, request: Request
) -> Response:
    """A relation card as the view shows it (404 when the view does not show the relation)."""
    ctx = card_context(request)
    # The card's cached parts, the views' generation and the custom field definitions (for
    # labels) in one round trip.
    prefetched, (generation, *definitions) = await cache.prefetch(
        ctx.redis, relation_id, directory.GENERATION_KEY, *labels.custom_field_keys()
    )
    snapshot = await request.app.state.directory.snapshot(directory.as_generation(generation))
    views_of_user = snapshot.views_of(user)
    view = directory.pick(views_of_user, view_id)
    card, shown_labels = await asyncio.gather(
        compose(
            ctx,
            view,
            relation_id,
            views_of_user=views_of_user,
            lists_of_view=snapshot.lists_of(view.id),
            prefetched=prefetched,
        ),
        labels.form_labels(ctx, view.form, (definitions[0], definitions[1])),
    )
    card.labels = shown_labels
    await dashboard.remember(
        request.app.state.redis,
        user,
        dashboard.RecentItem(
            kind="relation",
            id=relation_id,
            view_id=view.id,
            label=card.display_name,
            at=dashboard.now(),
        ),
        request.app.state.settings.recent_items,
    )
    # Serialised once, here: the card is ours and valid, so FastAPI need not validate it again.
    return Response(
        card.model_dump_json(),
        media_type="application/json",
        headers={"ETag": etag(card.version)},
    )


class CardEdit(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"fields": {"last_name": "Bakker-de Wit", "phones": None}}]
        },
    )

    relation_type: Any = Field(
        default=None, description="never changes: refused (422) if given, here or in fields"
    )
    fields: dict[str, Any] = Field(
        description="changed fields of the form; null clears one",
        examples=[
            {
                "addresses": [
                    {
                        "type": "home",
                        "street": "Oudegracht",
                        "house_number": "12",
                        "postal_code": "3511 AB",
                        "city": "Utrecht",
                    }
                ]
            }
        ],
    )


@router.patch(
    "/{view_id}/relations/{relation_id}",
    response_model=Card,
    responses={
        200: {
            "description": "The refreshed card: the body a GET of the card gives after the "
            "change, with the new ETag (no second GET needed).",
            "headers": {"ETag": {"description": "the new version", "schema": {"type": "string"}}},
        }
    },
)
async def edit_relation(
    view_id: uuid.UUID,
    relation_id: uuid.UUID,
    user: UserDep,  # first: an anonymous caller learns nothing, not even that If-Match is due
    body: CardEdit,
    version: IfMatchDep,
    request: Request,
    session: SessionDep,
) -> Response:
    """Change fields through the card (If-Match); only fields of the view's form. Answers
    with the refreshed card and its new ETag, as a GET of the card would."""
    view = await views.access(session, user, view_id)
    editable(view)
    _refuse_type_change(body)
    outside = patch_fields_outside(view.form, body.fields)
    if outside:
        raise InvalidInput.single(("body", "fields"), f"not in this view's form: {outside}")
    ctx = card_context(request)
    await require_visible(ctx, view, relation_id)
    changed = await ctx.services.relations.call(
        "PATCH",
        f"/relations/{relation_id}",
        json={"fields": body.fields},
        actor=user.actor,
        if_match=version,
    )
    # The answer is the relation's new state: cached as the card's relation part, so the card
    # below is composed without reading the relation again.
    await cache.invalidate(ctx.redis, relation_id, "relation")
    await cache.cached(ctx.redis, "relation", relation_id, ctx.ttl, _given(changed.body))
    return await relation_card(view_id, relation_id, user, request)


def _refuse_type_change(body: CardEdit) -> None:
    """A person stays a person: relation_type is refused wherever the body puts it (beside
    the fields or among them), rather than ignored or called a field outside the form."""
    where = [
        loc
        for loc, given in (
            (("body", "relation_type"), "relation_type" in body.model_fields_set),
            (("body", "fields", "relation_type"), "relation_type" in body.fields),
        )
        if given
    ]
    if where:
        raise InvalidInput(
            [
                FieldError(
                    loc,
                    "relation_type never changes: a person stays a person, an "
                    "organisation an organisation",
                )
                for loc in where
            ]
        )


def _given(value: Any) -> Callable[[], Awaitable[Any]]:
    async def load() -> Any:
        return value

    return load
