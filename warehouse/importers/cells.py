"""Checking and parsing cells: numbers, dates, ids and text, with plausible limits.

Each parser returns a clean pandas Series or raises `ImportValidationError`
at the first bad cell (file, line, column, what was expected, what was found).
Numbers must be finite and inside `Limits` (configurable: `[limits]` in a
mapping file, `--limit` on the command line); dates inside its window. Text
loses control characters (counted, for the import's notes) and HTML entities;
ids with control characters are refused, since stripping could merge two ids.
"""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from segassist.core.errors import ImportValidationError, UserInputError
from segassist.warehouse.importers.reading import Located, detect_format

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
CURRENCY = re.compile(
    r"R\$|US\$|[$€£¥₹₩₽¢₺₫₪฿元]|\b(?:USD|EUR|GBP|BRL|CNY|RMB|JPY|INR|AUD|CAD|CHF)\b"
)
EMPTY = "an empty cell"


@dataclass(frozen=True)
class Limits:
    """Plausible ranges; a value outside is refused with its line.

    The defaults admit real retail data (Online Retail II has a quantity of
    80,995 and a bad-debt adjustment of -53,594) and refuse typos and
    sentinels (1e20 units, prices of 1e400, dates in year 1 or 9999).
    """

    quantity: tuple[float, float] = (-1_000_000, 1_000_000)
    price: tuple[float, float] = (-10_000_000, 10_000_000)
    amount: tuple[float, float] = (-100_000_000, 100_000_000)
    votes: tuple[float, float] = (0, 100_000_000)
    dates: tuple[datetime, datetime] = field(
        default_factory=lambda: (datetime(1970, 1, 1), datetime.now() + timedelta(days=366))
    )

    @classmethod
    def parse(cls, given: dict, where: str) -> Limits:
        """Limits from {"price": [0, 5000], "dates": ["2000-01-01", "2030-12-31"], ...}."""
        known = {f.name for f in fields(cls)}
        limits = cls()
        for name, value in given.items():
            if name not in known:
                raise UserInputError(f"{where}: unknown limit {name!r}; known: {sorted(known)}.")
            if not isinstance(value, (list, tuple)) or len(value) != 2:
                raise UserInputError(f"{where}: limit {name!r} must be [low, high].")
            try:
                if name == "dates":
                    low, high = (pd.Timestamp(str(v)).to_pydatetime() for v in value)
                else:
                    low, high = (float(v) for v in value)
            except (TypeError, ValueError):
                kind = "dates" if name == "dates" else "numbers"
                raise UserInputError(
                    f"{where}: limit {name!r} must be two {kind}, found {str(value)[:40]}."
                ) from None
            if not low <= high:
                raise UserInputError(f"{where}: limit {name!r}: low must not exceed high.")
            limits = replace(limits, **{name: (low, high)})
        return limits

    @classmethod
    def from_options(cls, options: tuple[str, ...]) -> Limits:
        """Limits from command-line `--limit name=low:high` options."""
        given = {}
        for option in options:
            name, _, bounds = option.partition("=")
            low, _, high = bounds.partition(":")
            given[name.strip()] = [low.strip(), high.strip()]
        return cls.parse(given, "--limit")


def _found(raw: pd.Series, position: int):
    value = raw.iloc[position]
    return EMPTY if value is None or (isinstance(value, float) and np.isnan(value)) else value


def _blank(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
        return raw.isna()
    return raw.isna() | (raw.astype("string").str.strip() == "").fillna(True)


def require_columns(data: Located, columns: list[str] | tuple[str, ...]) -> None:
    """Raise naming the first missing column and the closest existing name."""
    present = [str(c) for c in data.frame.columns]
    for column in columns:
        if column in present:
            continue
        close = difflib.get_close_matches(column, present, n=1, cutoff=0.6)
        if close:
            hint = f"Did you mean '{close[0][:40]}'?"
        elif len(present) == 1:
            hint = "The file has one column: check the delimiter."
        else:
            hint = "Columns present: " + ", ".join(c[:24] for c in present[:5])
            hint += f" (+{len(present) - 5} more)." if len(present) > 5 else "."
        raise data.error(None, "missing column", column=column, hint=hint)


def parse_datetimes(
    data: Located, column: str, fmt: str | None = None, limits: Limits | None = None
) -> pd.Series:
    """Parse a column to naive datetimes inside `limits.dates`; blank or bad cells are errors.

    Numbers are Unix times, in seconds or, when too large for seconds, milliseconds
    (Amazon's 2023 release). Text without a format is read with the format of
    its first value, else value by value.
    """
    raw = data.frame[column]
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw.dt.tz_convert(None) if raw.dt.tz is not None else raw
    elif pd.api.types.is_numeric_dtype(raw):
        unit = "ms" if raw.abs().median() > 1e11 else "s"
        parsed = pd.to_datetime(raw.where(raw.abs() < 1e14), unit=unit, errors="coerce")
    else:
        parsed = _parse_text_times(raw, fmt)
    bad = parsed.isna().to_numpy().nonzero()[0]
    if len(bad):
        first = int(bad[0])
        raise data.error(
            first,
            "bad date/time",
            column=column,
            expected=f"a date like 2024-01-31 13:45{f' in format {fmt}' if fmt else ''}",
            found=_found(raw, first),
        )
    low, high = (limits or Limits()).dates
    outside = ((parsed < low) | (parsed > high)).to_numpy().nonzero()[0]
    if len(outside):
        first = int(outside[0])
        raise data.error(
            first,
            "date outside the plausible window",
            column=column,
            expected=f"{low:%Y-%m-%d} to {high:%Y-%m-%d}",
            found=str(raw.iloc[first]),
            hint="Set [limits] dates in the mapping (or --limit dates=FROM:TO) if it is right.",
        )
    return parsed.astype("datetime64[us]")


def _parse_text_times(raw: pd.Series, fmt: str | None) -> pd.Series:
    text = raw.astype("string").str.strip()
    if fmt is None:
        try:  # one format for the column, inferred from the first value: fast
            parsed = pd.to_datetime(text, errors="raise", utc=True)
            return parsed.dt.tz_convert(None)
        except (ValueError, TypeError, OverflowError):
            pass
    parsed = pd.to_datetime(text, format=fmt or "mixed", errors="coerce", utc=True)
    return parsed.dt.tz_convert(None)


def parse_numbers(
    data: Located,
    column: str,
    *,
    integer: bool = False,
    required: bool = True,
    decimal: str = ".",
    thousands: str | None = None,
    currency: bool = False,
    bounds: tuple[float, float] | None = None,
) -> pd.Series:
    """Parse a column to float (or Int64); blank cells are errors when `required`.

    `decimal=","` reads "1.234,50" as 1234.5 (thousands "." unless given);
    `thousands=","` reads "1,341" (a cell must group digits by three);
    `currency` drops symbols and codes ("$1,250.00", "R$ 10,50", "12 EUR").
    Every value must be finite and, given `bounds`, inside them.
    """
    raw = data.frame[column]
    if thousands is None and decimal == ",":
        thousands = "."
    if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
        values = pd.to_numeric(raw, errors="coerce").astype("float64")
        malformed = pd.Series(False, index=raw.index)
    else:
        values, malformed = _numbers_from_text(raw, decimal, thousands, currency)
    blank = _blank(raw)
    bad = malformed | (values.isna() & ~blank) | (blank if required else False)
    _raise_first(data, bad, column, raw, _expected(integer, required, thousands))
    infinite = np.isinf(values.to_numpy(dtype="float64", na_value=np.nan))
    _raise_first(data, pd.Series(infinite, index=raw.index), column, raw, "a finite number")
    if bounds is not None:
        low, high = bounds
        outside = values.notna() & ((values < low) | (values > high))
        hint = "Set [limits] in the mapping (or --limit) if it is right."
        _raise_first(data, outside, column, raw, f"between {low:,g} and {high:,g}", hint=hint)
    if integer:
        fraction = values.notna() & (values != values.round())
        _raise_first(data, fraction, column, raw, "a whole number")
        return values.astype("Int64")
    return values.astype("float64")


def _numbers_from_text(raw, decimal: str, thousands: str | None, currency: bool):
    text = raw.astype("string").str.strip()
    if currency:
        text = text.str.replace(CURRENCY, "", regex=True).str.strip()
    malformed = pd.Series(False, index=raw.index)
    if thousands:
        separator = r"[\s\u00a0\u202f]" if thousands.isspace() else re.escape(thousands)
        grouped = text.str.contains(separator, regex=True).fillna(False)
        point = re.escape(decimal)
        pattern = rf"^[-+]?\d{{1,3}}(?:{separator}\d{{3}})+(?:{point}\d*)?$"
        malformed = grouped & ~text.str.match(pattern).fillna(False)
        text = text.str.replace(separator, "", regex=True)
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    return values, malformed


def _expected(integer: bool, required: bool, thousands: str | None) -> str:
    expected = "a whole number" if integer else "a number"
    if thousands:
        expected += f" (thousands grouped by '{thousands}')"
    return expected + ("" if required else " or an empty cell")


def _raise_first(data, bad: pd.Series, column: str, raw, expected: str, hint=None) -> None:
    positions = np.asarray(bad, dtype=bool).nonzero()[0]
    if len(positions):
        first = int(positions[0])
        problem = "value out of range" if expected.startswith("between") else "bad number"
        raise data.error(
            first, problem, column=column, expected=expected, found=_found(raw, first), hint=hint
        )


def parse_ids(data: Located, column: str, *, required: bool = True) -> pd.Series:
    """Normalise an id column to text: 12345.0 (from a float column, or written so)
    becomes '12345'; ids with control characters or over 64 characters are refused."""
    raw = data.frame[column]
    if pd.api.types.is_float_dtype(raw):
        whole = raw.notna() & np.isfinite(raw) & (raw == raw.round()) & (raw.abs() < 2**63)
        if bool((whole | raw.isna()).all()):  # the usual case: integer ids read as float
            ids = raw.astype("Int64").astype("string")
        else:
            ids = raw.astype("string")
            ids = ids.mask(whole, raw.where(whole).astype("Int64").astype("string"))
    else:
        ids = raw.astype("string").str.strip()
        ids = ids.mask(ids == "")
        ids = ids.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
    if required:
        missing = ids.isna().to_numpy().nonzero()[0]
        if len(missing):
            raise data.error(int(missing[0]), "missing id", column=column, expected="a value")
    control = ids.str.contains(CONTROL, regex=True).fillna(False).to_numpy().nonzero()[0]
    if len(control):
        first = int(control[0])
        raise data.error(first, "control character in id", column=column, found=ids.iloc[first])
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


def clean_text(data: Located, values: pd.Series, *, markup: bool = False) -> pd.Series:
    """Text cells without control characters (counted in `data.counts`), trimmed,
    blank as missing; with `markup`, HTML entities and <br> tags decoded (review text)."""
    text = values.astype("string")
    has_control = text.str.contains(CONTROL, regex=True).fillna(False)
    if has_control.any():
        data.counts["control"] = data.counts.get("control", 0) + int(has_control.sum())
        text = text.str.replace(CONTROL, "", regex=True)
    if markup:
        marked = text.str.contains("&", regex=False).fillna(False) | text.str.contains(
            "<br", case=False, regex=False
        ).fillna(False)
        if marked.any():
            text = text.mask(marked, text[marked].map(_unmark, na_action="ignore"))
    text = text.str.strip()
    return text.mask(text == "")


PATH_SEPARATOR = " > "


def category_path(value):
    """A category list as one path: [A, B, C] (2018), [[A, B, C], ...] (2014: the first
    list) or a Parquet list cell -> "A > B > C"; text is kept as it is, an empty list is
    missing."""
    if hasattr(value, "tolist") and not isinstance(value, str):  # a Parquet list cell
        value = value.tolist()
    if isinstance(value, list) and value and isinstance(value[0], list):
        value = value[0]
    if isinstance(value, list):
        return PATH_SEPARATOR.join(str(v).strip() for v in value if str(v).strip()) or None
    return value


def _unmark(value: str) -> str:
    return html.unescape(BREAK_TAG.sub("\n", value))


def cleaning_notes(located: list[Located]) -> list[str]:
    """Notes on what cleaning changed across files."""
    control = sum(data.counts.get("control", 0) for data in located)
    if not control:
        return []
    return [f"stripped control characters (e.g. NUL) from {control:,} text cells."]


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


def require_one_customer_per_order(rows: pd.DataFrame, order: str, customer: str) -> None:
    """Refuse an order id that two customers share, naming a line of each.

    `rows` carries `_file` and `_line` (where each row came from).
    """
    known = rows[rows[customer].notna().to_numpy()]
    orders, _ = pd.factorize(known[order])
    customers, names = pd.factorize(known[customer])
    pairs = np.unique(orders.astype(np.int64) * max(len(names), 1) + customers)
    if len(pairs) == len(np.unique(orders)):  # one customer per order: the usual case
        return
    firsts = known.drop_duplicates([order, customer])
    clash = firsts[firsts.duplicated(order, keep=False)]
    one, two = clash.iloc[0], clash[clash[order] == clash.iloc[0][order]].iloc[1]
    unit = _unit(str(two["_file"]))
    same_file = "" if one["_file"] == two["_file"] else f" of {Path(str(one['_file'])).name}"
    raise ImportValidationError(
        str(two["_file"]),
        f"order {str(one[order])[:30]!r} belongs to customer {str(two[customer])[:30]!r} here "
        f"and to {str(one[customer])[:30]!r} on {unit} {one['_line']}{same_file}",
        line=int(two["_line"]),
        unit=unit,
        hint="An order id must name one customer's order.",
    )


def _unit(path: str) -> str:
    """'line' for text files, 'row' for Parquet and Excel (as `Located.unit`)."""
    return "line" if detect_format(Path(path)) in ("csv", "json") else "row"


def located_rows(data: Located, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with `_file` and `_line` columns pointing back into `data`."""
    return frame.assign(_file=str(data.path), _line=data.line_numbers())


def timedelta_days(days: pd.Series) -> pd.Series:
    """Days (possibly fractional) as timedeltas."""
    return pd.to_timedelta(days.astype("float64"), unit="D").fillna(timedelta(0))
