"""The segmentation agent: a LangChain tool-calling agent with guards and persisted memory.

Guards, as middleware around LangChain's `create_agent` loop:
- tool calls written as text (fenced or bare JSON) are turned into real calls,
  whatever the server (see agent.toolcalls);
- a repeated identical call is not run again: the model is told to answer;
- at most `max_model_calls` model calls per question, and a time budget per
  question after which the agent answers from the results it has;
- tool errors come back as observations the model can act on.

Each conversation's messages are stored in `conversation_messages`, so a
restart keeps the history.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func, insert, select

from agent.toolcalls import contains_tool_call, parse_tool_calls
from agent.writing import language_of, prompt, reply_language
from tools.text import truncate_for_model
from warehouse.schema import ConversationMessage

MAX_MODEL_CALLS = 8
# Seconds one question may take before the agent answers from the results it has
# (a small model on a CPU can otherwise spend many minutes on calls that go nowhere).
QUESTION_BUDGET_S = 180.0
question_deadline: ContextVar[float] = ContextVar("question_deadline", default=float("inf"))
OUT_OF_TIME = (
    "I ran out of time before any tool answered. Try a more specific question, e.g. name "
    "the table, the period or the segment."
)
HISTORY_MESSAGES = 12  # earlier turns kept in the prompt (a small model's context is short)
# What ModelCallLimitMiddleware writes when it stops the loop.
LIMIT_MESSAGE = "Model call limits exceeded"


def _middleware(tool_names: set[str], max_model_calls: int) -> list:
    from langchain.agents.middleware import AgentMiddleware, ModelCallLimitMiddleware
    from langchain.agents.middleware.types import ModelResponse
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    class ToolCallsFromText(AgentMiddleware):
        """Fill AIMessage.tool_calls from JSON the model wrote as text."""

        def wrap_model_call(self, request, handler):
            if time.monotonic() > question_deadline.get():
                # Out of time: answer from what the tools returned so far, no more calls.
                answer = _answer_from_results(request, handler, tool_names, None)
                return ModelResponse(result=[answer], structured_response=None)
            response = handler(request)
            last = response.result[-1] if response.result else None
            if (
                isinstance(last, AIMessage)
                and not last.tool_calls
                and not parse_tool_calls(str(last.content or ""), tool_names)[0]
                and _failed_last(request.messages)
            ):
                # An answer right after a failed call has no data behind it: ask once for
                # a fixed call instead.
                retry = HumanMessage(NUDGE_MARK + prompt("retry"))
                return self.wrap_model_call(
                    request.override(messages=[*request.messages, retry]), handler
                )
            messages = []
            for message in response.result:
                if isinstance(message, AIMessage) and not message.tool_calls:
                    calls, _ = parse_tool_calls(str(message.content or ""), tool_names)
                    calls = _distinct(calls)
                    if calls:
                        # Keep the text as written: servers such as llama.cpp's refuse an
                        # assistant turn whose content is empty, and the model sees its own
                        # call format again in the history.
                        message = AIMessage(
                            content=str(message.content),
                            id=message.id,
                            tool_calls=[c.as_langchain() for c in calls],
                            response_metadata={
                                **message.response_metadata,
                                "tool_calls_from_text": len(calls),
                            },
                        )
                if (
                    isinstance(message, AIMessage)
                    and message.tool_calls
                    and _only_repeats(message.tool_calls, request.messages)
                ):
                    # The model asks again for what it already has: small models loop here.
                    # Answer from the results gathered so far.
                    message = _answer_from_results(request, handler, tool_names, message.id)
                elif (
                    isinstance(message, AIMessage)
                    and not message.tool_calls
                    and ungrounded_numbers(str(message.content), request.messages)
                ):
                    # A number no tool returned: small models misread results. Ask again
                    # from the results; if that fails too, give the result itself.
                    message = _answer_from_results(request, handler, tool_names, message.id)
                messages.append(message)
            return ModelResponse(result=messages, structured_response=response.structured_response)

    class RepeatedCallGuard(AgentMiddleware):
        """Do not run a tool again with the same arguments within one question."""

        def wrap_tool_call(self, request, handler):
            call = request.tool_call
            key = _call_key(call["name"], call.get("args", {}))
            earlier_ids = set()
            for message in reversed(request.state["messages"]):
                if getattr(message, "type", "") == "human":
                    break  # only this question's calls count
                for previous in getattr(message, "tool_calls", None) or []:
                    same = _call_key(previous["name"], previous.get("args", {})) == key
                    if same and previous["id"] != call["id"]:
                        earlier_ids.add(previous["id"])
            if earlier_ids:
                earlier = next(
                    (
                        str(m.content)
                        for m in request.state["messages"]
                        if getattr(m, "tool_call_id", None) in earlier_ids
                    ),
                    "",
                )
                return ToolMessage(
                    content=(
                        f"You already called {call['name']} with these arguments. Its result "
                        f"was:\n{earlier.removesuffix(ANSWER_NUDGE)}\nAnswer the user now in "
                        "plain text, or call a different tool."
                    ),
                    tool_call_id=call["id"],
                    name=call["name"],
                )
            result = handler(request)
            if isinstance(result, ToolMessage) and isinstance(result.content, str):
                result.content += ANSWER_NUDGE
            return result

    return [
        ToolCallsFromText(),
        RepeatedCallGuard(),
        ModelCallLimitMiddleware(run_limit=max_model_calls, exit_behavior="end"),
    ]


def _call_key(name: str, args: dict) -> tuple[str, str]:
    return name, json.dumps(args, sort_keys=True, default=str)


def _distinct(calls: list) -> list:
    """The calls without exact repeats (small models sometimes write one call twice)."""
    seen, kept = set(), []
    for call in calls:
        key = _call_key(call.name, call.args)
        if key not in seen:
            seen.add(key)
            kept.append(call)
    return kept


NUDGE_MARK = "(segassist) "  # starts the instructions the agent adds as user turns


def _this_question(messages: list) -> tuple[str, list]:
    """The last human question and the messages after it (the agent's own nudges are not
    questions)."""
    for position in range(len(messages) - 1, -1, -1):
        message = messages[position]
        if getattr(message, "type", "") == "human" and not str(message.content).startswith(
            NUDGE_MARK
        ):
            return str(message.content), messages[position + 1 :]
    return "", messages


def _failed_last(messages: list) -> bool:
    """This question's last tool call failed and the model has not been nudged to fix it."""
    _, since = _this_question(messages)
    results = [m for m in since if getattr(m, "type", "") == "tool"]
    nudged = any(str(getattr(m, "content", "")).startswith(NUDGE_MARK + "Your last") for m in since)
    if not results or nudged:
        return False
    return _failed(results[-1])


def _failed(tool_message) -> bool:
    """The tool call behind this result failed (its error is the observation)."""
    artifact = getattr(tool_message, "artifact", None) or {}
    return artifact.get("kind") == "error" or str(tool_message.content).startswith(
        ("SQL not run", "Search not run", "Cannot explain")
    )


def _only_repeats(tool_calls: list[dict], messages: list) -> bool:
    """Every call was already made, with the same arguments, for this question."""
    _, since = _this_question(messages)
    earlier = {
        _call_key(c["name"], c.get("args", {}))
        for m in since
        for c in (getattr(m, "tool_calls", None) or [])
    }
    return bool(earlier) and all(
        _call_key(c["name"], c.get("args", {})) in earlier for c in tool_calls
    )


def _answer_from_results(request, handler, tool_names: set[str], message_id: str | None):
    """A plain-text answer from this question's tool results.

    Asked on the agent's own prompt plus one instruction, so a server that caches
    the last prompt's prefix (llama.cpp) evaluates only the new tail. If the
    model still calls a tool, the last result is given as the answer, as it is.
    """
    from langchain_core.messages import AIMessage, HumanMessage

    question, since = _this_question(request.messages)
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
            or ungrounded_numbers(text, request.messages)
        ):
            last = results[-1]
            result = str(last.content).removesuffix(ANSWER_NUDGE)
            if _failed(last):
                text = (
                    "I could not answer this from the data: my last query failed ("
                    f"{result.splitlines()[0]}). Try rephrasing, e.g. name the table or period."
                )
            else:
                text = f"{_describe_call(calls.get(last.tool_call_id), last)} returned:\n\n{result}"
    return AIMessage(
        content=text or OUT_OF_TIME,
        id=message_id,
        response_metadata={"answered_from_results": True},
    )


# run_sql's "N rows; first 20 shown" header: not data a number may be taken from.
_ROW_COUNT_LINE = re.compile(r"^[\d,]+ rows(?:; first \d+ shown)?$", re.M)
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
    question, since = _this_question(messages)
    results = [
        _ROW_COUNT_LINE.sub("", str(m.content)) for m in since if getattr(m, "type", "") == "tool"
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


def _describe_call(call: dict | None, message) -> str:
    """`tool(args)` as the answer step sees it (the SQL tells what the numbers mean)."""
    if call is None:
        return getattr(message, "name", None) or "tool"
    return f"{call['name']}({json.dumps(call.get('args', {}), ensure_ascii=False)})"


ANSWER_NUDGE = "\n(Answer the user's question from this result if it is enough.)"


@dataclass
class Step:
    """One tool call the agent made, as the UI and `ask --verbose` show it."""

    tool: str
    args: dict
    observation: str
    artifact: dict | None = None


@dataclass
class Answer:
    """The agent's reply to one question."""

    text: str
    steps: list[Step] = field(default_factory=list)
    seconds: float = 0.0
    model_calls: int = 0
    calls_from_text: int = 0


class ConversationStore:
    """Conversation history in the warehouse database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load(self, conversation_id: str) -> list:
        """The stored messages of a conversation, oldest first."""
        from langchain_core.messages import messages_from_dict

        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(ConversationMessage.message)
                    .where(ConversationMessage.conversation_id == conversation_id)
                    .order_by(ConversationMessage.position)
                )
                .scalars()
                .all()
            )
        return messages_from_dict([r if isinstance(r, dict) else json.loads(r) for r in rows])

    def append(self, conversation_id: str, messages: list) -> None:
        """Store new messages after the existing ones."""
        from langchain_core.messages import messages_to_dict

        if not messages:
            return
        now = datetime.now(UTC).replace(tzinfo=None)
        with self.engine.begin() as conn:
            start = (
                conn.execute(
                    select(func.coalesce(func.max(ConversationMessage.position), -1)).where(
                        ConversationMessage.conversation_id == conversation_id
                    )
                ).scalar_one()
                + 1
            )
            conn.execute(
                insert(ConversationMessage),
                [
                    {
                        "conversation_id": conversation_id,
                        "position": start + i,
                        "message": json.loads(json.dumps(m, default=str)),
                        "created_at": now,
                    }
                    for i, m in enumerate(messages_to_dict(messages))
                ],
            )

    def clear(self, conversation_id: str) -> None:
        """Forget a conversation."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(ConversationMessage).where(
                    ConversationMessage.conversation_id == conversation_id
                )
            )


def tool_catalogue(tools: list) -> str:
    """The tools as the system prompt lists them (servers that ignore `tools` still work)."""
    lines = []
    for tool in tools:
        args = ", ".join(
            f"{name}: {schema.get('type', schema.get('anyOf', [{}])[0].get('type', 'any'))}"
            for name, schema in tool.args.items()
        )
        summary = tool.description.strip().splitlines()[0]
        lines.append(f"- {tool.name}({args}): {summary}")
    return "\n".join(lines)


def system_prompt(tools: list, schema: str = "") -> str:
    """The system prompt with the data's schema and the tool catalogue appended."""
    parts = [prompt("system")]
    if schema:
        parts.append("Tables (SQL):\n" + schema)
    parts.append("Tools:\n" + tool_catalogue(tools))
    return "\n".join(parts)


EARLIER_RESULT_CHARS = 600  # tool results of earlier turns, cut to keep the prompt short


def _recent_turns(history: list, keep: int) -> list:
    """The last `keep` messages, starting at a human turn (never mid tool exchange).

    Tool results of earlier turns are cut to EARLIER_RESULT_CHARS: the answers
    that followed them carry what mattered, and a small model's prompt must stay
    short to stay fast.
    """
    recent = history[-keep:]
    while recent and getattr(recent[0], "type", "") != "human":
        recent = recent[1:]
    return [
        m.model_copy(update={"content": truncate_for_model(m.content, EARLIER_RESULT_CHARS)})
        if getattr(m, "type", "") == "tool" and isinstance(m.content, str)
        else m
        for m in recent
    ]


class SegmentationAgent:
    """Answers questions by calling tools; remembers each conversation."""

    def __init__(
        self,
        chat_model,
        tools: list,
        store: ConversationStore,
        max_model_calls: int = MAX_MODEL_CALLS,
        schema: str = "",
        budget_s: float = QUESTION_BUDGET_S,
    ) -> None:
        from langchain.agents import create_agent

        for tool in tools:
            tool.handle_tool_error = True  # unexpected tool errors become observations
        self.tools = tools
        self.store = store
        self.budget_s = budget_s
        self.graph = create_agent(
            chat_model,
            tools,
            system_prompt=system_prompt(tools, schema),
            middleware=_middleware({t.name for t in tools}, max_model_calls),
        )

    def ask(self, question: str, conversation_id: str = "default") -> Answer:
        """Answer `question` in the conversation, storing the new messages."""
        answer = None
        for kind, value in self.stream(question, conversation_id):
            if kind == "answer":
                answer = value
        return answer

    def stream(self, question: str, conversation_id: str = "default"):
        """Answer `question` step by step, storing the new messages.

        Yields ("token", text) as the model writes (a call or the answer),
        ("step", Step) as each tool returns, and last ("answer", Answer).

        The question runs in its own thread, with its language and deadline set
        there: a consumer such as Gradio advances a generator from different
        threads and contexts, so nothing per-question may live in the caller's.
        """
        events: queue.Queue = queue.Queue()

        def work() -> None:
            reply_language.set(language_of(question))
            question_deadline.set(time.monotonic() + self.budget_s)
            try:
                for event in self._run(question, conversation_id):
                    events.put(event)
            except BaseException as e:  # re-raised in the consumer
                events.put(("error", e))
            finally:
                events.put(None)

        threading.Thread(target=work, name=f"question-{conversation_id}", daemon=True).start()
        while (event := events.get()) is not None:
            if event[0] == "error":
                raise event[1]
            yield event

    def _run(self, question: str, conversation_id: str):
        from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage

        started = time.perf_counter()
        history = _recent_turns(self.store.load(conversation_id), HISTORY_MESSAGES)
        inputs = {"messages": [*history, HumanMessage(question)]}
        config = {"recursion_limit": 4 * MAX_MODEL_CALLS + 4}
        calls, state = {}, inputs
        for mode, data in self.graph.stream(
            inputs, config, stream_mode=["messages", "updates", "values"]
        ):
            if mode == "values":
                state = data
            elif mode == "messages":
                chunk = data[0]
                if isinstance(chunk, AIMessageChunk) and isinstance(chunk.content, str):
                    yield "token", chunk.content
            else:
                for update in data.values():
                    for message in (update or {}).get("messages", []):
                        for call in getattr(message, "tool_calls", None) or []:
                            calls[call["id"]] = call
                        if isinstance(message, ToolMessage):
                            yield "step", _step(message, calls)
        new = state["messages"][len(history) :]
        answer = _answer(new)
        self.store.append(conversation_id, new)
        answer.seconds = time.perf_counter() - started
        yield "answer", answer


def _step(message, calls: dict) -> Step:
    call = calls.get(message.tool_call_id, {"name": message.name, "args": {}})
    return Step(
        call["name"],
        call.get("args", {}),
        str(message.content).removesuffix(ANSWER_NUDGE),
        message.artifact,
    )


def _answer(new: list) -> Answer:
    """The Answer for one question's new messages (steps in order, the last plain text)."""
    from langchain_core.messages import AIMessage, ToolMessage

    answer = Answer(text="")
    calls = {}
    for message in new:
        if isinstance(message, AIMessage):
            answer.model_calls += 1
            answer.calls_from_text += message.response_metadata.get("tool_calls_from_text", 0)
            for call in message.tool_calls:
                calls[call["id"]] = call
            if not message.tool_calls and str(message.content).strip():
                answer.text = str(message.content).strip()
        elif isinstance(message, ToolMessage):
            answer.steps.append(_step(message, calls))
    if not answer.text or answer.text.startswith(LIMIT_MESSAGE):
        answer.text = (
            "I could not finish within the step limit. The tool results so far "
            "are shown above; try a more specific question."
        )
    return answer


def build_agent(
    engine: Engine,
    chat_model,
    index=None,
    exports_dir=None,
    write_with_llm: bool = True,
) -> SegmentationAgent:
    """The agent wired to a database, its review index (or None) and a chat model."""
    from pathlib import Path

    from agent.serving import text_writer
    from tools.catalogue import ToolContext, make_tools, schema_summary

    context = ToolContext(
        engine,
        index,
        Path(exports_dir or "exports"),
        text_writer(chat_model) if write_with_llm else None,
    )
    return SegmentationAgent(
        chat_model, make_tools(context), ConversationStore(engine), schema=schema_summary(engine)
    )
