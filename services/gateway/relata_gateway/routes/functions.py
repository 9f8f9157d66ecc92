"""Functions as a view shows and keeps them: dated roles between two relations ("Jan is
director of Acme"), from the role catalogue. A function is shown on both relations' cards; its
other relation is named only when the view shows it. Changing one needs an editable view whose
form shows functions, and both its relations in the view (404 otherwise)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from relata_gateway import cache, pages, views
from relata_gateway.cards import CardContext, require_visible, visible_ids
from relata_gateway.deps import SessionDep, UserDep, card_context, editable, needs_section
from relata_gateway.security import User

router = APIRouter(tags=["functions"])

_JAN = "0b6f3c3e-8f7e-4d47-9a43-3c1f0f8f0a11"
_ACME = "7c2d9a4e-1b3f-4e8a-b5c6-d7e8f9a0b1c2"
_FUNCTION = "a4f6c8e0-2b4d-4f6a-8c0e-2a4c6e8a0c2e"


# --- the role catalogue ------------------------------------------------------------------------


class FunctionRole(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "director",
                    "label": "Director",
                    "subject_types": ["person"],
                    "object_types": ["organisation"],
                }
            ]
        }
    )

    code: str
    label: str
    subject_types: list[str] = Field(description="relation types that can hold the role")
    object_types: list[str] = Field(description="relation types the role is held at")


@router.get("/roles/functions")
async def function_roles(user: UserDep, request: Request) -> list[FunctionRole]:
    """The roles a function can have (any logged-in user)."""
    del user  # logged in is enough: the catalogue names no relation
    roles = await request.app.state.services.relations.call("GET", "/roles")
    return [FunctionRole.model_validate(r) for r in roles.body]


# --- reading -----------------------------------------------------------------------------------


class NamedFunction(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "function_id": _FUNCTION,
                    "role": "director",
                    "role_label": "Director",
                    "subject_id": _JAN,
                    "subject_name": "Jan de Vries",
                    "object_id": _ACME,
                    "object_name": "Acme BV",
                    "start_date": "2020-01-01",
                    "end_date": None,
                    "active": True,
                }
            ]
        }
    )

    function_id: uuid.UUID
    role: str
    role_label: str
    subject_id: uuid.UUID | None = Field(
        description="who holds the role; null when the view does not show that relation"
    )
    subject_name: str | None
    object_id: uuid.UUID | None = Field(
        description="where the role is held; null when the view does not show that relation"
    )
    object_name: str | None
    start_date: date
    end_date: date | None = None
    active: bool


async def _named(
    ctx: CardContext, view: views.View, functions: list[dict[str, Any]]
) -> list[NamedFunction]:
    """Functions with role labels and their relations' names, naming only relations the view
    shows (the relation a card is about is one of them)."""
    ids = {f[side] for f in functions for side in ("subject_id", "object_id")}
    roles, shown = await asyncio.gather(
        ctx.services.relations.call("GET", "/roles"),
        visible_ids(ctx, view, sorted(ids)),
    )
    labels = {r["code"]: r["label"] for r in roles.body}
    names = await pages.names(ctx, view, [{"relation_id": r} for r in shown])
    return [
        NamedFunction(
            function_id=f["function_id"],
            role=f["role"],
            role_label=labels.get(f["role"], f["role"]),
            subject_id=f["subject_id"] if f["subject_id"] in shown else None,
            subject_name=names.get(f["subject_id"]),
            object_id=f["object_id"] if f["object_id"] in shown else None,
            object_name=names.get(f["object_id"]),
            start_date=f["start_date"],
            end_date=f.get("end_date"),
            active=f["active"],
        )
        for f in functions
    ]


@router.get(
    "/views/{view_id}/relations/{relation_id}/functions",
    responses={
        403: {"description": "the view's form does not show functions"},
        404: {"description": "the view does not show the relation"},
    },
)
async def relation_functions(
    view_id: uuid.UUID, relation_id: uuid.UUID, user: UserDep, request: Request, session: SessionDep
) -> list[NamedFunction]:
    """The functions the relation holds and those held at it (a person's card and an
    organisation's), oldest first, with role labels and the other relation's name when the
    view shows that relation (else only the role)."""
    view = await views.access(session, user, view_id)
    needs_section(view, "functions")
    ctx = card_context(request)
    await require_visible(ctx, view, relation_id)
    functions = await ctx.services.relations.call(
        "GET", f"/relations/{relation_id}/functions", params={"side": "both"}
    )
    return await _named(ctx, view, functions.body)


# --- changing ----------------------------------------------------------------------------------


class FunctionInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"role": "director", "object_id": _ACME, "start_date": "2020-01-01"}]
        },
    )

    role: str = Field(min_length=1, max_length=63, description="a code of the role catalogue")
    object_id: uuid.UUID = Field(description="where the role is held (a relation of the view)")
    start_date: date
    end_date: date | None = None

    @model_validator(mode="after")
    def _dates(self) -> FunctionInput:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date lies before start_date")
        return self


class FunctionDates(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"end_date": "2026-12-31"}, {"start_date": "2019-09-01"}]},
    )

    start_date: date | None = None
    end_date: date | None = Field(default=None, description="null: the function has no end")

    @model_validator(mode="after")
    def _something(self) -> FunctionDates:
        if not self.model_fields_set:
            raise ValueError("give start_date, end_date or both")
        if "start_date" in self.model_fields_set and self.start_date is None:
            raise ValueError("a function always has a start_date")
        return self


class FunctionEnd(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}]})

    end_date: date = Field(default_factory=date.today, description="the last day; default today")


_CHANGE_ANSWERS: dict[int | str, dict[str, Any]] = {
    403: {"description": "the view is read-only or its form does not show functions"},
    404: {"description": "no such function, or the view does not show both its relations"},
    422: {"description": "dates out of order, or a role that does not fit the relations"},
}


async def _editing(
    view_id: uuid.UUID, user: User, session: SessionDep, request: Request
) -> tuple[views.View, CardContext]:
    view = await views.access(session, user, view_id)
    editable(view)
    needs_section(view, "functions")
    return view, card_context(request)


@router.post(
    "/views/{view_id}/relations/{relation_id}/functions",
    status_code=status.HTTP_201_CREATED,
    responses=_CHANGE_ANSWERS,
)
async def add_function(
    view_id: uuid.UUID,
    relation_id: uuid.UUID,
    user: UserDep,
    body: FunctionInput,
    request: Request,
    session: SessionDep,
    response: Response,
) -> NamedFunction:
    """Give the relation a role at another relation of the view (``object_id``), from a date."""
    view, ctx = await _editing(view_id, user, session, request)
    await require_visible(ctx, view, relation_id)
    await require_visible(ctx, view, body.object_id)
    added = await ctx.services.relations.call(
        "POST",
        f"/relations/{relation_id}/functions",
        json=body.model_dump(mode="json"),
        actor=user.actor,
    )
    await _changed(ctx, added.body)
    response.headers["Location"] = f"/views/{view.id}/functions/{added.body['function_id']}"
    return (await _named(ctx, view, [added.body]))[0]


async def _function_in_view(
    ctx: CardContext, view: views.View, function_id: uuid.UUID
) -> dict[str, Any]:
    """The function, or 404 unless the view shows both its relations."""
    function = (await ctx.services.relations.call("GET", f"/functions/{function_id}")).body
    for side in ("subject_id", "object_id"):
        await require_visible(ctx, view, uuid.UUID(function[side]))
    return function


async def _changed(ctx: CardContext, function: dict[str, Any]) -> None:
    """A function belongs to its holder: the holder's cached state (its functions, its
    version) is stale now."""
    await cache.invalidate(ctx.redis, function["subject_id"], "relation")


@router.patch("/views/{view_id}/functions/{function_id}", responses=_CHANGE_ANSWERS)
async def change_function(
    view_id: uuid.UUID,
    function_id: uuid.UUID,
    user: UserDep,
    body: FunctionDates,
    request: Request,
    session: SessionDep,
) -> NamedFunction:
    """Change a function's dates; an end date ends it, null takes the end away."""
    view, ctx = await _editing(view_id, user, session, request)
    await _function_in_view(ctx, view, function_id)
    return await _change(
        ctx, view, function_id, body.model_dump(mode="json", exclude_unset=True), user
    )


@router.post("/views/{view_id}/functions/{function_id}/end", responses=_CHANGE_ANSWERS)
async def end_function(
    view_id: uuid.UUID,
    function_id: uuid.UUID,
    user: UserDep,
    body: FunctionEnd,
    request: Request,
    session: SessionDep,
) -> NamedFunction:
    """End a function: its last day is ``end_date`` (today when left out). Remove a function
    only when it was entered by mistake."""
    view, ctx = await _editing(view_id, user, session, request)
    await _function_in_view(ctx, view, function_id)
    return await _change(ctx, view, function_id, body.model_dump(mode="json"), user)


async def _change(
    ctx: CardContext, view: views.View, function_id: uuid.UUID, dates: dict[str, Any], user: User
) -> NamedFunction:
    changed = await ctx.services.relations.call(
        "PATCH", f"/functions/{function_id}", json=dates, actor=user.actor
    )
    await _changed(ctx, changed.body)
    return (await _named(ctx, view, [changed.body]))[0]


@router.delete(
    "/views/{view_id}/functions/{function_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_CHANGE_ANSWERS,
)
async def remove_function(
    view_id: uuid.UUID, function_id: uuid.UUID, user: UserDep, request: Request, session: SessionDep
) -> None:
    """Remove a function entered by mistake (end it when it really ended: history keeps it)."""
    view, ctx = await _editing(view_id, user, session, request)
    function = await _function_in_view(ctx, view, function_id)
    await ctx.services.relations.call("DELETE", f"/functions/{function_id}", actor=user.actor)
    await _changed(ctx, function)
