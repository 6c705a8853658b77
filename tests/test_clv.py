"""BG/NBD + Gamma-Gamma, the value baseline: its inputs from the warehouse, its
predictions against customers simulated from the model itself, and its row in
`evaluate`."""

import numpy as np
import pytest
from segassist.training.clv import CustomerValueModel, Summary


def _simulate(n: int, r: float, alpha: float, a: float, b: float, age: float, horizon: float):
    """Customers who buy as BG/NBD says: a Poisson rate per customer, and after each order
    a chance of leaving. The summary over [0, age), and the orders in the horizon after."""
    rng = np.random.default_rng(7)
    rates = rng.gamma(r, 1 / alpha, n)
    leave = rng.beta(a, b, n)
    frequency, recency, later = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in range(n):
        t, alive, times = 0.0, True, []
        while alive:
            t += rng.exponential(1 / rates[i])
            if t >= age + horizon:
                break
            times.append(t)
            alive = rng.random() >= leave[i]
        before = [s for s in times if s < age]
        # Every customer's first order opens their history (time 0).
        frequency[i] = len(before)
        recency[i] = before[-1] if before else 0.0
        later[i] = sum(age <= s < age + horizon for s in times)
    summary = Summary(frequency, recency, np.full(n, age), np.ones(n))
    return summary, later


@pytest.mark.parametrize(
    ("r", "alpha", "a", "b"),
    [(0.66, 45.0, 0.05, 0.80), (0.25, 4.0, 0.8, 2.4)],  # a + b < 1 (retail-like), and > 1
)
def test_expected_orders_match_customers_simulated_from_the_model(r, alpha, a, b):
    summary, later = _simulate(4000, r, alpha, a, b, age=365.0, horizon=90.0)
    model = CustomerValueModel.fit(summary, priced=False)
    expected = model.expected_orders(summary, 90)
    assert np.isfinite(expected).all() and (expected >= 0).all()
    assert expected.sum() == pytest.approx(later.sum(), rel=0.15)
    quiet = model.no_order_probability(summary, 90)
    assert ((quiet >= 0) & (quiet <= 1)).all()
    assert quiet.sum() == pytest.approx((later == 0).sum(), rel=0.1)
    # Where lifetimes' own evaluation is defined, it is the same number.
    theirs = model.purchases.conditional_expected_number_of_purchases_up_to_time(
        90, summary.frequency, summary.recency, summary.age
    )
    defined = np.isfinite(theirs)
    assert np.allclose(expected[defined], np.asarray(theirs)[defined], rtol=1e-6)


def test_the_summary_is_the_order_log_before_the_cutoff():
    """Orders, first and last order dates and spend read back from the warehouse the
    synthetic generator filled, against the same figures from its orders table."""
    import tempfile
    from pathlib import Path

    import pandas as pd
    from segassist.training.features import compute_features, default_window
    from segassist.warehouse.db import migrate, open_engine
    from segassist.warehouse.importers.writer import write_batches
    from segassist.warehouse.synthetic import generate

    engine = open_engine(f"sqlite:///{Path(tempfile.mkdtemp()) / 'w.db'}")
    migrate(engine)
    write_batches(engine, generate(400, seed=3), sha256="clv")
    window = default_window(engine, 90)
    features = compute_features(engine, window)
    summary = Summary.of(features.features, features.feature_names)
    orders = pd.read_sql(
        "SELECT o.customer_id, o.ordered_at, SUM(l.quantity * l.unit_price) AS spend "
        "FROM orders o JOIN order_lines l ON l.order_id = o.order_id "
        "WHERE NOT o.is_cancelled AND NOT l.is_return GROUP BY o.order_id",
        engine,
        parse_dates=["ordered_at"],
    )
    orders = orders[orders["ordered_at"] < window.cutoff]
    per = orders.groupby("customer_id").agg(
        n=("spend", "size"), first=("ordered_at", "min"), last=("ordered_at", "max")
    )
    per = per.reindex(features.customer_ids)
    day = pd.Timedelta(days=1)
    assert np.array_equal(summary.frequency, per["n"].to_numpy() - 1)
    assert np.allclose(summary.recency, (per["last"] - per["first"]) / day, atol=1e-3)
    assert np.allclose(summary.age, (window.cutoff - per["first"]) / day, atol=1e-3)
    assert (summary.recency <= summary.age).all()
