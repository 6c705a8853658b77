"""Numbers as people write them, in English, Portuguese or Chinese text.

"9,649" and "9.649" are the same count to an English and a Portuguese reader;
"4,51" is a Portuguese decimal. A token whose separators allow more than one
reading gets every reading, so a check that a written number is grounded in a
tool result (agent.guards) or equals an expected answer (the benchmarks) does
not depend on the locale the model chose to write in.
"""

from __future__ import annotations

import re

# A number: digits with separators inside, never starting or ending with one; not part
# of a word or an id (B003VWJ2K8, 85123A). Chinese characters may touch it ("2017年11月
# 有1705个"): Python's \w would count them as word characters and hide every number in a
# Chinese sentence.
_LETTER = r"A-Za-z0-9_\u00c0-\u024f"
_TOKEN = re.compile(rf"(?<![{_LETTER}.,])(-?)(\d(?:[\d.,]*\d)?)(?![{_LETTER}])")
_GROUPED = re.compile(r"\d{1,3}(?:([.,])\d{3})(?:\1\d{3})*")


def readings(token: str, english: bool = False) -> list[tuple[float, int]]:
    """Every plausible (value, decimals) of a written number without its sign; `english`:
    written as this project writes numbers (tools.text.format_number), where a comma only
    groups thousands and a dot only marks decimals ("2,012" is 2012, never 2.012)."""
    if english and "," in token and "." not in token and _GROUPED.fullmatch(token):
        return [(float(token.replace(",", "")), 0)]
    if english and "." in token and "," not in token and token.count(".") == 1:
        whole, fraction = token.split(".")
        return [(float(f"{whole}.{fraction}"), len(fraction))]
    found = []
    commas, dots = token.count(","), token.count(".")
    if commas and dots:  # both: the last one is the decimal mark
        decimal = "," if token.rfind(",") > token.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        whole, _, fraction = token.replace(thousands, "").partition(decimal)
        if whole.isdigit() and fraction.isdigit():
            found.append((float(f"{whole}.{fraction}"), len(fraction)))
        return found
    mark = "," if commas else "." if dots else ""
    if not mark:
        return [(float(token), 0)]
    if _GROUPED.fullmatch(token):  # 1,234 or 1.234.567: thousands
        found.append((float(token.replace(mark, "")), 0))
    if token.count(mark) == 1:  # 4.51 or 4,51 (also 1.234 read as a decimal)
        whole, fraction = token.split(mark)
        found.append((float(f"{whole}.{fraction}"), len(fraction)))
    return found


def written_numbers(text: str, english: bool = False) -> list[list[tuple[float, int]]]:
    """The readings of each number written in `text`, in order (signs kept); `english`: as
    this project writes them (see readings)."""
    numbers = []
    for sign, token in _TOKEN.findall(text):
        options = [(-v if sign else v, d) for v, d in readings(token, english)]
        if options:
            numbers.append(options)
    return numbers


# (thousands separator, decimal mark) for the languages answers are written in.
SEPARATORS = {"en": (",", "."), "pt": (".", ","), "zh": (",", ".")}


def formatted(value: float, decimals: int, language: str) -> str:
    """`value` with `decimals` decimals, grouped and marked as `language` writes it."""
    thousands, mark = SEPARATORS.get(language, SEPARATORS["en"])
    text = f"{abs(value):,.{decimals}f}".replace(",", "\0").replace(".", mark)
    return ("-" if value < 0 else "") + text.replace("\0", thousands)


def in_locale(text: str, language: str, known: list[float]) -> str:
    """`text` with every number written with a separator or a decimal mark rewritten as
    `language` writes it ("1,234.5" -> "1.234,5" in Portuguese), read as the `known`
    value it stands for when its separators allow two readings. Plain digit strings
    (years, ids, small counts) and numbers whose reading stays unsure are left as written."""

    def rewrite(match: re.Match) -> str:
        sign, token = match.groups()
        if "," not in token and "." not in token:
            return match.group(0)
        options = readings(token)
        grounded = [
            (value, decimals)
            for value, decimals in options
            if any(abs(value - k) <= 0.5 * 10.0**-decimals + 1e-9 for k in known)
        ]
        chosen = grounded or options
        if len({value for value, _ in chosen}) != 1:
            return match.group(0)
        value, decimals = chosen[0]
        return sign + formatted(value, decimals, language)

    return _TOKEN.sub(rewrite, text)
