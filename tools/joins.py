"""Joins that repeat rows: an aggregate over a table joined to a finer one.

`SUM(o.units * ol.unit_price) FROM order_facts o JOIN order_lines ol ON o.order_id =
ol.order_id` adds each order's units once per line of it (the 1.5B model's answer
to "which customer spent the most" was 49 times the truth); `AVG(c.revenue)` over
customer_facts joined to order_facts weighs each customer by their orders. The
coarse table's rows are repeated by the join (a fan trap), so SUM, AVG and COUNT of
its columns are wrong; MIN, MAX and COUNT(DISTINCT ...) are not, and neither is
anything over the finer table's own columns.

A table's grain is known from its key: a view's (`warehouse.semantic.VIEW_KEYS`) or
a table's single-column primary key. Joined on that key to a table where the same
column is not the key, its rows repeat.
"""

from __future__ import annotations

from segassist.tools.schema_text import table_keys
from segassist.warehouse.schema import AGENT_READABLE_TABLES
from segassist.warehouse.semantic import VIEWS

_REPEATED_BY = ("Sum", "Avg", "Count")  # aggregates a repeated row changes


def repeated_rows(sql: str, dialect: str) -> str | None:
    """Why an aggregate of this query adds rows its joins repeat, or None."""
    import sqlglot
    from segassist.tools.schema_text import readable_columns
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError:
        return None
    keys, readable = table_keys(), readable_columns()
    for select in tree.find_all(exp.Select):
        joins = select.args.get("joins") or []
        source = select.args.get("from_") or select.args.get("from")
        if not joins or source is None:
            continue
        tables = {
            t.alias_or_name: t.name
            for t in [source.this, *(j.this for j in joins)]
            if isinstance(t, exp.Table) and t.name in keys
        }
        repeated: dict[str, str] = {}  # alias -> the alias whose rows repeat it
        for join in joins:
            on = join.args.get("on")
            for eq in on.find_all(exp.EQ) if on is not None else []:
                left, right = eq.this, eq.expression
                if not (isinstance(left, exp.Column) and isinstance(right, exp.Column)):
                    continue
                for a, b in ((left, right), (right, left)):
                    if a.table in tables and b.table in tables and a.table != b.table:
                        key = keys[tables[a.table]]
                        if a.name == key and keys[tables[b.table]] != b.name:
                            repeated.setdefault(a.table, b.table)
        if not repeated:
            continue
        for aggregate in select.find_all(*(getattr(exp, n) for n in _REPEATED_BY)):
            if aggregate.find_ancestor(exp.Select) is not select:
                continue  # a subquery's own aggregate
            if isinstance(aggregate.this, (exp.Distinct, exp.Star)):
                continue
            for column in aggregate.find_all(exp.Column):
                owners = (
                    [column.table]
                    if column.table
                    else [a for a, t in tables.items() if column.name in readable.get(t, ())]
                )
                if (
                    len(owners) == 1
                    and owners[0] in repeated
                    and column.name in readable.get(tables[owners[0]], ())
                ):  # a column it lacks is the database's error to report first
                    coarse, fine = tables[owners[0]], tables[repeated[owners[0]]]
                    key = keys[coarse]
                    one = key.removesuffix("_id")
                    return (
                        f"{aggregate.sql(dialect=dialect)} adds up {coarse} (one row per {one}) "
                        f"joined to {fine} (several rows per {one}): each {one} counts once "
                        f"per matching row of {fine}. Aggregate the columns of {fine} alone, "
                        f"or those of {coarse} without the join (to filter by {fine}: WHERE "
                        f"{key} IN (SELECT {key} FROM {fine} WHERE ...))."
                        + _totals_held(select, coarse, owners[0], tables, readable)
                    )
    return None


def _totals_held(select, coarse: str, alias: str, tables: dict, readable: dict) -> str:
    """Where a facts view already holds each one's totals, say so, with the query grouped
    as the one refused: asked for the category with most revenue, the 1.5B model joined
    product_facts to order_facts to add up price * units, and failed (fresh-155)."""
    held = [c for c in ("orders", "units", "revenue", "reviews") if c in readable.get(coarse, ())]
    if not coarse.endswith("_facts") or not held:
        return ""
    group = select.args.get("group")
    keys = [
        k.name
        for k in (group.expressions if group else [])
        if k.name in readable[coarse] and (not k.table or tables.get(k.table) == coarse)
    ]
    example = (
        f" For example SELECT {', '.join(keys)}, SUM(revenue) AS revenue FROM {coarse} GROUP BY "
        f"{', '.join(keys)} ORDER BY revenue DESC."
        if keys and "revenue" in held
        else ""
    )
    return (
        f" {coarse} already holds each one's {', '.join(held)} (cancellations left out): add "
        f"those up without the join.{example}"
    )


def counted_per_key(sql: str, dialect: str) -> str | None:
    """Why a COUNT grouped by a table's own key counts nothing, or None. customer_facts
    holds one row per customer, so `SELECT customer_id, COUNT(*) FROM customer_facts
    GROUP BY customer_id` is 1 on every row: the 1.5B model ranked reviewers by it and
    named the first of them as the one with the most reviews (1 review, for 42)."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        return None
    keys = table_keys()
    for select in tree.find_all(exp.Select):
        source = select.args.get("from_") or select.args.get("from")
        group = select.args.get("group")
        if select.args.get("joins") or source is None or group is None:
            continue
        table = source.this
        key = keys.get(table.name) if isinstance(table, exp.Table) else None
        grouped = {c.name for c in group.expressions if isinstance(c, exp.Column)}
        if key is None or key not in grouped:
            continue
        counts = [
            c
            for c in select.find_all(exp.Count)
            if c.find_ancestor(exp.Select) is select
            and all(col.table in ("", table.alias_or_name) for col in c.find_all(exp.Column))
        ]  # of its own rows: COUNT(r.review_id) with r undefined is the database's to report
        if counts:
            one = key.removesuffix("_id")
            finer = " or ".join(_finer_views(table.name, key))
            per_row = (
                f" To count only the rows of each {one} that meet a condition of single "
                f"reviews or orders (a rating, a year, a status): COUNT(*) FROM {finer} "
                f"WHERE that condition GROUP BY {key}."
                if finer
                else ""
            )
            return (
                f"{table.name} has one row per {one}, so {counts[0].sql(dialect=dialect)} "
                f"grouped by {key} is 1 on every row. Its own columns hold what each {one} "
                f"adds up to (such as reviews or orders): select and order by those.{per_row}"
            )
    return None


def _finer_views(table: str, key: str) -> list[str]:
    """The summary views other than `table` holding several rows per `key` (review_facts
    and order_facts for customer_id): where a count with a condition on single rows is
    made. Without one (product_id is in no finer view), the readable tables that are."""
    from segassist.tools.schema_text import readable_columns

    keys, readable = table_keys(), readable_columns()

    def finer(name: str) -> bool:
        return name != table and key in readable.get(name, ()) and keys.get(name) != key

    views = [name for name in VIEWS if finer(name)]
    return views or [n for n in AGENT_READABLE_TABLES if n == "order_lines" and finer(n)]
