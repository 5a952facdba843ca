"""The ``qcode`` command: the app, the top-level commands and the command groups."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qcode import __version__
from qcode.cli import agreement as agreement_cli
from qcode.cli import codebook as codebook_cli
from qcode.cli import coding as coding_cli
from qcode.cli import digest as digest_cli
from qcode.cli import exports as exports_cli
from qcode.cli import imports as imports_cli
from qcode.cli import maintenance as maintenance_cli
from qcode.cli import review as review_cli
from qcode.cli import session as session_cli
from qcode.cli import suggest as suggest_cli
from qcode.cli import tables as tables_cli
from qcode.cli import transcripts as transcripts_cli
from qcode.cli.boundary import command
from qcode.cli.common import ProjectOpt, open_project, open_store
from qcode.cli.output import Format, error, info, progress_bar, render, render_object, warn
from qcode.errors import UsageError

if TYPE_CHECKING:
    from qcode.ingest.pipeline import IngestReport
    from qcode.project import Project

app = typer.Typer(
    name="qcode",
    help="Qualitative coding of interview transcripts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help and usage errors: rich's help renderer costs 80 ms
    epilog="Exit codes: 0 ok, 1 error (or some inputs failed), 2 usage, 3 validation failed, "
    "130 interrupted.",
)
app.add_typer(transcripts_cli.app, name="transcripts")
app.add_typer(codebook_cli.app, name="codebook")
app.command("suggest")(suggest_cli.suggest)
app.add_typer(suggest_cli.app, name="suggestions")
app.add_typer(exports_cli.app, name="export")
app.add_typer(imports_cli.app, name="import")
coding_cli.register(app)
review_cli.register(app)
session_cli.register(app)
tables_cli.register(app)
agreement_cli.register(app)
maintenance_cli.register(app)
app.command("digest")(digest_cli.digest)


def _version(value: bool) -> None:
    if value:
        print(f"qcode {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    project: ProjectOpt = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """qcode: ingest transcripts, code them with a codebook, export quotes per theme."""
    ctx.obj = {"project": project}


@app.command()
@command
def init(
    folder: Annotated[Path, typer.Argument(help="Folder of the new project.")] = Path("."),
    name: Annotated[str | None, typer.Option(help="Name of the study.")] = None,
    language: Annotated[str, typer.Option(help="Language of the transcripts.")] = "fr",
    db: Annotated[str | None, typer.Option(
        "--db", metavar="URL", show_default=False,
        help="Keep the store in this PostgreSQL database (postgresql://user@host:port/db), "
        "shared by the team, instead of a SQLite file in the project.")] = None,
) -> None:
    """Create a project: qcode.yaml, codebooks/, transcripts/, exports/."""
    from qcode.project import init as init_project

    if db is not None:
        from qcode.store import Store, redacted

        if "://" not in db:
            raise UsageError(f"--db {db}: not a database URL",
                             hint="write it as postgresql://user@host:port/database")
        Store.open(db).close()  # reachable, and its schema created (or already there)
        if ":" in db.split("://", 1)[1].split("@", 1)[0] and "@" in db:
            warn(f"the password in {redacted(db)} is written to qcode.yaml; prefer "
                 "~/.pgpass or PGPASSWORD and a URL without it")
    config = init_project(folder, name, language, store=db)
    info(f"created {config}")
    info("next: put transcripts in transcripts/ and run 'qcode ingest'")


def _run_ingest(project: Project, paths: list[Path] | None, force: bool) -> IngestReport:
    from qcode.ingest.pipeline import ingest as do_ingest

    store = open_store(project)
    update, bar = progress_bar()
    if bar is not None:
        with bar:
            return do_ingest(project, store, paths, force=force, progress=update)
    return do_ingest(project, store, paths, force=force)


def _report_ingest(report: IngestReport, verbose: bool = True) -> None:
    for outcome in report.outcomes:
        if outcome.status == "failed":
            continue
        if verbose and outcome.status in {"added", "updated", "refreshed"}:
            info(f"{outcome.status:9} {outcome.transcript_id}: {outcome.turns} turns, "
                 f"{outcome.words} words" + (f"; {outcome.message}" if outcome.message else ""))
        elif verbose and outcome.status == "unchanged":
            info(f"{'unchanged':9} {outcome.transcript_id}"
                 + (f" — {outcome.message.removeprefix('unchanged ')}"
                    if outcome.message != "unchanged" else ""))
        for message in outcome.warnings:
            warn(f"{outcome.transcript_id}: {message}")
    for message in report.warnings:
        warn(message)
    for message in report.errors:
        error(message)
    counts = Counter(o.status for o in report.outcomes)
    parts = [f"{counts[s]} {s}" for s in ("added", "updated", "refreshed", "unchanged",
                                          "failed", "skipped") if counts[s]]
    sheet_errors = len(report.errors) - counts["failed"]
    if sheet_errors:
        parts.append(f"{sheet_errors} attribute-sheet problem(s)")
    info(f"ingest: {', '.join(parts) or 'nothing to do'}")


@app.command()
@command
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Files or folders (default: the project's transcripts folder).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Read unchanged files again.")] = False,
    fmt: Annotated[Format | None, typer.Option("--format", "-f",
                   help="Print the per-file report on stdout (json or csv).")] = None,
    project: ProjectOpt = None,
) -> None:
    """Read transcripts into the store (unchanged files are skipped)."""
    proj = open_project(ctx, project)
    report = _run_ingest(proj, paths or None, force)
    _report_ingest(report, verbose=fmt is None)
    if fmt is not None and fmt is not Format.table:
        render([asdict(o) for o in report.outcomes], fmt)
    elif fmt is Format.table:
        render([asdict(o) for o in report.outcomes], fmt,
               columns=["transcript_id", "status", "turns", "words", "message"],
               wrap=("message",))
    if not report.ok:
        raise typer.Exit(1)


@app.command()
@command
def run(
    ctx: typer.Context,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Summary format.")] = Format.table,
    project: ProjectOpt = None,
) -> None:
    """The main job: ingest the transcripts, check and sync the codebook, summarise the study."""
    from qcode import mainjob
    from qcode.coders import KEYWORD_CODER

    proj = open_project(ctx, project)
    update, bar = progress_bar()
    store = open_store(proj)
    if bar is not None:
        with bar:
            result = mainjob.run(proj, store, update)
    else:
        result = mainjob.run(proj, store)
    _report_ingest(result.ingest, verbose=False)
    for note in result.notes:
        info(f"note: {note}")
    if result.codebook:
        info(f"suggestions: {result.accepted} accepted as {KEYWORD_CODER!r} (score ≥ "
             f"{mainjob.ACCEPT_SCORE}); review the others with 'qcode review'")
    summary = result.summary
    if fmt is Format.json:
        render_object({"project": proj.name, **summary, "codebook": result.codebook,
                       "exports": [str(p) for p in result.exports],
                       "accepted_suggestions": result.accepted,
                       "accept_score": mainjob.ACCEPT_SCORE, "errors": result.ingest.errors})
    else:
        info(f"\n{proj.name}")
        columns = ["group", "value", "transcripts", "turns", "words"]
        render(summary["by_format"] + summary["totals"], fmt, columns,
               title="Transcripts in the store")
        render(summary["by_attribute"], fmt, columns, title="By initiative and role")
        if result.codebook:
            render(result.codebook, fmt, title="Themes: codings (keyword codings accepted at "
                   f"score ≥ {mainjob.ACCEPT_SCORE} included) and suggestions left to review")
    if fmt is not Format.json:
        for path in result.exports:
            print(path)  # the exports written, one per line, for the reader and for scripts
    if not result.ok:
        raise typer.Exit(1)


def run_cli() -> None:
    """Entry point of the console script."""
    try:
        app()
    except BrokenPipeError:  # e.g. 'qcode transcripts list | head'
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)

