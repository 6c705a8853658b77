"""Behaviour features as of a cutoff date, and labels from the window after it.

Every aggregate runs in the database (SQLAlchemy Core, SQLite and PostgreSQL
alike), so features scale with the engine; Python only joins the per-group
results. A customer is in the population when they placed at least one
non-cancelled order before the cutoff.

Tenure and recency grow with the clock: a model trained on 118 days of history
scores, 90 days later, customers with up to 207 days of tenure, a range it never
saw (on one order log tenure reached |z| = 537 and every customer fell into one
segment). Training records the length of history it had; scoring caps both ages
at it (`Window.max_age_days`, see `scoring_window`), so "older than anyone the
model learnt from" reads as the oldest it knows. Counts keep the whole history:
counting only the last N days instead (tried) turned customers who had lapsed
before those days into zero-order customers the model had never seen, and
ranked spend worse out of sample (`make bench-value`).

Labels come from the horizon window [cutoff, cutoff + horizon):
- ``churned``: no non-cancelled order in the window;
- ``future_value``: what they spent in the window (quantity x unit price), or
  the number of orders when the data set has no prices (Amazon).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from segassist.core.errors import UserInputError
from segassist.warehouse.schema import Order, OrderLine, Product, Review, SupportMessage
from sqlalchemy import Engine, and_, case, func, literal, select

TOP_CATEGORIES = 8
RECENT_DAYS = 90
# Features of a customer's reviews, 0 where they wrote none: that 0 is not a rating. The
# model learns from the filled value (with n_reviews beside it); what describes a
# segment or a customer to people reads them among reviewers only (among_reviewers).
PER_REVIEW = ("rating_mean", "low_rating_share", "review_length")


def among_reviewers(features: pd.DataFrame) -> pd.DataFrame:
    """`features` with the PER_REVIEW features of customers without reviews missing (NaN),
    so that a segment of non-reviewers is not "unhappy reviewers" for their filled 0."""
    columns = [c for c in PER_REVIEW if c in features]
    if "n_reviews" not in features or not columns:
        return features
    described = features.copy()
    described[columns] = described[columns].astype(float)
    described.loc[described["n_reviews"] <= 0, columns] = np.nan
    return described


@dataclass(frozen=True)
class Window:
    """The cutoff date and label horizon of one feature set, and the most days tenure
    and recency may count (None: uncapped)."""

    cutoff: datetime
    horizon_days: int
    max_age_days: int | None = None

    @property
    def horizon_end(self) -> datetime:
        """End (exclusive) of the label window."""
        return self.cutoff + timedelta(days=self.horizon_days)


def _days(engine: Engine, later, earlier):
    """SQL expression: days from `earlier` to `later` (fractional)."""
    if engine.dialect.name == "sqlite":
        return func.julianday(later) - func.julianday(earlier)
    return func.extract("epoch", later - earlier) / 86_400.0


def activity_span(engine: Engine) -> tuple[datetime, datetime]:
    """First and last non-cancelled order time in the warehouse."""
    query = select(func.min(Order.ordered_at), func.max(Order.ordered_at)).where(
        Order.is_cancelled.is_(False)
    )
    with engine.connect() as conn:
        first, last = conn.execute(query).one()
    if first is None:
        raise UserInputError("The warehouse has no orders yet. Import a data set first.")
    return pd.Timestamp(first).to_pydatetime(), pd.Timestamp(last).to_pydatetime()


def default_window(engine: Engine, horizon_days: int | None = None) -> Window:
    """Cutoff = last activity minus the horizon; horizon = a quarter of the span, 90-365 days."""
    first, last = activity_span(engine)
    if horizon_days is None:
        horizon_days = int(np.clip((last - first).days / 4, 90, 365))
    cutoff = (last - timedelta(days=horizon_days)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    if cutoff <= first:
        raise UserInputError(
            f"The data spans {first:%Y-%m-%d} .. {last:%Y-%m-%d}; a {horizon_days}-day horizon "
            "leaves no history before the cutoff. Pass a shorter --horizon."
        )
    return Window(cutoff + timedelta(days=1), horizon_days)


def history_days(engine: Engine, window: Window) -> int:
    """Days of history before `window.cutoff` (first order to cutoff, rounded up)."""
    first, _ = activity_span(engine)
    return int(np.ceil((window.cutoff - first).total_seconds() / 86_400))


def scoring_window(engine: Engine, trained: dict) -> Window:
    """The window to score with now: cutoff just after the last order, the model's
    horizon, and ages capped at the history it was trained on (models kept before the
    cap existed score uncapped, as they were)."""
    _, last = activity_span(engine)
    return Window(last + timedelta(seconds=1), trained["horizon_days"], trained.get("max_age_days"))


def features_now(
    engine: Engine, metadata: dict, customer_ids: list[str] | None = None
) -> FeatureSet:
    """Features as of now, as a trained model (its `metadata`) reads them: ages capped at
    the history it learnt from, and its category columns, not today's top categories."""
    return compute_features(
        engine,
        scoring_window(engine, metadata["window"]),
        customer_ids,
        categories=metadata.get("categories"),
    )


def _frame(engine: Engine, query) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(query)
        return pd.DataFrame(result.all(), columns=list(result.keys()))


def _amount():
    return func.coalesce(OrderLine.quantity * OrderLine.unit_price, 0.0)


def _order_features(engine: Engine, window: Window) -> pd.DataFrame:
    valid = and_(
        Order.is_cancelled.is_(False),
        Order.ordered_at < window.cutoff,
        Order.customer_id.is_not(None),
    )

    def days_since(moment):
        days = _days(engine, literal(window.cutoff), moment)
        if window.max_age_days is None:
            return days
        smaller = func.min if engine.dialect.name == "sqlite" else func.least  # 2 args: scalar
        return smaller(days, window.max_age_days)

    orders = (
        select(
            Order.customer_id,
            func.count().label("n_orders"),
            days_since(func.max(Order.ordered_at)).label("recency_days"),
            days_since(func.min(Order.ordered_at)).label("tenure_days"),
            func.sum(
                case((Order.ordered_at >= window.cutoff - timedelta(days=RECENT_DAYS), 1), else_=0)
            ).label("orders_recent"),
            func.sum(
                case(
                    (
                        and_(
                            Order.ordered_at < window.cutoff - timedelta(days=RECENT_DAYS),
                            Order.ordered_at >= window.cutoff - timedelta(days=2 * RECENT_DAYS),
                        ),
                        1,
                    ),
                    else_=0,
                )
            ).label("orders_previous"),
        )
        .where(valid)
        .group_by(Order.customer_id)
    )
    lines = (
        select(
            Order.customer_id,
            func.sum(case((OrderLine.is_return.is_(False), _amount()), else_=0.0)).label(
                "monetary"
            ),
            func.sum(case((OrderLine.is_return.is_(False), OrderLine.quantity), else_=0)).label(
                "units"
            ),
            func.count(func.distinct(OrderLine.product_id)).label("distinct_products"),
            func.count().label("n_lines"),
            func.sum(case((OrderLine.is_return.is_(True), 1), else_=0)).label("return_lines"),
        )
        .join(OrderLine, OrderLine.order_id == Order.order_id)
        .where(Order.ordered_at < window.cutoff, Order.customer_id.is_not(None))
        .group_by(Order.customer_id)
    )
    cancelled = (
        select(Order.customer_id, func.count().label("cancelled_orders"))
        .where(Order.is_cancelled.is_(True), Order.ordered_at < window.cutoff)
        .group_by(Order.customer_id)
    )
    frame = _frame(engine, orders)
    for extra in (_frame(engine, lines), _frame(engine, cancelled)):
        frame = frame.merge(extra, on="customer_id", how="left")
    return frame


def _gap_features(engine: Engine, window: Window) -> pd.DataFrame:
    """Mean and standard deviation of days between consecutive orders (window functions)."""
    previous = func.lag(Order.ordered_at).over(
        partition_by=Order.customer_id, order_by=Order.ordered_at
    )
    gaps = (
        select(Order.customer_id, _days(engine, Order.ordered_at, previous).label("gap"))
        .where(
            Order.is_cancelled.is_(False),
            Order.ordered_at < window.cutoff,
            Order.customer_id.is_not(None),
        )
        .subquery()
    )
    query = (
        select(
            gaps.c.customer_id,
            func.avg(gaps.c.gap).label("gap_mean_days"),
            func.avg(gaps.c.gap * gaps.c.gap).label("gap_sq_mean"),
        )
        .where(gaps.c.gap.is_not(None))
        .group_by(gaps.c.customer_id)
    )
    frame = _frame(engine, query)
    variance = (frame["gap_sq_mean"] - frame["gap_mean_days"] ** 2).clip(lower=0)
    frame["gap_std_days"] = np.sqrt(variance.astype(float))
    return frame.drop(columns=["gap_sq_mean"])


def top_categories(engine: Engine, window: Window, n: int = TOP_CATEGORIES) -> list[str]:
    """The `n` categories with most lines sold before the cutoff."""
    query = (
        select(Product.category, func.count().label("n"))
        .join(OrderLine, OrderLine.product_id == Product.product_id)
        .join(Order, Order.order_id == OrderLine.order_id)
        .where(Order.ordered_at < window.cutoff, Product.category.is_not(None))
        .group_by(Product.category)
        .order_by(func.count().desc(), Product.category)
        .limit(n)
    )
    return [row.category for row in _frame(engine, query).itertuples()]


def _category_features(engine: Engine, window: Window, categories: list[str]) -> pd.DataFrame:
    if not categories:
        return pd.DataFrame(columns=["customer_id"])
    shares = [
        (func.sum(case((Product.category == c, 1.0), else_=0.0)) / func.count()).label(
            f"cat_share_{i}"
        )
        for i, c in enumerate(categories)
    ]
    query = (
        select(Order.customer_id, *shares)
        .join(OrderLine, OrderLine.order_id == Order.order_id)
        .join(Product, Product.product_id == OrderLine.product_id)
        .where(Order.ordered_at < window.cutoff, Order.customer_id.is_not(None))
        .group_by(Order.customer_id)
    )
    return _frame(engine, query)


def _review_features(engine: Engine, window: Window) -> pd.DataFrame:
    query = (
        select(
            Review.customer_id,
            func.count().label("n_reviews"),
            func.avg(Review.rating).label("rating_mean"),
            (func.sum(case((Review.rating <= 2, 1.0), else_=0.0)) / func.count()).label(
                "low_rating_share"
            ),
            func.sum(Review.helpful_votes).label("helpful_votes"),
            func.avg(func.length(Review.text)).label("review_length"),
        )
        .where(Review.reviewed_at < window.cutoff)
        .group_by(Review.customer_id)
    )
    support = (
        select(SupportMessage.customer_id, func.count().label("support_messages"))
        .where(SupportMessage.sent_at < window.cutoff)
        .group_by(SupportMessage.customer_id)
    )
    return _frame(engine, query).merge(_frame(engine, support), on="customer_id", how="outer")


def _labels(engine: Engine, window: Window, priced: bool) -> pd.DataFrame:
    in_window = and_(
        Order.is_cancelled.is_(False),
        Order.ordered_at >= window.cutoff,
        Order.ordered_at < window.horizon_end,
    )
    value = func.sum(_amount()) if priced else func.count(func.distinct(Order.order_id))
    query = (
        select(Order.customer_id, value.label("future_value"))
        .join(OrderLine, OrderLine.order_id == Order.order_id)
        .where(in_window, OrderLine.is_return.is_(False))
        .group_by(Order.customer_id)
    )
    return _frame(engine, query)


def _has_prices(engine: Engine) -> bool:
    query = select(func.count()).select_from(OrderLine).where(OrderLine.unit_price > 0)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one() > 0


@dataclass
class FeatureSet:
    """Behaviour features and labels of the population at one cutoff."""

    window: Window
    frame: pd.DataFrame  # index customer_id; feature columns then churned, future_value
    feature_names: list[str]
    categories: list[str]
    value_unit: str  # "spend" or "orders"

    @property
    def features(self) -> np.ndarray:
        """Feature matrix (customers x features), float32."""
        return self.frame[self.feature_names].to_numpy(dtype=np.float32)

    @property
    def customer_ids(self) -> list[str]:
        """Customers, in row order."""
        return self.frame.index.tolist()


def compute_features(
    engine: Engine,
    window: Window,
    customer_ids: list[str] | None = None,
    categories: list[str] | None = None,
) -> FeatureSet:
    """Features before `window.cutoff` and labels in the horizon, for every active customer.

    With `customer_ids`, only those customers (the category columns stay the
    population's top categories). With `categories`, the category share columns are
    those (a trained model's), so `cat_share_3` means the same category at scoring as
    in training even when today's top categories differ.
    """
    if categories is None:
        categories = top_categories(engine, window)
    frame = _order_features(engine, window)
    if frame.empty:
        raise UserInputError(
            f"No customer ordered before the cutoff {window.cutoff:%Y-%m-%d}; pick a later cutoff."
        )
    for part in (
        _gap_features(engine, window),
        _category_features(engine, window, categories),
        _review_features(engine, window),
    ):
        frame = frame.merge(part, on="customer_id", how="left")
    priced = _has_prices(engine)
    frame = frame.merge(_labels(engine, window, priced), on="customer_id", how="left")
    frame = frame.set_index("customer_id").sort_index()
    if customer_ids is not None:
        frame = frame[frame.index.isin(customer_ids)]
    frame = frame.apply(pd.to_numeric, errors="coerce").astype(float)
    frame["future_value"] = frame["future_value"].fillna(0.0).clip(lower=0.0)
    frame["churned"] = (frame["future_value"] == 0).astype(float)
    frame["activity_trend"] = (frame["orders_recent"] - frame["orders_previous"]) / (
        frame["orders_recent"] + frame["orders_previous"] + 1
    )
    frame["basket_value"] = frame["monetary"] / frame["n_orders"]
    frame["return_share"] = frame["return_lines"] / frame["n_lines"]
    features = [c for c in frame.columns if c not in ("churned", "future_value")]
    frame[features] = frame[features].fillna(0.0)
    return FeatureSet(
        window,
        frame[[*features, "churned", "future_value"]],
        features,
        categories,
        "spend" if priced else "orders",
    )
