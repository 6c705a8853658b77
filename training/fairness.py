"""Bias guard: no sensitive attribute among the features, and who ends up in which segment.

Segments drive ads and offers, so the model must not learn from who a person is
(country, language, name, age, gender, ...), only from what they do and write.
`check_features` refuses a feature list naming a declared sensitive attribute
(train and evaluate call it); `composition` reports each segment's make-up by
country and by review language, with the largest gap from the population, so a
reviewer sees whether a segment is a proxy for one group anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from segassist.warehouse.schema import Customer, Review
from sqlalchemy import Engine, func, select

# Declared sensitive attributes: no feature name may contain one of these words.
SENSITIVE_ATTRIBUTES = (
    "country",
    "city",
    "region",
    "postcode",
    "zip_code",
    "language",
    "name",
    "gender",
    "sex",
    "age",
    "birth",
    "ethnic",
    "race",
    "religion",
    "nationality",
)


def check_features(feature_names: list[str]) -> None:
    """Raise if a feature is (or is derived from) a declared sensitive attribute. Shares of
    product categories (cat_share_*) describe purchases, whatever the category's name."""
    for feature in feature_names:
        if feature.startswith("cat_share_"):
            continue
        words = feature.lower().replace("-", "_").split("_")
        hit = next((a for a in SENSITIVE_ATTRIBUTES if a in words or feature.lower() == a), None)
        if hit:
            raise ValueError(
                f"feature {feature!r} is the sensitive attribute {hit!r}: segments must not be "
                "learnt from who customers are. Remove it from the features."
            )


# How a customer without the attribute is listed; such customers are shown, not ranked.
UNKNOWN = {"country": "unknown", "language": "no reviews"}


@dataclass(frozen=True)
class Composition:
    """Segment make-up by one attribute: shares per segment and the largest gap."""

    attribute: str
    shares: pd.DataFrame  # rows: segments (+ "all"), columns: the attribute's values
    largest_gap: float  # |share in a segment - share overall|, 0-1
    segment: int | None
    value: str | None

    def sentence(self) -> str:
        if self.segment is None:
            known = [c for c in self.shares.columns if c not in UNKNOWN.values()]
            if not known:
                return f"{self.attribute}: not recorded for these customers."
            return f"{self.attribute}: every customer with one is {known[0]!r}; no disparity."
        in_segment = self.shares.loc[self.segment, self.value]
        overall = self.shares.loc["all", self.value]
        return (
            f"{self.attribute}: the largest disparity is segment {self.segment}, where "
            f"{in_segment:.0%} are {self.value!r} against {overall:.0%} of all customers "
            f"({self.largest_gap * 100:.0f} points)."
        )


def _per_customer(engine: Engine, attribute: str, customer_ids: list[str]) -> pd.Series:
    with engine.connect() as conn:
        if attribute == "country":
            rows = conn.execute(select(Customer.customer_id, Customer.country)).all()
        else:  # a customer's most common review language
            rows = conn.execute(
                select(Review.customer_id, Review.language, func.count())
                .group_by(Review.customer_id, Review.language)
                .order_by(Review.customer_id, func.count().desc(), Review.language)
            ).all()
            rows = list({r[0]: r[1] for r in reversed(rows)}.items())
    values = dict(rows)
    missing = UNKNOWN[attribute]
    return pd.Series([values.get(c) or missing for c in customer_ids], index=customer_ids)


def composition(
    engine: Engine, customer_ids: list[str], segments: np.ndarray, attribute: str, top: int = 5
) -> Composition:
    """Shares of `attribute`'s most common values in each segment and overall."""
    values = _per_customer(engine, attribute, customer_ids)
    common = values.value_counts().index[:top]
    values = values.where(values.isin(common), "other")
    frame = pd.crosstab(pd.Series(segments, index=values.index, name="segment"), values)
    shares = frame.div(frame.sum(axis=1), axis=0)
    overall = values.value_counts(normalize=True).reindex(shares.columns).fillna(0)
    gaps = (shares - overall).abs()
    shares.loc["all"] = overall
    gaps = gaps.drop(columns=[c for c in gaps.columns if c == UNKNOWN[attribute]])
    if values[values != UNKNOWN[attribute]].nunique() < 2 or gaps.empty:
        return Composition(attribute, shares, 0.0, None, None)
    segment, value = gaps.stack().idxmax()
    return Composition(attribute, shares, float(gaps.loc[segment, value]), int(segment), value)
