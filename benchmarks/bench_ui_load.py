"""Load check: concurrent chat sessions against a running UI, through gradio_client.

Starts N sessions at once (default 20), each asking one question from a fixed
list through the app's /chat endpoint, while a separate client looks customers
up on the Customer tab (/explain). Reports errors, median and p95 seconds per
chat, and the Customer lookups' latency while the chats are in flight against
the same lookups with the app idle (the ratio shows whether chats block it).

Bounded: N sessions, one question each, and --timeout seconds in all.

Usage (a UI and its LLM server running, e.g. after `make demo`):
    python benchmarks/bench_ui_load.py --url http://127.0.0.1:7860/ [--sessions 20]
        [--customer ADH0O8UVJOT10] [--timeout 1800]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

QUESTIONS = [
    "How many reviews are there in total?",
    "How many customers are there?",
    "How many products are there?",
    "How many reviews gave 5 stars?",
]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _text(content) -> str:
    """A chat message's text: Gradio 6 returns content as a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(_text(part) for part in content)
    if isinstance(content, dict):
        return str(content.get("text") or content.get("value") or "")
    return str(content)


def chat_session(url: str, number: int) -> dict:
    """One user: a fresh client (its own session), one question, the answer."""
    from gradio_client import Client

    question = QUESTIONS[number % len(QUESTIONS)]
    started = time.perf_counter()
    try:
        client = Client(url, verbose=False)
        history = client.predict(question, [], api_name="/chat")[0]  # (chatbot, textbox)
        answer = history[-1]["content"] if history else ""
        text = _text(answer)
        failed = not text or text.startswith(("⚠️", "I could not", "I ran out of time"))
        error = f"no answer: {text[:200]}" if failed else None
    except Exception as e:  # counted and reported, never hidden
        text, error = "", repr(e)[:300]
    return {
        "session": number,
        "question": question,
        "seconds": time.perf_counter() - started,
        "error": error,
        "answer": text[:200],
    }


def lookups(url: str, customer: str, rounds: int) -> list[float]:
    """Seconds per Customer-tab lookup (the facts, before any LLM text)."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        client.predict(customer, api_name="/explain")
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--customer", default="ADH0O8UVJOT10")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ui_load.json"))
    args = parser.parse_args()

    idle = lookups(args.url, args.customer, 5)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.sessions + 1) as pool:
        chats = [pool.submit(chat_session, args.url, n) for n in range(args.sessions)]
        busy_lookups = pool.submit(lookups, args.url, args.customer, 5)
        results = []
        for future in as_completed(chats, timeout=args.timeout):
            results.append(future.result())
            print(
                f"session {results[-1]['session']:>2}: {results[-1]['seconds']:6.1f} s "
                f"{results[-1]['error'] or 'ok'}",
                flush=True,
            )
        busy = busy_lookups.result(timeout=args.timeout)
    wall = time.perf_counter() - started
    seconds = [r["seconds"] for r in results]
    errors = [r for r in results if r["error"]]
    summary = {
        "sessions": args.sessions,
        "errors": len(errors),
        "wall_seconds": round(wall, 1),
        "chat_median_s": round(statistics.median(seconds), 1),
        "chat_p95_s": round(_p95(seconds), 1),
        "lookup_idle_median_s": round(statistics.median(idle), 3),
        "lookup_during_chats_median_s": round(statistics.median(busy), 3),
        "lookup_slowdown": round(statistics.median(busy) / statistics.median(idle), 2),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "sessions": results}, indent=2))
    print(json.dumps(summary, indent=2))
    for r in errors:
        print(f"error in session {r['session']}: {r['error']}")


if __name__ == "__main__":
    main()
