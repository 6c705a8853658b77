"""The agent's middleware around LangChain's `create_agent` loop.

- ToolCallsFromText: tool calls written as text (fenced or bare JSON) become real
  calls, whatever the server (see agent.toolcalls); repeats and ungrounded numbers
  are answered from the results instead;
- RepeatedCallGuard: a repeated identical call is not run again;
- a model-call limit per question, and a time budget (`question_deadline`) after
  which the agent answers from the results it has.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

from segassist.agent.guards import (
    ANSWER_NUDGE,
    NUDGE_MARK,
    answer_from_results,
    call_key,
    distinct,
    failed_last,
    only_repeats,
    ungrounded_numbers,
)
from segassist.agent.prompting import prompt
from segassist.agent.toolcalls import looks_like_a_call, parse_tool_calls

# When the question being answered must be done (set per question, in its own thread).
question_deadline: ContextVar[float] = ContextVar("question_deadline", default=float("inf"))


def agent_middleware(tool_names: set[str], max_model_calls: int) -> list:
    from langchain.agents.middleware import AgentMiddleware, ModelCallLimitMiddleware
    from langchain.agents.middleware.types import ModelResponse
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    class ToolCallsFromText(AgentMiddleware):
        """Fill AIMessage.tool_calls from JSON the model wrote as text."""

        def wrap_model_call(self, request, handler):
            if time.monotonic() > question_deadline.get():
                # Out of time: answer from what the tools returned so far, no more calls.
                answer = answer_from_results(request, handler, tool_names, None, out_of_time=True)
                return ModelResponse(result=[answer], structured_response=None)
            response = handler(request)
            last = response.result[-1] if response.result else None
            if (
                isinstance(last, AIMessage)
                and not last.tool_calls
                and not parse_tool_calls(str(last.content or ""), tool_names)[0]
                and failed_last(request.messages)
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
                    calls = distinct(calls)
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
                    and only_repeats(message.tool_calls, request.messages)
                ):
                    # The model asks again for what it already has: small models loop here.
                    # Answer from the results gathered so far.
                    message = answer_from_results(request, handler, tool_names, message.id)
                elif (
                    isinstance(message, AIMessage)
                    and not message.tool_calls
                    and (
                        ungrounded_numbers(str(message.content), request.messages)
                        or looks_like_a_call(str(message.content))
                    )
                ):
                    # A number no tool returned (small models misread results), or call
                    # syntax that was not taken as a call: not an answer to show. Ask
                    # again from the results; if that fails too, give the result itself.
                    message = answer_from_results(request, handler, tool_names, message.id)
                messages.append(message)
            return ModelResponse(result=messages, structured_response=response.structured_response)

    class RepeatedCallGuard(AgentMiddleware):
        """Do not run a tool again with the same arguments within one question."""

        def wrap_tool_call(self, request, handler):
            call = request.tool_call
            key = call_key(call["name"], call.get("args", {}))
            earlier_ids = set()
            for message in reversed(request.state["messages"]):
                if getattr(message, "type", "") == "human":
                    break  # only this question's calls count
                for previous in getattr(message, "tool_calls", None) or []:
                    same = call_key(previous["name"], previous.get("args", {})) == key
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
