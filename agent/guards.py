"""Guards on what the model says: repeated calls, failed calls, and numbers no tool returned.

Small models loop on a call they already made, answer right after a failed
call, and misread numbers in a result. These checks read one question's
messages (from its last real user turn) and decide; the middleware acts.
"""

from __future__ import annotations

import json
import re

from segassist.agent.prompting import prompt
from segassist.agent.toolcalls import contains_tool_call, looks_like_a_call
from segassist.tools.data_tools import ROW_COUNT_HEADER

OUT_OF_TIME = (
    "I ran out of time before any tool answered. Try a more specific question, e.g. name "
    "the table, the period or the segment."
)
NO_TOOL_RAN = (
    "I could not look this up: no query or search ran for this question (the model's reply "
    "held no call I could run). Try asking again more specifically, e.g. name the table, "
    "the period or the segment."
)


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
    """This question's last tool call failed and the model has not been nudged to fix it."""
    _, since = this_question(messages)
    results = [m for m in since if getattr(m, "type", "") == "tool"]
    nudged = any(str(getattr(m, "content", "")).startswith(NUDGE_MARK + "Your last") for m in since)
    if not results or nudged:
        return False
    return failed(results[-1])


def failed(tool_message) -> bool:
    """The tool call behind this result failed (its error is the observation)."""
    return bool(getattr(getattr(tool_message, "artifact", None), "failed", False))


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
    request, handler, tool_names: set[str], message_id: str | None, *, out_of_time: bool = False
):
    """A plain-text answer from this question's tool results; with none, says why (the
    time ran out, or no call could be run).

    Asked on the agent's own prompt plus one instruction, so a server that caches
    the last prompt's prefix (llama.cpp) evaluates only the new tail. If the
    model still calls a tool, the last result is given as the answer, as it is.
    """
    from langchain_core.messages import AIMessage, HumanMessage

    question, since = this_question(request.messages)
    calls = {c["id"]: c for m in since for c in (getattr(m, "tool_calls", None) or [])}
    results = [m for m in since if getattr(m, "type", "") == "tool"]
    text = ""
    if results:
        nudge = HumanMessage(NUDGE_MARK + prompt("answer").format(question=question))
        reply = handler(request.override(messages=[*request.messages, nudge])).result
        message = next((m for m in reply if isinstance(m, AIMessage)), None)
        text = str(getattr(message, "content", "") or "").strip()
        if (
            getattr(message, "tool_calls", None)
            or contains_tool_call(text, tool_names)
            or looks_like_a_call(text)
            or ungrounded_numbers(text, request.messages)
        ):
            last = results[-1]
            result = str(last.content).removesuffix(ANSWER_NUDGE)
            if failed(last):
                text = (
                    "I could not answer this from the data: my last query failed ("
                    f"{result.splitlines()[0]}). Try rephrasing, e.g. name the table or period."
                )
            else:
                text = f"{describe_call(calls.get(last.tool_call_id), last)} returned:\n\n{result}"
    return AIMessage(
        content=text or (OUT_OF_TIME if out_of_time else NO_TOOL_RAN),
        id=message_id,
        response_metadata={"answered_from_results": True},
    )


_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w])")


def _numbers(text: str) -> list[tuple[float, int]]:
    """(value, decimals) of each number written in `text` (thousands separators allowed)."""
    found = []
    for match in _NUMBER.finditer(text):
        raw = match.group().replace(",", "")
        try:
            found.append((float(raw), len(raw.partition(".")[2])))
        except ValueError:
            continue
    return found


def ungrounded_numbers(answer: str, messages: list) -> list[float]:
    """Numbers in `answer` that neither the question nor a tool result of this question
    contains, allowing rounding and percent of a fraction. Empty without tool results
    (nothing to check against)."""
    question, since = this_question(messages)
    results = [
        ROW_COUNT_HEADER.sub("", str(m.content)) for m in since if getattr(m, "type", "") == "tool"
    ]
    if not results:
        return []
    known = [value for value, _ in _numbers(question + "\n" + "\n".join(results))]
    missing = []
    for value, decimals in _numbers(answer):
        unit = 10.0**-decimals
        # Rounded from k: within half a unit, and k not itself a small fraction of a unit
        # (0.68 does not make "1 review").
        candidates = [c for k in known for c in (k, 100 * k) if abs(c) >= 10 * unit or c == value]
        if not any(abs(value - c) <= 0.5 * unit + 1e-9 for c in candidates):
            missing.append(value)
    return missing


def describe_call(call: dict | None, message) -> str:
    """`tool(args)` as the answer step sees it (the SQL tells what the numbers mean)."""
    if call is None:
        return getattr(message, "name", None) or "tool"
    return f"{call['name']}({json.dumps(call.get('args', {}), ensure_ascii=False)})"


ANSWER_NUDGE = "\n(Answer the user's question from this result if it is enough.)"
