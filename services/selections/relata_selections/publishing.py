"""Selection events into the outbox, in the transaction of the change they describe."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.events import (
    SELECTIONS_TOPIC,
    Actor,
    MemberChanges,
    SelectionSource,
    SelectionState,
)
from relata_common.publishing import Publisher
from relata_selections.models import outbox
from relata_selections.settings import SelectionsSettings

PUBLISHER = Publisher.of(SelectionsSettings)


def state_of(row: RowMapping) -> SelectionState:
    """The event form of a ``selections`` row."""
    return SelectionState(
        selection_id=row["selection_id"],
        name=row["name"],
        source=SelectionSource(
            kind=row["source_kind"], list_id=row["list_id"], filter=row["filter"]
        ),
        daily_refresh=row["daily_refresh"],
        version=row["version"],
        member_count=row["member_count"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        refreshed_at=row["refreshed_at"],
    )


def capped(
    added: Sequence[Any], removed: Sequence[Any], *, added_count: int, removed_count: int, cap: int
) -> MemberChanges:
    """Exact counts and at most ``cap`` ids each way."""
    return MemberChanges(
        added_count=added_count,
        removed_count=removed_count,
        added_ids=list(added[:cap]),
        removed_ids=list(removed[:cap]),
        added_truncated=added_count > min(len(added), cap),
        removed_truncated=removed_count > min(len(removed), cap),
    )


async def announce(
    session: AsyncSession,
    *,
    event_type: str,
    subject_id: str,
    version: int | None,
    payload: BaseModel,
    actor: Actor,
) -> None:
    envelope = PUBLISHER.envelope(event_type, subject_id, payload, version=version, actor=actor)
    await outbox.add(session, SELECTIONS_TOPIC, envelope)
