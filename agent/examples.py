"""Verified question-to-SQL examples, retrieved by meaning for each question.

The technique Vanna is built on: a small model writes the right SQL far more
often when it sees a few worked questions like the one asked, over this schema,
than from the schema alone. The examples live in agent/prompts/sql_examples.jsonl
(English, Portuguese and Chinese questions over the semantic views); a test runs
every one on SQLite and PostgreSQL, so none can drift from the schema. They are
found with the multilingual E5 embedder, so a Portuguese or Chinese question
meets the English example of its kind.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from dataclasses import dataclass
from importlib import resources

import numpy as np
from segassist.agent.guards import plain_text

EXAMPLES_FILE = "sql_examples.jsonl"
TOP_K = 2
# Below this cosine similarity an example is more likely to mislead than help.
MIN_SIMILARITY = 0.90


@dataclass(frozen=True)
class Example:
    question: str
    sql: str


def load_examples() -> list[Example]:
    """The shipped examples, in file order."""
    text = resources.files("segassist.agent.prompts").joinpath(EXAMPLES_FILE).read_text("utf-8")
    return [Example(**json.loads(line)) for line in text.splitlines() if line.strip()]


class ExampleBank:
    """The examples and their question vectors (embedded once, on first use)."""

    def __init__(self, examples: list[Example] | None = None, embedder=None) -> None:
        self.examples = load_examples() if examples is None else examples
        self._embedder = embedder
        self._vectors: np.ndarray | None = None
        self._lock = threading.Lock()

    def _embedding(self):
        if self._embedder is None:
            from segassist.retrieval.embedders import make_embedder

            self._embedder = make_embedder("e5-multilingual")
        return self._embedder

    def _matrix(self) -> np.ndarray:
        with self._lock:
            if self._vectors is None:
                # Question against question: both sides as E5 queries.
                embedder = self._embedding()
                self._vectors = _unit(
                    np.stack([embedder.embed_query(e.question) for e in self.examples])
                )
            return self._vectors

    def similar(self, question: str, k: int = TOP_K) -> list[tuple[Example, float]]:
        """The `k` examples closest in meaning to `question` (cosine >= MIN_SIMILARITY),
        closest first."""
        if not self.examples or not question.strip():
            return []
        query = _unit(self._embedding().embed_query(question)[None, :])[0]
        scores = self._matrix() @ query
        order = np.argsort(-scores)[:k]
        return [(self.examples[i], float(scores[i])) for i in order if scores[i] >= MIN_SIMILARITY]


def copied(sql: str, question: str, shown: list[Example]) -> Example | None:
    """The shown example whose SQL `sql` is, unchanged, when that example asks another
    question (a small model often runs the example as it is)."""

    for example in shown:
        same_sql = plain_text(sql).rstrip(";") == plain_text(example.sql).rstrip(";")
        if same_sql and plain_text(question) != plain_text(example.question):
            return example
    return None


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


@functools.cache
def default_bank() -> ExampleBank:
    """One bank per process (the embedder and the vectors are loaded once)."""
    return ExampleBank()


_STRING = re.compile(r"'([^']*)'")
# A number compared with, except 0 (orders > 0 is how "has bought" reads, not a value).
_COMPARED_NUMBER = re.compile(r"(?<=[=<>] )(?!0(?![.\d]))-?\d+(?:\.\d+)?\b")
_DATE_SHAPES = (
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "<YYYY-MM-DD>"),
    (re.compile(r"\d{4}-\d{2}"), "<YYYY-MM>"),
    (re.compile(r"\d{4}-%"), "<YYYY>-%"),
)


def pattern_of(sql: str) -> str:
    """The example's SQL with the values its question gave left as blanks: a small model
    copies a worked example's numbers and dates into a question that asks for others."""

    def blank(match: re.Match) -> str:
        value = match.group(1)
        for shape, placeholder in _DATE_SHAPES:
            if shape.fullmatch(value):
                return f"'{placeholder}'"
        return "'<value>'"

    return _COMPARED_NUMBER.sub("<number>", _STRING.sub(blank, sql))


def examples_text(found: list[Example]) -> str:
    """The examples as the model reads them, after the question: each one's question and
    its SQL with the values as blanks to fill from my question."""
    if not found:
        return ""
    lines = [
        "Verified SQL patterns of similar questions. To answer my question, fill the <...> "
        "blanks with the values my question gives, and change the conditions where my "
        "question asks for something else:"
    ]
    for example in found:
        lines.append(f"Q: {example.question}\nSQL: {pattern_of(example.sql)}")
    return "\n".join(lines)
