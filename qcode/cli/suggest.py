"""``qcode suggest`` and ``qcode suggestions list``: keyword suggestions."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from qcode.cli.boundary import command
from qcode.cli.common import FormatOpt, ProjectOpt, open_project, open_store
from qcode.cli.output import Format, info, progress_bar, render, render_object

if TYPE_CHECKING:
    from qcode.suggest import SuggestReport

app = typer.Typer(help="List the keyword suggestions.", no_args_is_help=True,
                  rich_markup_mode=None)

TEXT_WIDTH = 80  # characters of the suggested text shown in a table


class Unit(StrEnum):
    sentence = "sentence"
    turn = "turn"


class Status(StrEnum):
    pending = "pending"
    accepted = "accepted"
    rejected = "rejected"
    all = "all"


CodeOpt = Annotated[list[str] | None, typer.Option(
    "--code", "-c", help="A code (id, label or key), with its sub-codes; repeat for more.",
    show_default=False)]


def _summary(report: SuggestReport, titles: dict[str, str]) -> None:
    for note in report.notes:
        info(f"note: {note}")
    cached = report.transcripts - report.lemmatised
    info(f"lemmas: {report.lemmatised} transcript(s) lemmatised with {report.model}"
         + (f" in {report.lemmatise_seconds:.1f} s" if report.lemmatised else "")
         + f", {cached} cached")
    info(f"suggest: {report.transcripts} transcript(s), {report.codes} code(s) with keywords: "
         f"{report.new} new, {report.refreshed} refreshed, {report.kept} kept, "
         f"{report.removed} removed"
         + (f" ({report.already_coded} already coded)" if report.already_coded else ""))
    for theme, counts in report.by_theme.items():
        info(f"  {titles.get(theme, theme)}: {counts['pending']} pending ({counts['new']} new)")


@command
def suggest(
    ctx: typer.Context,
    transcripts: Annotated[list[str] | None, typer.Argument(
        help="Transcript ids (default: all).", show_default=False)] = None,
    code: CodeOpt = None,
    unit: Annotated[Unit | None, typer.Option(
        "--unit", help="Expand hits to sentences or turns (default: each code's unit).",
        show_default=False)] = None,
    include_interviewer: Annotated[bool, typer.Option(
        "--include-interviewer", help="Also look in the interviewer's turns.")] = False,
    fmt: Annotated[Format, typer.Option(
        "--format", "-f", help="json or csv: the summary on stdout.")] = Format.table,
    project: ProjectOpt = None,
) -> None:
    """Suggest passages for codes from their keywords (lemmatises new transcripts first)."""
    from qcode.cli.codebook import report_sync
    from qcode.codebook_sync import open_synced
    from qcode.suggest import suggest as run

    proj = open_project(ctx, project)
    store = open_store(proj)
    book, sync = open_synced(proj, store)
    report_sync(sync)
    update, bar = progress_bar()
    options: dict[str, Any] = {"transcripts": transcripts or None, "codes": code or None,
                               "unit": unit.value if unit else None,
                               "include_interviewer": include_interviewer}
    if bar is not None:
        with bar:
            report = run(proj, store, book, progress=update, **options)
    else:
        report = run(proj, store, book, **options)
    _summary(report, {t: book.codes[t].label for t in book.roots})
    if fmt is Format.json:
        render_object(report.as_dict())
    elif fmt is Format.csv:
        render([{"theme": t, **c} for t, c in report.by_theme.items()], fmt,
               ["theme", "pending", "new"])


def _resolve_codes(project: Any, names: list[str]) -> list[str]:
    from qcode.codebook import load_valid
    from qcode.suggest import select_codes

    book = load_valid(project.root / project.codebook)
    return [c.id for c in select_codes(book, names)]


@app.command("list")
@command
def list_(
    ctx: typer.Context,
    status: Annotated[Status, typer.Option("--status", "-s", help="Which suggestions.")
                      ] = Status.pending,
    code: CodeOpt = None,
    transcript: Annotated[list[str] | None, typer.Option(
        "--transcript", "-t", help="A transcript id; repeat for more.",
        show_default=False)] = None,
    min_score: Annotated[float, typer.Option(
        "--min-score", min=0.0, max=1.0, help="Only suggestions scoring at least this.")
    ] = 0.0,
    fmt: FormatOpt = Format.table,
    project: ProjectOpt = None,
) -> None:
    """Keyword suggestions: transcript, span, turn, code, score, trigger words, status, text."""
    from qcode.suggest import list_suggestions

    proj = open_project(ctx, project)
    codes = _resolve_codes(proj, code) if code else None
    rows = list_suggestions(
        open_store(proj), statuses=None if status is Status.all else [status.value],
        codes=codes, transcripts=transcript or None, min_score=min_score)
    columns = ["id", "transcript", "start", "end", "turn", "code", "score", "triggers",
               "status", "text"]
    more = [*columns, "unit", "decided_by", "decided_at", "coding_id", "flag"]
    if fmt is Format.json:
        render(rows, fmt, more)
        return
    flat = []
    for r in rows:
        words = ", ".join(dict.fromkeys(t["form"] for t in r["triggers"]))
        text = r["text"]
        if fmt is Format.table:
            text = " ".join(text.split())
            if len(text) > TEXT_WIDTH:
                text = text[:TEXT_WIDTH - 1] + "…"
        flat.append({**r, "triggers": words, "text": text})
    if fmt is Format.csv:
        render(flat, fmt, more)
    else:
        render(flat, fmt, columns, wrap=("text", "triggers"))
        if not rows:
            info("no suggestions" + ("" if status is Status.all else f" {status.value}"))

