"""What a tool hands back: a short text for the model, a typed payload for the UI, and
whether it failed (with the fix the model should try).

The payload is one of the records below or a domain record (warehouse.records,
training.explain.Explanation); the UI picks its view by type, never by a
prefix of the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segassist.tools.text import mask_personal_data, truncate_for_model


@dataclass(frozen=True)
class ToolResult:
    """One tool call's outcome."""

    text: str
    payload: Any = None
    failed: bool = False
    fix: str | None = None  # what to do instead, when failed

    @classmethod
    def failure(cls, problem: str, fix: str, payload: Any = None) -> ToolResult:
        """A failed call: `problem` and `fix` both reach the model."""
        return cls(f"{problem} {fix}".strip(), payload, failed=True, fix=fix)

    def for_model(self) -> str:
        """The text the model reads: personal data masked, size bounded."""
        return truncate_for_model(mask_personal_data(self.text))


@dataclass(frozen=True)
class Table:
    """Rows of a query (run_sql, find_customers)."""

    columns: list[str]
    rows: list[list]
    total_rows: int
    sql: str | None = None


@dataclass(frozen=True)
class ReviewHits:
    """Reviews found by meaning (retrieval.search.ReviewHit each)."""

    hits: list = field(default_factory=list)


@dataclass(frozen=True)
class SegmentOverview:
    """Every segment of the serving model (warehouse.records.Segment each)."""

    version: str
    segments: list = field(default_factory=list)


@dataclass(frozen=True)
class WrittenText:
    """An explanation or a brief, and who wrote it ("llm" or "template")."""

    kind: str  # "explanation" or "brief"
    text: str
    written_by: str
    facts: Any = None  # training.explain.Explanation for an explanation
    segment_id: int | None = None


@dataclass(frozen=True)
class ExportedFile:
    """An audience written to a CSV file."""

    path: Path
    rows: int
