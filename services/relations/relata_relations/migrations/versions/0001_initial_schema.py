"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 20:54:36.325698
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


ROLE_CATALOGUE = [
    ("director", "Director", ["person"], ["organisation"]),
    ("board_member", "Board member", ["person"], ["organisation"]),
    ("chair", "Chair", ["person"], ["organisation"]),
    ("secretary", "Secretary", ["person"], ["organisation"]),
    ("treasurer", "Treasurer", ["person"], ["organisation"]),
    ("employee", "Employee", ["person"], ["organisation"]),
    ("contact_person", "Contact person", ["person"], ["organisation"]),
    ("volunteer", "Volunteer", ["person"], ["organisation"]),
    ("member_organisation", "Member organisation", ["organisation"], ["organisation"]),
    ("subsidiary", "Subsidiary", ["organisation"], ["organisation"]),
]


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("relation_number_seq", start=100001)))
    op.create_table(
        "custom_field_definitions",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("required", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("applies_to", sa.Text(), server_default="both", nullable=False),
        sa.Column("choices", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("min_value", sa.Numeric(), nullable=True),
        sa.Column("max_value", sa.Numeric(), nullable=True),
        sa.Column("max_length", sa.Integer(), nullable=True),
        sa.Column("pattern", sa.Text(), nullable=True),
        sa.Column("currency", sa.Text(), server_default="EUR", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_custom_field_definitions")),
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
        "merges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("survivor_id", sa.Uuid(), nullable=False),
        sa.Column("merged_id", sa.Uuid(), nullable=False),
        sa.Column(
            "decisions",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            comment="{field: survivor|merged|both}",
        ),
        sa.Column(
            "survivor_before",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=True,
            comment="fields and version before; null once erased",
        ),
        sa.Column("merged_before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "moved_functions",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            comment="[{id, side}] re-pointed",
        ),
        sa.Column("survivor_version_after", sa.Integer(), nullable=False),
        sa.Column("actor_kind", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=True),
        sa.Column(
            "merged_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merges")),
    )
    op.create_index(op.f("ix_merges_merged_id"), "merges", ["merged_id"], unique=False)
    op.create_index(op.f("ix_merges_survivor_id"), "merges", ["survivor_id"], unique=False)
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
        "relation_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("relation_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "kind", sa.Text(), nullable=False, comment="the event type that recorded the change"
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relation_changes")),
    )
    op.create_index(
        "ix_relation_changes_relation_version",
        "relation_changes",
        ["relation_id", "version"],
        unique=False,
    )
    op.create_table(
        "relations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("relation_type", sa.Text(), nullable=False),
        sa.Column(
            "relation_number",
            sa.BigInteger(),
            server_default=sa.text("nextval('relation_number_seq')"),
            nullable=False,
        ),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("merged_into", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fields", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
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
        sa.CheckConstraint(
            "relation_type IN ('person', 'organisation')", name=op.f("ck_relations_relation_type")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'merged', 'erased')", name=op.f("ck_relations_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relations")),
        sa.UniqueConstraint("external_id", name=op.f("uq_relations_external_id")),
        sa.UniqueConstraint("relation_number", name=op.f("uq_relations_relation_number")),
    )
    op.create_table(
        "roles",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column(
            "subject_types",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            comment="relation types that can hold it",
        ),
        sa.Column(
            "object_types",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            comment="relation types it is held at",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_roles")),
    )
    op.create_table(
        "functions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("object_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "end_date IS NULL OR end_date >= start_date", name=op.f("ck_functions_dates")
        ),
        sa.CheckConstraint("subject_id <> object_id", name=op.f("ck_functions_not_self")),
        sa.ForeignKeyConstraint(
            ["object_id"], ["relations.id"], name=op.f("fk_functions_object_id_relations")
        ),
        sa.ForeignKeyConstraint(["role"], ["roles.code"], name=op.f("fk_functions_role_roles")),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["relations.id"], name=op.f("fk_functions_subject_id_relations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_functions")),
    )
    op.create_index(op.f("ix_functions_object_id"), "functions", ["object_id"], unique=False)
    op.create_index(op.f("ix_functions_subject_id"), "functions", ["subject_id"], unique=False)
    roles = sa.table(
        "roles",
        sa.column("code", sa.Text),
        sa.column("label", sa.Text),
        sa.column("subject_types", postgresql.JSONB),
        sa.column("object_types", postgresql.JSONB),
    )
    op.bulk_insert(
        roles,
        [
            {"code": c, "label": label, "subject_types": s, "object_types": o}
            for c, label, s, o in ROLE_CATALOGUE
        ],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_functions_subject_id"), table_name="functions")
    op.drop_index(op.f("ix_functions_object_id"), table_name="functions")
    op.drop_table("functions")
    op.drop_table("roles")
    op.drop_table("relations")
    op.drop_index("ix_relation_changes_relation_version", table_name="relation_changes")
    op.drop_table("relation_changes")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_merges_survivor_id"), table_name="merges")
    op.drop_index(op.f("ix_merges_merged_id"), table_name="merges")
    op.drop_table("merges")
    op.drop_table("inbox")
    op.drop_table("custom_field_definitions")
    op.execute(sa.schema.DropSequence(sa.Sequence("relation_number_seq")))
