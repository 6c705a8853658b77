"""Expected spend follows the season ahead where the data holds the same days a year
earlier: trained on a summer label window and scored before a busy quarter, the total
tracks what customers then spent; without the scaling it would be a fraction of it."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from segassist.training.features import default_window
from segassist.training.pipeline import score_customers, train_model
from segassist.training.season import season_ahead
from segassist.warehouse.db import migrate, open_engine
from segassist.warehouse.importers import import_files
from sqlalchemy import text

START, CUT = datetime(2022, 1, 1), datetime(2023, 10, 1)
BUSY = 2.5  # October to December buy this many times as often as the rest of the year


def _seasonal_log(seed: int, customers: int = 500) -> pd.DataFrame:
    """Orders of customers who buy at their own daily rate, more in the last quarter, and
    stop for good at their own date (a third of them before the data ends)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(START, CUT + timedelta(days=90), freq="D", inclusive="left")
    busy = np.where(days.month >= 10, BUSY, 1.0)
    rows = []
    for c in range(customers):
        rate = rng.gamma(2.0, 0.012)
        joined = rng.integers(0, 300)
        stops = rng.integers(joined + 30, len(days) * 1.5)
        bought = rng.random(len(days)) < rate * busy
        bought[:joined] = False
        bought[stops:] = False
        basket = rng.lognormal(3.0, 0.6)
        for day in np.flatnonzero(bought):
            amount = round(float(basket * rng.lognormal(0.0, 0.3)), 2)
            rows.append((f"c{c}", f"o{len(rows)}", days[day] + timedelta(hours=12), amount))
    return pd.DataFrame(rows, columns=["customer", "order", "when", "amount"])


def test_expected_spend_follows_the_season_a_year_earlier(tmp_path):
    log = _seasonal_log(seed=0)
    before, after = log[log["when"] < CUT], log[log["when"] >= CUT]
    before.to_csv(tmp_path / "orders.csv", index=False)
    (tmp_path / "orders.toml").write_text(
        'source = "shop"\n[columns]\ncustomer = "customer"\norder = "order"\n'
        'time = "when"\namount = "amount"\n'
    )
    engine = open_engine(f"sqlite:///{tmp_path / 'w.db'}")
    migrate(engine)
    import_files(engine, [tmp_path / "orders.csv"], tmp_path / "orders.toml")

    params = {"max_epochs": 60, "patience": 8, "n_segments": 3}
    train_model(engine, tmp_path / "models", window=default_window(engine, 90), params=params)
    result = score_customers(engine)
    assert result.season.startswith("Expected spend scaled by ")

    with engine.connect() as conn:
        scores = dict(
            conn.execute(text("SELECT customer_id, value_estimate FROM customer_scores")).all()
        )
    actual = after[after["when"] < CUT + timedelta(days=90)].groupby("customer")["amount"].sum()
    predicted = sum(scores.values())
    spent = float(actual.reindex(list(scores)).fillna(0.0).sum())
    # The factor, from the same days a year earlier, is about the busy quarter's ratio.
    factor = _factor(engine)
    assert 1.8 < factor < 3.3, factor
    scaled, unscaled = predicted / spent, predicted / spent / factor
    assert 0.75 <= scaled <= 1.3, (scaled, unscaled)
    assert unscaled < 0.6  # what the label window's level alone would have said
    # An explanation states the same expected spend as the score.
    from segassist.training.explain import explain_membership

    customer = max(scores, key=scores.get)
    explained = explain_membership(engine, customer)
    assert explained.value_estimate == round(scores[customer], 2)


def _factor(engine) -> float:
    from segassist.training.features import features_now
    from segassist.training.registry import load_serving

    artefact = load_serving(engine)
    features = features_now(engine, artefact.metadata)
    season = season_ahead(engine, artefact.metadata, features.window)
    assert season.known
    return season.factor
