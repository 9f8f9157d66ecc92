"""The views a user works in: search, ad-hoc filters and what colleagues changed (their lists
are in :mod:`relata_gateway.routes.lists`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from relata_gateway import activity, directory, labels, pages, relation_lists, views
from relata_gateway.deps import Limit, SnapshotDep, UserDep, card_context

router = APIRouter(prefix="/views", tags=["views"])


@router.get("")
async def my_views(user: UserDep, snapshot: SnapshotDep, request: Request) -> list[views.ViewOut]:
    """The views this user may work in, with the labels of their forms' fields."""
    mine = snapshot.views_of(user)
    custom = {}
    if any(labels.needs_definitions(v.form) for v in mine):
        custom = await labels.custom_labels(card_context(request))
    return [
        views.view_out(v, snapshot.lists_of(v.id)).model_copy(
            update={"labels": labels.resolved(v.form, custom)}
        )
        for v in mine
    ]


@router.get("/{view_id}/search")
async def search(
    view_id: uuid.UUID,
    user: UserDep,
    request: Request,
    snapshot: SnapshotDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Limit = 10,
) -> list[pages.SearchHit]:
    """Typeahead over the relations of a view, matching only on fields its form shows."""
    view = directory.pick(snapshot.views_of(user), view_id)
    fields = pages.searchable_fields(view)
    if not fields:
        return []
    params = {"q": q, "views": str(view.base_list_id), "limit": limit, "fields": ",".join(fields)}
    answer = await request.app.state.services.search.call("GET", "/search", params=params)
    return await pages.search_hits(card_context(request), view, answer.json().get("results", []))


class FilterInput(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "filter": {
                        "all": [
                            {"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"},
                            {
                                "not": {
                                    "kind": "contact",
                                    "within_last": {"amount": 90, "unit": "days"},
                                }
                            },
                        ]
                    }
                }
            ]
        }
    )

    filter: dict[str, Any] = Field(
        description="a filter tree: all/any/not over criteria (see the lists service's "
        "field catalogue)",
        examples=[
            {
                "all": [
                    {"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"},
                    {"not": {"kind": "contact", "within_last": {"amount": 90, "unit": "days"}}},
                ]
            }
        ],
    )


@router.post("/{view_id}/evaluate", responses=pages.PAGE_ANSWER)
async def evaluate(
    view_id: uuid.UUID,
    body: FilterInput,
    user: UserDep,
    request: Request,
    snapshot: SnapshotDep,
    limit: Limit = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Run an ad-hoc filter over the view's relations: count and a page."""
    view = directory.pick(snapshot.views_of(user), view_id)
    relation_lists.check_filter(snapshot.lists_of(view.id), view, body.filter)
    ctx = card_context(request)
    params = await pages.page_params(ctx, user, view, limit, cursor)
    page = await request.app.state.services.lists.call(
        "POST", "/evaluate", json={"filter": views.within_view(view, body.filter)}, params=params
    )
    return await pages.redact_page(ctx, user, view, page.json())


ACTIVITY_ITEMS = TypeAdapter(list[activity.ActivityItem])


def json_response(adapter: TypeAdapter[Any], items: Any) -> Response:
    """Our own models, serialised once: FastAPI would first validate them again."""
    return Response(adapter.dump_json(items), media_type="application/json")


@router.get("/{view_id}/activity", response_model=list[activity.ActivityItem])
async def recently_edited(
    view_id: uuid.UUID,
    user: UserDep,
    request: Request,
    snapshot: SnapshotDep,
    limit: Limit = 20,
) -> Response:
    """Recently edited by others (colleagues and relations themselves), newest first."""
    view = directory.pick(snapshot.views_of(user), view_id)
    items = await activity.recently_edited_by_others(
        request.app.state.newest_activity,
        request.app.state.reading_sessions,
        card_context(request),
        user,
        view,
        limit,
    )
    return json_response(ACTIVITY_ITEMS, items)
