"""The synthetic generator: repeatable, and its segments shape behaviour and text."""

from __future__ import annotations

import pandas as pd
from segassist.warehouse.importers.writer import write_batches
from segassist.warehouse.synthetic import SEGMENTS, generate
from sqlalchemy import text


def _frames(n: int, seed: int) -> dict[str, pd.DataFrame]:
    batches = list(generate(n, seed=seed, chunk_size=700))
    names = {name for b in batches for name in b.tables}
    return {n: pd.concat([b.tables[n] for b in batches if n in b.tables]) for n in names}


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = _frames(1500, 1), _frames(1500, 1), _frames(1500, 2)
    pd.testing.assert_frame_equal(a["orders"], b["orders"])
    pd.testing.assert_frame_equal(a["reviews"], b["reviews"])
    assert not a["orders"]["ordered_at"].equals(c["orders"]["ordered_at"])
    assert a["customers"]["customer_id"].is_unique


def test_segments_shape_behaviour_and_text():
    frames = _frames(5000, 0)
    truth = frames["synthetic_truth"].set_index("customer_id")["segment"]
    orders_per_customer = frames["orders"].groupby("customer_id").size()
    mean_orders = orders_per_customer.groupby(truth).mean()
    loyal, at_risk = 0, 2
    assert mean_orders[loyal] > 3 * mean_orders[at_risk]

    reviews = frames["reviews"].assign(segment=lambda r: r["customer_id"].map(truth))
    ratings = reviews.groupby("segment")["rating"].mean()
    assert ratings[loyal] > 4.3 and ratings[at_risk] < 2.5
    # Each segment writes about its own themes.
    for segment, spec in enumerate(SEGMENTS):
        texts = reviews.loc[reviews["segment"] == segment, "text"]
        assert texts.str.contains(spec.themes[0], regex=False).mean() > 0.1

    # Spend differs: premium buyers pay more per line than bargain hunters.
    lines = frames["order_lines"].merge(frames["orders"][["order_id", "customer_id"]])
    price = lines.groupby(lines["customer_id"].map(truth))["unit_price"].mean()
    assert price[4] > 3 * price[1]


def test_generated_data_loads_into_the_warehouse(engine):
    result = write_batches(engine, generate(1200, seed=3, chunk_size=500), sha256="synthetic-test")
    assert result.rows_written["customers"] == 1200
    with engine.connect() as conn:
        linked = conn.execute(
            text(
                "SELECT COUNT(*) FROM reviews r JOIN synthetic_truth t "
                "ON t.customer_id = r.customer_id"
            )
        ).scalar_one()
        total = conn.execute(text("SELECT COUNT(*) FROM reviews")).scalar_one()
    assert linked == total > 0


def _by_segment(frames: dict[str, pd.DataFrame]):
    truth = frames["synthetic_truth"].set_index("customer_id")["segment"]
    orders = frames["orders"].groupby("customer_id").size().groupby(truth).mean()
    lines = frames["order_lines"].merge(frames["orders"][["order_id", "customer_id"]])
    price = lines.groupby(lines["customer_id"].map(truth))["unit_price"].mean()
    reviews = frames["reviews"].assign(segment=lambda r: r["customer_id"].map(truth))
    return truth, orders, price, reviews


def _shares_of(reviews: pd.DataFrame, themes) -> pd.Series:
    """Per segment, the share of reviews that mention one of `themes`."""
    pattern = "|".join(themes)
    return reviews["text"].str.contains(pattern, regex=True).groupby(reviews["segment"]).mean()


def test_each_mode_puts_the_truth_in_the_source_it_names():
    from segassist.warehouse.synthetic import GIFT_THEMES, MODES, STUDIO_THEMES

    # behaviour: segments buy differently, but write alike with the same ratings.
    truth, orders, price, reviews = _by_segment(_frames_mode(4000, "behaviour"))
    assert orders.max() > 3 * orders.min()
    own = _shares_of(reviews, MODES["default"].segments[0].themes[:3])
    assert own.max() - own.min() < 0.06
    assert reviews.groupby("segment")["rating"].mean().std() < 0.1

    # text: segments buy alike but write about their own themes.
    truth, orders, price, reviews = _by_segment(_frames_mode(4000, "text"))
    assert orders.max() < 1.2 * orders.min() and price.max() < 1.2 * price.min()
    for segment, spec in enumerate(MODES["text"].segments):
        own = _shares_of(reviews, spec.themes)
        assert own[segment] == 1.0 and own.drop(segment).max() == 0.0
    assert truth.index.isin(reviews["customer_id"]).all()  # everyone writes

    # combination: two ways of buying x two topics; each source alone sees two groups.
    truth, orders, price, reviews = _by_segment(_frames_mode(4000, "combination"))
    assert len(MODES["combination"].segments) == 4
    gifts = _shares_of(reviews, GIFT_THEMES)
    assert (gifts[[0, 2]] == 1.0).all() and (gifts[[1, 3]] == 0.0).all()
    assert (_shares_of(reviews, STUDIO_THEMES)[[1, 3]] == 1.0).all()
    assert min(orders[0], orders[1]) > 3 * max(orders[2], orders[3])
    assert abs(orders[0] / orders[1] - 1) < 0.15 and abs(orders[2] / orders[3] - 1) < 0.15
    assert min(price[2], price[3]) > 2 * max(price[0], price[1])
    assert reviews.groupby("segment")["rating"].mean().std() < 0.1
    assert truth.index.isin(reviews["customer_id"]).all()


def _frames_mode(n: int, mode: str) -> dict[str, pd.DataFrame]:
    batches = list(generate(n, seed=0, chunk_size=1500, mode=mode))
    names = {name for b in batches for name in b.tables}
    return {k: pd.concat([b.tables[k] for b in batches if k in b.tables]) for k in names}


def test_an_unknown_mode_is_refused():
    import pytest

    with pytest.raises(ValueError, match="mode must be one of default, behaviour"):
        next(generate(10, mode="topics"))
