"""Segment profiles: who is in a segment, what they buy, what they say, and a name.

Computed when customers are scored and stored in `segments.profile`, so the
agent and the UI read them without recomputing. The name is derived from the
profile by fixed rules (deterministic); an LLM may polish it later.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from segassist.retrieval.search import bound_text
from segassist.training.features import among_reviewers
from segassist.warehouse.records import (
    CategoryShare,
    ReviewQuote,
    Segment,
    SegmentProfile,
    TopProduct,
    Trait,
)
from segassist.warehouse.schema import CustomerScore, Order, OrderLine, Product, Review
from sqlalchemy import Engine, func, or_, select

# How a strongly high (+) or low (-) feature reads in a segment's name.
NAME_PARTS = {
    ("n_orders", +1): "frequent buyers",
    ("n_orders", -1): "one-off buyers",
    ("recency_days", +1): "lapsed",
    ("recency_days", -1): "recently active",
    ("tenure_days", +1): "long-standing",
    ("tenure_days", -1): "new",
    ("monetary", +1): "high spenders",
    ("monetary", -1): "low spenders",
    ("basket_value", +1): "big baskets",
    ("basket_value", -1): "small baskets",
    ("rating_mean", -1): "unhappy reviewers",
    ("rating_mean", +1): "happy reviewers",
    ("low_rating_share", +1): "critical reviewers",
    ("n_reviews", +1): "prolific reviewers",
    ("helpful_votes", +1): "influential reviewers",
    ("return_share", +1): "frequent returners",
    ("cancelled_orders", +1): "cancellers",
    ("activity_trend", +1): "growing",
    ("activity_trend", -1): "slowing down",
    ("distinct_products", +1): "broad shoppers",
    ("review_length", +1): "detailed reviewers",
    ("review_length", -1): "brief reviewers",
}
# A trait names a segment only when it is clear (|z| at least this) and the segment's
# own mean agrees in plain terms (SUPPORTED): "recently active" must be more recent
# than the typical customer, "growing" must actually grow.
NAME_MIN_Z = 0.5
# A segment with no clear trait is "Typical customers, somewhat ..." by its traits of at
# least this |z| (Amazon: two segments were "Typical customers" and "Typical customers
# (segment 2)"; their review lengths differ by a z of 1).
LEANING_MIN_Z = 0.2
TYPICAL = "Typical customers"
# A segment that buys mostly one category, far more than customers at large, is named by
# it first ("Bed bath table buyers, ..."): on Olist one segment bought 99% bed_bath_table
# (category share z +3.0) and was "Typical customers", category shares having no word.
MOSTLY_SHARE = 0.5
MOSTLY_LIFT = 2.0
BUYERS = " buyers"
MEDIAN_SIDE = {
    "recency_days",
    "tenure_days",
    "n_orders",
    "monetary",
    "basket_value",
    "distinct_products",
    "n_reviews",
    "helpful_votes",
    "review_length",
}
SUPPORTED = {
    ("activity_trend", +1): lambda mean, median: mean > 0,
    ("activity_trend", -1): lambda mean, median: mean < 0,
    ("n_orders", -1): lambda mean, median: mean <= 1.5,
    ("rating_mean", -1): lambda mean, median: mean <= 3.0,
    ("rating_mean", +1): lambda mean, median: mean >= 4.0,
    ("low_rating_share", +1): lambda mean, median: mean >= 0.25,
    ("return_share", +1): lambda mean, median: mean >= 0.1,
}
N_KEYWORDS = 8
MAP_POINTS_PER_SEGMENT = 400  # customers per segment on the UI's 2-D map


def map_points(
    embedding: np.ndarray,
    segments: np.ndarray,
    customer_ids: list[str],
    per_segment: int = MAP_POINTS_PER_SEGMENT,
) -> dict[int, list[list]]:
    """A 2-D map of the fused embeddings (PCA), sampled per segment: [x, y, customer_id].

    The projection is fitted on every customer; the sample (fixed seed) keeps
    the stored profile small whatever the number of customers.
    """
    from sklearn.decomposition import PCA

    if len(embedding) < 3:
        return {}
    coords = PCA(n_components=2, random_state=0).fit_transform(embedding.astype(np.float64))
    rng = np.random.default_rng(0)
    points = {}
    for segment in np.unique(segments):
        rows = np.flatnonzero(segments == segment)
        if len(rows) > per_segment:
            rows = np.sort(rng.choice(rows, per_segment, replace=False))
        points[int(segment)] = [
            [round(float(coords[r, 0]), 4), round(float(coords[r, 1]), 4), customer_ids[r]]
            for r in rows
        ]
    return points


def feature_zscores(features: pd.DataFrame, segments: np.ndarray) -> pd.DataFrame:
    """Segment mean of each feature as a z-score against the whole population."""
    mean, std = features.mean(), features.std(ddof=0).replace(0, np.nan)
    return ((features.groupby(segments).mean() - mean) / std).fillna(0.0)


def population_quantiles(features: pd.DataFrame) -> dict[str, list[float]]:
    """Each feature's 0th..100th percentile over the customers it describes (for 'more
    than 82% of customers' in explanations, without recomputing everyone's features);
    a feature no customer has (NaN throughout) has none."""
    levels = np.linspace(0, 1, 101)
    quantiles = {}
    for name in features.columns:
        values = features[name].to_numpy(float)
        values = values[~np.isnan(values)]
        if len(values):
            quantiles[name] = [float(f"{v:.5g}") for v in np.quantile(values, levels)]
    return quantiles


def _known(values: pd.Series) -> dict[str, float]:
    """`values` rounded, those that are missing (a segment without reviewers' rating)
    left out."""
    return {k: round(float(v), 4) for k, v in values.items() if v == v}


def percentile(value: float, quantiles: list[float]) -> float:
    """Share of customers (0-100) below `value`, ties counted half."""
    points = np.asarray(quantiles, dtype=float)
    if len(points) < 2:
        return 50.0
    below = np.searchsorted(points, value, side="left")
    not_above = np.searchsorted(points, value, side="right")
    return float(np.clip((below + not_above) / 2 / (len(points) - 1) * 100, 0, 100))


def supported(feature: str, sign: int, mean: float, median: float) -> bool:
    """The segment's mean agrees with the word for (feature, sign) in plain terms."""
    check = SUPPORTED.get((feature, sign))
    if check is not None:
        return bool(check(mean, median))
    if feature in MEDIAN_SIDE:  # above (below) the typical customer, not just the mean
        return mean > median if sign > 0 else mean < median
    return True


def name_parts(
    zscores: pd.Series, means: pd.Series, medians: pd.Series, min_z: float = NAME_MIN_Z
) -> list[str]:
    """The words a segment's profile supports, strongest trait first."""
    parts = []
    for feature in zscores.abs().sort_values(ascending=False).index:
        z = float(zscores[feature])
        sign = int(np.sign(z))
        part = NAME_PARTS.get((feature, sign))
        if (
            part
            and abs(z) >= min_z
            and part not in parts
            and supported(
                feature, sign, float(means.get(feature, 0.0)), float(medians.get(feature, 0.0))
            )
        ):
            parts.append(part)
    return parts


WRITES_ABOUT = "; writes about "


def segment_name(
    parts: list[str],
    taken: set[str],
    segment_id: int,
    theme: str | None = None,
    *,
    leaning: list[str] = (),
    word: str | None = None,
) -> str:
    """The two strongest supported traits, e.g. 'Lapsed, one-off buyers', and the word the
    segment writes most distinctively where its text sets it apart ('...; writes about
    "gift"'). With no clear trait, 'Typical customers, somewhat ...' by its milder
    supported traits (`leaning`). Where two segments would share a name: a third trait,
    then the segment's own most distinctive word (`word`), then its number."""
    about = f'{WRITES_ABOUT}"{theme}"' if theme else ""
    if parts:
        names = [", ".join(parts[:count]).capitalize() for count in (2, 3, 4)]
    else:
        names = [f"{TYPICAL}, somewhat {' and '.join(leaning[:n])}" for n in (1, 2)][
            : len(leaning)
        ] or [TYPICAL]
    candidates = [name + about for name in names]
    if word and not theme:
        candidates.append(f'{names[-1]}{WRITES_ABOUT}"{word}"')
    for name in candidates:
        if name not in taken:
            return name
    return f"{candidates[-1]} (segment {segment_id})"


def _top_products(engine: Engine, version: str, per_segment: int = 5) -> dict[int, dict]:
    """Products a segment buys most in units net of returns and cancellations: a
    cancelled order's units do not count, and a cancellation invoice's negative lines
    (Online Retail's 'C' invoices) take back what the original order bought."""
    units = func.sum(OrderLine.quantity).label("units")
    query = (
        select(CustomerScore.segment_id, Product.product_id, Product.title, Product.category, units)
        .join(Order, Order.customer_id == CustomerScore.customer_id)
        .join(OrderLine, OrderLine.order_id == Order.order_id)
        .join(Product, Product.product_id == OrderLine.product_id)
        .where(
            CustomerScore.model_version == version,
            or_(Order.is_cancelled.is_(False), OrderLine.quantity < 0),
        )
        .group_by(CustomerScore.segment_id, Product.product_id, Product.title, Product.category)
    )
    with engine.connect() as conn:
        rows = pd.DataFrame(
            conn.execute(query).all(),
            columns=["segment", "product_id", "title", "category", "units"],
        )
    rows = rows[rows["units"] > 0]
    overall = rows.groupby("category")["units"].sum()
    overall = overall / max(overall.sum(), 1)
    out = {}
    for segment, group in rows.groupby("segment"):
        top = group.sort_values(["units", "product_id"], ascending=[False, True]).head(per_segment)
        categories = group.groupby("category")["units"].sum().sort_values(ascending=False)
        first = categories.index[0] if len(categories) else None
        share = float(categories.iloc[0] / categories.sum()) if first is not None else 0.0
        mostly = share >= MOSTLY_SHARE and share >= MOSTLY_LIFT * float(overall[first])
        out[int(segment)] = {
            "mostly": first if mostly else None,
            "top_products": [
                {"product_id": r.product_id, "title": r.title, "units": int(r.units)}
                for r in top.itertuples()
            ],
            "top_categories": [
                {"category": c, "share": round(float(u / categories.sum()), 3)}
                for c, u in categories.head(3).items()
            ],
        }
    return out


def _segment_reviews(engine: Engine, version: str) -> pd.DataFrame:
    query = (
        select(CustomerScore.segment_id, Review.review_id, Review.title, Review.text, Review.rating)
        .join(Review, Review.customer_id == CustomerScore.customer_id)
        .where(CustomerScore.model_version == version, Review.text.is_not(None))
    )
    with engine.connect() as conn:
        return pd.DataFrame(
            conn.execute(query).all(), columns=["segment", "review_id", "title", "text", "rating"]
        )


def review_themes(reviews: pd.DataFrame, n: int = N_KEYWORDS) -> dict[int, list[str]]:
    """Keywords per segment: words it uses often and more than other segments do."""
    from sklearn.feature_extraction.text import CountVectorizer

    if reviews.empty or reviews["segment"].nunique() < 1:
        return {}
    documents = reviews.groupby("segment")["text"].apply(lambda t: " ".join(t.astype(str)))
    try:
        vectorizer = CountVectorizer(
            stop_words="english",
            ngram_range=(1, 2),
            min_df=2,
            max_features=20_000,
            token_pattern=r"(?u)\b[a-zA-Z]{3,}\b",
        )
        counts = vectorizer.fit_transform(documents.values).toarray().astype(float)
    except ValueError:  # too little text for a vocabulary
        return {}
    words = vectorizer.get_feature_names_out()
    # c-TF-IDF weights each word by how much more often the segment uses it than
    # the other segments do, so words everyone writes ("great", "guitar") drop out.
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    rest = counts.sum(axis=0, keepdims=True) - counts
    tf_rest = rest / np.maximum(rest.sum(axis=1, keepdims=True), 1)
    scores = tf * np.log((tf + 1e-5) / (tf_rest + 1e-5))
    scores[counts < 3] = 0
    return {
        int(segment): [words[i] for i in np.argsort(-scores[row])[:n] if scores[row, i] > 0]
        for row, segment in enumerate(documents.index)
    }


def representative_reviews(
    reviews: pd.DataFrame, themes: dict[int, list[str]], per_segment: int = 3
) -> dict[int, list[dict]]:
    """Reviews that use most of their segment's theme words (ties: the shorter review)."""
    out = {}
    for segment, group in reviews.groupby("segment"):
        words = themes.get(int(segment), [])
        if not words:
            continue
        lower = group["text"].astype(str).str.lower()
        hits = sum(lower.str.contains(w, regex=False).astype(int) for w in words)
        ranked = group.assign(hits=hits, length=lower.str.len()).sort_values(
            ["hits", "length", "review_id"], ascending=[False, True, True]
        )
        out[int(segment)] = [
            {
                "review_id": r.review_id,
                "rating": None if pd.isna(r.rating) else int(r.rating),
                "text": bound_text(str(r.text), 300)[0],
            }
            for r in ranked.head(per_segment).itertuples()
        ]
    return out


def build_profiles(
    engine: Engine,
    version: str,
    features: pd.DataFrame,
    segments: np.ndarray,
    traits: dict[str, np.ndarray],
    value_unit: str = "spend",
    horizon_days: int = 0,
    text_groups: bool = False,
) -> dict[int, Segment]:
    """Every non-empty segment of `version` with its profile (features indexed like
    `segments`); `text_groups`: the segmenter found groups in the review text, so names
    say what each segment writes about."""
    features = among_reviewers(features)  # a rating of 0 filled in is not a rating
    zscores = feature_zscores(features, segments)
    means = features.groupby(segments).mean()
    products = _top_products(engine, version)
    reviews = _segment_reviews(engine, version)
    themes = review_themes(reviews)
    examples = representative_reviews(reviews, themes)
    population = _known(features.mean())
    medians = features.median()
    quantiles = population_quantiles(features)
    total = len(segments)
    built, taken = {}, set()
    for segment in sorted(set(int(s) for s in segments)):
        members = segments == segment
        bought = products.get(segment, {})
        mostly = [f"{bought['mostly'].replace('_', ' ')}{BUYERS}"] if bought.get("mostly") else []
        parts = mostly + name_parts(zscores.loc[segment], means.loc[segment], medians)
        leaning = name_parts(zscores.loc[segment], means.loc[segment], medians, LEANING_MIN_Z)
        word = (themes.get(segment) or [None])[0]
        theme = word if text_groups else None
        name = segment_name(parts, taken, segment, theme, leaning=leaning, word=word)
        taken.add(name)
        z = zscores.loc[segment]
        profile = SegmentProfile(
            share=round(float(members.mean()), 4),
            churn_risk_mean=round(float(traits["churn_risk"][members].mean()), 4),
            value_estimate_mean=round(float(traits["value_estimate"][members].mean()), 2),
            value_unit=value_unit,
            horizon_days=horizon_days,
            customers_total=total,
            feature_means=_known(means.loc[segment]),
            population_means=population,
            population_medians=_known(medians),
            population_quantiles=quantiles,
            zscores={k: round(float(v), 3) for k, v in z.items()},
            distinctive=[
                Trait(f, round(float(z[f]), 2))
                for f in z.abs().sort_values(ascending=False).index[:5]
            ],
            top_products=[TopProduct(**t) for t in bought.get("top_products", [])],
            top_categories=[CategoryShare(**c) for c in bought.get("top_categories", [])],
            themes=themes.get(segment, []),
            representative_reviews=[ReviewQuote(**r) for r in examples.get(segment, [])],
        )
        built[segment] = Segment(segment, name, int(members.sum()), profile)
    return built
