"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 21:10:27.196096
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
        "contact_moment_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("contact_moment_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "kind", sa.Text(), nullable=False, comment="the event type that recorded the change"
        ),
        sa.Column(
            "reason",
            sa.Text(),
            nullable=True,
            comment="what caused a change the user did not make, e.g. a merge",
        ),
        sa.Column("actor_kind", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=True),
        sa.Column(
            "changes",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            comment="{field: {old, new}}",
        ),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_moment_changes")),
    )
    op.create_index(
        "ix_contact_moment_changes_moment_version",
        "contact_moment_changes",
        ["contact_moment_id", "version"],
        unique=False,
    )
    op.create_table(
        "contact_moments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True, comment="the user who logged it"),
        sa.Column("relation_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("source", sa.Text(), server_default="manual", nullable=False),
        sa.Column(
            "message_id",
            sa.Text(),
            nullable=True,
            comment="Message-ID of an ingested e-mail, without <>",
        ),
        sa.Column(
            "email",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=True,
            comment="addresses, attachments and unknown addresses of an e-mail",
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.CheckConstraint("direction IN ('in', 'out')", name=op.f("ck_contact_moments_direction")),
        sa.CheckConstraint(
            "kind IN ('phone', 'email', 'visit', 'letter', 'meeting', 'other')",
            name=op.f("ck_contact_moments_kind"),
        ),
        sa.CheckConstraint("source IN ('manual', 'email')", name=op.f("ck_contact_moments_source")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_moments")),
    )
    op.create_index(
        "uq_contact_moments_message_id",
        "contact_moments",
        ["message_id"],
        unique=True,
        postgresql_where=sa.text("message_id IS NOT NULL"),
    )
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
        "known_relations",
        sa.Column("relation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "version", sa.Integer(), nullable=False, comment="the newest relation version applied"
        ),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("merged_into", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("relation_id", name=op.f("pk_known_relations")),
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
        "relation_emails",
        sa.Column(
            "address", sa.Text(), nullable=False, comment="lower case: matching ignores case"
        ),
        sa.Column("relation_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("address", "relation_id", name=op.f("pk_relation_emails")),
    )
    op.create_index(
        "ix_relation_emails_relation_id", "relation_emails", ["relation_id"], unique=False
    )
    op.create_table(
        "contact_moment_links",
        sa.Column("contact_moment_id", sa.Uuid(), nullable=False),
        sa.Column("relation_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default="false", nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_moment_id"],
            ["contact_moments.id"],
            name=op.f("fk_contact_moment_links_contact_moment_id_contact_moments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "contact_moment_id", "relation_id", name=op.f("pk_contact_moment_links")
        ),
    )
    op.create_index(
        "ix_contact_moment_links_relation_id", "contact_moment_links", ["relation_id"], unique=False
    )
    op.create_index(
        "ix_contact_moment_links_timeline",
        "contact_moment_links",
        [
            "relation_id",
            sa.literal_column("occurred_at DESC"),
            sa.literal_column("contact_moment_id DESC"),
        ],
        unique=False,
        postgresql_where=sa.text("NOT deleted"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_contact_moment_links_timeline",
        table_name="contact_moment_links",
        postgresql_where=sa.text("NOT deleted"),
    )
    op.drop_index("ix_contact_moment_links_relation_id", table_name="contact_moment_links")
    op.drop_table("contact_moment_links")
    op.drop_index("ix_relation_emails_relation_id", table_name="relation_emails")
    op.drop_table("relation_emails")
    op.drop_table("outbox")
    op.drop_table("known_relations")
    op.drop_table("inbox")
    op.drop_index(
        "uq_contact_moments_message_id",
        table_name="contact_moments",
        postgresql_where=sa.text("message_id IS NOT NULL"),
    )
    op.drop_table("contact_moments")
    op.drop_index("ix_contact_moment_changes_moment_version", table_name="contact_moment_changes")
    op.drop_table("contact_moment_changes")
