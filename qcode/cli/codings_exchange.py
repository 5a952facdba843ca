"""``qcode export codings`` and ``qcode import codings``: coders working apart.

Registered on the ``export`` group (:mod:`qcode.cli.exports`) and the ``import`` group
(:mod:`qcode.cli.imports`) by the last line of each. The format and the import rules are in
:mod:`qcode.exchange`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from qcode.cli.boundary import command
from qcode.cli.common import ProjectOpt, open_project, open_store
from qcode.cli.exports import (
    CodeOpt,
    CoderOpt,
    OriginOpt,
    OutOpt,
    ThemeOpt,
    TranscriptOpt,
    _shown,
    _stdout,
)
from qcode.cli.exports import app as export_app
from qcode.cli.imports import app as import_app
from qcode.cli.output import Format, info, render, render_object, warn


class ExchangeFormat(StrEnum):
    jsonl = "jsonl"


class ReportFormat(StrEnum):
    table = "table"
    json = "json"


@export_app.command("codings")
@command
def export_codings(
    ctx: typer.Context,
    coder: CoderOpt = None,
    transcript: TranscriptOpt = None,
    code: CodeOpt = None,
    theme: ThemeOpt = None,
    origin: OriginOpt = None,
    fmt: Annotated[ExchangeFormat, typer.Option(
        "--format", "-f", help="jsonl: a header line, then one JSON object per coding.")
    ] = ExchangeFormat.jsonl,
    out: OutOpt = None,
    project: ProjectOpt = None,
) -> None:
    """Codings for another copy of the project (default: exports/codings[-CODER].jsonl)."""
    from qcode import exchange
    from qcode.codebook_sync import open_synced

    proj = open_project(ctx, project)
    store = open_store(proj)
    book, _ = open_synced(proj, store)
    options = {"coders": coder or [], "transcripts": transcript or [], "codes": code or [],
               "themes": theme or [], "origins": [o.value for o in origin or []]}
    if out == "-":
        result = exchange.export_codings(proj, store, book, **options)
        _stdout(result.data)
    else:
        result = exchange.write_codings(proj, store, book, Path(out) if out else None,
                                        **options)
    for note in result.notes:
        warn(note)
    if result.path is not None:
        noun = "coding" if result.count == 1 else "codings"
        info(f"wrote {_shown(result.path)} ({result.count} {noun}, {fmt.value})")


@import_app.command("codings")
@command
def import_codings(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(
        metavar="FILE", help="A file written by 'qcode export codings'.", exists=True,
        dir_okay=False,
        readable=True)],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Report what would be imported; change nothing.")] = False,
    coder: Annotated[str | None, typer.Option(
        "--coder", help="Who runs the import: their 'qcode undo' reverts it (default: "
        "$QCODE_CODER, the project's or user's setting, the OS user). Imported codings keep "
        "their own coders.", show_default=False)] = None,
    fmt: Annotated[ReportFormat, typer.Option(
        "--format", "-f", help="Report format.")] = ReportFormat.table,
    project: ProjectOpt = None,
) -> None:
    """Import another coder's codings: idempotent, transcripts matched by their text.

    Exit 0 when every line was imported or already present, 1 when some could not be
    (unknown transcript or code, unplaced, conflict; the others are imported), 3 for a
    malformed file (nothing imported).
    """
    from qcode import exchange
    from qcode.codebook_sync import open_synced
    from qcode.coders import resolve_coder

    proj = open_project(ctx, project)
    store = open_store(proj)
    book, _ = open_synced(proj, store)
    report = exchange.import_codings(proj, store, book, file, coder=resolve_coder(coder, proj),
                                     dry_run=dry_run)
    for note in report.notes:
        info(f"note: {note}")
    if fmt is ReportFormat.json:
        render_object(report.as_dict())
    else:
        counts = report.counts()
        render([{"status": s, "lines": n} for s, n in counts.items()], Format.table,
               ["status", "lines"], title=f"Import of {file.name}"
               + (" (dry run)" if dry_run else ""))
        problems = report.problems()
        if problems:
            render([{"line": r.line, "status": r.status, "transcript": r.transcript,
                     "span": f"{r.start}:{r.end}", "code": r.code, "coder": r.coder,
                     "detail": r.detail} for r in problems], Format.table,
                   ["line", "status", "transcript", "span", "code", "coder", "detail"],
                   wrap=("detail",))
    _summary(report)
    if not report.ok:
        raise typer.Exit(1)


def _summary(report: object) -> None:
    from qcode.exchange import FAILED, ImportReport

    assert isinstance(report, ImportReport)
    counts = report.counts()
    added, present = report.added, counts["already_present"]
    failed = sum(counts[s] for s in FAILED)
    verb = "would import" if report.dry_run else "imported"
    text = f"{verb} {added} coding(s)"
    if counts["reanchored"]:
        text += f" ({counts['reanchored']} re-anchored)"
    text += f", {present} already present"
    if failed:
        text += f", {failed} not imported (see the lines above)"
    if report.dry_run:
        text += "; dry run: nothing written"
    elif added:
        text += "; 'qcode undo' reverts the import"
    info(text)
