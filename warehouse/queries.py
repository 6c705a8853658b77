"""Domain queries: segments, audiences and customer profiles of the serving model.

The one home of these reads: the agent's tools, the UI and the CLI all call
these functions and get typed records back (warehouse.records).
"""

from __future__ import annotations

from dataclasses import dataclass

from segassist.warehouse.records import (
    AudienceMember,
    CustomerProfile,
    CustomerReview,
    Segment,
    SegmentProfile,
)
from segassist.warehouse.schema import (
    Customer,
    CustomerScore,
    ModelVersion,
    Review,
    SyntheticTruth,
)
from segassist.warehouse.schema import Segment as SegmentRow
from segassist.warehouse.semantic import customer_facts
from sqlalchemy import Engine, Select, func, select


def synthetic_segments(engine: Engine, customer_ids: list[str]) -> list[int] | None:
    """Each customer's true segment in synthetic data (-1 for a customer without one);
    None when the warehouse holds no synthetic truth."""
    with engine.connect() as conn:
        rows = dict(conn.execute(select(SyntheticTruth.customer_id, SyntheticTruth.segment)).all())
    return [rows.get(c, -1) for c in customer_ids] if rows else None


def serving_version(engine: Engine):
    """The row of the serving model version, or None when none was trained."""
    with engine.connect() as conn:
        return conn.execute(
            select(ModelVersion.__table__).where(ModelVersion.status == "serving")
        ).first()


def serving_version_id(engine: Engine) -> str | None:
    """The serving model's version string, or None."""
    row = serving_version(engine)
    return row.version if row else None


def list_segments(engine: Engine, version: str) -> list[Segment]:
    """The segments of model `version`, by id (empty segments are never stored)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(SegmentRow.__table__)
            .where(SegmentRow.model_version == version)
            .order_by(SegmentRow.segment_id)
        ).all()
    return [
        Segment(r.segment_id, r.name, r.size, SegmentProfile.from_dict(r.profile)) for r in rows
    ]


def has_scores(engine: Engine, version: str) -> bool:
    """Customers were scored with model `version`."""
    with engine.connect() as conn:
        return (
            conn.execute(
                select(CustomerScore.customer_id)
                .where(CustomerScore.model_version == version)
                .limit(1)
            ).first()
            is not None
        )


def customer_exists(engine: Engine, customer_id: str) -> bool:
    """The warehouse knows this customer id."""
    with engine.connect() as conn:
        return (
            conn.execute(
                select(Customer.customer_id).where(Customer.customer_id == customer_id)
            ).first()
            is not None
        )


def has_customers(engine: Engine) -> bool:
    """The warehouse holds at least one customer."""
    with engine.connect() as conn:
        return conn.execute(select(Customer.customer_id).limit(1)).first() is not None


@dataclass(frozen=True)
class AudienceCriteria:
    """Who belongs to an audience; every criterion left None is not applied."""

    segment_id: int | None = None
    min_churn_risk: float | None = None
    max_churn_risk: float | None = None
    min_value: float | None = None
    country: str | None = None


def audience_query(criteria: AudienceCriteria) -> Select:
    """Scored customers of the serving model matching `criteria`, riskiest first (read from
    the semantic layer's customer_facts, as the agent's SQL reads them)."""
    facts = customer_facts().subquery("facts")
    query = (
        select(
            facts.c.customer_id,
            facts.c.segment_id,
            facts.c.churn_risk,
            facts.c.expected_spend,
            facts.c.country,
        )
        .where(facts.c.segment_id.is_not(None))
        .order_by(facts.c.churn_risk.desc(), facts.c.customer_id)
    )
    if criteria.segment_id is not None:
        query = query.where(facts.c.segment_id == criteria.segment_id)
    if criteria.min_churn_risk is not None:
        query = query.where(facts.c.churn_risk >= criteria.min_churn_risk)
    if criteria.max_churn_risk is not None:
        query = query.where(facts.c.churn_risk <= criteria.max_churn_risk)
    if criteria.min_value is not None:
        query = query.where(facts.c.expected_spend >= criteria.min_value)
    if criteria.country:
        query = query.where(facts.c.country == criteria.country)
    return query


def find_audience(
    engine: Engine, criteria: AudienceCriteria, limit: int | None = None
) -> tuple[int, list[AudienceMember]]:
    """(how many customers match, the first `limit` of them; all when None)."""
    query = audience_query(criteria)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(query if limit is None else query.limit(limit)).all()
    return total, [AudienceMember(*row) for row in rows]


def customer_profile(engine: Engine, customer_id: str) -> CustomerProfile | None:
    """One customer's orders, reviews and (once scored) serving segment and traits, from
    the semantic layer's customer_facts; None if unknown."""
    facts = customer_facts().subquery("facts")
    with engine.connect() as conn:
        row = conn.execute(select(facts).where(facts.c.customer_id == customer_id)).first()
    if row is None:
        return None
    return CustomerProfile(
        customer_id=row.customer_id,
        country=row.country,
        orders=row.orders,
        first_order=row.first_order_at,
        last_order=row.last_order_at,
        reviews=row.reviews,
        avg_rating=None if row.avg_rating is None else round(float(row.avg_rating), 2),
        segment_id=row.segment_id,
        churn_risk=None if row.churn_risk is None else round(row.churn_risk, 3),
        value_estimate=None if row.expected_spend is None else round(row.expected_spend, 2),
    )


def customer_reviews(engine: Engine, customer_id: str, limit: int = 20) -> list[CustomerReview]:
    """A customer's latest reviews, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Review.reviewed_at, Review.rating, Review.title, Review.text)
            .where(Review.customer_id == customer_id)
            .order_by(Review.reviewed_at.desc())
            .limit(limit)
        ).all()
    return [CustomerReview(*row) for row in rows]


def segment_probabilities(engine: Engine, customer_id: str, version: str) -> list[float]:
    """A scored customer's probability of each segment (empty when not scored)."""
    with engine.connect() as conn:
        stored = conn.execute(
            select(CustomerScore.probabilities).where(
                CustomerScore.customer_id == customer_id,
                CustomerScore.model_version == version,
            )
        ).scalar_one_or_none()
    return list(stored or [])
