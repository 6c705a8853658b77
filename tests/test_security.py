"""Hostile inputs, on SQLite and on the PostgreSQL server: each is refused (or held to its
limits), and nothing changes: every table's rows hashed before and after, no new files,
no lock, statistic or role left behind.

The classes are those a hostile review found (quoted and escaped function names, SQL
hidden in strings, session side effects, runaway time and size, parser tricks, system
catalogues) plus writes of every kind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import _postgres_available, fresh_postgres_schema
from segassist.tools.sql import QueryRejected, run_select
from segassist.warehouse.db import migrate, open_engine
from segassist.warehouse.importers.writer import write_batches
from segassist.warehouse.synthetic import generate
from sqlalchemy import inspect, text

EVIL = "/tmp/segassist-evil"
LONG_ARG = "x" * 10
HOSTILE = {
    # --- writes, schema and session changes --------------------------------------------
    "drop": "DROP TABLE customers",
    "delete": "DELETE FROM reviews",
    "update": "UPDATE customers SET country = 'pwned'",
    "insert": "INSERT INTO customers (customer_id, source) VALUES ('evil', 'x')",
    "stacked": "SELECT 1; DROP TABLE customers",
    "stacked-comment": "SELECT 1 /* ; */; DELETE FROM orders",
    "create": "CREATE TABLE evil (x INTEGER)",
    "create-temp": "CREATE TEMP TABLE evil AS SELECT * FROM customers",
    "create-view": "CREATE VIEW evil AS SELECT 1",
    "create-function": "CREATE FUNCTION evil() RETURNS int AS 'select 1' LANGUAGE sql",
    "alter": "ALTER TABLE customers ADD COLUMN evil INTEGER",
    "truncate": "TRUNCATE reviews",
    "pragma": "PRAGMA writable_schema = 1",
    "pragma-select": "SELECT * FROM pragma_table_info('customers')",
    "attach": f"ATTACH DATABASE '{EVIL}.db' AS evil",
    "vacuum-into": f"VACUUM INTO '{EVIL}.db'",
    "select-into": "SELECT * INTO evil FROM customers",
    "cte-delete": "WITH gone AS (DELETE FROM reviews RETURNING *) SELECT COUNT(*) FROM gone",
    "copy-out": f"COPY customers TO '{EVIL}.csv'",
    "copy-program": f"COPY customers TO PROGRAM 'touch {EVIL}'",
    "transaction": "BEGIN; DELETE FROM reviews; COMMIT",
    "grant": "GRANT ALL ON customers TO PUBLIC",
    "replace": "REPLACE INTO customers (customer_id, source) VALUES ('evil', 'x')",
    "explain-analyze": "EXPLAIN ANALYZE DELETE FROM reviews",
    "set": "SET statement_timeout = 0",
    "set-role": "SET ROLE postgres",
    "reset-role": "RESET ROLE",
    "for-update": "SELECT * FROM customers FOR UPDATE",
    "do-block": "DO $$ BEGIN DELETE FROM reviews; END $$",
    "lock": "LOCK TABLE customers",
    "notify": "NOTIFY evil",
    "listen": "LISTEN evil",
    "discard": "DISCARD ALL",
    "prepare": "PREPARE evil AS DELETE FROM reviews",
    "call": "CALL evil()",
    "checkpoint": "CHECKPOINT",
    "comment-on": "COMMENT ON TABLE customers IS 'pwned'",
    "merge": "MERGE INTO customers c USING orders o ON c.customer_id = o.customer_id "
    "WHEN MATCHED THEN DELETE",
    # --- functions by another spelling, or SQL hidden in a string ------------------------
    "quoted-read-file": "SELECT \"pg_read_file\"('/etc/passwd')",
    "upper-quoted": "SELECT \"PG_READ_FILE\"('/etc/passwd')",
    "unicode-name": "SELECT U&\"pg\\005fread\\005ffile\"('/etc/passwd')",
    "unicode-string": "SELECT U&'\\0041' FROM customers",
    "qualified": "SELECT pg_catalog.pg_read_file('/etc/passwd')",
    "qualified-quoted": 'SELECT "pg_catalog"."pg_read_file"(\'/etc/passwd\')',
    "qualified-allowed-name": "SELECT pg_catalog.lower(country) FROM customers",
    "read-binary": "SELECT pg_read_binary_file('/etc/passwd')",
    "ls-dir": "SELECT * FROM pg_ls_dir('/')",
    "stat-file": "SELECT pg_stat_file('/etc/passwd')",
    "sleep": "SELECT pg_sleep(30)",
    "quoted-sleep": 'SELECT "pg_sleep"(30)',
    "advisory": "SELECT pg_try_advisory_lock(4242)",
    "quoted-advisory": 'SELECT "pg_advisory_lock"(4243)',
    "terminate": 'SELECT "pg_terminate_backend"(pg_backend_pid())',
    "cancel": "SELECT pg_cancel_backend(1)",
    "stat-reset": "SELECT pg_stat_reset()",
    "reload-conf": "SELECT pg_reload_conf()",
    "set-config": "SELECT set_config('default_transaction_read_only', 'off', false)",
    "current-setting": "SELECT current_setting('data_directory')",
    "query-to-xml": "SELECT query_to_xml_and_xmlschema('select pg_read_file(''/etc/passwd'')', "
    "true, true, '')",
    "ts-stat": "SELECT * FROM ts_stat('SELECT to_tsvector(pg_read_file(''/etc/passwd''))')",
    "table-to-xml": "SELECT table_to_xml('customers', true, true, '')",
    "xpath": "SELECT xpath('/a', '<a/>')",
    "dblink": "SELECT dblink('host=127.0.0.1', 'DELETE FROM reviews')",
    "lo-import": "SELECT lo_import('/etc/passwd')",
    "nextval": "SELECT nextval('import_runs_run_id_seq')",
    "version": "SELECT version()",
    "fts3-tokenizer": "SELECT \"fts3_tokenizer\"('simple')",
    "fts3-register": "SELECT fts3_tokenizer('evil', x'0000000000000000')",
    "load-extension": "SELECT load_extension('/tmp/evil.so')",
    "readfile": "SELECT readfile('/etc/passwd')",
    "writefile": f"SELECT writefile('{EVIL}.txt', 'x')",
    "edit": "SELECT edit('x', 'vi')",
    "zipfile": "SELECT * FROM zipfile('/tmp/x.zip')",
    "sqlite-version": "SELECT sqlite_version()",
    "printf-width": "SELECT length(printf('%.*c', 900000000, 'x'))",
    "zeroblob": "SELECT zeroblob(5000000) FROM customers",
    "randomblob": "SELECT randomblob(900000000)",
    "repeat": "SELECT repeat('x', 5000000) FROM customers",
    "lpad": "SELECT lpad('x', 900000000, 'y')",
    "nested-call-in-allowed": "SELECT lower(pg_read_file('/etc/passwd'))",
    "function-in-where": "SELECT 1 FROM customers WHERE pg_sleep(5) IS NOT NULL",
    "function-in-order": "SELECT 1 FROM customers ORDER BY pg_sleep(1)",
    # --- catalogues and tables the agent may not read ----------------------------------
    "sqlite-master": "SELECT sql FROM sqlite_master",
    "sqlite-schema": "SELECT * FROM sqlite_schema",
    "pg-authid": "SELECT rolpassword FROM pg_authid",
    "pg-shadow": "SELECT * FROM pg_catalog.pg_shadow",
    "pg-stat-activity": "SELECT query FROM pg_stat_activity",
    "information-schema": "SELECT * FROM information_schema.tables",
    "conversations": "SELECT message FROM conversation_messages",
    "import-runs": "SELECT path FROM import_runs",
    "synthetic-truth": "SELECT * FROM synthetic_truth",
    "alembic": "SELECT * FROM alembic_version",
    "schema-qualified": "SELECT * FROM main.customers",
    "subquery-catalog": "SELECT (SELECT COUNT(*) FROM pg_roles) FROM customers",
    "join-catalog": "SELECT c.customer_id FROM customers c JOIN pg_user u ON true",
    # CTEs declared elsewhere, later, or under another case do not make a name readable
    "cte-in-subquery": "SELECT (WITH sqlite_master AS (SELECT 1) SELECT 1), name, sql "
    "FROM sqlite_master",
    "cte-in-derived-table": "SELECT x.*, import_runs.path FROM (WITH import_runs AS "
    "(SELECT 1) SELECT 1) x, import_runs",
    "cte-declared-later": "WITH x AS (SELECT * FROM import_runs), import_runs AS (SELECT 1) "
    "SELECT * FROM x",
    "cte-pragma": "SELECT * FROM (WITH pragma_database_list AS (SELECT 1) SELECT 1) z, "
    "pragma_database_list",
    "cte-settings": "SELECT (WITH pg_settings AS (SELECT 1) SELECT 1), name, setting "
    "FROM pg_settings",
    "cte-quoted-case": 'WITH "PG_SETTINGS" AS (SELECT 1) SELECT name, setting FROM pg_settings',
    "cte-self-not-recursive": "WITH pg_roles AS (SELECT * FROM pg_roles) SELECT * FROM pg_roles",
    "cast-regclass": "SELECT CAST('conversation_messages' AS regclass)",
    "cast-regrole": "SELECT 'postgres'::regrole",
    "lone-surrogate": "SELECT '\ud800'",
    # --- parameters, quoting and parser tricks -----------------------------------------
    "bind-colon": "SELECT :x",
    "bind-dollar": "SELECT $1",
    "bind-question": "SELECT ? FROM customers",
    "deep-nesting": "SELECT " + "(" * 3000 + "1" + ")" * 3000,
    "huge": "SELECT 1 " + " " * 30_000,
    "nul": "SELECT 1\x00; DROP TABLE customers",
    "empty": "   ",
    "not-sql": "please drop every table",
}


def _database(kind: str, folder: Path):
    """A migrated warehouse with synthetic data; returns (engine, cleanup)."""
    if kind == "sqlite":
        engine = open_engine(f"sqlite:///{folder / 'warehouse.db'}")
        return engine, engine.dispose
    reason = _postgres_available()
    if reason:
        pytest.skip(reason)
    stack = contextlib.ExitStack()
    engine = open_engine(stack.enter_context(fresh_postgres_schema("segassist_sec")))
    stack.callback(engine.dispose)
    return engine, stack.close


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def warehouse(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"security-{request.param}")
    engine, cleanup = _database(request.param, folder)
    migrate(engine)
    write_batches(engine, generate(120, seed=3), sha256="security")
    with engine.begin() as conn:  # a review with personal data, for the masking test
        conn.execute(
            text(
                "UPDATE reviews SET text = 'write me at ana.silva@example.com or +44 20 7946 "
                "0958' WHERE review_id = (SELECT MIN(review_id) FROM reviews)"
            )
        )
    yield engine, folder, snapshot(engine, folder)
    cleanup()


def snapshot(engine, folder: Path) -> dict:
    """Every table's row count and a hash of its rows; the files beside the database;
    on PostgreSQL the advisory locks, the statistics reset time and the roles."""
    digest, counts = hashlib.sha256(), {}
    with engine.connect() as conn:
        for table in sorted(inspect(engine).get_table_names()):
            rows = sorted(repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{table}"')))
            counts[table] = len(rows)
            digest.update("\n".join(rows).encode())
        extra = ()
        if engine.dialect.name == "postgresql":
            extra = conn.execute(
                text(
                    "SELECT (SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'), "
                    "(SELECT stats_reset FROM pg_stat_database WHERE datname = "
                    "current_database()), (SELECT string_agg(rolname, ',' ORDER BY rolname) "
                    "FROM pg_roles), (SELECT COUNT(*) FROM pg_prepared_xacts)"
                )
            ).one()
    files = sorted(
        p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm", "-journal"))
    )
    evil = sorted(str(p) for p in Path("/tmp").glob("segassist-evil*"))
    return {
        "counts": counts,
        "hash": digest.hexdigest(),
        "files": files,
        "pg": tuple(extra),
        "evil": evil,
    }


@pytest.mark.parametrize("statement", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_sql_is_refused_and_changes_nothing(warehouse, statement):
    engine, folder, before = warehouse
    with pytest.raises(QueryRejected):
        run_select(engine, statement, timeout_s=3)
    assert snapshot(engine, folder) == before


def test_there_are_at_least_80_hostile_inputs():
    assert len(HOSTILE) >= 80


# --- the second layer: what the connection itself refuses --------------------------------


# Tests of one engine's own mechanism run on that engine only (not skipped on the other).
ON_SQLITE = pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
ON_POSTGRES = pytest.mark.parametrize(
    "warehouse", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM reviews",
        "UPDATE customers SET country = 'x'",
        "CREATE TABLE evil (x INTEGER)",
    ],
)
def test_the_connection_refuses_what_the_guard_never_saw(warehouse, statement):
    """Had the allowlist a hole, the read-only connection refuses on its own."""
    from segassist.tools.sql import _run_postgres, _run_sqlite

    engine, folder, before = warehouse
    run = _run_sqlite if engine.dialect.name == "sqlite" else _run_postgres
    with pytest.raises(QueryRejected):
        run(engine, statement, 10, 3.0, 100_000)
    assert snapshot(engine, folder) == before


@ON_POSTGRES
@pytest.mark.parametrize(
    "statement",
    [
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT pg_stat_reset()",
        "SELECT COUNT(*) FROM conversation_messages",
    ],
)
def test_the_reader_role_refuses_what_the_guard_never_saw(warehouse, statement):
    """On PostgreSQL the reader role holds no file, admin or lock rights and no grant on
    the conversations (SQLite has neither those functions nor roles: the allowlist keeps
    those tables out there)."""
    from segassist.tools.sql import _run_postgres

    engine, folder, before = warehouse
    with pytest.raises(QueryRejected):
        _run_postgres(engine, statement, 10, 3.0, 100_000)
    assert snapshot(engine, folder) == before


@ON_POSTGRES
def test_nothing_a_query_does_outlives_it(warehouse):
    """An advisory lock taken behind the guard's back dies with the query's connection."""
    from segassist.tools.sql import _run_postgres

    engine, folder, before = warehouse
    _run_postgres(engine, "SELECT pg_try_advisory_lock(4242)", 10, 3.0, 100_000)
    time.sleep(0.2)
    assert snapshot(engine, folder) == before


# --- limits ---------------------------------------------------------------------------------


def test_time_limit_holds_on_an_allowed_query(warehouse):
    engine, folder, before = warehouse
    endless = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c"
    )
    started = time.monotonic()
    with pytest.raises(QueryRejected, match="longer than 1 s"):
        run_select(engine, endless, timeout_s=1)
    assert time.monotonic() - started < 4
    assert snapshot(engine, folder) == before


@ON_SQLITE
def test_a_huge_value_is_refused_quickly(warehouse):
    engine, _, _ = warehouse
    grow = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 3000000) "
        "SELECT group_concat(x || 'abcdefghij', '') FROM c"
    )
    started = time.monotonic()
    with pytest.raises(QueryRejected, match="larger than"):
        run_select(engine, grow, timeout_s=10)
    assert time.monotonic() - started < 10


def test_results_are_capped_in_bytes_as_well_as_rows(warehouse):
    engine, _, _ = warehouse
    wide = (
        "SELECT a.customer_id, b.customer_id, c.customer_id "
        "FROM customers a, customers b, customers c"
    )
    result = run_select(engine, wide, row_limit=5000, max_bytes=20_000)
    size = sum(len(str(v)) for row in result.rows for v in row)
    assert result.truncated and result.cut_at_bytes and size <= 20_000
    assert len(result.rows) < 5000


# --- queries that must work -------------------------------------------------------------------

# What an analyst writes: each must pass the guard and give the same rows as the query
# run directly (sqlglot writes it back from the tree).
LEGITIMATE = [
    "SELECT customer_id FROM orders WHERE is_cancelled AND customer_id LIKE 'SC%' OR 1 = 0",
    "SELECT CASE WHEN rating >= 4 THEN 'good' WHEN rating <= 2 THEN 'bad' ELSE 'ok' END AS m, "
    "COUNT(*) FROM reviews GROUP BY 1 ORDER BY 1",
    "SELECT COUNT(*) FROM customers c WHERE EXISTS (SELECT 1 FROM orders o "
    "WHERE o.customer_id = c.customer_id) AND NOT EXISTS (SELECT 1 FROM reviews r "
    "WHERE r.customer_id = c.customer_id AND r.rating = 1)",
    "SELECT COUNT(*) FROM reviews WHERE rating IN (1, 2) OR rating BETWEEN 4 AND 5",
    "SELECT customer_id, COUNT(*) AS n, SUM(CASE WHEN is_cancelled THEN 1 ELSE 0 END) AS c "
    "FROM orders GROUP BY customer_id HAVING COUNT(*) > 1 ORDER BY n DESC, customer_id LIMIT 5",
    "WITH per AS (SELECT customer_id, COUNT(*) AS n FROM orders GROUP BY customer_id), "
    "top AS (SELECT * FROM per WHERE n >= 2) SELECT COUNT(*), MAX(n) FROM top",
    "SELECT customer_id, ordered_at, ROW_NUMBER() OVER (PARTITION BY customer_id "
    "ORDER BY ordered_at, order_id) AS k FROM orders ORDER BY customer_id, k LIMIT 20",
    "SELECT COALESCE(NULLIF(country, ''), 'unknown') AS c, COUNT(*) FROM customers "
    "GROUP BY 1 ORDER BY 1",
    "SELECT ROUND(AVG(rating), 2), MIN(rating), MAX(rating) FROM reviews WHERE text IS NOT NULL",
    "SELECT COUNT(DISTINCT customer_id) FROM reviews WHERE LOWER(text) LIKE '%great%' "
    "OR text LIKE '%it''s%'",
    "SELECT COUNT(*) FROM (SELECT customer_id FROM orders UNION SELECT customer_id FROM reviews) u",
    "SELECT 7 / 2 AS i, 7 % 3 AS m, -3 AS n, 'price $5$ off' AS s",
]


@pytest.mark.parametrize("query", LEGITIMATE)
def test_analyst_queries_run_and_mean_what_they_say(warehouse, query):
    engine, _, _ = warehouse
    result = run_select(engine, query, row_limit=1000)
    raw = engine.raw_connection()  # the driver itself, no placeholder processing
    try:
        cursor = raw.cursor()
        cursor.execute(query)
        direct = [tuple(r) for r in cursor.fetchall()]
    finally:
        raw.close()
    assert result.rows == direct


@ON_SQLITE
def test_one_long_pattern_match_is_bounded_on_sqlite(warehouse):
    """SQLite runs one LIKE over a long string as one step, past its progress handler:
    the caps on value size and pattern length bound that step."""
    engine, _, _ = warehouse
    long = "a" * 1000
    attack = f"SELECT replace('{long}', 'a', '{long[:-1]}') LIKE '%{'a' * 190}b'"
    started = time.monotonic()
    with contextlib.suppress(QueryRejected):
        run_select(engine, attack, timeout_s=1)
    assert time.monotonic() - started < 5
    with pytest.raises(QueryRejected, match="too complex"):
        run_select(engine, "SELECT COUNT(*) FROM reviews WHERE text LIKE '%" + "a" * 300 + "b'")


@ON_POSTGRES
def test_the_whole_query_keeps_its_deadline_on_postgresql(warehouse):
    """statement_timeout restarts at every FETCH; the query's deadline does not."""
    engine, _, _ = warehouse
    slow = "SELECT x FROM generate_series(1, 1000000000) AS g(x) WHERE x % 65000 = 0"
    started = time.monotonic()
    try:
        result = run_select(engine, slow, timeout_s=2)
        assert result.truncated
    except QueryRejected:
        pass
    assert time.monotonic() - started < 3.5


@ON_POSTGRES
def test_values_the_driver_cannot_load_are_refused_not_raised(warehouse):
    engine, _, _ = warehouse
    with pytest.raises(QueryRejected):
        run_select(engine, "SELECT CAST('[1e5000]' AS JSONB)")


def test_valid_queries_with_comments_and_odd_text_run(warehouse):
    engine, _, _ = warehouse
    result = run_select(engine, "SELECT customer_id FROM customers -- all of them", row_limit=10)
    assert len(result.rows) == 10 and result.total_rows == 120
    colon = run_select(engine, "SELECT COUNT(*) FROM reviews WHERE text LIKE '% :x%'")
    assert colon.rows[0][0] == 0
    percent = run_select(engine, "SELECT '100%' AS share, COUNT(*) AS n FROM customers")
    assert percent.rows == [("100%", 120)]


# --- tools: every failure is an observation, personal data is masked ---------------------


@pytest.fixture
def tools(warehouse, tmp_path):
    from segassist.tools.catalogue import ToolContext, make_tools

    engine, _, _ = warehouse
    return {t.name: t for t in make_tools(ToolContext(engine, None, tmp_path / "exports"))}


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("run_sql", {"sql": "SELECT 9e999 AS big, -9e999 AS small"}),
        ("run_sql", {"sql": "SELECT " + "(" * 3000 + "1" + ")" * 3000}),
        ("run_sql", {"sql": "SELECT COUNT(*) FROM reviews WHERE text = ' :x'"}),
        ("export_audience", {"segment_id": 10**30}),
        ("find_customers", {"segment_id": 10**30, "limit": -5}),
        ("customer_profile", {"customer_id": "\x00" * 5}),
        ("search_reviews", {"query": "x", "since": "not a date"}),
    ],
)
def test_a_tool_failure_is_an_observation(tools, tool, args):
    said = tools[tool].invoke(args)
    assert isinstance(said, str) and said.strip()


def test_sql_results_reach_the_model_masked(tools):
    said = tools["run_sql"].invoke({"sql": "SELECT text FROM reviews WHERE text LIKE '%@%'"})
    assert "ana.silva@example.com" not in said and "[email]" in said
    assert "7946" not in said


# --- files ------------------------------------------------------------------------------------


def test_exported_cells_cannot_be_formulas_and_files_are_private(tmp_path):
    import csv

    from segassist.tools.export import write_private_csv

    hostile = ["=1+2", "@SUM(1+1)", "=cmd|' /C calc'!A0", "+1", "-1+1", "\tx", "\rx", "ok"]
    path = write_private_csv(tmp_path / "out" / "a.csv", ["value", "n"], [(v, -3) for v in hostile])
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    assert [r[0] for r in rows[:-1]] == ["'" + v for v in hostile[:-1]]
    assert rows[-1] == ["ok", "-3"]  # numbers stay numbers
    assert oct(path.stat().st_mode)[-3:] == "600"
    assert oct(path.parent.stat().st_mode)[-3:] == "700"


@pytest.mark.parametrize("name", ["odd#name.db", "pct%41.db", "sp ace.db", "naïve ü.db"])
def test_sqlite_paths_with_odd_characters(tmp_path, name):
    engine = open_engine(f"sqlite:///{tmp_path / name}")
    migrate(engine)
    write_batches(engine, generate(10, seed=1), sha256="odd")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert run_select(engine, "SELECT COUNT(*) FROM customers").rows == [(10,)]
    with pytest.raises(QueryRejected):
        run_select(engine, "DELETE FROM customers")
    after = sorted(p.name for p in tmp_path.iterdir())
    assert [p for p in after if not p.endswith(("-wal", "-shm"))] == [
        p for p in before if not p.endswith(("-wal", "-shm"))
    ]


# --- init and the first import are atomic ------------------------------------------------


def _cli(home: Path, *args: str, db: str | None = None) -> list[str]:
    command = [str(Path(sys.executable).parent / "segassist")]
    if db:
        command += ["--db", db]
    return [*command, *args]


def _env(home: Path) -> dict:
    return {**os.environ, "SEGASSIST_HOME": str(home), "HF_HUB_OFFLINE": "1"}


@pytest.mark.parametrize("kill_after_s", [0.3, 0.6, 0.9, 1.2, 1.6, 2.2])
def test_init_killed_at_any_moment_recovers(tmp_path, kill_after_s):
    home = tmp_path / "home"
    process = subprocess.Popen(
        _cli(home, "init"), env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(kill_after_s)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    database = home / "segassist.db"
    if database.exists():  # all or nothing: no tables, or every table with its version
        engine = open_engine(f"sqlite:///{database}")
        tables = set(inspect(engine).get_table_names())
        from segassist.warehouse.db import current_revision, head_revision

        assert tables <= {"alembic_version"} or (
            "customers" in tables and current_revision(engine) == head_revision()
        ), sorted(tables)
        engine.dispose()
    again = subprocess.run(_cli(home, "init"), env=_env(home), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    synth = subprocess.run(
        _cli(home, "synth", "--customers", "5"), env=_env(home), capture_output=True, text=True
    )
    assert synth.returncode == 0, synth.stderr


@pytest.mark.postgres
@pytest.mark.parametrize("kill_after_s", [0.5, 0.9, 1.3])
def test_init_killed_on_postgresql_recovers(tmp_path, kill_after_s):
    engine, cleanup = _database("postgres", tmp_path)
    url = engine.url.render_as_string(hide_password=False)
    try:
        process = subprocess.Popen(
            _cli(tmp_path, "init", db=url),
            env=_env(tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(kill_after_s)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        again = subprocess.run(
            _cli(tmp_path, "init", db=url), env=_env(tmp_path), capture_output=True, text=True
        )
        assert again.returncode == 0, again.stderr
        assert "segassist_reader" in again.stdout
    finally:
        cleanup()


def test_a_failed_first_import_leaves_an_empty_database(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"reviewerID": "a", "asin": "b", "overall": "not a number"}\n')
    home = tmp_path / "home"
    result = subprocess.run(
        _cli(home, "import", "amazon", str(bad)), env=_env(home), capture_output=True, text=True
    )
    assert result.returncode == 2, result.stdout + result.stderr
    engine = open_engine(f"sqlite:///{home / 'segassist.db'}")
    assert inspect(engine).get_table_names() == []
    engine.dispose()


# --- the CLI's sql command: the same guard from the shell ------------------------------------


def test_the_sql_command_uses_the_agent_guard(tmp_path):
    home = tmp_path / "home"
    subprocess.run(
        _cli(home, "synth", "--customers", "20"), env=_env(home), check=True, capture_output=True
    )
    ok = subprocess.run(
        _cli(home, "sql", "SELECT COUNT(*) AS n FROM customers"),
        env=_env(home),
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and "| 20 |" in ok.stdout
    refused = subprocess.run(
        _cli(home, "sql", "SELECT \"pg_read_file\"('/etc/passwd')"),
        env=_env(home),
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "not allowed" in refused.stderr


@pytest.mark.parametrize(
    ("text", "kept", "masked"),
    [
        ("call +44 20 7946 0958 now", "call", "7946"),
        ("(11) 98765-4321 whatsapp", "whatsapp", "98765"),
        ("write to ana.silva@example.com", "write to", "ana.silva"),
        ("tel 0800 123 4567.", "tel", "4567"),
        ("| 2023-08-16 14:00:00 | 825686.23 |", "2023-08-16 14:00:00 | 825686.23", None),
        ("| 16/08/2023 | 1,234,567.89 | 536365 | 12345678901 |", "1,234,567.89 | 536365", None),
    ],
)
def test_masking_hides_contacts_but_keeps_dates_amounts_and_ids(text, kept, masked):
    """SQL results reach the model masked: a date or an amount taken for a phone number
    would make every date question unanswerable."""
    from segassist.tools.text import mask_personal_data

    shown = mask_personal_data(text)
    assert kept in shown
    if masked:
        assert masked not in shown


def test_a_column_written_as_a_table_is_refused_with_where_the_column_is(warehouse):
    """Asked which state has the lowest average rating, the 1.5B model joined a table
    `state` (fresh-120) and was told only the tables it may read. A name that is a column
    of the views (or a synonym of one) is refused with where that column is; another
    unknown table is refused as before."""
    engine = warehouse[0]
    with pytest.raises(QueryRejected) as refused:
        run_select(engine, "SELECT s.state FROM customer_facts c JOIN state s ON 1 = 1")
    assert "state is a column, not a table: customer_facts.region." in str(refused.value)
    with pytest.raises(QueryRejected) as refused:
        run_select(engine, "SELECT * FROM nothing_here")
    assert "nothing_here" in str(refused.value) and "is a column" not in str(refused.value)
    with pytest.raises(QueryRejected) as refused:
        run_select(engine, "SELECT * FROM categories")
    assert "categories is a column, not a table: product_facts.category." in str(refused.value)
