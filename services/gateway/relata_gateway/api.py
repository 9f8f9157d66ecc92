"""The public API: everything clients and other modules may do goes through here."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy import select

from relata_common.errors import Forbidden, InvalidInput, Unauthorized
from relata_common.web import IfMatchDep, SessionDep, etag
from relata_gateway import activity, cache, dashboard, directory, pages, views
from relata_gateway.cards import Card, CardContext, compose, require_visible
from relata_gateway.directory import Snapshot, changing_views
from relata_gateway.forms import filter_fields_outside, patch_fields_outside
from relata_gateway.models import api_keys, users
from relata_gateway.security import (
    AdminDep,
    User,
    UserDep,
    hash_password,
    issue_token,
    new_api_key,
    password_matches,
)

auth_router = APIRouter(tags=["authentication"])
admin_router = APIRouter(tags=["administration"])
views_router = APIRouter(prefix="/views", tags=["views"])
dashboard_router = APIRouter(tags=["dashboard"])
Limit = Annotated[int, Query(ge=1, le=200)]


async def _snapshot(request: Request) -> Snapshot:
    return await request.app.state.directory.snapshot()


SnapshotDep = Annotated[Snapshot, Depends(_snapshot)]
"""Views, their lists and grants as this process knows them (no database round trip)."""


def _changing_views(request: Request) -> Any:
    return changing_views(request.app.state.sessions, request.app.state.redis)


def _ctx(request: Request) -> CardContext:
    state = request.app.state
    return CardContext(
        state.services, state.redis, state.settings.card_cache_seconds, state.settings.call_timeout
    )


# --- authentication --------------------------------------------------------------------------


class Login(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"username": "anouk", "password": "relata-demo"}]}
    )

    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


@auth_router.post("/auth/token")
async def log_in(body: Login, request: Request, session: SessionDep) -> AccessToken:
    """Exchange a username and password for a short-lived access token."""
    row = (
        (
            await session.execute(
                select(users).where(users.c.username == body.username, users.c.active)
            )
        )
        .mappings()
        .first()
    )
    if row is None or not password_matches(row["password_hash"], body.password):
        raise Unauthorized("unknown username or wrong password")
    settings = request.app.state.settings
    user = User(row["id"], row["username"], row["role"])
    token = issue_token(user, settings.jwt_secret.get_secret_value(), settings.access_token_minutes)
    return AccessToken(access_token=token, expires_in=settings.access_token_minutes * 60)


# --- administration --------------------------------------------------------------------------


class UserInput(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "daan",
                    "display_name": "Daan de Vries",
                    "password": "a-long-password",
                    "role": "staff",
                }
            ]
        }
    )

    username: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.@-]+$")
    display_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=10, max_length=1000)
    role: str = Field(pattern="^(admin|staff)$")


class UserOut(BaseModel):
    user_id: uuid.UUID
    username: str
    display_name: str
    role: str


@admin_router.post("/users", status_code=status.HTTP_201_CREATED)
async def create_user(body: UserInput, _: AdminDep, session: SessionDep) -> UserOut:
    """Create a user (functional administrators only)."""
    if await session.scalar(select(users.c.id).where(users.c.username == body.username)):
        raise InvalidInput.single(("body", "username"), "this username is taken")
    user_id = uuid.uuid4()
    await session.execute(
        users.insert().values(
            id=user_id,
            username=body.username,
            display_name=body.display_name,
            password_hash=hash_password(body.password),
            role=body.role,
        )
    )
    return UserOut(
        user_id=user_id, username=body.username, display_name=body.display_name, role=body.role
    )


class ApiKeyInput(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class ApiKeyOut(BaseModel):
    api_key_id: uuid.UUID
    key: str = Field(description="shown once: store it now")


@admin_router.post("/users/{user_id}/api-keys", status_code=status.HTTP_201_CREATED)
async def create_api_key(
    user_id: uuid.UUID, body: ApiKeyInput, _: AdminDep, session: SessionDep
) -> ApiKeyOut:
    """Issue an API key acting as this user (for integrations)."""
    if await session.scalar(select(users.c.id).where(users.c.id == user_id)) is None:
        raise InvalidInput.single(("path", "user_id"), "no such user")
    key, key_hash = new_api_key()
    key_id = uuid.uuid4()
    await session.execute(
        api_keys.insert().values(
            id=key_id, user_id=user_id, name=body.name, prefix=key[:8], key_hash=key_hash
        )
    )
    return ApiKeyOut(api_key_id=key_id, key=key)


@admin_router.post("/admin/views", status_code=status.HTTP_201_CREATED)
async def create_view(body: views.ViewInput, _: AdminDep, request: Request) -> views.ViewOut:
    """Define a view: base filter, relation form; its 'All relations' list is created."""
    async with _changing_views(request) as session:
        return await views.create_view(session, request.app.state.services, body)


class GrantInput(BaseModel):
    user_id: uuid.UUID
    can_edit: bool = False


@admin_router.put("/admin/views/{view_id}/grants", status_code=status.HTTP_204_NO_CONTENT)
async def grant_view(view_id: uuid.UUID, body: GrantInput, _: AdminDep, request: Request) -> None:
    """Grant a user a view, read-only or with edit rights."""
    async with _changing_views(request) as session:
        await views.grant(session, user_id=body.user_id, view_id=view_id, can_edit=body.can_edit)


@admin_router.post("/admin/custom-fields", status_code=status.HTTP_201_CREATED)
async def define_custom_field(body: dict[str, Any], _: AdminDep, request: Request) -> Any:
    """Define a custom field (kept by the relations service)."""
    response = await request.app.state.services.relations.call("POST", "/custom-fields", json=body)
    return response.json()


# --- views, cards, editing -------------------------------------------------------------------


@views_router.get("")
async def my_views(user: UserDep, snapshot: SnapshotDep) -> list[views.ViewOut]:
    """The views this user may work in."""
    return [views.view_out(v, snapshot.lists_of(v.id)) for v in snapshot.views_of(user)]


@views_router.get("/{view_id}/relations/{relation_id}", response_model=Card)
async def relation_card(
    view_id: uuid.UUID, relation_id: uuid.UUID, user: UserDep, request: Request
) -> Response:
    """A relation card as the view shows it (404 when the view does not show the relation)."""
    ctx = _ctx(request)
    # The card's cached parts and the views' generation in one round trip.
    prefetched, (generation,) = await cache.prefetch(
        ctx.redis, relation_id, directory.GENERATION_KEY
    )
    snapshot = await request.app.state.directory.snapshot(directory.as_generation(generation))
    views_of_user = snapshot.views_of(user)
    view = directory.pick(views_of_user, view_id)
    card = await compose(
        ctx,
        view,
        relation_id,
        views_of_user=views_of_user,
        lists_of_view=snapshot.lists_of(view.id),
        prefetched=prefetched,
    )
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


@views_router.patch("/{view_id}/relations/{relation_id}", response_model=Card)
async def edit_relation(
    view_id: uuid.UUID,
    relation_id: uuid.UUID,
    user: UserDep,  # first: an anonymous caller learns nothing, not even that If-Match is due
    body: CardEdit,
    version: IfMatchDep,
    request: Request,
    session: SessionDep,
) -> Response:
    """Change fields through the card (If-Match); only fields of the view's form."""
    view = await views.access(session, user, view_id)
    if not view.can_edit:
        raise Forbidden("this view is read-only for you")
    outside = patch_fields_outside(view.form, body.fields)
    if outside:
        raise InvalidInput.single(("body", "fields"), f"not in this view's form: {outside}")
    ctx = _ctx(request)
    await require_visible(ctx, view, relation_id)
    await request.app.state.services.relations.call(
        "PATCH",
        f"/relations/{relation_id}",
        json={"fields": body.fields},
        actor=user.actor,
        if_match=version,
    )
    await cache.invalidate(request.app.state.redis, relation_id, "relation")
    return await relation_card(view_id, relation_id, user, request)


@views_router.get("/{view_id}/search")
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
    return await pages.search_hits(_ctx(request), view, answer.json().get("results", []))


@views_router.get("/{view_id}/lists")
async def view_lists(
    view_id: uuid.UUID, user: UserDep, snapshot: SnapshotDep
) -> list[views.ListRef]:
    """The lists under a view, 'All relations' first."""
    view = directory.pick(snapshot.views_of(user), view_id)
    return snapshot.lists_of(view.id)


@views_router.get("/{view_id}/lists/{list_id}/members")
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
    ctx = _ctx(request)
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
                {
                    "loc": ["body", "filter", *path],
                    "msg": "reads data this view's form does not show, or a list of another view",
                    "type": "forbidden_field",
                }
                for path in outside
            ]
        )


@views_router.post("/{view_id}/evaluate")
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
    ctx = _ctx(request)
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


@views_router.post("/{view_id}/lists", status_code=status.HTTP_201_CREATED)
async def save_list(
    view_id: uuid.UUID, body: SavedList, user: UserDep, request: Request
) -> views.ListRef:
    """Save a filter as a relation list under the view."""
    async with _changing_views(request) as session:
        view = await views.access(session, user, view_id)
        if not view.can_edit:
            raise Forbidden("this view is read-only for you")
        _check_filter(await views.view_lists_of(session, view.id), view, body.filter)
        services = request.app.state.services
        return await views.add_list(session, services, view, body.name, body.filter)


ACTIVITY_ITEMS = TypeAdapter(list[activity.ActivityItem])
RECENT_ITEMS = TypeAdapter(list[dashboard.RecentItem])


def _json_response(adapter: TypeAdapter[Any], items: Any) -> Response:
    """Our own models, serialised once: FastAPI would first validate them again."""
    return Response(adapter.dump_json(items), media_type="application/json")


@views_router.get("/{view_id}/activity", response_model=list[activity.ActivityItem])
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
        _ctx(request),
        user,
        view,
        limit,
    )
    return _json_response(ACTIVITY_ITEMS, items)


@dashboard_router.get("/dashboard/recent", response_model=list[dashboard.RecentItem])
async def recent_items(user: UserDep, request: Request, snapshot: SnapshotDep) -> Response:
    """The relations and lists this user viewed last."""
    return _json_response(RECENT_ITEMS, await dashboard.recent(_ctx(request), snapshot, user))


ROUTERS = (auth_router, admin_router, views_router, dashboard_router)
