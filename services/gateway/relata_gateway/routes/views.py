"""The views a user works in: their lists and members, search, ad-hoc filters, saved lists
and what colleagues changed."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field, TypeAdapter

from relata_common.errors import FieldError, InvalidInput
from relata_gateway import activity, dashboard, directory, labels, pages, views
from relata_gateway.cards import CardContext
from relata_gateway.deps import Limit, SnapshotDep, UserDep, card_context, editable, views_changing
from relata_gateway.forms import filter_fields_outside
from relata_gateway.security import User

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


@router.get("/{view_id}/lists")
async def view_lists(
    view_id: uuid.UUID, user: UserDep, snapshot: SnapshotDep
) -> list[views.ListRef]:
    """The lists under a view, 'All relations' first."""
    view = directory.pick(snapshot.views_of(user), view_id)
    return snapshot.lists_of(view.id)


@router.get("/{view_id}/lists/{list_id}/members")
async def list_members(
    view_id: uuid.UUID,
    list_id: uuid.UUID,
    user: UserDep,
    request: Request,
    snapshot: SnapshotDep,
    limit: Limit = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Members of a list under the view, paged; a list too large to browse gives its count."""
    view = directory.pick(snapshot.views_of(user), view_id)
    named = {ref.list_id: ref.name for ref in snapshot.lists_of(view.id)}
    if list_id not in named:
        raise InvalidInput.single(("path", "list_id"), "not a list of this view")
    ctx = card_context(request)
    params = await _page_params(ctx, user, view, limit, cursor)
    page = await request.app.state.services.lists.call(
        "GET", f"/lists/{list_id}/members", params=params
    )
    await dashboard.remember(
        ctx.redis,
        user,
        dashboard.RecentItem(
            kind="list", id=list_id, view_id=view.id, label=named[list_id], at=dashboard.now()
        ),
        request.app.state.settings.recent_items,
    )
    return await pages.redact_page(ctx, user, view, page.json())


async def _page_params(
    ctx: CardContext, user: User, view: views.View, limit: int, cursor: str | None
) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    service_cursor = await pages.unwrap_cursor(ctx.redis, user, view, cursor)
    if service_cursor:
        params["cursor"] = service_cursor
    return params


class FilterInput(BaseModel):
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


def _check_filter(own: list[views.ListRef], view: views.View, node: dict[str, Any]) -> None:
    own_lists = frozenset(str(ref.list_id) for ref in own)
    outside = filter_fields_outside(view.form, node, own_lists)
    if outside:
        raise InvalidInput(
            [
                FieldError(
                    ["body", "filter", *path],
                    "reads data this view's form does not show, or a list of another view",
                    "forbidden_field",
                )
                for path in outside
            ]
        )


@router.post("/{view_id}/evaluate")
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
    _check_filter(snapshot.lists_of(view.id), view, body.filter)
    ctx = card_context(request)
    params = await _page_params(ctx, user, view, limit, cursor)
    page = await request.app.state.services.lists.call(
        "POST", "/evaluate", json={"filter": views.within_view(view, body.filter)}, params=params
    )
    return await pages.redact_page(ctx, user, view, page.json())


class SavedList(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["Members in Utrecht"])
    filter: dict[str, Any] = Field(
        examples=[{"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"}]
    )


@router.post("/{view_id}/lists", status_code=status.HTTP_201_CREATED)
async def save_list(
    view_id: uuid.UUID, body: SavedList, user: UserDep, request: Request
) -> views.ListRef:
    """Save a filter as a relation list under the view."""
    async with views_changing(request) as session:
        view = await views.access(session, user, view_id)
        editable(view)
        _check_filter(await views.view_lists_of(session, view.id), view, body.filter)
        services = request.app.state.services
        return await views.add_list(session, services, view, body.name, body.filter)


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
