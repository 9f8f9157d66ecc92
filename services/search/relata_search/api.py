"""The search service's HTTP API: typeahead search within views, and the rebuild trigger."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from relata_common.db import transaction
from relata_common.errors import InvalidInput
from relata_search.index import Page, SearchIndex, decode_cursor, encode_cursor
from relata_search.ranking import (
    INDEX_FIELD_OF,
    QueryPlan,
    allowed_sources,
    explained,
    matched_field,
    plan_query,
    restricted,
)
from relata_search.readmodel import start_rebuild

search_router = APIRouter(tags=["search"])
admin_router = APIRouter(prefix="/admin", tags=["admin"])


class SearchResult(BaseModel):
    relation_id: uuid.UUID
    relation_type: str
    display_name: str
    relation_number: int
    matched_field: str | None
    matched_value: str | None
    score: float


class SearchPage(BaseModel):
    results: list[SearchResult]
    next: str | None


def parse_views(views: str) -> list[str]:
    """'id,id' → canonical list ids; a view id is the list id of its base filter for now."""
    try:
        return [str(uuid.UUID(v.strip())) for v in views.split(",") if v.strip()]
    except ValueError:
        raise InvalidInput.single(("query", "views"), "views are comma-separated ids") from None


def parse_fields(fields: str | None) -> frozenset[str] | None:
    """'last_name,city' → the document fields a search may match on; None: every field."""
    if fields is None:
        return None
    names = frozenset(f.strip() for f in fields.split(",") if f.strip())
    unknown = sorted(names - INDEX_FIELD_OF.keys())
    if unknown:
        searchable = ", ".join(INDEX_FIELD_OF)
        raise InvalidInput.single(
            ("query", "fields"), f"cannot search on {', '.join(unknown)}; fields: {searchable}"
        )
    return names


def page_body(page: Page, plan: QueryPlan, allowed: frozenset[str] | None = None) -> dict:
    results = []
    for hit in page.hits:
        document = hit.document
        sources = hit.sources if allowed is None else allowed_sources(hit.sources, allowed)
        if allowed is not None and not explained(plan, sources):
            continue  # it matched only through a name part the caller may not see
        matched = matched_field(plan, sources)
        results.append(
            {
                "relation_id": document["relation_id"],
                "relation_type": document["relation_type"],
                "display_name": document["display_name"],
                "relation_number": document["relation_number"],
                "matched_field": matched[0] if matched else None,
                "matched_value": matched[1] if matched else None,
                "score": hit.score,
            }
        )
    next_cursor = encode_cursor(page.next_offset) if page.next_offset is not None else None
    return {"results": results, "next": next_cursor}


@search_router.get("/search", response_model=SearchPage)
async def search(
    request: Request,
    q: Annotated[str, Query(max_length=200, description="what the user typed so far")],
    views: Annotated[str, Query(description="comma-separated view (list) ids the caller sees")],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    fields: Annotated[
        str | None,
        Query(
            max_length=500,
            description="comma-separated fields a hit may match on, those the caller may see "
            "(every field when left out); a page can then hold fewer than `limit` hits",
        ),
    ] = None,
) -> Response:
    """Relations matching what was typed, best first, within the named views."""
    try:
        offset = decode_cursor(cursor)
    except ValueError:
        raise InvalidInput.single(("query", "cursor"), "not a cursor from this search") from None
    state = request.app.state
    limit = min(limit, state.settings.search_max_limit)
    # tantivy releases the GIL while it searches: on a thread the event loop keeps serving
    # HTTP meanwhile, and a second search runs on another core.
    body = await asyncio.get_running_loop().run_in_executor(
        state.search_threads,
        answer,
        state.index,
        q,
        parse_views(views),
        limit,
        offset,
        parse_fields(fields),
    )
    return Response(body, media_type="application/json")


def answer(
    index: SearchIndex,
    q: str,
    views: list[str],
    limit: int,
    offset: int,
    allowed: frozenset[str] | None = None,
) -> bytes:
    """The response body of one search (runs on a search thread)."""
    plan = plan_query(q) if allowed is None else restricted(plan_query(q), allowed)
    page = index.search(plan, views=views, limit=limit, offset=offset)
    return orjson.dumps(page_body(page, plan, allowed))


@admin_router.post("/rebuild", status_code=202)
async def rebuild(request: Request) -> dict[str, int]:
    """Empty the read model and every index, then replay the topics from the beginning."""
    async with transaction(request.app.state.sessions) as session:
        generation = await start_rebuild(session)
    request.app.state.follower.wake()
    return {"generation": generation}


ROUTERS = (search_router, admin_router)
