"""Benchmark: the agent on the public evaluation questions, against LangChain's stock SQL agent.

Runs ../shared/eval/questions.jsonl (answers computed from the raw files;
scoring rules in its README) through segassist's agent and through
`create_sql_agent` (SQLDatabaseToolkit, langchain-community) on the same
model and server, on the same imported databases. Reports accuracy per data
set and persona, tool calls parsed from text, and median / p95 seconds per
question. A question passes only if the answer was reached through tools.

Needs a running OpenAI-compatible server (`segassist llm serve --model 1.5b`)
and, for the baseline, `pip install langchain-community==0.4.2`.

Usage: python benchmarks/bench_agent.py --llm-url http://127.0.0.1:8080/v1 [--data ../shared/data]
       [--eval ../shared/eval/questions.jsonl] [--only segassist|stock]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATASETS = {
    "amazon": ("amazon", "amazon/reviews_Musical_Instruments_5.json.gz"),
    "online_retail": ("online-retail", "online_retail/online_retail_ii_2009_2010.parquet"),
}


def _numbers(text: str) -> list[float]:
    cleaned = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    return [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", cleaned)]


def score(question: dict, text: str) -> bool:
    """The eval README's scoring rules."""
    kind, answer, tolerance = question["kind"], question["answer"], question["tolerance"]
    lowered = text.lower()
    if kind == "number":
        return any(abs(n - answer) <= tolerance for n in _numbers(text))
    if kind == "entity":
        return all(str(v).lower() in lowered for v in answer.values())
    if kind == "entity_count":
        values = list(answer.values())
        entity = next(v for v in values if isinstance(v, str))
        count = next(v for v in values if not isinstance(v, str))
        return entity.lower() in lowered and any(abs(n - count) <= 0 for n in _numbers(text))
    if kind == "count_avg":
        numbers = _numbers(text)
        count, average = answer["count"], answer["avg"]
        return any(n == count for n in numbers) and any(abs(n - average) <= 0.01 for n in numbers)
    raise ValueError(f"unknown kind {kind}")


STEPS: list[dict] = []  # the current question's tool calls, kept in the results file


def _database(data: Path, dataset: str, work: Path):
    from segassist.warehouse.db import migrate, open_engine
    from segassist.warehouse.importers import import_dataset

    importer, relative = DATASETS[dataset]
    engine = open_engine(f"sqlite:///{work / (dataset + '.db')}")
    migrate(engine)
    import_dataset(engine, importer, [data / relative])
    return engine


def run_segassist(engine, chat, question: str, work: Path) -> tuple[str, int, int, bool]:
    from segassist.agent.loop import build_agent

    agent = build_agent(engine, chat, None, work / "exports")
    answer = agent.ask(question, f"bench-{time.monotonic_ns()}")
    STEPS.extend(
        {"tool": s.tool, "args": s.args, "observation": s.observation[:400]} for s in answer.steps
    )
    return answer.text, answer.calls_from_text, answer.model_calls, bool(answer.steps)


STOCK_AGENT_TYPE = "zero-shot-react-description"


def run_stock(engine, chat, question: str) -> tuple[str, int, int, bool]:
    """LangChain's stock SQL agent (SQLDatabaseToolkit tools) on the same model and server.

    ReAct (text actions) by default: llama.cpp's server does not turn the model's JSON
    into OpenAI tool calls, so the stock tool-calling agent would never call a tool
    there (pass --stock-agent-type tool-calling to measure that too). Same step cap
    and time budget as segassist's agent.
    """
    from langchain_community.agent_toolkits import create_sql_agent
    from langchain_community.utilities import SQLDatabase
    from segassist.agent.loop import MAX_MODEL_CALLS, QUESTION_BUDGET_S

    agent = create_sql_agent(
        chat,
        db=SQLDatabase(engine),
        agent_type=STOCK_AGENT_TYPE,
        max_iterations=MAX_MODEL_CALLS,
        max_execution_time=QUESTION_BUDGET_S,
        agent_executor_kwargs={"handle_parsing_errors": True, "return_intermediate_steps": True},
    )
    result = agent.invoke({"input": question})
    steps = result.get("intermediate_steps", [])
    STEPS.extend(
        {"tool": a.tool, "args": a.tool_input, "observation": str(o)[:400]} for a, o in steps
    )
    used = any(a.tool in ("sql_db_query", "query_sql_db") for a, _ in steps)
    return str(result.get("output", "")), 0, len(steps) + 1, used


CALL_TIMEOUT_S = 150.0  # one model call; a question has its own budget in the agent


def _wait_until_idle(url: str, limit_s: float = 300.0) -> None:
    """Wait until the server answers again: a single-request server (llama.cpp) finishes a
    request its client gave up on before it takes the next, which would count against the
    next question."""
    from segassist.agent.client import LLMUnavailableError, check_server

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            check_server(url)
            return
        except LLMUnavailableError:
            time.sleep(2.0)


def main() -> None:
    global STOCK_AGENT_TYPE
    from segassist.agent.client import make_chat_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-url", required=True)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--eval", type=Path, default=Path("../shared/eval/questions.jsonl"))
    parser.add_argument("--only", choices=["segassist", "stock"])
    parser.add_argument("--ids", help="Comma-separated question ids (default: all).")
    parser.add_argument("--stock-agent-type", default=STOCK_AGENT_TYPE)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/agent.json"))
    args = parser.parse_args()
    STOCK_AGENT_TYPE = args.stock_agent_type
    questions = [json.loads(line) for line in args.eval.read_text().splitlines() if line.strip()]
    if args.ids:
        questions = [q for q in questions if q["id"] in args.ids.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    engines = {d: _database(args.data, d, work) for d in {q["dataset"] for q in questions}}
    systems = [s for s in ("segassist", "stock") if args.only in (None, s)]
    records = []
    _wait_until_idle(args.llm_url)
    chat = make_chat_model(args.llm_url, timeout_s=CALL_TIMEOUT_S)
    for system in systems:
        for q in questions:
            _wait_until_idle(args.llm_url)
            started = time.perf_counter()
            STEPS.clear()
            try:
                if system == "segassist":
                    text, from_text, calls, used_tools = run_segassist(
                        engines[q["dataset"]], chat, q["question"], work
                    )
                else:
                    text, from_text, calls, used_tools = run_stock(
                        engines[q["dataset"]], chat, q["question"]
                    )
                error = None
            except Exception as e:  # a crash is a failed question, recorded with its reason
                text, from_text, calls, used_tools, error = "", 0, 0, False, repr(e)[:300]
            seconds = time.perf_counter() - started
            passed = used_tools and score(q, text)
            records.append(
                {
                    "system": system,
                    "id": q["id"],
                    "dataset": q["dataset"],
                    "persona": q["persona"],
                    "passed": passed,
                    "seconds": seconds,
                    "model_calls": calls,
                    "calls_from_text": from_text,
                    # A call the model wrote that nothing parsed ends up in the answer text.
                    "unparsed_calls": int(bool(UNPARSED.search(text))),
                    "answer": text[:500],
                    "steps": list(STEPS),
                    "error": error,
                }
            )
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(records, indent=2))  # kept as it goes
            print(
                f"{system:>9} {q['id']:>7} {'PASS' if passed else 'fail'} {seconds:6.1f} s  "
                f"{text[:90]!r}",
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(records, indent=2))
    _report(records)


UNPARSED = re.compile(r'"name"\s*:|```json|<tool_call>')


def _parse_rate(records: list[dict]) -> str:
    parsed = sum(r["calls_from_text"] for r in records)
    missed = sum(r["unparsed_calls"] for r in records)
    if parsed + missed == 0:
        return "no tool calls written as text"
    return (
        f"tool calls written as text: {parsed} parsed, {missed} not "
        f"(parse rate {parsed / (parsed + missed):.0%})"
    )


def _report(records: list[dict]) -> None:
    for system in sorted({r["system"] for r in records}):
        mine = [r for r in records if r["system"] == system]
        times = sorted(r["seconds"] for r in mine)
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        print(
            f"\n## {system}: {sum(r['passed'] for r in mine)}/{len(mine)} "
            f"({sum(r['passed'] for r in mine) / len(mine):.0%}); median "
            f"{statistics.median(times):.1f} s, p95 {p95:.1f} s per question; "
            f"{_parse_rate(mine)}"
        )
        groups: dict[tuple, list[bool]] = defaultdict(list)
        for r in mine:
            groups["dataset", r["dataset"]].append(r["passed"])
            groups["persona", r["persona"]].append(r["passed"])
        for (kind, name), passed in sorted(groups.items()):
            print(f"  {kind} {name}: {sum(passed)}/{len(passed)}")


if __name__ == "__main__":
    main()
