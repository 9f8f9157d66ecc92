"""The relations service's tables. The relation itself is one row with its fields as JSONB:
the service is the document store for relations; filtering happens in the lists read model."""

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
    Numeric,
    Sequence,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from relata_common.db import new_metadata
from relata_common.inbox import Inbox, inbox_table
from relata_common.outbox import Outbox, outbox_table

metadata = new_metadata()

relation_number_seq = Sequence("relation_number_seq", start=100001, metadata=metadata)

relations = Table(
    "relations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("relation_type", Text, nullable=False),
    Column(
        "relation_number",
        BigInteger,
        relation_number_seq,
        server_default=relation_number_seq.next_value(),
        nullable=False,
        unique=True,
    ),
    Column("external_id", Text, unique=True),
    Column("status", Text, nullable=False, server_default="active"),
    Column("merged_into", Uuid),
    Column("version", Integer, nullable=False),
    Column("fields", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("relation_type IN ('person', 'organisation')", name="relation_type"),
    CheckConstraint("status IN ('active', 'archived', 'merged', 'erased')", name="status"),
)

custom_field_definitions = Table(
    "custom_field_definitions",
    metadata,
    Column("key", Text, primary_key=True),
    Column("label", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("required", Boolean, nullable=False, server_default="false"),
    Column("applies_to", Text, nullable=False, server_default="both"),
    Column("choices", JSONB),
    Column("min_value", Numeric),
    Column("max_value", Numeric),
    Column("max_length", Integer),
    Column("pattern", Text),
    Column("currency", Text, nullable=False, server_default="EUR"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

roles = Table(
    "roles",
    metadata,
    Column("code", Text, primary_key=True),
    Column("label", Text, nullable=False),
    Column("subject_types", JSONB, nullable=False, comment="relation types that can hold it"),
    Column("object_types", JSONB, nullable=False, comment="relation types it is held at"),
)

functions = Table(
    "functions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("subject_id", Uuid, ForeignKey("relations.id"), nullable=False, index=True),
    Column("object_id", Uuid, ForeignKey("relations.id"), nullable=False, index=True),
    Column("role", Text, ForeignKey("roles.code"), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("subject_id <> object_id", name="not_self"),
    CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates"),
)

relation_changes = Table(
    "relation_changes",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("relation_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", Text, nullable=False, comment="the event type that recorded the change"),
    Column("actor_kind", Text, nullable=False),
    Column("actor_id", Text),
    Column("changes", JSONB, nullable=False, comment="{field: {old, new}}"),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_relation_changes_relation_version", "relation_id", "version"),
)

merges = Table(
    "merges",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("survivor_id", Uuid, nullable=False, index=True),
    Column("merged_id", Uuid, nullable=False, index=True),
    Column("decisions", JSONB, nullable=False, comment="{field: survivor|merged|both}"),
    Column("survivor_before", JSONB, comment="fields and version before; null once erased"),
    Column("merged_before", JSONB),
    Column("moved_functions", JSONB, nullable=False, comment="[{id, side}] re-pointed"),
    Column("survivor_version_after", Integer, nullable=False),
    Column("actor_kind", Text, nullable=False),
    Column("actor_id", Text),
    Column("merged_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("undone_at", DateTime(timezone=True)),
)

outbox = Outbox(outbox_table(metadata))
inbox = Inbox(inbox_table(metadata))
