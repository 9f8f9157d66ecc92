"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 21:16:28.200922
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_inbox")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("message_key", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False, comment="the envelope as published, JSON"),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_table(
        "selections",
        sa.Column("selection_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("source_kind", sa.Text(), nullable=False, comment="list, filter or manual"),
        sa.Column(
            "list_id",
            sa.Uuid(),
            nullable=True,
            comment="the relation list it is taken from (source list)",
        ),
        sa.Column(
            "filter",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=True,
            comment="the filter it is taken from (source filter)",
        ),
        sa.Column("daily_refresh", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("member_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "daily_run_on",
            sa.Date(),
            nullable=True,
            comment="day the daily refresh last ran (or was tried)",
        ),
        sa.CheckConstraint(
            "(source_kind = 'list') = (list_id IS NOT NULL)"
            " AND (source_kind = 'filter') = (filter IS NOT NULL)",
            name=op.f("ck_selections_source"),
        ),
        sa.CheckConstraint(
            "source_kind <> 'manual' OR NOT daily_refresh",
            name=op.f("ck_selections_manual_not_daily"),
        ),
        sa.CheckConstraint(
            "source_kind IN ('list', 'filter', 'manual')", name=op.f("ck_selections_source_kind")
        ),
        sa.PrimaryKeyConstraint("selection_id", name=op.f("pk_selections")),
    )
    op.create_index(
        "ix_selections_daily",
        "selections",
        ["daily_run_on"],
        unique=False,
        postgresql_where=sa.text("daily_refresh"),
    )
    op.create_table(
        "refreshes",
        sa.Column("refresh_id", sa.Uuid(), nullable=False),
        sa.Column("selection_id", sa.Uuid(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("trigger", sa.Text(), nullable=False, comment="hand, daily or mailing"),
        sa.Column("actor_kind", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=True),
        sa.Column(
            "source_count", sa.Integer(), nullable=False, comment="relations the source gave"
        ),
        sa.Column("added_count", sa.Integer(), nullable=False),
        sa.Column("removed_count", sa.Integer(), nullable=False),
        sa.Column(
            "member_count", sa.Integer(), nullable=False, comment="members after the refresh"
        ),
        sa.ForeignKeyConstraint(
            ["selection_id"],
            ["selections.selection_id"],
            name=op.f("fk_refreshes_selection_id_selections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("refresh_id", name=op.f("pk_refreshes")),
    )
    op.create_index("ix_refreshes_selection_at", "refreshes", ["selection_id", "at"], unique=False)
    op.create_table(
        "selection_exclusions",
        sa.Column("selection_id", sa.Uuid(), nullable=False),
        sa.Column("relation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "excluded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("excluded_by", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["selection_id"],
            ["selections.selection_id"],
            name=op.f("fk_selection_exclusions_selection_id_selections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "selection_id", "relation_id", name=op.f("pk_selection_exclusions")
        ),
        comment="relations removed by hand: they stay out on refreshes until added back by hand",
    )
    op.create_index(
        "ix_selection_exclusions_relation", "selection_exclusions", ["relation_id"], unique=False
    )
    op.create_table(
        "selection_members",
        sa.Column("selection_id", sa.Uuid(), nullable=False),
        sa.Column("relation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("added_by", sa.Text(), nullable=False, comment="source or hand"),
        sa.CheckConstraint(
            "added_by IN ('source', 'hand')", name=op.f("ck_selection_members_added_by")
        ),
        sa.ForeignKeyConstraint(
            ["selection_id"],
            ["selections.selection_id"],
            name=op.f("fk_selection_members_selection_id_selections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("selection_id", "relation_id", name=op.f("pk_selection_members")),
    )
    op.create_index(
        "ix_selection_members_relation", "selection_members", ["relation_id"], unique=False
    )
    op.create_table(
        "refresh_changes",
        sa.Column("refresh_id", sa.Uuid(), nullable=False),
        sa.Column("relation_id", sa.Uuid(), nullable=False),
        sa.Column("change", sa.Text(), nullable=False, comment="added or removed"),
        sa.CheckConstraint(
            "change IN ('added', 'removed')", name=op.f("ck_refresh_changes_change")
        ),
        sa.ForeignKeyConstraint(
            ["refresh_id"],
            ["refreshes.refresh_id"],
            name=op.f("fk_refresh_changes_refresh_id_refreshes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("refresh_id", "relation_id", name=op.f("pk_refresh_changes")),
    )
    op.create_index("ix_refresh_changes_relation", "refresh_changes", ["relation_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_refresh_changes_relation", table_name="refresh_changes")
    op.drop_table("refresh_changes")
    op.drop_index("ix_selection_members_relation", table_name="selection_members")
    op.drop_table("selection_members")
    op.drop_index("ix_selection_exclusions_relation", table_name="selection_exclusions")
    op.drop_table("selection_exclusions")
    op.drop_index("ix_refreshes_selection_at", table_name="refreshes")
    op.drop_table("refreshes")
    op.drop_index("ix_selections_daily", table_name="selections")
    op.drop_table("selections")
    op.drop_table("outbox")
    op.drop_table("inbox")
