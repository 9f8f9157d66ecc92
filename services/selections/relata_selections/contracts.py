"""The events of ``crm.selections``, keyed by ``selection_id``.

These contracts belong in ``relata_common.events`` beside the others (``EVENT_PAYLOADS`` and
``TOPIC_EVENTS``); they live here until they are moved there.

Member changes carry exact counts but at most ``event_id_cap`` ids of who was added and removed
(``*_truncated`` says when more changed): one refresh of a 200,000-relation selection can move
every member, and 200,000 ids (about 8 MB of JSON) would pass Kafka's default 1 MB message limit.
The full diff stays readable over HTTP (``GET /selections/{id}/refreshes/{refresh_id}/changes``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field


class SelectionEventType(StrEnum):
    CREATED = "selection.created"
    CHANGED = "selection.changed"
    REFRESHED = "selection.refreshed"
    DELETED = "selection.deleted"


class SelectionSource(BaseModel):
    """Where a selection's members come from: a relation list, a filter, or only by hand."""

    kind: Literal["list", "filter", "manual"]
    list_id: uuid.UUID | None = None
    filter: dict[str, Any] | None = None


class SelectionState(BaseModel):
    """A selection as its events carry it (without its members)."""

    selection_id: uuid.UUID
    name: str
    source: SelectionSource
    daily_refresh: bool
    version: int
    member_count: int
    created_at: datetime
    updated_at: datetime
    refreshed_at: datetime | None = None


class MemberChanges(BaseModel):
    """Who entered and left the selection: exact counts, the ids capped."""

    added_count: int = 0
    removed_count: int = 0
    added_ids: list[uuid.UUID] = Field(default_factory=list)
    removed_ids: list[uuid.UUID] = Field(default_factory=list)
    added_truncated: bool = False
    removed_truncated: bool = False


class SelectionCreatedPayload(BaseModel):
    """A selection was created and its members frozen (``selection.created``)."""

    state: SelectionState


class SelectionChangedPayload(BaseModel):
    """A selection changed other than by a refresh (``selection.changed``)."""

    state: SelectionState
    reason: Literal["renamed", "settings", "hand", "relation.merged", "relation.erased"] = Field(
        description="renamed/settings: its definition; hand: members added or removed by hand; "
        "relation.merged/relation.erased: a relation was re-pointed or removed"
    )
    changes: MemberChanges = Field(default_factory=MemberChanges)


class SelectionRefreshedPayload(BaseModel):
    """A selection was refreshed from its source (``selection.refreshed``)."""

    state: SelectionState
    refresh_id: uuid.UUID
    trigger: Literal["hand", "daily", "mailing"]
    source_count: int
    changes: MemberChanges


class SelectionDeletedPayload(BaseModel):
    """A selection was deleted with its members and history (``selection.deleted``)."""

    selection_id: uuid.UUID
    name: str


SELECTION_EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    SelectionEventType.CREATED: SelectionCreatedPayload,
    SelectionEventType.CHANGED: SelectionChangedPayload,
    SelectionEventType.REFRESHED: SelectionRefreshedPayload,
    SelectionEventType.DELETED: SelectionDeletedPayload,
}
"""To merge into ``relata_common.events.EVENT_PAYLOADS``; the topic carries all four
(``TOPIC_EVENTS[SELECTIONS_TOPIC] = tuple(SelectionEventType)``)."""
