"""Users, roles and API keys as functional administrators keep them.

Users are never removed: the history of every service names them as actors. They are
deactivated instead: a deactivated user cannot log in or refresh a token, and their API keys
stop at once. A role is a named set of rights (see :mod:`relata_gateway.rights`); ``admin``
and ``staff`` are built in. Only a functional administrator (role ``admin``) may give the
admin role or change an administrator's account: a role holding the administration right must
not be a way to become administrator.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import Conflict, Forbidden, InvalidInput, NotFound
from relata_gateway.forms import Labels
from relata_gateway.models import api_keys, roles, users
from relata_gateway.rights import (
    ADMIN_ROLE,
    DEFAULT_KEY_SCOPES,
    EVERY_RIGHT,
    RIGHT_LABELS,
    STAFF_ROLE,
    Right,
    Scope,
)
from relata_gateway.security import User, hash_password, new_api_key

BUILT_IN_ROLES = (ADMIN_ROLE, STAFF_ROLE)
ROLE_NAME = r"^[a-z][a-z0-9_-]{0,49}$"

# --- rights ------------------------------------------------------------------------------------


class RightOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "right": "relations.merge",
                    "labels": {"nl": "Relaties samenvoegen", "en": "Merge relations"},
                }
            ]
        }
    )

    right: Right
    labels: Labels


def every_right() -> list[RightOut]:
    return [RightOut(right=r, labels=Labels(**RIGHT_LABELS[r])) for r in Right]


# --- roles -------------------------------------------------------------------------------------


class RoleInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "labels": {"nl": "Ledenadministratie", "en": "Membership office"},
                    "rights": ["relations.create", "relations.merge", "lists.manage"],
                }
            ]
        },
    )

    labels: Labels
    rights: list[str] = Field(max_length=len(Right), description="rights from GET /admin/rights")

    @field_validator("rights")
    @classmethod
    def _known(cls, rights: list[str]) -> list[str]:
        unknown = [r for r in rights if r not in EVERY_RIGHT]
        if unknown:
            raise ValueError(f"unknown rights {unknown}; GET /admin/rights lists them")
        return sorted(set(rights))


class RoleOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "office",
                    "labels": {"nl": "Ledenadministratie", "en": "Membership office"},
                    "rights": ["lists.manage", "relations.create", "relations.merge"],
                    "built_in": False,
                    "users": 3,
                }
            ]
        }
    )

    name: str
    labels: Labels
    rights: list[Right]
    built_in: bool
    users: int = Field(description="how many users (active or not) have the role")


def _role_out(row: Any, count: int) -> RoleOut:
    labels = row.labels or {}
    return RoleOut(
        name=row.name,
        labels=Labels(nl=labels.get("nl") or row.name, en=labels.get("en") or row.name),
        rights=sorted(EVERY_RIGHT if row.name == ADMIN_ROLE else (set(row.rights) & EVERY_RIGHT)),
        built_in=row.name in BUILT_IN_ROLES,
        users=count,
    )


async def list_roles(session: AsyncSession) -> list[RoleOut]:
    counted = await session.execute(select(users.c.role, func.count()).group_by(users.c.role))
    counts: dict[str, int] = {row[0]: row[1] for row in counted}
    rows = await session.execute(select(roles).order_by(roles.c.name))
    return [_role_out(row, counts.get(row.name, 0)) for row in rows]


async def role(session: AsyncSession, name: str) -> RoleOut:
    for found in await list_roles(session):
        if found.name == name:
            return found
    raise NotFound(f"role {name!r} does not exist")


async def role_exists(session: AsyncSession, name: str) -> bool:
    """Whether the role exists; it stays until this transaction ends (share-locked)."""
    found = select(roles.c.name).where(roles.c.name == name).with_for_update(read=True)
    return await session.scalar(found) is not None


async def save_role(session: AsyncSession, name: str, data: RoleInput) -> tuple[RoleOut, bool]:
    """Create or change a role; True when it was created. The admin role keeps every right."""
    if name == ADMIN_ROLE and set(data.rights) != EVERY_RIGHT:
        raise InvalidInput.single(("body", "rights"), "the admin role always has every right")
    values = {"labels": data.labels.model_dump(), "rights": data.rights}
    # One statement, so two administrators creating the same role at once do not collide;
    # xmax is 0 for a row this statement inserted.
    upsert = insert(roles).values(name=name, **values)
    created = await session.scalar(
        upsert.on_conflict_do_update(index_elements=[roles.c.name], set_=values).returning(
            literal_column("xmax = 0")
        )
    )
    return await role(session, name), bool(created)


async def delete_role(session: AsyncSession, name: str) -> None:
    """Delete a role no user has; the built-in roles stay."""
    if name in BUILT_IN_ROLES:
        raise Conflict(f"the built-in role {name!r} cannot be deleted")
    # Locked: a user given the role meanwhile waits, then finds it gone (422), instead of a
    # user left with a role that no longer exists.
    await session.execute(select(roles.c.name).where(roles.c.name == name).with_for_update())
    found = await role(session, name)
    if found.users:
        raise Conflict(f"{found.users} user(s) have the role {name!r}: give them another first")
    await session.execute(roles.delete().where(roles.c.name == name))


# --- users -------------------------------------------------------------------------------------


class UserInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "daan",
                    "display_name": "Daan de Vries",
                    "password": "a-long-password",
                    "role": "staff",
                }
            ]
        },
    )

    username: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.@-]+$")
    display_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=10, max_length=1000)
    role: str = Field(min_length=1, max_length=50, description="a role of GET /admin/roles")


class UserChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"display_name": "Daan de Vries", "role": "office"}]},
    )

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    role: str | None = Field(default=None, min_length=1, max_length=50)
    active: bool | None = Field(default=None, description="false deactivates the user")


class PasswordInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"password": "another-long-password"}]}
    )

    password: str = Field(min_length=10, max_length=1000)


class UserOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "5f0c7a52-9d7e-4d33-9d8c-0d6b1f2e8a11",
                    "username": "daan",
                    "display_name": "Daan de Vries",
                    "role": "staff",
                    "active": True,
                    "created_at": "2026-12-07T09:30:00Z",
                }
            ]
        }
    )

    user_id: uuid.UUID
    username: str
    display_name: str
    role: str
    active: bool = True
    created_at: datetime | None = None


def _user_out(row: Any) -> UserOut:
    return UserOut(
        user_id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        active=row.active,
        created_at=row.created_at,
    )


_USER_COLUMNS = (
    users.c.id,
    users.c.username,
    users.c.display_name,
    users.c.role,
    users.c.active,
    users.c.created_at,
)


async def list_users(session: AsyncSession) -> list[UserOut]:
    rows = await session.execute(select(*_USER_COLUMNS).order_by(users.c.username))
    return [_user_out(row) for row in rows]


async def get_user(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> UserOut:
    query = select(*_USER_COLUMNS).where(users.c.id == user_id)
    row = (await session.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise NotFound(f"user {user_id} does not exist")
    return _user_out(row)


async def _known_role(session: AsyncSession, name: str, by: User) -> None:
    if not await role_exists(session, name):
        raise InvalidInput.single(
            ("body", "role"), f"no role {name!r}; GET /admin/roles lists them"
        )
    if name == ADMIN_ROLE and not by.is_admin:
        raise Forbidden("only a functional administrator may give the admin role")


async def create_user(session: AsyncSession, data: UserInput, by: User) -> UserOut:
    await _known_role(session, data.role, by)
    user_id = uuid.uuid4()
    inserted = await session.scalar(
        insert(users)
        .values(
            id=user_id,
            username=data.username,
            display_name=data.display_name,
            password_hash=hash_password(data.password),
            role=data.role,
        )
        .on_conflict_do_nothing(index_elements=[users.c.username])
        .returning(users.c.id)
    )
    if inserted is None:
        raise InvalidInput.single(("body", "username"), "this username is taken")
    return await get_user(session, user_id)


async def _changeable(session: AsyncSession, user_id: uuid.UUID, by: User) -> UserOut:
    """The user, locked, when ``by`` may change them (administrators only by administrators)."""
    current = await get_user(session, user_id, lock=True)
    if current.role == ADMIN_ROLE and not by.is_admin:
        raise Forbidden("only a functional administrator may change an administrator")
    return current


async def _other_active_admins(session: AsyncSession, user_id: uuid.UUID) -> int:
    return (
        await session.scalar(
            select(func.count()).where(
                users.c.role == ADMIN_ROLE, users.c.active, users.c.id != user_id
            )
        )
        or 0
    )


async def change_user(
    session: AsyncSession, user_id: uuid.UUID, change: UserChange, by: User
) -> UserOut:
    """Change a user's name, role or whether they are active. The last active administrator
    stays one, and nobody deactivates themselves (both would lock the door)."""
    current = await _changeable(session, user_id, by)
    values = change.model_dump(exclude_none=True)
    if change.role is not None:
        await _known_role(session, change.role, by)
    if change.active is False and user_id == by.id:
        raise Conflict("you cannot deactivate yourself")
    leaves_admins = change.active is False or change.role not in (None, ADMIN_ROLE)
    if (
        current.role == ADMIN_ROLE
        and leaves_admins
        and not await _other_active_admins(session, user_id)
    ):
        raise Conflict("this is the last active administrator")
    if values:
        await session.execute(users.update().where(users.c.id == user_id).values(**values))
    return await get_user(session, user_id)


async def reset_password(
    session: AsyncSession, user_id: uuid.UUID, password: str, by: User
) -> None:
    await _changeable(session, user_id, by)
    await session.execute(
        users.update().where(users.c.id == user_id).values(password_hash=hash_password(password))
    )


async def active_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    """The user as they are now, when still active (for refreshing a token)."""
    row = (
        await session.execute(
            select(users.c.id, users.c.username, users.c.role).where(
                users.c.id == user_id, users.c.active
            )
        )
    ).first()
    return None if row is None else User(id=row.id, username=row.username, role=row.role)


# --- API keys ----------------------------------------------------------------------------------


class ApiKeyInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "mail plugin", "scopes": ["mail.ingest"]}]},
    )

    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(
        default=list(DEFAULT_KEY_SCOPES),
        min_length=1,
        description="what the key may do: read (GET), write (other methods), mail.ingest, "
        "admin (administration routes; the user's role must also have the right)",
    )


class ApiKeyCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "api_key_id": "0b9f2d4e-3f5a-4c1b-8e7d-6a5b4c3d2e1f",
                    "key": "rk_3q2-7vXc…",
                    "prefix": "rk_3q2-7",
                    "name": "mail plugin",
                    "scopes": ["mail.ingest"],
                }
            ]
        }
    )

    api_key_id: uuid.UUID
    key: str = Field(description="shown once: store it now")
    prefix: str
    name: str
    scopes: list[Scope]


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "api_key_id": "0b9f2d4e-3f5a-4c1b-8e7d-6a5b4c3d2e1f",
                    "prefix": "rk_3q2-7",
                    "name": "mail plugin",
                    "scopes": ["mail.ingest"],
                    "created_at": "2026-12-07T09:30:00Z",
                    "revoked_at": None,
                }
            ]
        }
    )

    api_key_id: uuid.UUID
    prefix: str = Field(description="the key's first characters, to recognise it")
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


async def create_api_key(
    session: AsyncSession, user_id: uuid.UUID, data: ApiKeyInput, by: User
) -> ApiKeyCreated:
    """A key acting as the user within its scopes; the key itself is never stored."""
    await _changeable(session, user_id, by)
    key, key_hash = new_api_key()
    key_id = uuid.uuid4()
    scopes = sorted(set(data.scopes))
    await session.execute(
        api_keys.insert().values(
            id=key_id,
            user_id=user_id,
            name=data.name,
            prefix=key[:8],
            key_hash=key_hash,
            scopes=[s.value for s in scopes],
        )
    )
    return ApiKeyCreated(api_key_id=key_id, key=key, prefix=key[:8], name=data.name, scopes=scopes)


async def api_keys_of(session: AsyncSession, user_id: uuid.UUID) -> list[ApiKeyOut]:
    await get_user(session, user_id)
    rows = await session.execute(
        select(api_keys).where(api_keys.c.user_id == user_id).order_by(api_keys.c.created_at)
    )
    return [
        ApiKeyOut(
            api_key_id=row.id,
            prefix=row.prefix,
            name=row.name,
            scopes=list(row.scopes),
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )
        for row in rows
    ]


async def revoke_api_key(
    session: AsyncSession, user_id: uuid.UUID, key_id: uuid.UUID, by: User
) -> None:
    """Revoke a key for good (revoking twice is harmless)."""
    await _changeable(session, user_id, by)
    found = await session.scalar(
        select(api_keys.c.id).where(api_keys.c.id == key_id, api_keys.c.user_id == user_id)
    )
    if found is None:
        raise NotFound(f"API key {key_id} of this user does not exist")
    await session.execute(
        api_keys.update()
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
