"""``qcode codebook add|rename|merge|move``: edit the codebook YAML in place.

Each command syncs the codebook, edits the YAML (comments and layout kept) and moves the codings
with it in one step; it prints what it did on stderr, and nothing on stdout except, with
``--dry-run``, the change to the YAML as a unified diff (then nothing is changed).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from qcode.cli.boundary import command
from qcode.cli.codebook import app, report_sync
from qcode.cli.common import ProjectOpt, open_project, open_store
from qcode.cli.output import info, warn

if TYPE_CHECKING:
    from qcode.codebook_edit import EditResult


class Unit(StrEnum):
    sentence = "sentence"
    turn = "turn"


DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Print the change to the YAML as a diff on stdout; change nothing.")]


def _report(result: EditResult) -> None:
    if result.sync is not None:
        report_sync(result.sync)
    for warning in result.warnings:
        warn(warning)
    if result.dry_run:
        sys.stdout.write(result.diff)
        info(f"dry run, nothing changed: {result.message}")
    else:
        info(result.message)


@app.command()
@command
def add(
    ctx: typer.Context,
    code_id: Annotated[str, typer.Argument(metavar="ID", help="Id of the new code.",
                                           show_default=False)],
    label: Annotated[str, typer.Option("--label", "-l", help="Its label (required).",
                                       show_default=False)],
    parent: Annotated[str | None, typer.Option(
        "--parent", "-p", help="Theme or code to put it under (id, label or key); without it, "
        "a new theme.", show_default=False)] = None,
    description: Annotated[str | None, typer.Option(
        "--description", "-d", help="Its definition.", show_default=False)] = None,
    key: Annotated[str | None, typer.Option(
        "--key", help="One or two letters for quick tagging.", show_default=False)] = None,
    color: Annotated[str | None, typer.Option(
        "--color", help="Colour as #RRGGBB.", show_default=False)] = None,
    keyword: Annotated[list[str] | None, typer.Option(
        "--keyword", "-k", help="A keyword (repeat the option for more).",
        show_default=False)] = None,
    unit: Annotated[Unit | None, typer.Option(
        "--unit", help="What a keyword hit expands to.", show_default=False)] = None,
    dry_run: DryRunOpt = False,
    project: ProjectOpt = None,
) -> None:
    """Add a code under a theme or code (or a new theme) to the codebook YAML."""
    from qcode.codebook_edit import add_code

    proj = open_project(ctx, project)
    _report(add_code(proj, open_store(proj), code_id, label, parent=parent,
                     description=description, key=key, color=color, keywords=keyword or [],
                     unit=unit.value if unit is not None else None, dry_run=dry_run))


@app.command()
@command
def rename(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(help="The code (id, label or key).", show_default=False)],
    new: Annotated[str, typer.Argument(help="Its new id.", show_default=False)],
    label: Annotated[str | None, typer.Option(
        "--label", "-l", help="Its new label.", show_default=False)] = None,
    dry_run: DryRunOpt = False,
    project: ProjectOpt = None,
) -> None:
    """Change a code's id (and label); its codings follow."""
    from qcode.codebook_edit import rename_code

    proj = open_project(ctx, project)
    _report(rename_code(proj, open_store(proj), old, new, label=label, dry_run=dry_run))


@app.command()
@command
def merge(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="The code that disappears (id, label or key).",
                                          show_default=False)],
    target: Annotated[str, typer.Argument(help="The code that takes its codings, sub-codes "
                                          "and keywords.", show_default=False)],
    dry_run: DryRunOpt = False,
    project: ProjectOpt = None,
) -> None:
    """Merge SOURCE into TARGET: codings (deduplicated), sub-codes and keywords."""
    from qcode.codebook_edit import merge_codes

    proj = open_project(ctx, project)
    _report(merge_codes(proj, open_store(proj), source, target, dry_run=dry_run))


@app.command()
@command
def move(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The code (id, label or key).",
                                        show_default=False)],
    to: Annotated[str | None, typer.Option(
        "--to", help="The theme or code to put it under.", show_default=False)] = None,
    top: Annotated[bool, typer.Option(
        "--top", help="Make it a theme (top level).")] = False,
    dry_run: DryRunOpt = False,
    project: ProjectOpt = None,
) -> None:
    """Move a code and its sub-codes under another theme or code (--to) or to the top (--top)."""
    from qcode.codebook_edit import move_code
    from qcode.errors import UsageError

    if (to is None) == (not top):
        raise UsageError("give either --to PARENT or --top")
    proj = open_project(ctx, project)
    _report(move_code(proj, open_store(proj), code, to, dry_run=dry_run))
