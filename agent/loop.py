"""The segmentation agent: a LangChain tool-calling agent with guards and persisted memory.

This module wires the parts and runs one question in its own thread: the guards
(agent.guards) act through middleware (agent.middleware), the history comes
from agent.memory, the system prompt from agent.prompting. The question's
language is passed to the tools that write, explicitly, in the run's config.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from segassist.agent.checks import counted_entity
from segassist.agent.examples import default_bank
from segassist.agent.guards import known_numbers, with_quote, without_latex, without_nudge
from segassist.agent.memory import ConversationStore, recent_turns
from segassist.agent.middleware import agent_middleware, question_deadline
from segassist.agent.prompting import system_prompt
from segassist.agent.replies import reply
from segassist.core.numbers import in_locale
from segassist.tools.result import ToolResult
from segassist.tools.writing import language_of
from segassist.warehouse.language import detect_language
from sqlalchemy import Engine

MAX_MODEL_CALLS = 8
# Seconds one question may take before the agent answers from the results it has
# (a small model on a CPU can otherwise spend many minutes on calls that go nowhere).
QUESTION_BUDGET_S = 180.0
# What ModelCallLimitMiddleware writes when it stops the loop.
LIMIT_MESSAGE = "Model call limits exceeded"


@dataclass
class Step:
    """One tool call the agent made, as the UI and `ask --verbose` show it."""

    tool: str
    args: dict
    observation: str
    result: ToolResult | None = None  # None for a step replayed from stored history


@dataclass
class Answer:
    """The agent's reply to one question."""

    text: str
    steps: list[Step] = field(default_factory=list)
    seconds: float = 0.0
    model_calls: int = 0
    calls_from_text: int = 0


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
        examples=None,
        direct: bool = False,
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
            middleware=agent_middleware({t.name for t in tools}, max_model_calls, examples, direct),
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
        history = recent_turns(self.store.load(conversation_id), question)
        inputs = {"messages": [*history, HumanMessage(question)]}
        # The question's language reaches the tools that write, and the entity it counts
        # reaches run_sql, as arguments (see tools.catalogue: read from the run's config).
        config = {
            "recursion_limit": 4 * MAX_MODEL_CALLS + 4,
            "configurable": {
                "language": language_of(question),
                "counts": counted_entity(question, shares=True),
            },
        }
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
        answer = _answer(new, question)
        self.store.append(conversation_id, new)
        answer.seconds = time.perf_counter() - started
        yield "answer", answer


def _step(message, calls: dict) -> Step:
    call = calls.get(message.tool_call_id, {"name": message.name, "args": {}})
    return Step(
        call["name"],
        call.get("args", {}),
        without_nudge(str(message.content)),
        message.artifact if isinstance(message.artifact, ToolResult) else None,
    )


def _answer(new: list, question: str) -> Answer:
    """The Answer for one question's new messages (steps in order, the last plain text)."""
    from langchain_core.messages import AIMessage, ToolMessage

    answer = Answer(text="")
    calls, own = {}, False
    for message in new:
        if isinstance(message, AIMessage):
            answer.model_calls += not message.response_metadata.get("direct", False)
            answer.calls_from_text += message.response_metadata.get("tool_calls_from_text", 0)
            for call in message.tool_calls:
                calls[call["id"]] = call
            if not message.tool_calls and str(message.content).strip():
                answer.text = str(message.content).strip()
                own = message.response_metadata.get("own", False)
        elif isinstance(message, ToolMessage):
            answer.steps.append(_step(message, calls))
    if not answer.text or answer.text.startswith(LIMIT_MESSAGE):
        answer.text = reply("step_limit", question)
    elif not own:  # the model's numbers, written as the question's language writes them
        language = detect_language(question, default="en")
        answer.text = in_locale(without_latex(answer.text), language, known_numbers(new))
        answer.text = with_quote(answer.text, question, new)
        if language != "en" and not re.search(r"[^\W\d_]", answer.text):
            # A figure alone to a Portuguese or Chinese question (fresh-85): in its words.
            answer.text = reply("bare_figure", question, value=answer.text.rstrip(".。"))
    return answer


def build_agent(
    engine: Engine,
    chat_model,
    index,
    exports_dir: Path,
    write_with_llm: bool = True,
    examples: bool = False,
    direct: bool = True,
) -> SegmentationAgent:
    """The agent wired to a database, its review index (or None), the folder its exports
    go to (the settings' home/exports at the composition root) and a chat model;
    `examples` shows the verified SQL examples with each question (settings.agent_examples);
    `direct`: a one-row result that answers the question is answered without one more
    model call (agent.direct)."""
    from segassist.agent.client import text_writer
    from segassist.tools.catalogue import ToolContext, make_tools, schema_summary

    context = ToolContext(
        engine,
        index,
        Path(exports_dir),
        text_writer(chat_model) if write_with_llm else None,
    )
    return SegmentationAgent(
        chat_model,
        make_tools(context),
        ConversationStore(engine),
        schema=schema_summary(engine),
        examples=default_bank() if examples else None,
        direct=direct,
    )
