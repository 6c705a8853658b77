"""Why a customer is in their segment: structured facts, each true of the data.

`explain_membership` returns the segment and the runner-up with their
probabilities; the feature groups that pushed the customer toward the segment
(occlusion: set the group to the population's typical value and see how much
the segment's probability falls), each with the customer's own values and the
segment's averages; the churn risk and what drives it (the same occlusion on
churn); and the customer's own reviews closest to the segment's themes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from segassist.core.errors import UserInputError
from segassist.training.dataset import build_data
from segassist.training.features import among_reviewers, features_now
from segassist.training.registry import load_serving
from segassist.training.season import season_ahead
from segassist.warehouse.queries import customer_exists, list_segments
from segassist.warehouse.records import SegmentProfile, expected_value
from segassist.warehouse.schema import CustomerScore
from sqlalchemy import Engine, select

FEATURE_GROUPS = {
    "recency": ("recency_days", "orders_recent", "orders_previous", "activity_trend"),
    "frequency": ("n_orders", "gap_mean_days", "gap_std_days"),
    "spend": ("monetary", "units", "basket_value"),
    "tenure": ("tenure_days",),
    "product mix": ("distinct_products", "n_lines"),  # plus every cat_share_* column
    "returns and cancellations": ("return_lines", "return_share", "cancelled_orders"),
    "ratings and reviews": (
        "n_reviews",
        "rating_mean",
        "low_rating_share",
        "helpful_votes",
        "review_length",
        "support_messages",
    ),
}


# How a feature reads when a customer is above (or below) most customers.
WORDS = {
    "n_orders": ("orders more often than", "orders less often than"),
    "recency_days": ("last ordered longer ago than", "ordered more recently than"),
    "orders_recent": ("ordered more in the last months than", "ordered less lately than"),
    "activity_trend": ("is buying more than before, more so than", "is slowing down more than"),
    "monetary": ("spends more than", "spends less than"),
    "basket_value": ("spends more per order than", "spends less per order than"),
    "units": ("buys more units than", "buys fewer units than"),
    "tenure_days": ("has been a customer longer than", "is a newer customer than"),
    "gap_mean_days": ("waits longer between orders than", "orders again sooner than"),
    "distinct_products": ("buys a wider range of products than", "buys fewer products than"),
    "return_share": ("returns more than", "returns less than"),
    "cancelled_orders": ("cancels more than", "cancels less than"),
    "n_reviews": ("writes more reviews than", "writes fewer reviews than"),
    "rating_mean": ("rates higher than", "rates lower than"),
    "low_rating_share": ("gives low ratings more often than", "gives low ratings less than"),
    "helpful_votes": ("gets more helpful votes than", "gets fewer helpful votes than"),
}


@dataclass
class Driver:
    """One feature group's push toward the segment (or toward churn), with where the
    customer and the segment's average stand among all customers (percentiles, 0-100)."""

    group: str
    effect: float  # drop in probability when the group is set to typical values
    customer_values: dict[str, float]
    segment_averages: dict[str, float]
    percentiles: dict[str, float] = field(default_factory=dict)
    segment_percentiles: dict[str, float] = field(default_factory=dict)

    def leading_feature(self) -> str:
        """The group's feature on which the customer stands furthest from the middle."""
        if not self.percentiles:
            return next(iter(self.customer_values))
        return max(self.percentiles, key=lambda f: abs(self.percentiles[f] - 50))

    def sentence(self) -> str:
        """'orders more often than 82% of customers (12 orders; segment average 9.1)'."""
        feature = self.leading_feature()
        value = self.customer_values[feature]
        average = self.segment_averages.get(feature, float("nan"))
        numbers = f"{_label(feature)} {value:,.4g}; segment average {average:,.4g}"
        share = self.percentiles.get(feature)
        if share is None:
            return f"has {numbers}"
        higher, lower = WORDS.get(
            feature, (f"has a higher {_label(feature)} than", f"has a lower {_label(feature)} than")
        )
        words, part = (higher, share) if share >= 50 else (lower, 100 - share)
        return f"{words} {part:.0f}% of customers ({numbers})"


def _label(feature: str) -> str:
    return feature.removeprefix("cat_share_").replace("_days", " (days)").replace("_", " ")


@dataclass(frozen=True)
class ClosestReview:
    """One of the customer's own texts, close in meaning to the segment's themes."""

    review_id: str
    rating: int | None
    date: str
    text: str
    similarity: float


@dataclass
class Explanation:
    """Facts about one customer's membership, for the agent, the UI and the CLI."""

    customer_id: str
    model_version: str
    segment_id: int
    segment_name: str
    probability: float
    runner_up_id: int | None
    runner_up_name: str | None
    runner_up_probability: float | None
    drivers: list[Driver]
    text_effect: float | None  # drop in probability without the customer's review text
    churn_risk: float
    churn_drivers: list[Driver]
    value_estimate: float
    value_unit: str
    horizon_days: int = 0
    closest_reviews: list[ClosestReview] = field(default_factory=list)
    segment_themes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain data for JSON."""
        return asdict(self)

    def facts(self, quote: Callable[[str], str] = lambda text: f"«{text}»") -> list[str]:
        """The explanation in short lines of facts: what the writers (LLM and template),
        the CLI and the UI all state (the one formatter of an explanation). `quote`
        renders the customer's own words (the writers mask and bound them)."""
        lines = [
            f'customer {self.customer_id} is in segment {self.segment_id} "{self.segment_name}" '
            f"with probability {self.probability:.0%}",
        ]
        if self.runner_up_name:
            lines.append(f'runner-up: "{self.runner_up_name}" ({self.runner_up_probability:.0%})')
        for driver in self.drivers:
            lines.append(f"{driver.group}: this customer {driver.sentence()}")
        if self.text_effect is not None and self.text_effect > 0:
            lines.append("their review text also points to this segment")
        lines.append(
            f"churn risk {self.churn_risk:.0%}"
            + (f", raised most by {self.churn_drivers[0].group}" if self.churn_drivers else "")
        )
        lines.append(expected_value(self.value_estimate, self.value_unit, self.horizon_days))
        for review in self.closest_reviews:
            lines.append(
                f"their review ({review.date}, {review.rating} stars): {quote(review.text)}"
            )
        return lines


def _groups(feature_names: list[str]) -> dict[str, list[int]]:
    groups = {
        name: [feature_names.index(f) for f in features if f in feature_names]
        for name, features in FEATURE_GROUPS.items()
    }
    groups["product mix"] += [i for i, f in enumerate(feature_names) if f.startswith("cat_share_")]
    return {name: idx for name, idx in groups.items() if idx}


def _occluded(segmenter, data, columns: list[int]):
    """Copy of `data` with `columns` set to the training population's typical values."""
    import copy

    occluded = copy.copy(data)
    behaviour = data.behaviour.copy()
    # The scaler's mean is in log space for skewed columns: map it back to raw units.
    typical = segmenter.feature_mean_.copy()
    typical[segmenter.log_columns_] = np.expm1(typical[segmenter.log_columns_])
    behaviour[:, columns] = typical[columns]
    occluded.behaviour = behaviour
    return occluded


def _percentiles(values: dict[str, float], profile: SegmentProfile) -> dict[str, float]:
    """Where each value stands among all customers at the last scoring (0-100)."""
    from segassist.training.profiles import percentile

    quantiles = profile.population_quantiles
    return {
        name: round(percentile(value, quantiles[name]), 1)
        for name, value in values.items()
        if name in quantiles and value == value
    }


def _round(values: dict) -> dict[str, float]:
    return {k: round(float(v), 3) for k, v in values.items()}


def explain_membership(
    engine: Engine, customer_id: str, *, index=None, top: int = 3
) -> Explanation:
    """Explain the serving model's segment for `customer_id`, from the data as it is now."""
    if not customer_exists(engine, customer_id):
        raise UserInputError(f"No customer with id {customer_id!r}. Check the id.")
    artefact = load_serving(engine)
    segmenter, names = artefact.segmenter, artefact.feature_names
    features = features_now(engine, artefact.metadata, [customer_id])
    if features.frame.empty:
        raise UserInputError(
            f"Customer {customer_id!r} has no orders, so no segment: segments describe buyers."
        )
    data = build_data(features, index, labelled=False, encoder=artefact.text_encoder)
    season = season_ahead(engine, artefact.metadata, features.window)  # as score scales it
    stored = {s.segment_id: s for s in list_segments(engine, artefact.version)}
    closed = [k for k in range(segmenter.n_segments_) if stored and k not in stored]

    def membership(inputs) -> np.ndarray:
        """As scoring placed customers: segments closed there (too small) are left out."""
        shares = segmenter.predict_proba(inputs)[0]
        shares[closed] = 0.0
        return shares / shares.sum()

    probabilities = membership(data)
    order = np.argsort(-probabilities)
    segment = int(order[0])
    runner = int(order[1]) if len(order) > 1 and probabilities[order[1]] > 0 else None
    traits = segmenter.predict_traits(data)
    churn = float(traits["churn_risk"][0])
    profile = stored[segment].profile if segment in stored else SegmentProfile()
    seg_means = profile.feature_means
    customer_row = among_reviewers(features.frame).iloc[0]  # no reviews: no rating

    drivers, churn_drivers = [], []
    for group, columns in _groups(names).items():
        occluded = _occluded(segmenter, data, columns)
        effect = probabilities[segment] - membership(occluded)[segment]
        churn_effect = churn - float(segmenter.predict_traits(occluded)["churn_risk"][0])
        cols = [names[i] for i in columns]
        values = _round({c: customer_row[c] for c in cols if customer_row[c] == customer_row[c]})
        averages = _round({c: seg_means.get(c, float("nan")) for c in cols})
        where = _percentiles(values, profile)
        of_segment = _percentiles(averages, profile)
        drivers.append(Driver(group, round(float(effect), 4), values, averages, where, of_segment))
        churn_drivers.append(
            Driver(group, round(churn_effect, 4), values, averages, where, of_segment)
        )
    drivers.sort(key=lambda d: -d.effect)
    churn_drivers.sort(key=lambda d: -d.effect)

    text_effect = None
    if data.has_text[0] > 0:
        import copy

        without = copy.copy(data)
        without.has_text = np.zeros_like(data.has_text)
        text_effect = round(float(probabilities[segment] - membership(without)[segment]), 4)

    themes = profile.themes
    return Explanation(
        customer_id=customer_id,
        model_version=artefact.version,
        segment_id=segment,
        segment_name=stored[segment].name if segment in stored else f"Segment {segment}",
        probability=round(float(probabilities[segment]), 4),
        runner_up_id=runner,
        runner_up_name=stored[runner].name if runner in stored else None,
        runner_up_probability=round(float(probabilities[runner]), 4)
        if runner is not None
        else None,
        drivers=[d for d in drivers if d.effect > 0][:top],
        text_effect=text_effect,
        churn_risk=round(churn, 4),
        churn_drivers=[d for d in churn_drivers if d.effect > 0][:top],
        value_estimate=round(float(traits["value_estimate"][0]) * season.factor, 2),
        value_unit=artefact.metadata.get("value_unit", "spend"),
        horizon_days=int(artefact.metadata["window"]["horizon_days"]),
        closest_reviews=_closest_reviews(index, customer_id, themes),
        segment_themes=themes,
    )


def _closest_reviews(index, customer_id: str, themes: list[str], n: int = 2) -> list[ClosestReview]:
    """The customer's own texts closest in meaning to the segment's theme words."""
    if index is None or not themes:
        return []
    from segassist.retrieval.search import SearchFilters, search_reviews

    hits = search_reviews(
        index, " ".join(themes), k=n, filters=SearchFilters(customer_id=customer_id), max_chars=300
    )
    return [ClosestReview(h.review_id, h.rating, h.date, h.text, h.score) for h in hits]


def stored_segment(engine: Engine, customer_id: str, version: str) -> int | None:
    """The segment stored for the customer by `segassist score`, if any."""
    with engine.connect() as conn:
        return conn.execute(
            select(CustomerScore.segment_id).where(
                CustomerScore.customer_id == customer_id, CustomerScore.model_version == version
            )
        ).scalar_one_or_none()
