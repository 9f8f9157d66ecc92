"""Logging in: a username and password for a short-lived access token, refreshed while the
login lasts and the user stays active; logging out ends the login. Failed logins are
rate-limited per username and per client address."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from relata_common.errors import Unauthorized
from relata_gateway import accounts
from relata_gateway.deps import SessionDep, UserDep
from relata_gateway.logins import LoginSessions, Throttle
from relata_gateway.models import users
from relata_gateway.security import User, issue_token, password_matches

router = APIRouter(tags=["authentication"])


class Login(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"username": "anouk", "password": "relata-demo"}]}
    )

    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class AccessToken(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIuLi4ifQ.c2lnbmF0dXJl",
                    "token_type": "bearer",
                    "expires_in": 900,
                }
            ]
        }
    )

    access_token: str
    token_type: str = "bearer"
    expires_in: int


def _throttle(request: Request) -> Throttle:
    settings = request.app.state.settings
    return Throttle(
        request.app.state.redis,
        settings.login_failures_per_user,
        settings.login_failures_per_address,
        settings.login_failure_window_seconds,
    )


def _logins(request: Request) -> LoginSessions:
    return LoginSessions(request.app.state.redis, request.app.state.settings.login_session_hours)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/auth/token",
    responses={
        401: {"description": "unknown username or wrong password"},
        429: {"description": "too many failed logins for this user or address: see Retry-After"},
    },
)
async def log_in(body: Login, request: Request, session: SessionDep) -> AccessToken:
    """Exchange a username and password for a short-lived access token (refreshable with
    ``POST /auth/refresh`` until the login ends). After 10 failed logins for a username, or
    100 from one address, within 15 minutes, logins are refused with 429 until the window
    ends."""
    throttle, address = _throttle(request), _address(request)
    await throttle.check(body.username, address)
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
        await throttle.failed(body.username, address)
        raise Unauthorized("unknown username or wrong password")
    await throttle.succeeded(body.username, address)
    session_id = await _logins(request).start(str(row["id"]))
    return _token(User(row["id"], row["username"], row["role"], session_id=session_id), request)


def _token(user: User, request: Request) -> AccessToken:
    settings = request.app.state.settings
    token = issue_token(user, settings.jwt_secret.get_secret_value(), settings.access_token_minutes)
    return AccessToken(access_token=token, expires_in=settings.access_token_minutes * 60)


@router.post(
    "/auth/refresh",
    responses={
        401: {
            "description": "the token is not valid or has expired, the login ended (logged "
            "out or too old), or the user was deactivated"
        }
    },
)
async def refresh(user: UserDep, request: Request, session: SessionDep) -> AccessToken:
    """Exchange a valid access token for a new one, before it expires, while its login lasts.
    The user is read again: a deactivated user gets none, and a changed role is in the new
    token."""
    if user.scopes is not None:
        raise Unauthorized("an API key has no token to refresh")
    if user.session_id is None or not await _logins(request).alive(user.session_id, str(user.id)):
        raise Unauthorized("this login has ended: log in again")
    current = await accounts.active_user(session, user.id)
    if current is None:
        raise Unauthorized("this user is deactivated")
    return _token(dataclasses.replace(current, session_id=user.session_id), request)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def log_out(user: UserDep, request: Request) -> Response:
    """End this login: its token can no longer be refreshed (it lapses within its 15
    minutes). An API key is revoked under ``/api-keys`` instead."""
    if user.session_id is not None:
        await _logins(request).end(user.session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
