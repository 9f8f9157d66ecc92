"""Views, their forms and who may use them (administration)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict

from relata_common.web import IfMatchDep, etag
from relata_gateway import accounts, view_definitions, views
from relata_gateway.deps import ServicesDep, SessionDep, views_changing
from relata_gateway.routes import rules
from relata_gateway.routes.administration.common import ADMIN, Administrator, answering

router = APIRouter(prefix="/admin/views", tags=["administration"])

NO_VIEW = {404: "no such view"}
BAD_VIEW = "a field is invalid: the form names an unknown field or labels one it does not show"


@router.get("", **ADMIN)
async def list_views(_: Administrator, session: SessionDep) -> list[view_definitions.AdminViewOut]:
    """Every view with its base filter, form and lists, by name."""
    return await view_definitions.list_views(session)


@router.post(
    "", status_code=status.HTTP_201_CREATED, **answering({409: "the name is taken", 422: BAD_VIEW})
)
async def create_view(
    body: views.ViewInput, _: Administrator, request: Request, services: ServicesDep
) -> views.ViewOut:
    """Define a view: base filter, relation form; its 'All relations' list is created. A form
    places action buttons with a tab's ``buttons`` (ids of button rules)."""
    await rules.check_placed_buttons(services, body.form)
    async with views_changing(request) as session:
        return await views.create_view(session, services, body)


@router.get("/{view_id}", **answering(NO_VIEW, etag=True))
async def get_view(
    view_id: uuid.UUID, _: Administrator, session: SessionDep, response: Response
) -> view_definitions.AdminViewOut:
    """One view, with its version as ETag."""
    found = await view_definitions.get_view(session, view_id)
    response.headers["ETag"] = etag(found.version)
    return found


@router.put(
    "/{view_id}",
    **answering(
        {
            404: "no such view",
            409: "the name is taken",
            412: "the view changed since it was read (If-Match)",
            422: BAD_VIEW,
            428: "If-Match is missing",
        },
        etag=True,
    ),
)
async def update_view(
    view_id: uuid.UUID,
    _: Administrator,  # first: a caller without the right learns nothing, not even about If-Match
    body: views.ViewInput,
    version: IfMatchDep,
    request: Request,
    services: ServicesDep,
    response: Response,
) -> view_definitions.AdminViewOut:
    """Change a view's name, base filter and form (If-Match). A new base filter re-evaluates
    the view's 'All relations' list at once (its other lists follow); a new form shows on
    every card from the next request."""
    await rules.check_placed_buttons(services, body.form)
    async with views_changing(request) as session:
        changed = await view_definitions.update_view(session, services, view_id, body, version)
    response.headers["ETag"] = etag(changed.version)
    return changed


@router.delete(
    "/{view_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    **answering({404: "no such view", 409: "selections were made in the view"}),
)
async def delete_view(
    view_id: uuid.UUID, _: Administrator, request: Request, services: ServicesDep
) -> None:
    """Delete a view with its lists and grants. Refused (409) while selections made in it
    exist: they are frozen sets made for a purpose, deleted on their own first."""
    async with views_changing(request) as session:
        lists = await view_definitions.delete_view(session, view_id)
    await view_definitions.delete_lists(services, lists)


# --- grants ------------------------------------------------------------------------------------


@router.get("/{view_id}/grants", **answering(NO_VIEW))
async def view_grants(
    view_id: uuid.UUID, _: Administrator, session: SessionDep
) -> view_definitions.ViewGrants:
    """Who may use the view: users and roles, each read-only or with edit rights (a user's
    own grant and their role's add up; administrators have every view)."""
    return await view_definitions.grants_of(session, view_id)


class GrantInput(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"user_id": "5f0c7a52-9d7e-4d33-9d8c-0d6b1f2e8a11", "can_edit": True}]
        }
    )

    user_id: uuid.UUID
    can_edit: bool = False


@router.put(
    "/{view_id}/grants",
    status_code=status.HTTP_204_NO_CONTENT,
    **answering({404: "no such view", 422: "no such user"}),
)
async def grant_view(
    view_id: uuid.UUID, body: GrantInput, _: Administrator, request: Request
) -> None:
    """Grant a user a view, read-only or with edit rights (the same as
    PUT /admin/views/{view_id}/grants/users/{user_id})."""
    async with views_changing(request) as session:
        await views.grant(session, user_id=body.user_id, view_id=view_id, can_edit=body.can_edit)


@router.put(
    "/{view_id}/grants/users/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    **answering({404: "no such view or user"}),
)
async def grant_user(
    view_id: uuid.UUID,
    user_id: uuid.UUID,
    body: view_definitions.GrantRight,
    _: Administrator,
    request: Request,
) -> None:
    """Grant a user the view, read-only or with edit rights (or change it)."""
    async with views_changing(request) as session:
        await accounts.get_user(session, user_id)
        await views.grant(session, user_id=user_id, view_id=view_id, can_edit=body.can_edit)


@router.delete(
    "/{view_id}/grants/users/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    **answering(NO_VIEW),
)
async def revoke_user(
    view_id: uuid.UUID, user_id: uuid.UUID, _: Administrator, request: Request
) -> None:
    """Take the view from a user (a grant to their role stays); harmless when not granted."""
    async with views_changing(request) as session:
        await view_definitions.revoke_user(session, user_id=user_id, view_id=view_id)


@router.put(
    "/{view_id}/grants/roles/{role}",
    status_code=status.HTTP_204_NO_CONTENT,
    **answering({404: "no such view or role"}),
)
async def grant_role(
    view_id: uuid.UUID,
    role: str,
    body: view_definitions.GrantRight,
    _: Administrator,
    request: Request,
) -> None:
    """Grant everyone with a role the view, read-only or with edit rights (or change it)."""
    async with views_changing(request) as session:
        await view_definitions.grant_role(
            session, role=role, view_id=view_id, can_edit=body.can_edit
        )


@router.delete(
    "/{view_id}/grants/roles/{role}",
    status_code=status.HTTP_204_NO_CONTENT,
    **answering(NO_VIEW),
)
async def revoke_role(view_id: uuid.UUID, role: str, _: Administrator, request: Request) -> None:
    """Take the view from a role (users' own grants stay); harmless when not granted."""
    async with views_changing(request) as session:
        await view_definitions.revoke_role(session, role=role, view_id=view_id)
