"""Guards on what the model says: repeated calls, failed calls, and numbers no tool returned.

Small models loop on a call they already made, answer right after a failed
call, and misread numbers in a result. These checks read one question's
messages (from its last real user turn) and decide; the middleware acts.
"""

from __future__ import annotations

import functools
import json
import re

from segassist.agent.prompting import prompt
from segassist.agent.replies import reply
from segassist.agent.toolcalls import contains_tool_call, looks_like_a_call
from segassist.core.numbers import written_numbers
from segassist.tools.data_tools import ROW_COUNT_HEADER, listed_reviews
from segassist.tools.result import Table
from segassist.tools.schema_text import described_figures
from segassist.tools.writing import language_of


def call_key(name: str, args: dict) -> tuple[str, str]:
    return name, json.dumps(args, sort_keys=True, default=str)


def distinct(calls: list) -> list:
    """The calls without exact repeats (small models sometimes write one call twice)."""
    seen, kept = set(), []
    for call in calls:
        key = call_key(call.name, call.args)
        if key not in seen:
            seen.add(key)
            kept.append(call)
    return kept


NUDGE_MARK = "(segassist) "  # starts the instructions the agent adds as user turns


def this_question(messages: list) -> tuple[str, list]:
    """The last human question and the messages after it (the agent's own nudges are not
    questions)."""
    for position in range(len(messages) - 1, -1, -1):
        message = messages[position]
        if getattr(message, "type", "") == "human" and not str(message.content).startswith(
            NUDGE_MARK
        ):
            return str(message.content), messages[position + 1 :]
    return "", messages


def failed_last(messages: list) -> bool:
    """This question's last tool call that looks data up failed and the model has not been
    nudged to fix it (a schema listing read after the error does not fix it: the 1.5B
    model listed the schema, sent that call again and the question ended on "my last
    query failed", fresh-82, fresh-83, fresh-91)."""
    _, since = this_question(messages)
    results = [
        m
        for m in since
        if getattr(m, "type", "") == "tool" and getattr(m, "name", "") != "describe_data"
    ]
    nudged = any(str(getattr(m, "content", "")).startswith(NUDGE_MARK + "Your last") for m in since)
    if not results or nudged:
        return False
    return failed(results[-1])


def nothing_looked_up(messages: list) -> bool:
    """No tool has answered this question yet and the model has not been nudged to call
    one (a small model sometimes replies "one moment, I am querying the data")."""
    _, since = this_question(messages)
    nudged = any(
        str(getattr(m, "content", "")).startswith(NUDGE_MARK + "You have not looked") for m in since
    )
    return not nudged and not any(getattr(m, "type", "") == "tool" for m in since)


def failed(tool_message) -> bool:
    """The tool call behind this result failed (its error is the observation)."""
    return bool(getattr(getattr(tool_message, "artifact", None), "failed", False))


def table_of(tool_message) -> Table | None:
    """The rows a call returned (run_sql, find_customers), with the SQL as it ran (after
    run_sql's repairs); None for any other result."""
    payload = getattr(getattr(tool_message, "artifact", None), "payload", None)
    return payload if isinstance(payload, Table) else None


def only_repeats(tool_calls: list[dict], messages: list) -> bool:
    """Every call was already made, with the same arguments, for this question."""
    _, since = this_question(messages)
    earlier = {
        call_key(c["name"], c.get("args", {}))
        for m in since
        for c in (getattr(m, "tool_calls", None) or [])
    }
    return bool(earlier) and all(
        call_key(c["name"], c.get("args", {})) in earlier for c in tool_calls
    )


def answer_from_results(
    request,
    handler,
    tool_names: set[str],
    message_id: str | None,
    *,
    complete,
    out_of_time: bool = False,
):
    """A plain-text answer from this question's tool results; with none, says why (the
    time ran out, or no call could be run).

    Asked on the agent's own prompt plus one instruction, so a server that caches
    the last prompt's prefix (llama.cpp) evaluates only the new tail. If the
    model still calls a tool, the last result is given as the answer, as it is: the
    last one whose query `complete` (a tool result -> bool) finds complete, where one is.
    """
    from langchain_core.messages import AIMessage, HumanMessage

    question, since = this_question(request.messages)
    results = [m for m in since if getattr(m, "type", "") == "tool"]
    text, own = "", True
    if results and every_call_failed(request.messages):
        text = reply("query_failed", question)  # nothing to answer from: no model call
    elif results:
        instruction = prompt("answer").format(question=question, language=language_of(question))
        nudge = HumanMessage(NUDGE_MARK + instruction)
        answered = handler(request.override(messages=[*request.messages, nudge])).result
        message = next((m for m in answered if isinstance(m, AIMessage)), None)
        text, own = str(getattr(message, "content", "") or "").strip(), False
        if (
            getattr(message, "tool_calls", None)
            or contains_tool_call(text, tool_names)
            or looks_like_a_call(text)
            or echoes_instructions(text)
            or ungrounded(text, request.messages)
        ):
            own = True
            # The last result that answered something: a query that ran before a later
            # refused or failed call still holds the figure (the 1.5B model counted 60
            # one-star reviews, then searched; "my last query failed" hid the 60). A
            # schema listing is no answer to show.
            shown = [
                m for m in results if not failed(m) and getattr(m, "name", "") != "describe_data"
            ]
            if shown:
                # The 0.5B model counted reviews, then ran a verified example's query
                # (COUNT of customers by cancellations, 0): the count of reviews answers.
                whole = [m for m in shown if complete(m)]
                text = result_shown((whole or shown)[-1], request.messages)
            else:
                kind = "query_failed" if any(failed(m) for m in results) else "no_tool_ran"
                text = reply(kind, question)
    return AIMessage(
        content=text or reply("out_of_time" if out_of_time else "no_tool_ran", question),
        id=message_id,
        # own: the agent's words (tool results shown as they are), not the model's.
        response_metadata={"answered_from_results": True, "own": own or not text},
    )


def result_shown(tool_message, messages: list) -> str:
    """A tool result of this question as the agent's answer, said as it is: its one value,
    or the call and its result."""
    question, since = this_question(messages)
    value = _one_value(tool_message, question)
    if value is not None:
        return reply("returned_value", question, **value)
    calls = {c["id"]: c for m in since for c in (getattr(m, "tool_calls", None) or [])}
    call = describe_call(calls.get(tool_message.tool_call_id), tool_message)
    return reply("returned", question, call=call, result=without_nudge(str(tool_message.content)))


def _one_value(tool_message, question: str) -> dict[str, str] | None:
    """{value, column} of a result that is one value, the value as the question's
    language writes numbers; None for any other result."""
    from segassist.core.numbers import formatted
    from segassist.warehouse.language import detect_language

    payload = table_of(tool_message)
    if payload is None or len(payload.rows) != 1 or len(payload.columns) != 1:
        return None
    value = payload.rows[0][0]
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        decimals = 0 if float(value).is_integer() else min(4, len(repr(value).split(".")[-1]))
        value = formatted(float(value), decimals, detect_language(question, default="en"))
    return {"value": str(value), "column": payload.columns[0]}


def grounds(messages: list) -> str:
    """What an answer to this question may take its numbers and names from: the question
    and its tool results, row-count headers left out. When no tool has answered this
    question (a follow-up, or a model that never looked anything up), the earlier turns'
    results and answers: nothing may come from the model alone."""
    return "\n".join(text for text, _ in _grounds(messages))


def _grounds(messages: list) -> list[tuple[str, bool]]:
    """The texts of grounds, each with whether this project wrote its numbers (a tool
    result: "2,012" there is 2012, and does not ground an answer's 2.01)."""
    question, since = this_question(messages)
    # A call refused or failed holds no data: its numbers are the refusal's ("LIMIT 1",
    # "rating = stars, 1-5"), and the 1.5B model answered "1 customer" from one.
    results = _results(since)
    if not any(getattr(m, "type", "") == "tool" for m in since):
        earlier = messages[: len(messages) - len(since)]
        ran = _results(earlier)
        results = [m for m in earlier if getattr(m, "type", "") == "ai" or m in ran]
    return [
        (question, False),
        *(
            (_data_text(m) if m.type == "tool" else str(m.content), m.type == "tool")
            for m in results
        ),
    ]


# A share the model may work out itself from one small result: the part over the whole
# of two of its numbers. Asked what percentage of revenue came from the United Kingdom,
# the 1.5B model queried the UK's revenue and the total (8,709,203.67 and 10,169,340.00),
# answered 85.6% and was shown the raw result instead. Only from a result holding at
# most this many numbers, so that a share cannot match by chance.
MAX_SHARE_NUMBERS = 4


def _data_text(message) -> str:
    """What a tool result says of the data: its text without the row-count header and the
    note under it; of a schema listing, its row counts and segments (its column meanings,
    "stars, 1 (worst) to 5 (best)", are no figures: the 1.5B model answered "1 customer"
    for 1,909 and that 1 let it through)."""
    text = ROW_COUNT_HEADER.sub("", without_nudge(str(message.content)))
    return described_figures(text) if getattr(message, "name", "") == "describe_data" else text


def known_numbers(messages: list) -> list[float]:
    """Every reading of every number an answer to this question may state (see grounds),
    and the shares of two numbers of one small result (see _shares)."""
    known = [
        value
        for text, ours in _grounds(messages)
        for options in written_numbers(text, english=ours)
        for value, _ in options
    ]
    return known + _shares(messages)


def _shares(messages: list) -> list[float]:
    """a / b for two numbers a < b of one result of this question that ran and holds at
    most MAX_SHARE_NUMBERS numbers (a percentage of one is a reading of it: _not_among)."""
    _, since = this_question(messages)
    return [share for message in _results(since) for share in _result_numbers(message)[1]]


def _results(messages: list) -> list:
    """The tool results among `messages` that ran."""
    return [m for m in messages if getattr(m, "type", "") == "tool" and not failed(m)]


def _result_numbers(message) -> tuple[list[float], list[float]]:
    """Every reading of every number of one tool result (row-count header left out), and
    the shares of two of them when it holds at most MAX_SHARE_NUMBERS numbers."""
    readings = written_numbers(_data_text(message), english=True)
    values = [options[0][0] for options in readings]
    shares = []
    if len(values) <= MAX_SHARE_NUMBERS:
        shares = [a / b for a in values for b in values if 0 < a < b]
    return [value for options in readings for value, _ in options], shares


def ungrounded_numbers(answer: str, messages: list) -> list[float]:
    """Numbers in `answer` that neither the question nor a tool result of this question
    contains, allowing rounding, percent of a fraction and the locale's separators
    ("9.649" and "4,51" in Portuguese)."""
    return _not_among(answer, known_numbers(messages))


def _given(options: list[tuple[float, int]], known: list[float]) -> bool:
    """Whether one of `known` gives a number written in an answer (`options`: its
    readings, each with its decimals): rounded from it, or its percentage."""

    def grounded(value: float, decimals: int) -> bool:
        unit = 10.0**-decimals
        # Rounded from k: within half a unit, and k not itself a small fraction of a unit
        # (0.68 does not make "1 review").
        candidates = [c for k in known for c in (k, 100 * k) if abs(c) >= 10 * unit or c == value]
        return any(abs(value - c) <= 0.5 * unit + 1e-9 for c in candidates)

    return any(grounded(value, decimals) for value, decimals in options)


def _not_among(answer: str, known: list[float]) -> list[float]:
    """Numbers in `answer` that none of `known` gives (see ungrounded_numbers)."""
    return [options[0][0] for options in written_numbers(answer) if not _given(options, known)]


def answer_sources(answer: str, messages: list) -> list:
    """The tool results of this question that `answer` takes its figures from: each
    result that gives a number of the answer the question does not hold itself (a share
    of two of its numbers included). Asked how many reviewers never rated below 4, the
    1.5B model counted reviews (9,022), then, checked, counted every customer, and
    answered the 9,022: its answer rests on the first query, not on all of them. Empty
    when no figure of the answer is in a result."""
    question, since = this_question(messages)
    asked = [value for options in written_numbers(question) for value, _ in options]
    figures = [options for options in written_numbers(answer) if not _given(options, asked)]
    sources = []
    for message in _results(since) if figures else []:
        known, shares = _result_numbers(message)
        if any(_given(options, known + shares) for options in figures):
            sources.append(message)
    return sources


def figure_from_question_only(answer: str, messages: list) -> list[str]:
    """For a question asking for a figure, answered after a tool result: the answer's
    numbers when none of them is in a result, only in the question (asked "how many
    reviewers gave a 1-star review?", the 1.5B model answered "1.000" after a failed
    search: the question's own 1). Empty otherwise."""
    question, since = this_question(messages)
    results = [_data_text(m) for m in _results(since)]
    numbers = written_numbers(answer)
    if not results or not numbers or not asks_for_figure(question):
        return []
    known = [value for options in written_numbers("\n".join(results)) for value, _ in options]
    if len(_not_among(answer, known + _shares(messages))) < len(numbers):
        return []  # at least one number comes from a result
    return [str(options[0][0]) for options in numbers]


# What an answer may only name if a tool result (or the question) names it.
_ID = re.compile(
    r"(?<![\w-])(?=[A-Za-z0-9]*\d[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{5,}(?![\w-])"
)
_CAPS_NAME = re.compile(r"\b[A-Z][A-Z0-9'&/-]{2,}(?:[ ]+[A-Z0-9][A-Z0-9'&/-]+){1,}\b")
_QUOTED = re.compile(r"[\"\u201c\u300c]([^\"\u201d\u300d]{12,})[\"\u201d\u300d]")
_YEAR_MONTH = re.compile(r"\b((?:19|20)\d{2})-(0[1-9]|1[0-2])\b")
MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
MESES = [  # Portuguese
    "janeiro",
    "fevereiro",
    "março",
    "abril",
    "maio",
    "junho",
    "julho",
    "agosto",
    "setembro",
    "outubro",
    "novembro",
    "dezembro",
]
_MONTH_NAME = re.compile(r"\b(" + "|".join(MONTHS) + r")\s+((?:19|20)\d{2})\b", re.I)


def plain_text(text: str) -> str:
    """Lower case, runs of white space as one space: text compared as people read it."""
    return " ".join(text.lower().split())


def ungrounded_entities(answer: str, messages: list) -> list[str]:
    """Ids, names in capitals, quotes and months in `answer` that neither the question nor
    a tool result of this question contains (see grounds)."""
    known = plain_text(grounds(messages))
    missing = []
    for pattern in (_ID, _CAPS_NAME):
        missing += [
            m.group() for m in pattern.finditer(answer) if plain_text(m.group()) not in known
        ]
    for match in _QUOTED.finditer(answer):
        if plain_text(match.group(1)).strip(" .,;:!?…") not in known:
            missing.append(match.group(1))
    for year, month in _YEAR_MONTH.findall(answer):
        if f"{year}-{month}" not in known:
            missing.append(f"{year}-{month}")
    for name, year in _MONTH_NAME.findall(answer):
        month = f"{year}-{MONTHS.index(name.lower()) + 1:02d}"
        if month not in known and plain_text(f"{name} {year}") not in known:
            missing.append(f"{name} {year}")
    return missing


# A question that asks for a thing (which customer, what month, qual produto, 哪个...).
ASKS_WHICH = re.compile(
    r"^\s*(?:\w+,\s*)?(?:which|who|whom|whose|what (?:month|year|day|product|customer|"
    r"country|category|segment|state|brand)|in which|qual|quais|quem|em que|em qual|"
    r"[^\n]*?(?:哪|谁))",
    re.I,
)


def unnamed_entity(answer: str, messages: list) -> list[str]:
    """For a question asking which thing, the thing its last query found when the answer
    names none of it (a small model answers "in October" for the month 2010-11, or gives
    a customer's spend without the customer). Empty when the answer names it."""
    question, since = this_question(messages)
    if not ASKS_WHICH.search(question):
        return []
    tables = [
        table_of(m)
        for m in since
        if getattr(m, "type", "") == "tool" and not failed(m) and table_of(m) is not None
    ]
    if not tables or not tables[-1].rows:
        return []
    names = [v.strip() for v in tables[-1].rows[0] if isinstance(v, str) and v.strip()]
    if not names:
        return []
    lowered = plain_text(answer)
    for name in names:
        forms = [plain_text(name)]
        if month := _YEAR_MONTH.fullmatch(name):
            forms.append(f"{MONTHS[int(month.group(2)) - 1]} {month.group(1)}")
        if any(form in lowered for form in forms):
            return []
    return names[:1]


# A figure, a month or a quoted name ("Guitars"): what an answer states as found.
_STATES_A_FACT = re.compile(
    r"\d|\b(?:" + "|".join(MONTHS) + r")\b|[\"\u201c\u00ab\u300c][^\"\u201d\u00bb\u300d]+"
    r"[\"\u201d\u00bb\u300d]",
    re.I,
)


def every_call_failed(messages: list) -> bool:
    """This question called tools that look data up, and every one failed (a schema
    listing by describe_data answers nothing)."""
    _, since = this_question(messages)
    results = [
        m
        for m in since
        if getattr(m, "type", "") == "tool" and getattr(m, "name", "") != "describe_data"
    ]
    return bool(results) and all(failed(m) for m in results)


def fact_without_result(answer: str, messages: list) -> bool:
    """The answer states a figure or a month although every call of this question failed:
    it comes from nowhere (after one failed query the 1.5B model answered "The month with
    the most reviews was January", a month it had never seen). "I could not find that
    customer" states nothing and stands."""
    return every_call_failed(messages) and bool(_STATES_A_FACT.search(answer))


def in_another_language(answer: str, messages: list) -> bool:
    """The answer is plainly in another language than the question (asked fifth in an
    English conversation, a Chinese question got "The number of different customers
    ... is 591."); a short answer whose language cannot be told is not."""
    from segassist.warehouse.language import detect_language

    question, _ = this_question(messages)
    asked = detect_language(question, default="und")
    said = detect_language(answer, default="und")
    return "und" not in (asked, said) and asked != said


# A template's blank left in the answer: "O estado com mais clientes é o [estado]."
_PLACEHOLDER = re.compile(r"\[[^\]\d\n]{2,30}\](?!\()|<[A-Za-z_ ]{2,30}>|\{[A-Za-z_]{2,30}\}")


def ungrounded(answer: str, messages: list) -> list:
    """Numbers and entities of `answer` no tool result of this question holds, the thing
    asked for when the answer leaves it out, any fact when every call failed, an
    answer in another language than the question, or a blank left in it ("[estado]")."""
    return [
        *(["(every call failed)"] if fact_without_result(answer, messages) else []),
        *(["(another language)"] if in_another_language(answer, messages) else []),
        *_PLACEHOLDER.findall(answer),
        *ungrounded_numbers(answer, messages),
        *figure_from_question_only(answer, messages),
        *ungrounded_entities(answer, messages),
        *unnamed_entity(answer, messages),
    ]


def describe_call(call: dict | None, message) -> str:
    """`tool(args)` as the answer step sees it (the SQL tells what the numbers mean)."""
    if call is None:
        return getattr(message, "name", None) or "tool"
    return f"{call['name']}({json.dumps(call.get('args', {}), ensure_ascii=False)})"


ANSWER_NUDGE = "\n(Answer the user's question from this result if it is enough.)"
# Follows a query's result that leaves out part of the question (agent.checks.query_notes):
# what the check before an answer would ask, told while the model can still fix it.
QUERY_NOTE = "\n(segassist) Before you answer from this result: "

# A question that asks for a figure: how many, what share, the average (and in Portuguese
# and Chinese). Review search returns a few texts by meaning; it cannot count them.
# An average anywhere is a figure: "a nota média das avaliações de pedidos cancelados",
# "em que ano ... a maior nota média" (the 1.5B model searched reviews for both and stated
# a rating it read off the hits).
_ASKS_FIGURE = re.compile(
    r"\b(?:how many|how much|what share|what percentage|what proportion|number of|"
    r"on average|averages?\s+(?:of|per)|average\s+(?:[\w-]+\s+)?(?:ratings?|scores?|numbers?|"
    r"stars?|values?|spend|prices?|orders?|invoices?|baskets?|reviews?|units?|items?)|"
    r"quant[oa]s?|m[ée]di[ao]s?|"
    r"qual (?:é|foi|a|o) (?:a )?(?:percentual|porcentagem|número)|porcentagem)\b|"
    r"多少|几[个位条次]|比例|百分之?|平均",
    re.I,
)
# A ranking by how many: "the most reviews", "mais pedidos", "评论数量最多", "the most
# helpful votes" (one group per alternative: the noun counted). Review search cannot rank
# by a count either: asked which reviewer received the most helpful votes, the 1.5B model
# searched for "helpful_votes DESC" (fresh-111); asked which year had the most reviews
# (评论数量最多的是哪一年), the 1.5B model searched and answered with the year of the first
# review it found.
RANKS_BY_COUNT = re.compile(
    r"(?i:\b(?:most|fewest|(?<!\bat\s)least|highest\s+number\s+of|largest\s+number\s+of|"
    r"greatest\s+number\s+of|smallest\s+number\s+of)\s+"
    r"(?:[\w-]+\s+)?(reviews|orders|invoices|purchases|customers|buyers|products|items|units|"
    r"votes)\b"
    r"|\b(?:mais|menos)\s+(avaliações|resenhas|pedidos|compras|faturas|clientes|produtos|itens|"
    r"unidades|votos)\b)"
    r"|(评论|评价|订单|客户|产品|商品|票)(?:数|数量)?最[多少]|最[多少](?:的)?(评论|评价|订单|客户|产品|商品)"
)
SEARCH_CANNOT_COUNT = (
    "search_reviews not run: it returns a few reviews by meaning and cannot count, sum or "
    "average them, and my question asks for a figure or ranks by one. Call run_sql with one "
    "SELECT instead: COUNT, AVG or SUM over the summary view at the grain of my question "
    "(customer_facts for customers, product_facts for products, review_facts for single "
    "reviews)."
)


def asks_for_figure(question: str) -> bool:
    """The question asks how many, how much, what share or what average, or ranks by how
    many."""
    return bool(_ASKS_FIGURE.search(question) or RANKS_BY_COUNT.search(question))


# A brief asked for: asked which state had the most orders (哪个州的订单数量最多), the 1.5B
# model called write_campaign_brief for segment 1 first (fresh-42).
_ASKS_BRIEF = re.compile(
    r"\b(?:brief|campaigns?|campanhas?|pitch|message|mensagem|email|e-mail|copy|texto)\b"
    r"|文案|营销|推广|活动|简报|邮件",
    re.I,
)
BRIEF_NOT_ASKED = (
    "write_campaign_brief not run: my question asks for a figure, not a campaign brief. "
    "Call run_sql with one SELECT instead, over the summary view at the grain of my "
    "question."
)


def refused_call(name: str, question: str) -> str | None:
    """Why a tool is not run for this question, or None: review search cannot count
    (SEARCH_CANNOT_COUNT), and a brief answers no question for a figure."""
    if not asks_for_figure(question):
        return None
    if name == "search_reviews":
        return SEARCH_CANNOT_COUNT
    if name == "write_campaign_brief" and not _ASKS_BRIEF.search(question):
        return BRIEF_NOT_ASKED
    return None


# Follows a result whose SQL is a worked example's, unchanged (agent.examples.copied).
COPY_NOTE = (
    '\n(This is the SQL of the worked example "{question}", unchanged. If my question asks '
    "something else, write the SQL for my question and call run_sql again; if not, answer.)"
)


def without_nudge(result: str) -> str:
    """A tool result as the tool gave it: the agent's note after it taken off."""
    for note in (COPY_NOTE.split("{")[0], QUERY_NOTE):
        result = result.partition(note)[0]
    return result.removesuffix(ANSWER_NUDGE)


# A question that asks for a review's own words.
_ASKS_QUOTE = re.compile(
    r"\b(?:quote|quoting|verbatim|word for word|cite|citar?|citação|transcreva)\b|引用|原文|原话",
    re.I,
)
_QUOTED_SPAN = re.compile(
    r"[\"\u201c\u00ab\u300c]([^\"\u201d\u00bb\u300d]{20,})[\"\u201d\u00bb\u300d]"
)


def with_quote(answer: str, question: str, messages: list) -> str:
    """For a question asking to quote a review: the answer as it is when it quotes a review
    this question's search found, else with the first one's words added, verbatim (the
    1.5B model tends to paraphrase: "they are complaining that it broke")."""
    if not _ASKS_QUOTE.search(question):
        return answer
    listed = [
        hit
        for m in messages
        if getattr(m, "type", "") == "tool" and getattr(m, "name", "") == "search_reviews"
        for hit in listed_reviews(str(m.content))
    ]
    if not listed:
        return answer
    texts = [plain_text(words) for _, _, words in listed]
    for span in _QUOTED_SPAN.findall(answer):
        if any(plain_text(span).strip(" .,;:!?…") in text for text in texts):
            return answer
    rating, customer, words = listed[0]
    quote = reply("quote", question, words=words, rating=str(rating), customer=customer)
    return f"{answer}\n\n{quote}"


_LATEX = re.compile(r"\\(?:boxed|text|mathrm)\{([^{}]*)\}|\\[()\[\]]")


def without_latex(answer: str) -> str:
    """The answer without the LaTeX a coder model wraps figures in ("is \\(\\boxed{1268}\\)")."""
    return _LATEX.sub(lambda m: m.group(1) or "", answer)


_SHINGLE = 7  # words in a row that an answer shares with an instruction: an echo


@functools.cache
def _instruction_shingles() -> frozenset[tuple[str, ...]]:
    words = [
        plain_text(re.sub(r"\{\w+\}", " ", prompt(name))).split()
        for name in ("retry", "look_up", "answer", "check", "check_again")
    ]
    return frozenset(
        tuple(w[i : i + _SHINGLE]) for w in words for i in range(len(w) - _SHINGLE + 1)
    )


def echoes_instructions(text: str) -> bool:
    """The model wrote back the agent's own instruction as its answer ("There is no data for
    an answer yet. Read the error above, fix the call ..."): not an answer to show."""
    words = plain_text(text).split()
    shingles = _instruction_shingles()
    return any(tuple(words[i : i + _SHINGLE]) in shingles for i in range(len(words) - _SHINGLE + 1))
