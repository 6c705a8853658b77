"""vLLM's tool-parser plugin, against a real vLLM server (`make test-vllm` only).

The server itself must fill `tool_calls` from the model's fenced or bare JSON,
with no help from the client-side normaliser: the raw OpenAI response is read.
The parse rate is printed (run with -s) and must reach 80%.
"""

from __future__ import annotations

import json

import pytest
from conftest import LLM_BACKEND

pytestmark = pytest.mark.skipif(LLM_BACKEND != "vllm", reason="vLLM only: run `make test-vllm`")

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "run_sql",
            "description": "Run one read-only SQL SELECT on the warehouse and return the rows.",
            "parameters": {
                "type": "object",
                "properties": {"sql": {"type": "string", "description": "one SELECT"}},
                "required": ["sql"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search_reviews",
            "description": "Find customer reviews by meaning.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
            },
        },
    },
]
SYSTEM = (
    "You answer by calling tools. Tables: reviews(review_id, customer_id, product_id, rating, "
    "text, reviewed_at). To call a tool, reply with only a JSON object: "
    '{"name": "<tool>", "arguments": {...}}.'
)
QUESTIONS = [
    "How many reviews are there?",
    "What is the average rating?",
    "How many customers wrote a review?",
    "Find reviews that complain about broken strings.",
    "How many 1-star reviews are there?",
]


def test_the_server_parses_the_models_tool_calls(llm_url):
    from openai import OpenAI

    client = OpenAI(base_url=llm_url, api_key="not-needed")
    model = client.models.list().data[0].id
    parsed = []
    for question in QUESTIONS:
        reply = client.chat.completions.create(
            model=model,
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
            tools=TOOLS,
            temperature=0,
            max_tokens=200,
        )
        calls = reply.choices[0].message.tool_calls or []
        ok = bool(calls) and calls[0].function.name in {"run_sql", "search_reviews"}
        if ok:
            json.loads(calls[0].function.arguments)  # the arguments are valid JSON
        parsed.append(ok)
    rate = sum(parsed) / len(parsed)
    print(f"\nvLLM tool-call parse rate (server side): {sum(parsed)}/{len(parsed)} = {rate:.0%}")
    assert rate >= 0.8
