"""The automation worker: follows relations (``crm.relations``) to find duplicates and trigger
rules, and list memberships (``crm.lists.membership``) for merge rules, triggers and generated
properties. Changes to other services (automatic merges, rule actions) are queued here, in the
event's transaction, and carried out by the executor task through those services' APIs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping

import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from relata_automation import duplicates, logins, merge_rules, properties, review, rules
from relata_automation.blocking import Profile
from relata_automation.clients import open_services
from relata_automation.models import inbox
from relata_automation.settings import AutomationSettings
from relata_common.db import transaction
from relata_common.events import (
    LIST_MEMBERSHIP_TOPIC,
    RELATIONS_TOPIC,
    Actor,
    ActorKind,
    Envelope,
    MembershipEventType,
    MembershipPayload,
    RelationChangedPayload,
    RelationErasedPayload,
    RelationEventType,
    RelationMergedPayload,
)
from relata_common.kafka import EventConsumer, service_consumer
from relata_common.logging import get_logger

log = get_logger(__name__)

CONSUMED_TOPICS = (RELATIONS_TOPIC, LIST_MEMBERSHIP_TOPIC)
CHANGED = (RelationEventType.CREATED, RelationEventType.UPDATED, RelationEventType.RESTORED)


async def apply_merge_rules(
    session: AsyncSession,
    relation_id: uuid.UUID,
    profile: Profile,
    pairs: list[duplicates.Pair],
    *,
    creator: str,
) -> None:
    """Let the first rule (for the new relation's source) that some candidate meets decide:
    exactly one -> merge it automatically; several -> they wait in the review queue with a note
    saying so. Pairs of two relations that both hold a self-service login are never merged."""
    if not pairs:
        return
    rules_ = [
        rule
        for rule in await merge_rules.all_rules(session, enabled_only=True)
        if merge_rules.applies_to(rule, creator)
    ]
    if not rules_:
        return
    pairs = await _without_two_logins(session, relation_id, pairs)
    others = await duplicates.profiles(session, [p.other(relation_id) for p in pairs])
    for rule in rules_:
        members: set[uuid.UUID] = set()
        if rule.list_ids:
            rows = await session.execute(
                text(
                    "SELECT relation_id FROM list_members WHERE list_id = ANY(:lists)"
                    " AND relation_id = ANY(:ids)"
                ).bindparams(
                    bindparam("lists", type_=ARRAY(Uuid)), bindparam("ids", type_=ARRAY(Uuid))
                ),
                {"lists": rule.list_ids, "ids": list(others)},
            )
            members = set(rows.scalars())
        meeting = merge_rules.choose_candidate(rule, relation_id, profile, pairs, others, members)
        if not meeting:
            continue
        if len(meeting) == 1:
            pair = meeting[0]
            await session.execute(
                text(
                    "UPDATE duplicate_pairs SET status = 'merging', rule_id = :rule,"
                    " survivor_id = :survivor WHERE pair_id = :p AND status = 'open'"
                ),
                {"rule": rule.rule_id, "survivor": pair.other(relation_id), "p": pair.pair_id},
            )
            log.info("merge rule chose a pair", rule=rule.name, pair=str(pair.pair_id))
        else:
            await session.execute(
                text("UPDATE duplicate_pairs SET note = :n WHERE pair_id = ANY(:ids)").bindparams(
                    bindparam("ids", type_=ARRAY(Uuid))
                ),
                {
                    "n": f"merge rule {rule.name!r}: {len(meeting)} candidates meet it; review",
                    "ids": [p.pair_id for p in meeting],
                },
            )
        return


async def _without_two_logins(
    session: AsyncSession, relation_id: uuid.UUID, pairs: list[duplicates.Pair]
) -> list[duplicates.Pair]:
    """The pairs a rule may merge; the others get a note saying why they wait for review."""
    holding = await logins.holders(session, [relation_id, *(p.other(relation_id) for p in pairs)])
    if relation_id not in holding:
        return pairs
    kept = [p for p in pairs if p.other(relation_id) not in holding]
    barred = [p.pair_id for p in pairs if p.other(relation_id) in holding]
    if barred:
        await session.execute(
            text("UPDATE duplicate_pairs SET note = :n WHERE pair_id = ANY(:ids)").bindparams(
                bindparam("ids", type_=ARRAY(Uuid))
            ),
            {"n": f"not merged automatically: {logins.BOTH_HOLD_A_LOGIN}", "ids": barred},
        )
    return kept


def batch_applier(
    settings: AutomationSettings,
) -> Callable[[AsyncSession, list[Envelope]], Awaitable[None]]:
    """Applies a batch of events in order. Consecutive relation changes are applied together
    (profiles and keys stored, candidates found and scored in a few statements for all of
    them), which keeps up with a bulk import; everything else one event at a time."""

    async def apply(session: AsyncSession, envelopes: list[Envelope]) -> None:
        run: list[Envelope] = []
        for envelope in envelopes:
            if envelope.type in CHANGED:
                run.append(envelope)
                continue
            await apply_changes(session, run, settings)
            run = []
            await apply_other(session, envelope)
        await apply_changes(session, run, settings)

    return apply


async def apply_changes(
    session: AsyncSession, envelopes: list[Envelope], settings: AutomationSettings
) -> None:
    """relation.created, relation.updated and relation.restored events, in their order."""
    if not envelopes:
        return
    changed = [RelationChangedPayload.model_validate(e.payload) for e in envelopes]
    await logins.record(
        session,
        [
            c.state.relation_id
            for e, c in zip(envelopes, changed, strict=True)
            if e.actor.kind == ActorKind.RELATION
        ],
    )
    found_by = {c.state.relation_id: e.type for e, c in zip(envelopes, changed, strict=True)}
    stored = await duplicates.store_relations(session, [c.state for c in changed])
    newest = {c.state.relation_id: c.state for c in changed}
    active = {i: p for i, p in stored.items() if newest[i].status == "active"}
    await duplicates.detect_many(
        session,
        active,
        found_by=found_by,
        min_stars=settings.min_stars,
        max_block=settings.max_block,
        max_candidates=settings.max_candidates,
    )
    creators = {
        c.state.relation_id: _source(e.actor)
        for e, c in zip(envelopes, changed, strict=True)
        if e.type == RelationEventType.CREATED
    }
    created = [i for i in active if i in creators]
    if created and await merge_rules.any_enabled(session):
        for relation_id in created:
            pairs = await duplicates.open_pairs_of(session, relation_id)
            await apply_merge_rules(
                session, relation_id, active[relation_id], pairs, creator=creators[relation_id]
            )
    if await rules.any_enabled(session):
        for envelope, payload in zip(envelopes, changed, strict=True):
            await rules.queue_for_relation_event(session, envelope, payload)


def _source(actor: Actor) -> str:
    """A creation's source as merge rules name it: ``kind:id`` (``module:events``)."""
    return f"{actor.kind.value}:{actor.id or ''}"


async def apply_other(session: AsyncSession, envelope: Envelope) -> None:
    """Merges, erasures and list memberships."""
    if envelope.type == RelationEventType.MERGED:
        merged = RelationMergedPayload.model_validate(envelope.payload)
        await duplicates.forget_relation(session, merged.merged_id)
        await logins.follow_merge(session, merged.merged_id, merged.survivor_id)
        # Nothing moves to the survivor here: the lists service re-evaluates it and announces
        # its memberships, which bring its properties; the merged relation's simply go.
        await properties.forget(session, merged.merged_id)
    elif envelope.type == RelationEventType.ERASED:
        erased = RelationErasedPayload.model_validate(envelope.payload)
        await duplicates.forget_relation(session, erased.relation_id)
        await logins.forget(session, erased.relation_id)
        await properties.forget(session, erased.relation_id)
    elif envelope.type in (MembershipEventType.ENTERED, MembershipEventType.LEFT):
        membership = MembershipPayload.model_validate(envelope.payload)
        entered = envelope.type == MembershipEventType.ENTERED
        await properties.apply_membership(session, membership, entered=entered)
        await rules.queue_for_membership(session, envelope, membership, entered=entered)


def consumer(settings: AutomationSettings, app: FastAPI) -> EventConsumer:
    return service_consumer(
        settings,
        name=settings.consumer_group,
        topics=CONSUMED_TOPICS,
        sessions=app.state.sessions,
        inbox=inbox,
        apply_batch=batch_applier(settings),
        producer=app.state.producer,
    )


def register(settings: AutomationSettings) -> Callable[[KafkaBroker, FastAPI], Awaitable[None]]:
    async def build(broker: KafkaBroker, app: FastAPI) -> None:
        consumer(settings, app).register(
            broker,
            description="Finds duplicates of changed relations, follows list memberships, "
            "queues merges by rule and adjustment rule runs.",
        )

    return build


def executor(
    settings: AutomationSettings, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None
) -> Callable[[FastAPI], Awaitable[None]]:
    """The worker task carrying out queued automatic merges and rule runs, one at a time, each
    claimed with SKIP LOCKED so several workers share the work."""

    async def run(app: FastAPI) -> None:
        async with open_services(settings, transports) as services:
            while True:
                async with transaction(app.state.sessions) as session:
                    enabled = await merge_rules.all_rules(session)
                worked = await review.merge_by_rule(app.state.sessions, services, enabled)
                worked = await rules.run_pending(app.state.sessions, services) or worked
                if not worked:
                    await asyncio.sleep(settings.executor_interval)

    return run
