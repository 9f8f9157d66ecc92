"""What the public routes depend on, in one place: who calls (a user, an administrator), the
views they may work in, the services and caches behind a card, and database sessions."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import Forbidden, Unauthorized
from relata_common.web import ReadingSessionDep, SessionDep
from relata_gateway import views
from relata_gateway.cards import CardContext
from relata_gateway.clients import Services
from relata_gateway.directory import Snapshot, changing_views
from relata_gateway.rights import Right, needed_scope
from relata_gateway.security import User, user_by_api_key, user_from_token
from relata_gateway.settings import GatewaySettings

__all__ = [
    "AdminDep",
    "CardContextDep",
    "Limit",
    "ReadingSessionDep",
    "RedisDep",
    "ServicesDep",
    "SessionDep",
    "SettingsDep",
    "SnapshotDep",
    "UserDep",
    "card_context",
    "editable",
    "needs",
    "needs_section",
    "views_changing",
]

_bearer = HTTPBearer(auto_error=False)

Limit = Annotated[int, Query(ge=1, le=200)]
"""A page size a client asks for."""


# --- who calls ---------------------------------------------------------------------------------


async def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
    api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
) -> User:
    """The caller, from a bearer access token or an API key; 401 without either."""
    if credentials is not None:
        secret = request.app.state.settings.jwt_secret.get_secret_value()
        return user_from_token(credentials.credentials, secret)
    if api_key is not None:
        user = await user_by_api_key(request.app.state.sessions, api_key)
        route = request.scope.get("route")
        wanted = needed_scope(request.method, getattr(route, "openapi_extra", None))
        if user.scopes is not None and wanted not in user.scopes:
            raise Forbidden(f"this API key lacks the scope {wanted!r}")
        return user
    raise Unauthorized("log in (bearer token) or send an API key")


UserDep = Annotated[User, Depends(current_user)]


def admin_only(user: UserDep) -> User:
    if not user.is_admin:
        raise Forbidden("only a functional administrator may do this")
    return user


AdminDep = Annotated[User, Depends(admin_only)]


def needs(right: Right) -> Any:
    """A dependency giving the caller, or 403 when their role lacks ``right``::

    user: Annotated[User, needs(Right.RELATIONS_MERGE)]
    """

    async def check(user: UserDep, request: Request) -> User:
        snapshot = await request.app.state.directory.snapshot()
        if right not in snapshot.rights_of(user):
            raise Forbidden(f"your role lacks the right {right.value!r}")
        return user

    check.right = right  # type: ignore[attr-defined]  # read by the OpenAPI document
    return Depends(check)


# --- views, forms and grants -------------------------------------------------------------------


async def _snapshot(request: Request) -> Snapshot:
    return await request.app.state.directory.snapshot()


SnapshotDep = Annotated[Snapshot, Depends(_snapshot)]
"""Views, their lists and grants as this process knows them (no database round trip)."""


def views_changing(request: Request) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
    """A transaction that changes views, lists or grants (every process hears of it)."""
    return changing_views(request.app.state.sessions, request.app.state.redis)


def editable(view: views.View) -> None:
    """Refuse a change in a view the user may only read."""
    if not view.can_edit:
        raise Forbidden("this view is read-only for you")


def needs_section(view: views.View, section: str) -> None:
    """Refuse what the view's form does not show."""
    if not view.form.shows(section):
        raise Forbidden(f"this view's form does not show {section.replace('_', ' ')}")


# --- services, caches, settings ----------------------------------------------------------------


def card_context(request: Request) -> CardContext:
    state = request.app.state
    return CardContext(
        state.services, state.redis, state.settings.card_cache_seconds, state.settings.call_timeout
    )


def _services(request: Request) -> Services:
    return request.app.state.services


def _redis(request: Request) -> Redis:
    return request.app.state.redis


def _settings(request: Request) -> GatewaySettings:
    return request.app.state.settings


CardContextDep = Annotated[CardContext, Depends(card_context)]
ServicesDep = Annotated[Services, Depends(_services)]
RedisDep = Annotated[Redis, Depends(_redis)]
SettingsDep = Annotated[GatewaySettings, Depends(_settings)]
