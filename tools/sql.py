"""Read-only SQL for the agent, in two layers.

1. A parser check (sqlglot): exactly one statement, and it must be a query
   (SELECT, WITH ... SELECT, UNION/INTERSECT/EXCEPT); any node that writes,
   changes the schema or the session (INSERT, UPDATE, DELETE, MERGE, CREATE,
   DROP, ALTER, PRAGMA, ATTACH, COPY, SELECT INTO, SET, transactions ...)
   and functions that reach outside the database (load_extension, readfile,
   pg_read_file, dblink, set_config, nextval, pg_sleep ...) are refused.
2. A read-only connection: SQLite opened with ``mode=ro`` and
   ``PRAGMA query_only``; PostgreSQL in a ``READ ONLY`` transaction that is
   always rolled back. Each statement runs under a time limit, and at most
   `row_limit` rows come back (with the total stated when there are more).

A refused statement raises `QueryRejected`, whose message tells the model how
to rewrite it; it is the caller's to return as an observation.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text

from segassist.errors import UserInputError

DEFAULT_ROW_LIMIT = 200
DEFAULT_TIMEOUT_S = 10.0
FORBIDDEN_FUNCTIONS = frozenset(
    {
        # SQLite: files and extensions
        "load_extension",
        "readfile",
        "writefile",
        "edit",
        "fts3_tokenizer",
        "zipfile",
        # PostgreSQL: files, other servers, session, sequences, locks, sleeping, backends
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "lo_import",
        "lo_export",
        "lo_unlink",
        "dblink",
        "dblink_exec",
        "set_config",
        "nextval",
        "setval",
        "pg_sleep",
        "pg_sleep_for",
        "pg_sleep_until",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_advisory_lock",
        "pg_advisory_xact_lock",
        "pg_notify",
        "query_to_xml",
        "pg_logical_emit_message",
    }
)


class QueryRejected(UserInputError):
    """The statement is not a single read-only query; the message says how to fix it."""


def _forbidden_nodes():
    from sqlglot import exp

    return (
        exp.DML,
        exp.DDL,
        exp.Command,
        exp.Pragma,
        exp.Copy,
        exp.Into,
        exp.Transaction,
        exp.Commit,
        exp.Rollback,
        exp.Set,
        exp.Use,
        exp.Attach,
        exp.Detach,
        exp.TruncateTable,
        exp.Grant,
        exp.Merge,
        exp.LoadData,
        exp.Kill,
        exp.Lock,
    )


def check_select(sql: str, dialect: str) -> str:
    """Return `sql` if it is exactly one read-only query, else raise QueryRejected."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    hint = "Send exactly one SELECT (or WITH ... SELECT) statement that only reads."
    if not sql or not sql.strip():
        raise QueryRejected(f"The SQL is empty. {hint}")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as e:
        first = str(e).splitlines()[0]
        raise QueryRejected(f"The SQL does not parse ({first}). {hint}") from e
    if len(statements) != 1:
        raise QueryRejected(f"Found {len(statements)} statements. {hint}")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise QueryRejected(
            f"{type(statement).__name__.upper()} statements are not allowed. {hint}"
        )
    forbidden = _forbidden_nodes()
    for node in statement.walk():
        if isinstance(node, forbidden):
            what = "SELECT ... INTO" if isinstance(node, exp.Into) else type(node).__name__.upper()
            raise QueryRejected(f"{what} is not allowed: queries may only read. {hint}")
        name = _function_name(node)
        if name and name.lower() in FORBIDDEN_FUNCTIONS:
            raise QueryRejected(f"The function {name}() is not allowed. {hint}")
    return sql.strip().rstrip(";")


def _function_name(node) -> str | None:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        return str(node.this)
    if isinstance(node, exp.Func):
        return node.sql_name()
    return None


@dataclass(frozen=True)
class QueryResult:
    """Rows of a read-only query, at most `row_limit` of them."""

    columns: list[str]
    rows: list[tuple]
    truncated: bool
    total_rows: int | None  # counted only when truncated
    seconds: float


def _sqlite_readonly(engine: Engine, timeout_s: float) -> sqlite3.Connection:
    database = engine.url.database
    if not database or database == ":memory:":
        raise QueryRejected("Read-only queries need a database file, not an in-memory database.")
    uri = f"file:{Path(database).resolve()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=timeout_s, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    deadline = time.monotonic() + timeout_s
    # Returning non-zero from the progress handler aborts the running statement.
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    return conn


def run_select(
    engine: Engine,
    sql: str,
    *,
    row_limit: int = DEFAULT_ROW_LIMIT,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> QueryResult:
    """Check `sql` and run it on a read-only connection with a row limit and a time limit."""
    dialect = "sqlite" if engine.dialect.name == "sqlite" else engine.dialect.name
    if dialect == "postgresql":
        dialect = "postgres"
    query = check_select(sql, dialect)
    started = time.perf_counter()
    if engine.dialect.name == "sqlite":
        columns, rows, total = _run_sqlite(engine, query, row_limit, timeout_s)
    else:
        columns, rows, total = _run_server(engine, query, row_limit, timeout_s)
    return QueryResult(columns, rows, total is not None, total, time.perf_counter() - started)


def _run_sqlite(engine, query, row_limit, timeout_s):
    conn = _sqlite_readonly(engine, timeout_s)
    try:
        cursor = conn.execute(query)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchmany(row_limit + 1)
        total = None
        if len(rows) > row_limit:
            rows = rows[:row_limit]
            total = conn.execute(f"SELECT COUNT(*) FROM ({query}) AS counted").fetchone()[0]
        return columns, [tuple(r) for r in rows], total
    except sqlite3.OperationalError as e:
        if "interrupted" in str(e):
            raise QueryRejected(
                f"The query ran longer than {timeout_s:g} s and was stopped. Narrow it "
                "(filter, aggregate, or add LIMIT)."
            ) from e
        raise QueryRejected(f"The database refused the query: {e}. Fix the SQL.") from e
    except sqlite3.DatabaseError as e:
        raise QueryRejected(f"The database refused the query: {e}. Fix the SQL.") from e
    finally:
        conn.close()


def _run_server(engine, query, row_limit, timeout_s):
    from sqlalchemy.exc import DBAPIError

    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            conn.execute(text("SET TRANSACTION READ ONLY"))
            conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}"))
            result = conn.execute(text(query))
            columns = list(result.keys())
            rows = result.fetchmany(row_limit + 1)
            total = None
            if len(rows) > row_limit:
                rows = rows[:row_limit]
                total = conn.execute(text(f"SELECT COUNT(*) FROM ({query}) AS counted")).scalar()
            return columns, [tuple(r) for r in rows], total
        except DBAPIError as e:
            reason = str(e.orig).strip().splitlines()[0]
            if "statement timeout" in reason:
                raise QueryRejected(
                    f"The query ran longer than {timeout_s:g} s and was stopped. Narrow it "
                    "(filter, aggregate, or add LIMIT)."
                ) from e
            raise QueryRejected(f"The database refused the query: {reason}. Fix the SQL.") from e
        finally:
            transaction.rollback()
