"""Users and their API keys (administration)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from relata_gateway import accounts
from relata_gateway.deps import SessionDep
from relata_gateway.routes.administration.common import ADMIN, Administrator, answering

router = APIRouter(tags=["administration"])

NO_USER = {404: "no such user"}


@router.get("/admin/users", **ADMIN)
async def list_users(_: Administrator, session: SessionDep) -> list[accounts.UserOut]:
    """Every user, active or not, by username."""
    return await accounts.list_users(session)


@router.post(
    "/admin/users",
    status_code=status.HTTP_201_CREATED,
    **answering({422: "a field is invalid, the username is taken or the role does not exist"}),
)
async def create_user(
    body: accounts.UserInput, by: Administrator, session: SessionDep
) -> accounts.UserOut:
    """Create a user with a role (one of GET /admin/roles)."""
    return await accounts.create_user(session, body, by)


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    deprecated=True,
    **answering({422: "a field is invalid, the username is taken or the role does not exist"}),
)
async def create_user_at_old_address(
    body: accounts.UserInput, by: Administrator, session: SessionDep
) -> accounts.UserOut:
    """Create a user: the old address of POST /admin/users."""
    return await accounts.create_user(session, body, by)


@router.get("/admin/users/{user_id}", **answering(NO_USER))
async def get_user(user_id: uuid.UUID, _: Administrator, session: SessionDep) -> accounts.UserOut:
    """One user."""
    return await accounts.get_user(session, user_id)


@router.patch(
    "/admin/users/{user_id}",
    **answering(
        {
            404: "no such user",
            409: "deactivating yourself, or the last active administrator",
            422: "the role does not exist",
        }
    ),
)
async def change_user(
    user_id: uuid.UUID, body: accounts.UserChange, by: Administrator, session: SessionDep
) -> accounts.UserOut:
    """Change a user's display name, role or whether they are active. A deactivated user
    cannot log in or refresh a token and their API keys stop at once; an access token already
    issued runs out within its short lifetime. A new role takes effect for API keys at once and
    for a logged-in user at their next token refresh."""
    return await accounts.change_user(session, user_id, body, by)


@router.delete(
    "/admin/users/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    **answering({404: "no such user", 409: "yourself, or the last active administrator"}),
)
async def deactivate_user(user_id: uuid.UUID, by: Administrator, session: SessionDep) -> None:
    """Deactivate a user (users are never removed: the history names them). Same as PATCH
    with ``{"active": false}``."""
    await accounts.change_user(session, user_id, accounts.UserChange(active=False), by)


@router.put(
    "/admin/users/{user_id}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    **answering({404: "no such user", 422: "the password is too short"}),
)
async def reset_password(
    user_id: uuid.UUID, body: accounts.PasswordInput, by: Administrator, session: SessionDep
) -> None:
    """Give a user a new password (tell it to them; they log in with it)."""
    await accounts.reset_password(session, user_id, body.password, by)


# --- API keys ----------------------------------------------------------------------------------


@router.get("/admin/users/{user_id}/api-keys", **answering(NO_USER))
async def list_api_keys(
    user_id: uuid.UUID, _: Administrator, session: SessionDep
) -> list[accounts.ApiKeyOut]:
    """A user's API keys, revoked ones included (never the keys themselves)."""
    return await accounts.api_keys_of(session, user_id)


@router.post(
    "/admin/users/{user_id}/api-keys",
    status_code=status.HTTP_201_CREATED,
    **answering({404: "no such user", 422: "an unknown scope"}),
)
async def create_api_key(
    user_id: uuid.UUID, body: accounts.ApiKeyInput, by: Administrator, session: SessionDep
) -> accounts.ApiKeyCreated:
    """Issue an API key acting as this user within its scopes (read and write unless
    named): for integrations such as the mail plugin. The key is shown once."""
    return await accounts.create_api_key(session, user_id, body, by)


@router.post(
    "/users/{user_id}/api-keys",
    status_code=status.HTTP_201_CREATED,
    deprecated=True,
    **answering({404: "no such user", 422: "an unknown scope"}),
)
async def create_api_key_at_old_address(
    user_id: uuid.UUID, body: accounts.ApiKeyInput, by: Administrator, session: SessionDep
) -> accounts.ApiKeyCreated:
    """Issue an API key: the old address of POST /admin/users/{user_id}/api-keys."""
    return await accounts.create_api_key(session, user_id, body, by)


@router.delete(
    "/admin/users/{user_id}/api-keys/{api_key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    **answering({404: "no such user, or no such key of theirs"}),
)
async def revoke_api_key(
    user_id: uuid.UUID, api_key_id: uuid.UUID, by: Administrator, session: SessionDep
) -> None:
    """Revoke an API key: it stops at once (revoking twice is harmless)."""
    await accounts.revoke_api_key(session, user_id, api_key_id, by)
