"""Benchmark: review embedding and search, one torch thread.

Parts (all by default):
- throughput: reviews/s embedding Amazon reviews (title + text) with minilm in
  float32 and in the default precision (bfloat16 autocast where the CPU has
  it), and on short texts (titles only) for comparison;
- amazon-index: `sync_index` of all 10,261 Amazon reviews into a new embedded
  Chroma (import time excluded);
- latency: query p50/p95 at N synthetic reviews (default 100k), unfiltered
  and with filters, against exact numpy search over the same vectors; and
  the index's disk use per 100k texts.

Usage: python benchmarks/bench_retrieval.py [--data ../shared/data] [--part P] [--vectors N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _amazon_texts(data: Path, limit: int) -> tuple[list[str], list[str]]:
    import pandas as pd

    raw = pd.read_json(data / "amazon" / "reviews_Musical_Instruments_5.json.gz", lines=True)
    raw = raw.sample(n=min(limit, len(raw)), random_state=0)
    full = (raw["summary"].fillna("") + "\n" + raw["reviewText"].fillna("")).tolist()
    return full, raw["summary"].fillna("").tolist()


def throughput(data: Path, limit: int = 1000) -> None:
    """Reviews per second for each precision, on full reviews and on short titles."""
    import torch
    from segassist.retrieval.embedders import MiniLMEmbedder

    torch.set_num_threads(1)
    full, short = _amazon_texts(data, limit)
    print(f"\n## Embedding throughput (minilm, 1 thread, {len(full)} Amazon reviews)")
    tokens = MiniLMEmbedder()._load().tokenizer(full)["input_ids"]
    print(f"mean tokens per review: {statistics.mean(len(t) for t in tokens):.0f} (max 256 used)")
    rates = {}
    for precision in ("fp32", "auto"):
        embedder = MiniLMEmbedder(precision=precision)
        embedder.embed_documents(full[:16])  # warm-up
        for label, texts in (("reviews", full), ("titles", short)):
            start = time.perf_counter()
            embedder.embed_documents(texts)
            rates[precision, label] = len(texts) / (time.perf_counter() - start)
        print(
            f"{precision:>5} (bf16={embedder.uses_bf16!s:5}): "
            f"{rates[precision, 'reviews']:7.1f} reviews/s, "
            f"{rates[precision, 'titles']:7.1f} titles/s"
        )
    print(
        f"auto / fp32 on reviews: {rates['auto', 'reviews'] / rates['fp32', 'reviews']:.2f}x "
        "(goal >= 300 reviews/s)"
    )


def _segassist(*args: str, env: dict[str, str]) -> None:
    cli = str(Path(os.sys.executable).parent / "segassist")
    subprocess.run([cli, *args], env=env, check=True, stdout=subprocess.DEVNULL)


def amazon_index(data: Path) -> None:
    """Wall time of indexing all Amazon reviews into a new index."""
    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    env = {**os.environ, "SEGASSIST_HOME": str(work)}
    try:
        _segassist("import", "amazon", str(data / "amazon"), env=env)
        start = time.perf_counter()
        _segassist("index", env=env)
        seconds = time.perf_counter() - start
        disk = _du(work / "chroma")
        print("\n## Full index of the Amazon reviews (segassist index, new process)")
        print(
            f"{seconds:.1f} s for 10,261 reviews ({10261 / seconds:.0f}/s, goal <= 60 s); "
            f"index on disk {disk / 2**20:.0f} MiB"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def latency(n_vectors: int, queries: int = 200) -> None:
    """Query latency at `n_vectors` synthetic reviews, with and without filters."""
    import numpy as np
    from segassist.retrieval.search import SearchFilters, search_reviews
    from segassist.retrieval.store import open_client, open_index
    from segassist.retrieval.sync import sync_index
    from segassist.warehouse.db import migrate, open_engine
    from segassist.warehouse.importers.writer import write_batches
    from segassist.warehouse.synthetic import generate

    work = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    try:
        engine = open_engine(f"sqlite:///{work / 'w.db'}")
        migrate(engine)
        customers = int(n_vectors / 2.8) + 1000  # the generator writes ~2.8 reviews a customer
        write_batches(engine, generate(customers, seed=1), sha256="bench")
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "DELETE FROM reviews WHERE review_id NOT IN "
                f"(SELECT review_id FROM reviews ORDER BY review_id LIMIT {n_vectors})"
            )
        index = open_index(open_client(work / "chroma"), "minilm", name="bench_texts")
        start = time.perf_counter()
        sync_index(engine, index)
        build = time.perf_counter() - start
        count = index.count()
        phrases = [
            "strings broke",
            "great tone",
            "cheap but works",
            "gift for my son",
            "arrived late",
            "studio microphone",
            "refund please",
            "noisy pedal",
        ]
        query_vectors = {p: index.embedder.embed_query(p) for p in phrases}
        index.embedder.embed_query = query_vectors.__getitem__  # time the index, not the model
        customer = index.collection.get(limit=1)["metadatas"][0]["customer_id"]
        cases = {
            "no filter": SearchFilters(),
            "rating <= 2": SearchFilters(max_rating=2),
            "rating + dates": SearchFilters(
                max_rating=2, since=date(2023, 1, 1), until=date(2023, 12, 31)
            ),
            "one customer": SearchFilters(customer_id=customer),
        }
        print(f"\n## Query latency at {count:,} vectors (k=10, {queries} queries each)")
        print(
            f"index build (embedding short synthetic texts): {build:.0f} s, "
            f"{count / build:.0f} texts/s"
        )
        import segassist.retrieval.search as search

        results = {}
        for path, limit in (("exact cache", search.CACHE_LIMIT), ("chroma where", 0)):
            search.CACHE_LIMIT = limit
            search_reviews(index, phrases[0], k=10, filters=SearchFilters(max_rating=5))  # load
            for label, filters in cases.items():
                if path == "chroma where" and label == "no filter":
                    continue
                times = []
                for i in range(queries):
                    start = time.perf_counter()
                    search_reviews(index, phrases[i % len(phrases)], k=10, filters=filters)
                    times.append((time.perf_counter() - start) * 1000)
                results[path, label] = times
                p50, p95 = np.percentile(times, 50), np.percentile(times, 95)
                print(f"{path:>12} | {label:>15}: p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
        stored = index.collection.get(include=["embeddings"], limit=5000)
        matrix = np.asarray(stored["embeddings"], dtype=np.float32)
        matrix = np.tile(matrix, (count // len(matrix) + 1, 1))[:count]
        exact = []
        for i in range(queries):
            start = time.perf_counter()
            np.argpartition(-(matrix @ query_vectors[phrases[i % len(phrases)]]), 10)[:10]
            exact.append((time.perf_counter() - start) * 1000)
        base = np.percentile(exact, 50)
        print(f"{'exact numpy':>15}: p50 {base:6.1f} ms  (baseline, same vectors)")
        worst = max(np.percentile(results["exact cache", c], 95) for c in cases if c != "no filter")
        chroma = max(
            np.percentile(results["chroma where", c], 95) for c in cases if c != "no filter"
        )
        print(
            f"worst filtered p95: {worst:.1f} ms exact cache vs {chroma:.1f} ms Chroma where "
            f"({chroma / worst:.0f}x; goal p95 <= 100 ms filtered)"
        )
        disk = _du(work / "chroma")
        per_100k = disk / count * 100_000 / 2**20
        print(f"index on disk: {disk / 2**20:.0f} MiB, {per_100k:.0f} MiB per 100k texts")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument(
        "--part", choices=["throughput", "amazon-index", "latency", "all"], default="all"
    )
    parser.add_argument("--vectors", type=int, default=100_000)
    args = parser.parse_args()
    if args.part in ("throughput", "all"):
        throughput(args.data)
    if args.part in ("amazon-index", "all"):
        amazon_index(args.data)
    if args.part in ("latency", "all"):
        latency(args.vectors)


if __name__ == "__main__":
    main()
