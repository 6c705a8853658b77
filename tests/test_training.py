"""The segmenter: SQL features checked by hand, training, versions, scoring."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from conftest import scalar
from segassist.training.dataset import build_data, split_by_customer
from segassist.training.features import Window, compute_features, default_window
from segassist.training.pipeline import score_customers, train_model
from segassist.training.registry import load_artefact
from segassist.training.segmenter import FusionSegmenter
from segassist.warehouse.importers import import_files
from segassist.warehouse.importers.writer import write_batches
from segassist.warehouse.queries import serving_version, synthetic_segments
from segassist.warehouse.synthetic import generate

SALES = """customer,order,product,category,qty,price,when
a,o1,p1,mugs,2,10.0,2024-01-01 10:00
a,o2,p2,plates,1,20.0,2024-01-11 10:00
a,o3,p1,mugs,1,10.0,2024-01-31 10:00
a,Co3,p1,mugs,-1,10.0,2024-02-01 10:00
a,o4,p1,mugs,3,10.0,2024-03-05 10:00
b,o5,p2,plates,1,20.0,2023-12-01 09:00
c,o6,p3,mugs,5,4.0,2024-02-20 12:00
c,o7,p3,mugs,1,4.0,2024-03-10 12:00
"""
MAPPING = """
source = "hand"
cancelled_order_prefix = "C"
[columns]
customer = "customer"
order = "order"
product = "product"
category = "category"
quantity = "qty"
price = "price"
time = "when"
"""
WINDOW = Window(datetime(2024, 3, 1), horizon_days=30)


@pytest.fixture
def hand_made(engine, tmp_path):
    (tmp_path / "sales.csv").write_text(SALES)
    (tmp_path / "map.toml").write_text(MAPPING)
    import_files(engine, [tmp_path / "sales.csv"], tmp_path / "map.toml")
    return engine


def test_features_match_a_hand_computation(hand_made):
    features = compute_features(hand_made, WINDOW)
    frame = features.frame
    assert frame.index.tolist() == ["a", "b", "c"]  # active before the cutoff
    a = frame.loc["a"]
    # a: orders o1 (Jan 1), o2 (Jan 11), o3 (Jan 31) before the cutoff; Co3 is a cancellation.
    assert a["n_orders"] == 3
    assert a["recency_days"] == pytest.approx(29 + 14 / 24)  # Jan 31 10:00 -> Mar 1 00:00
    assert a["tenure_days"] == pytest.approx(59 + 14 / 24)
    assert a["monetary"] == pytest.approx(2 * 10 + 20 + 10)
    assert a["gap_mean_days"] == pytest.approx(15.0)  # gaps of 10 and 20 days
    assert a["gap_std_days"] == pytest.approx(5.0)
    assert a["cancelled_orders"] == 1 and a["return_lines"] == 1
    assert a["distinct_products"] == 2
    mugs = features.categories.index("mugs")
    assert a[f"cat_share_{mugs}"] == pytest.approx(3 / 4)  # 3 of a's 4 lines are mugs
    # Labels: a buys o4 (3 x 10) in the horizon; b buys nothing (churned).
    assert (a["churned"], a["future_value"]) == (0.0, pytest.approx(30.0))
    assert (frame.loc["b", "churned"], frame.loc["b", "future_value"]) == (1.0, 0.0)
    assert frame.loc["c", "future_value"] == pytest.approx(4.0)
    assert features.value_unit == "spend"
    # Cross-check one figure against plain SQL.
    assert a["n_orders"] == scalar(
        hand_made,
        "SELECT COUNT(*) FROM orders WHERE customer_id = 'a' AND NOT is_cancelled "
        "AND ordered_at < '2024-03-01'",
    )


def test_ages_are_capped_at_the_history_a_model_learnt_from(hand_made):
    """Scored with a 35-day cap (a model trained on 35 days of history): tenure and
    recency stop at 35, counts and everything else are the uncapped ones."""
    capped = compute_features(hand_made, Window(datetime(2024, 3, 1), 30, max_age_days=35)).frame
    whole = compute_features(hand_made, WINDOW).frame
    assert capped.loc["a", "tenure_days"] == 35  # first order Jan 1: 59.6 days uncapped
    assert capped.loc["a", "recency_days"] == pytest.approx(29 + 14 / 24)  # under the cap
    assert (capped.loc["b", "tenure_days"], capped.loc["b", "recency_days"]) == (35, 35)
    assert capped.loc["c", "tenure_days"] == pytest.approx(9 + 12 / 24)
    ages = ["tenure_days", "recency_days"]
    rest = [c for c in whole.columns if c not in ages]
    assert capped[rest].equals(whole[rest])


@pytest.fixture(scope="module")
def synthetic_data():
    """Synthetic customers in a SQLite warehouse, behaviour only (no index)."""
    import tempfile
    from pathlib import Path

    from segassist.warehouse.db import migrate, open_engine

    folder = Path(tempfile.mkdtemp(prefix="segassist-train-"))
    engine = open_engine(f"sqlite:///{folder / 'w.db'}")
    migrate(engine)
    write_batches(engine, generate(1500, seed=5), sha256="synthetic")
    return engine, folder


def _fast(**params) -> dict:
    return {"max_epochs": 40, "patience": 5, "n_segments": 5, **params}


def test_training_is_repeatable_and_stops_early(synthetic_data):
    engine, _ = synthetic_data

    data = build_data(compute_features(engine, default_window(engine)))
    splits = split_by_customer(data, seed=0)
    first = FusionSegmenter(random_state=3, **_fast()).fit(splits.train, splits.validation)
    again = FusionSegmenter(random_state=3, **_fast()).fit(splits.train, splits.validation)
    np.testing.assert_allclose(first.predict_proba(splits.test), again.predict_proba(splits.test))
    losses = [log.val_loss for log in first.history_]
    assert first.best_val_loss_ == pytest.approx(min(losses))
    probabilities = first.predict_proba(splits.test)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert probabilities.shape[1] == 5
    with pytest.raises(RuntimeError, match="Call 'fit' first"):
        FusionSegmenter().predict(splits.test)


def test_versions_promotion_and_scoring(synthetic_data, tmp_path):
    engine, _ = synthetic_data
    models = tmp_path / "models"
    first = train_model(engine, models, params=_fast())
    assert first.promoted and serving_version(engine).version == first.version
    assert (first.path / "model.pt").is_file() and (first.path / "metadata.json").is_file()

    # One epoch of training cannot beat the serving model on validation: it stays a candidate.
    worse = train_model(engine, models, params=_fast(max_epochs=1))
    assert not worse.promoted and "kept" in worse.reason
    assert serving_version(engine).version == first.version

    # A failed run leaves everything as it was.
    with pytest.raises(ValueError):
        train_model(engine, models, params=_fast(use_behaviour=False, use_text=False))
    assert serving_version(engine).version == first.version

    # A customer whose only order was cancelled cannot be described: counted, with why.
    (tmp_path / "cancelled.csv").write_text("customer,order,when\nzz-only,Cx1,2024-06-01\n")
    (tmp_path / "cancelled.toml").write_text(
        'source = "shop"\ncancelled_order_prefix = "C"\n[columns]\ncustomer = "customer"\n'
        'order = "order"\ntime = "when"\n'
    )
    import_files(engine, [tmp_path / "cancelled.csv"], tmp_path / "cancelled.toml")

    result = score_customers(engine)
    assert result.version == first.version
    assert result.customers == scalar(
        engine, "SELECT COUNT(DISTINCT customer_id) FROM orders WHERE NOT is_cancelled"
    )
    assert result.skipped == {"with only cancelled orders": 1}
    assert "1 with only cancelled orders" in result.skipped_line()
    # Three years of steady data: the season ahead was seen a year before and buys like the
    # label window (within 5%), so no scaling and no caveat. Scored
    # 200 days into the data, it was not, and expected spend says what it assumes.
    from datetime import timedelta

    from segassist.training.features import Window, activity_span
    from segassist.training.registry import load_serving
    from segassist.training.season import season_ahead

    assert result.season is None
    start, _ = activity_span(engine)
    metadata = load_serving(engine).metadata
    early = season_ahead(engine, metadata, Window(start + timedelta(days=200), 90))
    assert not early.known and early.factor == 1.0
    assert (
        f"the data starts {start:%Y-%m-%d}" in early.sentence and "next 90 days" in early.sentence
    )
    assert scalar(engine, "SELECT COUNT(*) FROM customer_scores") == result.customers
    assert sum(result.segment_sizes.values()) == result.customers
    # What an answer may take from the schema listing: its row counts and the segments,
    # not its column meanings (agent.guards).
    from segassist.tools.schema_text import describe_data_text, described_figures

    figures = described_figures(describe_data_text(engine))
    assert "Stars, 1 (worst)" not in figures and "Segments (model" in figures
    assert f"customer_scores: {result.customers:,} rows" in figures
    assert all(f" {size:,} customers (" in figures for size in result.segment_sizes.values())
    assert 0 <= scalar(engine, "SELECT MIN(churn_risk) FROM customer_scores") <= 1

    # Value is money in the horizon, calibrated: on the held-out test customers the
    # predicted total is within 15% of what they spent.
    assert 0.85 <= first.metrics["test"]["value_sum_ratio"] <= 1.15

    loaded = load_artefact(first.path)
    assert loaded.segmenter.n_segments_ == 5
    assert loaded.metadata["value_unit"] == "spend"


def test_a_model_on_another_embedder_replaces_the_serving_one(sqlite_engine, tmp_path):
    """Switching the index to another embedder (here 384-d minilm to 256-d fast) must not
    make training compare the old model on vectors it cannot read."""
    from segassist.retrieval.store import open_client, open_index
    from segassist.retrieval.sync import sync_index

    write_batches(sqlite_engine, generate(300, seed=2), sha256="synthetic")
    models = tmp_path / "models"
    client = open_client(tmp_path / "chroma")
    minilm = open_index(client, "minilm", name="texts")
    sync_index(sqlite_engine, minilm)
    first = train_model(sqlite_engine, models, index=minilm, params=_fast())
    assert first.promoted
    fast = open_index(client, "fast", name="texts", rebuild=True)
    sync_index(sqlite_engine, fast)
    second = train_model(sqlite_engine, models, index=fast, params=_fast(max_epochs=2))
    assert second.promoted and "text vectors from fast, were from minilm" in second.reason
    assert score_customers(sqlite_engine, index=fast).version == second.version


def test_synthetic_segments_are_recovered(synthetic_data):
    from segassist.training.evaluate import evaluate

    engine, _ = synthetic_data
    from segassist.training.evaluate import text_verdict

    evaluation = evaluate(engine, n_segments=5)
    fused, rfm = evaluation.result("fusion"), evaluation.result("rfm")
    # Behaviour alone separates the five generated segments only in part (they overlap
    # in how often they buy); chance is 0. Measured 0.30 (fusion) vs 0.12 (RFM).
    assert fused.truth_ari > 0.25 and fused.truth_ari > rfm.truth_ari
    assert fused.churn_roc_auc > 0.8
    assert "no review text" in text_verdict(evaluation)
    # The CRM analyst's peer on the same test customers: it predicts, it does not segment.
    clv = evaluation.result("bg-nbd")
    assert clv.churn_roc_auc > 0.7 and clv.sizes == [] and clv.truth_ari is None
    assert np.isfinite(clv.value_pred).all() and 0.3 < clv.value_sum_ratio < 3
    assert 0.85 <= fused.value_sum_ratio <= 1.15  # calibrated in money

    # Bias check: segment make-up by country and language, with the largest gap named.
    country, language = evaluation.composition
    assert country.attribute == "country" and language.attribute == "language"
    shares = country.shares
    assert np.allclose(shares.drop(index="all").sum(axis=1), 1)
    if country.segment is not None:
        gap = abs(shares.loc[country.segment, country.value] - shares.loc["all", country.value])
        assert gap == pytest.approx(country.largest_gap)
        assert f"segment {country.segment}" in country.sentence()


def test_sensitive_attributes_are_never_features():
    from segassist.training.fairness import check_features

    check_features(["n_orders", "recency_days", "cat_share_language_learning", "avg_rating"])
    for feature in ("country", "customer_age", "gender_female", "review_language"):
        with pytest.raises(ValueError, match="sensitive attribute"):
            check_features(["n_orders", feature])


def test_profiles_and_explanations_are_true_of_the_data(synthetic_data, tmp_path):
    import json

    from segassist.training.explain import explain_membership, stored_segment
    from sqlalchemy import text

    engine, _ = synthetic_data
    trained = train_model(engine, tmp_path / "models", params=_fast())
    score_customers(engine)
    version = serving_version(engine).version
    assert version == trained.version or not trained.promoted

    with engine.connect() as conn:
        segments = conn.execute(
            text("SELECT segment_id, name, size, profile FROM segments WHERE model_version = :v"),
            {"v": version},
        ).all()
        sizes = dict(
            conn.execute(
                text(
                    "SELECT segment_id, COUNT(*) FROM customer_scores WHERE model_version = :v "
                    "GROUP BY segment_id"
                ),
                {"v": version},
            ).all()
        )
    names = [s.name for s in segments]
    assert len(set(names)) == len(names) and not any("(2)" in n for n in names)
    assert any(not n.startswith("Typical") for n in names), names  # the check below bites
    for seg in segments:
        profile = seg.profile if isinstance(seg.profile, dict) else json.loads(seg.profile)
        _name_is_true_of(seg.name, profile)
        assert seg.size == sizes.get(seg.segment_id, 0) > 0  # no empty segment is stored
        assert abs(profile["share"] - seg.size / sum(sizes.values())) < 1e-3
        if profile["top_products"]:
            top = profile["top_products"][0]
            units = scalar(
                engine,
                (
                    "SELECT SUM(l.quantity) FROM order_lines l "
                    "JOIN orders o ON o.order_id = l.order_id "
                    "JOIN customer_scores s ON s.customer_id = o.customer_id "
                    "WHERE s.model_version = :v AND s.segment_id = :s AND l.product_id = :p "
                    "AND (NOT o.is_cancelled OR l.quantity < 0)"  # net of cancellations
                ),
                v=version,
                s=seg.segment_id,
                p=top["product_id"],
            )
            assert units == top["units"]

    customer = scalar(engine, "SELECT MIN(customer_id) FROM customer_scores")
    facts = explain_membership(engine, customer)
    assert facts.segment_id == stored_segment(engine, customer, version)
    stored = scalar(
        engine,
        "SELECT probabilities FROM customer_scores WHERE customer_id = :c AND model_version = :v",
        c=customer,
        v=version,
    )
    stored = stored if isinstance(stored, list) else json.loads(stored)
    assert facts.probability == pytest.approx(stored[facts.segment_id], abs=1e-3)
    assert facts.runner_up_probability <= facts.probability
    n_orders = scalar(
        engine,
        "SELECT COUNT(*) FROM orders WHERE customer_id = :c AND NOT is_cancelled",
        c=customer,
    )
    for driver in facts.drivers + facts.churn_drivers:
        assert driver.effect > 0
        if "n_orders" in driver.customer_values:
            assert driver.customer_values["n_orders"] == n_orders
    if facts.drivers:
        group = facts.drivers[0]
        average = next(iter(group.segment_averages.values()))
        members = scalar(
            engine,
            "SELECT COUNT(*) FROM customer_scores WHERE segment_id = :s AND model_version = :v",
            s=facts.segment_id,
            v=version,
        )
        assert members > 0 and average == average  # a number, not NaN
    assert 0 <= facts.churn_risk <= 1

    # Percentiles are true of every customer's features at scoring time.
    from segassist.tools.writing import explanation_text
    from segassist.training.features import activity_span, among_reviewers

    window = Window(activity_span(engine)[1] + timedelta(seconds=1), 90)
    everyone = among_reviewers(compute_features(engine, window).frame)  # ratings: of reviewers
    assert facts.drivers and facts.drivers[0].percentiles
    for driver in facts.drivers:
        for feature, share in driver.percentiles.items():
            column = everyone[feature].dropna()
            value = driver.customer_values[feature]
            expected = 100 * ((column < value).mean() + (column == value).mean() / 2)
            assert share == pytest.approx(expected, abs=3), feature
    text, written_by = explanation_text(facts, None)
    assert written_by == "template" and "driver " not in text
    assert "Compared with all customers, this customer " in text and "% of customers" in text
    with pytest.raises(Exception, match="No customer with id"):
        explain_membership(engine, "no-such-customer")


def _name_is_true_of(name: str, profile: dict) -> None:
    """Every word of a segment's name stands for a trait its profile shows clearly and
    plainly (a 'recently active' segment is more recent than the typical customer)."""
    from segassist.training.profiles import (
        BUYERS,
        LEANING_MIN_Z,
        MOSTLY_SHARE,
        NAME_MIN_Z,
        NAME_PARTS,
        TYPICAL,
        WRITES_ABOUT,
        supported,
    )

    words = {part: key for key, part in NAME_PARTS.items()}
    name = name.split(" (segment")[0]
    name, _, theme = name.partition(WRITES_ABOUT)
    if theme:  # the word it writes about is one of the segment's own theme words
        assert theme.strip('"') in profile["themes"], (name, theme)
    least, parts = NAME_MIN_Z, name.lower().split(", ")
    if name.startswith(TYPICAL):  # no clear trait: milder ones, 'somewhat ...'
        least, mild = LEANING_MIN_Z, name.removeprefix(TYPICAL).removeprefix(", somewhat ")
        parts = mild.split(" and ") if mild else []
    for part in parts:
        if part not in words and part.endswith(BUYERS):  # the category it mostly buys
            top = profile["top_categories"][0]
            assert top["category"].replace("_", " ").lower() + BUYERS == part, (name, top)
            assert top["share"] >= MOSTLY_SHARE, (name, top)
            continue
        feature, sign = words[part]
        z = profile["zscores"][feature]
        assert z * sign >= least, (name, part, z)
        mean = profile["feature_means"][feature]
        assert supported(feature, sign, mean, profile["population_medians"][feature]), name


def test_small_segments_are_not_made():
    """A cluster of 1% of the customers is not a segment of its own (min_share 2%), unless
    asked (min_share 0)."""
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=np.float32)
    sizes = [400, 400, 392, 8]
    z = np.concatenate(
        [c + rng.normal(0, 0.5, (n, 2)) for c, n in zip(centres, sizes, strict=True)]
    )
    z = z.astype(np.float32)
    for min_share, expected in ((0.02, 3), (0.0, 4)):
        segmenter = FusionSegmenter(n_segments=4, min_share=min_share)
        segmenter._place_prototypes(z)
        assert segmenter.n_segments_ == expected
        shares = np.bincount(segmenter.membership(z).argmax(1)) / len(z)
        assert shares.min() >= min_share
    auto = FusionSegmenter(n_segments="auto")
    auto._place_prototypes(z)
    assert (np.bincount(auto.membership(z).argmax(1)) / len(z)).min() >= 0.02


def test_the_text_width_comes_from_the_data_and_a_mismatch_says_why(synthetic_data):
    """Nothing assumes 384-d text: a segmenter fits on whatever width the embedder gives,
    and scoring with vectors of another width names the cause."""
    from dataclasses import replace

    from segassist.core.errors import UserInputError

    engine, _ = synthetic_data
    data = build_data(compute_features(engine, default_window(engine)))
    rng = np.random.default_rng(0)
    narrow = replace(
        data, text=rng.normal(size=(len(data), 16)).astype(np.float32), review_vectors=None
    )
    model = FusionSegmenter(**_fast(max_epochs=3)).fit(narrow, narrow)
    assert model.predict(narrow).shape == (len(data),)
    with pytest.raises(UserInputError, match=r"dimension 16.*gives 384"):
        model.predict(data)


def test_drift_is_measured_against_training_and_names_what_moved(synthetic_data, tmp_path, capsys):
    import json

    import pandas as pd
    from segassist.training.drift import compare, psi, reference
    from segassist.training.pipeline import drift_since_training

    from segassist.cli import main

    rng = np.random.default_rng(0)
    same = rng.lognormal(3, 1, 20_000)
    kept = reference(pd.DataFrame({"spend": same[:10_000]}))
    assert psi(kept["spend"], same[10_000:]) < 0.02  # the same distribution: stable
    assert psi(kept["spend"], same[10_000:] * 3) > 0.25  # spending tripled: large

    engine, folder = synthetic_data
    trained = train_model(engine, tmp_path / "models", params=_fast())
    report = drift_since_training(engine)
    assert not report.missing_reference and len(report.features) >= 20
    assert report.recommendation()

    metadata = json.loads((trained.path / "metadata.json").read_text())
    now = compute_features(engine, Window(datetime(2025, 1, 1), 90)).frame
    names = [f.feature for f in report.features]
    shifted = now[names].assign(monetary=now["monetary"] * 5)
    moved = compare(metadata["feature_reference"], shifted, "v", "then", "now")
    assert moved.drifted[0].feature == "monetary"
    assert "monetary" in moved.warning() and moved.recommendation().startswith("Retrain")

    assert main(["--db", f"sqlite:///{folder / 'w.db'}", "drift"]) == 0
    out = capsys.readouterr().out
    assert "PSI" in out and report.recommendation() in out


def test_scoring_stays_in_the_range_training_saw(synthetic_data, tmp_path):
    """Trained on the history up to its cutoff, scored at the end of the data: tenure
    and recency stay within the history trained on, the category columns are the
    model's, and a feature far outside the training range is held near its edge."""
    from dataclasses import replace

    from segassist.training.features import activity_span, features_now

    engine, _ = synthetic_data
    trained = train_model(engine, tmp_path / "models", params=_fast())
    artefact = load_artefact(trained.path)
    window = artefact.metadata["window"]
    first, last = activity_span(engine)
    cutoff = datetime.fromisoformat(window["cutoff"])
    assert window["max_age_days"] == int(np.ceil((cutoff - first).total_seconds() / 86_400))

    now = features_now(engine, artefact.metadata)
    assert now.window.cutoff > last and now.categories == artefact.metadata["categories"]
    uncapped = compute_features(engine, replace(now.window, max_age_days=None))
    assert now.frame["tenure_days"].max() <= window["max_age_days"]
    assert uncapped.frame["tenure_days"].max() > window["max_age_days"]  # what was avoided
    assert now.frame.index.equals(uncapped.frame.index)  # nobody dropped

    segmenter = artefact.segmenter
    column = now.feature_names.index("tenure_days")
    far = now.features[:5].copy()
    far[:, column] = 1e6  # tenure of 2,700 years
    high = segmenter.feature_range_[1]
    assert (segmenter.scale(far)[:, column] <= high[column] + 1e-6).all()
    assert high[column] < 10  # a z-score, not thousands


def test_segments_too_small_at_scoring_are_closed():
    """Customers scored long after training can leave a segment nearly empty (6 of 1,429
    on the Amazon reviews): it is closed and they go to their next closest segment."""
    from segassist.training.pipeline import _without_small_segments

    rng = np.random.default_rng(1)
    probabilities = rng.dirichlet([1, 1, 1, 1], size=500)
    probabilities[:, 3] *= 0.01  # almost nobody's closest
    probabilities[0] = [0.1, 0.2, 0.0, 0.7]  # except this one, whose next best is 1
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    closed, merged = _without_small_segments(probabilities, 0.02)
    assert list(merged) == [3] and merged[3] >= 1
    assert closed.argmax(axis=1)[0] == 1
    assert np.allclose(closed.sum(axis=1), 1) and (closed[:, 3] == 0).all()
    shares = np.bincount(closed.argmax(axis=1), minlength=4) / 500
    assert shares[:3].min() >= 0.02
    unchanged, none = _without_small_segments(probabilities, 0.0)
    assert none == {} and np.allclose(unchanged, probabilities)


def test_segments_only_both_sources_show_are_found_and_named(sqlite_engine, tmp_path):
    """Two ways of buying x two review topics: K is found (4), the scored segments match
    the truth, and each name says what its segment writes about, truthfully."""
    import json

    from segassist.retrieval.store import open_client, open_index
    from segassist.retrieval.sync import sync_index
    from sklearn.metrics import adjusted_rand_score
    from sqlalchemy import text

    write_batches(sqlite_engine, generate(1500, seed=6, mode="combination"), sha256="combo")
    index = open_index(open_client(tmp_path / "chroma"), "minilm", name="texts")
    sync_index(sqlite_engine, index)
    trained = train_model(
        sqlite_engine, tmp_path / "models", index=index, params=_fast(n_segments="auto")
    )
    assert trained.metrics["source_groups"] == {"behaviour": 2, "text": 2}
    assert trained.metrics["n_segments"] == 4
    score_customers(sqlite_engine, index=index)
    with sqlite_engine.connect() as conn:
        scored = conn.execute(text("SELECT customer_id, segment_id FROM customer_scores")).all()
        segments = conn.execute(text("SELECT name, profile FROM segments")).all()
    customers, found = zip(*scored, strict=True)
    truth = synthetic_segments(sqlite_engine, list(customers))
    assert -1 not in truth and adjusted_rand_score(truth, found) > 0.8
    from segassist.training.profiles import WRITES_ABOUT

    for name, profile in segments:
        assert WRITES_ABOUT in name, name
        _name_is_true_of(name, profile if isinstance(profile, dict) else json.loads(profile))


def test_evaluate_with_text_compares_the_fusion_with_concatenation(sqlite_engine, tmp_path):
    """On customers whose segments only both sources separate, `evaluate` runs every
    method including k-means on the concatenated sources, and says which wins."""
    from segassist.retrieval.store import open_client, open_index
    from segassist.retrieval.sync import sync_index
    from segassist.training.evaluate import evaluate, text_verdict, write_report

    write_batches(sqlite_engine, generate(700, seed=4, mode="combination"), sha256="combo")
    index = open_index(open_client(tmp_path / "chroma"), "minilm", name="texts")
    sync_index(sqlite_engine, index)
    evaluation = evaluate(sqlite_engine, index=index, n_segments=4)
    names = [r.name for r in evaluation.results]
    assert {"concat-kmeans", "kmeans-text", "fusion-text", "fusion-behaviour"} <= set(names)
    naive = evaluation.result("concat-kmeans")
    assert naive.truth_ari is not None and len(naive.sizes) == 4
    # Each source alone sees two of the four groups: text k-means finds the topics.
    assert 0.3 < evaluation.result("kmeans-text").truth_ari < 0.75
    verdict = text_verdict(evaluation)
    assert "k-means on the concatenated sources (ARI" in verdict
    report = write_report(evaluation, tmp_path / "report", "combination").read_text()
    assert "| concat-kmeans |" in report and "| bg-nbd |" in report
    assert "## Value in money" in report and "fusion predicted" in report
    assert (tmp_path / "report" / "value_deciles.png").stat().st_size > 10_000
    assert "Where the segments come from: behaviour: " in report


def test_segments_only_the_text_carries_are_recovered(sqlite_engine, tmp_path):
    """Five review topics, behaviour alike: the text view widens to its topic directions
    (24 components), K is found, the text is measured in the segments' own units, and
    the test customers' segments match the truth."""
    from segassist.retrieval.store import open_client, open_index
    from segassist.retrieval.sync import sync_index
    from segassist.training.views import TEXT_VIEW_DIMS
    from sklearn.metrics import adjusted_rand_score

    write_batches(sqlite_engine, generate(3000, seed=3, mode="text"), sha256="text")
    index = open_index(open_client(tmp_path / "chroma"), "minilm", name="texts")
    sync_index(sqlite_engine, index)
    data = build_data(compute_features(sqlite_engine, default_window(sqlite_engine)), index)
    splits = split_by_customer(data, seed=0)
    model = FusionSegmenter(**_fast(n_segments="auto")).fit(splits.train, splits.validation)
    assert model.source_groups_["text"] == 5 and model.n_segments_ == 5
    assert model.space_.text.projection.shape[1] == TEXT_VIEW_DIMS
    truth = synthetic_segments(sqlite_engine, splits.test.customer_ids)
    # Measured 0.906 with the text in the segments' own units (0.889 without; 0.875 with
    # 8 text components).
    assert adjusted_rand_score(truth, model.predict(splits.test)) > 0.89


@pytest.mark.parametrize("mode", ["behaviour", "default"])
def test_the_number_of_behaviour_groups_is_found(sqlite_engine, mode):
    """Five ways of buying (seed 0's draw): the largest k whose groups are all apart by
    a valley found 4 in the behaviour mode (two groups touch: 0.35 apart at k = 5) and
    6 in the default mode (non-reviewers' rating of 0 is a lump of one value). The most
    reproducible k among those at least shallowly apart is 5 in both."""
    from sklearn.metrics import adjusted_rand_score

    write_batches(sqlite_engine, generate(3000, seed=0, mode=mode), sha256=mode)
    data = build_data(compute_features(sqlite_engine, default_window(sqlite_engine)))
    splits = split_by_customer(data, seed=0)
    model = FusionSegmenter(**_fast(n_segments="auto")).fit(splits.train, splits.validation)
    assert model.source_groups_["behaviour"] == 5 and model.n_segments_ == 5
    truth = synthetic_segments(sqlite_engine, splits.test.customer_ids)
    assert adjusted_rand_score(truth, model.predict(splits.test)) > 0.85


def test_text_measured_in_segment_units_separates_long_topics():
    """Two review topics apart along a direction oblique to their long spread: the
    nearest of the true topic centres in the text code's plain units mislabels many
    customers (its boundary runs across the spread); in the segments' own units (pooled
    within-segment covariance whitened) it separates them. The text code keeps its mean
    squared norm, the behaviour code is untouched, and the new space applied to raw
    vectors gives z's text columns @ M."""
    from segassist.training.views import SegmentSpace
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(0)
    n = 2000
    truth = rng.integers(0, 2, n)
    text = rng.normal(scale=[0.3, 2.0] + [0.15] * 14, size=(n, 16))
    text[:, :2] += np.where(truth == 1, 0.5, -0.5)[:, None]
    behaviour, has_text = rng.normal(size=(n, 4)), np.ones(n)
    space = SegmentSpace.fit(behaviour, text, has_text, dims=4, text_dims=8)
    z = space(behaviour, text, has_text)
    columns = space.text_columns(has_text)

    def nearest_centre(z):
        centres = np.stack([z[truth == c][:, columns].mean(axis=0) for c in (0, 1)])
        return ((z[:, None, columns] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)

    unit, whiten = space.in_segment_units(z, truth, has_text)
    moved = unit(behaviour, text, has_text)
    assert np.allclose(moved[:, columns], z[:, columns] @ whiten, atol=1e-4)
    assert np.allclose(moved[:, : columns.start], z[:, : columns.start])
    norm = (z[:, columns] ** 2).sum(axis=1).mean()
    assert (moved[:, columns] ** 2).sum(axis=1).mean() == pytest.approx(norm, rel=1e-3)
    before = adjusted_rand_score(truth, nearest_centre(z))
    after = adjusted_rand_score(truth, nearest_centre(moved))
    # Measured 0.14 and 0.83 (the Bayes rule's error here, 4.6%, gives about 0.83).
    assert before < 0.3 and after > 0.8


def test_text_without_groups_keeps_a_narrow_text_view(synthetic_data):
    """Text vectors with no groups in them (here: random directions) get as many
    components as behaviour: extra near-empty directions only made k-means unstable."""
    from segassist.training.views import TEXT_VIEW_DIMS, VIEW_DIMS

    engine, _ = synthetic_data
    data = build_data(compute_features(engine, default_window(engine)))
    noise = np.random.default_rng(0).normal(size=data.text.shape).astype(np.float32)
    data.text[:] = noise / np.linalg.norm(noise, axis=1, keepdims=True)
    data.has_text[:] = 1.0
    splits = split_by_customer(data, seed=0)
    model = FusionSegmenter(**_fast(max_epochs=5)).fit(splits.train, splits.validation)
    assert TEXT_VIEW_DIMS > VIEW_DIMS
    assert model.source_groups_["text"] == 1
    assert model.space_.text.projection.shape[1] == VIEW_DIMS


def test_names_without_a_clear_trait_still_tell_segments_apart():
    """Two segments with no trait at |z| >= 0.5 (Amazon: "Typical customers" and
    "Typical customers (segment 2)") are named by their milder traits, then by what they
    write; the number is the last resort."""
    import pandas as pd
    from segassist.training.profiles import name_parts, segment_name

    features = ["review_length", "rating_mean", "tenure_days"]
    medians = pd.Series([200.0, 4.3, 600.0], index=features)
    brief = pd.Series([-0.45, 0.38, -0.1], index=features)
    detailed = pd.Series([0.45, -0.2, 0.25], index=features)
    taken: set[str] = set()
    names = []
    for z, means, word in (
        (brief, pd.Series([150.0, 4.6, 580.0], index=features), "great"),
        (detailed, pd.Series([280.0, 4.1, 640.0], index=features), "pedal"),
    ):
        assert name_parts(z, means, medians) == []  # nothing clear
        leaning = name_parts(z, means, medians, min_z=0.2)
        names.append(segment_name([], taken, len(names), leaning=leaning, word=word))
        taken.add(names[-1])
    assert names == [
        "Typical customers, somewhat brief reviewers",
        "Typical customers, somewhat detailed reviewers",
    ]
    # A second mild trait where the first is taken.
    second = segment_name([], taken, 2, leaning=["brief reviewers", "happy reviewers"])
    assert second == "Typical customers, somewhat brief reviewers and happy reviewers"
    # The same mild traits twice: the segment's own word, then its number.
    again = segment_name([], taken, 2, leaning=["brief reviewers"], word="capo")
    assert again == 'Typical customers, somewhat brief reviewers; writes about "capo"'
    last = segment_name([], taken | {again}, 3, leaning=["brief reviewers"], word="capo")
    assert last == f"{again} (segment 3)"
    assert segment_name([], set(), 0) == "Typical customers"


def test_a_rating_filled_in_for_non_reviewers_names_nothing(sqlite_engine):
    """Customers without reviews have rating_mean 0 filled in for the model. Described to
    people, that 0 is not a rating: a segment of non-reviewers is not "unhappy
    reviewers", its z-score and means leave the fill out, and percentiles of ratings are
    among reviewers."""
    import dataclasses

    import pandas as pd
    from segassist.training.profiles import build_profiles

    rng = np.random.default_rng(0)
    n = 300
    reviewers = np.arange(n) < 150
    features = pd.DataFrame(
        {
            "n_orders": rng.integers(1, 5, n).astype(float),
            "n_reviews": np.where(reviewers, rng.integers(1, 4, n), 0).astype(float),
            "rating_mean": np.where(reviewers, rng.uniform(4.0, 5.0, n), 0.0),
            "low_rating_share": np.zeros(n),
            "review_length": np.where(reviewers, rng.uniform(100, 300, n), 0.0),
        }
    )
    segments = (~reviewers).astype(int)  # 0: happy reviewers, 1: no reviews at all
    traits = {"churn_risk": np.full(n, 0.5), "value_estimate": np.ones(n)}
    built = build_profiles(sqlite_engine, "v1", features, segments, traits)
    quiet = built[1]
    assert "reviewers" not in quiet.name, quiet.name  # was "Unhappy reviewers, ..."
    assert quiet.profile.zscores["rating_mean"] == 0
    assert "rating_mean" not in quiet.profile.feature_means
    assert built[0].profile.feature_means["rating_mean"] >= 4.0
    assert min(quiet.profile.population_quantiles["rating_mean"]) >= 4.0
    for segment in built.values():
        _name_is_true_of(segment.name, dataclasses.asdict(segment.profile))


def test_a_segment_that_buys_mostly_one_category_is_named_by_it(sqlite_engine):
    """On Olist a segment bought 99% bed_bath_table (category share z +3.0) and was
    "Typical customers": category shares had no word. A segment whose units are mostly
    one category, at least twice that category's share overall, is named by it first;
    one that buys like everyone is not."""
    import dataclasses

    import pandas as pd
    from segassist.training.profiles import build_profiles
    from segassist.warehouse.importers.writer import write_batches
    from segassist.warehouse.synthetic import generate
    from sqlalchemy import text

    write_batches(sqlite_engine, generate(200, seed=2), sha256="mostly")
    with sqlite_engine.connect() as conn:
        bought = pd.DataFrame(
            conn.execute(
                text(
                    "SELECT o.customer_id, p.category, SUM(l.quantity) AS units FROM orders o "
                    "JOIN order_lines l ON l.order_id = o.order_id JOIN products p "
                    "ON p.product_id = l.product_id WHERE NOT o.is_cancelled "
                    "GROUP BY o.customer_id, p.category"
                )
            ).all(),
            columns=["customer_id", "category", "units"],
        )
    # Segment 1: customers with at least 70% of their units in one category (the one with
    # most such customers); 0: the rest.
    shares = bought.pivot_table("units", "customer_id", "category", "sum", fill_value=0)
    shares = shares.div(shares.sum(axis=1), axis=0)
    common = (shares >= 0.7).sum().idxmax()
    customers = shares.index.to_numpy()
    segments = (shares[common] >= 0.7).to_numpy().astype(int)
    assert 10 <= segments.sum() <= len(segments) - 10
    now = datetime(2026, 1, 1)
    with sqlite_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO model_versions (version, status, created_at, config, metrics, "
                "data_fingerprint) VALUES ('v1', 'serving', :now, '{}', '{}', 'x')"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO customer_scores (customer_id, model_version, segment_id, "
                "probabilities, churn_risk, value_estimate, scored_at) VALUES (:c, 'v1', :s, "
                "'[]', 0.5, 1.0, :now)"
            ),
            [{"c": c, "s": int(s), "now": now} for c, s in zip(customers, segments, strict=True)],
        )
    features = pd.DataFrame({"n_orders": np.ones(len(customers))})
    traits = {"churn_risk": np.full(len(customers), 0.5), "value_estimate": np.ones(len(customers))}
    built = build_profiles(sqlite_engine, "v1", features, segments, traits)
    assert built[1].name.lower().startswith(common.replace("_", " ").lower() + " buyers")
    assert "buyers" not in built[0].name, built[0].name
    for segment in built.values():
        _name_is_true_of(segment.name, dataclasses.asdict(segment.profile))
