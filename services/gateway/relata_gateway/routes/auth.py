"""Logging in: a username and password for a short-lived access token, refreshed while the
user stays active."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from relata_common.errors import Unauthorized
from relata_gateway import accounts
from relata_gateway.deps import SessionDep, UserDep
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


@router.post("/auth/token")
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
    return _token(User(row["id"], row["username"], row["role"]), request)


def _token(user: User, request: Request) -> AccessToken:
    settings = request.app.state.settings
    token = issue_token(user, settings.jwt_secret.get_secret_value(), settings.access_token_minutes)
    return AccessToken(access_token=token, expires_in=settings.access_token_minutes * 60)


@router.post(
    "/auth/refresh",
    responses={
        401: {"description": "the token is not valid or has expired, or the user was deactivated"}
    },
)
async def refresh(user: UserDep, request: Request, session: SessionDep) -> AccessToken:
    """Exchange a valid access token for a new one, before it expires. The user is read
    again: a deactivated user gets none, and a changed role is in the new token."""
    if user.scopes is not None:
        raise Unauthorized("an API key has no token to refresh")
    current = await accounts.active_user(session, user.id)
    if current is None:
        raise Unauthorized("this user is deactivated")
    return _token(current, request)
