"""Benchmark: the agent on evaluation questions, against LangChain's stock SQL agent.

`--set public` (default) runs ../shared/eval/questions.jsonl (answers computed
from the raw files; scoring rules in its README) through segassist's agent and
through `create_sql_agent` (SQLDatabaseToolkit, langchain-community) on the same
model and server, on the same imported databases. `--set own` runs the project's
own set (benchmarks/agent_set.py: three data sets, English, Portuguese and
Chinese, review quotes, follow-ups in one conversation, and segment questions on
a model trained and scored in the run); `--only segassist,segassist-no-examples`
measures the verified SQL examples in the same run. Reports accuracy per data
set, persona, kind and language, tool calls parsed from text, and median / p95
seconds per question. A question passes only if the answer was reached through
tools. Questions run one data set after another, as a deployment serves one
warehouse (the server keeps its schema's prompt cached).

Needs a running OpenAI-compatible server (`segassist llm serve --model 1.5b`)
and, for the baseline, `pip install langchain-community==0.4.2`.

Usage: python benchmarks/bench_agent.py --llm-url http://127.0.0.1:8080/v1 [--data ../shared/data]
       [--set public|own] [--eval ../shared/eval/questions.jsonl]
       [--only segassist,segassist-no-examples,stock] [--ids a,b] [--rescore results.json]
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

from agent_set import quoted_spans
from segassist.core.numbers import written_numbers
from segassist.warehouse.language import detect_language

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATASETS = {
    "amazon": ("amazon", "amazon/reviews_Musical_Instruments_5.json.gz"),
    "online_retail": ("online-retail", "online_retail/online_retail_ii_2009_2010.parquet"),
    "olist": ("olist", "olist_subset"),
}
SEGMENTS_ON = "online_retail"  # the own set's segment questions: trained on this data set


def _numbers(text: str) -> list[float]:
    """Every reading of every number in `text` ("9.649" is 9649 or 9.649; see
    segassist.core.numbers): the answer may be written in any locale."""
    return [value for options in written_numbers(text) for value, _ in options]


def _names(value, lowered: str) -> bool:
    """The answer names `value` (a list: any of its forms) as a word of its own: the
    state "SP" is not named by "resposta"."""
    forms = value if isinstance(value, list) else [value]
    return any(
        re.search(rf"(?<![a-z0-9à-ÿ]){re.escape(str(v).lower())}(?![a-z0-9à-ÿ])", lowered)
        for v in forms
    )


def score(question: dict, text: str) -> bool:
    """The eval README's scoring rules, plus the own set's kinds (see agent_set.py)."""
    kind, answer, tolerance = question["kind"], question["answer"], question["tolerance"]
    lowered = text.lower()
    language = question.get("language")
    if language and detect_language(text, default="und") != language:
        return False
    if kind == "number":
        # A number the question gives is no answer: "What percentage of reviewers wrote
        # more than 10 reviews?" (10.1) answered "145 customers wrote more than 10" passed.
        asked = _numbers(question.get("question", ""))
        told = [n for n in _numbers(text) if n == answer or n not in asked]
        return any(abs(n - answer) <= tolerance for n in told)
    if kind == "entity":
        return all(_names(v, lowered) for v in answer.values())
    if kind == "entity_number":
        return _names(answer["entity"], lowered) and any(
            abs(n - answer["number"]) <= tolerance for n in _numbers(text)
        )
    if kind == "quote":
        return any(
            any(span in review for review in question["quotes"]) for span in quoted_spans(text)
        )
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


def _train_and_score(engine) -> None:
    """Train (behaviour only: no index in this benchmark) and score, as a user would."""
    import subprocess
    import sys

    cli = Path(sys.executable).with_name("segassist")
    url = engine.url.render_as_string(hide_password=False)
    for command in (["train", "--no-text"], ["score"]):
        done = subprocess.run([str(cli), "--db", url, *command], capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"segassist {' '.join(command)} failed on {url}:\n{done.stderr}")


def import_warehouse(data: Path, dataset: str, work: Path):
    """A SQLite warehouse in `work` with `dataset` imported from `data` (shared with
    bench_llm_engines)."""
    from segassist.warehouse.db import migrate, open_engine
    from segassist.warehouse.importers import import_dataset

    importer, relative = DATASETS[dataset]
    engine = open_engine(f"sqlite:///{work / (dataset + '.db')}")
    migrate(engine)
    import_dataset(engine, importer, [data / relative])
    return engine


INDEXES: dict[str, object] = {}  # data set -> its review index (own set: quote questions)


def _index(engine, dataset: str, work: Path):
    """The data set's reviews embedded into a Chroma index in the work folder."""
    from segassist.retrieval.store import open_client, open_index
    from segassist.retrieval.sync import sync_index

    index = open_index(open_client(work / f"chroma-{dataset}"), "minilm", name=dataset)
    sync_index(engine, index)
    return index


def run_segassist(
    engine,
    chat,
    question: str,
    work: Path,
    conversation: str | None = None,
    index=None,
    examples: bool = True,
    direct: bool = True,
) -> tuple[str, int, int, bool]:
    """One question, in a new conversation unless `conversation` names one."""
    from segassist.agent.loop import build_agent

    agent = build_agent(engine, chat, index, work / "exports", examples=examples, direct=direct)
    answer = agent.ask(question, conversation or f"bench-{time.monotonic_ns()}")
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
    parser.add_argument(
        "--set",
        choices=["public", "own"],
        default="public",
        help="public: --eval's questions; own: benchmarks/agent_set.py (answers from the raw "
        "files, three data sets, segment questions on a model trained in the run)",
    )
    parser.add_argument(
        "--only",
        help="Comma-separated systems: segassist, segassist-no-examples (the same agent "
        "without the verified SQL examples), segassist-model-answers (no examples, and the model "
        "writes every answer, even from a one-row result that answers the question: the agent "
        "before agent.direct), segassist-chained (no examples, and every "
        "question of a data set asked in one conversation, in order: the report compares "
        "questions asked fifth or later with the same questions asked fresh), stock "
        "(default: segassist,stock)",
    )
    parser.add_argument("--ids", help="Comma-separated question ids (default: all).")
    parser.add_argument("--stock-agent-type", default=STOCK_AGENT_TYPE)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/agent.json"))
    parser.add_argument(
        "--rescore",
        type=Path,
        help="Score a results file again with the current rules (no model calls) and report",
    )
    args = parser.parse_args()
    if args.rescore:
        _rescore(args)
        return
    STOCK_AGENT_TYPE = args.stock_agent_type
    work = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    if args.set == "own":
        from agent_set import questions as own_questions
        from agent_set import segment_questions

        questions = own_questions(args.data)
    else:
        questions = [
            json.loads(line) for line in args.eval.read_text().splitlines() if line.strip()
        ]
    datasets = {q["dataset"] for q in questions}
    engines = {d: import_warehouse(args.data, d, work) for d in datasets}
    if args.set == "own":
        for dataset in sorted({q["dataset"] for q in questions if q["kind"] == "quote"}):
            INDEXES[dataset] = _index(engines[dataset], dataset, work)
        _train_and_score(engines[SEGMENTS_ON])
        questions += segment_questions(engines[SEGMENTS_ON], SEGMENTS_ON)
    if args.ids:
        questions = [q for q in questions if q["id"] in args.ids.split(",")]
    # One data set after another, as a deployment serves one warehouse: its schema is the
    # system prompt the server keeps cached (a switch re-reads 2,000-3,700 tokens, 20-35 s
    # here). The order within a data set (a conversation's turns) is kept.
    questions.sort(key=lambda q: q["dataset"])
    systems = (args.only or "segassist,stock").split(",")
    records = []
    _wait_until_idle(args.llm_url)
    chat = make_chat_model(args.llm_url, timeout_s=CALL_TIMEOUT_S)
    asked: dict[str, int] = defaultdict(int)  # questions asked so far per conversation
    for number, q in enumerate(questions):
        # Each question by every system in turn, times taken on one host state; the order
        # alternates, as the second asked reuses the first's prompt cache on the server.
        for system in systems if number % 2 == 0 else systems[::-1]:
            _wait_until_idle(args.llm_url)
            started = time.perf_counter()
            STEPS.clear()
            try:
                if system.startswith("segassist"):
                    conversation = q.get("conversation")
                    if system == "segassist-chained":
                        conversation = q["dataset"]
                    conversation = conversation and f"{system}-{conversation}-{work.name}"
                    position = asked[conversation] + 1 if conversation else 1
                    asked[conversation] = position
                    text, from_text, calls, used_tools = run_segassist(
                        engines[q["dataset"]],
                        chat,
                        q["question"],
                        work,
                        conversation,
                        INDEXES.get(q["dataset"]),
                        examples=system == "segassist",
                        direct=system != "segassist-model-answers",
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
                    "kind": q["kind"] + (" (follow-up)" if q.get("conversation") else ""),
                    "language": q.get("language", "en"),
                    "position": position if system.startswith("segassist") else 1,
                    "expected": q["answer"],
                    "tolerance": q["tolerance"],
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


def _rescore(args) -> None:
    """The pass/fail of a results file again, by the current scoring rules."""
    from agent_set import questions as own_questions

    records = json.loads(args.rescore.read_text())
    by_id = {q["id"]: q for q in own_questions(args.data)}
    by_id |= {
        q["id"]: q
        for q in (json.loads(line) for line in args.eval.read_text().splitlines() if line.strip())
    }
    for r in records:
        q = by_id.get(r["id"])
        if q is None and "expected" in r:  # segment questions: their answers are recorded
            q = {
                "kind": r["kind"].removesuffix(" (follow-up)"),
                "answer": r["expected"],
                "tolerance": r["tolerance"],
            }
        if q is not None:
            r["passed"] = bool(r["steps"]) and score(q, r["answer"])
    args.rescore.write_text(json.dumps(records, indent=2))
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
            groups["kind", r["kind"]].append(r["passed"])
            groups["language", r["language"]].append(r["passed"])
            # agent_set.edge_questions and fresh_questions: written after the changes
            # they test, kept apart
            later = next((p for p in ("edge", "fresh") if r["id"].startswith(f"{p}-")), None)
            groups["questions", f"{later}-* (written after)" if later else "the rest"].append(
                r["passed"]
            )
        for (kind, name), passed in sorted(groups.items()):
            print(f"  {kind} {name}: {sum(passed)}/{len(passed)}")
    _position_report(records)


def _position_report(records: list[dict]) -> None:
    """The same questions asked fifth or later in one conversation and asked fresh: the
    memory should not cost accuracy."""
    late = {r["id"]: r["passed"] for r in records if r["system"] == "segassist-chained"}
    late = {i: p for i, p in late.items() if _position(records, i) >= 5}
    fresh = {
        r["id"]: r["passed"]
        for r in records
        if r["system"] == "segassist-no-examples" and r["id"] in late
    }
    if not fresh:
        return
    print(
        f"\n## asked 5th or later in one conversation: {sum(late[i] for i in fresh)}/{len(fresh)}; "
        f"the same questions asked fresh: {sum(fresh.values())}/{len(fresh)}"
    )


def _position(records: list[dict], question_id: str) -> int:
    return next(
        r.get("position", 1)
        for r in records
        if r["system"] == "segassist-chained" and r["id"] == question_id
    )


if __name__ == "__main__":
    main()
