"""Read-only SQL for the agent (and `segassist sql`), in three layers.

1. The allowlist check in `tools.sql_guard`: one query, allowed functions and
   tables only; what runs is the query written back from the checked tree.
2. A connection that cannot write: SQLite opened read-only (``mode=ro``, ``PRAGMA
   query_only``); PostgreSQL in a ``READ ONLY`` transaction as the non-superuser
   role READER_ROLE (no file, admin or lock functions), on a connection of its own
   that is closed afterwards, so nothing a query does outlives it.
3. Limits that hold on both engines: a time limit (SQLite: a progress handler and
   an interrupt at the deadline, values capped at MAX_VALUE_BYTES so one function
   call cannot run for long; PostgreSQL: statement_timeout), at most `row_limit`
   rows and `max_bytes` of them (PostgreSQL streams through a server-side cursor,
   so a huge result is never buffered).

A refused or failed statement raises `QueryRejected`, whose message tells the
model how to rewrite it; it is the caller's to return as an observation.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from segassist.core.errors import UserInputError
from segassist.tools.sql_guard import QueryRejected, check_select
from segassist.warehouse.db import READER_ROLE, reader_role_sql
from sqlalchemy import Engine

DEFAULT_ROW_LIMIT = 200
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_BYTES = 1_000_000  # of the rows returned, as text
# SQLite runs one function call (a LIKE over a long string, a replace()) as one step,
# which neither the progress handler nor an interrupt can stop: what bounds its time is
# the size of what it works on.
MAX_VALUE_BYTES = 1_000_000  # the longest string or blob a query may build
MAX_LIKE_PATTERN = 200  # characters of a LIKE or GLOB pattern
MAX_COLUMNS = 100
_FETCH_BATCH = 10  # rows held at once before the size check

__all__ = ["DEFAULT_ROW_LIMIT", "QueryRejected", "QueryResult", "check_select", "run_select"]


@dataclass(frozen=True)
class QueryResult:
    """Rows of a read-only query, at most `row_limit` of them and `max_bytes` in size."""

    columns: list[str]
    rows: list[tuple]
    truncated: bool  # more rows exist than came back
    total_rows: int | None  # counted only when truncated (None when counting took too long)
    seconds: float
    cut_at_bytes: bool = False  # truncated by size rather than by row count


def sql_dialect(engine: Engine) -> str:
    """sqlglot's name for the engine's dialect."""
    name = engine.dialect.name
    if name == "sqlite":
        return "sqlite"
    if name == "postgresql":
        return "postgres"
    raise UserInputError(f"The agent's SQL runs on SQLite and PostgreSQL; this database is {name}.")


def run_select(
    engine: Engine,
    sql: str,
    *,
    row_limit: int = DEFAULT_ROW_LIMIT,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> QueryResult:
    """Check `sql` and run it read-only under a time limit, a row limit and a size limit.

    Raises:
        QueryRejected: the statement is not allowed, failed, or ran out of time; the
            message says how to fix it.
    """
    query = check_select(sql, sql_dialect(engine))
    started = time.perf_counter()
    run = _run_sqlite if engine.dialect.name == "sqlite" else _run_postgres
    columns, rows, more, total, cut = run(engine, query, row_limit, timeout_s, max_bytes)
    return QueryResult(columns, rows, more, total, time.perf_counter() - started, cut)


def _value_bytes(value) -> int:
    if value is None:
        return 4
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value)
    return len(str(value).encode("utf-8", "replace"))


def _take_rows(fetch, row_limit: int, max_bytes: int) -> tuple[list[tuple], bool, bool]:
    """Rows from `fetch(n)` until the row limit (one more is read to know there are more)
    or the byte limit. Returns (rows, more rows exist, cut by size)."""
    rows, size = [], 0
    while len(rows) <= row_limit:
        batch = fetch(min(_FETCH_BATCH, row_limit + 1 - len(rows)))
        if not batch:
            return rows, False, False
        for row in batch:
            size += sum(_value_bytes(v) for v in row)
            if size > max_bytes:
                return rows, True, True
            rows.append(tuple(row))
    return rows[:row_limit], True, False


def _too_long(timeout_s: float) -> QueryRejected:
    return QueryRejected(
        f"The query ran longer than {timeout_s:g} s and was stopped. Narrow it "
        "(filter, aggregate, or add LIMIT)."
    )


def _refused(reason: str) -> QueryRejected:
    if "too big" in reason:
        return QueryRejected(
            f"The query builds a value larger than {MAX_VALUE_BYTES:,} bytes ({reason}). "
            "Aggregate or select shorter columns."
        )
    return QueryRejected(f"The database refused the query: {reason}. Fix the SQL.")


# --- SQLite ---------------------------------------------------------------------------


def sqlite_readonly_uri(database: str) -> str:
    """A read-only `file:` URI for a database path, with `#`, `%` and `?` escaped (unescaped,
    `odd#name.db` opens, and creates, `odd`)."""
    return f"file:{quote(str(Path(database).resolve()))}?mode=ro"


def _sqlite_readonly(engine: Engine, timeout_s: float) -> sqlite3.Connection:
    database = engine.url.database
    if not database or database == ":memory:":
        raise QueryRejected("Read-only queries need a database file, not an in-memory database.")
    if not Path(database).is_file():
        raise UserInputError(f"No database file at {database}; run 'segassist init' first.")
    conn = sqlite3.connect(
        sqlite_readonly_uri(database), uri=True, timeout=timeout_s, check_same_thread=False
    )
    conn.execute("PRAGMA query_only = ON")
    conn.execute("PRAGMA trusted_schema = OFF")
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, MAX_LIKE_PATTERN)
    conn.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, MAX_COLUMNS)
    deadline = time.monotonic() + timeout_s
    # Returning non-zero from the progress handler aborts the running statement.
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    return conn


def _run_sqlite(engine, query, row_limit, timeout_s, max_bytes):
    conn = _sqlite_readonly(engine, timeout_s)
    watchdog = threading.Timer(timeout_s + 0.5, conn.interrupt)  # between VM steps as well
    watchdog.start()
    try:
        cursor = conn.execute(query)
        columns = [d[0] for d in cursor.description or []]
        rows, more, cut = _take_rows(cursor.fetchmany, row_limit, max_bytes)
    except sqlite3.OperationalError as e:
        if "interrupted" in str(e):
            raise _too_long(timeout_s) from e
        raise _refused(str(e)) from e
    except Exception as e:  # any other failure is the query's to fix, never a crash
        raise _refused(f"{type(e).__name__}: {e}") from e
    try:
        total = None
        if more and not cut:
            total = conn.execute(f"SELECT COUNT(*) FROM ({query}) AS counted").fetchone()[0]
        return columns, rows, more, total, cut
    except sqlite3.Error:
        return columns, rows, more, None, cut  # the rows stand; the total took too long
    finally:
        watchdog.cancel()
        conn.close()


# --- PostgreSQL -----------------------------------------------------------------------


def _conninfo(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _run_postgres(engine, query, row_limit, timeout_s, max_bytes):
    import psycopg

    try:
        conn = psycopg.connect(_conninfo(engine), autocommit=False, connect_timeout=10)
    except psycopg.OperationalError as e:
        from segassist.core.errors import DatabaseUnavailableError

        raise DatabaseUnavailableError(f"Cannot reach the database: {e}".strip()) from e
    # statement_timeout restarts at every FETCH: the deadline of the whole query is a
    # cancel from this side.
    watchdog = threading.Timer(timeout_s, conn.cancel)
    watchdog.start()
    try:
        conn.read_only = True
        with conn.cursor() as setup:
            setup.execute(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}")
            setup.execute("SET LOCAL lock_timeout = 1000")
            _become_reader(setup)
        with conn.cursor(name="segassist_query") as cursor:
            cursor.execute(query)
            columns = [d.name for d in cursor.description or []]
            rows, more, cut = _take_rows(cursor.fetchmany, row_limit, max_bytes)
        total = _count_rows(conn, query) if more and not cut else None
        return columns, rows, more, total, cut
    except psycopg.errors.QueryCanceled as e:
        raise _too_long(timeout_s) from e
    except psycopg.Error as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise _refused(reason) from e
    except UserInputError:
        raise
    except Exception as e:  # a value psycopg cannot load, and the like: never a crash
        raise _refused(f"{type(e).__name__}: {str(e)[:200]}") from e
    finally:
        watchdog.cancel()
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        conn.close()


def _become_reader(cursor) -> None:
    """Run the rest of the transaction as the reader role; say how to create it if missing."""
    import psycopg

    try:
        cursor.execute(f"SET LOCAL ROLE {READER_ROLE}")
    except psycopg.Error as e:
        raise UserInputError(
            f"The agent's queries run as the read-only role {READER_ROLE}, which this database "
            f"lacks or this user may not use ({str(e).splitlines()[0]}). Run 'segassist init', "
            f"or have an administrator run:\n{reader_role_sql('<schema>', '<this user>')}"
        ) from e


def _count_rows(conn, query: str) -> int | None:
    """The total row count of a truncated result (None when counting takes too long)."""
    import psycopg

    try:
        with conn.cursor() as cursor:
            cursor.execute("SAVEPOINT counting")
            cursor.execute(f"SELECT COUNT(*) FROM ({query}) AS counted")
            return cursor.fetchone()[0]
    except psycopg.errors.QueryCanceled:
        with contextlib.suppress(psycopg.Error), conn.cursor() as cursor:
            cursor.execute("ROLLBACK TO SAVEPOINT counting")
        return None
