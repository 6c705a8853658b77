"""Benchmark: importing Online Retail II (525k lines) into SQLite and PostgreSQL.

Four commands, each a fresh process, run in turn (A B C D A B C D ...) so that
machine drift hits them alike; wall time and peak RSS come from the OS
(wait4) for each finished process:

- floor:    read the Parquet file, then one bare sqlite3.executemany of the
            raw rows into one flat table;
- to_sql:   read the Parquet file, then pandas.DataFrame.to_sql of the flat table;
- segassist: `segassist import online-retail` into a new database file
            (schema creation, read, validate, normalise, write, indexes, ledger);
- postgres: the same command into a fresh schema on the PostgreSQL server
            (COPY through a temporary table; the server's own work counts in
            the wall time, its memory does not).

Prints medians, the median of per-round ratios segassist/floor, and
postgres/segassist (the goal: PostgreSQL within 1.5x of SQLite).
Usage: python benchmarks/bench_import.py [--data ../shared/data] [--rounds 3]
       [--postgres postgresql://postgres@127.0.0.1:5432/test | --postgres none]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pg_schema import drop_schema, fresh_schema

FLAT_COLUMNS = "Invoice, StockCode, Description, Quantity, InvoiceDate, Price, CustomerID, Country"

FLOOR = f"""
import sqlite3, sys, pandas as pd
df = pd.read_parquet(sys.argv[1])
con = sqlite3.connect(sys.argv[2])
con.execute("CREATE TABLE flat ({FLAT_COLUMNS})")
rows = list(df.astype(object).where(df.notna(), None).itertuples(index=False, name=None))
con.executemany("INSERT INTO flat VALUES (?,?,?,?,?,?,?,?)", rows)
con.commit()
"""

TO_SQL = """
import sqlite3, sys, pandas as pd
df = pd.read_parquet(sys.argv[1])
con = sqlite3.connect(sys.argv[2])
df.to_sql("flat", con, index=False)
con.commit()
"""


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run a command; return (wall seconds, peak RSS in MiB) from the OS."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"command failed: {' '.join(argv)}\n{process.stderr.read().decode()}")
    process.stderr.close()
    return wall, usage.ru_maxrss / 1024


def _segassist(parquet: Path, url: str, env: dict[str, str]) -> tuple[float, float]:
    cli = str(Path(sys.executable).parent / "segassist")
    return _run([cli, "--db", url, "import", "online-retail", str(parquet)], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    parquet = args.data / "online_retail" / "online_retail_ii_2009_2010.parquet"
    if not parquet.is_file():
        raise SystemExit(f"{parquet} not found: pass --data pointing at the data folder")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    results: dict[str, list[tuple[float, float]]] = {"floor": [], "to_sql": [], "segassist": []}
    if args.postgres != "none":
        results["postgres"] = []
    schema = f"bench_import_{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        for round_no in range(args.rounds + 1):  # round 0 warms caches and is not counted
            for name in results:
                db = work / f"{name}-{round_no}.db"
                if name == "segassist":
                    figure = _segassist(parquet, f"sqlite:///{db}", env)
                elif name == "postgres":
                    figure = _segassist(parquet, fresh_schema(args.postgres, schema), env)
                else:
                    script = FLOOR if name == "floor" else TO_SQL
                    figure = _run([sys.executable, "-c", script, str(parquet), str(db)], env)
                if round_no:
                    results[name].append(figure)
                for leftover in work.glob(f"{name}-{round_no}.db*"):
                    leftover.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if "postgres" in results:
            drop_schema(args.postgres, schema)
    _report(results, parquet)


def _report(results: dict[str, list[tuple[float, float]]], parquet: Path) -> None:
    print(f"Online Retail II import ({parquet.name}), {len(results['floor'])} rounds")
    print(f"{'command':<10} {'median s':>9} {'min s':>7} {'max s':>7} {'peak MiB':>9}")
    for name, figures in results.items():
        walls = [w for w, _ in figures]
        peak = max(m for _, m in figures)
        print(
            f"{name:<10} {statistics.median(walls):>9.2f} {min(walls):>7.2f} "
            f"{max(walls):>7.2f} {peak:>9.0f}"
        )
    ratios = [s[0] / f[0] for s, f in zip(results["segassist"], results["floor"], strict=True)]
    to_sql = [s[0] / f[0] for s, f in zip(results["segassist"], results["to_sql"], strict=True)]
    print(
        f"segassist / floor  (median of rounds): {statistics.median(ratios):.2f}x  (goal <= 2.5x)"
    )
    print(f"segassist / to_sql (median of rounds): {statistics.median(to_sql):.2f}x")
    seconds = statistics.median(w for w, _ in results["segassist"])
    print(f"segassist end to end: {seconds:.2f} s (goal <= 10 s)")
    if "postgres" in results:
        pg = [p[0] / s[0] for p, s in zip(results["postgres"], results["segassist"], strict=True)]
        print(
            f"postgres / segassist (SQLite) (median of rounds): {statistics.median(pg):.2f}x  "
            "(goal <= 1.5x)"
        )


if __name__ == "__main__":
    main()
