"""semantic views: a customer's region (state) and city in customer_facts

Revision ID: 0006_customer_place_views
Revises: 0005_rating_range_views
Create Date: 2026-12-06 20:10:00

The views' bodies come from warehouse.semantic; this revision only marks that they
changed, so that a database made by an earlier version is refused until `segassist
init` re-creates them (`migrate` re-creates the views at every run).
"""

from alembic import op

revision = "0006_customer_place_views"
down_revision = "0005_rating_range_views"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from segassist.warehouse.semantic import install_views

    install_views(op.get_bind())


def downgrade() -> None:
    pass  # the views of 0005 are the code's of that version: re-created by its migrate
