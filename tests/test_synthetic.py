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
