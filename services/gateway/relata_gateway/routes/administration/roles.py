"""Rights and roles (administration): a role is a named set of rights."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from relata_gateway import accounts
from relata_gateway.deps import SessionDep, views_changing
from relata_gateway.routes.administration.common import ADMIN, Administrator, answering

router = APIRouter(tags=["administration"])

RoleName = Annotated[
    str, Path(pattern=accounts.ROLE_NAME, description="lower case letters, digits, - and _")
]


@router.get("/admin/rights", **ADMIN)
async def list_rights(_: Administrator) -> list[accounts.RightOut]:
    """Every right a role can hold, with its labels in Dutch and English."""
    return accounts.every_right()


@router.get("/admin/roles", **ADMIN)
async def list_roles(_: Administrator, session: SessionDep) -> list[accounts.RoleOut]:
    """Every role with its rights, labels and how many users have it."""
    return await accounts.list_roles(session)


@router.get("/admin/roles/{role}", **answering({404: "no such role"}))
async def get_role(role: RoleName, _: Administrator, session: SessionDep) -> accounts.RoleOut:
    """One role."""
    return await accounts.role(session, role)


@router.put(
    "/admin/roles/{role}",
    **answering(
        {
            201: "the role was created (200: it was changed)",
            422: "an unknown right, or fewer than every right for the admin role",
        }
    ),
)
async def save_role(
    role: RoleName,
    body: accounts.RoleInput,
    _: Administrator,
    request: Request,
    response: Response,
) -> accounts.RoleOut:
    """Create a role or change its labels and rights (every user with it has the new rights
    at once). The admin role always keeps every right."""
    async with views_changing(request) as session:
        saved, created = await accounts.save_role(session, role, body)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return saved


@router.delete(
    "/admin/roles/{role}",
    status_code=status.HTTP_204_NO_CONTENT,
    **answering({404: "no such role", 409: "a built-in role, or users still have it"}),
)
async def delete_role(role: RoleName, _: Administrator, request: Request) -> None:
    """Delete a role no user has (its grants go with it); admin and staff stay."""
    async with views_changing(request) as session:
        await accounts.delete_role(session, role)
