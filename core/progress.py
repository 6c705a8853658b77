"""Progress reporting as a plain argument: library code takes a factory, the CLI passes tqdm."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol, TextIO


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


class StageLines:
    """Progress for logs and pipes: one line when the stage ends (count, time, rate), and
    on long stages one line every `every_s` seconds with the share done and the time left,
    instead of a terminal bar's wall of carriage returns."""

    def __init__(
        self, total: int | None, desc: str, stream: TextIO, every_s: float = 300, unit: str = ""
    ):
        self.total, self.desc, self.stream, self.every_s = total, desc, stream, every_s
        self.unit = unit  # printed after the count, e.g. " epochs"
        self.done = 0
        self.started = self.last_line = time.monotonic()
        self.postfix = ""

    def __enter__(self) -> StageLines:
        return self

    def __exit__(self, *exc) -> None:
        self.close(failed=exc[0] is not None)

    def update(self, n: int = 1) -> None:
        """Advance by `n` units; print a line when the last one is `every_s` old."""
        self.done += n
        now = time.monotonic()
        if now - self.last_line >= self.every_s:
            self.last_line = now
            self._print(self._state(now, "running"))

    def set_postfix(self, **values: object) -> None:
        """Figures shown after the count (as tqdm's set_postfix)."""
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self, failed: bool = False) -> None:
        """Print the stage's closing line."""
        self._print(self._state(time.monotonic(), "stopped" if failed else "done"))

    def _state(self, now: float, word: str) -> str:
        seconds = max(now - self.started, 1e-9)
        count = f"{self.done:,}" + (f"/{self.total:,}" if self.total else "") + self.unit
        rate = f"{self.done / seconds:,.1f}{self.unit}/s"
        line = f"{self.desc}: {word}, {count} in {seconds:.0f} s ({rate})"
        if word == "running" and self.total and self.done:
            left = (self.total - self.done) * seconds / self.done
            line += f", {self.done / self.total:.0%}, about {left / 60:.0f} min left"
        return line + (f"; {self.postfix}" if self.postfix else "")

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)
