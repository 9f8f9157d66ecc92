"""What the contact moments API takes and returns."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

SUBJECT_MAX = 500
NOTES_MAX = 100_000
MAX_RELATIONS = 100

Kind = Literal["phone", "email", "visit", "letter", "meeting", "other"]
Direction = Literal["in", "out"]


def _unique(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    if len(set(ids)) != len(ids):
        raise ValueError("a relation is listed twice")
    return ids


class MomentInput(BaseModel):
    """A contact moment as a user logs it; who logged it comes from the actor headers."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Kind
    direction: Direction
    subject: str = Field(min_length=1, max_length=SUBJECT_MAX)
    notes: str = Field(default="", max_length=NOTES_MAX)
    occurred_at: AwareDatetime
    relation_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_RELATIONS)

    _check_relations = field_validator("relation_ids")(_unique)


class MomentPatch(BaseModel):
    """Only the fields given change; relation_ids replaces the whole list."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Kind | None = None
    direction: Direction | None = None
    subject: str | None = Field(default=None, min_length=1, max_length=SUBJECT_MAX)
    notes: str | None = Field(default=None, max_length=NOTES_MAX)
    occurred_at: AwareDatetime | None = None
    relation_ids: list[uuid.UUID] | None = Field(
        default=None, min_length=1, max_length=MAX_RELATIONS
    )

    _check_relations = field_validator("relation_ids")(
        lambda ids: None if ids is None else _unique(ids)
    )


class Mailbox(BaseModel):
    name: str
    address: str


class Attachment(BaseModel):
    filename: str
    content_type: str
    size: int = Field(description="decoded size in bytes")


class EmailDetails(BaseModel):
    """What an ingested e-mail adds to its contact moment."""

    message_id: str | None
    sender: list[Mailbox] = Field(alias="from", serialization_alias="from")
    to: list[Mailbox]
    cc: list[Mailbox]
    attachments: list[Attachment]
    unknown_addresses: list[str] = Field(
        description="addresses in From/To/Cc that belong to no known relation"
    )

    model_config = ConfigDict(populate_by_name=True)


class ContactMoment(BaseModel):
    """A contact moment as the API returns it."""

    contact_moment_id: uuid.UUID
    version: int
    kind: Kind
    direction: Direction
    subject: str
    notes: str
    occurred_at: datetime
    user_id: str | None
    relation_ids: list[uuid.UUID]
    source: Literal["manual", "email"]
    email: EmailDetails | None = None
    deleted: bool
    deleted_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


NOTE_MAX = 5_000
USER_ID_MAX = 200


class FollowUpInput(BaseModel):
    """What someone is to do about a contact moment, by when; who asked comes from the actor."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    assignee_id: str = Field(min_length=1, max_length=USER_ID_MAX, description="a user id")
    due_on: date
    note: str = Field(default="", max_length=NOTE_MAX)


class FollowUpPatch(BaseModel):
    """Only the fields given change; ``done`` true completes it, false opens it again."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    assignee_id: str | None = Field(default=None, min_length=1, max_length=USER_ID_MAX)
    due_on: date | None = None
    note: str | None = Field(default=None, max_length=NOTE_MAX)
    done: bool | None = None


class FollowUp(BaseModel):
    """A follow-up as the API returns it."""

    follow_up_id: uuid.UUID
    version: int
    contact_moment_id: uuid.UUID
    assignee_id: str
    due_on: date
    note: str
    created_by: str | None
    done: bool
    done_at: datetime | None
    done_by: str | None
    created_at: datetime
    updated_at: datetime


class OpenFollowUp(FollowUp):
    """An open follow-up with what its assignee needs to recognise the moment."""

    relation_ids: list[uuid.UUID]
    subject: str
    kind: Kind
    occurred_at: datetime
