"""The one place that turns qcode's errors into messages and exit codes.

Every command is wrapped by :func:`command`: a :class:`QcodeError` becomes one line on stderr
(all problems, for a validation error) and its documented exit code; Ctrl-C exits with 130.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from qcode.cli.output import error
from qcode.errors import ExitCode, QcodeError, ValidationError

F = TypeVar("F", bound=Callable[..., Any])


def command(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ValidationError as exc:
            for problem in exc.problems:
                if problem.startswith("warning: "):
                    print(problem, file=sys.stderr)
                else:
                    error(problem)
            error(str(exc))
            raise typer.Exit(int(exc.exit_code)) from None
        except QcodeError as exc:
            error(str(exc))
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            error("interrupted; every action completed before Ctrl-C is saved")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None

    return wrapper  # type: ignore[return-value]
