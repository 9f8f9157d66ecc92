"""archived relations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 03:00:00
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("status", "relations", type_="check")
    op.create_check_constraint(
        "status", "relations", "status IN ('active', 'archived', 'merged', 'erased')"
    )


def downgrade() -> None:
    op.execute("UPDATE relations SET status = 'active' WHERE status = 'archived'")
    op.drop_constraint("status", "relations", type_="check")
    op.create_check_constraint("status", "relations", "status IN ('active', 'merged', 'erased')")
