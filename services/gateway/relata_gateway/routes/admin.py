"""Administration: users, API keys, views with their forms and grants, custom fields
(functional administrators only)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from relata_common.errors import InvalidInput
from relata_gateway import views
from relata_gateway.deps import AdminDep, ServicesDep, SessionDep, views_changing
from relata_gateway.models import api_keys, users
from relata_gateway.rights import DEFAULT_KEY_SCOPES, Scope
from relata_gateway.routes import rules
from relata_gateway.security import hash_password, new_api_key

router = APIRouter(tags=["administration"])


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


@router.post("/users", status_code=status.HTTP_201_CREATED)
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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "Import from the website", "scopes": ["read", "write"]},
                {"name": "Outlook add-in of Anna", "scopes": ["mail.ingest"]},
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(
        default_factory=lambda: list(DEFAULT_KEY_SCOPES),
        min_length=1,
        description="what the key may do as its user; read and write when left out",
    )


class ApiKeyOut(BaseModel):
    api_key_id: uuid.UUID
    key: str = Field(description="shown once: store it now")


@router.post("/users/{user_id}/api-keys", status_code=status.HTTP_201_CREATED)
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
            id=key_id,
            user_id=user_id,
            name=body.name,
            prefix=key[:8],
            key_hash=key_hash,
            scopes=[s.value for s in dict.fromkeys(body.scopes)],
        )
    )
    return ApiKeyOut(api_key_id=key_id, key=key)


@router.post("/admin/views", status_code=status.HTTP_201_CREATED)
async def create_view(
    body: views.ViewInput, _: AdminDep, request: Request, services: ServicesDep
) -> views.ViewOut:
    """Define a view: base filter, relation form; its 'All relations' list is created. A form
    places action buttons with a tab's ``buttons`` (ids of button rules)."""
    await rules.check_placed_buttons(services, body.form)
    async with views_changing(request) as session:
        return await views.create_view(session, services, body)


class GrantInput(BaseModel):
    user_id: uuid.UUID
    can_edit: bool = False


@router.put("/admin/views/{view_id}/grants", status_code=status.HTTP_204_NO_CONTENT)
async def grant_view(view_id: uuid.UUID, body: GrantInput, _: AdminDep, request: Request) -> None:
    """Grant a user a view, read-only or with edit rights."""
    async with views_changing(request) as session:
        await views.grant(session, user_id=body.user_id, view_id=view_id, can_edit=body.can_edit)


@router.post("/admin/custom-fields", status_code=status.HTTP_201_CREATED)
async def define_custom_field(body: dict[str, Any], _: AdminDep, services: ServicesDep) -> Any:
    """Define a custom field (kept by the relations service)."""
    response = await services.relations.call("POST", "/custom-fields", json=body)
    return response.json()
