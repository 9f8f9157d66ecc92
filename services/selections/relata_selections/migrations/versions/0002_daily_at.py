"""daily refresh at a time of day

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 17:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "selections",
        sa.Column(
            "daily_at",
            sa.Time(),
            nullable=True,
            comment="local time of day the daily refresh runs from (null: the first round)",
        ),
    )


def downgrade() -> None:
    op.drop_column("selections", "daily_at")
