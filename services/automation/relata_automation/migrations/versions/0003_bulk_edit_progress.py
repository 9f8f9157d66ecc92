"""bulk edits show their progress: status, total and when they finished

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 17:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "bulk_edits",
        sa.Column(
            "status",
            sa.Text(),
            server_default="done",
            nullable=False,
            comment="running, done or interrupted",
        ),
    )
    op.add_column(
        "bulk_edits",
        sa.Column("total", sa.Integer(), nullable=True, comment="relations the batch goes through"),
    )
    op.add_column("bulk_edits", sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("bulk_edits", "finished_at")
    op.drop_column("bulk_edits", "total")
    op.drop_column("bulk_edits", "status")
