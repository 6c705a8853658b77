"""Reading data files and checking their cells, with errors that point at the cell.

Every function here either returns clean pandas objects or raises
`ImportValidationError` naming the file, the line or row, the column and what
was expected. Line numbers are 1-based as an editor shows them: a CSV's first
data row is line 2 (the header is line 1), a JSON-lines file's first record is
line 1, a Parquet file's first row is row 1.
"""

from __future__ import annotations

import difflib
import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from segassist.core.errors import ImportValidationError

FORMATS = ("csv", "parquet", "jsonl")


@dataclass(frozen=True)
class Located:
    """A frame read from a file, with what is needed to point back into it."""

    path: Path
    frame: pd.DataFrame
    first_line: int  # file line (or row) number of frame row 0
    unit: str  # "line" or "row"

    def line_of(self, position: int) -> int:
        """File line (or row) number of the frame's `position`-th row."""
        return self.first_line + position

    def error(self, position: int | None, problem: str, **details) -> ImportValidationError:
        """An ImportValidationError pointing at the frame's `position`-th row."""
        line = None if position is None else self.line_of(position)
        return ImportValidationError(str(self.path), problem, line=line, unit=self.unit, **details)


def detect_format(path: Path) -> str:
    """Infer 'csv', 'parquet' or 'jsonl' from the file name."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    raise ImportValidationError(
        str(path),
        "unknown file type",
        expected="a .csv, .parquet or .jsonl/.json (JSON lines) file, optionally .gz",
        hint="Rename it or set `format` in the mapping file.",
    )


def require_file(path: Path) -> Path:
    """Return `path` if it is a readable file, else raise a clear error."""
    if not path.exists():
        raise ImportValidationError(str(path), "file not found", hint="Check the path.")
    if not path.is_file():
        raise ImportValidationError(str(path), "not a file", expected="a data file")
    return path


def read_file(
    path: Path,
    fmt: str | None = None,
    *,
    encoding: str = "utf-8",
    delimiter: str | None = None,
) -> Located:
    """Read a CSV, Parquet or JSON-lines file (optionally gzipped) as text-typed columns.

    CSV cells are kept as strings so that parsing numbers and dates happens in
    one place, with errors that name the bad cell.
    """
    require_file(path)
    fmt = fmt or detect_format(path)
    if fmt == "csv":
        return Located(path, _read_csv(path, encoding, delimiter), first_line=2, unit="line")
    if fmt == "parquet":
        return Located(path, _read_parquet(path), first_line=1, unit="row")
    if fmt == "jsonl":
        return Located(path, _read_jsonl(path, encoding), first_line=1, unit="line")
    raise ImportValidationError(str(path), f"unknown format {fmt!r}", expected=" or ".join(FORMATS))


def _open_text(path: Path, encoding: str):
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    return opener(path, "rt", encoding=encoding, newline="")


def _encoding_error(path: Path, encoding: str, e: UnicodeDecodeError) -> ImportValidationError:
    # The decoder saw a buffered chunk, so e.start is no file offset: find the
    # first line that fails to decode on its own.
    if path.name.lower().endswith(".gz"):
        with gzip.open(path) as handle:
            raw = handle.read()
    else:
        raw = path.read_bytes()
    line = None
    for number, chunk in enumerate(raw.split(b"\n"), start=1):
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
        hint="Re-save the file as UTF-8 or set `encoding` (e.g. 'latin-1') in the mapping file.",
    )


def _read_csv(path: Path, encoding: str, delimiter: str | None) -> pd.DataFrame:
    try:
        with _open_text(path, encoding) as handle:
            return pd.read_csv(
                handle,
                sep=delimiter or ",",
                dtype=str,
                keep_default_na=False,
                na_values=[""],
            )
    except UnicodeDecodeError as e:
        raise _encoding_error(path, encoding, e) from e
    except pd.errors.EmptyDataError as e:
        raise ImportValidationError(str(path), "file is empty", expected="a header line") from e
    except pd.errors.ParserError as e:
        raise ImportValidationError(
            str(path), f"not valid CSV ({e})", hint="Check quoting and the delimiter."
        ) from e


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as e:  # pyarrow raises several unrelated types for a bad file
        raise ImportValidationError(
            str(path), f"not a readable Parquet file ({type(e).__name__}: {e})"
        ) from e


def _read_jsonl(path: Path, encoding: str) -> pd.DataFrame:
    records = []
    try:
        with _open_text(path, encoding) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ImportValidationError(
                        str(path),
                        f"not valid JSON ({e.msg} at character {e.colno})",
                        line=number,
                        expected="one JSON object per line",
                    ) from e
                if not isinstance(record, dict):
                    raise ImportValidationError(
                        str(path), "not a JSON object", line=number, expected="{...} per line"
                    )
                records.append(record)
    except UnicodeDecodeError as e:
        raise _encoding_error(path, encoding, e) from e
    except (OSError, EOFError) as e:
        raise ImportValidationError(str(path), f"cannot be read ({e})") from e
    if not records:
        raise ImportValidationError(str(path), "file is empty", expected="JSON lines")
    return pd.DataFrame.from_records(records)


def require_columns(data: Located, columns: list[str] | tuple[str, ...]) -> None:
    """Raise naming the first missing column and the closest existing name."""
    present = [str(c) for c in data.frame.columns]
    for column in columns:
        if column in present:
            continue
        close = difflib.get_close_matches(column, present, n=1, cutoff=0.6)
        hint = f"Did you mean '{close[0]}'?" if close else f"Columns present: {present[:20]}."
        raise data.error(None, "missing column", column=column, hint=hint)


def parse_datetimes(data: Located, column: str, fmt: str | None = None) -> pd.Series:
    """Parse a column to naive datetimes; blank or unparseable cells are errors."""
    raw = data.frame[column]
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw.dt.tz_convert(None) if raw.dt.tz is not None else raw
    elif pd.api.types.is_numeric_dtype(raw):
        parsed = pd.to_datetime(raw, unit="s", errors="coerce")
    else:
        parsed = pd.to_datetime(raw, format=fmt or "mixed", errors="coerce", utc=True)
        parsed = parsed.dt.tz_convert(None)
    bad = parsed.isna().to_numpy().nonzero()[0]
    if len(bad):
        first = int(bad[0])
        raise data.error(
            first,
            "bad date/time",
            column=column,
            expected=f"a date like 2024-01-31 13:45{f' in format {fmt}' if fmt else ''}",
            found=raw.iloc[first],
        )
    return parsed.astype("datetime64[us]")


def parse_numbers(
    data: Located,
    column: str,
    *,
    integer: bool = False,
    required: bool = True,
    decimal: str = ".",
) -> pd.Series:
    """Parse a column to float (or int); blank cells are errors when `required`.

    With ``decimal=","`` text like "1.234,50" reads as 1234.5.
    """
    raw = data.frame[column]
    text = raw
    if decimal != "." and not pd.api.types.is_numeric_dtype(raw):
        text = raw.astype("string").str.replace(".", "", regex=False)
        text = text.str.replace(decimal, ".", regex=False)
    values = pd.to_numeric(text, errors="coerce")
    blank = raw.isna() | (raw.astype(str).str.strip() == "")
    bad = values.isna() & ~blank if not required else values.isna()
    if integer:
        bad |= values.notna() & (values != values.round())
    positions = bad.to_numpy().nonzero()[0]
    if len(positions):
        first = int(positions[0])
        expected = "a whole number" if integer else "a number"
        raise data.error(
            first,
            "bad number",
            column=column,
            expected=expected + ("" if required else " or an empty cell"),
            found=raw.iloc[first],
        )
    if integer:
        return values.astype("Int64")
    return values.astype("float64")


def parse_ids(data: Located, column: str, *, required: bool = True) -> pd.Series:
    """Normalise an id column to text; 12345.0 from a float column becomes '12345'."""
    raw = data.frame[column]
    if pd.api.types.is_float_dtype(raw):
        ids = raw.astype("Int64").astype("string")
    else:
        ids = raw.astype("string").str.strip()
        ids = ids.mask(ids == "")
    if required:
        missing = ids.isna().to_numpy().nonzero()[0]
        if len(missing):
            raise data.error(int(missing[0]), "missing id", column=column, expected="a value")
    too_long = (ids.str.len() > 64).fillna(False).to_numpy().nonzero()[0]
    if len(too_long):
        first = int(too_long[0])
        raise data.error(
            first,
            "id too long",
            column=column,
            expected="at most 64 characters",
            found=ids.iloc[first],
        )
    return ids


def require_unique(data: Located, ids: pd.Series, column: str) -> None:
    """Raise on the first id that appears twice, naming both lines."""
    duplicated = ids.duplicated(keep=False) & ids.notna()
    positions = duplicated.to_numpy().nonzero()[0]
    if len(positions):
        first, value = int(positions[0]), ids.iloc[int(positions[0])]
        second = int(positions[(ids.iloc[positions] == value).to_numpy().nonzero()[0][1]])
        raise data.error(
            second,
            f"duplicate id (also on {data.unit} {data.line_of(first)})",
            column=column,
            expected="each id once",
            found=value,
        )


def check_range(data: Located, values: pd.Series, column: str, low: float, high: float) -> None:
    """Raise on the first value outside [low, high]."""
    outside = (values.notna() & ((values < low) | (values > high))).to_numpy().nonzero()[0]
    if len(outside):
        first = int(outside[0])
        raise data.error(
            first,
            "value out of range",
            column=column,
            expected=f"between {low:g} and {high:g}",
            found=data.frame[column].iloc[first],
        )
