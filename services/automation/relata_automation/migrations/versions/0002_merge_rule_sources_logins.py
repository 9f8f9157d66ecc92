"""merge rules name the sources they apply to; relations holding a self-service login

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 17:55:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "merge_rules",
        sa.Column(
            "sources",
            postgresql.ARRAY(sa.Text()),
            server_default="{}",
            nullable=False,
            comment="who created the new relation (actor kind:id); empty: any creation",
        ),
    )
    op.create_table(
        "self_service_logins",
        sa.Column("relation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "since", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("relation_id", name=op.f("pk_self_service_logins")),
        comment="relations that have acted themselves (self-service): they hold a login, and two "
        "of them are never merged (one would lose their login)",
    )


def downgrade() -> None:
    op.drop_table("self_service_logins")
    op.drop_column("merge_rules", "sources")
