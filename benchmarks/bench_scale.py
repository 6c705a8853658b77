"""Benchmark: the scale-out path end to end against PostgreSQL.

`segassist synth --customers N` into a fresh PostgreSQL schema, then the
segmenter's features (computed in SQL by the database), `segassist train
--no-text` and `segassist score`, each stage a fresh process. Prints each
stage's wall time and peak memory of the segassist process (from the OS,
wait4), and the database's size at the end. The database server's own memory
is not included: it is shared and sized by its configuration.

Usage: python benchmarks/bench_scale.py [--customers 1000000]
       [--url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pg_schema import drop_schema, fresh_schema, schema_gib

FEATURES = """
import sys, time
from segassist.warehouse.db import open_engine
from segassist.training.features import compute_features, default_window
engine = open_engine(sys.argv[1])
features = compute_features(engine, default_window(engine))
print(f"{len(features.frame):,} customers x {len(features.feature_names)} features")
"""


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command; return (wall seconds, peak RSS in MiB, its last output line)."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"command failed: {' '.join(argv)}\n{output[-3000:]}")
    last = [line for line in output.splitlines() if line.strip()][-1:] or [""]
    return wall, usage.ru_maxrss / 1024, last[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="Keep the schema afterwards.")
    parser.add_argument(
        "--reuse", action="store_true", help="Skip synth: use the schema a --keep run left."
    )
    args = parser.parse_args()
    schema = f"segassist_scale_{args.customers}"
    if args.reuse:
        separator = "&" if "?" in args.url else "?"
        url = f"{args.url}{separator}options=-csearch_path%3D{schema}"
    else:
        url = fresh_schema(args.url, schema)
    home = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    env = {**os.environ, "SEGASSIST_HOME": str(home), "OMP_NUM_THREADS": "2"}
    cli = str(Path(sys.executable).parent / "segassist")
    stages = [
        ("synth", [cli, "--db", url, "synth", "--customers", str(args.customers)]),
        ("features (SQL)", [sys.executable, "-c", FEATURES, url]),
        ("train --no-text", [cli, "--db", url, "train", "--no-text"]),
        ("score", [cli, "--db", url, "score"]),
    ]
    print(f"## {args.customers:,} synthetic customers in PostgreSQL (schema {schema})")
    print("| stage | wall | peak memory (segassist process) | result |")
    print("|---|---|---|---|")
    total = 0.0
    for name, argv in stages[1:] if args.reuse else stages:
        wall, rss, last = _run(argv, env)
        total += wall
        print(f"| {name} | {wall:,.0f} s | {rss:,.0f} MiB | {last[:90]} |", flush=True)
    print(f"| all | {total:,.0f} s | | database {schema_gib(args.url, schema):.1f} GiB |")
    if not args.keep:
        drop_schema(args.url, schema)


if __name__ == "__main__":
    main()
