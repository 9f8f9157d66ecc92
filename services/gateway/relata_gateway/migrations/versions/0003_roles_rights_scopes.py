"""roles with rights, grants to roles, API key scopes

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 17:40:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

EVERY_RIGHT = [
    "relations.create",
    "relations.archive",
    "relations.merge",
    "relations.erase",
    "lists.manage",
    "selections.manage",
    "duplicates.review",
    "buttons.run",
    "bulk.edit",
    "automation.manage",
    "administration",
]
STAFF_RIGHTS = [
    "relations.create",
    "relations.archive",
    "lists.manage",
    "selections.manage",
    "buttons.run",
]


def upgrade() -> None:
    roles = op.create_table(
        "roles",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("labels", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("rights", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_roles")),
    )
    op.bulk_insert(
        roles,
        [
            {
                "name": "admin",
                "labels": {"en": "Functional administrator", "nl": "Functioneel beheerder"},
                "rights": EVERY_RIGHT,
            },
            {
                "name": "staff",
                "labels": {"en": "Staff", "nl": "Medewerker"},
                "rights": STAFF_RIGHTS,
            },
        ],
    )
    op.create_foreign_key(op.f("fk_users_role_roles"), "users", "roles", ["role"], ["name"])
    op.create_table(
        "role_grants",
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("view_id", sa.Uuid(), nullable=False),
        sa.Column("can_edit", sa.Boolean(), server_default="false", nullable=False),
        sa.ForeignKeyConstraint(
            ["role"], ["roles.name"], name=op.f("fk_role_grants_role_roles"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["view_id"],
            ["views.id"],
            name=op.f("fk_role_grants_view_id_views"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("role", "view_id", name=op.f("pk_role_grants")),
    )
    op.add_column(
        "api_keys",
        sa.Column(
            "scopes",
            postgresql.ARRAY(sa.Text()),
            server_default="{read,write}",
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("api_keys", "scopes")
    op.drop_table("role_grants")
    op.drop_constraint(op.f("fk_users_role_roles"), "users", type_="foreignkey")
    op.drop_table("roles")
