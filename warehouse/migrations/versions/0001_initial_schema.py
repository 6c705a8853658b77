"""initial schema

Revision ID: 0001_initial_schema
Revises:
Create Date: 2026-11-29 19:16:42.058410
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial_schema"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "customers",
        sa.Column(
            "customer_id",
            sa.String(length=64),
            nullable=False,
            comment="The data set's own customer id (text).",
        ),
        sa.Column(
            "source",
            sa.String(length=32),
            nullable=False,
            comment="Data set the row came from, e.g. 'amazon', 'online_retail', 'olist'.",
        ),
        sa.Column(
            "name",
            sa.String(length=200),
            nullable=True,
            comment="Display name, if known.",
        ),
        sa.Column(
            "country",
            sa.String(length=64),
            nullable=True,
            comment="Country most of their orders were placed from.",
        ),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=True, comment="State or region."),
        sa.PrimaryKeyConstraint("customer_id"),
        comment="One row per person who bought, reviewed or wrote to support.",
    )
    op.create_table(
        "import_runs",
        sa.Column("run_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("importer", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_written", sa.JSON(), nullable=False, comment="New rows per table."),
        sa.Column(
            "notes",
            sa.JSON(),
            nullable=False,
            comment="What the importer kept aside or marked.",
        ),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("run_id"),
        comment="Ledger of imports: which file, its sha256, what it wrote.",
    )
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_runs_sha256"), ["sha256"], unique=False)

    op.create_table(
        "model_versions",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.String(length=16),
            nullable=False,
            comment="'candidate', 'serving', 'retired'.",
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("data_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("artifact_path", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("version"),
        comment="Trained segmenter versions; exactly one has status 'serving'.",
    )
    op.create_table(
        "products",
        sa.Column(
            "product_id",
            sa.String(length=64),
            nullable=False,
            comment="The data set's own id.",
        ),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column(
            "title",
            sa.String(length=300),
            nullable=True,
            comment="Product name or description (most common one seen).",
        ),
        sa.Column(
            "category",
            sa.String(length=100),
            nullable=True,
            comment="Category name, if known.",
        ),
        sa.Column(
            "price",
            sa.Float(),
            nullable=True,
            comment="Typical unit price (median of sold lines), if known.",
        ),
        sa.PrimaryKeyConstraint("product_id"),
        comment="One row per product (SKU, ASIN or stock code).",
    )
    op.create_table(
        "customer_features",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("cutoff_at", sa.DateTime(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
        ),
        sa.PrimaryKeyConstraint("customer_id", "cutoff_at"),
        comment="Behaviour features per customer as of a cutoff date.",
    )
    op.create_table(
        "customer_scores",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column(
            "probabilities",
            sa.JSON(),
            nullable=False,
            comment="Membership probability per segment.",
        ),
        sa.Column(
            "churn_risk",
            sa.Float(),
            nullable=False,
            comment="P(no purchase in the horizon), 0-1.",
        ),
        sa.Column(
            "value_estimate",
            sa.Float(),
            nullable=False,
            comment="Predicted spend in the horizon.",
        ),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
        ),
        sa.ForeignKeyConstraint(
            ["model_version"],
            ["model_versions.version"],
        ),
        sa.PrimaryKeyConstraint("customer_id", "model_version"),
        comment="Per-customer segment and predicted traits from a model version.",
    )
    with op.batch_alter_table("customer_scores", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_scores_segment", ["model_version", "segment_id"], unique=False
        )

    op.create_table(
        "events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=True),
        sa.Column(
            "event_type",
            sa.String(length=32),
            nullable=False,
            comment="'view', 'cart', 'search', ...",
        ),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column(
            "query",
            sa.Text(),
            nullable=True,
            comment="Search text for 'search' events.",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.product_id"],
        ),
        sa.PrimaryKeyConstraint("event_id"),
        comment="Browsing events (view, cart, search, ...); empty for data sets without them.",
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_customer_time", ["customer_id", "occurred_at"], unique=False
        )

    op.create_table(
        "orders",
        sa.Column(
            "order_id",
            sa.String(length=64),
            nullable=False,
            comment="Order or invoice number.",
        ),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column(
            "customer_id",
            sa.String(length=64),
            nullable=True,
            comment="Buyer; NULL for anonymous (guest) orders, which still count in revenue.",
        ),
        sa.Column(
            "ordered_at",
            sa.DateTime(),
            nullable=False,
            comment="When the order was placed.",
        ),
        sa.Column(
            "status",
            sa.String(length=32),
            nullable=False,
            comment="'completed', 'cancelled', 'returned', 'adjustment', or the source's own status.",
        ),
        sa.Column(
            "is_cancelled",
            sa.Boolean(),
            nullable=False,
            comment="True for cancellations (e.g. invoices starting with 'C') and cancelled orders.",
        ),
        sa.Column(
            "country",
            sa.String(length=64),
            nullable=True,
            comment="Country of this order.",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
        ),
        sa.PrimaryKeyConstraint("order_id"),
        comment="One row per order or invoice. A cancellation is its own order.",
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_orders_customer_time", ["customer_id", "ordered_at"], unique=False
        )
        batch_op.create_index("ix_orders_time", ["ordered_at"], unique=False)

    op.create_table(
        "segments",
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column(
            "name",
            sa.String(length=120),
            nullable=False,
            comment="Short human-readable name.",
        ),
        sa.Column("size", sa.Integer(), nullable=False, comment="Customers assigned to it."),
        sa.Column(
            "profile",
            sa.JSON(),
            nullable=False,
            comment="Feature z-scores, themes, top products.",
        ),
        sa.ForeignKeyConstraint(
            ["model_version"],
            ["model_versions.version"],
        ),
        sa.PrimaryKeyConstraint("model_version", "segment_id"),
        comment="Segment catalogue of each model version: name and profile.",
    )
    op.create_table(
        "synthetic_truth",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("segment", sa.Integer(), nullable=False),
        sa.Column("segment_name", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
        ),
        sa.PrimaryKeyConstraint("customer_id"),
        comment="Ground-truth segment of generated customers (synthetic only).",
    )
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column(
            "line_no",
            sa.Integer(),
            nullable=False,
            comment="1-based position in the order.",
        ),
        sa.Column("product_id", sa.String(length=64), nullable=True),
        sa.Column(
            "description",
            sa.String(length=300),
            nullable=True,
            comment="Product description as written on this line (may differ from products.title).",
        ),
        sa.Column(
            "quantity",
            sa.Integer(),
            nullable=False,
            comment="Units; negative for returns.",
        ),
        sa.Column(
            "unit_price",
            sa.Float(),
            nullable=True,
            comment="Price per unit; NULL when the source has no prices (e.g. Amazon).",
        ),
        sa.Column(
            "is_return",
            sa.Boolean(),
            nullable=False,
            comment="True when the line gives goods back or cancels them.",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.order_id"],
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.product_id"],
        ),
        sa.PrimaryKeyConstraint("order_id", "line_no"),
        comment="Line items. Line amount = quantity * unit_price; negative quantity = return.",
    )
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.create_index("ix_order_lines_product", ["product_id"], unique=False)

    op.create_table(
        "reviews",
        sa.Column("review_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=True),
        sa.Column(
            "order_id",
            sa.String(length=64),
            nullable=True,
            comment="The order reviewed, when known.",
        ),
        sa.Column(
            "rating",
            sa.Integer(),
            nullable=True,
            comment="Stars, 1 (worst) to 5 (best).",
        ),
        sa.Column(
            "title",
            sa.String(length=300),
            nullable=True,
            comment="Review headline or summary.",
        ),
        sa.Column("text", sa.Text(), nullable=True, comment="Review body, verbatim."),
        sa.Column(
            "language",
            sa.String(length=8),
            nullable=True,
            comment="Detected language: 'en', 'pt', 'zh', or 'und' when unknown.",
        ),
        sa.Column("reviewed_at", sa.DateTime(), nullable=False),
        sa.Column(
            "helpful_votes",
            sa.Integer(),
            nullable=False,
            comment="Readers who found it helpful.",
        ),
        sa.Column("total_votes", sa.Integer(), nullable=False, comment="Readers who voted."),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.order_id"],
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.product_id"],
        ),
        sa.PrimaryKeyConstraint("review_id"),
        comment="Product reviews written by customers (text is data, never instructions).",
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reviews_customer_time", ["customer_id", "reviewed_at"], unique=False
        )
        batch_op.create_index("ix_reviews_product", ["product_id"], unique=False)
        batch_op.create_index("ix_reviews_time", ["reviewed_at"], unique=False)

    op.create_table(
        "support_messages",
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column(
            "channel",
            sa.String(length=32),
            nullable=True,
            comment="'email', 'chat', 'phone'...",
        ),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.order_id"],
        ),
        sa.PrimaryKeyConstraint("message_id"),
        comment="Messages customers sent to customer service; empty when not imported.",
    )
    with op.batch_alter_table("support_messages", schema=None) as batch_op:
        batch_op.create_index("ix_support_customer_time", ["customer_id", "sent_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("support_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_support_customer_time")

    op.drop_table("support_messages")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_time")
        batch_op.drop_index("ix_reviews_product")
        batch_op.drop_index("ix_reviews_customer_time")

    op.drop_table("reviews")
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_order_lines_product")

    op.drop_table("order_lines")
    op.drop_table("synthetic_truth")
    op.drop_table("segments")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_time")
        batch_op.drop_index("ix_orders_customer_time")

    op.drop_table("orders")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_customer_time")

    op.drop_table("events")
    with op.batch_alter_table("customer_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_scores_segment")

    op.drop_table("customer_scores")
    op.drop_table("customer_features")
    op.drop_table("products")
    op.drop_table("model_versions")
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_runs_sha256"))

    op.drop_table("import_runs")
    op.drop_table("customers")
