"""Benchmark: segmenter training and scoring, one torch thread.

Parts:
- amazon: `segassist train` and `segassist score` on the Amazon reviews
  (imported and indexed first unless --amazon-home points at a home that has
  them), wall time of each as a new process;
- scale: for 10k, 100k and 1M synthetic customers (generated into SQLite, or
  --synthetic-db for an existing 1M one): feature SQL time, seconds per
  training epoch, scoring throughput of the model, and the peak memory of the
  whole run, each size in its own process. At this size the generator's text
  is not embedded (about an hour for 1M reviews here): each customer gets a
  text vector drawn around their segment's direction instead.

Usage: python benchmarks/bench_segmenter.py [--part amazon|scale|all] [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    start = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    out = process.stdout.read().decode()
    err = process.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{out}\n{err}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def amazon(data: Path, home: Path | None) -> None:
    """Train and score on the Amazon reviews, each a new `segassist` process."""
    cli = str(Path(sys.executable).parent / "segassist")
    work = home or Path(tempfile.mkdtemp(prefix="bench-seg-amazon-"))
    env = {**os.environ, "SEGASSIST_HOME": str(work)}
    if home is None:
        _timed([cli, "import", "amazon", str(data / "amazon")], env)
        _timed([cli, "index"], env)
    train = _timed([cli, "train"], env)
    score = _timed([cli, "score"], env)
    print("\n## Amazon reviews (1,429 customers, 10,261 reviews; features + text from the index)")
    print(f"segassist train: {train[0]:.1f} s, peak {train[1]:.0f} MiB (goal <= 120 s)")
    print(f"segassist score: {score[0]:.1f} s, peak {score[1]:.0f} MiB")
    if home is None:
        shutil.rmtree(work, ignore_errors=True)


def _scale_child(n: int, synthetic_db: str | None, epochs: int) -> dict:
    """One size, in this process: returns the figures as a dict."""
    import numpy as np
    import torch
    from segassist.training.dataset import build_data, split_by_customer
    from segassist.training.features import compute_features, default_window
    from segassist.training.segmenter import FusionSegmenter
    from segassist.warehouse.db import migrate, open_engine
    from segassist.warehouse.importers.writer import write_batches
    from segassist.warehouse.synthetic import generate

    torch.set_num_threads(1)
    figures: dict = {"customers": n}
    work = None
    if synthetic_db:
        engine = open_engine(synthetic_db)
    else:
        work = Path(tempfile.mkdtemp(prefix="bench-seg-scale-"))
        engine = open_engine(f"sqlite:///{work / 'w.db'}")
        migrate(engine)
        start = time.perf_counter()
        write_batches(engine, generate(n, seed=0), sha256="bench")
        figures["generate_s"] = time.perf_counter() - start
    start = time.perf_counter()
    features = compute_features(engine, default_window(engine))
    figures["features_s"] = time.perf_counter() - start
    figures["population"] = len(features.frame)
    data = build_data(features)
    # Text vectors around each true segment's direction (see the module docstring).
    with engine.connect() as conn:
        truth = dict(conn.exec_driver_sql("SELECT customer_id, segment FROM synthetic_truth").all())
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(5, 384)).astype(np.float32)
    segment = np.array([truth.get(c, 0) for c in data.customer_ids])
    text = directions[segment]
    text += rng.standard_normal(size=text.shape, dtype=np.float32) * 2.0
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    data.text = text
    data.has_text = np.ones(len(segment), dtype=np.float32)
    splits = split_by_customer(data, 0)
    epoch_times: list[float] = []
    last = [time.perf_counter()]

    def on_epoch(_log) -> None:
        now = time.perf_counter()
        epoch_times.append(now - last[0])
        last[0] = now

    start = time.perf_counter()
    model = FusionSegmenter(
        n_segments=5, max_epochs=epochs, patience=epochs, batch_size=1024, random_state=0
    )
    model.fit(splits.train, splits.validation, on_epoch=on_epoch)
    figures["fit_s"] = time.perf_counter() - start
    figures["epoch_s"] = float(np.median(epoch_times))
    figures["epochs"] = len(epoch_times)
    start = time.perf_counter()
    traits = model.predict_traits(data)
    model.membership(traits["embedding"])
    figures["score_per_s"] = len(data) / (time.perf_counter() - start)
    figures["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if work:
        shutil.rmtree(work, ignore_errors=True)
    return figures


def scale(sizes: list[int], synthetic_db: str | None, epochs: int) -> None:
    """Each size in a fresh process, so peak memory is that size's own."""
    print(f"\n## Scale (synthetic customers, {epochs} epochs, batch 1024, 1 thread)")
    print(f"{'customers':>10} {'features s':>10} {'s/epoch':>8} {'score/s':>10} {'peak MiB':>9}")
    for n in sizes:
        db = synthetic_db if (synthetic_db and n >= 1_000_000) else None
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--epochs", str(epochs)]
            + (["--synthetic-db", db] if db else []),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        f = json.loads(out.strip().splitlines()[-1])
        print(
            f"{f['population']:>10,} {f['features_s']:>10.1f} {f['epoch_s']:>8.2f} "
            f"{f['score_per_s']:>10,.0f} {f['peak_mib']:>9,.0f}"
        )
    print("(goals: scoring >= 20,000 customers/s; 1M customers within 8 GB peak)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--part", choices=["amazon", "scale", "all"], default="all")
    parser.add_argument("--amazon-home", type=Path)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--synthetic-db", help="SQLAlchemy URL of an existing 1M synthetic DB")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_scale_child(args.child, args.synthetic_db, args.epochs)))
        return
    if args.part in ("amazon", "all"):
        amazon(args.data, args.amazon_home)
    if args.part in ("scale", "all"):
        scale([int(s) for s in args.sizes.split(",")], args.synthetic_db, args.epochs)


if __name__ == "__main__":
    main()
