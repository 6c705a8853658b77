"""Versioned model artefacts and the serving version.

A version is a folder ``models/<version>/`` holding ``model.pt`` (weights,
config, scaler, prototypes), ``metadata.json`` (feature schema, window, metrics,
data fingerprint), written under a temporary name and renamed into place, plus
a row in ``model_versions``. Promotion flips the serving row in one
transaction; a failed run never gets that far, and a run worse than the
serving version on the same validation data stays a candidate.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from segassist.core.errors import UserInputError
from segassist.training.segmenter import FusionSegmenter
from segassist.training.text_tuning import TunedEncoder
from segassist.warehouse.queries import serving_version
from segassist.warehouse.schema import ModelVersion
from sqlalchemy import Engine, insert, update

TEXT_ENCODER_FILE = "text_encoder.pt"  # LoRA adapter weights, only for --tune-text models


@dataclass
class ModelArtefact:
    """A fitted segmenter with what is needed to use it again."""

    version: str
    segmenter: FusionSegmenter
    metadata: dict
    path: Path
    text_encoder: TunedEncoder | None = None  # a LoRA-tuned review encoder, when trained so

    @property
    def feature_names(self) -> list[str]:
        """Behaviour features, in the order the model reads them."""
        return self.metadata["feature_names"]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_version(fingerprint: str) -> str:
    """A sortable, unique version name."""
    return f"{_now():%Y%m%d-%H%M%S-%f}-{fingerprint[:8]}"


def save_artefact(
    models_dir: Path,
    version: str,
    segmenter: FusionSegmenter,
    metadata: dict,
    text_encoder: TunedEncoder | None = None,
) -> Path:
    """Write the artefact atomically: a temporary folder renamed into place."""
    import torch

    models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=models_dir))
    try:
        torch.save(segmenter.state(), staging / "model.pt")
        if text_encoder is not None:
            torch.save(text_encoder.state(), staging / TEXT_ENCODER_FILE)
        (staging / "metadata.json").write_text(json.dumps(metadata, indent=2, default=str))
        final = models_dir / version
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def load_artefact(path: Path) -> ModelArtefact:
    """Read an artefact folder written by save_artefact."""
    import torch

    if not (path / "model.pt").is_file():
        raise UserInputError(f"No model artefact at {path}. Run 'segassist train' first.")
    state = torch.load(path / "model.pt", weights_only=False)
    metadata = json.loads((path / "metadata.json").read_text())
    try:
        segmenter = FusionSegmenter.from_state(state)
    except (RuntimeError, TypeError, KeyError) as e:
        raise UserInputError(
            f"The model at {path} was saved by an incompatible segassist version ({e}). "
            "Retrain it with 'segassist train'."
        ) from e
    encoder_file = path / TEXT_ENCODER_FILE
    encoder = None
    if encoder_file.is_file():
        encoder = TunedEncoder.from_state(torch.load(encoder_file, weights_only=True))
    return ModelArtefact(path.name, segmenter, metadata, path, encoder)


def register(engine: Engine, version: str, path: Path, metadata: dict) -> None:
    """Record a new candidate version."""
    with engine.begin() as conn:
        conn.execute(
            insert(ModelVersion).values(
                version=version,
                status="candidate",
                created_at=_now(),
                config=metadata["config"],
                metrics=metadata["metrics"],
                data_fingerprint=metadata["data_fingerprint"],
                artifact_path=str(path),
            )
        )


def load_serving(engine: Engine) -> ModelArtefact:
    """The serving model; a clear error when none was trained."""
    row = serving_version(engine)
    if row is None:
        raise UserInputError("No segmenter is trained yet. Run 'segassist train' first.")
    return load_artefact(Path(row.artifact_path))


def promote(engine: Engine, version: str) -> None:
    """Make `version` the serving one, retiring the previous, in one transaction."""
    with engine.begin() as conn:
        conn.execute(
            update(ModelVersion).where(ModelVersion.status == "serving").values(status="retired")
        )
        conn.execute(
            update(ModelVersion).where(ModelVersion.version == version).values(status="serving")
        )
