"""Opening the warehouse and bringing its schema up to date."""

from __future__ import annotations

from pathlib import Path

from segassist.core.errors import DatabaseUnavailableError, UserInputError
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

_MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (agent, UI) run while an import writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_transactional(dbapi_connection, _record) -> None:
    # pysqlite opens transactions only before INSERT/UPDATE/DELETE, so a migration's
    # CREATE TABLEs committed one by one (kill -9 mid-init left half a schema). Let
    # SQLAlchemy's BEGIN (below) decide: DDL and data then commit together or not at all.
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn) -> None:
    conn.exec_driver_sql("BEGIN")


def open_engine(url: str) -> Engine:
    """Create an engine for a SQLAlchemy URL, creating a SQLite file's folder.

    Raises:
        UserInputError: the URL cannot be parsed or names an unknown driver.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise UserInputError(
            f"Database URL {url!r} is not a SQLAlchemy URL; use e.g. "
            "'sqlite:///path/to/segassist.db' or 'postgresql+psycopg://host:5432/db'."
        ) from e
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(parsed)
    except ImportError as e:
        raise UserInputError(
            f"No driver for {parsed.drivername}: {e}. "
            "Install it (e.g. pip install 'psycopg[binary]')."
        ) from e
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "connect", _sqlite_transactional)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def check_connection(engine: Engine) -> None:
    """Raise DatabaseUnavailableError unless the database answers."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as e:
        shown = engine.url.render_as_string(hide_password=True)
        raise DatabaseUnavailableError(
            f"Cannot reach the database {shown}: {e.orig}. "
            "Start the server or pass another --db URL."
        ) from e


def _alembic_config(conn: Connection | None = None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def head_revision() -> str:
    """The newest migration the code knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def migrate(engine: Engine, revision: str = "head") -> list[str]:
    """Apply the named migrations up to `revision`, all in one transaction (on SQLite too),
    and grant the agent's reader role on PostgreSQL; return the migrations applied."""
    from alembic import command
    from segassist.warehouse.semantic import drop_views, install_views

    check_connection(engine)
    before = current_revision(engine)
    with engine.begin() as conn:
        # The semantic views read the tables a migration may alter: out of the way, then
        # back as this code defines them (also when no migration was due).
        drop_views(conn)
        command.upgrade(_alembic_config(conn), revision)
        if revision == "head" or revision == head_revision():
            install_views(conn)
        if conn.dialect.name == "postgresql":
            grant_reader(conn)
    return _revisions_between(before, current_revision(engine))


def unmigrate(engine: Engine) -> None:
    """Drop the whole schema again, in one transaction (a first import that failed)."""
    from alembic import command
    from segassist.warehouse.semantic import drop_views

    with engine.begin() as conn:
        drop_views(conn)
        command.downgrade(_alembic_config(conn), "base")
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


# PostgreSQL: the agent's queries run as this role (SET LOCAL ROLE inside a read-only
# transaction): no superuser, no login, SELECT on the agent's tables only, so file,
# admin and lock functions are out of reach whatever the SQL says.
READER_ROLE = "segassist_reader"


def reader_role_sql(schema: str, user: str) -> str:
    """The SQL that creates the reader role and grants it what the agent may read."""
    from segassist.warehouse.schema import AGENT_READABLE_TABLES

    tables = ", ".join(f'"{schema}"."{t}"' for t in AGENT_READABLE_TABLES)
    return (
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER_ROLE}') "
        f"THEN CREATE ROLE {READER_ROLE} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
        f"NOINHERIT NOREPLICATION NOBYPASSRLS; END IF; END $$;\n"
        f'GRANT USAGE ON SCHEMA "{schema}" TO {READER_ROLE};\n'
        f"GRANT SELECT ON {tables} TO {READER_ROLE};\n"
        f'GRANT {READER_ROLE} TO "{user}";'
    )


def grant_reader(conn: Connection) -> str | None:
    """Create the reader role (once per server) and grant it this schema's agent tables.

    Returns None when done, else the SQL an administrator must run (this user may not
    create roles); the rest of the migration is kept either way.
    """
    from sqlalchemy.exc import DBAPIError

    schema, user = conn.execute(text("SELECT current_schema(), current_user")).one()
    sql = reader_role_sql(schema, user)
    try:
        with conn.begin_nested():
            for statement in sql.split(";\n"):
                conn.exec_driver_sql(statement.rstrip(";"))
    except DBAPIError:
        return sql
    return None


def current_revision(engine: Engine) -> str | None:
    """The schema revision recorded in the database, or None for an empty one."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _revisions_between(before: str | None, after: str | None) -> list[str]:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_alembic_config())
    if after is None or after == before:
        return []
    chain = list(scripts.iterate_revisions(after, before))
    return [f"{s.revision}: {s.doc}" for s in reversed(chain)]


def require_schema(engine: Engine) -> None:
    """Raise UserInputError unless the schema is at the latest migration."""
    head = head_revision()
    check_connection(engine)
    current = current_revision(engine)
    if current != head:
        shown = engine.url.render_as_string(hide_password=True)
        state = "has no segassist schema" if current is None else f"is at revision {current}"
        raise UserInputError(
            f"The database {shown} {state}; the code needs {head}. Run 'segassist init' first."
        )


def ensure_schema(engine: Engine) -> list[str]:
    """Create the schema in an empty database; refuse one at another revision.

    Returns the migrations applied (none when the schema was already there).
    """
    check_connection(engine)
    if current_revision(engine) is None and set(table_names(engine)) <= {"alembic_version"}:
        return migrate(engine)
    require_schema(engine)
    return []


def table_names(engine: Engine) -> list[str]:
    """Tables that exist in the database."""
    return inspect(engine).get_table_names()


def reader_role_missing(engine: Engine) -> str | None:
    """On PostgreSQL, the SQL still to run for the agent's reader role (None when it is in
    place, and always on SQLite, which opens the file read-only instead)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        schema, user = conn.execute(text("SELECT current_schema(), current_user")).one()
        ready = conn.execute(
            text(
                "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = :role) "
                "AND has_table_privilege(:role, quote_ident(:schema) || '.customers', 'SELECT') "
                "AND pg_has_role(current_user, :role, 'MEMBER')"
            ),
            {"role": READER_ROLE, "schema": schema},
        ).scalar()
    return None if ready else reader_role_sql(schema, user)
