"""``qcode codebook``: show, validate, sync (edits and REFI-QDA exchange register below)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qcode.cli.boundary import command
from qcode.cli.common import FormatOpt, ProjectOpt, open_project, open_store
from qcode.cli.output import Format, info, render, warn

app = typer.Typer(help="Show, check, edit and exchange the codebook.", no_args_is_help=True,
                  rich_markup_mode=None)

ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Keep codings of codes removed from the YAML as orphans.")]


def report_sync(report: object) -> None:
    from qcode.codebook_sync import SyncReport, describe_codings

    assert isinstance(report, SyncReport)
    if not report.changed:
        return
    parts = []
    if report.added:
        parts.append(f"{len(report.added)} added")
    if report.removed:
        parts.append(f"{len(report.removed)} removed")
    info(f"codebook synced into the store{': ' + ', '.join(parts) if parts else ''}")
    for cid in report.orphaned:
        warn(f"code {cid!r} is no longer in the codebook; its codings are kept as orphans:")
    for line in describe_codings(report.orphan_codings):
        warn(f"  {line}")


@app.command()
@command
def show(
    ctx: typer.Context,
    tree: Annotated[bool, typer.Option("--tree", help="Indent codes under their theme.")] = False,
    fmt: FormatOpt = Format.table,
    project: ProjectOpt = None,
) -> None:
    """Themes and codes: id, label, depth, keywords and codings counts."""
    from qcode.codebook_sync import open_synced, overview

    proj = open_project(ctx, project)
    store = open_store(proj)
    book, report = open_synced(proj, store)
    report_sync(report)
    rows = overview(store, book)
    if tree and fmt is Format.table:
        for r in rows:
            r["label"] = "  " * r["depth"] + r["label"]
        render(rows, fmt, ["label", "id", "key", "keywords", "codings", "status"],
               title=book.name)
    else:
        render(rows, fmt, ["id", "label", "depth", "parent", "theme", "codable", "key",
                           "color", "unit", "keywords", "codings", "codings_with_subcodes",
                           "status"], title=None if fmt is not Format.table else book.name)


@app.command()
@command
def validate(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(
        help="Codebook file (default: the project's).", show_default=False)] = None,
    project: ProjectOpt = None,
) -> None:
    """Check a codebook and report every problem as file:line:column (exit 3 on errors)."""
    from qcode.codebook import load_valid

    path = file if file is not None else (lambda p: p.root / p.codebook)(
        open_project(ctx, project))
    book = load_valid(path)
    for problem in book.warnings:
        warn(str(problem))
    themes = len(book.roots)
    codes = len(book.codes) - themes
    keywords = sum(len(c.keywords) for c in book.codes.values())
    info(f"{path}: ok ({themes} themes, {codes} codes, {keywords} keywords"
         f"{f', {len(book.warnings)} warning(s)' if book.warnings else ''})")


@app.command()
@command
def sync(ctx: typer.Context, force: ForceOpt = False, project: ProjectOpt = None) -> None:
    """Bring the store's codes in line with the codebook YAML."""
    from qcode.codebook_sync import open_synced

    proj = open_project(ctx, project)
    _, report = open_synced(proj, open_store(proj), force=force)
    report_sync(report)
    if not report.changed:
        info("codebook already in sync")
from qcode.cli import codebook_edit as _edit  # noqa: E402,F401  (registers add/rename/merge/move)
from qcode.cli import codebook_refi as _refi  # noqa: E402,F401  (registers export/import)
