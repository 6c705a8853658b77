"""The semantic layer: the warehouse at the grain questions are asked, and the metrics'
definitions in one place.

Small models write valid SQL but at the wrong grain: they count rows where the
question counts customers whose average passes a threshold, or sum revenue over
cancelled orders. Five views answer most questions with one filter and one
aggregate: one row per customer (`customer_facts`), per product (`product_facts`),
per order (`order_facts`), per review (`review_facts`, with its year and month: a small
model asked about reviews "in 2012" wrote YEAR(), which SQLite lacks, or filtered
customers by their last review) and per month (`month_facts`).

Every metric is written once here, as a SQLAlchemy expression (`revenue_amount`,
`taken_back_amount`, ...), and in words (`METRICS`): the views, the system prompt
(`semantic_text`), `customer_profile` and `find_customers` (warehouse.queries)
read them. The views are created by `segassist init` and every migration
(`install_views`); being views, they are always in step with what `import` wrote
and what `score` stored.
"""

from __future__ import annotations

from segassist.warehouse.schema import (
    SEMANTIC_VIEWS,
    Customer,
    CustomerScore,
    ModelVersion,
    Order,
    OrderLine,
    Product,
    Review,
    Segment,
)
from sqlalchemy import (
    Connection,
    Integer,
    Select,
    and_,
    case,
    distinct,
    func,
    literal_column,
    select,
    union,
)

# What each metric means, as the model, the docs and the tools use it.
METRICS = {
    "orders": "orders that are not cancelled (cancelled ones are counted apart, as "
    "cancelled_orders)",
    "revenue": "quantity x unit_price over the lines of orders that are not cancelled",
    "net_revenue": "revenue minus what cancellations took back (the negative lines of "
    "cancelled orders, such as invoices starting with 'C')",
    "units": "quantity over the lines of orders that are not cancelled",
    "customers": "distinct customer_id (anonymous orders have none and are not customers)",
    "new_customers": "customers whose first order (not cancelled) is in that month",
    "avg_rating": "mean stars of the reviews, 1-5",
    "churn_risk": "the segmenter's probability, 0-1, that the customer buys nothing in the "
    "model's horizon (serving model)",
    "expected_spend": "the segmenter's expected spend in the model's horizon (serving model)",
}

# The views: name -> (grain, {column: meaning}). The selects below must return these
# columns in this order (tests check).
VIEWS = {
    "customer_facts": (
        "one row per customer with their lifetime facts",
        {
            "customer_id": "customer id (text)",
            "source": "data set",
            "country": "country",
            "region": "state or region, if known",
            "city": "city, if known",
            "orders": "orders not cancelled",
            "cancelled_orders": "cancelled orders",
            "first_order_at": "first order (not cancelled)",
            "last_order_at": "last order (not cancelled)",
            "units": "units bought",
            "revenue": "spend, cancelled orders excluded",
            "net_revenue": "spend net of cancellations",
            "reviews": "reviews written",
            "avg_rating": "their mean rating",
            "lowest_rating": "their lowest rating (5: every review 5 stars)",
            "highest_rating": "their highest rating",
            "first_review_at": "first review",
            "last_review_at": "last review",
            "segment_id": "segment (serving model)",
            "segment_name": "segment name",
            "churn_risk": "0-1",
            "expected_spend": "expected spend in the horizon",
        },
    ),
    "product_facts": (
        "one row per product",
        {
            "product_id": "product id (text)",
            "title": "name or description",
            "category": "category",
            "brand": "brand",
            "price": "list price",
            "orders": "orders with it (not cancelled)",
            "customers": "distinct buyers",
            "units": "units sold (not cancelled)",
            "revenue": "revenue (not cancelled)",
            "net_revenue": "revenue net of cancellations",
            "reviews": "reviews of it",
            "avg_rating": "its mean rating",
            "lowest_rating": "its lowest rating (5: every review 5 stars)",
            "highest_rating": "its highest rating",
            "first_review_at": "its first review",
            "last_review_at": "its last review",
            "first_sold_at": "first sale",
            "last_sold_at": "last sale",
        },
    ),
    "order_facts": (
        "one row per order",
        {
            "order_id": "order or invoice id (text)",
            "customer_id": "buyer (NULL: anonymous)",
            "ordered_at": "timestamp",
            "month": "'YYYY-MM'",
            "status": "status",
            "is_cancelled": "cancelled",
            "country": "country",
            "lines": "order lines",
            "units": "units",
            "order_value": "quantity x unit_price of its lines (negative for a cancellation)",
            "revenue": "order_value when not cancelled, else 0",
            "net_revenue": "revenue, or what a cancellation took back (negative)",
            "reviews": "reviews of it",
            "avg_rating": "their mean rating",
        },
    ),
    "review_facts": (
        "one row per review",
        {
            "review_id": "review id (text)",
            "customer_id": "who wrote it",
            "product_id": "product reviewed",
            "product_title": "its name",
            "rating": "stars, 1-5",
            "reviewed_at": "timestamp",
            "year": "year written (integer, e.g. 2013)",
            "month": "'YYYY-MM'",
            "helpful_votes": "readers who found it helpful",
            "language": "'en', 'pt', 'zh' or 'und'",
            "title": "headline",
            "text": "body, verbatim",
        },
    ),
    "month_facts": (
        "one row per calendar month with orders or reviews",
        {
            "month": "'YYYY-MM'",
            "orders": "orders not cancelled",
            "cancelled_orders": "cancelled orders",
            "customers": "distinct buyers",
            "new_customers": "customers whose first order is this month",
            "units": "units sold",
            "revenue": "revenue (not cancelled)",
            "net_revenue": "revenue net of cancellations",
            "reviews": "reviews written",
            "reviewers": "distinct customers who reviewed",
            "new_reviewers": "customers whose first review is this month",
            "avg_rating": "mean rating of the month's reviews",
        },
    ),
}
VIEW_NAMES = tuple(VIEWS)
# Each view's grain as a column: one row per value of it.
VIEW_KEYS = {
    "customer_facts": "customer_id",
    "product_facts": "product_id",
    "order_facts": "order_id",
    "review_facts": "review_id",
    "month_facts": "month",
}
assert set(VIEW_KEYS) == set(VIEWS), "every view has its key"

# Names people (and small models) give the views' columns: column -> other names. A
# query naming one of these where the view has no such column runs with the view's
# column instead, and says so (tools.schema_text.repair_columns). A name is taken only
# when exactly one column of the query's tables claims it.
SYNONYMS = {
    "revenue": (
        *("spend", "spent", "total_spend", "total_spent", "amount_spent", "spending"),
        *("total_amount", "sales", "total_sales", "total_revenue", "gross_revenue"),
        *("monetary", "sales_amount", "revenue_total", "spend_total"),
    ),
    "net_revenue": ("net_spend", "net_sales", "net_amount", "revenue_net"),
    "orders": (
        *("order_count", "num_orders", "number_of_orders", "total_orders", "n_orders"),
        *("orders_count", "count_orders", "purchases", "purchase_count", "num_purchases"),
        *("total_purchases", "frequency"),
    ),
    "cancelled_orders": (
        *("cancellations", "canceled_orders", "num_cancelled", "cancelled_count"),
        *("cancelled_order_count", "cancellation_count"),
    ),
    "is_cancelled": ("cancelled", "canceled", "is_canceled"),
    "reviews": (
        *("review_count", "num_reviews", "number_of_reviews", "total_reviews"),
        *("n_reviews", "reviews_count", "count_reviews"),
    ),
    "reviewers": ("reviewer_count", "num_reviewers", "unique_reviewers"),
    "customers": (
        *("customer_count", "num_customers", "number_of_customers", "buyers"),
        *("unique_customers", "distinct_customers", "buyer_count"),
    ),
    "units": (
        *("quantity", "total_quantity", "units_sold", "qty", "total_units"),
        *("items_sold", "unit_count", "quantity_sold"),
    ),
    "avg_rating": (
        *("average_rating", "mean_rating", "avg_stars", "average_stars", "avg_score"),
        *("average_score", "rating_avg", "avg_review_rating", "average_review_rating"),
    ),
    "lowest_rating": ("min_rating", "minimum_rating", "worst_rating", "lowest_stars"),
    "highest_rating": ("max_rating", "maximum_rating", "best_rating", "highest_stars"),
    "rating": ("stars", "star_rating", "overall", "review_rating", "review_stars"),
    "region": ("state", "estado", "customer_state", "province", "uf"),
    "city": ("cidade", "customer_city", "town"),
    "helpful_votes": (
        *("helpful", "helpfulness", "helpful_count", "votes", "helpful_vote_count"),
        *("helpful_vote", "num_helpful_votes"),
    ),
    "text": ("review_text", "body", "content", "review_body", "review_comment", "comment"),
    "title": ("product_name", "name", "product_title", "description", "review_title"),
    "product_title": ("product_name", "product_description"),
    "ordered_at": (
        *("order_date", "date", "order_time", "purchase_date", "created_at"),
        *("invoice_date", "order_timestamp", "purchased_at", "timestamp"),
    ),
    "reviewed_at": (
        *("review_date", "date", "review_time", "created_at", "unix_review_time"),
        *("review_timestamp", "timestamp"),
    ),
    "first_order_at": (
        *("first_order_date", "first_purchase", "first_purchase_date", "first_order"),
        *("first_purchase_at",),
    ),
    "last_order_at": (
        *("last_order_date", "last_purchase", "last_purchase_date", "last_order"),
        *("last_purchase_at", "most_recent_order"),
    ),
    "first_review_at": ("first_review_date", "first_review"),
    "last_review_at": ("last_review_date", "last_review", "most_recent_review"),
    "first_sold_at": ("first_sale", "first_sale_date"),
    "last_sold_at": ("last_sale", "last_sale_date"),
    "churn_risk": ("churn", "churn_probability", "churn_score", "churn_prob", "risk"),
    "expected_spend": (
        *("predicted_spend", "predicted_value", "expected_value", "clv", "ltv"),
        *("customer_value", "value", "predicted_clv"),
    ),
    "segment_name": ("segment", "segment_label"),
    "customer_id": ("reviewer_id", "user_id", "client_id", "buyer_id", "customer"),
    "product_id": ("asin", "item_id", "sku", "stock_code", "product"),
    "order_id": ("invoice", "invoice_id", "invoice_no", "invoice_number"),
    "order_value": ("order_total", "total_value", "order_amount"),
    "price": ("unit_price", "list_price"),
    "category": ("product_category", "category_name"),
}
assert VIEW_NAMES == SEMANTIC_VIEWS, "schema.SEMANTIC_VIEWS names the same views"


# --- The metrics, as expressions ------------------------------------------------------


def line_amount():
    """quantity x unit_price of an order line (0 where the source has no price)."""
    return func.coalesce(OrderLine.quantity * OrderLine.unit_price, 0.0)


def counts_as_sale():
    """An order whose lines count in orders, units and revenue."""
    return Order.is_cancelled.is_(False)


def takes_back():
    """A line that gives goods or money back: a negative line of a cancelled order."""
    return and_(Order.is_cancelled.is_(True), OrderLine.quantity < 0)


def revenue_amount():
    return case((counts_as_sale(), line_amount()), else_=0.0)


def net_revenue_amount():
    return case((counts_as_sale(), line_amount()), (takes_back(), line_amount()), else_=0.0)


def sold_units():
    return case((counts_as_sale(), OrderLine.quantity), else_=0)


def first_orders(name: str = "fo"):
    """Each customer's first order that counts as a sale, as a subquery (customer_id, at):
    new customers per month, and who was a customer before a date (training.season)."""
    return (
        select(Order.customer_id, func.min(Order.ordered_at).label("at"))
        .where(counts_as_sale(), Order.customer_id.is_not(None))
        .group_by(Order.customer_id)
        .subquery(name)
    )


def month_of(column, dialect: str):
    """'YYYY-MM' of a timestamp, in the dialect's idiom."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def serving_version():
    """The serving model version, as a scalar subquery."""
    return (
        select(ModelVersion.version)
        .where(ModelVersion.status == "serving")
        .order_by(ModelVersion.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )


# --- The views ------------------------------------------------------------------------


def customer_facts() -> Select:
    orders = (
        select(
            Order.customer_id,
            func.count().filter(counts_as_sale()).label("orders"),
            func.count().filter(Order.is_cancelled.is_(True)).label("cancelled_orders"),
            func.min(case((counts_as_sale(), Order.ordered_at))).label("first_order_at"),
            func.max(case((counts_as_sale(), Order.ordered_at))).label("last_order_at"),
        )
        .where(Order.customer_id.is_not(None))
        .group_by(Order.customer_id)
        .subquery("o")
    )
    lines = (
        select(
            Order.customer_id,
            func.sum(sold_units()).label("units"),
            func.sum(revenue_amount()).label("revenue"),
            func.sum(net_revenue_amount()).label("net_revenue"),
        )
        .join(OrderLine, OrderLine.order_id == Order.order_id)
        .where(Order.customer_id.is_not(None))
        .group_by(Order.customer_id)
        .subquery("l")
    )
    reviews = (
        select(
            Review.customer_id,
            func.count().label("reviews"),
            func.avg(Review.rating).label("avg_rating"),
            func.min(Review.rating).label("lowest_rating"),
            func.max(Review.rating).label("highest_rating"),
            func.min(Review.reviewed_at).label("first_review_at"),
            func.max(Review.reviewed_at).label("last_review_at"),
        )
        .group_by(Review.customer_id)
        .subquery("r")
    )
    scores = (
        select(
            CustomerScore.customer_id,
            CustomerScore.segment_id,
            Segment.name.label("segment_name"),
            CustomerScore.churn_risk,
            CustomerScore.value_estimate.label("expected_spend"),
        )
        .join(
            Segment,
            and_(
                Segment.model_version == CustomerScore.model_version,
                Segment.segment_id == CustomerScore.segment_id,
            ),
            isouter=True,
        )
        .where(CustomerScore.model_version == serving_version())
        .subquery("s")
    )
    return (
        select(
            Customer.customer_id,
            Customer.source,
            Customer.country,
            Customer.region,
            Customer.city,
            func.coalesce(orders.c.orders, 0).label("orders"),
            func.coalesce(orders.c.cancelled_orders, 0).label("cancelled_orders"),
            orders.c.first_order_at,
            orders.c.last_order_at,
            func.coalesce(lines.c.units, 0).label("units"),
            func.coalesce(lines.c.revenue, 0.0).label("revenue"),
            func.coalesce(lines.c.net_revenue, 0.0).label("net_revenue"),
            func.coalesce(reviews.c.reviews, 0).label("reviews"),
            reviews.c.avg_rating,
            reviews.c.lowest_rating,
            reviews.c.highest_rating,
            reviews.c.first_review_at,
            reviews.c.last_review_at,
            scores.c.segment_id,
            scores.c.segment_name,
            scores.c.churn_risk,
            scores.c.expected_spend,
        )
        .outerjoin(orders, orders.c.customer_id == Customer.customer_id)
        .outerjoin(lines, lines.c.customer_id == Customer.customer_id)
        .outerjoin(reviews, reviews.c.customer_id == Customer.customer_id)
        .outerjoin(scores, scores.c.customer_id == Customer.customer_id)
    )


def product_facts() -> Select:
    sales = (
        select(
            OrderLine.product_id,
            func.count(distinct(case((counts_as_sale(), Order.order_id)))).label("orders"),
            func.count(distinct(case((counts_as_sale(), Order.customer_id)))).label("customers"),
            func.sum(sold_units()).label("units"),
            func.sum(revenue_amount()).label("revenue"),
            func.sum(net_revenue_amount()).label("net_revenue"),
            func.min(case((counts_as_sale(), Order.ordered_at))).label("first_sold_at"),
            func.max(case((counts_as_sale(), Order.ordered_at))).label("last_sold_at"),
        )
        .join(Order, Order.order_id == OrderLine.order_id)
        .group_by(OrderLine.product_id)
        .subquery("l")
    )
    reviews = (
        select(
            Review.product_id,
            func.count().label("reviews"),
            func.avg(Review.rating).label("avg_rating"),
            func.min(Review.rating).label("lowest_rating"),
            func.max(Review.rating).label("highest_rating"),
            func.min(Review.reviewed_at).label("first_review_at"),
            func.max(Review.reviewed_at).label("last_review_at"),
        )
        .where(Review.product_id.is_not(None))
        .group_by(Review.product_id)
        .subquery("r")
    )
    return (
        select(
            Product.product_id,
            Product.title,
            Product.category,
            Product.brand,
            Product.price,
            func.coalesce(sales.c.orders, 0).label("orders"),
            func.coalesce(sales.c.customers, 0).label("customers"),
            func.coalesce(sales.c.units, 0).label("units"),
            func.coalesce(sales.c.revenue, 0.0).label("revenue"),
            func.coalesce(sales.c.net_revenue, 0.0).label("net_revenue"),
            func.coalesce(reviews.c.reviews, 0).label("reviews"),
            reviews.c.avg_rating,
            reviews.c.lowest_rating,
            reviews.c.highest_rating,
            reviews.c.first_review_at,
            reviews.c.last_review_at,
            sales.c.first_sold_at,
            sales.c.last_sold_at,
        )
        .outerjoin(sales, sales.c.product_id == Product.product_id)
        .outerjoin(reviews, reviews.c.product_id == Product.product_id)
    )


def order_facts(dialect: str) -> Select:
    lines = (
        select(
            OrderLine.order_id,
            func.count().label("lines"),
            func.sum(OrderLine.quantity).label("units"),
            func.sum(line_amount()).label("order_value"),
            func.sum(revenue_amount()).label("revenue"),
            func.sum(net_revenue_amount()).label("net_revenue"),
        )
        .join(Order, Order.order_id == OrderLine.order_id)
        .group_by(OrderLine.order_id)
        .subquery("l")
    )
    reviews = (
        select(
            Review.order_id,
            func.count().label("reviews"),
            func.avg(Review.rating).label("avg_rating"),
        )
        .where(Review.order_id.is_not(None))
        .group_by(Review.order_id)
        .subquery("r")
    )
    return (
        select(
            Order.order_id,
            Order.customer_id,
            Order.ordered_at,
            month_of(Order.ordered_at, dialect).label("month"),
            Order.status,
            Order.is_cancelled,
            Order.country,
            func.coalesce(lines.c.lines, 0).label("lines"),
            func.coalesce(lines.c.units, 0).label("units"),
            func.coalesce(lines.c.order_value, 0.0).label("order_value"),
            func.coalesce(lines.c.revenue, 0.0).label("revenue"),
            func.coalesce(lines.c.net_revenue, 0.0).label("net_revenue"),
            func.coalesce(reviews.c.reviews, 0).label("reviews"),
            reviews.c.avg_rating,
        )
        .outerjoin(lines, lines.c.order_id == Order.order_id)
        .outerjoin(reviews, reviews.c.order_id == Order.order_id)
    )


def year_of(column, dialect: str):
    """The year of a timestamp as an integer, in the dialect's idiom."""
    if dialect == "sqlite":
        return func.cast(func.strftime("%Y", column), Integer)
    return func.cast(func.extract("year", column), Integer)


def review_facts(dialect: str) -> Select:
    return select(
        Review.review_id,
        Review.customer_id,
        Review.product_id,
        Product.title.label("product_title"),
        Review.rating,
        Review.reviewed_at,
        year_of(Review.reviewed_at, dialect).label("year"),
        month_of(Review.reviewed_at, dialect).label("month"),
        Review.helpful_votes,
        Review.language,
        Review.title,
        Review.text,
    ).outerjoin(Product, Product.product_id == Review.product_id)


def month_facts(dialect: str) -> Select:
    order_month = month_of(Order.ordered_at, dialect)
    review_month = month_of(Review.reviewed_at, dialect)
    months = union(
        select(order_month.label("month")), select(review_month.label("month"))
    ).subquery("m")
    orders = (
        select(
            order_month.label("month"),
            func.count().filter(counts_as_sale()).label("orders"),
            func.count().filter(Order.is_cancelled.is_(True)).label("cancelled_orders"),
            func.count(distinct(case((counts_as_sale(), Order.customer_id)))).label("customers"),
        )
        .group_by(order_month)
        .subquery("o")
    )
    lines = (
        select(
            order_month.label("month"),
            func.sum(sold_units()).label("units"),
            func.sum(revenue_amount()).label("revenue"),
            func.sum(net_revenue_amount()).label("net_revenue"),
        )
        .join(OrderLine, OrderLine.order_id == Order.order_id)
        .group_by(order_month)
        .subquery("l")
    )
    first_order = first_orders()
    new_customers = (
        select(month_of(first_order.c.at, dialect).label("month"), func.count().label("n"))
        .group_by(month_of(first_order.c.at, dialect))
        .subquery("nc")
    )
    reviews = (
        select(
            review_month.label("month"),
            func.count().label("reviews"),
            func.count(distinct(Review.customer_id)).label("reviewers"),
            func.avg(Review.rating).label("avg_rating"),
        )
        .group_by(review_month)
        .subquery("r")
    )
    first_review = (
        select(Review.customer_id, func.min(Review.reviewed_at).label("at"))
        .group_by(Review.customer_id)
        .subquery("fr")
    )
    new_reviewers = (
        select(month_of(first_review.c.at, dialect).label("month"), func.count().label("n"))
        .group_by(month_of(first_review.c.at, dialect))
        .subquery("nr")
    )
    zero = literal_column("0")
    return (
        select(
            months.c.month,
            func.coalesce(orders.c.orders, zero).label("orders"),
            func.coalesce(orders.c.cancelled_orders, zero).label("cancelled_orders"),
            func.coalesce(orders.c.customers, zero).label("customers"),
            func.coalesce(new_customers.c.n, zero).label("new_customers"),
            func.coalesce(lines.c.units, zero).label("units"),
            func.coalesce(lines.c.revenue, 0.0).label("revenue"),
            func.coalesce(lines.c.net_revenue, 0.0).label("net_revenue"),
            func.coalesce(reviews.c.reviews, zero).label("reviews"),
            func.coalesce(reviews.c.reviewers, zero).label("reviewers"),
            func.coalesce(new_reviewers.c.n, zero).label("new_reviewers"),
            reviews.c.avg_rating,
        )
        .outerjoin(orders, orders.c.month == months.c.month)
        .outerjoin(lines, lines.c.month == months.c.month)
        .outerjoin(new_customers, new_customers.c.month == months.c.month)
        .outerjoin(reviews, reviews.c.month == months.c.month)
        .outerjoin(new_reviewers, new_reviewers.c.month == months.c.month)
        .where(months.c.month.is_not(None))
    )


def view_select(name: str, dialect: str) -> Select:
    """The SELECT behind view `name` on `dialect` ('sqlite' or 'postgresql')."""
    by_dialect = {
        "order_facts": order_facts,
        "review_facts": review_facts,
        "month_facts": month_facts,
    }
    if name in by_dialect:  # these write months in the dialect's idiom
        return by_dialect[name](dialect)
    return {"customer_facts": customer_facts, "product_facts": product_facts}[name]()


def view_sql(name: str, dialect) -> str:
    """The view's SELECT as SQL text for a dialect object (literal values inlined)."""
    compiled = view_select(name, dialect.name).compile(
        dialect=dialect, compile_kwargs={"literal_binds": True}
    )
    return str(compiled)


def drop_views(conn: Connection) -> None:
    """Drop the semantic views (PostgreSQL refuses to alter or drop a table a view reads)."""
    cascade = " CASCADE" if conn.dialect.name == "postgresql" else ""
    for name in VIEW_NAMES:
        conn.exec_driver_sql(f"DROP VIEW IF EXISTS {name}{cascade}")


def install_views(conn: Connection) -> None:
    """(Re)create the semantic views in the connection's database, as this code defines
    them (idempotent)."""
    drop_views(conn)
    for name in VIEW_NAMES:
        conn.exec_driver_sql(f"CREATE VIEW {name} AS {view_sql(name, conn.dialect)}")


def semantic_text() -> str:
    """The views and the metric definitions, as the system prompt shows them."""
    lines = ["Summary views (use these first; one row per entity, metrics already defined):"]
    for name, (grain, columns) in VIEWS.items():
        described = ", ".join(
            column if meaning in ("", column) else f"{column} ({meaning})"
            for column, meaning in columns.items()
        )
        lines.append(f"- {name}: {grain}. Columns: {described}")
    lines.append("Definitions: " + "; ".join(f"{k} = {v}" for k, v in METRICS.items()) + ".")
    return "\n".join(lines)
