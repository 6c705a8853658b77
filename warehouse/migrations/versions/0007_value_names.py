"""value_names: other names a source gives stored values (Olist's Portuguese categories)

Revision ID: 0007_value_names
Revises: 0006_customer_place_views
Create Date: 2026-12-07 20:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_value_names"
down_revision = "0006_customer_place_views"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "value_names",
        sa.Column(
            "column_name",
            sa.String(length=64),
            nullable=False,
            comment="The column holding the value ('category').",
        ),
        sa.Column(
            "name",
            sa.String(length=300),
            nullable=False,
            comment="The other name ('beleza_saude').",
        ),
        sa.Column(
            "value",
            sa.String(length=300),
            nullable=False,
            comment="The value as stored ('health_beauty').",
        ),
        sa.PrimaryKeyConstraint("column_name", "name"),
        comment="Another name a source gives a stored value: Olist's Portuguese category "
        "names for the English ones stored (read by run_sql's note on a value never held).",
    )


def downgrade() -> None:
    op.drop_table("value_names")
