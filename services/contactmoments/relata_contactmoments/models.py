"""The contact moments service's tables.

A moment is one row; its relations are both an array on that row (to build its state in one
read) and rows of ``contact_moment_links``, which carry copies of ``occurred_at``, ``kind`` and
``deleted`` so a relation's timeline is one range scan of one index, newest first, at any depth.
``known_relations`` and ``relation_emails`` are a read model fed by ``crm.relations`` events.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from relata_common.db import new_metadata
from relata_common.inbox import Inbox, inbox_table
from relata_common.outbox import Outbox, outbox_table

metadata = new_metadata()

KINDS = ("phone", "email", "visit", "letter", "meeting", "other")
DIRECTIONS = ("in", "out")

contact_moments = Table(
    "contact_moments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("kind", Text, nullable=False),
    Column("direction", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("notes", Text, nullable=False, server_default=""),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("user_id", Text, comment="the user who logged it"),
    Column("relation_ids", ARRAY(Uuid), nullable=False),
    Column("source", Text, nullable=False, server_default="manual"),
    Column("message_id", Text, comment="Message-ID of an ingested e-mail, without <>"),
    Column(
        "email",
        JSONB(none_as_null=True),
        comment="addresses, attachments and unknown addresses of an e-mail",
    ),
    Column("deleted_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"kind IN {KINDS}", name="kind"),
    CheckConstraint(f"direction IN {DIRECTIONS}", name="direction"),
    CheckConstraint("source IN ('manual', 'email')", name="source"),
    # One moment per e-mail: the primary key of idempotent ingestion.
    Index(
        "uq_contact_moments_message_id",
        "message_id",
        unique=True,
        postgresql_where=text("message_id IS NOT NULL"),
    ),
)

contact_moment_links = Table(
    "contact_moment_links",
    metadata,
    Column(
        "contact_moment_id",
        Uuid,
        ForeignKey("contact_moments.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("relation_id", Uuid, primary_key=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("kind", Text, nullable=False),
    Column("deleted", Boolean, nullable=False, server_default="false"),
    # The timeline: (relation, newest first, id as tie-breaker), live moments only.
    Index(
        "ix_contact_moment_links_timeline",
        "relation_id",
        text("occurred_at DESC"),
        text("contact_moment_id DESC"),
        postgresql_where=text("NOT deleted"),
    ),
    # Merges and erasures find every link of a relation, deleted moments included.
    Index("ix_contact_moment_links_relation_id", "relation_id"),
)

contact_moment_changes = Table(
    "contact_moment_changes",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("contact_moment_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", Text, nullable=False, comment="the event type that recorded the change"),
    Column("reason", Text, comment="what caused a change the user did not make, e.g. a merge"),
    Column("actor_kind", Text, nullable=False),
    Column("actor_id", Text),
    Column("changes", JSONB, nullable=False, comment="{field: {old, new}}"),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_contact_moment_changes_moment_version", "contact_moment_id", "version"),
)

follow_ups = Table(
    "follow_ups",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column(
        "contact_moment_id",
        Uuid,
        ForeignKey("contact_moments.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("version", Integer, nullable=False),
    Column("assignee_id", Text, nullable=False, comment="the user who is to follow it up"),
    Column("due_on", Date, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("created_by", Text, comment="the user who asked for it"),
    Column("done_at", DateTime(timezone=True), comment="null while open"),
    Column("done_by", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_follow_ups_contact_moment_id", "contact_moment_id"),
    # "My open follow-ups", soonest due first: one range scan per assignee.
    Index(
        "ix_follow_ups_open_by_assignee",
        "assignee_id",
        "due_on",
        "id",
        postgresql_where=text("done_at IS NULL"),
    ),
)
"""What someone is to do about a contact moment, by when (call back, send the brochure)."""

known_relations = Table(
    "known_relations",
    metadata,
    Column("relation_id", Uuid, primary_key=True),
    Column("version", Integer, nullable=False, comment="the newest relation version applied"),
    Column("status", Text, nullable=False),
    Column("merged_into", Uuid),
)

relation_emails = Table(
    "relation_emails",
    metadata,
    Column("address", Text, primary_key=True, comment="lower case: matching ignores case"),
    Column("relation_id", Uuid, primary_key=True),
    Index("ix_relation_emails_relation_id", "relation_id"),
)

outbox = Outbox(outbox_table(metadata))
inbox = Inbox(inbox_table(metadata))
