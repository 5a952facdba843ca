"""Render rows as a table (on a terminal), JSON or CSV, and messages on stderr.

Data goes to stdout; progress, warnings and errors go to stderr. One render function serves
every listing, so ``--format table|json|csv`` means the same thing everywhere.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, TextIO


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return "; ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def render(
    rows: Sequence[dict[str, Any]],
    fmt: Format,
    columns: Sequence[str] | None = None,
    *,
    title: str | None = None,
    wrap: Sequence[str] = (),
    out: TextIO | None = None,
) -> None:
    """Print ``rows`` in ``fmt``. ``columns`` picks and orders the keys (all keys by default)."""
    out = out or sys.stdout
    cols = list(columns) if columns is not None else _all_keys(rows)
    if fmt is Format.json:
        json.dump([{c: row.get(c) for c in cols} for row in rows], out, ensure_ascii=False,
                  indent=2)
        out.write("\n")
    elif fmt is Format.csv:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(cols)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in cols])
    else:
        _table(rows, cols, title, wrap, out)


def render_object(obj: Any, out: TextIO | None = None) -> None:
    """Print one JSON document."""
    out = out or sys.stdout
    json.dump(obj, out, ensure_ascii=False, indent=2)
    out.write("\n")


def _all_keys(rows: Sequence[dict[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    return list(keys)


def _table(rows: Sequence[dict[str, Any]], cols: list[str], title: str | None,
           wrap: Sequence[str], out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, highlight=False, soft_wrap=False,
                      width=None if out.isatty() else 160)
    table = Table(title=title, show_lines=False, header_style="bold")
    for c in cols:
        numeric = bool(rows) and all(isinstance(r.get(c), int | float) for r in rows)
        table.add_column(c, justify="right" if numeric else "left",
                         overflow="fold", no_wrap=c not in wrap)
    for row in rows:
        table.add_row(*(_escape(_cell(row.get(c))) for c in cols))
    console.print(table)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def progress_bar() -> tuple[Callable[[str, int, int, str], None] | None, Any]:
    """A rich progress bar on stderr when it is a terminal (else ``(None, None)``).

    Returns the callback the library calls with (stage, done, total, current item), and the
    bar to use as a context manager around the work.
    """
    if not sys.stderr.isatty():
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(TextColumn("{task.fields[stage]}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.description}"), console=Console(stderr=True),
                   transient=True)
    task = bar.add_task("", total=None, stage="")

    def update(stage: str, done: int, total: int, item: str) -> None:
        bar.update(task, completed=done, total=total, description=item, stage=stage)

    return update, bar


def info(message: str) -> None:
    """A message for the user on stderr."""
    print(message, file=sys.stderr)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
