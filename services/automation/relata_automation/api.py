"""HTTP API of the automation service (internal: the gateway and other modules call it)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from relata_automation import (
    bulk,
    duplicates,
    merge_rules,
    properties,
    references,
    review,
    rules,
)
from relata_automation.batch import run_batch
from relata_automation.blocking import blocking_keys, profile_of
from relata_automation.clients import Services
from relata_automation.scoring import score
from relata_common.db import asyncpg_dsn, transaction
from relata_common.errors import NotFound
from relata_common.logging import get_logger
from relata_common.web import ActorDep, SessionDep

log = get_logger(__name__)

duplicates_router = APIRouter(prefix="/duplicates", tags=["duplicates"])
merge_rules_router = APIRouter(prefix="/merge-rules", tags=["merge rules"])
properties_router = APIRouter(tags=["generated properties"])
bulk_router = APIRouter(prefix="/bulk-edits", tags=["bulk edits"])
rules_router = APIRouter(prefix="/rules", tags=["adjustment rules"])
references_router = APIRouter(tags=["references"])
Limit = Annotated[int, Query(ge=1, le=500)]
NIL = uuid.UUID(int=0)


def _services(request: Request) -> Services:
    return request.app.state.services


# --- duplicates --------------------------------------------------------------------------------


@duplicates_router.get("")
async def review_queue(
    session: SessionDep,
    status: Literal["open", "merging", "merged", "rejected", "closed"] = "open",
    min_stars: Annotated[int, Query(ge=1, le=5)] = 1,
    limit: Limit = 50,
    cursor: str | None = None,
) -> review.QueuePage:
    """The review queue: candidate pairs, most stars first, with the points for and against."""
    return await review.queue(
        session, status=status, min_stars=min_stars, limit=limit, cursor=cursor
    )


@duplicates_router.get("/{pair_id}")
async def get_pair(pair_id: uuid.UUID, session: SessionDep) -> review.PairOut:
    """One candidate pair with its score, explanation and decision."""
    return await review.get_pair(session, pair_id)


@duplicates_router.post("/{pair_id}/decision")
async def decide(
    pair_id: uuid.UUID, body: review.Decision, request: Request, actor: ActorDep
) -> review.PairOut:
    """Merge the pair (through the relations service) or mark it not a duplicate; either way
    the decision is remembered and the pair never proposed again."""
    return await review.decide(
        request.app.state.sessions, _services(request), pair_id=pair_id, decision=body, actor=actor
    )


class RelationCheck(BaseModel):
    """A relation about to be created (a registration form, say), in the relations service's
    shape."""

    model_config = ConfigDict(extra="forbid")

    relation_type: Literal["person", "organisation"]
    fields: dict[str, Any]


class Candidate(BaseModel):
    relation_id: uuid.UUID
    stars: int
    points: int
    reasons: list[dict[str, Any]]


@duplicates_router.post("/check")
async def check(body: RelationCheck, session: SessionDep, request: Request) -> list[Candidate]:
    """Which existing relations a new one would duplicate, best first (nothing is stored)."""
    settings = request.app.state.settings
    profile = profile_of(body.relation_type, body.fields)
    found = await duplicates.candidates(
        session,
        NIL,
        blocking_keys(profile),
        max_block=settings.max_block,
        limit=settings.max_candidates,
    )
    results = []
    for relation_id, other in found.items():
        if other.relation_type != profile.relation_type:
            continue
        result = score(profile, other)
        if result.stars >= settings.min_stars:
            results.append(
                Candidate(
                    relation_id=relation_id,
                    stars=result.stars,
                    points=result.points,
                    reasons=result.reasons_as_dicts(),
                )
            )
    return sorted(results, key=lambda c: (-c.stars, -c.points))


class BatchRun(BaseModel):
    run_id: uuid.UUID
    started_at: Any
    finished_at: Any | None
    relations: int | None
    candidates: int | None
    proposed: int | None
    seconds: str | None


@duplicates_router.post("/batch", status_code=status.HTTP_202_ACCEPTED)
async def start_batch(request: Request, response: Response) -> BatchRun:
    """Look for duplicates among all relations now, in the background; poll the run."""
    settings = request.app.state.settings
    run_id = uuid.uuid4()

    async def run() -> None:
        connection = await asyncpg.connect(asyncpg_dsn(settings.database_url))
        try:
            await run_batch(
                connection,
                min_stars=settings.min_stars,
                max_block=settings.max_block,
                run_id=run_id,
            )
        except Exception as error:
            log.error("duplicate batch failed", run_id=str(run_id), error=repr(error))
        finally:
            await connection.close()

    async with transaction(request.app.state.sessions) as session:
        await session.execute(text("INSERT INTO batch_runs (run_id) VALUES (:r)"), {"r": run_id})
    # Kept on the app so the task is not garbage-collected while it runs.
    request.app.state.batches[run_id] = asyncio.create_task(run())
    response.headers["Location"] = f"/duplicates/batch/{run_id}"
    async with transaction(request.app.state.sessions) as session:
        return await _batch_run(session, run_id)


async def _batch_run(session: Any, run_id: uuid.UUID) -> BatchRun:
    row = (
        (await session.execute(text("SELECT * FROM batch_runs WHERE run_id = :r"), {"r": run_id}))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"batch run {run_id} does not exist")
    return BatchRun.model_validate(dict(row))


@duplicates_router.get("/batch/{run_id}")
async def batch_run(run_id: uuid.UUID, session: SessionDep) -> BatchRun:
    """A batch run: finished_at is set once it is done."""
    return await _batch_run(session, run_id)


@properties_router.get("/relations/{relation_id}/duplicates")
async def duplicates_of(relation_id: uuid.UUID, session: SessionDep) -> list[review.PairOut]:
    """The open candidate pairs of one relation, best first (for the relation card)."""
    pairs = await duplicates.open_pairs_of(session, relation_id)
    return [await review.get_pair(session, p.pair_id) for p in pairs]


# --- merge rules -------------------------------------------------------------------------------


@merge_rules_router.get("")
async def all_merge_rules(session: SessionDep) -> list[merge_rules.MergeRuleOut]:
    """Every merge rule, in the order they are tried."""
    return await merge_rules.all_rules(session)


@merge_rules_router.post("", status_code=status.HTTP_201_CREATED)
async def create_merge_rule(
    body: merge_rules.MergeRuleInput, session: SessionDep
) -> merge_rules.MergeRuleOut:
    """Add a merge rule (tried after the existing ones)."""
    return await merge_rules.create_rule(session, body)


@merge_rules_router.put("/{rule_id}")
async def replace_merge_rule(
    rule_id: uuid.UUID, body: merge_rules.MergeRuleInput, session: SessionDep
) -> merge_rules.MergeRuleOut:
    """Change a merge rule."""
    return await merge_rules.replace_rule(session, rule_id, body)


@merge_rules_router.delete("/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_merge_rule(rule_id: uuid.UUID, session: SessionDep) -> None:
    """Delete a merge rule."""
    await merge_rules.delete_rule(session, rule_id)


# --- generated properties ----------------------------------------------------------------------


class PropertyCreated(properties.PropertyOut):
    holders: int = Field(description="relations in the list now, who hold it from today")


@properties_router.post("/properties", status_code=status.HTTP_201_CREATED)
async def define_property(body: properties.PropertyInput, request: Request) -> PropertyCreated:
    """Define a property held while in a relation list; the list's members hold it at once."""
    members = await _services(request).list_member_ids(body.list_id)
    async with transaction(request.app.state.sessions) as session:
        created = await properties.define(session, body)
        await properties.fill(session, created, members)
    return PropertyCreated(**created.model_dump(), holders=len(members))


@properties_router.get("/properties")
async def all_properties(session: SessionDep) -> list[properties.PropertyOut]:
    """Every generated property."""
    return await properties.all_properties(session)


@properties_router.delete("/properties/{property_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_property(property_id: uuid.UUID, session: SessionDep) -> None:
    """Delete a generated property: nobody holds it any more."""
    await properties.delete(session, property_id)


@properties_router.get("/relations/{relation_id}/properties")
async def properties_of(
    relation_id: uuid.UUID, session: SessionDep
) -> list[properties.HeldProperty]:
    """The generated properties a relation holds now (for the relation card)."""
    return await properties.of_relation(session, relation_id)


# --- bulk edits --------------------------------------------------------------------------------


@bulk_router.post(
    "",
    responses={
        201: {"model": bulk.BulkEditOut, "description": "the batch, applied"},
        202: {"model": bulk.BulkEditOut, "description": "the batch, running (background)"},
    },
)
async def bulk_edit(
    body: bulk.BulkEditInput, request: Request, actor: ActorDep, response: Response
) -> bulk.DryRun | bulk.BulkEditOut:
    """Apply one change to every relation of a list or selection. With ``dry_run`` (the
    default) nothing changes: the answer says which relations would change, from what to what.
    Without it the change is made and recorded as one batch that can be undone; with
    ``background`` the answer comes at once and the batch shows its progress while it runs."""
    if body.dry_run:
        return await bulk.dry_run(_services(request), body)
    sessions, services = request.app.state.sessions, _services(request)
    if body.background:
        done, planned = await bulk.begin(sessions, services, body, actor)
        _in_background(request, done, body.change, planned, actor)
        response.status_code = status.HTTP_202_ACCEPTED
    else:
        done = await bulk.run(sessions, services, body, actor)
        response.status_code = status.HTTP_201_CREATED
    response.headers["Location"] = f"/bulk-edits/{done.batch_id}"
    return done


def _in_background(
    request: Request,
    batch: bulk.BulkEditOut,
    change: bulk.Change,
    planned: list[bulk.PlannedChange],
    actor: Any,
) -> None:
    sessions, services = request.app.state.sessions, _services(request)

    async def run() -> None:
        try:
            await bulk.apply(sessions, services, batch, change, planned, actor)
        except BaseException as error:  # cancelled at shutdown included: say it stopped
            log.error("bulk edit stopped", batch_id=str(batch.batch_id), error=repr(error))
            await asyncio.shield(bulk.interrupted(sessions, batch.batch_id))
            raise

    # Kept on the app so the task is not garbage-collected while it runs.
    running: set[asyncio.Task[None]] = request.app.state.bulk_runs
    task = asyncio.create_task(run())
    running.add(task)
    task.add_done_callback(running.discard)


@bulk_router.get("/{batch_id}")
async def get_bulk_edit(batch_id: uuid.UUID, session: SessionDep) -> bulk.BulkEditOut:
    """A bulk edit: what it changed, how many, by whom, and whether it was undone."""
    return await bulk.get_batch(session, batch_id)


@bulk_router.get("/{batch_id}/items")
async def bulk_edit_items(
    batch_id: uuid.UUID,
    session: SessionDep,
    limit: Limit = 100,
    after: uuid.UUID | None = None,
) -> list[bulk.BulkItem]:
    """Per relation: the outcome, the previous and new values (page on with ``after``)."""
    return await bulk.items(session, batch_id, limit=limit, after=after)


@bulk_router.post("/{batch_id}/undo")
async def undo_bulk_edit(batch_id: uuid.UUID, request: Request, actor: ActorDep) -> bulk.UndoReport:
    """Put back the previous values; relations changed since the batch are reported as
    conflicts and left as they are."""
    return await bulk.undo(request.app.state.sessions, _services(request), batch_id, actor)


# --- adjustment rules --------------------------------------------------------------------------


@rules_router.get("")
async def all_rules(session: SessionDep) -> list[rules.RuleOut]:
    """Every adjustment rule."""
    return await rules.all_rules(session)


@rules_router.post("", status_code=status.HTTP_201_CREATED)
async def create_rule(body: rules.RuleInput, session: SessionDep) -> rules.RuleOut:
    """Add an adjustment rule: a trigger, an optional condition, actions."""
    return await rules.create_rule(session, body)


@rules_router.get("/buttons")
async def buttons(session: SessionDep) -> list[rules.RuleOut]:
    """The enabled button rules, for the relation card."""
    return [
        r
        for r in await rules.all_rules(session)
        if r.enabled and isinstance(r.trigger, rules.ButtonTrigger)
    ]


@rules_router.get("/runs")
async def rule_runs(
    session: SessionDep,
    rule_id: uuid.UUID | None = None,
    relation_id: uuid.UUID | None = None,
    limit: Limit = 50,
) -> list[rules.RunOut]:
    """Rule runs, newest first: which rule, which relation, what it changed."""
    return await rules.runs(session, rule_id=rule_id, relation_id=relation_id, limit=limit)


@rules_router.get("/{rule_id}")
async def get_rule(rule_id: uuid.UUID, session: SessionDep) -> rules.RuleOut:
    """One adjustment rule."""
    return await rules.get_rule(session, rule_id)


@rules_router.put("/{rule_id}")
async def replace_rule(
    rule_id: uuid.UUID, body: rules.RuleInput, session: SessionDep
) -> rules.RuleOut:
    """Change an adjustment rule."""
    return await rules.replace_rule(session, rule_id, body)


@rules_router.delete("/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rule(rule_id: uuid.UUID, session: SessionDep) -> None:
    """Delete an adjustment rule with its runs."""
    await rules.delete_rule(session, rule_id)


class ButtonPress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    relation_id: uuid.UUID


@rules_router.post("/{rule_id}/run")
async def press_button(
    rule_id: uuid.UUID, body: ButtonPress, request: Request, actor: ActorDep
) -> rules.RunOut:
    """Press a button rule on a relation's card: it runs now, on behalf of the caller."""
    return await rules.press_button(
        request.app.state.sessions,
        _services(request),
        rule_id=rule_id,
        relation_id=body.relation_id,
        actor=actor,
    )


# --- what uses a relation list -----------------------------------------------------------------


@references_router.get("/references")
async def list_references(list_id: uuid.UUID, session: SessionDep) -> references.ListReferences:
    """The rules, merge rules and generated properties that use a relation list (asked
    before the list is deleted)."""
    return await references.of_list(session, list_id)


ROUTERS: tuple[APIRouter, ...] = (
    rules_router,
    references_router,
    duplicates_router,
    merge_rules_router,
    properties_router,
    bulk_router,
)
