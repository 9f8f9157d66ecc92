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

roles = Table(
    "roles",
    metadata,
    Column("name", Text, primary_key=True),
    Column("labels", JSONB, nullable=False, server_default="{}", comment="{nl, en}"),
    Column("rights", ARRAY(Text), nullable=False, server_default="{}"),
)
"""Named sets of rights (see :mod:`relata_gateway.rights`); ``admin`` has every right."""

users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("username", Text, nullable=False, unique=True),
    Column("display_name", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column(
        "role",
        Text,
        ForeignKey("roles.name"),
        nullable=False,
        comment="admin (functional administrator), staff, or a role an administrator made",
    ),
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
    Column("scopes", ARRAY(Text), nullable=False, server_default="{read,write}"),
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

role_grants = Table(
    "role_grants",
    metadata,
    Column("role", Text, ForeignKey("roles.name", ondelete="CASCADE"), primary_key=True),
    Column("view_id", Uuid, ForeignKey("views.id", ondelete="CASCADE"), primary_key=True),
    Column("can_edit", Boolean, nullable=False, server_default="false"),
)
"""Views granted to everyone with a role (a user's own grant and their role's add up)."""

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
