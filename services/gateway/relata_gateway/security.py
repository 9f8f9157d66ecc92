"""Who is calling: passwords (argon2), short-lived JWT access tokens, API keys."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relata_common.db import transaction
from relata_common.errors import Unauthorized
from relata_common.events import Actor, ActorKind
from relata_gateway.models import api_keys, users

_hasher = PasswordHasher()
ALGORITHM = "HS256"
API_KEY_PREFIX = "rk_"


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    username: str
    role: str
    scopes: frozenset[str] | None = None
    """An API key's scopes; None for a logged-in user (a token is not limited by scope)."""
    session_id: str | None = None
    """The login session an access token belongs to (a refresh needs it alive)."""

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
    if user.session_id is not None:
        claims["sid"] = user.session_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def user_from_token(token: str, secret: str) -> User:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp"]})
        return User(
            id=uuid.UUID(claims["sub"]),
            username=claims["name"],
            role=claims["role"],
            session_id=claims.get("sid"),
        )
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


async def user_by_api_key(sessions: async_sessionmaker[AsyncSession], key: str) -> User:
    """The active user an unrevoked API key acts as; 401 for any other key."""
    async with transaction(sessions) as session:
        row = (
            await session.execute(
                select(users.c.id, users.c.username, users.c.role, api_keys.c.scopes)
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
    return User(id=row.id, username=row.username, role=row.role, scopes=frozenset(row.scopes))
