"""The agent's middleware around LangChain's `create_agent` loop.

- ToolCallsFromText: tool calls written as text (fenced or bare JSON) become real
  calls, whatever the server (see agent.toolcalls); repeats and ungrounded numbers
  are answered from the results instead;
- RepeatedCallGuard: a repeated identical call is not run again;
- a model-call limit per question, and a time budget (`question_deadline`) after
  which the agent answers from the results it has.
"""

from __future__ import annotations

import functools
import json
import re
import time
from contextvars import ContextVar

from segassist.agent.checks import (
    CHECKS,
    checked,
    checks_made,
    is_check,
    missed,
    query_notes,
    suggested_query,
    unchecked,
)
from segassist.agent.direct import direct_answer
from segassist.agent.examples import copied, examples_text
from segassist.agent.guards import (
    ANSWER_NUDGE,
    COPY_NOTE,
    NUDGE_MARK,
    QUERY_NOTE,
    answer_from_results,
    call_key,
    distinct,
    echoes_instructions,
    failed,
    failed_last,
    nothing_looked_up,
    only_repeats,
    refused_call,
    result_shown,
    this_question,
    ungrounded,
    without_nudge,
)
from segassist.agent.prompting import prompt
from segassist.agent.replies import reply
from segassist.agent.toolcalls import looks_like_a_call, parse_tool_calls
from segassist.tools.result import ToolResult
from segassist.tools.writing import language_of

# Tool calls run from one model reply: the 1.5B model wrote five alternative queries per
# reply (fresh-79), each ran, and their results overflowed the 8,192-token context.
CALLS_PER_REPLY = 2

# A server's refusal of a prompt longer than its context (llama.cpp: "exceeds the
# available context size"; vLLM and OpenAI: "maximum context length").
TOO_LONG = re.compile(r"context (size|length|window)|maximum context", re.IGNORECASE)

# When the question being answered must be done (set per question, in its own thread).
question_deadline: ContextVar[float] = ContextVar("question_deadline", default=float("inf"))


def agent_middleware(
    tool_names: set[str], max_model_calls: int, examples=None, direct: bool = False
) -> list:
    """The middleware, outermost first; `examples` is an agent.examples.ExampleBank (None:
    no worked examples are shown); `direct`: a one-row result that answers the question
    is answered by the agent itself (agent.direct), not by one more model call."""
    from langchain.agents.middleware import AgentMiddleware, ModelCallLimitMiddleware
    from langchain.agents.middleware.types import ModelResponse
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    class QuestionNotes(AgentMiddleware):
        """Right after the question, on every model call of that question: the verified
        question-to-SQL examples closest to it, and the language to answer in when it is
        not English (small models answer in English whatever the system prompt says). The
        prompt's prefix stays the same across the question's calls, so a server's prompt
        cache is reused; the notes are not stored in the conversation."""

        def wrap_model_call(self, request, handler):
            question, since = this_question(request.messages)
            text = notes_for(question)
            if not text:
                return handler(request)
            at = len(request.messages) - len(since)
            shown = HumanMessage(NUDGE_MARK + text)
            messages = [*request.messages[:at], shown, *request.messages[at:]]
            return handler(request.override(messages=messages))

    @functools.lru_cache(maxsize=64)
    def shown_examples(question: str) -> list:
        return [e for e, _ in examples.similar(question)] if examples and question else []

    @functools.lru_cache(maxsize=64)
    def notes_for(question: str) -> str:
        if not question:
            return ""
        notes = [examples_text(shown_examples(question))]
        language = language_of(question)
        if language != "English":
            notes.append(f"Write your final answer in {language}, the language of my question.")
        return "\n".join(n for n in notes if n)

    def withheld(request, answer):
        """`answer`, or, where the queries it rests on (those its figures come from,
        else all of this question's) still leave out part of it (a number, a counted
        noun, an excluded place: `checks.missed`), "I could not answer
        that reliably": a wrong figure said confidently is the worst outcome. Asked of
        every answer the model gives after its checks, and of every answer taken from
        the results instead (a repeated call, an ungrounded answer, time out): there
        the model had no way left to mend its query (the 1.5B model counted customers
        for "多少条评论", repeated the call after the firm check and was answered from
        its result)."""
        left_out = missed(request.messages, str(answer.content or ""))
        if not left_out:
            return answer
        question, _ = this_question(request.messages)
        said = reply("unreliable", question, missing=", ".join(left_out))
        return AIMessage(said, id=answer.id, response_metadata={"own": True})

    def mended(request, message_id) -> AIMessage | None:
        """The query the checks suggest (`checks.suggested_query`), as the agent's own
        run_sql call, where the model kept its query after both checks and that query
        has not run yet; None otherwise. Its result is checked as the model's are, and
        the model answers from it."""
        sql = suggested_query(request.messages)
        call = {"name": "run_sql", "args": {"sql": sql}, "id": f"mend-{message_id}"}
        if not sql or only_repeats([call], request.messages):
            return None
        written = json.dumps({"name": "run_sql", "arguments": {"sql": sql}})
        return AIMessage(
            written, id=message_id, tool_calls=[call], response_metadata={"mended": True}
        )

    def from_whole(request, message_id) -> AIMessage | None:
        """The last result of this question whose query leaves nothing of it out, as the
        agent's answer, where the model answered from another (fresh-63: run_sql's repair
        counted 77 products, then the model answered the 900 of a later query, withheld);
        None where there is none."""
        _, since = this_question(request.messages)
        whole = [
            m
            for m in since
            if getattr(m, "name", "") == "run_sql"
            and not failed(m)
            and not missed(request.messages, source=m.tool_call_id)
        ]
        if not whole:
            return None
        said = result_shown(whole[-1], request.messages)
        return AIMessage(said, id=message_id, response_metadata={"own": True})

    def from_results(request, handler, message_id, out_of_time=False):
        """`answer_from_results`, withheld where its queries leave out part of the
        question; a result shown as it is comes from a query that leaves nothing out,
        where one did."""

        def complete(result) -> bool:
            name = getattr(result, "name", "")
            return name != "run_sql" or not missed(request.messages, source=result.tool_call_id)

        answer = answer_from_results(
            request, handler, tool_names, message_id, out_of_time=out_of_time, complete=complete
        )
        return withheld(request, answer)

    class ToolCallsFromText(AgentMiddleware):
        """Fill AIMessage.tool_calls from JSON the model wrote as text."""

        def wrap_model_call(self, request, handler):
            if time.monotonic() > question_deadline.get():
                # Out of time: answer from what the tools returned so far, no more model
                # calls; the query the checks suggest runs first where it has not (a query,
                # not a model call: fresh-31 ran out of time in failed queries of its own).
                answer = mended(request, "deadline") or from_results(
                    request, handler, None, out_of_time=True
                )
                return ModelResponse(result=[answer], structured_response=None)
            if direct and (said := direct_answer(request.messages)):
                answer = AIMessage(said, response_metadata={"own": True, "direct": True})
                return ModelResponse(result=[answer], structured_response=None)
            try:
                response = handler(request)
            except Exception as error:
                if not TOO_LONG.search(str(error)):
                    raise
                # The question's results no longer fit the model's context: the agent
                # answers from them itself (no model call could), or says so.
                answer = mended(request, "too-long") or from_whole(request, None)
                if answer is None:
                    question, _ = this_question(request.messages)
                    answer = AIMessage(reply("too_long", question), response_metadata={"own": True})
                return ModelResponse(result=[answer], structured_response=None)
            last = response.result[-1] if response.result else None
            if (
                isinstance(last, AIMessage)
                and not last.tool_calls
                and not parse_tool_calls(str(last.content or ""), tool_names)[0]
            ):
                # A plain answer with no data behind it: right after a failed call, or with
                # nothing looked up yet ("one moment, I am querying..."). Ask once for the
                # (fixed) call instead.
                problems = unchecked(request.messages, str(last.content or ""))
                nudge = (
                    "retry"
                    if failed_last(request.messages)
                    else "look_up"
                    if nothing_looked_up(request.messages)
                    else ("check", "check_again")[checks_made(request.messages)]
                    if problems
                    else None
                )
                if not nudge and checks_made(request.messages) >= CHECKS:
                    # Checked twice: the answer stands only if it leaves nothing out; else
                    # the query the checks suggest runs, where there is one.
                    kept = withheld(request, last)
                    if kept is not last:
                        kept = mended(request, last.id) or from_whole(request, last.id) or kept
                        return ModelResponse(result=[kept], structured_response=None)
                if nudge:
                    # A check answered in plain words: that answer stays in view of the next.
                    said = [last] if is_check(request.messages[-1]) else []
                    return self.asked(request, handler, nudge, problems, said)
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
                if isinstance(message, AIMessage) and len(message.tool_calls) > CALLS_PER_REPLY:
                    message = message.model_copy(
                        update={"tool_calls": message.tool_calls[:CALLS_PER_REPLY]}
                    )
                if (
                    isinstance(message, AIMessage)
                    and message.tool_calls
                    and only_repeats(message.tool_calls, request.messages)
                ):
                    # The model asks again for what it already has: small models loop here.
                    # If its queries leave out part of the question, it is checked (asked
                    # to mend them) first; otherwise, or when checked already, the answer
                    # comes from the results gathered so far. A failed call sent again
                    # unchanged is asked to be fixed first, once (the 1.5B model re-sent
                    # a query on a table without the column the error named: fresh-67).
                    if failed_last(request.messages):
                        return self.asked(request, handler, "retry", [], [])
                    problems = unchecked(request.messages)
                    if problems:
                        nudge = ("check", "check_again")[checks_made(request.messages)]
                        return self.asked(request, handler, nudge, problems, [])
                    message = mended(request, message.id) or from_results(
                        request, handler, message.id
                    )
                elif (
                    isinstance(message, AIMessage)
                    and not message.tool_calls
                    and (
                        ungrounded(str(message.content), request.messages)
                        or looks_like_a_call(str(message.content))
                        or echoes_instructions(str(message.content))
                    )
                ):
                    # A number or a name no tool returned (small models misread results), or call
                    # syntax that was not taken as a call: not an answer to show. Ask
                    # again from the results; if that fails too, give the result itself.
                    message = from_results(request, handler, message.id)
                messages.append(message)
            return ModelResponse(result=messages, structured_response=response.structured_response)

        def asked(self, request, handler, nudge: str, problems: list[str], said: list):
            """The model's next reply after the instruction `nudge` (a prompt's name, its
            {problems} filled in), with `said` (its own last words) kept in view; a reply
            to a check is marked as one, whatever comes next."""
            text = prompt(nudge).replace("{problems}", " ".join(problems))
            ask = HumanMessage(NUDGE_MARK + text)
            answered = self.wrap_model_call(
                request.override(messages=[*request.messages, *said, ask]), handler
            )
            if nudge.startswith("check"):
                answered = ModelResponse(
                    result=[checked(m) for m in answered.result],
                    structured_response=answered.structured_response,
                )
            return answered

    class RepeatedCallGuard(AgentMiddleware):
        """Do not run a tool again with the same arguments within one question, nor review
        search for a question that asks for a figure (small models pick it for "how many
        reviews ..." and then count the five hits they got)."""

        def wrap_tool_call(self, request, handler):
            call = request.tool_call
            why = refused_call(call["name"], this_question(request.state["messages"])[0])
            if why:
                refused = ToolResult.failure(why, "")
                return ToolMessage(
                    content=refused.text,
                    artifact=refused,
                    tool_call_id=call["id"],
                    name=call["name"],
                )
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
                        f"was:\n{without_nudge(earlier)}\nAnswer the user now in "
                        "plain text, or call a different tool."
                    ),
                    tool_call_id=call["id"],
                    name=call["name"],
                )
            result = handler(request)
            if isinstance(result, ToolMessage) and isinstance(result.content, str):
                question, _ = this_question(request.state["messages"])
                example = copied(
                    str(call.get("args", {}).get("sql", "")), question, shown_examples(question)
                )
                if call["name"] == "run_sql" and example is not None:
                    # The worked example run as it is: right only if the question asks the
                    # same. Say so; the model re-writes it or answers.
                    result.content += COPY_NOTE.format(question=example.question)
                elif call["name"] == "run_sql" and (
                    notes := query_notes([*request.state["messages"], result], call["id"])
                ):
                    result.content += QUERY_NOTE + " ".join(notes)
                else:
                    result.content += ANSWER_NUDGE
            return result

    return [
        QuestionNotes(),
        ToolCallsFromText(),
        RepeatedCallGuard(),
        ModelCallLimitMiddleware(run_limit=max_model_calls, exit_behavior="end"),
    ]
