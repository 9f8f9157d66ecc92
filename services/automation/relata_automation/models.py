"""The automation service's tables.

- a read model of relations fed by ``crm.relations``: each relation's profile and blocking keys,
  and list memberships fed by ``crm.lists.membership``;
- duplicate pairs with their score, status and review decision, and merge rules;
- bulk edits with the value each relation had before, so a batch can be undone;
- adjustment rules and every run of one;
- generated properties and who has them.
"""

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
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from relata_common.db import new_metadata
from relata_common.inbox import Inbox, inbox_table
from relata_common.outbox import Outbox, outbox_table

metadata = new_metadata()

relation_profiles = Table(
    "relation_profiles",
    metadata,
    Column("relation_id", Uuid, primary_key=True),
    Column("relation_type", Text, nullable=False),
    Column("version", Integer, nullable=False, comment="the relation's version this reflects"),
    Column("profile", JSONB, nullable=False, comment="normalised identifying fields"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    comment="active relations only: merged and erased ones are removed",
)

self_service_logins = Table(
    "self_service_logins",
    metadata,
    Column("relation_id", Uuid, primary_key=True),
    Column("since", DateTime(timezone=True), nullable=False, server_default=func.now()),
    comment="relations that have acted themselves (self-service): they hold a login, and two of "
    "them are never merged (one would lose their login)",
)

blocking_keys = Table(
    "blocking_keys",
    metadata,
    Column("key", Text, primary_key=True),
    Column(
        "relation_id",
        Uuid,
        ForeignKey("relation_profiles.relation_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Index("ix_blocking_keys_relation", "relation_id"),
)

list_members = Table(
    "list_members",
    metadata,
    Column("list_id", Uuid, primary_key=True),
    Column("relation_id", Uuid, primary_key=True),
    Column("since", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_list_members_relation", "relation_id"),
)

duplicate_pairs = Table(
    "duplicate_pairs",
    metadata,
    Column("pair_id", Uuid, primary_key=True),
    Column("first_id", Uuid, nullable=False, comment="the smaller relation id of the two"),
    Column("second_id", Uuid, nullable=False),
    Column("stars", Integer, nullable=False),
    Column("points", Integer, nullable=False),
    Column("reasons", JSONB, nullable=False, comment="[{points, reason}]"),
    Column(
        "status",
        Text,
        nullable=False,
        comment="open (in the review queue), merging (a rule merges it), merged, rejected "
        "(not a duplicate: never proposed again), closed (a relation went)",
    ),
    Column("found_by", Text, nullable=False, comment="event or batch"),
    Column("rule_id", Uuid, comment="the merge rule that merged it automatically"),
    Column("survivor_id", Uuid),
    Column("merge_id", Uuid, comment="the relations service's merge"),
    Column("note", Text, comment="why an automatic merge did not happen"),
    Column("decided_by", Text),
    Column("decided_at", DateTime(timezone=True)),
    Column("found_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("scored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("first_id", "second_id", name="uq_duplicate_pairs_pair"),
    CheckConstraint("first_id < second_id", name="ordered"),
    CheckConstraint("status IN ('open', 'merging', 'merged', 'rejected', 'closed')", name="status"),
    Index(
        "ix_duplicate_pairs_queue",
        text("stars DESC"),
        text("points DESC"),
        "pair_id",
        postgresql_where=text("status = 'open'"),
    ),
    Index("ix_duplicate_pairs_second", "second_id"),
    Index("ix_duplicate_pairs_merging", "status", postgresql_where=text("status = 'merging'")),
)

merge_rules = Table(
    "merge_rules",
    metadata,
    Column("rule_id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("list_ids", ARRAY(Uuid), nullable=False, comment="empty: every relation"),
    Column("match_fields", ARRAY(Text), nullable=False),
    Column("keep", JSONB, nullable=False, comment="field -> newest/oldest/non_empty/..."),
    Column("default_keep", Text, nullable=False),
    Column("min_stars", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default="true"),
    Column(
        "sources",
        ARRAY(Text),
        nullable=False,
        server_default="{}",
        comment="who created the new relation (actor kind:id); empty: any creation",
    ),
    Column("position", Integer, nullable=False, comment="rules are tried in this order"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

batch_runs = Table(
    "batch_runs",
    metadata,
    Column("run_id", Uuid, primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Column("relations", Integer),
    Column("candidates", Integer, comment="pairs sharing a blocking key"),
    Column("proposed", Integer, comment="pairs scored high enough to review"),
    Column("seconds", Text),
)

bulk_edits = Table(
    "bulk_edits",
    metadata,
    Column("batch_id", Uuid, primary_key=True),
    Column("source", JSONB, nullable=False, comment="{kind: list|selection, id}"),
    Column("change", JSONB, nullable=False),
    Column("actor_kind", Text, nullable=False),
    Column("actor_id", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("changed", Integer, nullable=False, server_default="0"),
    Column("unchanged", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
    Column(
        "status",
        Text,
        nullable=False,
        server_default="done",
        comment="running, done or interrupted",
    ),
    Column("total", Integer, comment="relations the batch goes through"),
    Column("finished_at", DateTime(timezone=True)),
    Column("undone_at", DateTime(timezone=True)),
    Column("undone_by", Text),
)

bulk_edit_items = Table(
    "bulk_edit_items",
    metadata,
    Column(
        "batch_id", Uuid, ForeignKey("bulk_edits.batch_id", ondelete="CASCADE"), primary_key=True
    ),
    Column("relation_id", Uuid, primary_key=True),
    Column("outcome", Text, nullable=False, comment="changed, unchanged or failed"),
    Column("before", JSONB, comment="the patch that restores the previous values"),
    Column("after", JSONB),
    Column("version_after", Integer),
    Column("function_id", Uuid, comment="the function a bulk 'add function' created"),
    Column("error", Text),
    Column("undo_outcome", Text, comment="restored, conflict or failed"),
)

adjustment_rules = Table(
    "adjustment_rules",
    metadata,
    Column("rule_id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("trigger", JSONB, nullable=False),
    Column("trigger_kind", Text, nullable=False),
    Column("condition", JSONB),
    Column("actions", JSONB, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default="true"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_adjustment_rules_trigger", "trigger_kind"),
)

rule_runs = Table(
    "rule_runs",
    metadata,
    Column("run_id", Uuid, primary_key=True),
    Column(
        "rule_id",
        Uuid,
        ForeignKey("adjustment_rules.rule_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("relation_id", Uuid, nullable=False),
    Column("trigger", JSONB, nullable=False, comment="what started it: event type and id, button"),
    Column("status", Text, nullable=False, comment="pending, done, skipped or failed"),
    Column("actor_kind", Text, nullable=False),
    Column("actor_id", Text),
    Column("changes", JSONB, comment="per action what it changed"),
    Column("error", Text),
    Column("queued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("ran_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('pending', 'done', 'skipped', 'failed')", name="status"),
    Index("ix_rule_runs_pending", "queued_at", postgresql_where=text("status = 'pending'")),
    Index("ix_rule_runs_relation", "relation_id", "queued_at"),
)

generated_properties = Table(
    "generated_properties",
    metadata,
    Column("property_id", Uuid, primary_key=True),
    Column("key", Text, nullable=False, unique=True),
    Column("label", Text, nullable=False),
    Column("list_id", Uuid, nullable=False, comment="held while the relation is in this list"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_generated_properties_list", "list_id"),
)

property_holders = Table(
    "property_holders",
    metadata,
    Column(
        "property_id",
        Uuid,
        ForeignKey("generated_properties.property_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("relation_id", Uuid, primary_key=True),
    Column("since", Date, nullable=False),
    Index("ix_property_holders_relation", "relation_id"),
)

outbox = Outbox(outbox_table(metadata))
inbox = Inbox(inbox_table(metadata))
