"""semantic views: customer_facts, product_facts, order_facts, month_facts

Revision ID: 0004_semantic_views
Revises: 0003_product_metadata
Create Date: 2026-11-30 23:50:00

The views' bodies come from warehouse.semantic (the metrics' one definition);
`migrate` re-creates them at every run, so a database follows the code's
definitions.
"""

from alembic import op

revision = "0004_semantic_views"
down_revision = "0003_product_metadata"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from segassist.warehouse.semantic import install_views

    install_views(op.get_bind())


def downgrade() -> None:
    from segassist.warehouse.semantic import drop_views

    drop_views(op.get_bind())
