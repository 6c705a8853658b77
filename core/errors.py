"""Errors sorted by who caused them.

`UserInputError` and its children are the user's to fix (a bad file, a bad
argument); the CLI prints their message and exits 2. `InfrastructureError`
covers what the machine failed at (database gone, model missing); the CLI
prints it and exits 1. Every message says what to do next.
"""

from __future__ import annotations


class SegassistError(Exception):
    """Base of every error segassist raises on purpose."""


class UserInputError(SegassistError):
    """The user gave something we cannot use; the message says how to fix it."""


class ImportValidationError(UserInputError):
    """A data file does not match what its importer expects.

    Carries the file, the 1-based line (or row) number, the column and what was
    expected, so the message points at the exact cell to fix.
    """

    def __init__(
        self,
        path: str,
        problem: str,
        *,
        line: int | None = None,
        unit: str = "line",
        column: str | None = None,
        expected: str | None = None,
        found: object = None,
        hint: str | None = None,
    ) -> None:
        self.path = str(path)
        self.problem = problem
        self.line = line
        self.unit = unit
        self.column = column
        self.expected = expected
        self.found = found
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.path if len(self.path) <= 60 else "..." + self.path[-57:]
        if self.line is not None:
            where += f", {self.unit} {self.line}"
        if self.column is not None:
            where += f", column {_short(self.column, 40)!r}"
        parts = [f"{where}: {self.problem}"]
        if self.expected is not None:
            parts.append(f"expected {self.expected}")
        if self.found is not None:
            found = self.found if isinstance(self.found, str) else repr(self.found)
            parts.append(
                f"found {_short(found, 40)!r}"
                if found != "an empty cell"
                else "found an empty cell"
            )
        message = "; ".join(parts) + "."
        if self.hint:
            message += f" {self.hint}"
        return _short(message, MESSAGE_CHARS)


MESSAGE_CHARS = 240  # one line of a wide terminal: no error prints a file's header


def _short(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class MappingError(UserInputError):
    """A bring-your-own-data mapping file is malformed."""

    def __init__(self, message: str) -> None:
        super().__init__(_short(message, MESSAGE_CHARS))


class InfrastructureError(SegassistError):
    """Something outside the user's input failed: database, model, server."""


class DatabaseUnavailableError(InfrastructureError):
    """The configured database cannot be reached or opened."""
