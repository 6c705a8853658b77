"""What the agent's SQL may say: one query over the warehouse, built from an allowlist.

Blocklists lose to spelling: `"pg_read_file"(...)`, `U&"pg\\005fread\\005ffile"`,
`pg_catalog.pg_read_file`, or SQL hidden in a string that a function executes
(`query_to_xml('select pg_read_file(...)')`). So everything here is allowed by
name, after parsing:

- the statement is exactly one query (SELECT, WITH ... SELECT, UNION /
  INTERSECT / EXCEPT); no node that writes, locks, or changes the session;
- every function is on the allowlist (aggregates, windows, arithmetic, text,
  dates), called by a bare, unquoted name; nothing that reads files, sleeps,
  locks, signals, runs SQL from a string, or makes huge values;
- every table is a warehouse table the agent may read, or a CTE of the query;
- the query means the same on every engine: a column beside an aggregate with no
  GROUP BY (`SELECT customer_id, COUNT(*) ... ORDER BY COUNT(*)`) is an error on
  PostgreSQL and a silently wrong single row on SQLite, so it is refused with
  the GROUP BY to add (SQLite's documented lone MIN/MAX case is allowed there).

`check_select` returns the query *as sqlglot writes it back* from the checked
tree: what runs is what was checked, with comments made harmless (a trailing
`-- comment` no longer swallows a wrapper), never the original text. On SQLite,
date parts are written as SQLite has them (`sqlite_date_parts`); on PostgreSQL, a
boolean compared with 0 or 1 as compared with false or true (`postgres_booleans`).
"""

from __future__ import annotations

import functools
import re

from segassist.core.errors import UserInputError
from segassist.warehouse.schema import AGENT_READABLE_TABLES

MAX_SQL_CHARS = 20_000
MAX_NESTING = 100  # parentheses; deeper input is refused before parsing (no RecursionError)
HINT = "Send exactly one SELECT (or WITH ... SELECT) statement that only reads."

READABLE_TABLES = frozenset(AGENT_READABLE_TABLES)

# Functions sqlglot parses to a class of its own, by class name.
ALLOWED_FUNCTION_CLASSES = frozenset(
    {
        # aggregates
        *("Count", "CountIf", "Sum", "Avg", "Min", "Max", "Stddev", "StddevPop", "StddevSamp"),
        *("Variance", "VariancePop", "Median", "PercentileCont", "PercentileDisc", "Corr"),
        *("CovarPop", "CovarSamp", "GroupConcat", "ArrayAgg", "LogicalAnd", "LogicalOr"),
        *("ApproxDistinct", "AnyValue", "First", "Last"),
        # windows
        *("RowNumber", "Rank", "DenseRank", "Ntile", "Lag", "Lead", "FirstValue", "LastValue"),
        *("NthValue", "PercentRank", "CumeDist"),
        # numbers
        *("Abs", "Round", "Ceil", "Floor", "Sqrt", "Pow", "Ln", "Log", "Exp", "Sign", "Mod"),
        *("Greatest", "Least", "Coalesce", "Nullif", "If", "Cast", "TryCast", "Rand", "Div"),
        *("SafeDivide", "Trunc"),
        # text
        *("Lower", "Upper", "Length", "Trim", "Substring", "Replace", "StrPosition", "Concat"),
        *("ConcatWs", "Left", "Right", "SplitPart", "RegexpLike", "RegexpReplace", "Initcap"),
        *("RegexpExtract", "Chr", "Unicode", "Typeof", "Hex", "Reverse", "Ascii"),
        # dates
        *("Date", "CurrentDate", "CurrentTimestamp", "CurrentTime", "Extract", "TimeToStr"),
        *("StrToTime", "StrToDate", "TimestampTrunc", "DateTrunc", "DateAdd", "DateSub"),
        *("DateDiff", "TsOrDsToDate", "TsOrDsToTimestamp", "TimeStrToTime", "UnixToTime"),
        *("TimeToUnix", "DateStrToDate", "ToChar", "Day", "Month", "Year", "DayOfWeek"),
        *("DayOfYear", "WeekOfYear", "Quarter", "DateFromParts", "StrToUnix", "DatetimeAdd"),
        *("TimestampAdd", "TimestampDiff", "TimeAdd", "TimeSub", "TimestampSub"),
        # sets of rows, arrays, JSON, conditions sqlglot models as functions
        *("GenerateSeries", "ExplodingGenerateSeries", "Explode", "Unnest", "ArraySize"),
        *("Case", "Exists", "Array", "JSONExtract", "JSONExtractScalar", "Collate"),
    }
)

# Functions sqlglot leaves anonymous, by lower-case name.
ALLOWED_FUNCTION_NAMES = frozenset(
    {
        # SQLite
        *("julianday", "datetime", "time", "unixepoch", "strftime", "date", "total", "iif"),
        *("ifnull", "instr", "substr", "likelihood", "nullif"),
        # PostgreSQL
        *("age", "date_part", "to_char", "to_date", "to_timestamp", "now", "make_date"),
        *("justify_days", "justify_interval", "btrim", "strpos", "char_length"),
        *("percentile_cont", "percentile_disc", "stddev", "round", "width_bucket"),
        *("bool_and", "bool_or", "every", "regexp_match", "regexp_matches", "array_length"),
        *("unnest", "cardinality", "string_to_array", "array_to_string"),
    }
)

_SESSION_OR_WRITE_NODES = (
    "DML",
    "DDL",
    "Command",
    "Pragma",
    "Copy",
    "Into",
    "Transaction",
    "Commit",
    "Rollback",
    "Set",
    "Use",
    "Attach",
    "Detach",
    "TruncateTable",
    "Grant",
    "Merge",
    "LoadData",
    "Kill",
    "Lock",
    "Placeholder",
    "Parameter",
    "SessionParameter",
)
# U&"..." / U&'...': PostgreSQL's escaped names and strings, which sqlglot reads as a
# bitwise AND. (Other quoting needs no such check: what runs is written back from the
# parse tree.)
_RISKY_LEXEMES = re.compile(r"\bU&['\"]", re.IGNORECASE)


class QueryRejected(UserInputError):
    """The statement is not a single read-only query; the message says how to fix it."""


def unescaped(sql: str) -> str:
    """The SQL with the escapes a model wrote into its JSON twice ("\\n" for a line break)
    read as the spaces they stand for, outside quoted strings: the 1.5B model's query
    `... LIKE '2010-12-%'\\nWHERE NOT T1.is_cancelled` did not parse."""
    if "\\" not in sql:
        return sql
    parts = sql.split("'")
    parts[::2] = [re.sub(r"\\[nrt]", " ", part) for part in parts[::2]]
    return "'".join(parts)


def check_select(sql: str, dialect: str) -> str:
    """The checked query, written back from its parse tree; QueryRejected otherwise.

    Args:
        sql: the statement the model (or an analyst) wrote.
        dialect: sqlglot's name for the database ("sqlite", "postgres").
    """
    tree = _parse_one(unescaped(sql), dialect)
    _check_tree(tree, dialect)
    _check_grouping(tree, dialect)
    if dialect == "sqlite":
        tree = sqlite_date_parts(tree)
    elif dialect == "postgres":
        tree = postgres_booleans(tree)
    try:
        return tree.sql(dialect=dialect, comments=False)
    except RecursionError as e:
        raise QueryRejected(f"The SQL is nested too deeply to check. {HINT}") from e


# strftime's format for each date part a query may ask of SQLite.
_STRFTIME = {
    "year": "%Y",
    "month": "%m",
    "day": "%d",
    "hour": "%H",
    "minute": "%M",
    "dow": "%w",
    "doy": "%j",
}


def sqlite_date_parts(tree):
    """YEAR(x), MONTH(x), DAY(x), EXTRACT(part FROM x) and DATE_PART('part', x) written
    as SQLite has them: CAST(strftime('%Y', x) AS INTEGER). SQLite has none of those
    functions ("no such function: YEAR"; the 1.5B model wrote YEAR() for reviews "in
    2012"), and strftime alone gives text, which never equals the number 2012."""
    from sqlglot import exp

    def part(node) -> tuple[str, object] | None:
        for kind, name in ((exp.Year, "year"), (exp.Month, "month"), (exp.Day, "day")):
            if type(node) is kind:
                return name, node.this
        if isinstance(node, exp.Extract) and node.expression is not None:
            return node.this.name.lower(), node.expression
        if (
            isinstance(node, exp.Anonymous)
            and node.name.lower() == "date_part"
            and len(node.expressions) == 2
            and isinstance(node.expressions[0], exp.Literal)
        ):
            return node.expressions[0].this.lower(), node.expressions[1]
        return None

    def rewrite(node):
        found = part(node)
        if found is None or found[0] not in _STRFTIME:
            return node
        name, value = found
        strftime = exp.Anonymous(
            this="strftime", expressions=[exp.Literal.string(_STRFTIME[name]), value]
        )
        return exp.Cast(this=strftime, to=exp.DataType.build("INTEGER"))

    return tree.transform(rewrite)


@functools.cache
def _boolean_columns() -> frozenset[str]:
    from segassist.warehouse.schema import Base

    return frozenset(
        column.name
        for table in Base.metadata.tables.values()
        for column in table.columns
        if column.type.python_type is bool
    )


def postgres_booleans(tree):
    """`is_cancelled = 0` written as PostgreSQL has it: `is_cancelled = FALSE`. SQLite
    keeps booleans as 0 and 1, and the prompt's examples and the 1.5B model write them
    so; PostgreSQL refuses it ("operator does not exist: boolean = integer")."""
    from sqlglot import exp

    booleans = _boolean_columns()

    def rewrite(node):
        if not isinstance(node, (exp.EQ, exp.NEQ)):
            return node
        column, value = node.this, node.expression
        if isinstance(column, exp.Literal):
            column, value = value, column
        if (
            isinstance(column, exp.Column)
            and column.name in booleans
            and isinstance(value, exp.Literal)
            and not value.is_string
            and value.this in ("0", "1")
        ):
            return type(node)(this=column, expression=exp.Boolean(this=value.this == "1"))
        return node

    return tree.transform(rewrite)


def _parse_one(sql: str, dialect: str):
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    if not isinstance(sql, str) or not sql.strip():
        raise QueryRejected(f"The SQL is empty. {HINT}")
    if len(sql) > MAX_SQL_CHARS:
        raise QueryRejected(f"The SQL is {len(sql):,} characters long (at most {MAX_SQL_CHARS:,}).")
    if "\x00" in sql:
        raise QueryRejected(f"The SQL contains a NUL character. {HINT}")
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError as e:
        raise QueryRejected(f"The SQL is not valid text ({e.reason}). {HINT}") from e
    if _nesting(sql) > MAX_NESTING:
        raise QueryRejected(f"The SQL nests parentheses more than {MAX_NESTING} deep. {HINT}")
    risky = _RISKY_LEXEMES.search(sql)
    if risky:
        raise QueryRejected(
            f"'{risky.group(0)}' quoting is not allowed; write plain names and 'strings'."
        )
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (ParseError, TokenError) as e:
        first = str(e).splitlines()[0][:200]
        raise QueryRejected(f"The SQL does not parse ({first}). {HINT}") from e
    except RecursionError as e:
        raise QueryRejected(f"The SQL is nested too deeply to check. {HINT}") from e
    if len(statements) != 1:
        raise QueryRejected(f"Found {len(statements)} statements. {HINT}")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise QueryRejected(
            f"{type(statement).__name__.upper()} statements are not allowed. {HINT}"
        )
    return statement


def _nesting(sql: str) -> int:
    depth = deepest = 0
    for char in sql:
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest


def _check_tree(tree, dialect: str) -> None:
    from sqlglot import exp

    forbidden = tuple(getattr(exp, name) for name in _SESSION_OR_WRITE_NODES if hasattr(exp, name))
    try:
        nodes = list(tree.walk())
    except RecursionError as e:
        raise QueryRejected(f"The SQL is nested too deeply to check. {HINT}") from e
    for node in nodes:
        if isinstance(node, forbidden):
            what = "SELECT ... INTO" if isinstance(node, exp.Into) else type(node).__name__.upper()
            if isinstance(node, exp.Placeholder | exp.Parameter):
                what = f"The parameter {node.sql()}"
            raise QueryRejected(f"{what} is not allowed: queries may only read. {HINT}")
        if isinstance(node, exp.Func):
            _check_function(node)
        elif isinstance(node, exp.Table):
            _check_table(node, dialect)
        elif isinstance(node, exp.DataType) and node.sql().upper().startswith("REG"):
            raise QueryRejected(f"Casts to {node.sql()} (catalogue lookups) are not allowed.")


def _check_function(node) -> None:
    from sqlglot import exp

    if isinstance(node, exp.Binary | exp.Predicate | exp.Connector) and not isinstance(
        node, exp.Anonymous
    ):
        return  # an operator sqlglot models as a function (AND, OR, ->>, COLLATE, ...)
    if isinstance(node.parent, exp.Dot):
        raise QueryRejected(f"Schema-qualified functions ({node.parent.sql()}) are not allowed.")
    if isinstance(node, exp.Anonymous):
        identifier = node.args.get("this")
        quoted = isinstance(identifier, exp.Identifier) and identifier.quoted
        name = node.name
        if quoted:
            raise QueryRejected(
                f'The quoted function name "{name}" is not allowed; call functions by their '
                "plain name."
            )
        if name.lower() not in ALLOWED_FUNCTION_NAMES:
            raise QueryRejected(_function_refusal(name))
        return
    if type(node).__name__ not in ALLOWED_FUNCTION_CLASSES:
        raise QueryRejected(_function_refusal(node.sql_name()))


def _function_refusal(name: str) -> str:
    return (
        f"The function {name}() is not allowed here. Use aggregates (COUNT, SUM, AVG, MIN, "
        "MAX), window functions, ROUND/CAST/COALESCE, text (LOWER, SUBSTR, LENGTH, REPLACE) "
        "and date functions only."
    )


def _name(identifier) -> str:
    """A name as the server resolves it: unquoted names fold to lower case."""
    return identifier.this if identifier.quoted else identifier.this.lower()


def visible_ctes(table, dialect: str) -> set[str]:
    """The CTE names a table reference can see: those of the WITH clauses around it,
    and inside a CTE only the ones defined before it, and itself where the server lets
    a CTE refer to itself (SQLite always, PostgreSQL with RECURSIVE; without it,
    PostgreSQL reads the real table of that name). A CTE declared elsewhere in the query
    does not make a catalogue name readable."""
    from sqlglot import exp

    visible: set[str] = set()
    node = table
    while node.parent is not None:
        parent = node.parent
        if isinstance(parent, exp.With):
            ctes = list(parent.expressions)
            recursive = dialect == "sqlite" or parent.args.get("recursive")
            before = ctes.index(node) + (1 if recursive else 0)
            visible |= {_name(c.args["alias"].this) for c in ctes[:before]}
        elif isinstance(parent, exp.Query):
            with_ = parent.args.get("with_") or parent.args.get("with")  # sqlglot >= 30: with_
            if with_ is not None and with_ is not node:
                visible |= {_name(c.args["alias"].this) for c in with_.expressions}
        node = parent
    return visible


def _check_table(node, dialect: str) -> None:
    from sqlglot import exp

    if isinstance(node.this, exp.Func):  # a table function: FROM generate_series(...)
        return  # the function itself is checked as a node of the walk
    if node.db or node.catalog:
        raise QueryRejected(
            f"Schema-qualified tables ({node.sql()}) are not allowed; use the warehouse "
            f"tables by name: {', '.join(sorted(READABLE_TABLES))}."
        )
    name = _name(node.args["this"])
    if name in READABLE_TABLES or name in visible_ctes(node, dialect):
        return
    raise QueryRejected(
        f"The table {node.name} is not one the agent may read.{_a_column(name)} Use: "
        f"{', '.join(sorted(READABLE_TABLES))}."
    )


def _a_column(name: str) -> str:
    """Where a name written as a table is a column of the views (" state is a column:
    customer_facts.region."), or "": asked which state has the lowest average rating,
    the 1.5B model joined a table `state` (fresh-120)."""
    from segassist.warehouse.semantic import SYNONYMS, VIEWS

    lower = name.lower()
    forms = {lower, lower.removesuffix("s"), lower.removesuffix("es"), re.sub("ies$", "y", lower)}
    held = [
        f"{view}.{column}"
        for view, (_, columns) in VIEWS.items()
        for column in columns
        if forms & {column, *SYNONYMS.get(column, ())}
    ]
    return f" {name} is a column, not a table: {', '.join(held[:3])}." if held else ""


def _check_grouping(tree, dialect: str) -> None:
    """Refuse a SELECT that aggregates next to a bare column without GROUP BY."""
    from sqlglot import exp

    for select in tree.find_all(exp.Select):
        if select.args.get("group"):
            continue
        aggregates = [a for a in select.find_all(exp.AggFunc) if _owned_by(a, select)]
        if not aggregates:
            continue
        lone = len(aggregates) == 1 and isinstance(aggregates[0], exp.Min | exp.Max)
        if dialect == "sqlite" and lone:
            continue  # SQLite: the bare columns come from the row holding the MIN/MAX
        bare = sorted(
            {
                column.sql()
                for projection in select.expressions
                for column in projection.find_all(exp.Column)
                if _owned_by(column, select) and not column.find_ancestor(exp.AggFunc)
            }
        )
        if bare:
            names = ", ".join(bare)
            raise QueryRejected(
                f"{names} {'is' if len(bare) == 1 else 'are'} neither grouped nor aggregated, "
                f"yet the query aggregates ({aggregates[0].sql()}): without GROUP BY it returns "
                f"one row for all the data. Add GROUP BY {names}, or aggregate {names} too."
            )


def _owned_by(node, select) -> bool:
    """`node` belongs to `select` itself: not to a subquery of it, nor to a window."""
    from sqlglot import exp

    return node.find_ancestor(exp.Select) is select and not node.find_ancestor(exp.Window)
