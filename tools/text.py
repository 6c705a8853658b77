"""Text handed to the LLM: personal data masked, size bounded, totals stated."""

from __future__ import annotations

import math
import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Phone numbers: 8+ digits with optional +, spaces, dots, dashes or brackets between.
_PHONE = re.compile(r"(?<![\w])\+?\(?\d[\d\s().-]{6,}\d(?![\w])")
MAX_TOOL_CHARS = 4_000


def mask_personal_data(text: str) -> str:
    """Replace e-mail addresses and phone numbers with placeholders."""
    text = _EMAIL.sub("[email]", text)
    return _PHONE.sub(
        lambda m: "[phone]" if sum(c.isdigit() for c in m.group()) >= 8 else m.group(), text
    )


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
