"""follow-ups of contact moments

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 17:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("contact_moment_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "assignee_id", sa.Text(), nullable=False, comment="the user who is to follow it up"
        ),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True, comment="the user who asked for it"),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True, comment="null while open"),
        sa.Column("done_by", sa.Text(), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["contact_moment_id"],
            ["contact_moments.id"],
            name=op.f("fk_follow_ups_contact_moment_id_contact_moments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
    )
    op.create_index(
        "ix_follow_ups_contact_moment_id", "follow_ups", ["contact_moment_id"], unique=False
    )
    op.create_index(
        "ix_follow_ups_open_by_assignee",
        "follow_ups",
        ["assignee_id", "due_on", "id"],
        unique=False,
        postgresql_where=sa.text("done_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_follow_ups_open_by_assignee",
        table_name="follow_ups",
        postgresql_where=sa.text("done_at IS NULL"),
    )
    op.drop_index("ix_follow_ups_contact_moment_id", table_name="follow_ups")
    op.drop_table("follow_ups")
