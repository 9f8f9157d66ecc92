"""view selections

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 23:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "view_selections",
        sa.Column("selection_id", sa.Uuid(), nullable=False),
        sa.Column("view_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("list_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["view_id"],
            ["views.id"],
            name=op.f("fk_view_selections_view_id_views"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("selection_id", name=op.f("pk_view_selections")),
    )
    op.create_index("ix_view_selections_view", "view_selections", ["view_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_view_selections_view", table_name="view_selections")
    op.drop_table("view_selections")
