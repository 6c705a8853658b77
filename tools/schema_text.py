"""The warehouse described for the model: tables, columns and what they mean, row counts,
the dialect's date idiom, and hints that turn a failed query into a fixable one."""

from __future__ import annotations

import functools
import re

from segassist.warehouse.queries import list_segments, serving_version_id
from segassist.warehouse.schema import AGENT_READABLE_TABLES, BEHAVIOUR_TABLES, Base
from segassist.warehouse.semantic import SYNONYMS, VIEWS, semantic_text
from sqlalchemy import Engine, func, select


def describe_data_text(engine: Engine) -> str:
    """The semantic views and metric definitions, then the tables, columns with their
    meaning, row counts and the segment catalogue."""
    lines = [semantic_text(), "Tables (SQL dialect: " + engine.dialect.name + "):"]
    with engine.connect() as conn:
        for name in (*BEHAVIOUR_TABLES, "customer_scores", "segments"):
            table = Base.metadata.tables[name]
            count = conn.execute(select(func.count()).select_from(table)).scalar_one()
            lines.append(f"- {name} ({count:,} rows): {table.comment or ''}")
            for column in table.columns:
                note = f" -- {column.comment}" if column.comment else ""
                lines.append(f"    {column.name} {column.type}{note}")
    version = serving_version_id(engine)
    if version:
        lines.append(f"Segments (model {version}; customer_scores.model_version = '{version}'):")
        for seg in list_segments(engine, version):
            lines.append(f"- {seg.facts()[0]}")
    else:
        lines.append("No segments yet (no trained model).")
    return "\n".join(lines)


_TABLE_LINE = re.compile(r"^- (\w+) \(([\d,]+) rows\)", re.M)


def described_figures(text: str) -> str:
    """The figures of a describe_data text that are data: each table's row count and the
    segment catalogue. Its column meanings ("stars, 1 (worst) to 5 (best)", "e.g. 2013")
    are not."""
    counts = [f"{name}: {rows} rows" for name, rows in _TABLE_LINE.findall(text)]
    _, heading, segments = text.partition("\nSegments (model ")
    return "\n".join([*counts, heading.strip() + segments] if heading else counts)


# How to write dates and shares in each dialect (the model otherwise mixes them up).
_DIALECT_HINTS = {
    "sqlite": (
        "SQLite: year of a timestamp strftime('%Y', ordered_at) = '2013'; month "
        "strftime('%Y-%m', ordered_at) = '2009-12'; booleans are 0/1."
    ),
    "postgresql": (
        "PostgreSQL: year EXTRACT(YEAR FROM ordered_at) = 2013; month "
        "to_char(ordered_at, 'YYYY-MM') = '2009-12'; booleans are true/false."
    ),
}


def schema_summary(engine: Engine) -> str:
    """The semantic views and the metric definitions, then the tables in a few lines each,
    for the system prompt: columns, meanings, row counts.

    Small models write better SQL when the schema is in front of them than when
    they must first call describe_data; empty tables are named so the model does
    not query them.
    """
    lines, empty = [semantic_text(), "Tables:"], []
    with engine.connect() as conn:
        for name in (*BEHAVIOUR_TABLES, "customer_scores", "segments"):
            table = Base.metadata.tables[name]
            count = conn.execute(select(func.count()).select_from(table)).scalar_one()
            if count == 0:
                empty.append(name)
                continue
            columns = ", ".join(
                column.name + (f" ({column.comment.rstrip('.')[:90]})" if column.comment else "")
                for column in table.columns
            )
            lines.append(f"- {name} [{count:,} rows]: {columns}")
    if empty:
        lines.append(f"Empty tables (no data; do not query): {', '.join(empty)}.")
    hint = _DIALECT_HINTS.get(engine.dialect.name)
    if hint:
        lines.append(hint)
    return "\n".join(lines)


_MISSING_COLUMN = re.compile(
    r'no such column: (?:(\w+)\.)?(\w+)|column "?(?:(\w+)\.)?(\w+)"? does not exist'
    r'|missing FROM-clause entry for table "(\w+)"()',
    re.I,
)


@functools.cache
def readable_columns() -> dict[str, list[str]]:
    """Every table and view the agent may read -> its columns, the views first."""
    columns = {name: list(described) for name, (_, described) in VIEWS.items()}
    columns |= {
        name: list(Base.metadata.tables[name].columns.keys())
        for name in AGENT_READABLE_TABLES
        if name in Base.metadata.tables
    }
    return columns


@functools.cache
def _typed_columns() -> dict[str, dict[str, str | None]]:
    """Every readable table and view -> its columns -> what each holds that is not words
    ("a number": a count, an amount; "a true/false flag"), None for text; columns whose
    type the view does not fix (a month) are left out."""
    from segassist.warehouse.semantic import view_select
    from sqlalchemy import Boolean, Float, Integer, Numeric, String, Text

    def kind(column) -> str | None:
        if isinstance(column.type, Boolean):
            return "a true/false flag"
        return "a number" if isinstance(column.type, Float | Integer | Numeric) else None

    def kinds(columns) -> dict[str, str | None]:
        return {
            c.name: kind(c)
            for c in columns
            if isinstance(c.type, Boolean | Float | Integer | Numeric | String | Text)
        }

    typed = {name: kinds(view_select(name, "sqlite").selected_columns) for name in VIEWS}
    typed |= {
        name: kinds(Base.metadata.tables[name].columns)
        for name in AGENT_READABLE_TABLES
        if name in Base.metadata.tables
    }
    return typed


def _parsed(sql: str, dialect: str):
    """The query as sqlglot reads it, or None where it cannot (run_sql then reports the
    database's own error)."""
    import sqlglot

    try:
        return sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        return None


def words_matched_on_number(sql: str, dialect: str) -> str | None:
    """Why a LIKE compares a column of numbers with words, or None. SQLite runs
    `reviews LIKE '%tuner%'` (customer_facts.reviews, a count) and finds nothing, which
    the 1.5B model answered as "no review mentions tuner"; PostgreSQL refuses it. Both
    refuse it here, with where the words are."""
    from sqlglot import exp

    tree = _parsed(sql, dialect)
    if tree is None:
        return None
    typed = _typed_columns()
    used = _tables_used(tree, typed)
    for like in tree.find_all(exp.Like, exp.ILike):
        column, pattern = like.this, like.expression
        while isinstance(column, exp.Lower | exp.Upper | exp.Trim | exp.Cast | exp.TryCast):
            column = column.this  # LOWER(reviews) LIKE '%tuner%' finds no words either
        if not (isinstance(column, exp.Column) and isinstance(pattern, exp.Literal)):
            continue
        if not pattern.is_string or not re.search(r"[^\W\d_]", pattern.this):
            continue  # a month LIKE '2011-%' is no word
        table = used.get(column.table) if column.table else None
        if table is None and not column.table and len(set(used.values())) == 1:
            table = next(iter(used.values()))
        holds = typed[table].get(column.name) if table is not None else None
        if holds is None:
            continue
        meaning = VIEWS[table][1].get(column.name) if table in VIEWS else None
        said = f" ({meaning})" if meaning else ""
        return (
            f"{table}.{column.name} is {holds}{said}, so LIKE '{pattern.this}' matches "
            "nothing. Words are in text columns: what customers wrote in review_facts.text "
            "and review_facts.title, product names in product_facts.title (LOWER(text) "
            "LIKE '%word%' finds any case)."
        )
    return None


def and_terms(where, unnest: bool = True) -> list:
    """The conditions a WHERE joins with AND; with `unnest=False`, a bracketed group stays
    one condition, brackets kept (its SQL is written back as it was)."""
    from sqlglot import exp

    if not isinstance(where.this, exp.And):
        return [where.this]
    return list(where.this.flatten(unnest=unnest))


def never_both(sql: str, dialect: str, counts: str | None = None) -> str | None:
    """Why a WHERE asks one column of a row for two values at once (or for one value and
    not another, which the first already says), or None. Asked how many
    customers wrote reviews in both 2012 and 2013, the 1.5B model ran `WHERE year = '2012'
    AND year = '2013'`, which holds on no row, and counted 0 for 407. The advice's subquery
    is on the id of what the question counts (`counts`), else what the query counts
    distinct, else the first entity id the table holds."""
    from sqlglot import exp

    tree = _parsed(sql, dialect)
    if tree is None:
        return None
    columns = readable_columns()
    used = _tables_used(tree, columns)
    for where in tree.find_all(exp.Where):
        terms = and_terms(where)
        compared = [
            term
            for term in terms
            if isinstance(term, (exp.EQ, exp.NEQ))
            and isinstance(term.this, exp.Column)
            and isinstance(term.expression, exp.Literal)
        ]
        held: dict[tuple[str, str], exp.Literal] = {}
        for term in sorted(compared, key=lambda t: isinstance(t, exp.NEQ)):  # = first
            column, value = term.this, term.expression
            other = held.get((column.table, column.name))
            if other is None:
                if isinstance(term, exp.EQ):
                    held[column.table, column.name] = value
                continue
            if str(other.this) == str(value.this):  # 2012 and '2012' are one value
                continue
            name = column.sql(dialect=dialect)
            first, second = other.sql(dialect=dialect), value.sql(dialect=dialect)
            table = used.get(column.table) if column.table else None
            if table is None and len(set(used.values())) == 1:
                table = next(iter(used.values()))
            key = _entity_key(tree, columns.get(table, []), counts)
            rows = (
                f"(SELECT {key} FROM {table or '<the same table>'} WHERE {column.name} = {second})"
            )
            if isinstance(term, exp.NEQ):  # "in 2013 but none in 2014" (fresh-17)
                return (
                    f"{name} = {first} AND {name} <> {second} keeps the same rows as {name} = "
                    f"{first} alone (a row has one {column.name}). For those with no row of "
                    f"{second}, find those in a subquery and leave them out: WHERE {name} = "
                    f"{first} AND {key} NOT IN {rows}."
                )
            return (
                f"{name} = {first} AND {name} = {second} holds on no row (a row has one "
                f"{column.name}), so this finds nothing. For those with rows of both, keep "
                f"one in the WHERE and find the other in a subquery: WHERE {name} = "
                f"{first} AND {key} IN {rows}."
            )
    return None


def counted_within_its_group(sql: str, dialect: str, counts: str | None = None) -> str | None:
    """Why a query counts the distinct values of a column it groups by, or None: in each
    group of GROUP BY year, COUNT(DISTINCT year) is 1. Asked how many reviewers wrote
    reviews in at least three different years, the 1.5B model wrote `WHERE year IN
    (SELECT year FROM review_facts GROUP BY year HAVING COUNT(DISTINCT year) >= 3)` and
    answered that there were none (fresh-62). The advice groups by the entity instead
    (`counts`, else what the query counts distinct, else the table's first id)."""
    from sqlglot import exp

    tree = _parsed(sql, dialect)
    if tree is None:
        return None
    columns = readable_columns()
    used = _tables_used(tree, columns)
    for query in tree.find_all(exp.Select):
        group = query.args.get("group")
        keys = {c.name for c in group.find_all(exp.Column)} if group else set()
        for count in query.find_all(exp.Count):
            distinct = count.this
            if count.find_ancestor(exp.Select) is not query or not isinstance(
                distinct, exp.Distinct
            ):
                continue
            names = [c.name for c in distinct.expressions if isinstance(c, exp.Column)]
            if len(names) != 1 or names[0] not in keys:
                continue
            tables = [used.get(t.alias_or_name) for t in query.find_all(exp.Table)]
            table = next((t for t in tables if t), "<the table>")
            own = columns.get(table, [])
            key = _entity_key(tree, own, counts)
            if key == names[0]:
                key = next((k for k in _ENTITY_VIEWS if k in own and k != key), "customer_id")
            having = count.find_ancestor(exp.Having)
            condition = (
                having.this.sql(dialect=dialect) if having else f"{count.sql(dialect=dialect)} ..."
            )
            return (
                f"{count.sql(dialect=dialect)} is 1 in every group of GROUP BY {names[0]} (a "
                f"group holds one {names[0]}), so it tells nothing. To count the {names[0]}s "
                f"each {key.removesuffix('_id')} has, group by {key}: SELECT COUNT(*) FROM "
                f"(SELECT {key} FROM {table} GROUP BY {key} HAVING {condition}) AS t."
            )
    return None


def fixed_aggregate(sql: str, dialect: str) -> str | None:
    """Why a query averages (or takes the least or most of) a column its own WHERE fixes
    to one value, or None. Asked how many reviews have 1 star, the 1.5B model counted
    them (60), then ran `SELECT AVG(rating) ... WHERE rating = 1`, and the answer
    read the 1."""
    from sqlglot import exp

    tree = _parsed(sql, dialect)
    if tree is None:
        return None
    for query in tree.find_all(exp.Select):
        where = query.args.get("where")
        if where is None:
            continue
        terms = and_terms(where)
        fixed = {
            term.this.name: term.expression
            for term in terms
            if isinstance(term, exp.EQ)
            and isinstance(term.this, exp.Column)
            and isinstance(term.expression, exp.Literal)
        }
        for node in query.find_all(exp.Avg, exp.Min, exp.Max):
            column = node.this
            if node.find_ancestor(exp.Select) is not query or not isinstance(column, exp.Column):
                continue
            if column.name in fixed:
                value = fixed[column.name].sql(dialect=dialect)
                return (
                    f"{node.sql(dialect=dialect)} is {value} on every row this WHERE keeps "
                    f"({column.name} = {value}), so it tells nothing. Leave it out: count "
                    "the rows (COUNT(*)), or aggregate another column."
                )
    return None


def averaged_ids(sql: str, dialect: str) -> str | None:
    """Why a query averages or sums an id, or None: asked how many distinct products a
    non-cancelled invoice holds on average, the 1.5B model ran `AVG(DISTINCT product_id)`
    and answered 47,576.26 products (fresh-114). Says how to count per row of the grain
    first, on the table the id comes from."""
    from sqlglot import exp

    tree = _parsed(sql, dialect)
    if tree is None:
        return None
    columns = readable_columns()
    used = _tables_used(tree, columns)
    for node in tree.find_all(exp.Avg, exp.Sum):
        column = node.this.expressions[0] if isinstance(node.this, exp.Distinct) else node.this
        if not isinstance(column, exp.Column) or not column.name.endswith("_id"):
            continue
        owners = _owners(column, used, columns)
        said = (
            f"{node.sql(dialect=dialect)} {'averages' if isinstance(node, exp.Avg) else 'adds'}"
            " the ids themselves, which means nothing."
        )
        keys = [
            k
            for k in ("order_id", "customer_id", "product_id")
            if owners and k in columns[owners[0]] and k != column.name
        ]
        if keys:
            key, owner = keys[0], owners[0]
            source, where, counted = owner, "", column.name
            select = node.find_ancestor(exp.Select)
            condition = select.args.get("where") if select is not None else None
            if condition is not None:
                # The query's own conditions, inside; a column of the order's rather than
                # the line's (is_cancelled) through order_facts (fresh-114 second run).
                condition = condition.this.copy()
                foreign = [
                    c for c in condition.find_all(exp.Column) if c.name not in columns[owner]
                ]
                if foreign and owner == "order_lines":
                    if any(c.name not in columns["order_facts"] for c in foreign):
                        condition = None
                    else:
                        source = "order_lines l JOIN order_facts o ON o.order_id = l.order_id"
                        for c in condition.find_all(exp.Column):
                            c.set("table", exp.to_identifier("o" if c in foreign else "l"))
                        key, counted = f"l.{key}", f"l.{column.name}"
                elif foreign:
                    condition = None
                where = f" WHERE {condition.sql(dialect=dialect)}" if condition else ""
            said += (
                f" To average how many {column.name} each {keys[0].removesuffix('_id')} has, "
                f"count them per {keys[0]} first: SELECT AVG(n) FROM (SELECT {key}, "
                f"COUNT(DISTINCT {counted}) AS n FROM {source}{where} "
                f"GROUP BY {key}) AS t"
                + ("." if condition is None or where else " (with your conditions inside).")
            )
        return said
    return None


def negative_top(sql: str, columns: list[str], top: list, dialect: str) -> tuple[str, str] | None:
    """(the ranking ordered the other way, a note) where a ranking ordered from the largest
    is topped by a negative value, or None: cancelled and returned lines hold negative
    quantities, so asked which stock code had the most units cancelled, the 1.5B model's
    `ORDER BY SUM(quantity) DESC` put a single unit (-1) first (fresh-116: 15039 for
    84347, -9,374 units); told so, it gave up. The largest in size is the most negative."""
    from sqlglot import exp

    tree = _parsed(sql, dialect)
    order = tree.find(exp.Order) if tree is not None else None
    if order is None or not order.expressions or not order.expressions[0].args.get("desc"):
        return None
    ordered = order.expressions[0].this
    names = {ordered.alias_or_name, ordered.sql(dialect=dialect)}
    at = next(  # by position: PostgreSQL names an unnamed expression "?column?"
        (
            i
            for i, e in enumerate(tree.selects)
            if e.alias_or_name in names or e.unalias().sql(dialect=dialect) in names
        ),
        None,
    )
    value = top[at] if at is not None and at < len(top) and len(top) == len(columns) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value >= 0:
        return None
    order.expressions[0].set("desc", False)
    return tree.sql(dialect=dialect), (
        f"Note: the values ranked are negative (cancellations and returns are stored as "
        f"negative quantities): ORDER BY {ordered.sql(dialect=dialect)} DESC put the smallest "
        f"first ({value}), so this ran ASC, the largest in size first."
    )


def and_inside_or(sql: str, dialect: str) -> str | None:
    """Why a condition mixes AND and OR without parentheses, or None. AND binds first:
    asked for the first quarter's revenue of non-cancelled invoices, the 1.5B model wrote
    `month LIKE '2010-01' OR month LIKE '2010-02' OR month LIKE '2010-03' AND
    is_cancelled = 0`, which counts January's and February's cancellations too, and
    answered from it. Parenthesised, any grouping runs."""
    from sqlglot import exp

    tree = _parsed(sql, dialect)
    if tree is None:
        return None
    for node in tree.find_all(exp.Or):
        if isinstance(node.parent, exp.Or):
            continue  # the top of the chain of ORs reads all of it
        alternatives = list(node.flatten(unnest=False))  # (a AND b) OR c is clear
        mixed = [a for a in alternatives if isinstance(a, exp.And)]
        if not mixed:
            continue

        def text(parts, joiner):
            return f" {joiner} ".join(p.sql(dialect=dialect) for p in parts)

        last, first = alternatives[-1], alternatives[0]
        if mixed == [last]:  # a OR b OR c AND d: d meant for all, most likely
            conditions = list(last.flatten(unnest=False))
            choices = [*alternatives[:-1], conditions[0]]
            meant = f"({text(choices, 'OR')}) AND {text(conditions[1:], 'AND')}"
            alone = text(conditions[1:], "AND")
            only = conditions[0].sql(dialect=dialect)
        elif mixed == [first]:  # a AND b OR c: a meant for all
            conditions = list(first.flatten(unnest=False))
            choices = [conditions[-1], *alternatives[1:]]
            meant = f"{text(conditions[:-1], 'AND')} AND ({text(choices, 'OR')})"
            alone = text(conditions[:-1], "AND")
            only = conditions[-1].sql(dialect=dialect)
        else:
            return (
                f"AND binds before OR in {node.sql(dialect=dialect)}, so each AND holds for "
                "one alternative only. Put parentheses around what belongs together and "
                "run it again."
            )
        return (
            f"AND binds before OR, so {alone} holds only where {only}, not on the other "
            f"alternatives. If it is meant for all of them, write {meant} (parentheses "
            "around what belongs together) and run it again."
        )
    return None


# A value the model left for the user to fill in: 'your_segment_id', '<customer_id>',
# '{segment}', 'segment_id_here'. Asked for the size of the segment with the lowest churn
# risk, the 1.5B model ran `WHERE segment_id = 'your_segment_id'`, found nothing, and
# answered from nothing. Underscored or bracketed only: 'The Beatles' is a title.
_PLACEHOLDER = re.compile(
    r"^\s*(?:<[^<>]+>|\{[^{}]+\}|\[[^\[\]]+\]|:[a-z_]+|\?+|\.{3}|x{3,}"
    r"|(?:your|my|some|the|insert|enter|specific|target|given|desired|chosen|selected)_\w+"
    r"|your\s+(?:\w+\s+)?(?:id|name|value|segment|customer|product|country)"
    r"|\w+_(?:here|placeholder)|placeholder\w*|example_\w+)\s*$",
    re.I,
)


def placeholder_value(sql: str, dialect: str) -> str | None:
    """Why a query compares a column with a placeholder instead of a value, or None: a
    literal shaped like one ('your_segment_id', '<customer_id>') or the column's own name
    (segment_id = 'segment_id')."""
    from sqlglot import exp

    tree = _parsed(sql, dialect)
    if tree is None:
        return None
    for node in tree.find_all(exp.EQ, exp.NEQ, exp.In):
        column = node.this if isinstance(node.this, exp.Column) else None
        values = node.expressions if isinstance(node, exp.In) else [node.expression]
        for value in values:
            if column is None or not (isinstance(value, exp.Literal) and value.is_string):
                continue
            said = value.this
            if _PLACEHOLDER.match(said) or said.strip().lower() == column.name.lower():
                return (
                    f"'{said}' in {column.sql(dialect=dialect)} = '{said}' is a placeholder, "
                    "not a value in the data, so it matches nothing. Find the value in the "
                    "same query instead: a subquery such as "
                    f"{column.name} = (SELECT {column.name} FROM ... ORDER BY ... LIMIT 1), "
                    "or run a query for it first and use the value it returns."
                )
    return None


def _entity_key(tree, own: list[str], counts: str | None) -> str:
    """The id a query's rows are grouped into entities by: the counted entity's, when the
    table holds it; else the one column the query counts distinct; else the table's
    first entity id (customer_id when nothing tells)."""
    from sqlglot import exp

    if counts and f"{counts}_id" in own:
        return f"{counts}_id"
    distinct = {
        column.name
        for node in tree.find_all(exp.Distinct)
        for column in node.expressions
        if isinstance(column, exp.Column) and column.name in own
    }
    if len(distinct) == 1:
        return distinct.pop()
    return next((key for key in _ENTITY_VIEWS if key in own), "customer_id")


def _missing(sql: str, error: str, dialect: str | None = None):
    """(alias or None, column, parsed query) for an error about a missing column; None
    for any other error or SQL that does not parse."""
    import sqlglot
    from sqlglot import exp

    match = _MISSING_COLUMN.search(error)
    if not match:
        return None
    alias = match.group(1) or match.group(3) or match.group(5)
    column = match.group(2) or match.group(4)
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError:
        return None
    if not column:  # PostgreSQL names only the alias: take the first column used with it
        column = next((c.name for c in tree.find_all(exp.Column) if c.table == alias), "")
    return alias, column, tree


def _owners(column, used: dict[str, str], columns: dict[str, list[str]]) -> list[str]:
    """The readable tables a query's column may come from: its alias's table, else each
    table the query reads that has a column of that name (one: the column is clear)."""
    if column.table in used:
        return [used[column.table]]
    return [t for t in dict.fromkeys(used.values()) if column.name in columns[t]]


def _tables_used(tree, columns: dict[str, list[str]]) -> dict[str, str]:
    """Alias (or name) -> readable table, for the tables a query reads."""
    from sqlglot import exp

    return {
        table.alias_or_name: table.name
        for table in tree.find_all(exp.Table)
        if table.name in columns
    }


def _own_tables(select) -> list:
    """The Table nodes a SELECT reads itself, not its subqueries' (none for no SELECT)."""
    from sqlglot import exp

    if select is None:
        return []
    return [t for t in select.find_all(exp.Table) if t.find_ancestor(exp.Select) is select]


def _unresolved(nodes: list, columns: dict[str, list[str]], wanted: str) -> list:
    """The uses of a missing column that no table of their own SELECT holds: in `AVG(price)
    FROM order_lines WHERE product_id IN (SELECT ... FROM product_facts WHERE price IS
    NOT NULL)` only the outer one is missing (fresh-91, second run); all where each
    SELECT holds it."""
    from sqlglot import exp

    missing = [
        n
        for n in nodes
        if not any(
            wanted in columns.get(t.name, ()) for t in _own_tables(n.find_ancestor(exp.Select))
        )
    ]
    return missing or nodes


def _in_scope(nodes: list, used: dict[str, str]) -> dict[str, str]:
    """The tables of `used` an unqualified column can be read from: those of the one
    SELECT every use of it is in, not its subqueries' (AVG(price) FROM order_lines WHERE
    product_id IN (SELECT ... FROM product_facts) means order_lines.unit_price, not
    product_facts.price: fresh-91); all of `used` where the uses are in several."""
    from sqlglot import exp

    scopes = {id(n.find_ancestor(exp.Select)) for n in nodes}
    if len(scopes) != 1:
        return used
    own = {t.alias_or_name for t in _own_tables(nodes[0].find_ancestor(exp.Select))}
    return {k: v for k, v in used.items() if k in own} or used


def sql_error_hint(sql: str, error: str) -> str:
    """For a query naming a column that is not there: the columns of the tables it uses,
    where a column of that name does live, and aliases it never defined.

    A small model fixes its SQL from this far more often than from the bare error.
    """
    found = _missing(sql, error)
    if found is None:
        return ""
    alias, column, tree = found
    # The views first: where a column lives in a view, that is where to read it.
    columns = readable_columns()
    used = _tables_used(tree, columns)
    lines = []
    if used:
        # A view's columns with what they mean: "orders (orders not cancelled)" keeps the
        # model from adding a cancellation filter of its own.
        described = [
            f"{name}{f' AS {a}' if a != name else ''} ({', '.join(_with_meanings(name, columns))})"
            for a, name in used.items()
        ]
        lines.append("Tables in your query: " + "; ".join(described))
    in_query = [a for a, name in used.items() if column in columns[name]]
    owners = [name for name, names in columns.items() if column in names]
    # A count of single rows asked as a column: how to count them, not which view has it.
    counted = "" if in_query else _count_of_rows(tree, column, used)
    if in_query:
        owner = in_query[0]
        lines.append(f"'{column}' is a column of {used[owner]}: write {owner}.{column}.")
    elif counted:
        lines.append(counted)
    elif owners:
        lines.append(
            f"A column '{column}' is in: {', '.join(owners)} (query that one, or join it)."
        )
    if alias and alias not in used:
        lines.append(f"'{alias}' is not a table or alias defined in FROM/JOIN.")
    return "\n".join(lines)


def _count_of_rows(tree, column: str, used: dict[str, str]) -> str:
    """Where a query asks a table of single reviews or orders for `reviews` or `orders`,
    how a count of them per group is written: "Among years with at least 500 reviews"
    became `WHERE reviews >= 500` on review_facts, and the 1.5B model joined every view
    to find the column (fresh-97). Empty otherwise."""
    from sqlglot import exp

    table = next(
        (
            t
            for t in used.values()
            if ROW_OF.get(t) in ("review", "order")  # single events, not customers
            and _GRAIN_NOUNS.get(t) == column
        ),
        None,
    )
    use = next((c for c in tree.find_all(exp.Column) if c.name == column), None)
    compared = use.parent if use is not None else None
    if table is None or not isinstance(compared, (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ)):
        return ""  # AVG(customers) FROM customer_facts is no count of groups
    op = {"GT": ">", "GTE": ">=", "LT": "<", "LTE": "<=", "EQ": "="}[type(compared).__name__]
    other = compared.expression if compared.this is use else compared.this
    group = tree.find(exp.Group)
    by = ", ".join(e.sql() for e in group.expressions) if group else "the column you count by"
    return (
        f"{table} has one row per {column[:-1]}: the {column} of each group are COUNT(*). "
        f"For groups with a number of {column}: GROUP BY {by} HAVING COUNT(*) {op} "
        f"{other.sql()} (WHERE reads single rows, HAVING the groups)."
    )


@functools.cache
def table_keys() -> dict[str, str | None]:
    """Readable table or view -> the column with one row per value (None: no single one):
    a view's key (`VIEW_KEYS`), a table's single-column primary key."""
    from segassist.warehouse.semantic import VIEW_KEYS

    keys: dict[str, str | None] = dict(VIEW_KEYS)
    for name in AGENT_READABLE_TABLES:
        if name in VIEWS or name not in Base.metadata.tables:
            continue
        primary = [c.name for c in Base.metadata.tables[name].primary_key.columns]
        keys[name] = primary[0] if len(primary) == 1 else None
    return keys


def _with_meanings(table: str, columns: dict[str, list[str]]) -> list[str]:
    if table not in VIEWS:
        return columns[table]
    return [f"{column} = {meaning}" for column, meaning in VIEWS[table][1].items()]


# How alike a misspelt column name must be to a real one to be read as it (difflib's
# ratio: 'avg_ratings' -> 'avg_rating' 0.95; 'first_order_at' / 'last_order_at' 0.81).
NEAR_SPELLING = 0.85
_AGGREGATE_PREFIX = re.compile(r"^(?:avg|average|mean|total|sum|max|min|maximum|minimum)_")


def _grouped_by_bare(sql: str, dialect: str) -> tuple[str, str] | None:
    """The query grouped by the plain columns it selects beside an aggregate without a
    GROUP BY, and a note saying so; None where those are not plain columns. Asked which
    product with 30 reviews or more rates best, the 1.5B model wrote SELECT product_id,
    AVG(rating) ... ORDER BY avg_rating DESC LIMIT 1 without GROUP BY, was told to add
    it, and never did (fresh-144)."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError:
        return None
    for node in tree.find_all(exp.Select):
        if node.args.get("group") or not node.find(exp.AggFunc):
            continue
        bare = [
            p.unalias()
            for p in node.expressions
            if not p.find(exp.AggFunc) and p.find_ancestor(exp.Select) is node
        ]
        if not bare or not all(isinstance(b, exp.Column) for b in bare):
            return None
        node.set("group", exp.Group(expressions=[b.copy() for b in bare]))
        names = ", ".join(b.sql(dialect=dialect) for b in bare)
        note = f"Note: {names} was neither grouped nor aggregated; this ran GROUP BY {names}."
        return tree.sql(dialect=dialect), note
    return None


def repair_columns(
    sql: str, error: str, dialect: str, counts: str | None = None
) -> tuple[str, str] | None:
    """The query with a column that is not there replaced by the one column of the query's
    tables it means, and a note saying so; None when no single column fits.

    A column "means" another when the semantic layer lists its name as a synonym
    (`total_spend` for `revenue`, `review_date` for `reviewed_at`), when it is the
    column with an aggregate's word before it inside that aggregate (AVG(avg_rating)
    over single reviews), or when it is a near spelling of it. Where no column fits,
    three readings of the whole query are tried: the view's own grain summed
    (SUM(reviews) over review_facts: COUNT(*)), a customer total asked of single rows
    (COUNT(DISTINCT customer_id) ... WHERE reviews = 5, or COUNT(*) where the question
    `counts` customers: on customer_facts), and a "not cancelled" filter on a view whose
    metrics already leave cancellations out (dropped).
    Small models make such mistakes more often than any other, and a second model
    call to fix each costs seconds and is often wrong again; the note tells the model
    what was read.
    """
    import difflib

    from sqlglot import exp

    if "neither grouped nor aggregated" in error:
        return _grouped_by_bare(sql, dialect)
    found = _missing(sql, error, dialect)
    if found is None:
        return None
    alias, column, tree = found
    columns = readable_columns()
    used = _tables_used(tree, columns)
    if alias and alias not in used and alias in columns and column.lower() in columns[alias]:
        # A view named before its column without being read (`FROM order_facts WHERE
        # customer_facts.region = 'RJ'`, fresh-73): read as the column of a view to join.
        for node in tree.find_all(exp.Column):
            if node.table == alias:
                node.set("table", None)
        alias = None
    if alias:
        if alias not in used:
            return None
        used = {alias: used[alias]}
    wanted = column.lower()
    nodes = [
        node
        for node in tree.find_all(exp.Column)
        if node.name.lower() == wanted and node.table == (alias or node.table)
    ]
    if not alias:
        nodes = _unresolved(nodes, columns, wanted)
        used = _in_scope(nodes, used)
    # AVG(avg_rating) over single reviews means AVG(rating): an aggregate's own word
    # before a column of the table is that column, where every use is inside it.
    bare = _AGGREGATE_PREFIX.sub("", wanted)
    if bare != wanted and nodes and all(isinstance(n.parent, exp.AggFunc) for n in nodes):
        names = {bare}
    else:
        names = {wanted}
    # Either way round: a synonym for a view's column, or a view's column named on a raw
    # table that calls it otherwise (units on order_lines: quantity).
    others = {other for name in names for other in SYNONYMS.get(name, ())}
    hits = {
        (name, real)
        for name in used.values()
        for real in columns[name]
        if real in names or real in others or names & set(SYNONYMS.get(real, ()))
    }
    if not hits:
        hits = {
            (name, real)
            for name in used.values()
            for real in difflib.get_close_matches(wanted, columns[name], n=2, cutoff=NEAR_SPELLING)
        }
    if not hits:
        return (
            _counted_rows(tree, nodes, wanted, used, dialect)
            or _counted_groups(tree, nodes, wanted, used, dialect)
            or _at_entity_grain(tree, wanted, used, columns, dialect, counts)
            or _cancellations_left_out(tree, nodes, wanted, used, dialect)
            or _with_entity_view(tree, wanted, columns, dialect)
            or _totals_in_period(tree, wanted, used, columns, dialect)
            or _year_of_date(tree, nodes, wanted, used, columns, dialect)
            or _distinct_of_lines(tree, nodes, wanted, used, columns, dialect)
        )
    if len({real for _, real in hits}) != 1 or len(hits) != 1:
        return None  # several columns (or tables) could be meant
    table, real = hits.pop()
    if not nodes:
        return None
    for node in nodes:
        node.set("this", exp.to_identifier(real))
    meaning = VIEWS[table][1].get(real) if table in VIEWS else None
    if meaning and re.search(r"\d", meaning):
        meaning = None  # a number here would count as a figure of the result
    note = (
        f"Note: {table} has no column '{column}'; this ran with {real}"
        + (f" ({meaning})" if meaning else "")
        + ". Say so if that is not what the question means."
    )
    return tree.sql(dialect=dialect), note


# What one row of each readable table or view is (agent.checks reads it too).
ROW_OF = {
    "customer_facts": "customer",
    "product_facts": "product",
    "order_facts": "order",
    "review_facts": "review",
    "month_facts": "month",
    "customers": "customer",
    "products": "product",
    "orders": "order",
    "order_lines": "order line",
    "reviews": "review",
    "events": "event",
    "support_messages": "support message",
}
# The views' grain as a noun: SUM(reviews) over review_facts counts its rows.
_GRAIN_NOUNS = {view: f"{ROW_OF[view]}s" for view in VIEWS}


def _counted_rows(tree, nodes, wanted: str, used: dict[str, str], dialect: str):
    """SUM(reviews) or COUNT(reviews) over the view with one row per review is COUNT(*):
    the query with each such aggregate replaced, and a note; None otherwise."""
    from sqlglot import exp

    tables = set(used.values())
    if len(tables) != 1 or _GRAIN_NOUNS.get(next(iter(tables))) != wanted:
        return None
    if not nodes or not all(isinstance(n.parent, exp.Sum | exp.Count) for n in nodes):
        return None
    for node in nodes:
        node.parent.replace(exp.Count(this=exp.Star()))
    table = next(iter(tables))
    note = (
        f"Note: {table} has no column '{wanted}'; it has one row per {wanted.removesuffix('s')}, "
        f"so this ran with COUNT(*) for them. Say so if that is not what the question means."
    )
    return tree.sql(dialect=dialect), note


def _counted_groups(tree, nodes, wanted: str, used: dict[str, str], dialect: str):
    """`WHERE reviews >= 500 ... GROUP BY year` over the view with one row per review asks
    for the groups with at least 500 of its rows: HAVING COUNT(*) >= 500. "Among years
    with at least 500 reviews" was written so, and the 1.5B model never found the column
    (fresh-97). Where every use of the missing count is a condition of the WHERE on a
    number, and the query groups: those conditions run as HAVING, with a note; None
    otherwise."""
    from sqlglot import exp

    tables = set(used.values())
    if len(tables) != 1 or _GRAIN_NOUNS.get(next(iter(tables))) != wanted:
        return None
    where, group = tree.args.get("where"), tree.args.get("group")
    if not nodes or where is None or group is None or not isinstance(tree, exp.Select):
        return None
    conditions = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
    moved = [n.parent for n in nodes]
    compared = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ)
    for condition, node in zip(moved, nodes, strict=True):
        other = condition.expression if condition.this is node else condition.this
        if not isinstance(condition, compared) or not any(condition is c for c in conditions):
            return None
        if not (isinstance(other, exp.Literal) and not other.is_string):
            return None
    kept = [c for c in conditions if not any(c is m for m in moved)]
    said = " AND ".join(m.sql(dialect=dialect) for m in moved)
    tree.set("where", exp.Where(this=exp.and_(*kept)) if kept else None)
    for condition, node in zip(moved, nodes, strict=True):
        node.replace(exp.Count(this=exp.Star()))
        tree.having(condition, copy=False)
    table = next(iter(tables))
    note = (
        f"Note: {table} has no column '{wanted}'; it has one row per "
        f"{wanted.removesuffix('s')}, so {said} ran as HAVING "
        f"{' AND '.join(m.sql(dialect=dialect) for m in moved)}: the {wanted} of each group. "
        "Say so if that is not what the question means."
    )
    return tree.sql(dialect=dialect), note


# The view with one row per entity, by the id a query counts distinct.
_ENTITY_VIEWS = {
    "customer_id": "customer_facts",
    "product_id": "product_facts",
    "order_id": "order_facts",
}


def _at_entity_grain(
    tree, wanted: str, used: dict[str, str], columns, dialect: str, counts: str | None = None
):
    """COUNT(DISTINCT customer_id) FROM review_facts WHERE reviews = 5 asks how many
    customers wrote five reviews: a condition on each customer's total, which is a column
    of customer_facts. A query over one table that counts an entity's distinct ids, or
    counts rows where the question counts that entity (`counts`: COUNT(*) FROM review_facts
    WHERE reviews = 5 for "how many customers have written exactly 5 reviews?", on which
    the 1.5B model gave up), and names a column that table lacks runs on the entity's
    view, when the view has every column the query names; None otherwise."""
    from sqlglot import exp

    if len(set(used.values())) != 1:
        return None
    table = next(iter(used.values()))
    counted = {
        column.name
        for node in tree.find_all(exp.Count)
        if isinstance(node.this, exp.Distinct)
        for column in node.this.expressions
        if isinstance(column, exp.Column)
    }
    rows = [n for n in tree.find_all(exp.Count) if not isinstance(n.this, exp.Distinct)]
    if not counted and rows and counts:
        # COUNT(*) of rows, the question counting an entity; also from a table that does
        # not hold its id: "quantas faturas canceladas vieram da França?" written as
        # COUNT(*) FROM review_facts WHERE country = 'France' AND is_cancelled = 1, which
        # the 1.5B model sent twice unchanged after the error (fresh-67).
        counted = {f"{counts}_id"}
    if len(counted) != 1:
        return None
    view = _ENTITY_VIEWS.get(counted.pop())
    if view is None or view == table or wanted not in columns[view]:
        return None
    outputs = {a.alias for a in tree.find_all(exp.Alias)}
    named = {c.name for c in tree.find_all(exp.Column)} - outputs
    if not named <= set(columns[view]) or any(s is not tree for s in tree.find_all(exp.Select)):
        return None  # a column the view lacks, or subqueries: not this simple case
    for node in tree.find_all(exp.Table):
        node.set("this", exp.to_identifier(view))
    note = (
        f"Note: {table} has no column '{wanted}'; {view} has one row per "
        f"{view.removesuffix('_facts')} with it, so this ran on {view}. Say so if that is "
        "not what the question means."
    )
    return tree.sql(dialect=dialect), note


def _with_entity_view(tree, wanted: str, columns, dialect: str):
    """A query over one table naming a column of the entity one of its ids stands for:
    `FROM order_facts WHERE last_order_at ...` (a customer's), `FROM order_lines WHERE
    month = ... AND is_cancelled = 0` (the order's). Where exactly one entity view
    reached by an id of the table has the column, and the two hold every column the
    query names, the query runs with the view joined by the id: one row per id, so the
    rows the query counts stay the table's, none repeated (running it on the view
    instead counted customers for "how many orders"); None otherwise. Told where the
    column lives, the 1.5B model most often wrote the same query again or gave up."""
    from sqlglot import exp

    if not isinstance(tree, exp.Select) or tree.args.get("joins"):
        return None
    # The outer SELECT's own table and columns: a subquery in its WHERE reads its own
    # (fresh-74: `FROM order_lines WHERE product_id IN (SELECT ... FROM product_facts)
    # AND is_cancelled = 0`).
    tables = _own_tables(tree)
    if len(tables) != 1 or tables[0].name not in columns:
        return None
    node, table = tables[0], tables[0].name
    own = set(columns[table])
    outputs = {a.alias for a in tree.find_all(exp.Alias)}
    mine = [c for c in tree.find_all(exp.Column) if c.find_ancestor(exp.Select) is tree]
    named = {c.name for c in mine} - outputs
    fitting = [
        (key, view)
        for key, view in _ENTITY_VIEWS.items()
        if key in own and view != table and wanted in columns[view]
        if named <= own | set(columns[view])
    ]
    if len(fitting) != 1:
        return None
    key, view = fitting[0]
    entity = view.removesuffix("_facts")
    here = node.alias_or_name
    there = "v" if here != "v" else "v2"
    several = table_keys().get(table) != key  # several rows per key: order lines
    swapped = []
    for column in mine:
        if column.table in ("", here) and not (column.name in outputs and not column.table):
            if column.name not in own and several and _repeated(column):
                # SUM(units) of the order beside each of its lines counts it once per
                # line (fresh-102: 8.6M units for one customer): the line's own measure
                # (quantity), or no join at all.
                measure = _same_measure(column.name, own)
                if measure is None:
                    return None
                swapped.append(f" '{column.name}' was read as {table}.{measure}.")
                column.set("this", exp.to_identifier(measure))
            name = column.name
            column.set("table", exp.to_identifier(here if name in own else there))
    tree.join(f"{view} AS {there}", on=f"{here}.{key} = {there}.{key}", copy=False)
    return tree.sql(dialect=dialect), (
        f"Note: {table} has no column '{wanted}'; this ran with {view} (one row per {entity}) "
        f"joined by {key}, for the columns only it has.{''.join(sorted(set(swapped)))} Say "
        "so if that is not what the question means."
    )


def _repeated(column) -> bool:
    """The column is read by an aggregate that a repeated row changes (SUM, AVG, COUNT
    but not COUNT(DISTINCT ...))."""
    from sqlglot import exp

    aggregate = column.find_ancestor(exp.Sum, exp.Avg, exp.Count)
    return aggregate is not None and not (
        isinstance(aggregate, exp.Count) and isinstance(aggregate.this, exp.Distinct)
    )


def _same_measure(name: str, own: set[str]) -> str | None:
    """The column of `own` that measures what `name` does in the semantic layer's
    synonyms (order_lines.quantity for a view's units), or None."""
    for canonical, synonyms in SYNONYMS.items():
        names = {canonical, *synonyms}
        if name in names:
            return next((c for c in sorted(own) if c in names and c != name), None)
    return None


# A lifetime total of the entity views, as an aggregate over the events it sums up:
# (events view, its condition, aggregate) per column.
_PER_EVENT = {
    "reviews": ("review_facts", "", "COUNT(*)"),
    "avg_rating": ("review_facts", "", "AVG(rating)"),
    "lowest_rating": ("review_facts", "", "MIN(rating)"),
    "highest_rating": ("review_facts", "", "MAX(rating)"),
    "orders": ("order_facts", "is_cancelled = 0", "COUNT(*)"),
    "units": ("order_facts", "is_cancelled = 0", "SUM(units)"),
    "revenue": ("order_facts", "is_cancelled = 0", "SUM(revenue)"),
}


def _totals_in_period(tree, wanted: str, used: dict[str, str], columns, dialect: str):
    """COUNT(*) FROM product_facts WHERE reviews >= 10 AND year = 2013: a lifetime view
    holds no dates of single events, and a condition on a total within a period is one on
    the events of that period, grouped by the entity. Asked how many products received at
    least 10 reviews in 2013, the 1.5B model tried eleven queries on the views and gave up
    (fresh-63). A row count over customer_facts or product_facts whose conditions are on
    totals of one kind of event (reviews, orders) and on a column of those events (the
    missing one: year, month) runs as that count over the events view, grouped by the
    entity, with a note; None otherwise."""
    from sqlglot import exp

    tables = list(tree.find_all(exp.Table))
    if len(tables) != 1 or tree.find(exp.Join) or not isinstance(tree, exp.Select):
        return None
    view = used.get(tables[0].alias_or_name)
    if view not in ("customer_facts", "product_facts") or len(tree.expressions) != 1:
        return None
    if any(s is not tree for s in tree.find_all(exp.Select)) or tree.args.get("group"):
        return None
    counted = tree.expressions[0].unalias()
    key = f"{view.removesuffix('_facts')}_id"
    if not isinstance(counted, exp.Count) or not (
        isinstance(counted.this, exp.Star)
        or (isinstance(counted.this, exp.Distinct) and counted.this.sql() == f"DISTINCT {key}")
    ):
        return None
    where = tree.args.get("where")
    terms = and_terms(where) if where else []
    totals = [t for t in terms if {c.name for c in t.find_all(exp.Column)} & set(_PER_EVENT)]
    events = {_PER_EVENT[c.name][0] for t in totals for c in t.find_all(exp.Column)}
    if not totals or len(events) != 1:
        return None
    source = events.pop()
    if wanted not in columns[source] or key not in columns[source]:
        return None
    rest = [t for t in terms if t not in totals]
    if any(c.name not in columns[source] for t in rest for c in t.find_all(exp.Column)):
        return None
    having = []
    for term in totals:
        term = term.copy()
        for column in list(term.find_all(exp.Column)):
            if column.name not in _PER_EVENT:
                return None
            column.replace(exp.maybe_parse(_PER_EVENT[column.name][2], dialect=dialect))
        having.append(term.sql(dialect=dialect))
    kept = {_PER_EVENT[c.name][1] for t in totals for c in t.find_all(exp.Column)} - {""}
    conditions = [t.sql(dialect=dialect) for t in rest] + sorted(kept)
    inner = f"SELECT {key} FROM {source}" + (
        f" WHERE {' AND '.join(conditions)}" if conditions else ""
    )
    sql = f"SELECT COUNT(*) FROM ({inner} GROUP BY {key} HAVING {' AND '.join(having)}) AS t"
    note = (
        f"Note: {view} holds lifetime totals and has no column '{wanted}'; this counted "
        f"{source} rows of that {wanted}, grouped by {key}. Say so if that is not what the "
        "question means."
    )
    return sql, note


def _year_of_date(tree, nodes, wanted: str, used: dict[str, str], columns, dialect: str):
    """`year` named on a table with no year and one date (order_facts: ordered_at) is the
    year of that date (the 1.5B model wrote `FROM order_facts WHERE year = '2010'`, got
    "no such column" and gave up). None where the table has several dates (customer_facts:
    which one is meant?) or none."""
    from sqlglot import exp

    tables = set(used.values())
    if wanted != "year" or len(tables) != 1 or not nodes:
        return None
    table = next(iter(tables))
    dates = [c for c in columns[table] if c.endswith("_at")]
    if len(dates) != 1:
        return None
    for node in nodes:
        node.replace(exp.Year(this=exp.column(dates[0], table=node.table or None)))
    note = (
        f"Note: {table} has no column 'year'; this ran with the year of {dates[0]}. Say so "
        "if that is not what the question means."
    )
    return tree.sql(dialect=dialect), note


def _distinct_of_lines(tree, nodes, wanted: str, used: dict[str, str], columns, dialect: str):
    """COUNT(DISTINCT product_id) over order_facts, which has no product: the products
    are on order_lines, reached by order_id. Joined, the rows are lines, so only a query
    whose every aggregate is a COUNT(DISTINCT ...) (unchanged by repeated rows) runs,
    with the lines joined and a note (the 1.5B model asked how many different products
    were sold to Germany that way and gave up at "no such column"); None otherwise."""
    from sqlglot import exp

    tables = list(tree.find_all(exp.Table))
    if len(tables) != 1 or tree.find(exp.Join) or not isinstance(tree, exp.Select) or not nodes:
        return None
    if any(s is not tree for s in tree.find_all(exp.Select)):
        return None
    node, table = tables[0], tables[0].name
    aggregates = list(tree.find_all(exp.AggFunc))
    counted = [
        a for a in aggregates if isinstance(a, exp.Count) and isinstance(a.this, exp.Distinct)
    ]
    if not aggregates or len(counted) != len(aggregates):
        return None
    if not all(n.find_ancestor(exp.Distinct) for n in nodes):
        return None
    other, key = "order_lines", "order_id"
    if table == other or key not in columns.get(table, []) or wanted not in columns[other]:
        return None
    here = node.alias_or_name
    there = "l" if here != "l" else "l2"
    for column in list(tree.find_all(exp.Column)):
        if column.table in ("", here):
            column.set("table", exp.to_identifier(there if column.name == wanted else here))
    tree.join(f"{other} AS {there}", on=f"{here}.{key} = {there}.{key}", copy=False)
    note = (
        f"Note: {table} has no column '{wanted}'; this ran with {other} joined by {key}, "
        f"whose lines hold it (a count of distinct {wanted} is the same). Say so if that "
        "is not what the question means."
    )
    return tree.sql(dialect=dialect), note


# Views whose every metric already leaves cancelled orders out (warehouse.semantic).
_SALES_ONLY_VIEWS = {"customer_facts", "product_facts", "month_facts"}
_CANCELLED_FLAGS = {"is_cancelled", "cancelled", "canceled", "is_canceled"}


def _cancellations_left_out(tree, nodes, wanted: str, used: dict[str, str], dialect: str):
    """`WHERE orders > 20 AND is_cancelled = 0` over customer_facts: its orders and revenue
    already leave cancelled orders out and it has no such flag. Each "not cancelled"
    condition (= 0, = false, NOT flag) becomes TRUE, with a note; None otherwise."""
    from sqlglot import exp

    tables = set(used.values())
    if wanted not in _CANCELLED_FLAGS or not tables or not tables <= _SALES_ONLY_VIEWS:
        return None
    conditions = []
    for node in nodes:
        parent = node.parent
        negated = isinstance(parent, exp.Not)
        if not negated and not (
            isinstance(parent, exp.EQ | exp.Is) and _is_false(parent.expression)
        ):
            return None  # used otherwise (selected, = 1, ...): not a filter to drop
        conditions.append(parent)
    for condition in conditions:
        condition.replace(exp.true())
    table = " and ".join(sorted(tables))
    note = (
        f"Note: {table} has no column '{wanted}': its orders, units and revenue already "
        "leave cancelled orders out, so this ran without that condition."
    )
    return tree.sql(dialect=dialect), note


def _is_false(node) -> bool:
    from sqlglot import exp

    if isinstance(node, exp.Boolean):
        return not node.this
    return isinstance(node, exp.Literal) and node.this.lower() in ("0", "false", "f")


# A column compared with a value it never holds gets its values listed, up to this many
# (country = 'UK' where the data says 'United Kingdom' finds nothing, and nothing said
# the value was not there).
MAX_LISTED_VALUES = 40
VALUES_TIMEOUT_S = 2.0


_LINKING_WORDS = {"of", "the", "and", "de", "da", "do", "das", "dos", "e"}
# Brazil's states by name, as Olist-style data holds them (by their codes): not all are
# initials ('Mato Grosso' is MT; MG is Minas Gerais).
_BRAZIL_STATES = {
    "acre": "AC", "alagoas": "AL", "amapa": "AP", "amazonas": "AM", "bahia": "BA",
    "ceara": "CE", "distrito federal": "DF", "espirito santo": "ES", "goias": "GO",
    "maranhao": "MA", "mato grosso": "MT", "mato grosso do sul": "MS", "minas gerais": "MG",
    "para": "PA", "paraiba": "PB", "parana": "PR", "pernambuco": "PE", "piaui": "PI",
    "rio de janeiro": "RJ", "rio grande do norte": "RN", "rio grande do sul": "RS",
    "rondonia": "RO", "roraima": "RR", "santa catarina": "SC", "sao paulo": "SP",
    "sergipe": "SE", "tocantins": "TO",
}  # fmt: skip


def state_code(name: str) -> str | None:
    """The state code of a Brazilian state named in full or by its code ('SP'), or None."""
    return region_code(name) or (name if name in _BRAZIL_STATES.values() else None)


def region_code(name: str) -> str | None:
    """The code a warehouse of Brazilian orders holds for a state named in full ('Rio de
    Janeiro': 'RJ', 'Pará': 'PA'), or None."""
    return _BRAZIL_STATES.get(_plain(name))


# Countries as retail logs spell some of them, beside CLDR's English name (UCI's Online
# Retail: 'EIRE', 'USA', 'RSA').
_COUNTRY_SPELLINGS = {"IE": ("EIRE",), "US": ("USA",), "ZA": ("RSA",), "GB": ("UK",)}
_ASKED_IN = ("en", "pt", "zh")  # the languages questions come in


@functools.lru_cache(maxsize=1)
def _countries() -> dict[str, str]:
    """Every country's name in English, Portuguese and Chinese (CLDR, via babel), without
    accents and lower-cased, to its ISO code."""
    from babel import Locale

    names: dict[str, str] = {}
    for language in _ASKED_IN:
        for code, name in Locale.parse(language).territories.items():
            if code.isalpha() and len(code) == 2:  # '001' (World), 'EU' are regions
                names.setdefault(_plain(name), code)
    return names


@functools.lru_cache(maxsize=1)
def _english_names() -> dict[str, str]:
    from babel import Locale

    return dict(Locale.parse("en").territories)


@functools.lru_cache(maxsize=1)
def _chinese_countries() -> tuple[str, ...]:
    return tuple(n for n in _countries() if re.fullmatch(r"[\u4e00-\u9fff]{2,}", n))


def country_names(name: str) -> list[str]:
    """The names a warehouse may hold for a country a question names in English,
    Portuguese or Chinese ('Reino Unido', '英国': ['United Kingdom', 'UK']); empty when
    `name` is no country. The 1.5B model wrote country = 'United Kingdom' for "Fora o
    Reino Unido", and the checks did not see the name used (fresh-83)."""
    code = _countries().get(_plain(name))
    if not code:
        return []
    return [_english_names()[code], *_COUNTRY_SPELLINGS.get(code, ())]


def country_spelled(value: str) -> str | None:
    """The country's English name where a retail log spells it otherwise ('EIRE':
    'Ireland', 'RSA': 'South Africa'); None for any other value."""
    for code, spellings in _COUNTRY_SPELLINGS.items():
        if value.upper() in spellings:
            return _english_names()[code]
    return None


def countries_written_in_chinese(text: str) -> list[str]:
    """The country names `text` writes in Chinese ("除了英国以外": ['英国']), longest first
    where one holds another; capital letters mark no name there."""
    if not re.search(r"[\u4e00-\u9fff]", text):
        return []
    found = [n for n in _chinese_countries() if n in text]
    return [n for n in found if not any(n != other and n in other for other in found)]


def _plain(value: str) -> str:
    """`value` lower-cased without accents ('São Paulo': 'sao paulo')."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", value.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


def _initials(value: str) -> str | None:
    """The initials of a name of several words, lower-cased ('United Kingdom': 'uk',
    'Rio de Janeiro': 'rj'); None for one word."""
    words = [w for w in re.split(r"[\s_-]+", value) if w and w.lower() not in _LINKING_WORDS]
    return "".join(w[0] for w in words).lower() if len(words) > 1 else None


def _meant(value: str, held: set[str]) -> str | None:
    """The held value a query most likely meant by one the column never holds: the same
    but for case ('germany'), the initials of its words ('UK' for 'United Kingdom', 'USA'
    for 'United States of America'; the other way, and Brazil's states by name: 'Minas
    Gerais' for 'MG'), or a close spelling ('cancelled' for 'canceled', 'Brasil' for 'Brazil'); None
    when nothing held is that close."""
    import difflib

    lowered = {v.lower(): v for v in held}
    if value.lower() in lowered:
        return lowered[value.lower()]
    plain = {_plain(v): v for v in held}  # 'São Paulo' for 'sao paulo'
    if _plain(value) in plain:
        return plain[_plain(value)]
    for v in sorted(held):
        if _initials(v) == value.lower():
            return v
    named = _BRAZIL_STATES.get(_plain(value), _initials(value))  # 'Minas Gerais': 'MG'
    if named and named.lower() in lowered:
        return lowered[named.lower()]
    close = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.8)
    return lowered[close[0]] if close else None


def _compared_values(sql: str, dialect: str) -> dict[tuple[str, str], set[str]]:
    """{(view or table, column): the strings it is compared with (=, !=, IN)} for the
    query's text columns; ids and free text left out, as a column whose owner is unclear."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError:
        return {}
    columns = readable_columns()
    used = _tables_used(tree, columns)
    compared: dict[tuple[str, str], set[str]] = {}
    for node in tree.find_all(exp.EQ, exp.NEQ, exp.In):
        column = node.this if isinstance(node.this, exp.Column) else None
        values = node.expressions if isinstance(node, exp.In) else [node.expression]
        literals = [v.this for v in values if isinstance(v, exp.Literal) and v.is_string]
        if column is None or not literals or column.name.endswith("_id"):
            continue
        if column.name in ("text", "title", "description", "product_title", "name"):
            continue
        owners = _owners(column, used, columns)
        if len(owners) == 1:
            compared.setdefault((owners[0], column.name), set()).update(literals)
    return compared


def stored_names(engine, sql: str, dialect: str) -> tuple[str, str] | None:
    """(the query with each value it compares written as the warehouse stores it, a note
    saying so), where the query names a value by another name the source gives it
    (`value_names`: Olist's "beleza_saude" is stored as 'health_beauty'; asked for that
    category's average item price, the 1.5B model got NULL and answered "None"); else
    None. The other name matches nothing, so the stored one is what was meant."""
    from sqlalchemy import select
    from sqlalchemy.exc import DBAPIError

    compared = _compared_values(sql, dialect)
    if not compared:
        return None
    names = Base.metadata.tables["value_names"]
    literals = {v for values in compared.values() for v in values}
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(names.c.column_name, names.c.name, names.c.value).where(
                    names.c.name.in_(sorted(literals))
                )
            ).all()
    except DBAPIError:  # a warehouse of an earlier version, not migrated yet
        return None
    held = {(column, name): value for column, name, value in rows}
    swapped = {
        name: held[(column, name)]
        for (_, column), values in compared.items()
        for name in values
        if (column, name) in held
    }
    if not swapped:
        return None
    for name, value in swapped.items():
        sql = sql.replace(f"'{name}'", f"'{value}'")
    said = ", ".join(f"'{name}' as '{value}'" for name, value in swapped.items())
    return sql, f"Note: the warehouse stores {said} (the same value, another name); this ran so."


def _held_values(engine, table: str, column: str, limit: int) -> tuple[set[str], bool] | None:
    """The distinct values a column holds, up to `limit`, and whether it holds more; None
    where reading them takes too long (the answer does not wait for this)."""
    from segassist.core.errors import UserInputError
    from segassist.tools.sql import run_select

    try:
        found = run_select(
            engine,
            f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL",
            row_limit=limit,
            timeout_s=VALUES_TIMEOUT_S,
        )
    except UserInputError:
        return None
    return {str(row[0]) for row in found.rows}, bool(found.truncated)


def same_values(engine, sql: str, dialect: str) -> tuple[str, str] | None:
    """(the query with each value it compares written as the column holds it, a note
    saying so), where a value the column never holds is held but for case or accents
    ('São Paulo' for Olist's 'sao paulo': the 1.5B model, told the value it meant, wrote
    no query again and the question failed, fresh-152); else None."""
    swapped = {}
    for (table, column), literals in sorted(_compared_values(sql, dialect).items()):
        values, _ = _held_values(engine, table, column, MAX_MATCHED_VALUES) or (set(), False)
        held = {_plain(v): v for v in values}
        for value in literals:
            meant = held.get(_plain(value))
            if meant is not None and meant != value and "'" not in meant:
                swapped[value] = (f"{table}.{column}", meant)
    if not swapped:
        return None
    for value, (_, meant) in swapped.items():
        sql = sql.replace(f"'{value}'", f"'{meant}'")
    said = ", ".join(f"'{m}' for '{v}'" for v, (_, m) in swapped.items())
    where = ", ".join(sorted({c for c, _ in swapped.values()}))
    return sql, f"Note: {where} holds {said} (the same but for case or accents); this ran so."


def unknown_values(engine, sql: str, dialect: str) -> tuple[list[str], bool]:
    """Notes for each text column the query compares (=, !=, IN) with a value the column
    never holds, where the column has few enough distinct values to list them; ids and
    free text are left alone. With them, whether a value missed is most likely one the
    column holds written otherwise ('UK' for 'United Kingdom': `run_sql` then does not
    use the result; the 1.5B model read the note and still answered 0%). Each column
    costs a DISTINCT query: `run_sql` asks only when a query found nothing."""
    compared = _compared_values(sql, dialect)
    notes, near = [], False
    for (table, column), literals in sorted(compared.items()):
        read = _held_values(engine, table, column, MAX_LISTED_VALUES)
        if read is None:
            continue
        values, truncated = read
        if truncated:
            # Too many values to list (Olist's 4,000 cities): only the one most likely
            # meant is said (city = 'São Paulo' where the data holds 'sao paulo' found 0
            # customers, and nothing said so: fresh-152).
            notes += _meant_among_many(engine, table, column, literals)
            near = near or bool(notes)
            continue
        held = values
        missing = sorted(v for v in literals if v not in held)  # = is case-sensitive
        if missing:
            listed = ", ".join(f"'{v}'" for v in sorted(held)) or "none (it is empty)"
            absent = ", ".join(f"'{v}'" for v in missing)
            meant = [f"'{m}' for '{v}'" for v in missing if (m := _meant(v, held))]
            near = near or bool(meant)
            said = f" (did you mean {', '.join(meant)}?)" if meant else ""
            # A state asked of another column (order_facts.country = 'Minas Gerais': the
            # 1.5B model then counted all of Brazil, fresh-108; country = 'RJ', fresh-137).
            states = [
                f" '{v}' is a state: customer_facts.region = '{code}'{_joined(table)}."
                for v in missing
                if column != "region" and (code := _state_held(engine, v))
            ]
            notes.append(
                f"Note: {table}.{column} never holds {absent}{said}; its values are "
                f"{listed}.{''.join(states)}"
            )
    return notes, near


# A column with more values than are listed is read this far for a value meant otherwise.
MAX_MATCHED_VALUES = 20_000


def _meant_among_many(engine, table: str, column: str, literals: set[str]) -> list[str]:
    """Notes for the values a column of many values never holds where it holds one that
    is most likely meant (the same but for case or accents, or a close spelling)."""
    held, _ = _held_values(engine, table, column, MAX_MATCHED_VALUES) or (set(), False)
    notes = []
    for value in sorted(literals - held):
        meant = _meant(value, held)
        if meant:
            notes.append(
                f"Note: {table}.{column} never holds '{value}' (did you mean '{meant}' for "
                f"'{value}'?); it holds too many values to list."
            )
    return notes


def _state_held(engine, value: str) -> str | None:
    """The state code `value` names: a Brazilian state by name, or a code of two letters
    where the customers' regions hold it (a code alone may be a country's: 'AL')."""
    from segassist.core.errors import UserInputError
    from segassist.tools.sql import run_select

    if named := region_code(value):
        return named
    code = value.upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        return None
    try:
        found = run_select(
            engine,
            f"SELECT region FROM customer_facts WHERE region = '{code}' LIMIT 1",
            row_limit=1,
            timeout_s=VALUES_TIMEOUT_S,
        )
    except UserInputError:
        return None
    return code if found.rows else None


def _joined(table: str) -> str:
    """How a view other than customer_facts reads the customer's region."""
    if table == "customer_facts" or "customer_id" not in readable_columns().get(table, ()):
        return ""
    return f" (JOIN customer_facts c ON c.customer_id = {table}.customer_id)"


def empty_groups(sql: str, columns: list[str], rows: list, dialect: str) -> list[str]:
    """Notes for each GROUP BY column whose returned rows include an empty (NULL) group:
    every row without a value fell into that one group, which then tops rankings (the
    1.5B model grouped Amazon reviews by product title, which that data leaves empty,
    and answered "None" for the most helpful product). Names the id to group by."""
    import sqlglot
    from sqlglot import exp

    if not rows:
        return []
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError:
        return []
    group = tree.find(exp.Group)
    if group is None:
        return []
    readable = readable_columns()
    used = _tables_used(tree, readable)
    ids = {
        k.name for k in group.expressions if isinstance(k, exp.Column) and k.name.endswith("_id")
    }
    notes = []
    for key in group.expressions:
        if not isinstance(key, exp.Column) or key.name not in columns:
            continue
        if ids - {key.name}:  # grouped by an id too: the empty rows stay apart
            continue
        at = columns.index(key.name)
        if not any(row[at] is None for row in rows):
            continue
        owners = _owners(key, used, readable)
        note = (
            f"Note: {key.name} is empty (NULL) for some rows, and GROUP BY {key.name} put "
            "them all in one group (the row where it is None)"
        )
        if len(owners) == 1:
            own = readable[owners[0]]
            ident = f"{key.name.split('_')[0]}_id"
            ident = ident if ident in own else own[0]
            note += (
                f"; group by {ident} to tell them apart"
                if ident != key.name
                else f"; WHERE {key.name} IS NOT NULL leaves them out"  # anonymous orders
            )
        notes.append(note + ".")
    return notes


def _grouped(sql: str, dialect: str) -> tuple:
    """(parsed query, its first SELECT, that SELECT's GROUP BY keys); keys empty where the
    query does not parse or groups nothing."""
    from sqlglot import exp

    tree = _parsed(sql, dialect)
    select = tree if isinstance(tree, exp.Select) else tree and tree.find(exp.Select)
    group = select and select.args.get("group")
    return tree, select, list(group.expressions) if group else []


def without_empty_key(sql: str, columns: list[str], top: tuple, dialect: str):
    """(the query again without the empty group, a note saying so) when a ranking is topped
    by the empty (NULL) group of an id it is grouped by, else None. Anonymous invoices
    grouped by customer_id topped "which customer has the most invoices"; told so, the
    1.5B model wrote no query again and said its query had failed. Leaving out the rows
    with no id is what such a ranking means."""
    from sqlglot import exp

    tree, select, keys = _grouped(sql, dialect)
    for key in keys:
        named = isinstance(key, exp.Column) and key.name.endswith("_id") and key.name in columns
        if named and top[columns.index(key.name)] is None:
            select.where(f"{key.sql(dialect=dialect)} IS NOT NULL", dialect=dialect, copy=False)
            note = (
                f"Note: {key.name} is empty (NULL) for some rows, which GROUP BY put in one "
                f"group at the top; this ran with {key.name} IS NOT NULL, leaving them out. "
                "Say so if that is not what the question means."
            )
            return tree.sql(dialect=dialect), note
    return None


# A name that belongs to one entity: grouping by it groups that entity, unless the name
# is empty. (A brand or a country is shared, and grouped by on purpose.)
_NAME_OF = {"title": "product_id", "product_title": "product_id", "description": "product_id"}


def grouped_by_name(sql: str, columns: list[str], top: tuple, dialect: str):
    """(the query again grouped by the id as well, a note saying so) when a ranking is
    topped by the empty (NULL) group of a product's name: Amazon products have no
    titles, and the 1.5B model, told to group by product_id, gave up. Grouped by the id
    beside the name, each product is its own row, named by its id; None otherwise."""
    from sqlglot import exp

    tree, select, keys = _grouped(sql, dialect)
    keys = [k for k in keys if isinstance(k, exp.Column)]
    if not keys or any(k.name.endswith("_id") for k in keys):
        return None
    readable = readable_columns()
    used = _tables_used(tree, readable)
    for key in keys:
        ident = _NAME_OF.get(key.name)
        if not ident or key.name not in columns or top[columns.index(key.name)] is not None:
            continue
        owners = _owners(key, used, readable)
        if len(owners) != 1 or ident not in readable[owners[0]]:
            continue
        column = exp.column(ident, table=key.table or None)
        select.set("expressions", [column, *select.expressions])
        select.group_by(column.copy(), copy=False)
        note = (
            f"Note: {key.name} is empty (NULL) for some rows, which GROUP BY {key.name} put in "
            f"one group at the top; this ran grouped by {ident} as well, so each is its own "
            f"row: name the top row by {ident}."
        )
        return tree.sql(dialect=dialect), note
    return None


def unnamed_top(sql: str, columns: list[str], top: tuple, dialect: str) -> list[str]:
    """A note when the top row of a ranking names nothing: every plain (not aggregated)
    column it selects is empty (NULL) there. The 1.5B model grouped Amazon reviews by
    product_id, selected the title (which that data leaves empty) and answered that
    the most helpful product was "None". Names the key to select instead."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError:
        return []
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    if select is None:
        return []
    plain = [
        e.alias_or_name
        for e in select.expressions
        if isinstance(e.unalias(), exp.Column) and e.alias_or_name in columns
    ]
    if not plain or any(top[columns.index(name)] is not None for name in plain):
        return []
    group = select.args.get("group")  # this SELECT's own, not a subquery's
    keys = [k.name for k in (group.expressions if group else []) if isinstance(k, exp.Column)]
    if set(keys) & set(plain):  # grouped by the empty column itself: `empty_groups`
        return []
    keys = keys or [f"{plain[0].split('_')[0]}_id"]
    ids = [name for name in plain if name.endswith("_id")]
    if ids:  # the key itself is empty: a row of no one (an anonymous order, fresh-35)
        entity = ids[0].removesuffix("_id")
        source = select.args.get("from_")
        table = source.this.name if source is not None and source.this else ""
        facts = f"{entity}_facts"
        finer = facts in VIEWS and ROW_OF.get(table) not in (None, entity)
        order = select.args.get("order")
        key = order.expressions[0] if order and order.expressions else None
        column = key.this.name if key is not None and isinstance(key.this, exp.Column) else ""
        rank = f", or rank {facts} (one row per {entity}, with its totals)"
        if finer and column in VIEWS[facts][1]:  # told only the view, the 1.5B model gave up
            way = "DESC" if key.args.get("desc") else "ASC"
            rank = f"{rank}: SELECT {ids[0]}, {column} FROM {facts} ORDER BY {column} {way} LIMIT 1"
        return [
            f"Note: {ids[0]} is empty (NULL) in the top row, a row of no {entity}, so it "
            f"names none; leave such rows out (WHERE {ids[0]} IS NOT NULL)"
            + (f"{rank}." if finer else ".")
        ]
    return [
        f"Note: {', '.join(plain)} is empty (NULL) in the top row, so it names nothing; "
        f"select {keys[0]} as well and name the row by it."
    ]


# How the note on a status filter that picks some cancelled orders begins (the agent's
# check before an answer looks for it: agent.checks).
SOME_CANCELLED = "Note: cancelled orders (is_cancelled) have status"


def some_cancellations(engine, sql: str, dialect: str) -> list[str]:
    """A note when a query picks cancelled orders by a status that is only some of them:
    Olist's 'unavailable' orders are cancelled too (is_cancelled, the semantic layer's
    definition), and status = 'cancelled' counted 21 of 81 cancelled orders."""
    import sqlglot
    from sqlalchemy import text
    from sqlglot import exp

    if "status" not in sql.lower():
        return []
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError:
        return []
    picked = set()
    for node in tree.find_all(exp.EQ, exp.In):
        column = node.this if isinstance(node.this, exp.Column) else None
        values = node.expressions if isinstance(node, exp.In) else [node.expression]
        if column is not None and column.name.lower() == "status":
            picked |= {v.this for v in values if isinstance(v, exp.Literal) and v.is_string}
    if not picked:
        return []
    with engine.connect() as conn:
        cancelled = set(
            conn.execute(text("SELECT DISTINCT status FROM orders WHERE is_cancelled")).scalars()
        )
    if not picked <= cancelled or cancelled <= picked:
        return []
    listed = ", ".join(f"'{s}'" for s in sorted(cancelled))
    return [
        f"{SOME_CANCELLED} {listed}; this query reads only "
        f"{', '.join(repr(s) for s in sorted(picked))}. For cancelled orders, use is_cancelled."
    ]
