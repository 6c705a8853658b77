"""What the tools are bound to (no module state): the database, the review index, the
folder exports go to, and an optional LLM writer for explanations and briefs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine


@dataclass
class ToolContext:
    """What the tools need: the database, the review index (or None), where exports go."""

    engine: Engine
    index: object | None
    exports_dir: Path
    write_text: Callable[[str, str], str | None] | None = None  # (task, facts) -> LLM text


def run_setting(config, key: str, default=None):
    """What the agent passed for this question in the run's config (`configurable`): the
    question's language, the entity it counts; `default` when called outside the agent."""
    return ((config or {}).get("configurable") or {}).get(key, default)
