"""The warehouse described for the model: tables, columns and what they mean, row counts,
the dialect's date idiom, and hints that turn a failed query into a fixable one."""

from __future__ import annotations

import re

from segassist.warehouse.queries import list_segments, serving_version_id
from segassist.warehouse.schema import AGENT_READABLE_TABLES, BEHAVIOUR_TABLES, Base
from segassist.warehouse.semantic import VIEWS, semantic_text
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


def sql_error_hint(sql: str, error: str) -> str:
    """For a query naming a column that is not there: the columns of the tables it uses,
    where a column of that name does live, and aliases it never defined.

    A small model fixes its SQL from this far more often than from the bare error.
    """
    import sqlglot
    from sqlglot import exp

    match = _MISSING_COLUMN.search(error)
    if not match:
        return ""
    alias = match.group(1) or match.group(3) or match.group(5)
    column = match.group(2) or match.group(4)
    try:
        tree = sqlglot.parse_one(sql)
    except sqlglot.errors.ParseError:
        return ""
    if not column:  # PostgreSQL names only the alias: take the first column used with it
        column = next((c.name for c in tree.find_all(exp.Column) if c.table == alias), "")
    # The views first: where a column lives in a view, that is where to read it.
    columns = {name: list(described) for name, (_, described) in VIEWS.items()}
    columns |= {
        name: list(Base.metadata.tables[name].columns.keys())
        for name in AGENT_READABLE_TABLES
        if name in Base.metadata.tables
    }
    used = {}
    for table in tree.find_all(exp.Table):
        if table.name in columns:
            used[table.alias_or_name] = table.name
    lines = []
    if used:
        described = [
            f"{name}{f' AS {a}' if a != name else ''} ({', '.join(columns[name])})"
            for a, name in used.items()
        ]
        lines.append("Tables in your query: " + "; ".join(described))
    in_query = [a for a, name in used.items() if column in columns[name]]
    owners = [name for name, names in columns.items() if column in names]
    if in_query:
        owner = in_query[0]
        lines.append(f"'{column}' is a column of {used[owner]}: write {owner}.{column}.")
    elif owners:
        lines.append(
            f"A column '{column}' is in: {', '.join(owners)} (query that one, or join it)."
        )
    if alias and alias not in used:
        lines.append(f"'{alias}' is not a table or alias defined in FROM/JOIN.")
    return "\n".join(lines)
