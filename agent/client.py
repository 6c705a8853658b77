"""Talking to an OpenAI-compatible LLM server: is it there, does it complete, and the
LangChain chat model and text writer on it.

Readiness is a real completion, not `/models`: a server whose engine cannot run on
this CPU lists its models, then dies on the first completion.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from segassist.core.errors import InfrastructureError


class LLMUnavailableError(InfrastructureError):
    """No OpenAI-compatible server answers at the configured URL."""


def _get_json(url: str, timeout: float = 10.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


@dataclass(frozen=True)
class ServerStatus:
    """What `segassist llm status` reports."""

    url: str
    models: list[str]
    seconds: float


def check_server(url: str) -> ServerStatus:
    """List the models the server at `url` serves; a clear error if none answers."""
    started = time.perf_counter()
    try:
        body = _get_json(url.rstrip("/") + "/models")
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as e:
        raise LLMUnavailableError(
            f"No LLM server answers at {url} ({getattr(e, 'reason', e)}). Start one with "
            "'segassist llm serve' (after 'segassist llm pull'), or set llm_url to a running "
            "OpenAI-compatible server."
        ) from e
    models = [m.get("id", "?") for m in body.get("data", [])]
    return ServerStatus(url, models, time.perf_counter() - started)


def probe_completion(url: str, model: str | None = None, timeout_s: float = 120.0) -> float:
    """Ask the server for one token and return the seconds it took.

    Readiness is a real completion, not `/models`: a server whose engine cannot run
    on this CPU lists its models, then dies on the first completion (SIGILL).
    """
    started = time.perf_counter()
    body = {
        "messages": [{"role": "user", "content": "Say OK."}],
        "max_tokens": 1,
        "temperature": 0,
    }
    if model:
        body["model"] = model
    request = urllib.request.Request(
        url.rstrip("/") + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            reply = json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as e:
        raise LLMUnavailableError(
            f"The LLM server at {url} did not complete a one-token test "
            f"({getattr(e, 'reason', e)}). Check its log; 'segassist llm status' retries."
        ) from e
    if not reply.get("choices"):
        raise LLMUnavailableError(f"The LLM server at {url} answered without a completion.")
    return time.perf_counter() - started


MAX_REPLY_TOKENS = 512  # a reply longer than this is a runaway: it would hold the server
# A reply ends where a second fenced call would begin: the 1.5B model wrote up to eight
# alternative queries per reply, to the 512-token cap (36 s each here); at most two of a
# reply run (agent.middleware.CALLS_PER_REPLY), and one is the common case.
AFTER_A_CALL = ("```\n```", "```\n\n```")


def make_chat_model(
    url: str, model: str | None = None, timeout_s: float = 300.0, max_tokens: int = MAX_REPLY_TOKENS
):
    """A LangChain chat model for the OpenAI-compatible server at `url`.

    Replies are capped at MAX_REPLY_TOKENS: a single-request server such as
    llama.cpp's otherwise stays busy with a runaway generation and every later
    request times out.
    """
    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk
    from langchain_openai import ChatOpenAI

    class ServerChat(ChatOpenAI):
        def _stream(self, *args, **kwargs):
            """The server's stream; one empty chunk where it ended without one (the
            0.5B model's immediate end of text on llama.cpp's server: LangChain then
            raised "No generations found in stream" and the question crashed). An
            empty reply is the agent's to handle: it asks again."""
            produced = False
            for chunk in super()._stream(*args, **kwargs):
                produced = True
                yield chunk
            if not produced:
                yield ChatGenerationChunk(message=AIMessageChunk(content=""))

    if model is None:
        served = check_server(url).models
        model = served[0] if served else "default"
    return ServerChat(
        base_url=url,
        api_key="not-needed",
        model=model,
        temperature=0,
        timeout=timeout_s,
        max_retries=0,
        max_tokens=max_tokens,
        stop=list(AFTER_A_CALL),
        # langchain-openai sends the cap as `max_completion_tokens`, which llama.cpp's
        # server ignores (it then generates up to the context size, for minutes); the
        # classic field is understood by every OpenAI-compatible server.
        extra_body={"max_tokens": max_tokens},
    )


def text_writer(chat_model):
    """A (task, facts) -> text function for explanations and briefs (None on failure)."""

    def write(task: str, facts: str) -> str | None:
        try:
            reply = chat_model.invoke(task)
        except Exception:  # the caller falls back to the template
            return None
        return str(reply.content or "").strip() or None

    return write
