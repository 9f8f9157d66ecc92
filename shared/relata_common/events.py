"""The event envelope and every event contract of the platform.

Topic and event names are part of the public contract: add fields, never rename or remove them;
an incompatible change gets a new ``schema_version``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from relata_common.logging import current_correlation_id

# Topics owned by the CRM services.
RELATIONS_TOPIC = "crm.relations"
CONTACTMOMENTS_TOPIC = "crm.contactmoments"
LISTS_TOPIC = "crm.lists"
LIST_MEMBERSHIP_TOPIC = "crm.lists.membership"
SELECTIONS_TOPIC = "crm.selections"
AUTOMATION_TOPIC = "crm.automation"
# Topics other platform modules publish into the CRM.
DONATIONS_TOPIC = "platform.donations"
REGISTRATIONS_TOPIC = "platform.registrations"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


class ActorKind(StrEnum):
    """Who caused a change: staff, the relation itself (self-service), a module, the system."""

    USER = "user"
    RELATION = "relation"
    SYSTEM = "system"
    MODULE = "module"


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: ActorKind
    id: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(kind=ActorKind.SYSTEM, id=None)


class Envelope(BaseModel):
    """One message on any topic. ``subject_id`` is the Kafka key."""

    model_config = ConfigDict(extra="ignore")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    schema_version: int = 1
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    producer: str
    subject_id: str
    subject_version: int | None = None
    actor: Actor = Field(default_factory=Actor.system)
    correlation_id: str = Field(default_factory=current_correlation_id)
    payload: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> Envelope:
        return cls.model_validate_json(raw)


# --- crm.relations ---------------------------------------------------------------------------


class RelationEventType(StrEnum):
    CREATED = "relation.created"
    UPDATED = "relation.updated"
    MERGED = "relation.merged"
    RESTORED = "relation.restored"
    ERASED = "relation.erased"


class RelationStatus(StrEnum):
    """``archived``: kept, out of lists and search, until unarchived."""

    ACTIVE = "active"
    ARCHIVED = "archived"
    MERGED = "merged"
    ERASED = "erased"


class FunctionState(BaseModel):
    """A dated role link from this relation (the subject) to another relation (the object)."""

    function_id: uuid.UUID
    role: str
    object_id: uuid.UUID
    start_date: date
    end_date: date | None = None


class RelationState(BaseModel):
    """The full state of a relation as carried by every relation event."""

    relation_id: uuid.UUID
    relation_type: Literal["person", "organisation"]
    relation_number: int
    external_id: str | None = None
    status: RelationStatus = RelationStatus.ACTIVE
    merged_into: uuid.UUID | None = None
    version: int
    created_at: datetime
    updated_at: datetime
    fields: dict[str, Any]
    functions: list[FunctionState] = Field(default_factory=list)


class RelationChangedPayload(BaseModel):
    """Payload of relation.created, relation.updated and relation.restored."""

    state: RelationState
    changed_fields: list[str]


class RelationMergedPayload(BaseModel):
    """Payload of relation.merged, keyed by the merged (disappearing) relation."""

    survivor_id: uuid.UUID
    merged_id: uuid.UUID
    merge_id: uuid.UUID
    state: RelationState


class RelationErasedPayload(BaseModel):
    """Payload of relation.erased: every service removes or anonymises what it holds."""

    relation_id: uuid.UUID


# --- crm.contactmoments -----------------------------------------------------------------------


class ContactMomentEventType(StrEnum):
    LOGGED = "contactmoment.logged"
    CHANGED = "contactmoment.changed"
    DELETED = "contactmoment.deleted"


class ContactMomentState(BaseModel):
    """A contact moment as its events carry it, keyed by ``contact_moment_id``.

    The notes stay in the contact moments service: events carry what other services act on.
    """

    contact_moment_id: uuid.UUID
    version: int
    kind: Literal["phone", "email", "visit", "letter", "meeting", "other"]
    direction: Literal["in", "out"]
    subject: str
    occurred_at: datetime
    user_id: str | None = None
    relation_ids: list[uuid.UUID]
    deleted: bool = False


class ContactMomentPayload(BaseModel):
    """Payload of every contact moment event: its full state after the change."""

    state: ContactMomentState
    previous_relation_ids: list[uuid.UUID] = Field(
        default_factory=list, description="relations it was linked to before this change"
    )


class FollowUpEventType(StrEnum):
    """Follow-ups of contact moments, on the contact moments topic (keyed by the follow-up)."""

    CREATED = "followup.created"
    CHANGED = "followup.changed"
    COMPLETED = "followup.completed"


class FollowUpState(BaseModel):
    """A follow-up as its events carry it: who is to do something about a moment, by when.

    Its note stays in the contact moments service, like a moment's notes.
    """

    follow_up_id: uuid.UUID
    version: int
    contact_moment_id: uuid.UUID
    relation_ids: list[uuid.UUID] = Field(description="the moment's relations")
    assignee_id: str = Field(description="the user who is to follow it up")
    due_on: date
    done: bool = False
    done_at: datetime | None = None


class FollowUpPayload(BaseModel):
    """Payload of every follow-up event: its full state after the change."""

    state: FollowUpState


# --- crm.lists and crm.lists.membership ---------------------------------------------------------


class ListEventType(StrEnum):
    DEFINED = "list.defined"
    CHANGED = "list.changed"
    DELETED = "list.deleted"


class ListDefinitionPayload(BaseModel):
    """A relation list's definition, keyed by ``list_id``."""

    list_id: uuid.UUID
    name: str
    view_id: str | None = None
    filter: dict[str, Any]
    deleted: bool = False


class MembershipEventType(StrEnum):
    ENTERED = "membership.entered"
    LEFT = "membership.left"


class MembershipCause(BaseModel):
    """Why a relation entered or left a list."""

    event_id: uuid.UUID | None = Field(
        default=None, description="the event that triggered the change, if one did"
    )
    event_type: str = Field(
        description="that event's type, or list.defined, list.changed, "
        "schedule.daily, evaluation.requested"
    )
    criteria: list[str] = Field(
        default_factory=list, description="the criteria that now match (entered) or fail (left)"
    )


class MembershipPayload(BaseModel):
    """A relation entered or left a relation list; keyed by ``relation_id``."""

    list_id: uuid.UUID
    relation_id: uuid.UUID
    cause: MembershipCause


# --- crm.selections ---------------------------------------------------------------------------


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
    """Who entered and left the selection: exact counts, the ids capped.

    One refresh of a 200,000-relation selection can move every member, and that many ids would
    pass Kafka's default 1 MB message limit; the full diff is readable over HTTP
    (``GET /selections/{id}/refreshes/{refresh_id}/changes``).
    """

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


# --- crm.automation ---------------------------------------------------------------------------


class AutomationEventType(StrEnum):
    DUPLICATE_FOUND = "duplicate.found"
    DUPLICATE_RESOLVED = "duplicate.resolved"
    RULE_RAN = "rule.ran"
    BULK_EDIT_APPLIED = "bulkedit.applied"
    BULK_EDIT_UNDONE = "bulkedit.undone"
    PROPERTY_CHANGED = "property.changed"


class DuplicateReason(BaseModel):
    points: int = Field(description="positive for, negative against")
    reason: str = Field(description='e.g. "same e-mail address", "different birth date"')


class DuplicatePairState(BaseModel):
    """Two relations that may be one, keyed by ``first_id`` (the smaller id)."""

    pair_id: uuid.UUID
    first_id: uuid.UUID
    second_id: uuid.UUID
    stars: int = Field(ge=1, le=5)
    points: int
    reasons: list[DuplicateReason]
    status: Literal["open", "merging", "merged", "rejected", "closed"]


class DuplicateFoundPayload(BaseModel):
    """A new candidate pair entered the review queue or a merge rule took it
    (``duplicate.found``)."""

    pair: DuplicatePairState
    found_by: str = Field(description="the relation event type, or batch")


class DuplicateResolvedPayload(BaseModel):
    """A pair was merged (by a reviewer or a merge rule) or judged not a duplicate
    (``duplicate.resolved``)."""

    pair: DuplicatePairState
    decision: Literal["merged", "rejected"]
    survivor_id: uuid.UUID | None = None
    merge_id: uuid.UUID | None = None
    rule_id: uuid.UUID | None = Field(default=None, description="the merge rule, if automatic")


class RuleRanPayload(BaseModel):
    """An adjustment rule ran for a relation (``rule.ran``), keyed by ``relation_id``."""

    run_id: uuid.UUID
    rule_id: uuid.UUID
    rule_name: str
    relation_id: uuid.UUID
    trigger: dict[str, Any] = Field(description="what started it: an event or a button")
    status: Literal["done", "skipped", "failed"]
    changes: list[dict[str, Any]] = Field(default_factory=list, description="per action")
    error: str | None = None


class BulkEditPayload(BaseModel):
    """A bulk edit was applied or undone (``bulkedit.applied`` / ``bulkedit.undone``), keyed
    by ``batch_id``; the per-relation changes are readable over HTTP."""

    batch_id: uuid.UUID
    source: dict[str, Any]
    change: dict[str, Any]
    changed: int
    unchanged: int
    failed: int
    conflicts: int = Field(default=0, description="on undo: relations changed since, left as is")


class PropertyChangedPayload(BaseModel):
    """A relation gained or lost a generated property (``property.changed``), keyed by
    ``relation_id``."""

    property_id: uuid.UUID
    key: str
    label: str
    relation_id: uuid.UUID
    held: bool
    since: date | None = None


AUTOMATION_EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    AutomationEventType.DUPLICATE_FOUND: DuplicateFoundPayload,
    AutomationEventType.DUPLICATE_RESOLVED: DuplicateResolvedPayload,
    AutomationEventType.RULE_RAN: RuleRanPayload,
    AutomationEventType.BULK_EDIT_APPLIED: BulkEditPayload,
    AutomationEventType.BULK_EDIT_UNDONE: BulkEditPayload,
    AutomationEventType.PROPERTY_CHANGED: PropertyChangedPayload,
}


# --- platform.donations and platform.registrations --------------------------------------------


class DonationReceivedPayload(BaseModel):
    """A donation registered by the donations module (``donation.received``).

    Keyed (``subject_id``) by ``relation_id``, so one relation's facts stay in order.
    """

    donation_id: uuid.UUID
    relation_id: uuid.UUID
    amount: Decimal = Field(gt=0)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    received_on: date
    campaign: str | None = None


class RegistrationPayload(BaseModel):
    """An event registration (``registration.created`` / ``registration.cancelled``)."""

    registration_id: uuid.UUID
    relation_id: uuid.UUID
    event_code: str
    event_date: date | None = None
    status: Literal["registered", "attended", "cancelled"] = "registered"


EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    RelationEventType.CREATED: RelationChangedPayload,
    RelationEventType.UPDATED: RelationChangedPayload,
    RelationEventType.RESTORED: RelationChangedPayload,
    RelationEventType.MERGED: RelationMergedPayload,
    RelationEventType.ERASED: RelationErasedPayload,
    ContactMomentEventType.LOGGED: ContactMomentPayload,
    ContactMomentEventType.CHANGED: ContactMomentPayload,
    ContactMomentEventType.DELETED: ContactMomentPayload,
    FollowUpEventType.CREATED: FollowUpPayload,
    FollowUpEventType.CHANGED: FollowUpPayload,
    FollowUpEventType.COMPLETED: FollowUpPayload,
    ListEventType.DEFINED: ListDefinitionPayload,
    ListEventType.CHANGED: ListDefinitionPayload,
    ListEventType.DELETED: ListDefinitionPayload,
    MembershipEventType.ENTERED: MembershipPayload,
    MembershipEventType.LEFT: MembershipPayload,
    **SELECTION_EVENT_PAYLOADS,
    **AUTOMATION_EVENT_PAYLOADS,
    "donation.received": DonationReceivedPayload,
    "registration.created": RegistrationPayload,
    "registration.cancelled": RegistrationPayload,
}
"""Every known event type and its payload model, for consumers and the AsyncAPI document."""


TOPIC_EVENTS: dict[str, tuple[str, ...]] = {
    RELATIONS_TOPIC: tuple(RelationEventType),
    CONTACTMOMENTS_TOPIC: (*ContactMomentEventType, *FollowUpEventType),
    LISTS_TOPIC: tuple(ListEventType),
    LIST_MEMBERSHIP_TOPIC: tuple(MembershipEventType),
    SELECTIONS_TOPIC: tuple(SelectionEventType),
    AUTOMATION_TOPIC: tuple(AutomationEventType),
    DONATIONS_TOPIC: ("donation.received",),
    REGISTRATIONS_TOPIC: ("registration.created", "registration.cancelled"),
}
"""Which events each topic carries: the AsyncAPI document is generated from this."""


def parse_payload(envelope: Envelope) -> BaseModel:
    """Validate an envelope's payload against its contract; unknown types raise ``KeyError``."""
    model = EVENT_PAYLOADS[envelope.type]
    return model.model_validate(envelope.payload)
