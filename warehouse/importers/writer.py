"""Writing normalised frames into the warehouse: one transaction, idempotent.

Each importer turns its files into a `Batch` of frames whose columns are the
warehouse tables' columns. `write_batch` writes them in foreign-key order in a
single transaction, skipping rows whose primary key already exists, so that
re-importing a file changes nothing and a failure leaves the database as it
was. A ledger row in `import_runs` records each file's sha256; a file already
imported is skipped without reading it again unless forced.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from segassist.core.progress import ProgressFactory, no_progress
from segassist.warehouse.schema import BEHAVIOUR_TABLES, Base, ImportRun
from sqlalchemy import Connection, Engine, Table, func, insert, select

# Foreign-key order: parents before children.
WRITE_ORDER = (*BEHAVIOUR_TABLES, "synthetic_truth", "value_names")
CHUNK_ROWS = 50_000
# Inserting at least this many rows, and at least as many as the table holds,
# drops the table's secondary indexes and rebuilds them afterwards (inside the
# same transaction): one sort beats 500k scattered index updates, but
# re-sorting a big table for a small addition does not.
REBUILD_INDEXES_ROWS = 100_000


@dataclass
class Batch:
    """Normalised rows for some warehouse tables, plus notes for the user.

    Rows whose key is already stored are skipped, except in the tables named in
    `update`: there a stored row takes the batch's non-empty values (product
    metadata fills in products that orders created with an id only).
    """

    importer: str
    source: str
    paths: list[Path]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rows_read: int = 0
    update: frozenset[str] = frozenset()


@dataclass
class ImportResult:
    """What an import did, for the CLI and tests."""

    importer: str
    source: str
    rows_read: int
    rows_written: dict[str, int]
    notes: list[str]
    skipped: bool = False

    def summary(self) -> str:
        """Human-readable lines describing the result."""
        if self.skipped:
            return "\n".join(self.notes)
        written = ", ".join(f"{t} +{n:,}" for t, n in self.rows_written.items()) or "nothing new"
        lines = [f"{self.importer}: read {self.rows_read:,} rows; wrote {written}."]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def file_sha256(paths: Iterable[Path]) -> str:
    """One sha256 over the files' bytes, in the given order."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def already_imported(engine: Engine, importer: str, sha256: str) -> ImportRun | None:
    """The ledger row of an earlier import of exactly these bytes, if any."""
    with engine.connect() as conn:
        row = conn.execute(
            select(ImportRun.__table__)
            .where(ImportRun.importer == importer, ImportRun.sha256 == sha256)
            .limit(1)
        ).first()
    return row


def _column_values(series: pd.Series, process: Callable | None = None) -> list:
    """A column as plain Python values, None for missing, through `process` if given."""
    if pd.api.types.is_datetime64_any_dtype(series):
        values = np.where(series.isna().to_numpy(), None, series.dt.to_pydatetime()).tolist()
    else:
        values = series.to_numpy(dtype=object, na_value=None).tolist()
    if process is not None:
        values = [None if v is None else process(v) for v in values]
    return values


def _bind_processor(column_type, dialect) -> Callable | None:
    """The function SQLAlchemy applies to a Python value before handing it to the driver."""
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def _execute_many(conn: Connection, statement, frame: pd.DataFrame, columns: list[str]) -> int:
    """executemany of the frame's rows.

    On SQLite the statement is compiled once and rows go to the driver as
    tuples, each column through its SQLAlchemy bind processor, so values are
    stored exactly as the ORM would store them, about 3x faster than
    `Connection.execute` with a dict per row.
    """
    if conn.dialect.name == "sqlite":
        compiled = statement.compile(dialect=conn.dialect, column_keys=columns)
        table = statement.table
        data = {
            c: _column_values(frame[c], _bind_processor(table.c[c].type, conn.dialect))
            for c in columns
        }
        rows = list(zip(*(data[key] for key in compiled.positiontup), strict=True))
        return conn.exec_driver_sql(str(compiled), rows).rowcount
    data = [_column_values(frame[c]) for c in columns]
    return conn.execute(
        statement, [dict(zip(columns, row, strict=True)) for row in zip(*data, strict=True)]
    ).rowcount


def _copy_into(
    conn: Connection, table: Table, frame: pd.DataFrame, columns: list[str], update
) -> int:
    """PostgreSQL: COPY the rows into a temporary table, then one INSERT ... SELECT.

    COPY streams rows without a round trip each (executemany sent 525k
    statements); the INSERT keeps the same conflict rule as elsewhere.
    """
    from sqlalchemy import column as sql_column
    from sqlalchemy import table as sql_table

    stage = f"segassist_stage_{table.name}"
    conn.exec_driver_sql(
        f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" (LIKE "{table.name}") ON COMMIT DROP'
    )
    conn.exec_driver_sql(f'TRUNCATE "{stage}"')
    names = ", ".join(f'"{c}"' for c in columns)
    data = [_column_values(frame[c]) for c in columns]
    cursor = conn.connection.driver_connection.cursor()
    with cursor, cursor.copy(f'COPY "{stage}" ({names}) FROM STDIN') as copy:
        for row in zip(*data, strict=True):
            copy.write_row(row)
    staged = sql_table(stage, *(sql_column(c) for c in columns))
    statement = _insert_statement(conn, table, update).from_select(columns, select(*staged.c))
    compiled = _on_conflict(statement, table, columns, update).compile(dialect=conn.dialect)
    return conn.exec_driver_sql(str(compiled)).rowcount  # (execute() reports -1 here)


def _insert_statement(conn: Connection, table: Table, update: bool):
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        return None
    return dialect_insert(table)


def _on_conflict(statement, table: Table, columns: list[str], update: bool):
    """Skip rows whose primary key exists or, with `update`, fill the stored row's
    columns with the new non-empty values."""
    if not update:
        return statement.on_conflict_do_nothing()
    keys = [c.name for c in table.primary_key.columns]
    values = {c: func.coalesce(statement.excluded[c], table.c[c]) for c in columns if c not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=values)


def _insert_ignoring_existing(conn: Connection, table: Table, columns: list[str], update: bool):
    """An INSERT that skips rows whose primary key already exists (or updates them)."""
    statement = _insert_statement(conn, table, update)
    return None if statement is None else _on_conflict(statement, table, columns, update)


def _new_rows_only(conn: Connection, table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """Portable fallback for engines without ON CONFLICT: drop rows already stored."""
    keys = [c.name for c in table.primary_key.columns]
    existing = pd.DataFrame(conn.execute(select(*table.primary_key.columns)).all(), columns=keys)
    if existing.empty:
        return frame
    merged = frame.merge(existing.astype(frame[keys].dtypes), on=keys, how="left", indicator=True)
    return frame[(merged["_merge"] == "left_only").to_numpy()]


def _count(conn: Connection, table: Table) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _fit_lengths(table: Table, frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Cut text to its column's declared length (PostgreSQL refuses longer text)."""
    cut = {}
    for name in columns:
        length = getattr(table.c[name].type, "length", None)
        series = frame[name]
        if length and not table.c[name].primary_key and series.dtype in (object, "string"):
            lengths = series.str.len()
            if (lengths > length).any():
                cut[name] = series.str.slice(0, length)
    return frame.assign(**cut) if cut else frame


def _drop_foreign_keys(conn: Connection, table: Table) -> list[tuple[str, str]]:
    """PostgreSQL: drop the table's foreign keys for a bulk load; return their definitions.

    Checked row by row, two foreign keys cost 6 of Online Retail's 8 s of
    writing; re-adding them checks every row in one join, in this transaction.
    """
    if conn.dialect.name != "postgresql":
        return []
    found = conn.exec_driver_sql(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = CAST(%(t)s AS regclass) AND contype = 'f' ORDER BY conname",
        {"t": f'"{table.name}"'},
    ).all()
    for name, _ in found:
        conn.exec_driver_sql(f'ALTER TABLE "{table.name}" DROP CONSTRAINT "{name}"')
    return [(name, definition) for name, definition in found]


@dataclass
class _BulkLoad:
    """Tables whose secondary indexes (and, on PostgreSQL, foreign keys) were dropped for
    a large load, to be restored once every row is in: one sort and one join instead of
    millions of scattered index updates and row-by-row key checks."""

    always: bool | None = None  # True: every table; None: tables getting >= their size
    dropped: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    decided: set[str] = field(default_factory=set)

    def knows(self, table: Table) -> bool:
        """True once the table's load mode is decided (its size no longer matters)."""
        return table.name in self.decided

    def begin(self, conn: Connection, table: Table, rows: int, before: int) -> None:
        if table.name in self.decided:
            return
        self.decided.add(table.name)
        if not (self.always or (self.always is None and rows >= max(REBUILD_INDEXES_ROWS, before))):
            return
        for index in sorted(table.indexes, key=lambda i: i.name):
            index.drop(conn)
        self.dropped[table.name] = _drop_foreign_keys(conn, table)

    def finish(self, conn: Connection) -> None:
        for name in WRITE_ORDER:
            if name not in self.dropped:
                continue
            table = Base.metadata.tables[name]
            for index in sorted(table.indexes, key=lambda i: i.name):
                index.create(conn)
            for key, definition in self.dropped[name]:
                conn.exec_driver_sql(f'ALTER TABLE "{name}" ADD CONSTRAINT "{key}" {definition}')


def _write_table(
    conn: Connection, table: Table, frame: pd.DataFrame, bar, bulk: _BulkLoad, update: bool
) -> tuple[int, int]:
    """Write `frame` into `table`; return (rows added, stored rows updated).

    Rows added are the statements' row counts; an upsert counts inserted and updated
    rows alike, so there the table is counted before and after.
    """
    columns = [c for c in frame.columns if c in table.c]
    frame = _fit_lengths(table, frame, columns)
    before = _count(conn, table) if update or not bulk.knows(table) else 0
    statement = _insert_ignoring_existing(conn, table, columns, update)
    if statement is None:
        frame = _new_rows_only(conn, table, frame)
        statement = insert(table)
    bulk.begin(conn, table, len(frame), before)
    added = 0
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        if conn.dialect.name == "postgresql":
            added += _copy_into(conn, table, chunk, columns, update)
        else:
            added += _execute_many(conn, statement, chunk, columns)
        bar.update(len(chunk))
    if update or added < 0:  # an upsert, or a driver without row counts
        added = _count(conn, table) - before
    return added, (len(frame) - added if update else 0)


def write_batch(
    engine: Engine,
    batch: Batch,
    sha256: str,
    progress: ProgressFactory = no_progress,
) -> ImportResult:
    """Write one batch in one transaction and record it in the ledger."""
    total = sum(len(f) for f in batch.tables.values())
    return write_batches(engine, [batch], sha256, progress, total_rows=total)


def write_batches(
    engine: Engine,
    batches: Iterable[Batch],
    sha256: str,
    progress: ProgressFactory = no_progress,
    total_rows: int | None = None,
    bulk: bool | None = None,
) -> ImportResult:
    """Write batches of one import (e.g. generated chunks) in a single transaction.

    Either every row and the ledger entry are stored, or, on any error,
    nothing is: the database is left exactly as before. `bulk=True` (many
    chunks, e.g. a million generated customers) loads every table without its
    indexes and foreign keys and restores them at the end; by default a table
    is loaded so when one write brings at least as many rows as it holds.
    """
    loading = _BulkLoad(always=bulk)
    started = datetime.now(UTC).replace(tzinfo=None)
    written: Counter[str] = Counter()
    updated: Counter[str] = Counter()
    first: Batch | None = None
    rows_read = 0
    notes: list[str] = []
    with engine.begin() as conn, progress(total_rows, "writing rows") as bar:
        for batch in batches:
            first = first or batch
            unknown = set(batch.tables) - set(WRITE_ORDER)
            if unknown:
                raise ValueError(f"batch has tables the writer does not know: {sorted(unknown)}")
            for name in WRITE_ORDER:
                frame = batch.tables.get(name)
                if frame is not None and not frame.empty:
                    table = Base.metadata.tables[name]
                    added, changed = _write_table(
                        conn, table, frame, bar, loading, update=name in batch.update
                    )
                    written[name] += added
                    if changed:
                        updated[name] += changed
            rows_read += batch.rows_read
            notes += [n for n in batch.notes if n not in notes]
        if first is None:
            raise ValueError("nothing to write: no batches")
        loading.finish(conn)
        notes += [f"{n:,} stored {t} updated with the new values." for t, n in updated.items()]
        conn.execute(
            insert(ImportRun.__table__).values(
                importer=first.importer,
                source=first.source,
                path=" ".join(str(p) for p in first.paths),
                sha256=sha256,
                rows_read=rows_read,
                rows_written=dict(written),
                notes=notes,
                started_at=started,
                finished_at=datetime.now(UTC).replace(tzinfo=None),
            )
        )
    return ImportResult(first.importer, first.source, rows_read, dict(written), notes)
