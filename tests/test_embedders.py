"""The embedders on the real shipped weights: OpenVINO and torch agree, the models derived
from MiniLM are cached with their sha256, `fast` is refused by an index built by another
build, and progress reads as lines in logs."""

from __future__ import annotations

import io
import json
import threading

import numpy as np
import pytest
from segassist.core.errors import UserInputError
from segassist.core.progress import StageLines
from segassist.core.settings import load_settings
from segassist.retrieval import derived
from segassist.retrieval.embedders import (
    EmbedOptions,
    MiniLMEmbedder,
    StaticEmbedder,
    idle_cores,
    make_embedder,
)
from segassist.retrieval.search import search_reviews
from segassist.retrieval.store import IndexModelMismatchError, open_client, open_index
from segassist.retrieval.sync import sync_index

TEXTS = [
    "The strings broke after a week and the tuning pegs slip.",
    "Great overdrive pedal, warm tone, no hum at all.",
    "O violão chegou quebrado e a entrega atrasou muito.",
    "踏板到货时已经坏了，而且噪音很大。",
    "",
    "ok",
    "A long review about the neck and the frets. " * 120,  # past the 256-token limit
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("embedders")


def test_openvino_gives_the_float32_vectors_of_sentence_transformers(cache):
    openvino = MiniLMEmbedder(runtime="openvino", options=EmbedOptions(1, cache))
    torch_fp32 = MiniLMEmbedder(runtime="torch", precision="fp32")
    a, b = openvino.embed_documents(TEXTS), torch_fp32.embed_documents(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-4)
    assert (a * b).sum(axis=1).min() >= 0.999  # bfloat16 compute here, float32 reference
    # Order and batching do not change a text's vector.
    reordered = openvino.embed_documents(TEXTS[::-1])[::-1]
    assert np.allclose(a, reordered, atol=2e-3)
    assert np.allclose(openvino.embed_query(TEXTS[0]), a[0], atol=2e-3)


def test_two_threads_give_the_same_vectors(cache):
    one = MiniLMEmbedder(runtime="openvino", options=EmbedOptions(1, cache))
    two = MiniLMEmbedder(runtime="openvino", options=EmbedOptions(2, cache))
    texts = TEXTS * 5
    assert (one.embed_documents(texts) * two.embed_documents(texts)).sum(axis=1).min() > 0.9999


def test_derived_models_are_built_once_with_their_sha256_recorded(cache):
    first = derived.openvino_minilm(cache)
    manifest = json.loads((first.path / derived.MANIFEST).read_text())
    assert manifest["sha256"] == derived.file_sha256(first.path / "model.bin") == first.sha256
    assert manifest["source_sha256"] == derived.file_sha256(
        derived.minilm_path() / "model.safetensors"
    )
    built = (first.path / "model.bin").stat().st_mtime_ns
    assert derived.openvino_minilm(cache) == first
    assert (first.path / "model.bin").stat().st_mtime_ns == built
    leftovers = [p.name for p in cache.iterdir() if p.name.startswith(".minilm")]
    assert leftovers == []


def test_concurrent_first_uses_build_one_model(tmp_path):
    results, errors = [], []

    def build() -> None:
        try:
            results.append(derived.static_minilm(tmp_path))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results[0] == results[1]
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".lock")] == [
        results[0].path.name
    ]


def test_fast_vectors_are_unit_length_and_find_by_meaning(cache):
    fast = StaticEmbedder(options=EmbedOptions(0, cache))
    vectors = fast.embed_documents(TEXTS)
    assert vectors.shape == (len(TEXTS), 256)
    assert np.isfinite(vectors).all()
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)  # "" too
    query = fast.embed_query("strings snapped")
    assert int(np.argmax(vectors @ query)) == 0
    assert fast.fingerprint == derived.static_minilm(cache).sha256


def test_an_index_refuses_another_build_of_fast(tmp_path, cache, sqlite_engine):
    client = open_client(tmp_path / "chroma")
    options = EmbedOptions(0, cache)
    index = open_index(client, "fast", name="texts", options=options)
    assert index.collection.metadata["segassist_model_sha256"] == index.embedder.fingerprint
    sync_index(sqlite_engine, index)  # an empty warehouse: nothing embedded, still stamped
    index.bump_revision()
    assert index.collection.metadata["segassist_model_sha256"] == index.embedder.fingerprint
    metadata = dict(index.collection.metadata)
    metadata.pop("hnsw:space", None)
    index.collection.modify(metadata={**metadata, "segassist_model_sha256": "0" * 64})
    with pytest.raises(IndexModelMismatchError, match="another build of the 'fast' model"):
        open_index(client, "fast", name="texts", options=options)
    with pytest.raises(IndexModelMismatchError, match="rebuild"):
        open_index(client, "minilm", name="texts", options=options)


def test_fast_index_searches_real_reviews(tmp_path, cache, sqlite_engine):
    from conftest import AMAZON, require_data
    from segassist.warehouse.importers import import_dataset

    import_dataset(sqlite_engine, "amazon", [require_data(AMAZON)])
    index = open_index(
        open_client(tmp_path / "chroma"), "fast", name="amazon", options=EmbedOptions(0, cache)
    )
    report = sync_index(sqlite_engine, index)
    assert report.added == index.count() > 10_000
    hits = search_reviews(index, "the strings broke", k=5)
    assert any("string" in (h.text or "").lower() for h in hits)


def test_unknown_model_and_bad_thread_setting_say_what_to_do():
    with pytest.raises(UserInputError, match="choose one of"):
        make_embedder("minilm-xl")
    assert load_settings({"SEGASSIST_EMBED_THREADS": "2"}).embed_threads == 2
    for bad in ("-1", "two"):
        with pytest.raises(UserInputError, match="embed_threads"):
            load_settings({"SEGASSIST_EMBED_THREADS": bad})


def test_idle_cores_is_between_one_and_the_cores_we_may_use():
    import os

    assert 1 <= idle_cores() <= len(os.sched_getaffinity(0))


def test_progress_in_logs_is_one_line_per_stage_not_carriage_returns():
    stream = io.StringIO()
    with StageLines(1000, "embedding texts with minilm", stream) as lines:
        for _ in range(10):
            lines.update(100)
    with StageLines(None, "training", stream, every_s=0) as lines:
        lines.set_postfix(val="0.5")
        lines.update(1)
    out = stream.getvalue()
    assert "\r" not in out
    rows = out.splitlines()
    assert rows[0].startswith("embedding texts with minilm: done, 1,000/1,000 in ")
    assert rows[1].startswith("training: running, 1 in ") and rows[1].endswith("; val=0.5")
    assert rows[2].startswith("training: done, 1 in ") and rows[2].endswith("; val=0.5")
    assert len(rows) == 3
    with pytest.raises(RuntimeError), StageLines(5, "import", stream) as lines:
        raise RuntimeError("boom")
    assert stream.getvalue().splitlines()[-1].startswith("import: stopped, 0/5")
