"""The three public data sets, imported for real and checked against the raw files.

Expected figures are computed here straight from the raw files (json/csv/pandas),
not from segassist's code, so the importers are checked independently.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC, datetime

import pandas as pd
import pytest
from conftest import AMAZON, OLIST, ONLINE_RETAIL, require_data, scalar
from segassist.warehouse.importers import import_dataset


@pytest.fixture(scope="module")
def amazon_raw() -> list[dict]:
    with gzip.open(require_data(AMAZON), "rt") as handle:
        return [json.loads(line) for line in handle]


def test_amazon_matches_raw_file(engine, amazon_raw):
    result = import_dataset(engine, "amazon", [AMAZON])
    assert result.rows_written["reviews"] == len(amazon_raw)

    assert scalar(engine, "SELECT COUNT(*) FROM reviews") == len(amazon_raw)
    reviewers = Counter(r["reviewerID"] for r in amazon_raw)
    assert scalar(engine, "SELECT COUNT(DISTINCT customer_id) FROM reviews") == len(reviewers)
    assert scalar(engine, "SELECT COUNT(*) FROM customers") == len(reviewers)
    mean = sum(r["overall"] for r in amazon_raw) / len(amazon_raw)
    assert scalar(engine, "SELECT AVG(rating) FROM reviews") == pytest.approx(mean)
    ones = sum(r["overall"] == 1 for r in amazon_raw)
    assert scalar(engine, "SELECT COUNT(*) FROM reviews WHERE rating = 1") == ones

    top, count = reviewers.most_common(1)[0]
    row = _one(
        engine,
        "SELECT customer_id, COUNT(*) FROM reviews GROUP BY customer_id ORDER BY 2 DESC LIMIT 1",
    )
    assert tuple(row) == (top, count)

    first_year = Counter()
    firsts: dict[str, int] = {}
    for r in amazon_raw:
        firsts[r["reviewerID"]] = min(firsts.get(r["reviewerID"], 2**40), r["unixReviewTime"])
    for t in firsts.values():
        first_year[datetime.fromtimestamp(t, UTC).year] += 1
    sql_2013 = scalar(
        engine,
        "SELECT COUNT(*) FROM (SELECT customer_id, MIN(reviewed_at) AS f FROM reviews "
        "GROUP BY customer_id) t WHERE f >= '2013-01-01' AND f < '2014-01-01'",
    )
    assert sql_2013 == first_year[2013]

    # Every review is also a one-unit purchase linked to its review.
    assert scalar(engine, "SELECT COUNT(*) FROM orders") == len(amazon_raw)
    assert scalar(engine, "SELECT COUNT(*) FROM reviews WHERE order_id IS NULL") == 0
    helpful = sum(r["helpful"][0] for r in amazon_raw)
    assert scalar(engine, "SELECT SUM(helpful_votes) FROM reviews") == helpful
    assert scalar(engine, "SELECT COUNT(*) FROM reviews WHERE language = 'en'") > 0.95 * len(
        amazon_raw
    )
    assert scalar(engine, "SELECT MIN(category) FROM products") == "Musical Instruments"


def _one(engine, sql):
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text(sql)).one()


def test_olist_person_is_customer_unique_id(engine):
    require_data(OLIST)
    result = import_dataset(engine, "olist", [OLIST])
    customers = pd.read_csv(OLIST / "customers.csv")
    orders = pd.read_csv(OLIST / "orders.csv")
    items = pd.read_csv(OLIST / "order_items.csv")
    reviews = pd.read_csv(OLIST / "reviews_matched.csv")

    assert result.rows_written["customers"] == customers["customer_unique_id"].nunique()
    assert scalar(engine, "SELECT COUNT(*) FROM orders") == len(orders)
    assert scalar(engine, "SELECT COUNT(*) FROM order_lines") == len(items)
    assert scalar(engine, "SELECT SUM(unit_price * quantity) FROM order_lines") == pytest.approx(
        items["price"].sum()
    )
    cancelled = orders["order_status"].isin(["canceled", "unavailable"]).sum()
    assert scalar(engine, "SELECT COUNT(*) FROM orders WHERE is_cancelled") == cancelled
    assert scalar(engine, "SELECT COUNT(*) FROM reviews") == len(reviews)
    with_text = reviews["review_comment_message"].notna().sum()
    assert scalar(engine, "SELECT COUNT(*) FROM reviews WHERE text IS NOT NULL") == with_text
    assert scalar(engine, "SELECT COUNT(*) FROM reviews WHERE language = 'pt'") > 0.9 * len(reviews)
    # People who bought twice are one customer with two orders.
    merged = orders.merge(customers, on="customer_id")
    repeaters = (merged.groupby("customer_unique_id").size() > 1).sum()
    sql_repeaters = scalar(
        engine,
        "SELECT COUNT(*) FROM (SELECT customer_id FROM orders GROUP BY customer_id "
        "HAVING COUNT(*) > 1) t",
    )
    assert sql_repeaters == repeaters
    # Categories are translated to English.
    assert scalar(engine, "SELECT COUNT(*) FROM products WHERE category = 'health_beauty'") > 0


def test_online_retail_matches_raw_file(engine):
    raw = pd.read_parquet(require_data(ONLINE_RETAIL))
    result = import_dataset(engine, "online-retail", [ONLINE_RETAIL])
    assert result.rows_read == len(raw)

    assert scalar(engine, "SELECT COUNT(*) FROM order_lines") == len(raw)
    assert scalar(engine, "SELECT COUNT(*) FROM customers") == raw["Customer ID"].nunique()
    cancellations = raw.loc[raw["Invoice"].str.startswith("C"), "Invoice"].nunique()
    assert scalar(engine, "SELECT COUNT(*) FROM orders WHERE is_cancelled") == cancellations
    # Anonymous lines are kept, not dropped.
    anonymous = raw["Customer ID"].isna().sum()
    assert (
        scalar(
            engine,
            "SELECT COUNT(*) FROM order_lines l JOIN orders o ON o.order_id = l.order_id "
            "WHERE o.customer_id IS NULL",
        )
        == anonymous
    )
    # Revenue of non-cancelled invoices in December 2009, as an analyst would ask.
    when = pd.to_datetime(raw["InvoiceDate"])
    december = raw[
        (when.dt.year == 2009) & (when.dt.month == 12) & ~raw["Invoice"].str.startswith("C")
    ]
    revenue = (december["Quantity"] * december["Price"]).sum()
    sql_revenue = scalar(
        engine,
        "SELECT SUM(l.quantity * l.unit_price) FROM order_lines l "
        "JOIN orders o ON o.order_id = l.order_id "
        "WHERE NOT o.is_cancelled AND o.ordered_at >= '2009-12-01' AND o.ordered_at < '2010-01-01'",
    )
    assert sql_revenue == pytest.approx(revenue, abs=0.5)
    returns = ((raw["Quantity"] < 0) | raw["Invoice"].str.startswith("C")).sum()
    assert scalar(engine, "SELECT COUNT(*) FROM order_lines WHERE is_return") == returns
    germans = raw[raw["Country"] == "Germany"]["Customer ID"].nunique()
    assert (
        scalar(
            engine,
            "SELECT COUNT(DISTINCT customer_id) FROM orders WHERE country = 'Germany'",
        )
        == germans
    )


def test_amazon_2018_layout_of_the_real_reviews(sqlite_engine, amazon_raw, tmp_path):
    """The real reviews rewritten as the 2018 release writes them (a pretty-printed array,
    `vote` as text with thousands separators, no `helpful`, repeated reviews): the same
    reviews, votes and ratings as the 2014 file."""
    rewritten = []
    for r in amazon_raw:
        record = {k: v for k, v in r.items() if k != "helpful"}
        if r["helpful"][0]:
            record["vote"] = f"{r['helpful'][0] * 1000:,}"  # "1,000" and up: separators
        record["style"] = {"Format:": " Paperback"}
        rewritten.append(record)
    repeats = [dict(r, unixReviewTime=r["unixReviewTime"] - 86_400) for r in rewritten[:40]]
    path = tmp_path / "Musical_Instruments_5.json"
    path.write_text(json.dumps(rewritten + repeats, indent=2), encoding="utf-8")

    result = import_dataset(sqlite_engine, "amazon", [path])
    assert result.rows_written["reviews"] == len(amazon_raw)
    assert result.rows_written["order_lines"] == len(amazon_raw)
    assert any("40 repeated reviews" in n for n in result.notes)
    votes = sum(r["helpful"][0] for r in amazon_raw) * 1000
    assert scalar(sqlite_engine, "SELECT SUM(helpful_votes) FROM reviews") == votes
    mean = sum(r["overall"] for r in amazon_raw) / len(amazon_raw)
    assert scalar(sqlite_engine, "SELECT AVG(rating) FROM reviews") == pytest.approx(mean)
    # The kept copy of a repeated review is the later one (the original).
    first = amazon_raw[0]
    kept = scalar(
        sqlite_engine,
        "SELECT reviewed_at FROM reviews WHERE review_id = :r",
        r=f"{first['reviewerID']}-{first['asin']}",
    )
    assert pd.Timestamp(kept) == pd.Timestamp(first["unixReviewTime"], unit="s")


def test_online_retail_2010_2011_layout_of_the_real_lines(sqlite_engine, tmp_path):
    """The real invoice lines written as the 2010-2011 release's CSV is (InvoiceNo,
    UnitPrice, CustomerID as 17850.0, US month/day dates, Latin-1): the same totals."""
    raw = pd.read_parquet(require_data(ONLINE_RETAIL))
    old = raw.rename(
        columns={"Invoice": "InvoiceNo", "Price": "UnitPrice", "Customer ID": "CustomerID"}
    )
    times = pd.to_datetime(raw["InvoiceDate"])
    old["InvoiceDate"] = times.map(lambda t: f"{t.month}/{t.day}/{t.year} {t.hour}:{t.minute:02d}")
    path = tmp_path / "Online Retail.csv"
    old.to_csv(path, index=False, encoding="latin-1", errors="replace")

    result = import_dataset(sqlite_engine, "online-retail", [path])
    assert result.rows_written["order_lines"] == len(raw)
    assert result.rows_written["customers"] == raw["Customer ID"].nunique()
    revenue = float((raw["Quantity"] * raw["Price"]).sum())
    stored = scalar(sqlite_engine, "SELECT SUM(quantity * unit_price) FROM order_lines")
    assert stored == pytest.approx(revenue)
    latest = scalar(sqlite_engine, "SELECT MAX(ordered_at) FROM orders")
    assert pd.Timestamp(latest) == times.max().floor("min")
