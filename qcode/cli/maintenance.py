"""``qcode check`` (is the project intact?) and ``qcode backup`` (a copy of the store)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qcode.cli.boundary import command
from qcode.cli.common import FormatOpt, ProjectOpt, open_project
from qcode.cli.output import Format, info, render

COLUMNS = ["severity", "check", "where", "problem", "fix"]


@command
def check(ctx: typer.Context, fmt: FormatOpt = Format.table, project: ProjectOpt = None) -> None:
    """Verify the store and the project; list every problem with the command that fixes it.

    Exits 0 when no problem is found (warnings and notes allowed), 1 when there are problems.
    """
    from qcode.check import check as run_check

    proj = open_project(ctx, project)
    report = run_check(proj)
    if report.findings or fmt is not Format.table:
        render(report.rows(), fmt, COLUMNS, wrap=("problem", "fix"))
    checked = ", ".join(f"{n} {kind}" for kind, n in report.checked.items()
                        if kind != "schema version")
    version = report.checked.get("schema version")
    info(f"check: {report.count('error')} problem(s), {report.count('warning')} warning(s), "
         f"{report.count('note')} note(s) in {report.seconds:.2f} s — {report.engine} store "
         f"{report.store}" + (f", schema version {version}" if version else "")
         + (f"; checked {checked}" if checked else ""))
    if not report.ok:
        raise typer.Exit(1)


@command
def backup(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(
        help="Where to write the copy (a file, or a folder for the default name; default: "
             ".qcode/backups/qcode-<UTC time>.db, or .dump for a PostgreSQL store).",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
    project: ProjectOpt = None,
) -> None:
    """Copy the store consistently while others work; print the copy's path.

    SQLite: the online backup, checked with PRAGMA integrity_check. PostgreSQL: pg_dump
    (custom format, for pg_restore). The copy is readable by its owner only.
    """
    from qcode.check import backup as run_backup

    proj = open_project(ctx, project)
    result = run_backup(proj, file, force=force)
    mb = result.size / (1024 * 1024)
    how = "integrity checked" if result.engine == "sqlite" else "pg_dump, listed by pg_restore"
    info(f"backup: {mb:.1f} MB, schema version {result.schema_version}, {how}, in "
         f"{result.seconds:.2f} s")
    print(result.path)


def register(app: typer.Typer) -> None:
    app.command()(check)
    app.command()(backup)
