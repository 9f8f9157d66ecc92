"""HTTP API of the lists service (internal: the gateway and other services call it)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field

from relata_common.fields import STANDARD_FIELDS, FieldSpec
from relata_common.web import IfMatchDep, SessionDep, with_etag
from relata_lists import browsing, clock, definitions, facts
from relata_lists.compiler import Compiler
from relata_lists.membership import NODE, ListDef, evaluate_fully
from relata_lists.readmodel import Cause
from relata_lists.settings import ListsSettings

lists_router = APIRouter(prefix="/lists", tags=["lists"])
filters_router = APIRouter(tags=["filters"])
facts_router = APIRouter(prefix="/relations/{relation_id}", tags=["facts"])
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200, description="the page before's ``next``")]


class FieldInfo(BaseModel):
    name: str
    label: str
    type: str
    operators: list[str]
    choices: list[str] = []


class Catalogue(BaseModel):
    fields: list[FieldInfo]
    criteria: list[str] = Field(
        description="kinds of criteria besides fields",
        default=["function", "contact", "donations", "registration", "in_list"],
    )
    custom_fields_available: bool


class FilterBody(BaseModel):
    filter: dict[str, Any]


async def _custom(request: Request) -> dict[str, FieldSpec]:
    return await request.app.state.custom_fields.get()


def _settings(request: Request) -> ListsSettings:
    """The service's settings, where the filter size limits are configured."""
    settings: ListsSettings = request.app.state.settings
    return settings


@filters_router.get("/fields")
async def field_catalogue(request: Request) -> Catalogue:
    """Every filterable field with its operators, custom fields included."""
    custom = await _custom(request)
    specs = [*STANDARD_FIELDS.values(), *custom.values()]
    return Catalogue(
        fields=[
            FieldInfo(
                name=s.name,
                label=s.label,
                type=s.type,
                operators=list(s.operators),
                choices=list(s.choices),
            )
            for s in specs
        ],
        custom_fields_available=request.app.state.custom_fields.available,
    )


async def _parse(request: Request, session: Any, raw: Any) -> Any:
    return definitions.parse_filter(
        raw,
        custom=await _custom(request),
        known_lists=await definitions.known_list_ids(session),
        max_depth=_settings(request).max_filter_depth,
        max_nodes=_settings(request).max_filter_nodes,
    )


@filters_router.post("/evaluate")
async def evaluate_filter(
    body: FilterBody,
    request: Request,
    session: SessionDep,
    limit: Limit = 50,
    cursor: str | None = None,
) -> browsing.Page:
    """Ad-hoc evaluation: the count and a sorted page of matching relations."""
    node = await _parse(request, session, body.filter)
    return await browsing.evaluate(
        session,
        node=node,
        compiler=Compiler(clock.today(), await _custom(request)),
        limit=limit,
        cursor=cursor,
        threshold=request.app.state.settings.browse_threshold,
    )


class MatchingIds(BaseModel):
    count: int
    relation_ids: list[uuid.UUID]


@filters_router.post("/evaluate/ids")
async def evaluate_filter_ids(
    body: FilterBody, request: Request, session: SessionDep
) -> MatchingIds:
    """Every relation matching a filter now (to freeze a selection)."""
    node = await _parse(request, session, body.filter)
    ids = await browsing.matching_ids(
        session, node=node, compiler=Compiler(clock.today(), await _custom(request))
    )
    return MatchingIds(count=len(ids), relation_ids=ids)


@filters_router.get("/relations/{relation_id}/lists")
async def lists_of_relation(
    relation_id: uuid.UUID, session: SessionDep
) -> list[browsing.ListMembership]:
    """The lists a relation is in now."""
    return await browsing.lists_of(session, relation_id)


LOOKUP_MAX = 1000
"""Relations whose lists one lookup answers."""


class RelationIds(BaseModel):
    ids: list[uuid.UUID] = Field(max_length=LOOKUP_MAX, description="relations to look up")


@filters_router.post("/relations/lists/lookup")
async def lists_of_relations(
    body: RelationIds, session: SessionDep
) -> dict[str, list[browsing.ListMembership]]:
    """The lists each of these relations is in now, by relation id: what
    ``GET /relations/{id}/lists`` answers for each, in one call (a page of the queue or of a
    list asks for a hundred relations at once)."""
    return await browsing.lists_of_many(session, body.ids)


@lists_router.post("", status_code=status.HTTP_201_CREATED)
async def create_list(
    body: definitions.ListInput, request: Request, session: SessionDep, response: Response
) -> definitions.ListOut:
    """Save a filter as a relation list; its members are evaluated at once."""
    saved, _ = await definitions.save_list(
        session,
        data=body,
        custom=await _custom(request),
        max_depth=_settings(request).max_filter_depth,
        max_nodes=_settings(request).max_filter_nodes,
    )
    response.headers["Location"] = f"/lists/{saved.list_id}"
    return with_etag(response, saved)


@lists_router.get("")
async def all_lists(session: SessionDep, view_id: str | None = None) -> list[definitions.ListOut]:
    """Every relation list, or those of one view."""
    return await definitions.all_lists(session, view_id)


@lists_router.get("/{list_id}")
async def get_list(
    list_id: uuid.UUID, session: SessionDep, response: Response
) -> definitions.ListOut:
    """One relation list with its member count."""
    return with_etag(response, await definitions.get_list(session, list_id))


@lists_router.put("/{list_id}")
async def change_list(
    list_id: uuid.UUID,
    body: definitions.ListInput,
    request: Request,
    session: SessionDep,
    version: IfMatchDep,
    response: Response,
) -> definitions.ListOut:
    """Change a list's definition (If-Match); the difference in members is announced."""
    saved, _ = await definitions.save_list(
        session,
        data=body,
        custom=await _custom(request),
        list_id=list_id,
        expected_version=version,
        max_depth=_settings(request).max_filter_depth,
        max_nodes=_settings(request).max_filter_nodes,
    )
    return with_etag(response, saved)


@lists_router.delete("/{list_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_list(list_id: uuid.UUID, session: SessionDep) -> None:
    """Delete a list; its members leave it (and that is announced)."""
    await definitions.delete_list(session, list_id=list_id)


@lists_router.get("/{list_id}/members")
async def list_members(
    list_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    limit: Limit = 50,
    cursor: str | None = None,
) -> browsing.Page:
    """Members, sorted by name and paged; a list too large to browse gives its count."""
    return await browsing.members(
        session,
        list_id=list_id,
        limit=limit,
        cursor=cursor,
        threshold=request.app.state.settings.browse_threshold,
    )


class Evaluation(BaseModel):
    entered: int
    left: int


@lists_router.post("/{list_id}/evaluation")
async def reevaluate_list(list_id: uuid.UUID, request: Request, session: SessionDep) -> Evaluation:
    """Re-evaluate a list in full now (relative dates move with time)."""
    found = await definitions.get_list(session, list_id)
    node = NODE.validate_python(found.filter)
    item = ListDef(list_id, found.name, node, frozenset(), frozenset(), found.relative)
    changes = await evaluate_fully(
        session,
        item,
        today=clock.today(),
        custom=await _custom(request),
        cause=Cause(None, "evaluation.requested"),
    )
    mine = [c for c in changes if c.list_id == list_id]
    return Evaluation(entered=sum(c.entered for c in mine), left=sum(not c.entered for c in mine))


@lists_router.get("/{list_id}/members-at")
async def members_at(list_id: uuid.UUID, at: datetime, session: SessionDep) -> list[uuid.UUID]:
    """Who was in the list at a given moment."""
    await definitions.require_list(session, list_id)
    return await browsing.members_at(session, list_id=list_id, at=at)


@lists_router.get("/{list_id}/members/{relation_id}/history")
async def membership_history(
    list_id: uuid.UUID, relation_id: uuid.UUID, session: SessionDep
) -> list[browsing.MembershipRecord]:
    """When a relation entered and left the list, and why, newest first."""
    await definitions.require_list(session, list_id)
    return await browsing.why(session, list_id=list_id, relation_id=relation_id)


@facts_router.get("/donations/summary")
async def donation_summary(relation_id: uuid.UUID, session: SessionDep) -> facts.DonationSummary:
    """A relation's donations in short: count, totals per currency, first and last gift."""
    return await facts.donation_summary(session, relation_id)


@facts_router.get("/facts")
async def card_facts(
    relation_id: uuid.UUID,
    session: SessionDep,
    events: Annotated[int, Query(ge=1, le=50)] = 5,
) -> facts.CardFacts:
    """What a relation card shows of a relation's facts: the donation summary and the
    ``events`` latest events registered for, in one call."""
    return await facts.card_facts(session, relation_id, events=events)


@facts_router.get("/donations")
async def donations(
    relation_id: uuid.UUID, session: SessionDep, limit: Limit = 50, after: Cursor = None
) -> facts.DonationPage:
    """A relation's donations, newest first, a page at a time."""
    return await facts.donations(session, relation_id, limit=limit, after=after)


@facts_router.get("/registrations")
async def registrations(
    relation_id: uuid.UUID, session: SessionDep, limit: Limit = 50, after: Cursor = None
) -> facts.RegistrationPage:
    """The events a relation registered for, newest first, each with its registrations."""
    return await facts.registrations(session, relation_id, limit=limit, after=after)


ROUTERS = (filters_router, lists_router, facts_router)
