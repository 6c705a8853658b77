"""The check before an answer: what to ask the model about its queries before its answer
is taken (agent.middleware asks it: softly, prompts/check.md, then once more firmly,
prompts/check_again.md).

A small model's query often drops part of the question (the year of "how many
customers reviewed in 2012?", "outside the United Kingdom") or counts the wrong
thing (customers for "how many reviews", customers with the lowest churn risk for
"the segment with the lowest churn risk"). Each check is cheap and reads only the
question and the calls; the model decides whether the question needs the fix, and
when its next answer still rests on the same kind of query, it is told that it does.
"""

from __future__ import annotations

import functools
import re

from segassist.agent.guards import MONTHS, NUDGE_MARK, failed, this_question
from segassist.agent.prompting import prompt

# Numbers in a question: 2012, 5, 1.5; not those that say how to round ("one decimal").
_QUESTION_NUMBER = re.compile(  # ASCII neighbours: "2012年" is a number beside Chinese
    r"(?<![A-Za-z0-9_.,-])(\d+(?:[.,]\d+)?)(?![A-Za-z0-9_-])(?!\s*(?:decimal|casa|位小数))"
)
# What a question counts, in English, Portuguese and Chinese -> the word every query that
# counts it names somewhere (a view, a column, a table), and where one row is one of them.
_COUNTED = {
    "review": (
        r"how many (?:\w+ )?reviews|number of reviews|quant[ao]s (?:\w+ )?(?:avaliações|"
        r"resenhas|comentários)|número de avaliações|多少(?:条|个|篇)?(?:评论|评价)",
        "review_facts",
    ),
    "order": (
        r"how many (?:\w+ )?(?:orders|invoices|purchases)|number of orders|quant[oa]s "
        r"(?:\w+ )?(?:pedidos|compras)|多少(?:个|笔)?订单",
        "order_facts",
    ),
    "customer": (
        r"how many (?:\w+ )?(?:customers|clients|buyers|shoppers|reviewers)|number of "
        r"customers|quant[oa]s (?:\w+ )?clientes|多少(?:位|个|名)?(?:客户|顾客|用户)",
        "customer_facts",
    ),
    "product": (
        r"how many (?:\w+ )?(?:products|items)|number of products|quant[oa]s (?:\w+ )?"
        r"produtos|多少(?:个|种|款)?(?:产品|商品)",
        "product_facts",
    ),
}
# How often one question's answer is checked: a soft check ("if my question needs it"),
# then a firm one. The 1.5B model answered the soft check unchanged in most misses of
# its own set ("2012年有多少位..." counted every customer and said so again).
CHECKS = 2
# The tools that know the segments; a question naming segments needs one (or SQL on them).
SEGMENT_TOOLS = {
    "segment_overview",
    "explain_membership",
    "write_campaign_brief",
    "find_customers",
    "customer_profile",
    "export_audience",
}
_ASKS_SEGMENT = re.compile(r"\bsegments?\b|\bsegmentos?\b|分群|细分|客群", re.I)
# A name in a question: capitalised words inside a sentence ("Outside the United Kingdom,
# which country ..."), months and days left out (a query writes them as dates).
_NAME = re.compile(r"(?<=\s)(?<![.?!:;]\s)[A-ZÀ-Ý][\w'-]*(?:\s+(?:d[aeo]s?\s+)?[A-ZÀ-Ý][\w'-]*)*")
_NOT_NAMES = {
    *("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    *("I", "Round", "One", "Give", "List", "Show", "Answer", "Please"),
}


# A name the question leaves out: "outside the United Kingdom", "except France",
# "fora de São Paulo". The 1.5B model wrote country = 'United Kingdom' for it.
_EXCLUDED = re.compile(
    r"\b(?i:outside|except(?: for)?|excluding|other than|apart from|besides|not in|fora "
    r"d[eoa]s?|exceto|excluindo|menos)\s+(?i:of\s+)?(?i:the\s+|o\s+|a\s+)?([A-ZÀ-Ý][\w'-]*(?:\s+"
    r"(?:d[aeo]s?\s+)?[A-ZÀ-Ý][\w'-]*)*)"
)


def _kept(name: str, sql: str) -> bool:
    """The query keeps rows of `name` only (= 'name', IN ('name'...)) with no negation."""
    quoted = re.escape(f"'{name}'")
    negated = re.search(
        rf"(?:!=|<>)\s*{quoted}|{quoted}\s*(?:!=|<>)|NOT\s+IN\s*\([^)]*{quoted}"
        rf"|NOT\s+[\w.]+\s*=\s*{quoted}|NOT\s*\(\s*[\w.]+\s*=\s*{quoted}",
        sql,
        re.I,
    )
    return bool(re.search(quoted, sql, re.I)) and not negated


def _proper_names(question: str) -> list[str]:
    """Names the question limits its answer by: "United Kingdom", "São Paulo"."""
    return [
        name
        for name in _NAME.findall(question)
        if name not in _NOT_NAMES and name.lower() not in MONTHS
    ]


def unchecked(messages: list) -> list[str]:
    """What to check before an answer to this question is taken: numbers of the question
    no query used ("how many customers reviewed in 2012?" answered by counting every
    customer: the 1.5B model dropped the year), a name it limits by or leaves out, and a
    count of things no query reads ("多少条评论" answered with COUNT(*) over customers);
    for a question about segments, calls that never looked at one (the customers with
    the lowest churn risk counted for "the segment with the lowest churn risk"). Empty
    when nothing is amiss, when no call answered, or when the model was checked CHECKS
    times."""
    if checks_made(messages) >= CHECKS:
        return []
    return list(dict.fromkeys(said for _, said in _findings(messages)))  # items share one


def missed(messages: list) -> list[str]:
    """What this question's queries still leave out after the checks, as the user would
    name it ("2012", "reviews", "segments"): the agent then says it could not answer
    reliably instead of taking the answer. A name the query does not spell as the
    question does is left out of this: "Dutch" is country = 'Netherlands'. On the own
    set, every answer with such a finding left after the checks was wrong (7 of 7);
    none of the 29 right ones had one."""
    return [item for item, _ in _findings(messages, names=False)]


def _findings(messages: list, names: bool = True) -> list[tuple[str, str]]:
    """(what the user would call it, what to tell the model) for each part of the question
    this question's queries leave out."""
    question, since = this_question(messages)
    calls = [c for m in since for c in (getattr(m, "tool_calls", None) or [])]
    queries = [str(c.get("args", {}).get("sql", "")) for c in calls if c["name"] == "run_sql"]
    ran = [
        m for m in since if getattr(m, "type", "") == "tool" and getattr(m, "name", "") == "run_sql"
    ]
    about_segments = [c for c in calls if c["name"] in SEGMENT_TOOLS] or [
        q for q in queries if "segment" in q.lower()
    ]
    if _ASKS_SEGMENT.search(question) and calls and not about_segments:
        return [
            (
                _ASKS_SEGMENT.search(question).group(0),
                "my question is about segments, and no call looked at them (segment_overview "
                "gives each segment's name, size, churn risk and expected spend).",
            )
        ]
    if not queries or all(failed(m) for m in ran):
        return []
    written = " ".join(queries)

    def used(number: str) -> bool:
        forms = {number, number.replace(",", "."), re.sub(r"[.,]0+$", "", number)}
        if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", number):  # 1,000 (English), 1.000 (pt)
            forms = {number, number.replace(",", "."), re.sub(r"[.,]", "", number)}
        return any(re.search(rf"(?<![\d.]){re.escape(f)}(?!\d)", written) for f in forms)

    found = []
    unused = [n for n in dict.fromkeys(_QUESTION_NUMBER.findall(question)) if not used(n)]
    unnamed = [
        name
        for name in dict.fromkeys(_proper_names(question))
        if names and name.lower() not in written.lower()
    ]
    if unused or unnamed:
        said = f"your query does not use {' and '.join(unused + unnamed)} from my question."
        found += [(item, said) for item in unused + unnamed]
    kept = [n for n in dict.fromkeys(_EXCLUDED.findall(question)) if _kept(n, written)]
    if kept:
        said = (
            f"my question leaves out {' and '.join(kept)}, and your query keeps only it "
            "(to leave it out: != or NOT IN)."
        )
        found += [(f"≠ {name}", said) for name in kept]
    for noun, (asked, view) in _COUNTED.items():
        named = re.search(rf"\b{noun}(?!\s+by\b)", written, re.I)
        counted = re.search(asked, question, re.I)
        if counted and not named:
            said = (
                f"my question counts {noun}s, and your query reads none (one row per {noun}: "
                f"{view})."
            )
            found.append((counted.group(0), said))
    return found


@functools.cache
def _check_openings() -> tuple[str, ...]:
    return tuple(NUDGE_MARK + prompt(n).split("{problems}")[0] for n in ("check", "check_again"))


def is_check(message) -> bool:
    """A check instruction (present only while the model answers it)."""
    return str(getattr(message, "content", "")).startswith(_check_openings())


def checks_made(messages: list) -> int:
    """How often this question's answer was checked already: the replies to a check are
    marked (`checked`), and a check being answered is in the messages."""
    _, since = this_question(messages)
    replies = sum(bool(getattr(m, "response_metadata", {}).get("checked")) for m in since)
    return replies + sum(is_check(m) for m in since)


def checked(message):
    """The model's reply to a check before an answer, marked so that the checks are
    counted (the instruction itself is not kept in the state)."""
    from langchain_core.messages import AIMessage

    if not isinstance(message, AIMessage):
        return message
    metadata = {**message.response_metadata, "checked": True}
    return message.model_copy(update={"response_metadata": metadata})
