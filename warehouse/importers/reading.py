"""Reading data files, with errors that point at the line.

Every function here either returns a `Located` frame or raises
`ImportValidationError` naming the file, the line or row and what was
expected. Line numbers are 1-based as an editor shows them: a CSV's first data
row is line 2 (the header is line 1), a JSON record's line is the line its
object starts on, a Parquet or Excel file's first row is row 1.

Formats: CSV (any delimiter), Parquet, Excel (.xlsx), and JSON in every layout
public exports use: one object per line, one array of objects, pretty-printed
objects one after another, and lines written as Python literals (``{'asin':
...}``, Amazon's 2014 metadata). Any of them may be compressed (.gz, .bz2,
.xz, or a .zip holding one file); a truncated or corrupt archive is one clear
error, not a crash.
"""

from __future__ import annotations

import ast
import bz2
import codecs
import gzip
import io
import json
import lzma
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from segassist.core.errors import ImportValidationError

FORMATS = ("csv", "parquet", "jsonl", "json", "xlsx")
COMPRESSED = (".gz", ".bz2", ".xz", ".zip")


@dataclass(frozen=True)
class Located:
    """A frame read from a file, with what is needed to point back into it."""

    path: Path
    frame: pd.DataFrame
    first_line: int  # file line (or row) number of frame row 0
    unit: str  # "line" or "row"
    lines: np.ndarray | None = None  # per-row line numbers, when rows are not one a line
    counts: dict[str, int] = field(default_factory=dict)  # what cleaning changed, for notes

    def line_of(self, position: int) -> int:
        """File line (or row) number of the frame's `position`-th row."""
        if self.lines is not None:
            return int(self.lines[position])
        return self.first_line + position

    def line_numbers(self) -> np.ndarray:
        """Every row's file line (or row) number."""
        if self.lines is not None:
            return self.lines
        return np.arange(self.first_line, self.first_line + len(self.frame))

    def error(self, position: int | None, problem: str, **details) -> ImportValidationError:
        """An ImportValidationError pointing at the frame's `position`-th row."""
        line = None if position is None else self.line_of(position)
        return ImportValidationError(str(self.path), problem, line=line, unit=self.unit, **details)


def _plain_name(path: Path) -> str:
    name = path.name.lower()
    for suffix in COMPRESSED:
        name = name.removesuffix(suffix)
    return name


def detect_format(path: Path) -> str:
    """Infer the format from the file name."""
    name = _plain_name(path)
    if name.endswith((".csv", ".tsv", ".txt", ".dat")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "json"
    if name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    raise ImportValidationError(
        str(path),
        "unknown file type",
        expected="a .csv, .tsv, .parquet, .json/.jsonl or .xlsx file, optionally compressed",
        hint="Rename it or set `format` in the mapping file.",
    )


def require_file(path: Path) -> Path:
    """Return `path` if it is a readable file, else raise a clear error."""
    if not path.exists():
        raise ImportValidationError(str(path), "file not found", hint="Check the path.")
    if not path.is_file():
        raise ImportValidationError(str(path), "not a file", expected="a data file")
    return path


def check_encoding(name: str, where: str) -> str:
    """Return `name` if Python knows the text encoding, else a clear error."""
    try:
        codecs.lookup(name)
    except LookupError:
        raise ImportValidationError(
            where, f"unknown text encoding {name!r}", hint="Use e.g. 'utf-8', 'latin-1', 'cp1252'."
        ) from None
    return name


def read_file(
    path: Path,
    fmt: str | None = None,
    *,
    encoding: str = "utf-8",
    delimiter: str | None = None,
) -> Located:
    """Read a data file (see the module docstring) with text-typed CSV columns.

    CSV cells are kept as strings so that parsing numbers and dates happens in
    one place, with errors that name the bad cell.
    """
    require_file(path)
    fmt = "json" if fmt == "jsonl" else (fmt or detect_format(path))
    try:
        if fmt == "csv":
            return Located(path, _read_csv(path, encoding, delimiter), first_line=2, unit="line")
        if fmt == "parquet":
            return Located(path, _read_parquet(path), first_line=1, unit="row")
        if fmt == "json":
            frame, lines = _read_json(path, encoding)
            return Located(path, frame, first_line=1, unit="line", lines=lines)
        if fmt == "xlsx":
            return Located(path, _read_excel(path), first_line=2, unit="row")
    except UnicodeDecodeError as e:
        raise _encoding_error(path, encoding) from e
    except (EOFError, OSError, zlib.error, lzma.LZMAError, zipfile.BadZipFile) as e:
        problem = "compressed file is truncated or corrupt" if _compressed(path) else "unreadable"
        raise ImportValidationError(
            str(path), f"{problem} ({type(e).__name__}: {e})", hint="Copy or download it again."
        ) from e
    raise ImportValidationError(str(path), f"unknown format {fmt!r}", expected=" or ".join(FORMATS))


def _compressed(path: Path) -> bool:
    return path.name.lower().endswith(COMPRESSED)


def _open_binary(path: Path):
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path)
    if name.endswith(".bz2"):
        return bz2.open(path)
    if name.endswith(".xz"):
        return lzma.open(path)
    if name.endswith(".zip"):
        archive = zipfile.ZipFile(path)
        members = [m for m in archive.namelist() if not m.endswith("/")]
        if len(members) != 1:
            raise ImportValidationError(
                str(path), f"a .zip must hold one data file; this one holds {len(members)}"
            )
        return archive.open(members[0])
    return open(path, "rb")


def _open_text(path: Path, encoding: str):
    return io.TextIOWrapper(_open_binary(path), encoding=encoding, newline="")


def _encoding_error(path: Path, encoding: str) -> ImportValidationError:
    # The decoder saw a buffered chunk, so its offset is no file offset: find
    # the first line that fails to decode on its own.
    line = None
    with _open_binary(path) as handle:
        for number, chunk in enumerate(handle, start=1):
            try:
                chunk.decode(encoding)
            except UnicodeDecodeError:
                line = number
                break
    return ImportValidationError(
        str(path),
        "bad text encoding",
        line=line,
        expected=f"{encoding} text",
        hint="Re-save it as UTF-8 or set `encoding` (e.g. 'latin-1') in the mapping file.",
    )


def _read_csv(path: Path, encoding: str, delimiter: str | None) -> pd.DataFrame:
    if delimiter is None and _plain_name(path).endswith(".tsv"):
        delimiter = "\t"
    try:
        with _open_text(path, encoding) as handle:
            return pd.read_csv(
                handle,
                sep=delimiter or ",",
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                engine="python" if delimiter and len(delimiter) > 1 else "c",
            )
    except pd.errors.EmptyDataError as e:
        raise ImportValidationError(str(path), "file is empty", expected="a header line") from e
    except pd.errors.ParserError as e:
        raise ImportValidationError(
            str(path), f"not valid CSV ({e})", hint="Check quoting and the delimiter."
        ) from e


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, EOFError):
        raise
    except Exception as e:  # pyarrow raises several unrelated types for a bad file
        raise ImportValidationError(
            str(path), f"not a readable Parquet file ({type(e).__name__}: {e})"
        ) from e


def _read_excel(path: Path) -> pd.DataFrame:
    """Every sheet with the first sheet's columns, one after another (Online Retail II
    ships its two years as two sheets)."""
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=object)
    except ImportError as e:
        raise ImportValidationError(
            str(path), "reading Excel needs openpyxl", hint="pip install openpyxl"
        ) from e
    except (OSError, EOFError, zipfile.BadZipFile):
        raise
    except Exception as e:
        raise ImportValidationError(str(path), f"not a readable Excel file ({e})") from e
    frames = list(sheets.values())
    if not frames or frames[0].empty:
        raise ImportValidationError(str(path), "file is empty", expected="a sheet with rows")
    same = [f for f in frames if list(f.columns) == list(frames[0].columns)]
    return pd.concat(same, ignore_index=True) if len(same) > 1 else frames[0]


def _read_json(path: Path, encoding: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Records from any JSON layout, with the line each record starts on."""
    with _open_text(path, encoding) as handle:
        first, skipped = "", 0
        for first in handle:
            if first.strip():
                break
            skipped += 1
        layout = _json_layout(first.strip())
        if layout == "lines":
            records, lines = _json_lines(path, _chain(first, handle), skipped + 1)
        else:
            records, lines = _json_stream(path, first + handle.read(), layout == "array")
            lines = [line + skipped for line in lines]
    if not records:
        raise ImportValidationError(str(path), "file is empty", expected="JSON records")
    return pd.DataFrame.from_records(records), np.asarray(lines)


def _json_layout(first_line: str) -> str:
    if first_line.startswith("["):
        return "array"
    if first_line.startswith("{") and _parse_record(first_line) is not None:
        return "lines"
    return "stream"  # pretty-printed objects, one after another


def _parse_record(line: str):
    """A JSON object, or a Python-literal dict (Amazon 2014 metadata); None if neither."""
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        pass
    if line.startswith("{'") or line.startswith('{"'):
        try:
            return ast.literal_eval(line)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
    return None


def _json_lines(path: Path, text_lines, start: int) -> tuple[list[dict], list[int]]:
    records, lines = [], []
    for number, line in enumerate(text_lines, start=start):
        stripped = line.strip()
        if not stripped:
            continue
        record = _parse_record(stripped)
        if not isinstance(record, dict):
            problem = "not valid JSON" if record is None else "not a JSON object"
            raise ImportValidationError(
                str(path), problem, line=number, expected="one {...} object per line"
            )
        records.append(record)
        lines.append(number)
    return records, lines


def _chain(first: str, handle):
    yield first
    yield from handle


def _json_stream(path: Path, text: str, array: bool) -> tuple[list[dict], list[int]]:
    """Objects one after another (or inside one array), each with its first line."""
    decoder = json.JSONDecoder()
    records, lines = [], []
    position, line, end = 0, 1, len(text)
    if array:
        position = text.index("[") + 1
    while True:
        start = position
        while position < end and text[position] in " \t\r\n,":
            position += 1
        line += text.count("\n", start, position)
        if position >= end or (array and text[position] == "]"):
            break
        try:
            record, after = decoder.raw_decode(text, position)
        except json.JSONDecodeError as e:
            raise ImportValidationError(
                str(path),
                f"not valid JSON ({e.msg})",
                line=e.lineno,
                expected="JSON objects, one per line, in an array, or pretty-printed",
            ) from e
        if not isinstance(record, dict):
            raise ImportValidationError(str(path), "not a JSON object", line=line)
        records.append(record)
        lines.append(line)
        line += text.count("\n", position, after)
        position = after
    return records, lines
