"""conversation history

Revision ID: 0002_conversations
Revises: 0001_initial_schema
Create Date: 2026-11-29 20:18:51.085667
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_conversations"
down_revision = "0001_initial_schema"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "conversation_messages",
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False, comment="LangChain message as a dict."),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", "position"),
        comment="Agent chat history, one message per row, kept across restarts.",
    )


def downgrade() -> None:

    op.drop_table("conversation_messages")
