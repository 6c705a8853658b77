"""Tool calls written as text, turned into structured calls.

Small instruction-tuned models (Qwen2.5-Coder here) write a tool call as a
fenced ```json {"name": ..., "arguments": {...}}``` block, as bare JSON, or in
<tool_call> tags, and servers that do not parse them (llama.cpp's) pass them
through as plain content. A query written as a ```sql block
instead of a call counts as a run_sql call. `parse_tool_calls` finds them; the vLLM tool-parser
plugin and the client-side normaliser both use it, so every backend fills
`AIMessage.tool_calls` the same way.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass

_FENCED = re.compile(r"```(?:json|tool_call|tool)?\s*\n?(.*?)```", re.DOTALL | re.IGNORECASE)
_TAGGED = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL | re.IGNORECASE)
_ARGUMENT_KEYS = ("arguments", "args", "parameters", "input")
# A query shown instead of run: ```sql SELECT ...``` (small coder models often
# write the SQL they mean to run as a code block rather than as a call).
_SQL_BLOCK = re.compile(r"```sql\s*\n?(\s*(?:SELECT|WITH)\b.*?)```", re.DOTALL | re.IGNORECASE)
SQL_TOOL = "run_sql"


@dataclass(frozen=True)
class ParsedCall:
    """One tool call found in text."""

    name: str
    args: dict
    id: str

    def as_langchain(self) -> dict:
        """The dict LangChain's AIMessage.tool_calls holds."""
        return {"name": self.name, "args": self.args, "id": self.id, "type": "tool_call"}


def _as_call(obj, known: set[str] | None) -> ParsedCall | None:
    if not isinstance(obj, dict):
        return None
    if "function" in obj and isinstance(obj["function"], dict):  # OpenAI-shaped
        obj = obj["function"]
    name = obj.get("name") or obj.get("tool")
    if not isinstance(name, str) or (known is not None and name not in known):
        return None
    args = next((obj[k] for k in _ARGUMENT_KEYS if k in obj), {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            return None
    if not isinstance(args, dict):
        return None
    return ParsedCall(name, args, f"call_{uuid.uuid4().hex[:12]}")


def _json_values(text: str):
    """Every JSON object or array that parses, scanning left to right."""
    decoder = json.JSONDecoder()
    position = 0
    while position < len(text):
        starts = [i for i in (text.find("{", position), text.find("[", position)) if i >= 0]
        if not starts:
            return
        start = min(starts)
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        yield value, start, end
        position = end


def parse_tool_calls(text: str, known: set[str] | None = None) -> tuple[list[ParsedCall], str]:
    """Tool calls written in `text`, and the text that is left once they are removed.

    A call is taken only when the reply starts with calls (fenced, tagged or
    bare JSON), at most introduced by one short line of the model's own
    narration ("I'll run a SQL query:"): a reply with prose or quoted data
    before the call may be quoting a review or a result that contains a call,
    and must not run it. What follows a read-only call is the model predicting
    its result ("The result will be: 42"): the call runs and the prediction is
    dropped. A call that writes a file is taken only when the reply is nothing
    else. Only objects
    naming a tool in `known` (when given) count. The one exception is a ```sql block,
    run as the read-only run_sql.
    """
    if not text:
        return [], ""
    calls, remaining = _calls_in(text, known)
    writes = any(c.name in WRITE_TOOLS for c in calls)
    if calls and remaining and (writes or not _only_narrated(text, known)):
        calls, remaining = [], text  # prose or data around the call: an answer, not a call
    if not calls and (known is None or SQL_TOOL in known):
        match = _SQL_BLOCK.search(text)
        if match:
            sql = match.group(1).strip()
            calls.append(ParsedCall(SQL_TOOL, {"sql": sql}, f"call_{uuid.uuid4().hex[:12]}"))
            remaining = text.replace(match.group(0), "").strip()
    return calls, remaining


# Tools that write (a file): taken from text only when the reply is nothing but calls.
WRITE_TOOLS = frozenset({"export_audience"})
_WORD = re.compile(r"[^\W\d_]{2,}")


_QUOTED = re.compile(r"[«»“”\"]|^\s*>", re.M)
MAX_NARRATION_CHARS = 200


def _only_narrated(text: str, known: set[str] | None) -> bool:
    """The reply is calls with, before them, at most one short line of narration (no
    quoted data); after them, anything (the model's guess at the result, or the
    broken half of another call)."""
    starts = [m.start() for p in (_TAGGED, _FENCED) for m in p.finditer(text)]
    starts += [start for value, start, _ in _json_values(text) if _as_values(value, known)]
    if not starts:
        return False
    first = min(starts)
    lead_in = text[:first].strip()
    narration = (
        len(lead_in) <= MAX_NARRATION_CHARS
        and lead_in.count("\n") == 0
        and not _QUOTED.search(lead_in)
    )
    return narration


def looks_like_a_call(text: str) -> bool:
    """Text a person should not be shown as an answer: call syntax, whole or broken, or
    nothing but a code block (the 1.5B model answered a Chinese question with a fenced
    "4.471", fresh-20)."""
    lower = text.lower()
    head = lower.lstrip()[:40]
    fenced = "```json" in lower or "<tool_call>" in lower
    if re.fullmatch(r"\s*```[\w-]*\s*[^`]*```\s*", text):
        return True
    return '"name"' in text and (fenced or head.startswith(("{", "[{")))


def contains_tool_call(text: str, known: set[str] | None = None) -> bool:
    """The text holds a call anywhere, even inside prose: not a finished answer."""
    return bool(text) and bool(_calls_in(text, known)[0])


def _calls_in(text: str, known: set[str] | None) -> tuple[list[ParsedCall], str]:
    """Every JSON call in `text` (tagged, fenced, else bare) and the text left over."""
    calls: list[ParsedCall] = []
    remaining = text
    for pattern in (_TAGGED, _FENCED):
        for match in pattern.finditer(text):
            found = [c for v, _, _ in _json_values(match.group(1)) for c in (_as_values(v, known))]
            if found:
                calls += found
                remaining = remaining.replace(match.group(0), "")
        if calls:
            return calls, remaining.strip()
    spans = []
    for value, start, end in _json_values(text):
        found = _as_values(value, known)
        if found:
            calls += found
            spans.append((start, end))
    for start, end in reversed(spans):
        remaining = remaining[:start] + remaining[end:]
    return calls, remaining.strip()


def _as_values(value, known):
    items = value if isinstance(value, list) else [value]
    calls = [_as_call(item, known) for item in items]
    return [c for c in calls if c is not None]
