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

import importlib.util
import json
import sys
from pathlib import Path


def _load_toolcalls():
    """agent/toolcalls.py by its path: vLLM loads this file by path, from its own
    environment, where segassist is not installed (toolcalls needs only the stdlib)."""
    path = Path(__file__).with_name("toolcalls.py")
    spec = importlib.util.spec_from_file_location("segassist_toolcalls", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


parse_tool_calls = _load_toolcalls().parse_tool_calls

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
