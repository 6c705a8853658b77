"""vLLM tool-parser plugin: tool calls written as fenced or bare JSON.

Used as ``--tool-parser-plugin agent/vllm_tool_parser.py --tool-call-parser segassist
--enable-auto-tool-choice``. vLLM's built-in hermes parser expects <tool_call>
tags and parsed none of Qwen2.5-Coder's calls on these machines; this parser
shares `agent.toolcalls.parse_tool_calls` with the client-side normaliser, so
both read the same formats. Only non-streaming responses carry parsed calls;
in streaming mode the text passes through and the client normalises it.

This file is loaded by vLLM by path, so it imports vLLM (and is never imported
by segassist itself).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # loaded by path: find `agent`

from agent.toolcalls import parse_tool_calls

try:  # vLLM >= 0.11 moved the parsers
    from vllm.tool_parsers import ToolParser, ToolParserManager
except ImportError:  # pragma: no cover - older vLLM
    from vllm.entrypoints.openai.tool_parsers import ToolParser, ToolParserManager


def _protocol():
    """The module holding the OpenAI protocol classes (vLLM moves it between releases)."""
    import importlib

    for name in (
        "vllm.entrypoints.openai.protocol",
        "vllm.entrypoints.openai.chat_completion.protocol",
        "vllm.entrypoints.generate.base.protocol",  # vLLM 0.32
    ):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "ExtractedToolCallInformation"):
            return module
    raise ImportError("this vLLM has no ExtractedToolCallInformation where segassist looks")


_p = _protocol()
DeltaMessage = _p.DeltaMessage
ExtractedToolCallInformation = _p.ExtractedToolCallInformation
FunctionCall = _p.FunctionCall
ToolCall = _p.ToolCall


@ToolParserManager.register_module("segassist")
class SegassistToolParser(ToolParser):
    """Tool calls from fenced ```json blocks, <tool_call> tags or bare JSON objects."""

    def extract_tool_calls(self, model_output: str, request) -> ExtractedToolCallInformation:
        known = {t.function.name for t in (request.tools or [])} or None
        calls, remaining = parse_tool_calls(model_output, known)
        if not calls:
            return ExtractedToolCallInformation(
                tools_called=False, tool_calls=[], content=model_output
            )
        return ExtractedToolCallInformation(
            tools_called=True,
            tool_calls=[
                ToolCall(
                    id=c.id,
                    type="function",
                    function=FunctionCall(name=c.name, arguments=json.dumps(c.args)),
                )
                for c in calls
            ],
            content=remaining or None,
        )

    def extract_tool_calls_streaming(
        self,
        previous_text,
        current_text,
        delta_text,
        previous_token_ids,
        current_token_ids,
        delta_token_ids,
        request,
    ):
        return DeltaMessage(content=delta_text)
