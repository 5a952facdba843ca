"""The QcodeError family and the documented exit codes.

Every error qcode raises for a user-facing problem is a :class:`QcodeError`. Its message says
what is wrong, where (file, line, column, transcript, turn) and, when known, how to fix it. The
command-line layer is the only place that turns these into exit codes; the library never exits.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Exit codes of the ``qcode`` command (documented in the README)."""

    OK = 0
    ERROR = 1  # a runtime error, or some inputs could not be processed
    USAGE = 2  # bad command-line usage: unknown option, bad argument
    VALIDATION = 3  # a file or the project failed validation
    INTERRUPTED = 130  # Ctrl-C


def where(path: str | Path | None, line: int | None = None, column: int | None = None) -> str:
    """Render a location as ``file:line:column`` (parts that are unknown are left out)."""
    if path is None:
        return ""
    out = str(path)
    if line is not None:
        out += f":{line}"
        if column is not None:
            out += f":{column}"
    return out


class QcodeError(Exception):
    """A problem the user can act on. ``str(err)`` is the one-line message to show."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.hint = hint

    def __str__(self) -> str:
        loc = where(self.path, self.line, self.column)
        text = f"{loc}: {self.message}" if loc else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class InputError(QcodeError):
    """An input file that cannot be read: unknown format, bad encoding, malformed content."""


class ProjectError(QcodeError):
    """No project found, or qcode.yaml is invalid."""


class StoreError(QcodeError):
    """The store cannot be opened or is in an unexpected state."""


class NotFoundError(QcodeError):
    """A transcript, code or coding named by the user does not exist."""


class UsageError(QcodeError):
    """The command was called with arguments that cannot work together."""

    exit_code = ExitCode.USAGE


class ValidationError(QcodeError):
    """A file or the project failed validation; ``problems`` holds every problem found."""

    exit_code = ExitCode.VALIDATION

    def __init__(self, message: str, problems: list[str] | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.problems = problems or []
