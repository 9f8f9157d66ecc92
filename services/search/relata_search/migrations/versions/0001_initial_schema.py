"""initial schema: search documents, memberships, rebuild generation, inbox

Revision ID: 0001
Revises:
Create Date: 2026-11-27 10:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("search_change_seq")))
    op.create_table(
        "search_documents",
        sa.Column("relation_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, comment="active, merged or erased"),
        sa.Column(
            "document",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=True,
            comment="the search document; null for a tombstone",
        ),
        sa.Column(
            "seq", sa.BigInteger(), nullable=False, comment="change order the index followers tail"
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("relation_id", name=op.f("pk_search_documents")),
    )
    op.create_index("ix_search_documents_seq", "search_documents", ["seq"], unique=True)
    op.create_table(
        "memberships",
        sa.Column("relation_id", sa.Uuid(), nullable=False),
        sa.Column("list_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("relation_id", "list_id", name=op.f("pk_memberships")),
    )
    op.create_index("ix_memberships_list_id", "memberships", ["list_id"])
    op.create_table(
        "search_generation",
        sa.Column("id", sa.Integer(), nullable=False, comment="always 1"),
        sa.Column("generation", sa.Integer(), nullable=False, comment="bumped by every rebuild"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_generation")),
    )
    op.execute("INSERT INTO search_generation (id, generation) VALUES (1, 1)")
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


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("search_generation")
    op.drop_table("memberships")
    op.drop_table("search_documents")
    op.execute("DROP SEQUENCE search_change_seq")
