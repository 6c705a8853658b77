"""Progress reporting as a plain argument: library code takes a factory, the CLI passes tqdm."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol


class ProgressBar(Protocol):
    """The part of a tqdm bar that segassist's long jobs use."""

    def update(self, n: int) -> None:
        """Advance the bar by `n` units."""


ProgressFactory = Callable[[int | None, str], AbstractContextManager[ProgressBar]]


class _Silent:
    def update(self, n: int) -> None:
        """Do nothing."""


def no_progress(total: int | None, desc: str) -> AbstractContextManager[ProgressBar]:
    """A progress factory that shows nothing (the default outside the CLI)."""
    return nullcontext(_Silent())
