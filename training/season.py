"""The season ahead: expected spend scaled from the model's label window to the days ahead.

The value head learned spend from one window of days (its training labels). Scored
later, the days ahead may be another season: Online Retail II's Christmas quarter spent
1.8x its summer. Where the data holds a year before both windows, the ratio of what
a customer spent on average in the same calendar days a year earlier (the days ahead
over the label window's days, 52 weeks back so weekdays align; customers who had bought
before each window's start) scales expected spend: a seasonal index, as a planner would
apply by hand. Where it does not, expected spend stays the label window's level and
`score` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from segassist.training.features import Window, activity_span
from segassist.warehouse.schema import Order, OrderLine
from segassist.warehouse.semantic import first_orders, revenue_amount
from sqlalchemy import Engine, func, select

YEAR = timedelta(weeks=52)
# A seasonal index outside this range says more about a thin or odd year than about the
# season; it is clipped (and the sentence says so).
FACTOR_RANGE = (1 / 3, 3.0)
# Closer to 1 than this is no season (a year's noise on a steady shop is of this size).
NO_SEASON = 0.05


@dataclass(frozen=True)
class Season:
    """How expected spend relates to the days ahead: `factor` multiplies the model's
    spend (1.0 when unknown) and `sentence` says why, for `score` to print."""

    factor: float
    sentence: str | None
    known: bool  # the data held a year before both windows


def season_ahead(engine: Engine, metadata: dict, window: Window) -> Season:
    """The seasonal index of the days ahead of `window.cutoff` against the model's label
    window (from `metadata`), from the same days a year earlier."""
    horizon = timedelta(days=window.horizon_days)
    learnt_from = datetime.fromisoformat(metadata["window"]["cutoff"])
    ahead_from = window.cutoff
    first, _ = activity_span(engine)
    earlier_ahead, earlier_learnt = ahead_from - YEAR, learnt_from - YEAR
    if first > min(earlier_ahead, earlier_learnt):
        return Season(
            1.0,
            f"Expected spend assumes the next {window.horizon_days} days buy like the model's "
            f"label window ({learnt_from:%Y-%m-%d}..{learnt_from + horizon:%Y-%m-%d}); the "
            f"data starts {first:%Y-%m-%d}, less than a year before both, so the same "
            "season a year earlier cannot be checked: read it as that window's level, not "
            "a forecast of a seasonal peak.",
            known=False,
        )
    ahead = spend_per_customer(engine, earlier_ahead, earlier_ahead + horizon)
    learnt = spend_per_customer(engine, earlier_learnt, earlier_learnt + horizon)
    if learnt <= 0 or ahead <= 0:
        return Season(1.0, None, known=False)
    raw = ahead / learnt
    factor = min(max(raw, FACTOR_RANGE[0]), FACTOR_RANGE[1])
    if abs(factor - 1.0) < NO_SEASON:
        return Season(1.0, None, known=True)
    clipped = f" (clipped from {raw:.2f})" if factor != raw else ""
    return Season(
        factor,
        f"Expected spend scaled by {factor:.2f}{clipped} for the season: a year earlier, "
        f"a customer spent on average {raw:.2f}x as much in the same days as the next "
        f"{window.horizon_days} ({earlier_ahead:%Y-%m-%d}..{earlier_ahead + horizon:%Y-%m-%d}) "
        f"as in the days of the model's label window "
        f"({earlier_learnt:%Y-%m-%d}..{earlier_learnt + horizon:%Y-%m-%d}).",
        known=True,
    )


def spend_per_customer(engine: Engine, start: datetime, end: datetime) -> float:
    """Revenue (semantic layer: cancelled orders excluded) in [start, end) per customer
    whose first order came before `start`: what one of the customers a score is about
    spent, so a growing or shrinking customer base does not pass for a season."""
    firsts = first_orders()
    revenue = (
        select(func.coalesce(func.sum(revenue_amount()), 0.0))
        .select_from(OrderLine)
        .join(Order, Order.order_id == OrderLine.order_id)
        .join(firsts, firsts.c.customer_id == Order.customer_id)
        .where(Order.ordered_at >= start, Order.ordered_at < end, firsts.c.at < start)
    )
    customers = select(func.count()).select_from(firsts).where(firsts.c.at < start)
    with engine.connect() as conn:
        existing = conn.execute(customers).scalar_one()
        return float(conn.execute(revenue).scalar_one()) / existing if existing else 0.0
