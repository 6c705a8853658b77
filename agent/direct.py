"""The answer to a question whose query returned one row that answers it, written by the
agent itself instead of by one more model call.

On a 2-core CPU every model call costs seconds (the 1.5B model writes 6-7 tokens a
second), and the call after a one-value result only restates it, where a small model
also misreads it ("1 rows" taken for the count, a share written as its fraction). The
agent writes that answer from the row when the checks (agent.checks) find nothing the
query leaves out and the row has the shape the question asks for: a figure for how
many, how much, what share or what average; a named thing (and its figures) for which
one. Anything else goes to the model as before.
"""

from __future__ import annotations

import re

from segassist.agent.checks import (
    AGGREGATE,
    ASKS_AVERAGE,
    ASKS_SHARE,
    WHICH_WORD,
    missed,
    unchecked,
)
from segassist.agent.guards import (
    ANSWER_NUDGE,
    asks_for_figure,
    failed,
    table_of,
    this_question,
)
from segassist.agent.replies import reply
from segassist.core.numbers import formatted
from segassist.tools.schema_text import country_spelled
from segassist.warehouse.language import detect_language

# Decimals the question asks for: "two decimals", "one decimal place", "duas casas
# decimais", "保留两位小数"; a whole number: "round to a whole number", "取整数".
_DECIMAL_WORDS = {"one": 1, "two": 2, "three": 3, "uma": 1, "duas": 2, "três": 3}
_DECIMAL_WORDS |= {"一": 1, "两": 2, "二": 2, "三": 3}
_DECIMALS = re.compile(
    r"\b(one|two|three|[0-4])\s+decimals?\b|\b(uma|duas|três|[0-4])\s+casas?\b"
    r"|(?:保留)?([一两二三0-4])位小数",
    re.I,
)
_WHOLE = re.compile(
    r"\bwhole\s+number\b|\bround(?:ed)?\s+to\s+(?:a\s+)?whole\b|inteiro|整数|取整", re.I
)
# A question that asks for a list, or for two things: one row does not answer it (the
# second thing aside where it is the named thing's figure: "which customer ..., and how
# many?" is answered by the customer and its count).
_LIST_ASKED = re.compile(
    r"\b(?:list|liste|listar|quais|which\s+(?:customers|products|reviewers|months|countries))\b"
    r"|哪些|列出",
    re.I,
)
_TWO_ASKED = re.compile(
    r"\?[^?]+\?|\band\s+(?:what|which|who|how)\b|\be\s+(?:qual|quais|quem|quant)|以及|并且|分别",
    re.I,
)
_PERCENT_WORD = re.compile(r"\bper\s*cent|percent|porcent|percentu|百分", re.I)
_AVERAGES = re.compile(r"\bAVG\s*\(|/", re.I)
_RANKED = re.compile(r"\bORDER\s+BY\b[\s\S]*\bLIMIT\s+1\b|\b(?:MAX|MIN)\s*\(", re.I)
# A number that names a thing rather than measures it (customer 12346, stock code 85123).
_NAMES_A_THING = re.compile(r"(?:^|_)(?:id|asin|code|stock_?code|invoice)$|^customer$", re.I)


def direct_answer(messages: list) -> str | None:
    """The agent's answer from this question's last run_sql result, where that result is
    one row that answers the question and the checks find nothing its query leaves out;
    None where the model should answer (or be checked) instead."""
    question, since = this_question(messages)
    last = since[-1] if since else None
    if (
        getattr(last, "name", "") != "run_sql"
        or failed(last)
        # No note under the result (what the query leaves out, a copied example) nor over
        # it (a value the column never holds, a repair to say): the model reads those.
        or not str(last.content).endswith(ANSWER_NUDGE)
        or "Note:" in str(last.content)
        or _LIST_ASKED.search(question)
    ):
        return None
    table = table_of(last)
    if table is None or not table.sql or table.total_rows != 1 or len(table.rows) != 1:
        return None
    row = dict(zip(table.columns, table.rows[0], strict=False))
    if not row or len(row) > 3 or any(v is None or isinstance(v, bool) for v in row.values()):
        return None
    names = {c: v for c, v in row.items() if isinstance(v, str) or _NAMES_A_THING.search(c)}
    figures = {c: v for c, v in row.items() if c not in names}
    if any(not isinstance(v, int | float) for v in figures.values()):
        return None
    language, decimals = detect_language(question, default="en"), _asked_decimals(question)
    if _TWO_ASKED.search(question) and not (names and figures):
        return None
    if names:
        if len(names) > 1 or not WHICH_WORD.search(question) or not _RANKED.search(table.sql):
            return None
        ((column, name),) = names.items()
        name = int(name) if isinstance(name, float) else name
        if isinstance(name, str) and (english := country_spelled(name)):
            name = f"{name} = {english}"  # the log's EIRE, said as the country people know
        shown = [_labelled(name, column, language)]
        shown += [
            _labelled(_written(v, decimals, language), c, language) for c, v in figures.items()
        ]
    else:
        figure = _figure(question, table.sql, figures)
        if figure is None:
            return None
        column, value, unit = figure
        shown = [_labelled(_written(value, decimals, language) + unit, column, language)]
    said = reply("direct", question, value=("，" if language == "zh" else ", ").join(shown))
    if unchecked(messages, said) or missed(messages, said, source=last.tool_call_id):
        return None
    return said


def _figure(question: str, sql: str, figures: dict) -> tuple[str, float, str] | None:
    """(column, value, unit) of the one figure a figure question asks for, a share in
    percent; None where the query does not compute what the question asks (an average
    with no AVG, a share over 100)."""
    if (
        len(figures) != 1
        or not asks_for_figure(question)
        or not (AGGREGATE.search(sql) or "/" in sql)
    ):
        return None
    ((column, value),) = figures.items()
    if ASKS_SHARE.search(question) or _PERCENT_WORD.search(question):
        in_percent = re.search(r"\b100(?:\.0*)?\b", sql) is not None
        if not 0 <= value <= (100 if in_percent else 1):
            return None
        return column, value if in_percent else 100 * value, "%"
    if ASKS_AVERAGE.search(question) and not _AVERAGES.search(sql):
        return None
    return column, value, ""


def _asked_decimals(question: str) -> int | None:
    if _WHOLE.search(question):
        return 0
    match = _DECIMALS.search(question)
    if not match:
        return None
    word = next(g for g in match.groups() if g)
    return int(word) if word.isdigit() else _DECIMAL_WORDS[word.lower()]


def _written(value, decimals: int | None, language: str) -> str:
    """A figure as the question's language writes it, to the decimals asked for, else
    whole where it is whole and to two decimals (four below 1) where it is not."""
    if decimals is None:
        decimals = 0 if float(value).is_integer() else 2 if abs(value) >= 1 else 4
    return formatted(float(value), decimals, language)


def _labelled(value, column: str, language: str) -> str:
    """A value with the column it came from, in the language's brackets, where the column
    has a name (an alias, not the expression itself: "COUNT(*)", "100.0 * SUM(...)")."""
    if not re.fullmatch(r"[^\W\d]\w*", column):
        return str(value)
    return f"{value}（{column}）" if language == "zh" else f"{value} ({column})"
