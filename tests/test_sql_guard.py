"""The agent's SQL can only read: hostile statements on SQLite and PostgreSQL change nothing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from segassist.tools.sql import QueryRejected, _run_postgres, _run_sqlite, check_select, run_select
from segassist.warehouse.importers.writer import write_batches
from segassist.warehouse.schema import BEHAVIOUR_TABLES
from segassist.warehouse.synthetic import generate
from sqlalchemy import inspect, text

EVIL_FILE = "/tmp/segassist-evil-test.db"

HOSTILE = [
    "DROP TABLE customers",
    "DELETE FROM reviews",
    "UPDATE customers SET name = 'pwned'",
    "INSERT INTO customers (customer_id, source) VALUES ('evil', 'x')",
    "SELECT 1; DROP TABLE customers",
    "SELECT COUNT(*) FROM customers; DELETE FROM orders",
    "CREATE TABLE evil (x INTEGER)",
    "CREATE TEMP TABLE evil AS SELECT * FROM customers",
    "CREATE INDEX evil ON customers (name)",
    "ALTER TABLE customers ADD COLUMN evil INTEGER",
    "TRUNCATE reviews",
    "PRAGMA writable_schema = 1",
    "PRAGMA journal_mode = DELETE",
    f"ATTACH DATABASE '{EVIL_FILE}' AS evil",
    "DETACH DATABASE main",
    "VACUUM",
    "REINDEX",
    "ANALYZE",
    "SELECT load_extension('/tmp/evil.so')",
    "SELECT readfile('/etc/passwd')",
    "SELECT writefile('/tmp/evil.txt', 'x')",
    "SELECT * INTO evil FROM customers",
    "WITH gone AS (DELETE FROM reviews RETURNING *) SELECT COUNT(*) FROM gone",
    "COPY customers TO '/tmp/evil.csv'",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT pg_sleep(30)",
    "SELECT nextval('import_runs_run_id_seq')",
    "BEGIN; DELETE FROM reviews; COMMIT",
    "GRANT ALL ON customers TO PUBLIC",
    "REPLACE INTO customers (customer_id, source) VALUES ('evil', 'x')",
    "INSERT OR REPLACE INTO customers (customer_id, source) VALUES ('evil', 'x')",
    "/* looks harmless */ DELETE FROM orders",
    "EXPLAIN ANALYZE DELETE FROM reviews",
    "SET statement_timeout = 0",
    "SELECT * FROM customers FOR UPDATE",
    "DO $$ BEGIN DELETE FROM reviews; END $$",
    "LOCK TABLE customers",
    "SELECT lo_import('/etc/passwd')",
    "NOTIFY evil",
]


@pytest.fixture
def warehouse(engine):
    write_batches(engine, generate(200, seed=1), sha256="guard")
    return engine


def _snapshot(engine) -> dict:
    with engine.connect() as conn:
        counts = {
            t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar()
            for t in (*BEHAVIOUR_TABLES, "import_runs")
        }
        names = conn.execute(text("SELECT name FROM customers ORDER BY customer_id LIMIT 5")).all()
    return {"counts": counts, "tables": sorted(inspect(engine).get_table_names()), "names": names}


def test_hostile_statements_change_nothing(warehouse):
    before = _snapshot(warehouse)
    refused = 0
    for statement in HOSTILE:
        try:
            run_select(warehouse, statement, timeout_s=2)
        except QueryRejected:
            refused += 1
    assert refused == len(HOSTILE) >= 30
    assert _snapshot(warehouse) == before
    assert not Path(EVIL_FILE).exists()


def test_second_layer_refuses_writes_the_parser_never_saw(warehouse):
    """Even if the parser let a write through, the connection itself is read-only."""
    before = _snapshot(warehouse)
    run = _run_sqlite if warehouse.dialect.name == "sqlite" else _run_postgres
    for statement in (
        "DELETE FROM reviews",
        "UPDATE customers SET name = 'x'",
        "CREATE TABLE evil (x INTEGER)",
    ):
        with pytest.raises(QueryRejected, match="refused"):
            run(warehouse, statement, 10, 2.0, 100_000)
    assert _snapshot(warehouse) == before


def test_reads_work_with_a_row_limit_and_stated_total(warehouse):
    result = run_select(
        warehouse, "SELECT customer_id FROM customers ORDER BY customer_id", row_limit=10
    )
    assert len(result.rows) == 10 and result.truncated and result.total_rows == 200
    assert result.columns == ["customer_id"]
    counted = run_select(
        warehouse, "WITH c AS (SELECT COUNT(*) AS n FROM reviews) SELECT n FROM c;"
    )
    assert not counted.truncated and counted.rows[0][0] > 0
    harmless = run_select(warehouse, "SELECT 1 AS one -- ; DROP TABLE customers")
    assert harmless.rows == [(1,)]


def test_runaway_queries_are_stopped(warehouse):
    endless = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c"
    )
    with pytest.raises(QueryRejected, match="longer than 1 s"):
        run_select(warehouse, endless, timeout_s=1)


def test_refusals_tell_the_model_how_to_recover():
    with pytest.raises(QueryRejected, match="exactly one SELECT"):
        check_select("DELETE FROM reviews", "sqlite")
    with pytest.raises(QueryRejected, match="does not parse"):
        check_select("SELECT * FROM (", "sqlite")
    with pytest.raises(QueryRejected, match="2 statements"):
        check_select("SELECT 1; SELECT 2", "postgres")


def test_a_missing_column_error_shows_where_columns_are(warehouse, tmp_path):
    """On SQLite and PostgreSQL alike (their messages differ), the model is told the
    columns of the tables it used, where the column lives and which alias is undefined."""
    from segassist.tools.catalogue import ToolContext, make_tools

    run_sql = next(
        t for t in make_tools(ToolContext(warehouse, None, tmp_path)) if t.name == "run_sql"
    )
    said = run_sql.invoke(
        {
            "sql": "SELECT SUM(o.quantity * ol.unit_price) FROM orders o "
            "JOIN order_lines ol ON o.order_id = ol.order_id"
        }
    )
    assert said.startswith("SQL not run")
    assert "'quantity' is a column of order_lines: write ol.quantity." in said
    said = run_sql.invoke(
        {"sql": "SELECT p.product_id, COUNT(r.review_id) FROM products p GROUP BY p.product_id"}
    )
    assert "A column 'review_id' is in: review_facts, reviews (query that one, or join it)." in said
    assert "'r' is not a table or alias defined in FROM/JOIN." in said
    # A metric asked of the wrong view: the views that hold it come first.
    said = run_sql.invoke({"sql": "SELECT customer_id, new_customers FROM order_facts LIMIT 1"})
    assert "Tables in your query: order_facts (order_id = order or invoice id (text), " in said
    assert "revenue = order_value when not cancelled, else 0" in said
    assert "A column 'new_customers' is in: month_facts (query that one" in said
    # A count of single rows asked as a column of them (fresh-97: "among years with at
    # least 500 reviews" as WHERE reviews >= 500 on review_facts; the model joined every
    # view to find the column): where the query groups, the condition runs as HAVING
    # (test_a_column_named_otherwise_runs_as_the_column_it_means); where it cannot be
    # moved, the hint says how to count them, not which views hold the column.
    said = run_sql.invoke(
        {
            "sql": "SELECT year, AVG(rating) AS r FROM review_facts WHERE reviews >= 500 "
            "OR rating > 4 GROUP BY year ORDER BY r DESC LIMIT 1"
        }
    )
    assert said.startswith("SQL not run")
    assert (
        "review_facts has one row per review: the reviews of each group are COUNT(*). For "
        "groups with a number of reviews: GROUP BY year HAVING COUNT(*) >= 500" in said
    ), said
    assert "A column 'reviews' is in" not in said
    # Customers are no count of single events: AVG(customers) is told where the column is
    # (fresh-95, second run: told to count groups, the model lost its way).
    said = run_sql.invoke({"sql": "SELECT AVG(customers) FROM customer_facts"})
    assert "A column 'customers' is in: product_facts, month_facts" in said
    assert "HAVING" not in said


def test_a_column_named_otherwise_runs_as_the_column_it_means(warehouse, tmp_path):
    """Small models name the views' columns as people do (total_spend, stars,
    review_date) or misspell them: where exactly one column of the query's tables is
    meant (a synonym in the semantic layer, or a near spelling), the query runs with it
    and the result says which column was read, on SQLite and PostgreSQL. Where the name
    could mean several columns, or none of the query's tables has it, nothing is
    guessed: the error and its hint come back as before."""
    from segassist.tools.context import ToolContext
    from segassist.tools.data_tools import run_sql_tool

    run_sql = run_sql_tool(ToolContext(warehouse, None, tmp_path))

    def rows(sql):
        return _rows(warehouse, sql)

    result = run_sql(
        "SELECT customer_id, total_spend FROM customer_facts "
        "ORDER BY total_spend DESC, customer_id LIMIT 3"
    )
    assert result.text.startswith(
        "Note: customer_facts has no column 'total_spend'; this ran with revenue "
        "(spend, cancelled orders excluded)."
    )
    expected = rows(
        "SELECT customer_id, revenue FROM customer_facts ORDER BY revenue DESC, customer_id LIMIT 3"
    )
    assert result.payload.rows == expected and result.payload.columns == ["customer_id", "revenue"]
    assert "revenue" in result.payload.sql and "total_spend" not in result.payload.sql

    # Two names at once, one per view, through aliases; and a near spelling.
    result = run_sql(
        "SELECT COUNT(*) FROM review_facts r WHERE r.stars = 5 AND r.review_date >= '2001-01-01'"
    )
    assert "no column 'stars'; this ran with rating" in result.text
    assert "no column 'review_date'; this ran with reviewed_at" in result.text
    assert result.payload.rows == rows(
        "SELECT COUNT(*) FROM review_facts WHERE rating = 5 AND reviewed_at >= '2001-01-01'"
    )
    assert result.payload.rows[0][0] > 0
    # A view's column named on a raw table that calls it otherwise.
    result = run_sql("SELECT SUM(units) FROM order_lines WHERE unit_price > 1")
    assert "order_lines has no column 'units'; this ran with quantity" in result.text
    assert result.payload.rows == rows("SELECT SUM(quantity) FROM order_lines WHERE unit_price > 1")
    # A view named before its column without being read: joined by its id (fresh-73).
    result = run_sql(
        "SELECT COUNT(*) FROM order_facts WHERE customer_facts.region IS NULL AND units > 0"
    )
    assert "this ran with customer_facts (one row per customer) joined by customer_id" in (
        result.text
    )
    assert result.payload.rows == rows(
        "SELECT COUNT(*) FROM order_facts o JOIN customer_facts c ON o.customer_id = "
        "c.customer_id WHERE c.region IS NULL AND o.units > 0"
    )
    # The same with a subquery in the WHERE, which reads its own table (fresh-74).
    result = run_sql(
        "SELECT COUNT(DISTINCT product_id) FROM order_lines WHERE product_id IN "
        "(SELECT product_id FROM product_facts WHERE orders > 1) AND is_cancelled = 0"
    )
    assert "this ran with order_facts (one row per order) joined by order_id" in result.text
    assert result.payload.rows == rows(
        "SELECT COUNT(DISTINCT l.product_id) FROM order_lines l JOIN order_facts o ON "
        "l.order_id = o.order_id WHERE l.product_id IN (SELECT product_id FROM product_facts "
        "WHERE orders > 1) AND NOT o.is_cancelled"
    )
    assert result.payload.rows[0][0] > 0
    # Read in its own SELECT, not a subquery's tables: product_facts also has a price
    # (fresh-91: the whole query refused, "no such column: price").
    result = run_sql(
        "SELECT AVG(price) FROM order_lines WHERE product_id IN "
        "(SELECT product_id FROM product_facts WHERE price IS NOT NULL OR reviews >= 0)"
    )
    assert "order_lines has no column 'price'; this ran with unit_price" in result.text
    assert result.payload.rows == rows(
        "SELECT AVG(unit_price) FROM order_lines WHERE product_id IN "
        "(SELECT product_id FROM product_facts WHERE price IS NOT NULL OR reviews >= 0)"
    )
    # The aggregate's word in the name, inside that aggregate, over single reviews.
    result = run_sql(
        "SELECT product_id, AVG(avg_rating) FROM review_facts GROUP BY product_id "
        "ORDER BY AVG(avg_rating), product_id LIMIT 1"
    )
    assert "review_facts has no column 'avg_rating'; this ran with rating" in result.text
    assert result.payload.rows == rows(
        "SELECT product_id, AVG(rating) FROM review_facts GROUP BY product_id "
        "ORDER BY AVG(rating), product_id LIMIT 1"
    )
    # The view's grain, summed: its rows counted.
    result = run_sql(
        "SELECT month, SUM(reviews) AS n FROM review_facts GROUP BY month "
        "ORDER BY n DESC, month LIMIT 2"
    )
    assert "one row per review, so this ran with COUNT(*)" in result.text
    assert result.payload.rows == rows(
        "SELECT month, COUNT(*) AS n FROM review_facts GROUP BY month "
        "ORDER BY n DESC, month LIMIT 2"
    )
    # A condition on each customer's total, asked of single reviews: the customers' view.
    result = run_sql("SELECT COUNT(DISTINCT customer_id) FROM review_facts WHERE reviews >= 2")
    assert "customer_facts has one row per customer with it, so this ran on customer_facts" in (
        result.text
    )
    assert result.payload.rows == rows(
        "SELECT COUNT(DISTINCT customer_id) FROM customer_facts WHERE reviews >= 2"
    )
    # The same condition under a count of rows: on the view of the entity the question
    # counts (the agent passes it in the run's config), and not where it counts none.
    counted = "SELECT COUNT(*) FROM review_facts WHERE reviews >= 2"
    for counts, view in (("customer", "customer_facts"), ("product", "product_facts")):
        result = run_sql(counted, config={"configurable": {"counts": counts}})
        assert f"so this ran on {view}" in result.text, counts
        assert result.payload.rows == rows(f"SELECT COUNT(*) FROM {view} WHERE reviews >= 2")
    for config in (None, {"configurable": {"counts": "review"}}):
        assert run_sql(counted, config=config).text.startswith("SQL not run"), config
    # A "not cancelled" filter on a view whose metrics already leave cancellations out.
    result = run_sql("SELECT COUNT(*) FROM customer_facts WHERE orders > 2 AND is_cancelled = 0")
    assert "already leave cancelled orders out, so this ran without that condition" in (result.text)
    assert result.payload.rows == rows("SELECT COUNT(*) FROM customer_facts WHERE orders > 2")
    result = run_sql("SELECT ROUND(AVG(avg_ratings), 3) FROM product_facts")
    assert "this ran with avg_rating" in result.text
    assert result.payload.rows == rows("SELECT ROUND(AVG(avg_rating), 3) FROM product_facts")
    joined = run_sql(
        "SELECT COUNT(DISTINCT c.customer_id) FROM customer_facts c JOIN order_facts o "
        "ON o.customer_id = c.customer_id WHERE o.order_date >= '2001-01-01'"
    )
    assert "order_facts has no column 'order_date'; this ran with ordered_at" in joined.text

    # A column of the entity an id of the table stands for: the query runs with that
    # entity's view joined by the id, still counting the table's rows (orders here).
    result = run_sql("SELECT COUNT(*) AS n FROM order_facts WHERE last_order_at >= '2001-01-01'")
    assert "this ran with customer_facts (one row per customer) joined by customer_id" in (
        result.text
    )
    assert result.payload.rows == rows(
        "SELECT COUNT(*) AS n FROM order_facts o JOIN customer_facts c ON o.customer_id = "
        "c.customer_id WHERE c.last_order_at >= '2001-01-01'"
    )
    result = run_sql(
        "SELECT ol.product_id, SUM(quantity) AS units FROM order_lines ol WHERE NOT "
        "is_cancelled AND month >= '2001-01' GROUP BY ol.product_id ORDER BY units DESC, "
        "ol.product_id LIMIT 3"
    )
    assert "this ran with order_facts (one row per order) joined by order_id" in result.text
    expected = rows(
        "SELECT l.product_id, SUM(l.quantity) AS units FROM order_lines l JOIN order_facts o "
        "ON l.order_id = o.order_id WHERE NOT o.is_cancelled AND o.month >= '2001-01' "
        "GROUP BY l.product_id ORDER BY units DESC, l.product_id LIMIT 3"
    )
    assert result.payload.rows == expected and len(expected) == 3
    # The order's own total summed beside each of its lines would count it once per
    # line (fresh-102: 8.6M units for one customer): the line's measure is read instead,
    # and a total the lines do not hold is not joined at all.
    result = run_sql(
        "SELECT customer_id, SUM(units) AS n FROM order_lines WHERE customer_id IS NOT NULL "
        "GROUP BY customer_id ORDER BY n DESC, customer_id LIMIT 3"
    )
    assert "'units' was read as order_lines.quantity." in result.text
    expected = rows(
        "SELECT o.customer_id, SUM(l.quantity) AS n FROM order_lines l JOIN order_facts o "
        "ON l.order_id = o.order_id WHERE o.customer_id IS NOT NULL GROUP BY o.customer_id "
        "ORDER BY n DESC, o.customer_id LIMIT 3"
    )
    assert result.payload.rows == expected and len(expected) == 3
    # A count of single rows compared in WHERE of a grouped query is a condition on
    # each group (fresh-97).
    result = run_sql(
        "SELECT year, COUNT(*) AS n FROM review_facts WHERE reviews >= 2 AND rating > 1 "
        "GROUP BY year ORDER BY year"
    )
    assert "so reviews >= 2 ran as HAVING COUNT(*) >= 2: the reviews of each group" in (result.text)
    expected = rows(
        "SELECT year, COUNT(*) AS n FROM review_facts WHERE rating > 1 GROUP BY year "
        "HAVING COUNT(*) >= 2 ORDER BY year"
    )
    assert result.payload.rows == expected and expected
    fanned = run_sql("SELECT customer_id, SUM(revenue) AS r FROM order_lines GROUP BY customer_id")
    assert fanned.failed and "this ran with order_facts" not in fanned.text
    # Not guessed: a date of which order (customer_facts has first and last), a name two
    # joined views both answer to, a column of a table the query does not read.
    for sql, column in [
        ("SELECT COUNT(*) FROM customer_facts WHERE order_date >= '2011-01-01'", "order_date"),
        (
            "SELECT SUM(spend) FROM customer_facts c JOIN order_facts o "
            "ON o.customer_id = c.customer_id",
            "spend",
        ),
        ("SELECT COUNT(*) FROM customer_facts WHERE rating = 1", "rating"),
        ("SELECT avg_rating FROM review_facts LIMIT 3", "avg_rating"),  # not aggregated
        ("SELECT COUNT(*) FROM customer_facts WHERE is_cancelled = 1", "is_cancelled"),
        (  # a column of the review the customers' view lacks
            "SELECT COUNT(DISTINCT customer_id) FROM review_facts WHERE reviews > 1 "
            "AND helpful_votes > 0",
            "reviews",
        ),
        (
            "SELECT COUNT(products) FROM product_facts p JOIN review_facts r "
            "ON r.product_id = p.product_id",
            "products",
        ),  # two views: which one's rows?
    ]:
        said = run_sql(sql)
        assert said.failed and said.text.startswith("SQL not run"), sql
        assert "Note:" not in said.text and column in said.text


def _rows(engine, sql: str) -> list[list]:
    with engine.connect() as conn:
        return [list(r) for r in conn.execute(text(sql)).all()]


def _says_nothing(run_sql, *queries: str) -> None:
    """Each query runs without a note."""
    for query in queries:
        assert "Note:" not in run_sql(query).text, query


def test_a_value_a_column_never_holds_is_pointed_out_with_the_values_it_does(warehouse, tmp_path):
    """status = 'cancelled' on Olist, whose status is 'canceled', counted 21 orders of 81
    and nothing said so. A text column compared with a value it never holds gets its
    values listed; held values, ids and columns with too many values say nothing."""
    from segassist.tools.context import ToolContext
    from segassist.tools.data_tools import run_sql_tool

    run_sql = run_sql_tool(ToolContext(warehouse, None, tmp_path))
    with warehouse.connect() as conn:
        statuses = sorted(
            conn.execute(text("SELECT DISTINCT status FROM order_facts")).scalars().all()
        )
    result = run_sql("SELECT COUNT(*) FROM order_facts WHERE status = 'Cancelled-typo'")
    assert result.text.startswith(
        "Note: order_facts.status never holds 'Cancelled-typo'; its values are "
        + ", ".join(f"'{v}'" for v in statuses)
    )
    assert result.payload.rows == [[0]]  # the query ran as written
    # A Brazilian state asked of the country column is told where states are (fresh-108:
    # country = 'Minas Gerais', then all of Brazil counted for it).
    state = run_sql("SELECT COUNT(*) FROM order_facts WHERE country = 'Minas Gerais'")
    assert "never holds 'Minas Gerais'" in state.text
    assert "'Minas Gerais' is a state: customer_facts.region = 'MG' (JOIN customer_facts c" in (
        state.text
    )
    # A share whose part found nothing: SUM(CASE WHEN country = 'UK' ...) beside the total.
    part = run_sql(
        "SELECT COUNT(*) AS n, SUM(CASE WHEN status = 'Cancelled-typo' THEN 1 ELSE 0 END) "
        "AS c FROM order_facts"
    )
    assert part.text.startswith("Note: order_facts.status never holds 'Cancelled-typo'")
    held = run_sql(f"SELECT COUNT(*) FROM order_facts o WHERE o.status IN ('{statuses[0]}')")
    assert "Note:" not in held.text and held.payload.rows[0][0] > 0
    _says_nothing(
        run_sql,
        "SELECT COUNT(*) FROM order_facts WHERE customer_id = 'nobody'",
        "SELECT COUNT(*) FROM review_facts WHERE text = 'nothing like this'",
    )
    # A value the column holds written otherwise ('UK' for 'United Kingdom', 'cancelled'
    # for 'canceled'): the 1.5B model read the note and answered 0%. The result is not
    # used; the call fails, naming the value it most likely meant.
    near = statuses[0][:2] + statuses[0][3:]
    said = run_sql(f"SELECT COUNT(*) AS n FROM order_facts WHERE status = '{near}'")
    assert said.failed and said.text.startswith(
        f"Result not used: Note: order_facts.status never holds '{near}' (did you mean "
        f"'{statuses[0]}' for '{near}'?)"
    ), said.text
    # The same but for case (or accents) runs on the value held, and says so.
    upper = statuses[0].upper()
    said = run_sql(f"SELECT COUNT(*) AS n FROM order_facts WHERE status = '{upper}'")
    held = run_sql(f"SELECT COUNT(*) AS n FROM order_facts WHERE status = '{statuses[0]}'")
    assert not said.failed and said.payload.rows == held.payload.rows
    assert said.text.startswith(
        f"Note: order_facts.status holds '{statuses[0]}' for '{upper}' (the same but for case "
        "or accents); this ran so."
    ), said.text


def test_a_placeholder_for_a_value_is_refused_with_how_to_find_the_value(warehouse, tmp_path):
    """Asked how many customers are in the segment with the lowest churn risk, the 1.5B
    model ran `WHERE segment_id = 'your_segment_id'` and answered from the nothing it
    found. Placeholders and a column's own name are refused; values shaped like words,
    titles and ids run."""
    from segassist.tools.context import ToolContext
    from segassist.tools.data_tools import run_sql_tool

    run_sql = run_sql_tool(ToolContext(warehouse, None, tmp_path))
    for compared in (
        "segment_id = 'your_segment_id'",
        "customer_id IN ('<customer_id>')",
        "country = '{country}'",
        "customer_id = 'customer_id_here'",
        "country != 'country'",
        "customer_id = 'your customer id'",
    ):
        said = run_sql(f"SELECT COUNT(*) FROM customer_facts WHERE {compared}")
        assert said.failed and "is a placeholder, not a value in the data" in said.text, compared
        assert "(SELECT " in said.text and said.payload.rows == []
    for compared in ("country = 'The Netherlands'", "customer_id = 'your-shop-17'"):
        ran = run_sql(f"SELECT COUNT(*) FROM customer_facts WHERE {compared}")
        assert not ran.failed and ran.payload.rows == [[0]], compared


def test_an_average_of_a_column_the_where_fixes_is_refused(warehouse, tmp_path):
    """Asked how many reviews have 1 star, the 1.5B model counted them, then ran
    `SELECT AVG(rating) FROM review_facts WHERE rating = 1`, and the answer read the 1.
    AVG, MIN or MAX of a column the same SELECT's WHERE fixes is refused; of another
    column, or in a subquery with its own WHERE, it runs."""
    from segassist.tools.context import ToolContext
    from segassist.tools.data_tools import run_sql_tool

    run_sql = run_sql_tool(ToolContext(warehouse, None, tmp_path))
    for sql in (
        "SELECT AVG(rating) FROM review_facts WHERE rating = 1",
        "SELECT COUNT(*), MAX(r.rating) FROM review_facts r WHERE r.year > 2000 AND r.rating = 5",
    ):
        said = run_sql(sql)
        assert said.failed and "on every row this WHERE keeps" in said.text, sql
        assert "COUNT(*)" in said.text
    for sql in (
        "SELECT AVG(helpful_votes) FROM review_facts WHERE rating = 1",
        "SELECT AVG(rating) FROM review_facts WHERE customer_id IN "
        "(SELECT customer_id FROM review_facts WHERE rating = 1)",
        "SELECT MIN(reviewed_at) FROM review_facts WHERE customer_id = 'x'",
    ):
        assert not run_sql(sql).failed, sql


def test_an_average_or_sum_of_ids_is_refused_with_the_count_per_row_to_average(warehouse, tmp_path):
    """Asked how many distinct products a non-cancelled invoice holds on average, the
    1.5B model ran `AVG(DISTINCT product_id)` and answered 47,576.26 products (fresh-114).
    AVG or SUM of an id is refused with the per-order count to average, which runs; a
    count of ids, or an average of counts, runs as written."""
    from segassist.tools.context import ToolContext
    from segassist.tools.data_tools import run_sql_tool

    run_sql = run_sql_tool(ToolContext(warehouse, None, tmp_path))
    said = run_sql("SELECT AVG(DISTINCT l.product_id) FROM order_lines l")
    assert said.failed and "AVG(DISTINCT l.product_id) averages the ids themselves" in said.text
    suggested = said.text.split("first: ", 1)[1].removesuffix(".")
    assert suggested == (
        "SELECT AVG(n) FROM (SELECT order_id, COUNT(DISTINCT product_id) AS n FROM order_lines "
        "GROUP BY order_id) AS t"
    )
    # The query's conditions go inside; one on the order, not the line, through
    # order_facts (the second run of fresh-114 failed on is_cancelled in order_lines).
    kept = run_sql("SELECT AVG(DISTINCT product_id) FROM order_lines WHERE is_cancelled = 0")
    kept_suggested = kept.text.split("first: ", 1)[1].removesuffix(".")
    assert (
        "JOIN order_facts o ON o.order_id = l.order_id WHERE o.is_cancelled = 0" in kept_suggested
    )
    for query, per_order_sql in (
        (suggested, "SELECT COUNT(DISTINCT product_id) FROM order_lines GROUP BY order_id"),
        (
            kept_suggested,
            "SELECT COUNT(DISTINCT l.product_id) FROM order_lines l JOIN orders o "
            "ON o.order_id = l.order_id WHERE NOT o.is_cancelled GROUP BY l.order_id",
        ),
    ):
        ran = run_sql(query)
        per_order = [r[0] for r in _rows(warehouse, per_order_sql)]
        assert float(ran.payload.rows[0][0]) == pytest.approx(sum(per_order) / len(per_order))
    assert run_sql("SELECT SUM(customer_id) FROM order_facts").failed
    for sql in (
        "SELECT COUNT(DISTINCT product_id) FROM order_lines",
        "SELECT AVG(units) FROM order_facts",
    ):
        assert not run_sql(sql).failed, sql


def test_a_ranking_from_the_largest_topped_by_a_negative_value_runs_the_other_way(
    warehouse, tmp_path
):
    """Cancelled lines hold negative quantities: asked which stock code had the most units
    cancelled, the 1.5B model ranked SUM(quantity) DESC and named the code of a single
    unit, -1 (fresh-116); told so, it gave up. A ranking from the largest topped by a
    negative value runs ascending, the largest in size first, with a note; positive
    values, or a ranking already ascending, run as written."""
    from segassist.tools.context import ToolContext
    from segassist.tools.data_tools import run_sql_tool

    run_sql = run_sql_tool(ToolContext(warehouse, None, tmp_path))
    ranked = "SELECT product_id, -SUM(quantity) AS given_back FROM order_lines GROUP BY product_id "
    most = run_sql(ranked + "ORDER BY given_back ASC LIMIT 1")
    assert not most.failed and most.payload.rows[0][1] < 0 and "Note:" not in most.text
    for order in ("given_back DESC", "-SUM(quantity) DESC"):
        said = run_sql(ranked + f"ORDER BY {order} LIMIT 1")
        assert not said.failed and said.payload.rows == most.payload.rows, order
        assert said.text.startswith("Note: the values ranked are negative"), order
        assert "so this ran ASC, the largest in size first." in said.text
    assert (
        "Note:"
        not in run_sql(
            "SELECT product_id, SUM(quantity) AS n FROM order_lines GROUP BY product_id "
            "ORDER BY n DESC LIMIT 1"
        ).text
    )


def test_a_boolean_compared_with_0_or_1_runs_on_both_databases(warehouse, tmp_path):
    """SQLite keeps booleans as 0 and 1, and the 1.5B model writes `is_cancelled = 0`;
    PostgreSQL refused it ("operator does not exist: boolean = integer"). The same
    counts come back on both."""
    from segassist.tools.context import ToolContext
    from segassist.tools.data_tools import run_sql_tool

    run_sql = run_sql_tool(ToolContext(warehouse, None, tmp_path))
    with warehouse.connect() as conn:
        kept, cancelled = conn.execute(
            text(
                "SELECT SUM(CASE WHEN is_cancelled THEN 0 ELSE 1 END), "
                "SUM(CASE WHEN is_cancelled THEN 1 ELSE 0 END) FROM orders"
            )
        ).one()
    assert kept > 0  # the generated warehouse may hold no cancelled order
    for sql, expected in (
        ("SELECT COUNT(*) AS n FROM order_facts WHERE is_cancelled = 0", kept),
        ("SELECT COUNT(*) AS n FROM order_facts WHERE 1 = is_cancelled", cancelled),
        ("SELECT COUNT(*) AS n FROM orders o WHERE o.is_cancelled <> 1", kept),
    ):
        said = run_sql(sql)
        assert not said.failed, said.text
        assert said.payload.rows == [[expected]], sql


def test_and_inside_or_without_parentheses_is_refused_with_the_grouping_meant(warehouse, tmp_path):
    """Asked for the first quarter's revenue of non-cancelled invoices, the 1.5B model
    wrote `month = '2010-01' OR month = '2010-02' OR month = '2010-03' AND is_cancelled
    = 0`: AND binds first, so January's and February's cancellations were counted, and
    the figure was stated. AND and OR mixed without parentheses are refused with the
    parenthesised condition most likely meant; parenthesised, any grouping runs."""
    from segassist.tools.context import ToolContext
    from segassist.tools.data_tools import run_sql_tool

    run_sql = run_sql_tool(ToolContext(warehouse, None, tmp_path))
    for sql, meant in (
        (
            "SELECT SUM(revenue) FROM order_facts WHERE month = '2024-01' OR month = '2024-02' "
            "AND is_cancelled = 0",
            "(month = '2024-01' OR month = '2024-02') AND is_cancelled = 0",
        ),
        (
            "SELECT COUNT(*) FROM review_facts WHERE year = 2024 AND rating = 1 OR rating = 2",
            "year = 2024 AND (rating = 1 OR rating = 2)",
        ),
        (
            "SELECT COUNT(*) FROM review_facts WHERE rating = 1 AND year = 2024 OR rating = 2 "
            "AND year = 2023",
            "Put parentheses around what belongs together",
        ),
    ):
        said = run_sql(sql)
        assert said.failed and "AND binds before OR" in said.text, sql
        assert meant in said.text, said.text
    for sql in (
        "SELECT SUM(revenue) FROM order_facts WHERE (month = '2024-01' OR month = '2024-02') "
        "AND is_cancelled = 0",
        "SELECT COUNT(*) FROM review_facts WHERE (rating = 1 AND year = 2024) OR "
        "(rating = 2 AND year = 2023)",
        "SELECT COUNT(*) FROM review_facts WHERE rating = 1 OR rating = 2",
    ):
        assert not run_sql(sql).failed, sql


def test_a_group_of_empty_keys_is_pointed_out_with_the_id_to_group_by(warehouse, tmp_path):
    """Asked which product's reviews collected the most helpful votes, the 1.5B model
    grouped Amazon reviews by product title, which that data leaves empty: every review
    fell into one group and "None" was answered. A GROUP BY column whose returned group
    is NULL gets a note naming the id to group by; NULLs elsewhere say nothing."""
    from segassist.tools.context import ToolContext
    from segassist.tools.data_tools import run_sql_tool

    run_sql = run_sql_tool(ToolContext(warehouse, None, tmp_path))
    with warehouse.connect() as conn:
        products, branded = conn.execute(
            text("SELECT COUNT(*), COUNT(brand) FROM product_facts")
        ).one()
    assert products > 0 and branded == 0  # the generator writes no brands
    listed = run_sql(
        "SELECT p.brand, SUM(r.helpful_votes) AS votes FROM review_facts r JOIN product_facts "
        "p ON r.product_id = p.product_id GROUP BY p.brand"
    )
    assert listed.text.startswith(
        "Note: brand is empty (NULL) for some rows, and GROUP BY brand put them all in one "
        "group (the row where it is None); group by product_id to tell them apart."
    )
    assert listed.payload.rows[0][0] is None  # the query ran as written
    # A ranking topped by that group names nothing: it is not a result to answer from.
    ranked = run_sql(
        "SELECT p.brand, SUM(r.helpful_votes) AS votes FROM review_facts r JOIN product_facts "
        "p ON r.product_id = p.product_id GROUP BY p.brand ORDER BY votes DESC LIMIT 3"
    )
    assert ranked.failed and ranked.text.startswith("Result not used: Note: brand is empty")
    # Grouped by the id but named by the empty column (the model's next try; SQLite
    # runs it, PostgreSQL refuses a column outside GROUP BY): the top row still names
    # nothing; with the id beside it, it does.
    by_id = (
        "SELECT {} SUM(r.helpful_votes) AS votes FROM review_facts r JOIN product_facts p "
        "ON r.product_id = p.product_id GROUP BY p.product_id ORDER BY votes DESC LIMIT 1"
    )
    if warehouse.dialect.name == "sqlite":
        unnamed = run_sql(by_id.format("p.brand,"))
        assert unnamed.failed and unnamed.text == (
            "Result not used: Note: brand is empty (NULL) in the top row, so it names "
            "nothing; select product_id as well and name the row by it."
        )
        named = run_sql(by_id.format("p.product_id, p.brand,"))
        assert not named.failed and named.payload.rows[0][0] is not None
    # Grouped by the id and the empty column (the model's try after that): the id keeps
    # the products apart, so nothing is empty in the sense of the note.
    both = run_sql(
        by_id.format("p.product_id, p.brand,").replace(
            "BY p.product_id", "BY p.product_id, p.brand"
        )
    )
    assert not both.failed and "Note:" not in both.text and both.payload.rows[0][0] is not None
    with warehouse.connect() as conn:
        conn.execute(
            text(
                "UPDATE orders SET customer_id = NULL WHERE order_id IN (SELECT "
                "order_id FROM orders ORDER BY order_id LIMIT 40)"
            )
        )
        conn.commit()
    # A ranking topped by the empty group of the id it groups by (anonymous orders by
    # customer_id): told to leave them out, the 1.5B model wrote no query again. It runs
    # without them, and says so.
    top = _rows(
        warehouse,
        "SELECT customer_id, COUNT(*) AS n FROM order_facts WHERE customer_id IS NOT NULL "
        "GROUP BY customer_id ORDER BY n DESC, customer_id LIMIT 1",
    )
    anonymous = run_sql(
        "SELECT customer_id, COUNT(*) AS n FROM order_facts GROUP BY customer_id "
        "ORDER BY n DESC, customer_id LIMIT 1"
    )
    assert not anonymous.failed and anonymous.text.startswith(
        "Note: customer_id is empty (NULL) for some rows, which GROUP BY put in one group "
        "at the top; this ran with customer_id IS NOT NULL, leaving them out."
    )
    assert anonymous.payload.rows == top
    assert "WHERE" in anonymous.payload.sql and "NULL" in anonymous.payload.sql
    listed = run_sql(
        "SELECT customer_id, COUNT(*) AS n FROM order_facts WHERE customer_id IS NULL OR "
        "customer_id < 'SC0000005' GROUP BY customer_id"
    )
    assert "WHERE customer_id IS NOT NULL leaves them out." in listed.text  # not a ranking
    # Single orders ranked, an anonymous one on top (fresh-35: "which customer spent the
    # most?"): told to select customer_id "as well", which it had, the 1.5B model gave up.
    # The note says to leave such rows out, or to rank the customers' own view.
    single = run_sql("SELECT customer_id FROM order_facts ORDER BY order_id LIMIT 1")
    assert single.failed and single.text == (
        "Result not used: Note: customer_id is empty (NULL) in the top row, a row of no "
        "customer, so it names none; leave such rows out (WHERE customer_id IS NOT NULL), "
        "or rank customer_facts (one row per customer, with its totals)."
    )
    # Ranked by a total the customers' view holds too, the query to run is said.
    by_units = run_sql(
        "SELECT customer_id FROM order_facts WHERE customer_id IS NULL ORDER BY units DESC LIMIT 1"
    )
    assert by_units.failed and by_units.text.endswith(
        ": SELECT customer_id, units FROM customer_facts ORDER BY units DESC LIMIT 1."
    )
    _says_nothing(
        run_sql,
        "SELECT category, COUNT(*) AS n FROM product_facts GROUP BY category",
        "SELECT category, MAX(brand) AS b FROM product_facts GROUP BY category",
        "SELECT brand FROM product_facts LIMIT 3",
    )
    # A ranking by a product's name where products have none (Amazon): told to group by
    # product_id, the 1.5B model gave up. A name belongs to one product, so it runs
    # grouped by the id as well, and says so; a brand is shared, and stays refused above.
    with warehouse.connect() as conn:
        conn.execute(text("UPDATE products SET title = NULL"))
        conn.commit()
    for name, sql, votes in (
        (
            "title",
            "SELECT p.title, SUM(r.helpful_votes) AS votes FROM review_facts r JOIN "
            "product_facts p ON r.product_id = p.product_id GROUP BY p.title "
            "ORDER BY votes DESC LIMIT 1",
            "SUM(helpful_votes)",
        ),
        (
            "product_title",
            "SELECT product_title, COUNT(*) AS n FROM review_facts GROUP BY product_title "
            "ORDER BY n DESC LIMIT 1",
            "COUNT(*)",
        ),
    ):
        ((product, most),) = _rows(
            warehouse,
            f"SELECT product_id, {votes} AS v FROM review_facts GROUP BY product_id "
            "ORDER BY v DESC, product_id LIMIT 1",
        )
        named = run_sql(sql)
        assert not named.failed and named.text.startswith(
            f"Note: {name} is empty (NULL) for some rows, which GROUP BY {name} put in one "
            "group at the top; this ran grouped by product_id as well"
        ), named.text
        assert named.payload.rows[0][1] is None and named.payload.rows[0][2] == most
        ties = _rows(
            warehouse,
            f"SELECT product_id FROM review_facts GROUP BY product_id HAVING {votes} = {most}",
        )
        assert [named.payload.rows[0][0]] in ties and [product] in ties


def test_cancelled_orders_picked_by_one_of_their_statuses_are_pointed_out(warehouse, tmp_path):
    """Olist's 'unavailable' orders are cancelled too; status = 'cancelled' counted 21 of
    81 cancelled orders and nothing said so. A status filter that picks only some of
    the cancelled statuses gets a note naming them and is_cancelled."""
    from segassist.tools.context import ToolContext
    from segassist.tools.data_tools import run_sql_tool

    run_sql = run_sql_tool(ToolContext(warehouse, None, tmp_path))
    with warehouse.connect() as conn:  # the generator cancels nothing
        for status in ("cancelled", "unavailable"):
            conn.execute(
                text(
                    "UPDATE orders SET status = :status, is_cancelled = :yes WHERE order_id "
                    "IN (SELECT order_id FROM orders WHERE NOT is_cancelled ORDER BY order_id "
                    "LIMIT 5)"
                ),
                {"status": status, "yes": True},
            )
        conn.commit()
    said = run_sql("SELECT COUNT(*) AS n FROM order_facts WHERE status = 'cancelled'")
    assert said.text.startswith(
        "Note: cancelled orders (is_cancelled) have status 'cancelled', 'unavailable'; this "
        "query reads only 'cancelled'. For cancelled orders, use is_cancelled."
    )
    _says_nothing(
        run_sql,
        "SELECT COUNT(*) AS n FROM order_facts WHERE status IN ('cancelled', 'unavailable')",
        "SELECT COUNT(*) AS n FROM order_facts WHERE status = 'completed'",
        "SELECT COUNT(*) AS n FROM order_facts WHERE is_cancelled",
    )


def test_an_aggregate_over_rows_a_join_repeats_is_refused(warehouse, tmp_path):
    """For "which customer spent the most", the 1.5B model summed order_facts' units
    over its join with order_lines: each order counted once per line. An aggregate of a
    table's columns over a join to a finer table is refused with what to do instead;
    the finer table's own columns, MIN/MAX, COUNT(DISTINCT) and joins on the same
    grain run."""
    from segassist.tools.context import ToolContext
    from segassist.tools.data_tools import run_sql_tool

    run_sql = run_sql_tool(ToolContext(warehouse, None, tmp_path))
    fanned = (
        "SELECT SUM(o.units) AS u FROM order_facts o JOIN order_lines ol "
        "ON o.order_id = ol.order_id"
    )
    with warehouse.connect() as conn:  # what it would have said
        inflated = conn.execute(text(fanned)).scalar()
        units = conn.execute(text("SELECT SUM(units) FROM order_facts")).scalar()
    assert inflated > units
    said = run_sql(fanned)
    assert said.failed and said.text.startswith(
        "SQL not run: SUM(o.units) adds up order_facts (one row per order) joined to "
        "order_lines (several rows per order): each order counts once per matching row of "
        "order_lines."
    )
    averaged = run_sql(
        "SELECT AVG(c.revenue) FROM customer_facts c JOIN order_facts o "
        "ON c.customer_id = o.customer_id WHERE o.units > 1"
    )
    assert averaged.failed and "WHERE customer_id IN (SELECT customer_id FROM order_facts" in (
        averaged.text
    )
    for fine in (
        "SELECT SUM(ol.quantity) FROM order_facts o JOIN order_lines ol ON o.order_id = "
        "ol.order_id WHERE NOT o.is_cancelled",
        "SELECT COUNT(DISTINCT c.customer_id), MAX(c.revenue) FROM customer_facts c JOIN "
        "order_facts o ON c.customer_id = o.customer_id",
        "SELECT SUM(c.revenue) FROM customer_facts c JOIN customers k ON c.customer_id = "
        "k.customer_id",
        "SELECT c.segment_name, SUM(o.revenue) FROM customer_facts c JOIN order_facts o ON "
        "c.customer_id = o.customer_id GROUP BY c.segment_name",
    ):
        assert not run_sql(fine).failed, fine


def test_a_count_grouped_by_a_views_own_key_is_refused(warehouse, tmp_path):
    """Asked which reviewer wrote the most reviews, the 1.5B model counted rows of
    customer_facts per customer_id: 1 on every row, and it named the first customer with
    "1 review" (the top reviewer wrote 42). Refused, naming the view's grain; a count
    grouped by another column, or over a finer table, runs."""
    from segassist.tools.context import ToolContext
    from segassist.tools.data_tools import run_sql_tool

    run_sql = run_sql_tool(ToolContext(warehouse, None, tmp_path))
    said = run_sql(
        "SELECT customer_id, COUNT(*) AS n FROM customer_facts GROUP BY customer_id "
        "ORDER BY n DESC LIMIT 1"
    )
    assert said.failed and said.text.startswith(
        "SQL not run: customer_facts has one row per customer, so COUNT(*) grouped by "
        "customer_id is 1 on every row."
    )
    # ... and where a count with a condition on single rows is made (fresh-94: the most
    # 5-star reviews counted on product_facts, refused twice, then given up on).
    said = run_sql(
        "SELECT product_id, COUNT(*) FROM product_facts WHERE reviews > 0 GROUP BY product_id"
    )
    assert "COUNT(*) FROM review_facts WHERE that condition GROUP BY product_id." in said.text
    assert (
        "FROM order_facts or review_facts WHERE"
        in run_sql(
            "SELECT customer_id, COUNT(*) AS n FROM customer_facts GROUP BY customer_id"
        ).text
    )
    for fine in (
        "SELECT customer_id, COUNT(*) AS n FROM review_facts GROUP BY customer_id "
        "ORDER BY n DESC LIMIT 1",
        "SELECT country, COUNT(*) AS n FROM customer_facts GROUP BY country",
        "SELECT COUNT(*) FROM (SELECT customer_id, COUNT(*) AS n FROM order_facts "
        "GROUP BY customer_id) AS t WHERE n > 1",
    ):
        assert not run_sql(fine).failed, fine


def test_an_aggregate_beside_a_bare_column_needs_group_by(warehouse):
    """`SELECT customer_id, COUNT(*) ... ORDER BY COUNT(*) DESC` (written by the 1.5B model
    for "which customers wrote the most reviews") is one row on SQLite, some customer
    beside the count of all reviews, and an error on PostgreSQL. Refused on both with the
    GROUP BY to add; grouped, windowed and subquery aggregates run."""
    wrong = "SELECT customer_id, COUNT(*) AS n FROM reviews ORDER BY COUNT(*) DESC LIMIT 5"
    if warehouse.dialect.name == "sqlite":  # what it used to return
        with warehouse.connect() as conn:
            rows = conn.execute(text(wrong)).all()
            total = conn.execute(text("SELECT COUNT(*) FROM reviews")).scalar()
        assert len(rows) == 1 and rows[0][1] == total
    with pytest.raises(QueryRejected, match="Add GROUP BY customer_id, or aggregate"):
        run_select(warehouse, wrong)
    grouped = run_select(warehouse, wrong.replace(" ORDER", " GROUP BY customer_id ORDER"))
    counts = [row[1] for row in grouped.rows]
    assert len(counts) == 5 and counts == sorted(counts, reverse=True)
    for fine in (
        "SELECT COUNT(*) AS n FROM reviews",
        "SELECT customer_id, COUNT(*) OVER () AS n FROM reviews",
        "SELECT customer_id, (SELECT COUNT(*) FROM orders) AS n FROM customers",
        "SELECT 'all' AS scope, COUNT(*) AS n FROM reviews",
        "WITH t AS (SELECT customer_id, COUNT(*) AS n FROM reviews GROUP BY customer_id) "
        "SELECT customer_id, n FROM t ORDER BY n DESC",
    ):
        assert run_select(warehouse, fine).rows
    lone_max = "SELECT customer_id, MAX(rating) AS best FROM reviews"
    if warehouse.dialect.name == "sqlite":  # SQLite's documented case: the row holding it
        assert len(run_select(warehouse, lone_max).rows) == 1
    else:
        with pytest.raises(QueryRejected, match="neither grouped nor aggregated"):
            run_select(warehouse, lone_max)


def test_run_sql_groups_by_the_plain_columns_it_was_told_to_group_by(warehouse, tmp_path):
    """Told "Add GROUP BY product_id", the 1.5B model called describe_data instead and the
    question ended on "my last query failed" (fresh-144). run_sql groups by the plain
    columns selected beside the aggregate and says so; an expression still fails."""
    from segassist.tools.context import ToolContext
    from segassist.tools.data_tools import run_sql_tool

    run_sql = run_sql_tool(ToolContext(warehouse, None, tmp_path))
    wrong = "SELECT customer_id, COUNT(*) AS n FROM reviews ORDER BY n DESC LIMIT 1"
    said = run_sql(wrong)
    right = run_sql(wrong.replace(" ORDER", " GROUP BY customer_id ORDER"))
    assert not said.failed and said.payload.rows == right.payload.rows
    assert said.text.startswith(
        "Note: customer_id was neither grouped nor aggregated; this ran GROUP BY customer_id."
    )
    expression = run_sql("SELECT UPPER(customer_id) AS c, COUNT(*) AS n FROM reviews")
    assert expression.failed and "neither grouped nor aggregated" in expression.text


def test_date_parts_run_on_both_engines(warehouse):
    """YEAR(), MONTH(), DAY(), EXTRACT and DATE_PART are not SQLite functions (the 1.5B
    model wrote YEAR() for reviews "in 2012" and got "no such function"): they run as
    SQLite's strftime, as numbers, and give what the rows hold on every engine."""
    with warehouse.connect() as conn:
        rows = conn.execute(text("SELECT reviewed_at FROM reviews"))
        times = [t if isinstance(t, datetime) else datetime.fromisoformat(t) for (t,) in rows]
    year, month = max(times).year, max(times).month
    expected = sum(t.year == year and t.month == month for t in times)
    for where in (
        f"YEAR(reviewed_at) = {year} AND MONTH(reviewed_at) = {month}",
        f"EXTRACT(YEAR FROM reviewed_at) = {year} AND EXTRACT(MONTH FROM reviewed_at) = {month}",
        f"DATE_PART('year', reviewed_at) = {year} AND DATE_PART('month', reviewed_at) = {month}",
    ):
        result = run_select(warehouse, f"SELECT COUNT(*) FROM reviews WHERE {where}")
        assert result.rows[0][0] == expected > 0, where
    days = run_select(warehouse, "SELECT SUM(DAY(reviewed_at)) FROM reviews")
    assert days.rows[0][0] == sum(t.day for t in times)


def test_line_breaks_escaped_twice_read_as_spaces(warehouse):
    """The 1.5B model wrote its query's line breaks as "\\n" inside its JSON, which reached
    run_sql as a backslash and an n, and the query did not parse. Outside quoted strings
    they are spaces; inside one they are the string's own characters."""
    from segassist.tools.sql_guard import unescaped

    with warehouse.connect() as conn:
        expected = conn.execute(text("SELECT COUNT(*) FROM reviews WHERE rating = 5")).scalar()
    result = run_select(warehouse, "SELECT COUNT(*) AS n\\nFROM reviews\\n\\tWHERE rating = 5")
    assert result.rows[0][0] == expected > 0
    assert unescaped("SELECT 'a\\nb' AS s\\nFROM t") == "SELECT 'a\\nb' AS s FROM t"


def test_a_year_or_a_product_of_an_order_view_runs_on_its_date_and_lines(warehouse, tmp_path):
    """The 1.5B model asked order_facts for `year = '2010'` and for COUNT(DISTINCT
    product_id), got "no such column" and gave up. A year runs as the year of the
    view's one date; distinct products run with order_lines joined by order_id, where
    every aggregate is a distinct count (a sum would repeat an order once per line and
    is refused as before); both on SQLite and PostgreSQL, against the rows themselves."""
    from segassist.tools.context import ToolContext
    from segassist.tools.data_tools import run_sql_tool

    run_sql = run_sql_tool(ToolContext(warehouse, None, tmp_path))
    with warehouse.connect() as conn:
        year = conn.execute(text("SELECT MAX(ordered_at) FROM order_facts")).scalar()
        year = (year if isinstance(year, datetime) else datetime.fromisoformat(year)).year
        orders = conn.execute(
            text("SELECT ordered_at FROM order_facts WHERE NOT is_cancelled")
        ).all()
        products = conn.execute(
            text(
                "SELECT COUNT(DISTINCT l.product_id) FROM order_lines l JOIN order_facts o "
                "ON o.order_id = l.order_id WHERE NOT o.is_cancelled"
            )
        ).scalar()
    in_year = sum(
        (t if isinstance(t, datetime) else datetime.fromisoformat(t)).year == year
        for (t,) in orders
    )
    dated = run_sql(
        f"SELECT COUNT(*) AS n FROM order_facts WHERE year = '{year}' AND is_cancelled = false"
    )
    assert not dated.failed and dated.payload.rows[0][0] == in_year > 0
    assert dated.text.startswith(
        "Note: order_facts has no column 'year'; this ran with the year of ordered_at."
    )
    sold = run_sql(
        "SELECT COUNT(DISTINCT product_id) AS n FROM order_facts WHERE is_cancelled = false"
    )
    assert not sold.failed and sold.payload.rows[0][0] == products > 0
    assert "this ran with order_lines joined by order_id" in sold.text
    summed = run_sql("SELECT product_id, SUM(revenue) AS r FROM order_facts GROUP BY product_id")
    assert summed.failed


@pytest.fixture(scope="module")
def olist_run_sql(tmp_path_factory):
    """run_sql on the Olist subset, imported as a user would."""
    from conftest import OLIST, require_data
    from segassist.tools.context import ToolContext
    from segassist.tools.data_tools import run_sql_tool
    from segassist.warehouse.db import migrate, open_engine
    from segassist.warehouse.importers import import_dataset

    folder = tmp_path_factory.mktemp("olist")
    engine = open_engine(f"sqlite:///{folder / 'olist.db'}")
    migrate(engine)
    import_dataset(engine, "olist", [require_data(OLIST)])
    return run_sql_tool(ToolContext(engine, None, folder))


def test_a_state_named_in_full_where_the_data_holds_its_code(olist_run_sql):
    """Asked about "Minas Gerais (MG)", the 1.5B model wrote region = 'Minas Gerais' on
    Olist, which holds state codes, and answered that nothing matched (fresh-60). A
    state's name is read as its code (not always its initials: Mato Grosso is MT), and
    the result of 0 is not used."""
    run_sql = olist_run_sql
    for name, code in (("Minas Gerais", "MG"), ("Mato Grosso", "MT"), ("São Paulo", "SP")):
        said = run_sql(f"SELECT COUNT(*) FROM customer_facts WHERE region = '{name}'")
        assert said.failed and f"(did you mean '{code}' for '{name}'?)" in said.text, said.text
    held = run_sql("SELECT COUNT(*) FROM customer_facts WHERE region = 'MG'")
    assert not held.failed and held.payload.rows[0][0] > 0


def test_a_state_code_compared_with_the_country_is_told_where_states_are(olist_run_sql):
    """Asked about orders "from the state RJ", the 1.5B model wrote country = 'RJ' and was
    told only that country holds 'Brazil' (fresh-137). A code the customers' regions hold
    is said to be a state, with the join that reads it; one they do not hold is not."""
    said = olist_run_sql("SELECT AVG(units) FROM order_facts WHERE country = 'RJ'")
    assert (
        "'RJ' is a state: customer_facts.region = 'RJ' (JOIN customer_facts c ON "
        "c.customer_id = order_facts.customer_id)." in said.text
    ), said.text
    unheld = olist_run_sql("SELECT AVG(units) FROM order_facts WHERE country = 'XQ'")
    assert "never holds 'XQ'" in unheld.text and "is a state" not in unheld.text


def test_a_value_of_a_column_with_many_values_is_matched_without_accents(olist_run_sql):
    """Olist holds 4,000 cities, too many to list, written without accents: city = 'São
    Paulo' counted 0 customers and nothing said so (fresh-152). The same but for accents
    runs on the value held; a near spelling is named, and its 0 is not used; a value like
    none held still says nothing."""
    said = olist_run_sql("SELECT COUNT(*) FROM customer_facts WHERE city = 'São Paulo'")
    held = olist_run_sql("SELECT COUNT(*) FROM customer_facts WHERE city = 'sao paulo'")
    assert not said.failed and said.payload.rows == held.payload.rows, said.text
    assert said.text.startswith("Note: customer_facts.city holds 'sao paulo' for 'São Paulo'")
    near = olist_run_sql("SELECT COUNT(*) FROM customer_facts WHERE city = 'Sao Paolo'")
    assert near.failed and "(did you mean 'sao paulo' for 'Sao Paolo'?)" in near.text, near.text
    nothing = olist_run_sql("SELECT COUNT(*) FROM customer_facts WHERE city = 'Zzyzx Qwv'")
    assert not nothing.failed and "Note:" not in nothing.text


def test_a_facts_view_joined_to_add_up_its_own_totals_is_told_they_are_held(olist_run_sql):
    """Asked for the category with most revenue, the 1.5B model joined product_facts to
    order_facts to add up price * units, was refused for the fan-out and never answered
    (fresh-155). The refusal says the view holds those totals, with the grouped query."""
    said = olist_run_sql(
        "SELECT p.category, SUM(p.price * o.units) AS total FROM product_facts p JOIN "
        "order_facts o ON p.product_id = o.product_id GROUP BY p.category ORDER BY total DESC"
    )
    told = (
        "For example SELECT category, SUM(revenue) AS revenue FROM product_facts GROUP BY "
        "category ORDER BY revenue DESC."
    )
    assert said.failed and "product_facts already holds each one's" in said.text
    assert told in said.text
    assert not olist_run_sql(told.removeprefix("For example ").rstrip(".")).failed


def test_a_category_named_as_the_source_names_it_runs_on_the_name_stored(olist_run_sql):
    """Olist's categories are stored in English ('health_beauty') from its translation
    file; asked for the average item price of "beleza_saude", the 1.5B model compared
    category with the Portuguese name, got NULL and answered "None" (fresh-119). The
    source's name is read as the stored one, said in a note; a name no source gives still
    finds nothing."""
    asked = "SELECT AVG(price) AS p, COUNT(*) AS n FROM product_facts WHERE category = '{}'"
    stored = olist_run_sql(asked.format("health_beauty"))
    renamed = olist_run_sql(asked.format("beleza_saude"))
    assert not renamed.failed and renamed.payload.rows == stored.payload.rows
    assert stored.payload.rows[0][1] > 0 and "Note:" not in stored.text
    assert renamed.text.startswith(
        "Note: the warehouse stores 'beleza_saude' as 'health_beauty' (the same value, another "
        "name); this ran so."
    )
    both = olist_run_sql(
        "SELECT COUNT(*) FROM product_facts WHERE category IN ('beleza_saude', 'automotivo')"
    )
    assert (
        "'automotivo' as 'auto'" in both.text
        and both.payload.rows[0][0] > stored.payload.rows[0][1]
    )
    unknown = olist_run_sql(asked.format("no_such_category"))
    assert unknown.payload.rows[0][1] == 0 and "stores" not in unknown.text
