"""Benchmark: the CPU engines on the same model (issue #12, item 1).

llama.cpp's own server (`llama-server`: parallel slots with continuous batching, a
prompt cache per slot and in RAM, tool calls parsed by the server with --jinja)
against llama-cpp-python's server (one request at a time, tool calls parsed from the
text by the agent), each started as `segassist llm serve` starts it, in turn, on the
same GGUF model and threads. For each engine:

- decode speed: one 128-token completion (tokens per second, as the server counts);
- single questions: the own set's questions on one data set, one new conversation each,
  asked one after another: accuracy, median and p95 seconds, tool calls made and
  replies that look like a call nobody parsed (parse rate);
- concurrent sessions: SESSIONS questions asked at once (the same questions, round
  robin), as several users of the UI would: accuracy, median and p95 seconds, and the
  wall time until the last answer.

The engines run one after the other on the same machine; compare them as ratios.

Usage: python benchmarks/bench_llm_engines.py [--model 1.5b] [--data ../shared/data]
       [--dataset amazon] [--questions 12] [--sessions 20] [--engines llama-server,llama.cpp]
       [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_agent import UNPARSED, import_warehouse, score

DECODE_TOKENS = 128


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _decode_rate(url: str) -> float:
    """Tokens per second of one DECODE_TOKENS-token completion (prompt time included)."""
    body = {
        "messages": [{"role": "user", "content": "Count from 1 to 500, separated by commas."}],
        "max_tokens": DECODE_TOKENS,
        "temperature": 0,
    }
    request = urllib.request.Request(
        url + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        reply = json.loads(response.read())
    return reply["usage"]["completion_tokens"] / (time.perf_counter() - started)


def _ask(engine, chat, question: dict, work: Path) -> dict:
    """One question in a new conversation: seconds, pass, calls made, unparsed replies."""
    from segassist.agent.loop import build_agent

    started = time.perf_counter()
    try:
        agent = build_agent(engine, chat, None, work / "exports")
        answer = agent.ask(question["question"], f"engines-{time.monotonic_ns()}")
        text, steps, error = answer.text, len(answer.steps), None
    except Exception as e:  # a crash is a failed question, recorded with its reason
        text, steps, error = "", 0, repr(e)[:300]
    return {
        "id": question["id"],
        "seconds": time.perf_counter() - started,
        "passed": bool(steps) and score(question, text),
        "calls": steps,
        "unparsed": int(bool(UNPARSED.search(text))),
        "answer": text[:300],
        "error": error,
    }


def _summary(records: list[dict]) -> dict:
    times = [r["seconds"] for r in records]
    calls, unparsed = sum(r["calls"] for r in records), sum(r["unparsed"] for r in records)
    return {
        "right": sum(r["passed"] for r in records),
        "asked": len(records),
        "median_s": round(statistics.median(times), 1),
        "p95_s": round(_p95(times), 1),
        "parse_rate": round(calls / (calls + unparsed), 3) if calls + unparsed else None,
        "errors": sum(bool(r["error"]) for r in records),
    }


def _engine(name: str, model: Path, engine, questions: list[dict], sessions: int, work: Path):
    from segassist.agent.client import make_chat_model
    from segassist.agent.serving import server_command, start_server, stop_server

    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    log = work / f"{name}.log"
    process = start_server(server_command(name, model, "127.0.0.1", port), url, log)
    try:
        chat = make_chat_model(url, timeout_s=600)
        rate = _decode_rate(url)
        print(f"{name}: decode {rate:.1f} tokens/s", flush=True)
        single = []
        for q in questions:
            single.append(_ask(engine, chat, q, work))
            r = single[-1]
            print(
                f"  {name} {r['id']:>9} {'PASS' if r['passed'] else 'fail'} {r['seconds']:6.1f} s"
            )
        started = time.perf_counter()
        asked = [questions[i % len(questions)] for i in range(sessions)]
        with ThreadPoolExecutor(max_workers=sessions) as pool:
            together = list(pool.map(lambda q: _ask(engine, chat, q, work), asked))
        wall = time.perf_counter() - started
    finally:
        stop_server(process.pid, grace_s=20)
        process.wait(timeout=60)
    result = {
        "engine": name,
        "decode_tokens_per_s": round(rate, 1),
        "single": _summary(single),
        "concurrent": _summary(together) | {"sessions": sessions, "wall_s": round(wall, 1)},
        "records": {"single": single, "concurrent": together},
    }
    print(f"{name}: {json.dumps({k: v for k, v in result.items() if k != 'records'})}", flush=True)
    return result


def main() -> None:
    from agent_set import questions as own_questions
    from segassist.agent.models import model_path
    from segassist.core.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="1.5b")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--dataset", default="amazon")
    parser.add_argument("--questions", type=int, default=12)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--engines", default="llama-server,llama.cpp")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    model = model_path(load_settings().llm_cache, args.model)
    questions = [
        q
        for q in own_questions(args.data)
        if q["dataset"] == args.dataset and q["kind"] != "quote" and not q.get("conversation")
    ][: args.questions]
    work = Path(tempfile.mkdtemp(prefix="bench-engines-"))
    engine = import_warehouse(args.data, args.dataset, work)
    results = [
        _engine(name, model, engine, questions, args.sessions, work)
        for name in args.engines.split(",")
    ]
    print(f"\n## {len(questions)} questions on {args.dataset}, {args.sessions} sessions at once")
    print(
        "| engine | decode tok/s | right | median s | p95 s | parse rate | concurrent right "
        "| concurrent median s | p95 s | wall s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        s, c = r["single"], r["concurrent"]
        print(
            f"| {r['engine']} | {r['decode_tokens_per_s']} | {s['right']}/{s['asked']} | "
            f"{s['median_s']} | {s['p95_s']} | {s['parse_rate']} | {c['right']}/{c['asked']} "
            f"| {c['median_s']} | {c['p95_s']} | {c['wall_s']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
