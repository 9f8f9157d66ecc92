"""The gateway's tables: users, API keys, views with their forms and lists, grants, and the
activity feed (fed by events)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from relata_common.db import new_metadata
from relata_common.inbox import Inbox, inbox_table

metadata = new_metadata()

users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("username", Text, nullable=False, unique=True),
    Column("display_name", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("role", Text, nullable=False, comment="admin (functional administrator) or staff"),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("prefix", Text, nullable=False, comment="first characters, to recognise a key"),
    Column("key_hash", Text, nullable=False, unique=True, comment="sha256 of the key"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
)

views = Table(
    "views",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("base_filter", JSONB, nullable=False),
    Column("base_list_id", Uuid, nullable=False, comment="the 'All relations' list"),
    Column("form", JSONB, nullable=False, comment="{tabs: [{name, fields: [...]}]}"),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

view_lists = Table(
    "view_lists",
    metadata,
    Column("view_id", Uuid, ForeignKey("views.id", ondelete="CASCADE"), primary_key=True),
    Column("list_id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("position", Integer, nullable=False),
)

grants = Table(
    "grants",
    metadata,
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("view_id", Uuid, ForeignKey("views.id", ondelete="CASCADE"), primary_key=True),
    Column("can_edit", Boolean, nullable=False, server_default="false"),
)

activity = Table(
    "activity",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("relation_id", Uuid, nullable=False),
    Column("version", Integer),
    Column("kind", Text, nullable=False),
    Column("actor_kind", Text, nullable=False),
    Column("actor_id", Text),
    Column("changed_fields", ARRAY(Text), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_activity_at", "at"),
    Index("ix_activity_relation", "relation_id"),
)

inbox = Inbox(inbox_table(metadata))

view_selections = Table(
    "view_selections",
    metadata,
    Column("selection_id", Uuid, primary_key=True),
    Column("view_id", Uuid, ForeignKey("views.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("list_id", Uuid, nullable=False, comment="the view's list it was taken from"),
    Column("created_by", Uuid, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_view_selections_view", "view_id"),
)
"""Selections made in a view (kept by the selections service): only that view shows them."""
