"""Importers: real data sets and bring-your-own files into the warehouse."""

from __future__ import annotations

from pathlib import Path

from segassist.core.errors import ImportValidationError
from segassist.core.progress import ProgressFactory, no_progress
from segassist.warehouse.db import ensure_schema, unmigrate
from segassist.warehouse.importers.cells import Limits
from segassist.warehouse.importers.writer import (
    Batch,
    ImportResult,
    already_imported,
    file_sha256,
    write_batch,
)
from sqlalchemy import Engine

__all__ = [
    "DATASETS",
    "ImportResult",
    "Limits",
    "import_batch",
    "import_dataset",
    "import_files",
]


def _read_amazon(paths: list[Path], limits: Limits | None = None) -> Batch:
    from segassist.warehouse.importers.amazon import read_amazon

    return read_amazon(_expand(paths, ("*.json", "*.jsonl", "*.json.*", "*.jsonl.*")), limits)


def _read_olist(paths: list[Path], limits: Limits | None = None) -> Batch:
    from segassist.warehouse.importers.olist import read_olist

    if len(paths) != 1:
        raise ImportValidationError(
            " ".join(map(str, paths)), "olist takes one folder", expected="the folder of CSVs"
        )
    return read_olist(paths[0], limits)


def _read_online_retail(paths: list[Path], limits: Limits | None = None) -> Batch:
    from segassist.warehouse.importers.online_retail import read_online_retail

    patterns = ("*.parquet", "*.csv", "*.csv.*", "*.xlsx")
    return read_online_retail(_expand(paths, patterns), limits)


DATASETS = {
    "amazon": _read_amazon,
    "olist": _read_olist,
    "online-retail": _read_online_retail,
}


def _expand(paths: list[Path], patterns: tuple[str, ...]) -> list[Path]:
    """Files as given, and the matching files inside any folder given."""
    expanded: list[Path] = []
    for path in paths:
        if not path.is_dir():
            expanded.append(path)
            continue
        found = sorted({f for pattern in patterns for f in path.glob(pattern) if f.is_file()})
        if not found:
            raise ImportValidationError(
                str(path), "no data files in this folder", expected=" or ".join(patterns)
            )
        expanded.extend(found)
    return expanded


def _fingerprint_paths(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return files


def import_batch(
    engine: Engine,
    importer: str,
    paths: list[Path],
    read,
    *,
    force: bool = False,
    progress: ProgressFactory = no_progress,
    limits: Limits | None = None,
) -> ImportResult:
    """Import `paths` with the reader `read` unless these exact bytes were imported already.

    An empty database gets the schema first; one at an older revision is refused.
    """
    created = ensure_schema(engine)
    from segassist.warehouse.importers.reading import require_file

    for path in paths:
        if not path.is_dir():
            require_file(path)
    sha256 = file_sha256(_fingerprint_paths(paths))
    previous = None if force else already_imported(engine, importer, sha256)
    if previous is not None:
        return ImportResult(
            importer,
            previous.source,
            0,
            {},
            [
                f"{importer}: these files were already imported on "
                f"{previous.finished_at:%Y-%m-%d %H:%M} "
                f"(sha256 {sha256[:12]}); nothing to do. Use --force to re-check them row by row."
            ],
            skipped=True,
        )
    try:
        batch = read(paths, limits or Limits())
        if created:
            batch.notes.insert(
                0, f"created the schema in the empty database ({', '.join(created)})."
            )
        return write_batch(engine, batch, sha256, progress)
    except BaseException:
        if created:  # the first import failed: leave the database as empty as it was
            unmigrate(engine)
        raise


def import_dataset(engine: Engine, dataset: str, paths: list[Path], **options) -> ImportResult:
    """Import one of the known public data sets ('amazon', 'olist', 'online-retail')."""
    return import_batch(engine, dataset, paths, DATASETS[dataset], **options)


def import_files(engine: Engine, paths: list[Path], mapping_path: Path, **options) -> ImportResult:
    """Import bring-your-own files described by a mapping file."""
    from segassist.warehouse.importers.files import load_mapping, read_files

    mapping = load_mapping(mapping_path)
    options.pop("limits", None)  # the mapping's [limits] apply
    return import_batch(
        engine, "files", [*paths, mapping_path], lambda *_: read_files(paths, mapping), **options
    )
