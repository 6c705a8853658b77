"""product metadata: brand, and category paths up to 300 characters

Revision ID: 0003_product_metadata
Revises: 0002_conversations
Create Date: 2026-11-30 16:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_product_metadata"
down_revision = "0002_conversations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("brand", sa.String(length=100), nullable=True, comment="Brand, if known.")
        )
        batch_op.alter_column(
            "category",
            existing_type=sa.String(length=100),
            type_=sa.String(length=300),
            existing_nullable=True,
            comment="Category name or path ('Music > Guitars > Strings'), if known.",
        )
        batch_op.alter_column(
            "price",
            existing_type=sa.Float(),
            existing_nullable=True,
            comment="List price from product metadata, else the median of sold lines.",
        )


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.alter_column(
            "category",
            existing_type=sa.String(length=300),
            type_=sa.String(length=100),
            existing_nullable=True,
            comment="Category name, if known.",
        )
        batch_op.alter_column(
            "price",
            existing_type=sa.Float(),
            existing_nullable=True,
            comment="Typical unit price (median of sold lines), if known.",
        )
        batch_op.drop_column("brand")
