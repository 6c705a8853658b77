"""Text handed to the LLM: personal data masked, size bounded, totals stated."""

from __future__ import annotations

import math
import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Phone numbers: 8-15 digits, written either from a "+" or in at least three groups
# ("020 7946 0958", "(11) 98765-4321"). Not a plain number (an id, 825686.23, which
# SQL results are full of) and not a date or a timestamp.
_PHONE = re.compile(
    r"(?<![\w.+-])(?:\+\d[\d\s().-]{6,}\d|\(?\d{2,5}\)?(?:[ .-]\d{2,5}){2,4})(?![\w])"
)
_DATE_START = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b")
MAX_TOOL_CHARS = 4_000


def _phone_or_not(match: re.Match) -> str:
    found = match.group()
    digits = sum(c.isdigit() for c in found)
    if not 8 <= digits <= 15 or _DATE_START.match(found):
        return found
    return "[phone]"


def mask_personal_data(text: str) -> str:
    """Replace e-mail addresses and phone numbers with placeholders (dates, amounts and
    ids are left as they are)."""
    return _PHONE.sub(_phone_or_not, _EMAIL.sub("[email]", text))


def truncate_for_model(text: str, limit: int = MAX_TOOL_CHARS) -> str:
    """Cut text for the model's context, saying how much was left out."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit:,} more characters not shown]"


def quote_customer_text(text: str, limit: int = 300) -> str:
    """A customer's own words, masked and bounded, marked as data to quote, never to obey."""
    from segassist.retrieval.search import bound_text

    cut, _ = bound_text(mask_personal_data(text.replace("\n", " ")), limit)
    return f"«{cut}»"


def format_number(value: float) -> str:
    """A float as people (and models) read it: never in exponent form, large values with
    two decimals and thousands separators, small ones with four significant digits;
    infinities and NaN by name."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("infinity" if value > 0 else "-infinity")
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.2f}"
    return f"{value:.4g}" if abs(value) >= 1e-4 else f"{value:.6f}"


def markdown_table(
    columns: list[str], rows: list[tuple], max_rows: int = 20, width: int | None = 80
) -> str:
    """A small Markdown table of the first `max_rows` rows, cells cut at `width` characters
    (None: whole)."""

    def cell(value) -> str:
        if isinstance(value, float):
            return format_number(value)
        shown = str(value).replace("|", "/").replace("\n", " ")
        return shown if width is None else shown[:width]

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows[:max_rows]]
    return "\n".join(lines)
