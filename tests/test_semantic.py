"""The semantic layer (warehouse.semantic) on the real data sets, SQLite and PostgreSQL.

Every figure a view gives is checked against the raw files, computed here with
pandas (not with segassist's code): the metric definitions are the ones an
analyst would apply by hand. The verified SQL examples the agent is shown must
all run, and give the same result on both engines.
"""

from __future__ import annotations

import gzip
import json
from decimal import Decimal

import pandas as pd
import pytest
from conftest import AMAZON, OLIST, ONLINE_RETAIL, require_data
from segassist.agent.examples import load_examples
from segassist.tools.sql import run_select
from segassist.warehouse.importers import import_dataset
from segassist.warehouse.schema import AGENT_READABLE_TABLES
from segassist.warehouse.semantic import METRICS, VIEWS, semantic_text, view_select
from sqlalchemy import text


def _frame(engine, sql: str) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(text(sql))
        frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    return frame.map(lambda v: float(v) if isinstance(v, Decimal) else v)


@pytest.fixture(scope="module")
def retail_raw() -> pd.DataFrame:
    raw = pd.read_parquet(require_data(ONLINE_RETAIL))
    raw["when"] = pd.to_datetime(raw["InvoiceDate"])
    raw["cancelled"] = raw["Invoice"].str.startswith("C")
    raw["amount"] = raw["Quantity"] * raw["Price"]
    raw["customer"] = raw["Customer ID"].map(lambda v: None if pd.isna(v) else str(int(v)))
    return raw


def test_views_have_their_documented_columns(engine):
    for name, (_, columns) in VIEWS.items():
        assert name in AGENT_READABLE_TABLES
        assert list(view_select(name, engine.dialect.name).selected_columns.keys()) == list(columns)
        frame = _frame(engine, f"SELECT * FROM {name}")
        assert list(frame.columns) == list(columns) and frame.empty
    described = semantic_text()
    assert all(name in described for name in VIEWS) and all(m in described for m in METRICS)


def test_online_retail_views_match_the_raw_file(engine, retail_raw):
    raw = retail_raw
    import_dataset(engine, "online-retail", [ONLINE_RETAIL])
    sales, cancels = raw[~raw["cancelled"]], raw[raw["cancelled"]]

    customers = _frame(engine, "SELECT * FROM customer_facts").set_index("customer_id")
    known = raw[raw["customer"].notna()]
    assert len(customers) == known["customer"].nunique()
    expected = (
        pd.DataFrame(
            {
                "orders": sales.groupby("customer")["Invoice"].nunique(),
                "cancelled_orders": cancels.groupby("customer")["Invoice"].nunique(),
                "revenue": sales.groupby("customer")["amount"].sum(),
                "units": sales.groupby("customer")["Quantity"].sum(),
                "net_revenue": sales.groupby("customer")["amount"]
                .sum()
                .add(
                    cancels[cancels["Quantity"] < 0].groupby("customer")["amount"].sum(),
                    fill_value=0,
                ),
            }
        )
        .reindex(customers.index)
        .fillna(0)
    )
    for column in expected:
        pd.testing.assert_series_equal(
            customers[column].astype(float),
            expected[column].astype(float),
            check_names=False,
            atol=0.01,
        )
    first = sales.groupby("customer")["when"].min().reindex(customers.index)
    bought = first.notna()
    assert (pd.to_datetime(customers.loc[bought, "first_order_at"]) == first[bought]).all()
    assert customers["reviews"].eq(0).all() and customers["segment_id"].isna().all()

    months = _frame(engine, "SELECT * FROM month_facts").set_index("month")
    key = raw["when"].dt.strftime("%Y-%m")
    sold = raw.loc[~raw["cancelled"]]
    assert months["revenue"].to_dict() == pytest.approx(
        sold.groupby(key[~raw["cancelled"]])["amount"].sum().to_dict(), abs=0.01
    )
    assert (
        months["customers"].to_dict()
        == sold.groupby(key[~raw["cancelled"]])["customer"].nunique().to_dict()
    )
    newcomers = sold.groupby("customer")["when"].min().dt.strftime("%Y-%m").value_counts()
    assert months["new_customers"].to_dict() == newcomers.reindex(months.index).fillna(0).to_dict()
    assert (
        months["cancelled_orders"].to_dict()
        == cancels.groupby(key[raw["cancelled"]])["Invoice"]
        .nunique()
        .reindex(months.index)
        .fillna(0)
        .to_dict()
    )

    products = _frame(engine, "SELECT * FROM product_facts")
    units = sold.groupby("StockCode")["Quantity"].sum()
    assert products["units"].sum() == units.sum()
    assert sorted(products["units"], reverse=True)[:20] == sorted(units, reverse=True)[:20]
    assert products["customers"].max() == sold.groupby("StockCode")["customer"].nunique().max()

    orders = _frame(engine, "SELECT * FROM order_facts")
    assert len(orders) == raw["Invoice"].nunique()
    assert orders["order_value"].sum() == pytest.approx(raw["amount"].sum(), abs=0.5)
    assert orders["lines"].sum() == len(raw)
    french = orders[orders["country"] == "France"]
    assert french["revenue"].sum() == pytest.approx(
        sold.loc[sold["Country"] == "France", "amount"].sum(), abs=0.5
    )
    assert orders["net_revenue"].sum() == pytest.approx(
        sold["amount"].sum() + cancels.loc[cancels["Quantity"] < 0, "amount"].sum(), abs=0.5
    )


def test_amazon_views_match_the_raw_file(engine):
    with gzip.open(require_data(AMAZON), "rt") as handle:
        raw = pd.DataFrame([json.loads(line) for line in handle])
    import_dataset(engine, "amazon", [AMAZON])
    raw["month"] = pd.to_datetime(raw["unixReviewTime"], unit="s").dt.strftime("%Y-%m")

    customers = _frame(engine, "SELECT * FROM customer_facts").set_index("customer_id")
    by_reviewer = raw.groupby("reviewerID")
    assert customers["reviews"].to_dict() == by_reviewer.size().to_dict()
    assert customers["avg_rating"].to_dict() == pytest.approx(
        by_reviewer["overall"].mean().to_dict()
    )
    months = _frame(engine, "SELECT * FROM month_facts").set_index("month")
    assert months["reviews"].to_dict() == raw.groupby("month").size().to_dict()
    assert months["reviewers"].to_dict() == raw.groupby("month")["reviewerID"].nunique().to_dict()
    first = raw.loc[by_reviewer["unixReviewTime"].idxmin(), "month"].value_counts()
    assert months["new_reviewers"].to_dict() == first.reindex(months.index).fillna(0).to_dict()
    products = _frame(engine, "SELECT * FROM product_facts").set_index("product_id")
    assert products["reviews"].to_dict() == raw.groupby("asin").size().to_dict()
    # Per-entity conditions ("every review 5 stars", "nothing but 5-star reviews") read
    # one column: the lowest rating.
    for facts, by in ((customers, by_reviewer), (products, raw.groupby("asin"))):
        assert facts["lowest_rating"].to_dict() == by["overall"].min().to_dict()
        assert facts["highest_rating"].to_dict() == by["overall"].max().to_dict()
    when = pd.to_datetime(raw["unixReviewTime"], unit="s")
    for column, edge in (("first_review_at", "min"), ("last_review_at", "max")):
        years = pd.to_datetime(products[column]).dt.year
        assert years.to_dict() == when.groupby(raw["asin"]).agg(edge).dt.year.to_dict()
    reviews = _frame(engine, "SELECT * FROM review_facts")
    assert len(reviews) == len(raw)  # one row per review (no product titles in this file)
    raw["year"] = pd.to_datetime(raw["unixReviewTime"], unit="s").dt.year
    by_year = reviews.groupby("year")["rating"].mean()
    assert by_year.to_dict() == pytest.approx(raw.groupby("year")["overall"].mean().to_dict())
    assert reviews.groupby("month").size().to_dict() == raw.groupby("month").size().to_dict()
    helped = (reviews["helpful_votes"] > 0).sum()
    assert helped == sum(votes[0] > 0 for votes in raw["helpful"])
    # The year is a number on both engines: compared with 2012 or '2012' alike.
    for year in ("2012", "'2012'"):
        assert (
            _frame(engine, f"SELECT COUNT(*) AS n FROM review_facts WHERE year = {year}")["n"][0]
            == (raw["year"] == 2012).sum()
        )


def test_olist_cancelled_orders_count_apart(engine):
    require_data(OLIST)
    import_dataset(engine, "olist", [OLIST])
    orders = pd.read_csv(OLIST / "orders.csv")
    items = pd.read_csv(OLIST / "order_items.csv")
    cancelled = orders["order_status"].isin(["canceled", "unavailable"])
    facts = _frame(
        engine,
        "SELECT SUM(orders) AS o, SUM(cancelled_orders) AS c, "
        "SUM(revenue) AS r, SUM(net_revenue) AS n FROM customer_facts",
    ).iloc[0]
    assert (facts["o"], facts["c"]) == (int((~cancelled).sum()), int(cancelled.sum()))
    kept = items[items["order_id"].isin(orders.loc[~cancelled, "order_id"])]
    # A cancelled Olist order took nothing back: it never counted, so net = revenue.
    assert facts["r"] == pytest.approx(kept["price"].sum(), abs=0.5)
    assert facts["n"] == pytest.approx(facts["r"], abs=0.5)
    # Customers by state ("Qual estado tem mais clientes?": customer_facts.region).
    people = pd.read_csv(OLIST / "customers.csv").drop_duplicates("customer_unique_id")
    by_state = _frame(
        engine, "SELECT region, COUNT(*) AS n FROM customer_facts GROUP BY region"
    ).set_index("region")["n"]
    assert by_state.to_dict() == people.groupby("customer_state").size().to_dict()


@pytest.fixture(scope="module")
def example_results(tmp_path_factory, postgres_reason):
    """Every verified example run on the same data, on SQLite and (when it is there) on
    PostgreSQL, through the agent's own read-only path."""
    from conftest import fresh_postgres_schema
    from segassist.warehouse.db import migrate, open_engine

    def run_all(url: str) -> dict[str, list]:
        engine = open_engine(url)
        migrate(engine)
        import_dataset(engine, "amazon", [require_data(AMAZON)])
        import_dataset(engine, "online-retail", [require_data(ONLINE_RETAIL)])
        results = {}
        for example in load_examples():
            result = run_select(engine, example.sql, timeout_s=60)
            results[example.question] = [
                tuple(
                    round(float(v), 2) if isinstance(v, int | float | Decimal) else v for v in row
                )
                for row in result.rows
            ]
        engine.dispose()
        return results

    sqlite = run_all(f"sqlite:///{tmp_path_factory.mktemp('examples') / 'w.db'}")
    if postgres_reason:
        return sqlite, None
    with fresh_postgres_schema() as url:
        return sqlite, run_all(url)


def test_every_example_runs_and_engines_agree(example_results):
    sqlite, postgres = example_results
    examples = load_examples()
    assert len(examples) >= 40 and len({e.question for e in examples}) == len(examples)
    # Most examples have an answer on these two data sets (the segment ones need a model).
    answered = [q for q, rows in sqlite.items() if rows and rows[0] and rows[0][0] is not None]
    assert len(answered) >= 0.8 * len(examples)
    if postgres is None:
        pytest.skip("PostgreSQL is not reachable: only SQLite was checked")
    for question, rows in sqlite.items():
        assert [tuple(str(v)[:19] for v in r) for r in rows] == [
            tuple(str(v)[:19] for v in r) for r in postgres[question]
        ], question


def test_examples_are_found_by_meaning_across_languages():
    """The real multilingual embedder: a paraphrase finds its example first, in English and
    in Portuguese, and a question about something else finds none. (Across languages the
    ranking leans to examples in the question's own language.)"""
    from segassist.agent.examples import default_bank

    bank = default_bank()

    def first(question: str) -> str | None:
        found = bank.similar(question)
        return found[0][0].question if found else None

    assert first("What was the revenue in November 2010?") == "What was the total revenue in 2010?"
    assert first("Which customer spent the most money?") == (
        "Which customer spent the most, and how much?"
    )
    assert first("Which products were never reviewed?") == (
        "How many products have never been reviewed?"
    )
    assert first("Quantos clientes têm mais de dez pedidos?") == (
        "Quantos clientes fizeram mais de um pedido?"
    )
    assert first("What is the weather like in Lisbon today?") is None
