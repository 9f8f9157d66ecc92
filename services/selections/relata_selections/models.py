"""The selections service's tables: selections, their frozen members, hand-made exclusions
and the refresh history (who was added and removed by each refresh)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    Time,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from relata_common.db import new_metadata
from relata_common.inbox import Inbox, inbox_table
from relata_common.outbox import Outbox, outbox_table

metadata = new_metadata()

selections = Table(
    "selections",
    metadata,
    Column("selection_id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("source_kind", Text, nullable=False, comment="list, filter or manual"),
    Column("list_id", Uuid, comment="the relation list it is taken from (source list)"),
    Column(
        "filter",
        JSONB(none_as_null=True),
        comment="the filter it is taken from (source filter)",
    ),
    Column("daily_refresh", Boolean, nullable=False, server_default="false"),
    Column(
        "daily_at",
        Time,
        comment="local time of day the daily refresh runs from (null: the first round)",
    ),
    Column("version", Integer, nullable=False),
    Column("member_count", Integer, nullable=False, server_default="0"),
    Column("created_by", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("refreshed_at", DateTime(timezone=True)),
    Column("daily_run_on", Date, comment="day the daily refresh last ran (or was tried)"),
    CheckConstraint("source_kind IN ('list', 'filter', 'manual')", name="source_kind"),
    CheckConstraint(
        "(source_kind = 'list') = (list_id IS NOT NULL)"
        " AND (source_kind = 'filter') = (filter IS NOT NULL)",
        name="source",
    ),
    CheckConstraint("source_kind <> 'manual' OR NOT daily_refresh", name="manual_not_daily"),
    Index("ix_selections_daily", "daily_run_on", postgresql_where=text("daily_refresh")),
)

selection_members = Table(
    "selection_members",
    metadata,
    Column(
        "selection_id",
        Uuid,
        ForeignKey("selections.selection_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("relation_id", Uuid, primary_key=True),
    Column("added_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("added_by", Text, nullable=False, comment="source or hand"),
    CheckConstraint("added_by IN ('source', 'hand')", name="added_by"),
    Index("ix_selection_members_relation", "relation_id"),
)

selection_exclusions = Table(
    "selection_exclusions",
    metadata,
    Column(
        "selection_id",
        Uuid,
        ForeignKey("selections.selection_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("relation_id", Uuid, primary_key=True),
    Column("excluded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("excluded_by", Text),
    Index("ix_selection_exclusions_relation", "relation_id"),
    comment="relations removed by hand: they stay out on refreshes until added back by hand",
)

refreshes = Table(
    "refreshes",
    metadata,
    Column("refresh_id", Uuid, primary_key=True),
    Column(
        "selection_id",
        Uuid,
        ForeignKey("selections.selection_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("trigger", Text, nullable=False, comment="hand, daily or mailing"),
    Column("actor_kind", Text, nullable=False),
    Column("actor_id", Text),
    Column("source_count", Integer, nullable=False, comment="relations the source gave"),
    Column("added_count", Integer, nullable=False),
    Column("removed_count", Integer, nullable=False),
    Column("member_count", Integer, nullable=False, comment="members after the refresh"),
    Index("ix_refreshes_selection_at", "selection_id", "at"),
)

refresh_changes = Table(
    "refresh_changes",
    metadata,
    Column(
        "refresh_id",
        Uuid,
        ForeignKey("refreshes.refresh_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("relation_id", Uuid, primary_key=True),
    Column("change", Text, nullable=False, comment="added or removed"),
    CheckConstraint("change IN ('added', 'removed')", name="change"),
    Index("ix_refresh_changes_relation", "relation_id"),
)

outbox = Outbox(outbox_table(metadata))
inbox = Inbox(inbox_table(metadata))
