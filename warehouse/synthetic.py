"""Synthetic customers drawn from known latent segments, for scale and recovery tests.

Each customer belongs to one of a few latent segments. The segment shapes
both what they do (how often they buy, basket size, categories, whether they
churn) and what they write (review themes and sentiment), so a segmenter can
be checked for recovering known structure. The truth is stored in
`synthetic_truth`. Real data stays the default everywhere else.

Modes say which source carries the truth, so a segmenter can be checked for
using each source and both (`MODES`):

- ``default``: five segments that differ in behaviour, ratings and themes;
- ``behaviour``: five segments that differ only in what they do; everyone
  writes about every theme with the same ratings;
- ``text``: five segments that behave alike and differ only in what they
  write about (same ratings);
- ``combination``: four segments, two ways of buying x two topics: each source
  alone sees two groups, only both together see four (same ratings).

In the text-carrying modes every customer writes at least one review, else
their segment could not be known from text at all.

Generation is vectorised and chunked by customer, so 1M customers fit in a
few GB; every chunk is derived from (seed, chunk number) and is repeatable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from segassist.warehouse.importers.writer import Batch

SOURCE = "synthetic"
CATEGORIES = (
    "guitars",
    "strings",
    "pedals",
    "cables",
    "microphones",
    "drums",
    "keyboards",
    "cases",
)
END = datetime(2024, 12, 31)
SPAN_DAYS = 3 * 365


@dataclass(frozen=True)
class SegmentSpec:
    """How one latent segment behaves and writes."""

    name: str
    orders_per_year: float
    lines_per_order: float
    price_factor: float
    churn_probability: float
    review_rate: float
    rating_mean: float
    categories: tuple[float, ...]  # preference weight per CATEGORIES entry
    themes: tuple[str, ...]


SEGMENTS = (
    SegmentSpec(
        "loyal enthusiasts",
        9.0,
        3.0,
        1.0,
        0.05,
        0.5,
        4.7,
        (1, 20, 20, 1, 1, 1, 1, 1),
        (
            "great tone and build quality",
            "I buy these every month, always reliable",
            "sounds amazing on stage",
            "fast shipping as always",
            "my go-to brand for years",
        ),
    ),
    SegmentSpec(
        "bargain hunters",
        5.0,
        1.5,
        0.5,
        0.25,
        0.35,
        3.8,
        (1, 1, 1, 20, 1, 1, 1, 20),
        (
            "cheap price and does the job",
            "good value for the money",
            "bought it on sale, decent for the price",
            "not the best but cheap",
            "waited for a discount before buying",
        ),
    ),
    SegmentSpec(
        "disappointed at-risk",
        2.0,
        1.2,
        0.9,
        0.7,
        0.6,
        1.9,
        (1, 1, 1, 1, 1, 30, 1, 1),
        (
            "broke after a week",
            "arrived late and damaged",
            "stopped working, asking for a refund",
            "poor quality, very noisy",
            "customer service never answered",
        ),
    ),
    SegmentSpec(
        "gift shoppers",
        1.2,
        2.0,
        1.3,
        0.45,
        0.25,
        4.3,
        (1, 1, 1, 1, 1, 1, 30, 1),
        (
            "bought as a gift for my son",
            "nice present, well packaged",
            "my daughter loved it for her birthday",
            "perfect christmas gift",
            "the gift wrapping was lovely",
        ),
    ),
    SegmentSpec(
        "premium studio buyers",
        2.5,
        1.3,
        3.0,
        0.15,
        0.45,
        4.4,
        (20, 1, 1, 1, 20, 1, 1, 1),
        (
            "studio quality recording sound",
            "expensive but worth every penny",
            "professional grade microphone",
            "crystal clear in the studio",
            "premium materials and design",
        ),
    ),
)


def _alike(name: str, themes: tuple[str, ...], **behaviour) -> SegmentSpec:
    """A segment that buys like everyone else (text mode) unless told otherwise."""
    spec = {
        "orders_per_year": 4.0,
        "lines_per_order": 1.8,
        "price_factor": 1.0,
        "churn_probability": 0.25,
        "review_rate": 0.5,
        "rating_mean": 4.2,
        "categories": (2, 2, 2, 2, 2, 2, 2, 2),
    }
    return SegmentSpec(name=name, themes=themes, **{**spec, **behaviour})


ALL_THEMES = tuple(theme for spec in SEGMENTS for theme in spec.themes)
GIFT_THEMES = (
    "bought as a gift for my son",
    "nice present, well packaged",
    "my daughter loved it for her birthday",
    "perfect christmas gift",
    "the gift wrapping was lovely",
    "got this for my husband's anniversary",
    "a present for my nephew who is learning",
    "my grandson opened it on his birthday",
)
STUDIO_THEMES = (
    "studio quality recording sound",
    "clean signal for home recording sessions",
    "professional grade microphone",
    "crystal clear in the studio",
    "low noise when tracking vocals",
    "works well with my audio interface",
    "great for mixing and mastering",
    "tight response on the recording desk",
)
FREQUENT = {  # many small orders of consumables
    "orders_per_year": 8.0,
    "lines_per_order": 2.5,
    "price_factor": 0.7,
    "churn_probability": 0.1,
    "categories": (1, 20, 1, 20, 1, 1, 1, 1),
}
OCCASIONAL = {  # rare big-ticket orders
    "orders_per_year": 1.5,
    "lines_per_order": 1.2,
    "price_factor": 2.5,
    "churn_probability": 0.4,
    "categories": (20, 1, 1, 1, 1, 1, 20, 1),
}


@dataclass(frozen=True)
class Mode:
    """Which latent segments a data set is drawn from."""

    segments: tuple[SegmentSpec, ...]
    always_writes: bool = False  # every customer reviews their first order


MODES = {
    "default": Mode(SEGMENTS),
    "behaviour": Mode(
        tuple(replace(s, review_rate=0.4, rating_mean=4.0, themes=ALL_THEMES) for s in SEGMENTS)
    ),
    "text": Mode(
        tuple(_alike(f"writes about {s.name}", s.themes) for s in SEGMENTS), always_writes=True
    ),
    "combination": Mode(
        (
            _alike("frequent gift buyers", GIFT_THEMES, **FREQUENT),
            _alike("frequent home-studio players", STUDIO_THEMES, **FREQUENT),
            _alike("occasional big-ticket gift buyers", GIFT_THEMES, **OCCASIONAL),
            _alike("occasional big-ticket studio buyers", STUDIO_THEMES, **OCCASIONAL),
        ),
        always_writes=True,
    ),
}


OPENERS = ("", "Honestly, ", "Overall ", "Well, ", "As expected, ")
CLOSERS = ("", " Would recommend.", " Five stars from me.", " Not sure I'd buy again.", "")
# Sentences any customer may add, whatever their segment: real reviews are never only
# their topic, and text that is all topic would make the text view unrealistically clean.
ASIDES = (
    "The box was a bit dented.",
    "Took a while to set up.",
    "Colour is exactly as pictured.",
    "It is lighter than I expected.",
    "The manual could be clearer.",
    "Arrived on Tuesday.",
    "I compared three models before choosing.",
    "My neighbour has the same one.",
    "Battery not included.",
    "It fits in the car easily.",
    "The cable is a little short.",
    "Comes with a small bag.",
    "I read the reviews first.",
    "Used it every day this week.",
    "Second one I have owned.",
    "The finish looks nice.",
)


def _products(rng: np.random.Generator, n_products: int) -> pd.DataFrame:
    category = rng.integers(0, len(CATEGORIES), n_products)
    base = np.array([300, 10, 90, 15, 150, 400, 500, 60], dtype=float)[category]
    price = np.round(base * rng.lognormal(0.0, 0.35, n_products), 2)
    return pd.DataFrame(
        {
            "product_id": [f"SP{i:05d}" for i in range(n_products)],
            "title": [f"{CATEGORIES[c][:-1].title()} model {i}" for i, c in enumerate(category)],
            "category": [CATEGORIES[c] for c in category],
            "price": price,
            "source": SOURCE,
        }
    )


def generate(
    n_customers: int,
    *,
    seed: int = 0,
    chunk_size: int = 50_000,
    n_products: int = 2_000,
    mode: str = "default",
) -> Iterator[Batch]:
    """Yield batches covering `n_customers` synthetic customers, products in the first;
    `mode` (a key of MODES) says which source carries the segments."""
    if not 1 <= n_customers <= 10_000_000:
        raise ValueError("n_customers must be between 1 and 10,000,000")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    products = _products(np.random.default_rng([seed, 0]), n_products)
    for chunk, start in enumerate(range(0, n_customers, chunk_size)):
        size = min(chunk_size, n_customers - start)
        rng = np.random.default_rng([seed, chunk + 1])
        batch = _chunk(rng, start, size, products, MODES[mode])
        if chunk == 0:
            batch.tables["products"] = products
        yield batch


def _chunk(rng, start: int, size: int, products: pd.DataFrame, mode: Mode) -> Batch:
    specs = mode.segments
    segment = rng.integers(0, len(specs), size)
    customer_id = np.array([f"SC{start + i:07d}" for i in range(size)], dtype=object)
    param = {
        f: np.array([getattr(s, f) for s in specs])[segment]
        for f in (
            "orders_per_year",
            "lines_per_order",
            "price_factor",
            "churn_probability",
            "review_rate",
            "rating_mean",
        )
    }
    first_day = rng.uniform(0, SPAN_DAYS - 30, size)
    churned = rng.random(size) < param["churn_probability"]
    last_day = np.where(churned, first_day + rng.uniform(10, 400, size), SPAN_DAYS)
    last_day = np.minimum(last_day, SPAN_DAYS)
    active_years = (last_day - first_day) / 365.0
    n_orders = 1 + rng.poisson(param["orders_per_year"] * active_years)

    order_owner = np.repeat(np.arange(size), n_orders)
    day = (
        first_day[order_owner] + rng.random(len(order_owner)) * (last_day - first_day)[order_owner]
    )
    day = day[np.lexsort((day, order_owner))]  # each customer's orders in date order
    ordered_at = pd.Timestamp(END - timedelta(days=SPAN_DAYS)) + pd.to_timedelta(day, unit="D")
    order_id = np.array([f"SO{start:07d}-{i}" for i in range(len(order_owner))], dtype=object)
    orders = pd.DataFrame(
        {
            "order_id": order_id,
            "customer_id": customer_id[order_owner],
            "ordered_at": ordered_at.floor("min"),
            "status": "completed",
            "is_cancelled": False,
            "source": SOURCE,
        }
    )
    lines = _lines(rng, segment, order_owner, order_id, param, products, specs)
    reviews = _reviews(rng, segment, order_owner, orders, lines, param, mode)
    customers = pd.DataFrame({"customer_id": customer_id, "source": SOURCE})
    truth = pd.DataFrame(
        {
            "customer_id": customer_id,
            "segment": segment,
            "segment_name": [specs[s].name for s in segment],
        }
    )
    batch = Batch(importer="synthetic", source=SOURCE, paths=[], rows_read=size)
    batch.tables = {
        "customers": customers,
        "orders": orders,
        "order_lines": lines,
        "reviews": reviews,
        "synthetic_truth": truth,
    }
    return batch


def _lines(rng, segment, order_owner, order_id, param, products, specs) -> pd.DataFrame:
    n_lines = 1 + rng.poisson(param["lines_per_order"][order_owner] - 1)
    line_order = np.repeat(np.arange(len(order_id)), n_lines)
    line_segment = segment[order_owner][line_order]
    by_category = products.groupby("category").indices
    preferences = np.array([s.categories for s in specs], dtype=float)
    preferences /= preferences.sum(axis=1, keepdims=True)
    cumulative = preferences.cumsum(axis=1)[line_segment]
    category = (rng.random(len(line_order))[:, None] > cumulative).sum(axis=1)
    category = np.minimum(category, len(CATEGORIES) - 1)
    product_index = np.empty(len(line_order), dtype=np.int64)
    for c, name in enumerate(CATEGORIES):
        mask = category == c
        pool = by_category[name]
        product_index[mask] = pool[rng.integers(0, len(pool), mask.sum())]
    price = (
        products["price"].to_numpy()[product_index] * param["price_factor"][order_owner][line_order]
    )
    starts = np.r_[0, np.cumsum(n_lines)[:-1]]
    return pd.DataFrame(
        {
            "order_id": order_id[line_order],
            "line_no": np.arange(len(line_order)) - np.repeat(starts, n_lines) + 1,
            "product_id": products["product_id"].to_numpy()[product_index],
            "quantity": 1 + rng.poisson(0.3, len(line_order)),
            "unit_price": np.round(price, 2),
            "is_return": False,
        }
    )


def _reviews(rng, segment, order_owner, orders, lines, param, mode: Mode) -> pd.DataFrame:
    reviewed = rng.random(len(order_owner)) < param["review_rate"][order_owner]
    if mode.always_writes:  # orders are grouped by customer: each one's first is reviewed
        reviewed |= np.r_[True, order_owner[1:] != order_owner[:-1]]
    owners = order_owner[reviewed]
    first_lines = lines.drop_duplicates("order_id").set_index("order_id")["product_id"]
    reviewed_orders = orders[reviewed]
    rating = np.clip(np.rint(rng.normal(param["rating_mean"][owners], 0.7)), 1, 5).astype(int)
    n_themes = np.array([len(spec.themes) for spec in mode.segments])[segment[owners]]
    theme_pick = (rng.random(len(owners)) * n_themes).astype(int)
    opener = rng.integers(0, len(OPENERS), len(owners))
    closer = rng.integers(0, len(CLOSERS), len(owners))
    asides = rng.integers(0, len(ASIDES), (len(owners), 2))
    n_asides = rng.integers(0, 3, len(owners))
    text = [
        f"{OPENERS[o]}{mode.segments[s].themes[t]}."
        + "".join(f" {ASIDES[a]}" for a in aside[:n])
        + CLOSERS[c]
        for s, t, o, c, aside, n in zip(
            segment[owners], theme_pick, opener, closer, asides, n_asides, strict=True
        )
    ]
    return pd.DataFrame(
        {
            "review_id": "SR" + reviewed_orders["order_id"].str.slice(2),
            "customer_id": reviewed_orders["customer_id"].to_numpy(),
            "product_id": reviewed_orders["order_id"].map(first_lines).to_numpy(),
            "order_id": reviewed_orders["order_id"].to_numpy(),
            "rating": rating,
            "text": text,
            "language": "en",
            "reviewed_at": (reviewed_orders["ordered_at"] + pd.Timedelta(days=7)).to_numpy(),
            "helpful_votes": rng.poisson(1.0, len(owners)),
            "total_votes": 0,
            "source": SOURCE,
        }
    ).assign(total_votes=lambda r: r["helpful_votes"] + rng.poisson(0.5, len(r)))
