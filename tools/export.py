"""Files written for people: CSV that a spreadsheet cannot turn into code, readable by
the owner only."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from segassist.tools.result import ExportedFile

# OWASP's CSV injection rule: a cell starting with one of these is a formula to Excel,
# LibreOffice and Google Sheets (=cmd|' /C calc'!A0, @SUM(...), +1, -1+1, tab, CR).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value):
    """A cell value a spreadsheet shows as text: strings that start like a formula get a
    leading apostrophe (and embedded quotes are left to the CSV writer); numbers, dates
    and None are kept as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def write_private_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence]) -> Path:
    """Write `rows` under `header` to `path`, owner-only (0600) in an owner-only folder
    (0700), every cell neutralised. Returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an existing file keeps its old mode otherwise
    with os.fdopen(descriptor, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([neutralise_cell(c) for c in header])
        writer.writerows([neutralise_cell(c) for c in row] for row in rows)
    return path


def export_audience(engine, exports_dir: Path, criteria) -> ExportedFile:
    """Write the audience matching `criteria` (warehouse.queries.AudienceCriteria) among the
    serving model's scored customers to a private CSV file in `exports_dir`; the agent's
    tool and the UI both use it."""
    from dataclasses import astuple

    from segassist.warehouse.queries import find_audience
    from segassist.warehouse.records import AUDIENCE_COLUMNS

    total, members = find_audience(engine, criteria)
    which = f"seg{criteria.segment_id}" if criteria.segment_id is not None else "all"
    path = write_private_csv(
        exports_dir / f"audience-{which}-{total}.csv",
        AUDIENCE_COLUMNS,
        (astuple(m) for m in members),
    )
    return ExportedFile(path, total)
