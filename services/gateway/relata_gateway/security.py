"""Who is calling: passwords (argon2), short-lived JWT access tokens, API keys."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from relata_common.db import transaction
from relata_common.errors import Forbidden, Unauthorized
from relata_common.events import Actor, ActorKind
from relata_gateway.models import api_keys, users

Role = Literal["admin", "staff"]
_hasher = PasswordHasher()
_bearer = HTTPBearer(auto_error=False)
ALGORITHM = "HS256"
API_KEY_PREFIX = "rk_"


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    username: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> Actor:
        """The user as the services record who made a change."""
        return Actor(kind=ActorKind.USER, id=str(self.id))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def issue_token(user: User, secret: str, minutes: int, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    claims = {
        "sub": str(user.id),
        "name": user.username,
        "role": user.role,
        "iat": now,
        "exp": now + timedelta(minutes=minutes),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def user_from_token(token: str, secret: str) -> User:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp"]})
        return User(id=uuid.UUID(claims["sub"]), username=claims["name"], role=claims["role"])
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the access token has expired: log in again") from None
    except (jwt.InvalidTokenError, KeyError, ValueError):
        raise Unauthorized("the access token is not valid") from None


def new_api_key() -> tuple[str, str]:
    """A new key and its stored hash; the key itself is shown once and never stored."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, api_key_hash(key)


def api_key_hash(key: str) -> str:
    # Keys are long random strings, so a fast hash is enough (unlike passwords).
    return hashlib.sha256(key.encode()).hexdigest()


async def _user_by_api_key(request: Request, key: str) -> User:
    async with transaction(request.app.state.sessions) as session:
        row = (
            await session.execute(
                select(users.c.id, users.c.username, users.c.role)
                .join(api_keys, api_keys.c.user_id == users.c.id)
                .where(
                    api_keys.c.key_hash == api_key_hash(key),
                    api_keys.c.revoked_at.is_(None),
                    users.c.active,
                )
            )
        ).first()
    if row is None:
        raise Unauthorized("the API key is not valid")
    return User(id=row.id, username=row.username, role=row.role)


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
        return await _user_by_api_key(request, api_key)
    raise Unauthorized("log in (bearer token) or send an API key")


UserDep = Annotated[User, Depends(current_user)]


def admin_only(user: UserDep) -> User:
    if not user.is_admin:
        raise Forbidden("only a functional administrator may do this")
    return user


AdminDep = Annotated[User, Depends(admin_only)]
