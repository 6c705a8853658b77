"""semantic views: rating range per customer and product, a product's review dates

Revision ID: 0005_rating_range_views
Revises: 0004_semantic_views
Create Date: 2026-12-03 22:00:00

The views' bodies come from warehouse.semantic; this revision only marks that they
changed, so that a database made by an earlier version is refused until `segassist
init` re-creates them (`migrate` re-creates the views at every run).
"""

from alembic import op

revision = "0005_rating_range_views"
down_revision = "0004_semantic_views"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from segassist.warehouse.semantic import install_views

    install_views(op.get_bind())


def downgrade() -> None:
    pass  # the views of 0004 are the code's of that version: re-created by its migrate
