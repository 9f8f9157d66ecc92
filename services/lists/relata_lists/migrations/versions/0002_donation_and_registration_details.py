"""donation currency and campaign, registration event date and time; donations paged by
(received_on, donation_id)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "rm_donations", sa.Column("currency", sa.Text(), server_default="EUR", nullable=False)
    )
    op.add_column("rm_donations", sa.Column("campaign", sa.Text(), nullable=True))
    op.drop_index("ix_rm_donations_relation", table_name="rm_donations")
    op.create_index(
        "ix_rm_donations_relation",
        "rm_donations",
        ["relation_id", "received_on", "donation_id"],
        unique=False,
    )
    op.add_column("rm_registrations", sa.Column("event_date", sa.Date(), nullable=True))
    op.add_column(
        "rm_registrations",
        sa.Column(
            "registered_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="when the registration was made (its created event); null for older rows",
        ),
    )


def downgrade() -> None:
    op.drop_column("rm_registrations", "registered_at")
    op.drop_column("rm_registrations", "event_date")
    op.drop_index("ix_rm_donations_relation", table_name="rm_donations")
    op.create_index(
        "ix_rm_donations_relation", "rm_donations", ["relation_id", "received_on"], unique=False
    )
    op.drop_column("rm_donations", "campaign")
    op.drop_column("rm_donations", "currency")
