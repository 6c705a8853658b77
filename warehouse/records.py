"""Typed records that cross layers: what the segmenter stores about segments, what a tool
hands the UI. Defined once here, read by name everywhere (a renamed key in a dict is
how a segment's products once showed "(?)" on screen); each has one formatter.

`SegmentProfile` is stored as JSON in `segments.profile`: `to_dict` writes it,
`from_dict` reads it (rows written by older versions included).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


def expected_value(amount: float, unit: str, horizon_days: int) -> str:
    """'expected spend in the next 90 days: 312.40' (or orders, where data has no prices):
    a value is never shown without its unit and horizon."""
    horizon = f"in the next {horizon_days} days" if horizon_days else "in the model's horizon"
    if unit == "orders":
        return f"expected orders {horizon}: {amount:,.2f}"
    return f"expected spend {horizon}: {amount:,.2f}"


@dataclass(frozen=True)
class TopProduct:
    """A product a segment buys most, in units net of cancellations."""

    product_id: str
    title: str | None
    units: int

    @property
    def label(self) -> str:
        return self.title or self.product_id


@dataclass(frozen=True)
class CategoryShare:
    category: str
    share: float  # of the segment's units, 0-1


@dataclass(frozen=True)
class Trait:
    """A feature that sets a segment apart: its z-score against all customers."""

    feature: str
    z: float


@dataclass(frozen=True)
class ReviewQuote:
    review_id: str
    rating: int | None
    text: str


@dataclass(frozen=True)
class SegmentProfile:
    """Who a segment's customers are: size, traits, what they buy and write."""

    share: float = 0.0
    churn_risk_mean: float = 0.0
    value_estimate_mean: float = 0.0
    value_unit: str = "spend"  # or "orders" where the data has no prices
    horizon_days: int = 0
    customers_total: int = 0
    feature_means: dict[str, float] = field(default_factory=dict)
    population_means: dict[str, float] = field(default_factory=dict)
    population_medians: dict[str, float] = field(default_factory=dict)
    # Every customer's value of each feature at the 0th, 1st, ..., 100th percentile.
    population_quantiles: dict[str, list[float]] = field(default_factory=dict)
    zscores: dict[str, float] = field(default_factory=dict)
    distinctive: list[Trait] = field(default_factory=list)
    top_products: list[TopProduct] = field(default_factory=list)
    top_categories: list[CategoryShare] = field(default_factory=list)
    themes: list[str] = field(default_factory=list)
    representative_reviews: list[ReviewQuote] = field(default_factory=list)
    map_points: list[tuple[float, float, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON stored in `segments.profile`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: dict | None) -> SegmentProfile:
        """A profile from its stored JSON; missing keys take their defaults."""
        stored = dict(stored or {})
        nested = {
            "distinctive": Trait,
            "top_products": TopProduct,
            "top_categories": CategoryShare,
            "representative_reviews": ReviewQuote,
        }
        known = set(cls.__dataclass_fields__)
        values = {k: v for k, v in stored.items() if k in known}
        for key, record in nested.items():
            fields = set(record.__dataclass_fields__)
            values[key] = [
                record(**{k: v for k, v in item.items() if k in fields})
                for item in stored.get(key) or []
            ]
        values["map_points"] = [tuple(p) for p in stored.get("map_points") or []]
        return cls(**values)


@dataclass(frozen=True)
class Segment:
    """One segment of the serving model."""

    segment_id: int
    name: str
    size: int
    profile: SegmentProfile

    @property
    def label(self) -> str:
        return f"{self.segment_id}: {self.name}"

    def facts(self, products: int = 3, traits: int = 4) -> list[str]:
        """The segment in short lines of facts: what the model, the CLI, the writers and
        the UI all show (the one formatter of a segment)."""
        p = self.profile
        lines = [
            f'segment {self.segment_id} "{self.name}": {self.size:,} customers '
            f"({p.share:.0%} of {p.customers_total:,})",
            f"average churn risk {p.churn_risk_mean:.0%}; average "
            + expected_value(p.value_estimate_mean, p.value_unit, p.horizon_days),
        ]
        if p.distinctive:
            lines.append(
                "compared with all customers: "
                + ", ".join(f"{t.feature} (z {t.z:+.1f})" for t in p.distinctive[:traits])
            )
        if p.top_categories:
            lines.append(
                "categories they buy: "
                + ", ".join(f"{c.category} ({c.share:.0%})" for c in p.top_categories)
            )
        if p.top_products:
            lines.append(
                "top products (units net of cancellations): "
                + "; ".join(f"{t.label} ({t.units:,})" for t in p.top_products[:products])
            )
        if p.themes:
            lines.append("words they use most: " + ", ".join(p.themes[:8]))
        return lines


@dataclass(frozen=True)
class CustomerProfile:
    """One customer's purchases, reviews and (when scored) segment and predicted traits."""

    customer_id: str
    country: str | None
    orders: int
    first_order: Any
    last_order: Any
    reviews: int
    avg_rating: float | None
    segment_id: int | None = None
    churn_risk: float | None = None
    value_estimate: float | None = None

    def facts(self, leave_out: tuple[str, ...] = ()) -> str:
        """The profile in one line, empty fields left out, dates as dates (the one
        formatter of a customer profile); `leave_out` names fields shown elsewhere."""
        shown = []
        for name, value in asdict(self).items():
            if value is None or name in leave_out:
                continue
            if hasattr(value, "date") and callable(value.date):
                value = value.date().isoformat()
            shown.append(f"{name.replace('_', ' ')}: {value}")
        return "; ".join(shown)


@dataclass(frozen=True)
class AudienceMember:
    customer_id: str
    segment_id: int
    churn_risk: float
    value_estimate: float
    country: str | None


AUDIENCE_COLUMNS = ["customer_id", "segment_id", "churn_risk", "value_estimate", "country"]


@dataclass(frozen=True)
class CustomerReview:
    """A review as the Customer view lists it."""

    reviewed_at: Any
    rating: int | None
    title: str | None
    text: str | None
