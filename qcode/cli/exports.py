"""``qcode export``: quotes per theme and IRaMuTeQ corpora (other exports join this group).

Files go to the project's exports folder by default, or to stdout with ``--out -``; a file is
replaced atomically, and the path written is printed on stderr.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from qcode.cli.boundary import command
from qcode.cli.common import ProjectOpt, open_project, open_store
from qcode.cli.output import info, warn

app = typer.Typer(help="Export quotes and corpora (to the exports folder, or stdout with "
                  "--out -).", no_args_is_help=True, rich_markup_mode=None)


class QuoteFormat(StrEnum):
    md = "md"
    csv = "csv"
    json = "json"


class Origin(StrEnum):
    manual = "manual"
    keyword = "keyword"
    import_ = "import"
    all = "all"


ThemeOpt = Annotated[list[str] | None, typer.Option(
    "--theme", help="A theme (id, label): its codes and sub-codes. Repeatable.",
    show_default=False)]
CodeOpt = Annotated[list[str] | None, typer.Option(
    "--code", "-c", help="A code (id, label, key) with its sub-codes. Repeatable.",
    show_default=False)]
TranscriptOpt = Annotated[list[str] | None, typer.Option(
    "--transcript", "-t", help="Only this transcript. Repeatable.", show_default=False)]
WhereOpt = Annotated[list[str] | None, typer.Option(
    "--where", "-w", help="attribute=value on the transcripts (e.g. role=membre); several "
    "attributes must all hold, several values of one attribute are alternatives.",
    show_default=False)]
CoderOpt = Annotated[list[str] | None, typer.Option(
    "--coder", help="Only this coder's codings. Repeatable.", show_default=False)]
OriginOpt = Annotated[list[Origin] | None, typer.Option(
    "--origin", help="manual, keyword, import or all (default: all).", show_default=False)]
OutOpt = Annotated[str | None, typer.Option(
    "--out", "-o", help="File to write, or - for stdout (default: in the exports folder).",
    show_default=False)]


def _shown(path: Path) -> str:
    """The path relative to the current folder when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _stdout(data: str | bytes) -> None:
    """The export on stdout, as UTF-8 bytes whatever the terminal's encoding."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (e.g. a test runner's)
        sys.stdout.write(raw.decode("utf-8"))
    else:
        sys.stdout.flush()
        buffer.write(raw)
    sys.stdout.flush()


@app.command("quotes")
@command
def quotes(
    ctx: typer.Context,
    theme: ThemeOpt = None,
    code: CodeOpt = None,
    transcript: TranscriptOpt = None,
    where: WhereOpt = None,
    coder: CoderOpt = None,
    origin: OriginOpt = None,
    fmt: Annotated[QuoteFormat | None, typer.Option(
        "--format", "-f", help="md (default), csv or json.", show_default=False)] = None,
    excel: Annotated[bool, typer.Option(
        "--excel", help="CSV for spreadsheets set up for French: UTF-8 with BOM, ';', CRLF "
        "(implies --format csv).")] = False,
    context: Annotated[bool, typer.Option(
        "--context", help="Show the interviewer's question before each quote.")] = False,
    clean: Annotated[bool, typer.Option(
        "--clean", help="Clean read: drop hesitations, repeated words and transcription "
        "marks (the output says so and keeps the verbatim).")] = False,
    out: OutOpt = None,
    project: ProjectOpt = None,
) -> None:
    """Verbatim quotes per theme and code, with attribution (Markdown, CSV or JSON)."""
    from qcode.codebook_sync import open_synced
    from qcode.errors import UsageError
    from qcode.reports import quotes as lib

    if excel and fmt not in (None, QuoteFormat.csv):
        raise UsageError("--excel applies to CSV only", hint="drop --format or use csv")
    chosen = QuoteFormat.csv if excel else (fmt or QuoteFormat.md)
    proj = open_project(ctx, project)
    store = open_store(proj)
    book, _ = open_synced(proj, store)
    options: dict[str, Any] = {
        "fmt": chosen.value, "clean": clean, "excel": excel, "context": context,
        "themes": theme or [], "codes": code or [], "transcripts": transcript or [],
        "where": where or [], "coders": coder or [], "origins": [o.value for o in origin or []]}
    if out == "-":
        result = lib.export_quotes(proj, store, book, **options)
        _stdout(result.data)
    else:
        result = lib.write_quotes(proj, store, book, Path(out) if out else None, **options)
    for note in result.notes:
        warn(note)
    noun = "quote" if result.count == 1 else "quotes"
    if result.path is not None:
        info(f"wrote {_shown(result.path)} ({result.count} {noun})")


@app.command("iramuteq")
@command
def iramuteq(
    ctx: typer.Context,
    theme: ThemeOpt = None,
    code: CodeOpt = None,
    transcript: TranscriptOpt = None,
    where: WhereOpt = None,
    coder: CoderOpt = None,
    origin: OriginOpt = None,
    out: OutOpt = None,
    project: ProjectOpt = None,
) -> None:
    """A corpus for IRaMuTeQ: participants' turns per transcript, or the passages of codes."""
    from qcode.reports import iramuteq as lib

    proj = open_project(ctx, project)
    store = open_store(proj)
    book = None
    if theme or code:
        from qcode.codebook_sync import open_synced

        book, _ = open_synced(proj, store)
    options: dict[str, Any] = {
        "themes": theme or [], "codes": code or [], "transcripts": transcript or [],
        "where": where or [], "coders": coder or [], "origins": [o.value for o in origin or []]}
    if out == "-":
        result = lib.export_iramuteq(proj, store, book, **options)
        _stdout(result.data)
    else:
        result = lib.write_iramuteq(proj, store, book, Path(out) if out else None, **options)
    for note in result.notes:
        warn(note)
    noun = "text" if result.texts == 1 else "texts"
    if result.path is not None:
        info(f"wrote {_shown(result.path)} ({result.texts} {noun})")

from qcode.cli import codings_exchange as _codings  # noqa: E402,F401  (registers export codings)
from qcode.cli import qdpx as _qdpx  # noqa: E402,F401  (registers export qdpx)
