"""``qcode stats``, ``crosstab``, ``cooccur``, ``matrix`` and ``search``."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from qcode.cli.boundary import command
from qcode.cli.common import FormatOpt, ProjectOpt, open_project, open_store
from qcode.cli.output import Format, info, progress_bar, render

if TYPE_CHECKING:
    from qcode.codebook import Codebook
    from qcode.project import Project
    from qcode.store import Store


class Origin(StrEnum):
    manual = "manual"
    keyword = "keyword"
    import_ = "import"
    all = "all"


class Level(StrEnum):
    code = "code"
    theme = "theme"


class Unit(StrEnum):
    turn = "turn"
    overlap = "overlap"
    transcript = "transcript"


class Role(StrEnum):
    interviewer = "interviewer"
    participant = "participant"
    other = "other"


CoderOpt = Annotated[list[str] | None, typer.Option(
    "--coder", help="Only this coder's codings; repeat for more.", show_default=False)]
OriginOpt = Annotated[Origin, typer.Option(
    "--origin", help="Only codings made by hand, accepted keyword suggestions, or imported.")]
TranscriptOpt = Annotated[list[str] | None, typer.Option(
    "--transcript", "-t", help="Only this transcript; repeat for more.", show_default=False)]
WhereOpt = Annotated[list[str] | None, typer.Option(
    "--where", "-w", metavar="ATTRIBUTE=VALUE",
    help="Only transcripts with this attribute value (e.g. role=membre); repeat an attribute "
         "for either value, several attributes for all.", show_default=False)]


def _filters(coder: list[str] | None, origin: Origin, transcript: list[str] | None,
             where: list[str] | None) -> dict[str, Any]:
    from qcode.reports.tables import parse_where

    return {"coders": coder or None,
            "origins": None if origin is Origin.all else [origin.value],
            "transcripts": transcript or None, "where": parse_where(where) or None}


def _open(ctx: typer.Context, project: Any) -> tuple[Project, Store, Codebook]:
    from qcode.cli.codebook import report_sync
    from qcode.codebook_sync import open_synced

    proj = open_project(ctx, project)
    store = open_store(proj)
    book, sync = open_synced(proj, store)
    report_sync(sync)
    return proj, store, book


@command
def stats(
    ctx: typer.Context,
    coder: CoderOpt = None,
    origin: OriginOpt = Origin.all,
    transcript: TranscriptOpt = None,
    where: WhereOpt = None,
    fmt: FormatOpt = Format.table,
    project: ProjectOpt = None,
) -> None:
    """Codings, transcripts and words coded, per theme and per code × coder × origin."""
    from qcode.reports import tables

    _, store, book = _open(ctx, project)
    rows = tables.stats(store, book, **_filters(coder, origin, transcript, where))
    if fmt is Format.table:  # codes indented under their theme and parent
        shown = [{**r, "code": "  " * r["path"].count("/") + r["path"].rsplit("/", 1)[-1]}
                 for r in rows]
        render(shown, fmt, ["code", "label", "coder", "origin", "codings", "transcripts",
                            "words"])
    else:
        render(rows, fmt, ["level", "theme", "code", "label", "path", "coder", "origin",
                           "codings", "transcripts", "words"])


@command
def crosstab(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(
        "--by", help="A transcript attribute, e.g. initiative or role.", show_default=False)],
    level: Annotated[Level, typer.Option("--level", help="Rows by theme or by code.")
                     ] = Level.theme,
    coder: CoderOpt = None,
    origin: OriginOpt = Origin.all,
    transcript: TranscriptOpt = None,
    where: WhereOpt = None,
    fmt: FormatOpt = Format.table,
    project: ProjectOpt = None,
) -> None:
    """Codings and transcripts of each theme (or code) by value of a transcript attribute."""
    from qcode.reports import tables

    _, store, book = _open(ctx, project)
    rows = tables.crosstab(store, book, by, level=level.value,
                           **_filters(coder, origin, transcript, where))
    head = ["theme"] if level is Level.theme else ["theme", "code"]
    numbers = ["value", "codings", "transcripts", "value_transcripts", "share_transcripts",
               "share_codings"]
    if fmt is Format.table:
        render(rows, fmt, [head[-1], *numbers])
    else:
        render(rows, fmt, [*head, "label", "attribute", *numbers])


@command
def cooccur(
    ctx: typer.Context,
    unit: Annotated[Unit, typer.Option(
        "--unit", help="Coded together means: in the same turn, in overlapping passages, "
                       "or in the same transcript.")] = Unit.turn,
    level: Annotated[Level, typer.Option("--level", help="Pairs of codes or of themes.")
                     ] = Level.code,
    code: Annotated[str | None, typer.Option(
        "--code", "-c", help="Only the pairs with this code (with its sub-codes), or with the "
                             "codes of this theme.",
        show_default=False)] = None,
    coder: CoderOpt = None,
    origin: OriginOpt = Origin.all,
    transcript: TranscriptOpt = None,
    where: WhereOpt = None,
    fmt: FormatOpt = Format.table,
    project: ProjectOpt = None,
) -> None:
    """Pairs of codes coded on the same units: n12, n1, n2 and the Jaccard coefficient."""
    from qcode.reports import tables

    _, store, book = _open(ctx, project)
    rows = tables.cooccurrence(store, book, unit=unit.value, level=level.value, focus=code,
                               **_filters(coder, origin, transcript, where))
    name = level.value
    if fmt is Format.table:
        render(rows, fmt, [f"{name}1", f"{name}2", "n12", "n1", "n2", "jaccard"])
    elif level is Level.code:
        render(rows, fmt, ["theme1", "code1", "label1", "theme2", "code2", "label2", "n12",
                           "n1", "n2", "jaccard"])
    else:
        render(rows, fmt, ["theme1", "label1", "theme2", "label2", "n12", "n1", "n2",
                           "jaccard"])
    if not rows:
        info("no pair of codes coded together")


@command
def matrix(
    ctx: typer.Context,
    level: Annotated[Level, typer.Option("--level", help="Rows by code or by theme.")
                     ] = Level.code,
    coder: CoderOpt = None,
    origin: OriginOpt = Origin.all,
    transcript: TranscriptOpt = None,
    where: WhereOpt = None,
    fmt: FormatOpt = Format.table,
    project: ProjectOpt = None,
) -> None:
    """The 0/1 matrix of codes × transcripts (-f csv for a spreadsheet)."""
    from qcode.reports import tables

    _, store, book = _open(ctx, project)
    rows = tables.matrix(store, book, level=level.value,
                         **_filters(coder, origin, transcript, where))
    if fmt is Format.table:
        _grid(rows, level.value)
    else:
        render(rows, fmt, list(rows[0]) if rows else [level.value, "label"])


def _grid(rows: list[dict[str, Any]], name: str) -> None:
    """The matrix as plain lines, one column per transcript: 1 or · (too wide for a boxed
    table with tens of transcripts)."""
    if not rows:
        return
    ids = [k for k in rows[0] if k not in (name, "label")]
    width = max(len(name), *(len(r[name]) for r in rows))
    print("  ".join([name.ljust(width), *ids]).rstrip())
    for r in rows:
        cells = [("1" if r[t] else "·").center(len(t)) for t in ids]
        print("  ".join([r[name].ljust(width), *cells]).rstrip())


def _kwic(rows: list[dict[str, Any]]) -> None:
    """Keyword-in-context lines: the matches aligned in one column."""
    if not rows:
        return
    head = {"transcript": "transcript", "turn": "turn", "speaker": "speaker", "role": "role",
            "time": "time", "left": "left", "match": "match", "right": "right",
            "codes": "codes"}
    lines = [head] + [{
        **r, "turn": str(r["turn"]), "time": r["time"] or "",
        "match": " ".join(r["match"].split()), "codes": ", ".join(r["codes"])} for r in rows]
    width = {k: max(len(line[k]) for line in lines) for k in head}
    for line in lines:
        cells = [line["transcript"].ljust(width["transcript"]),
                 line["turn"].rjust(width["turn"]),
                 line["speaker"].ljust(width["speaker"]),
                 line["role"].ljust(width["role"]),
                 line["time"].ljust(width["time"]),
                 line["left"].rjust(width["left"]),
                 line["match"].ljust(width["match"]),
                 line["right"].ljust(width["right"]),
                 line["codes"]]
        print("  ".join(cells).rstrip())


@command
def search(
    ctx: typer.Context,
    term: Annotated[str, typer.Argument(help="A word or a phrase (matched on lemmas).")],
    role: Annotated[list[Role] | None, typer.Option(
        "--role", help="Only the turns of speakers with this role; repeat for more.",
        show_default=False)] = None,
    exact: Annotated[bool, typer.Option(
        "--exact", help="Match the word forms only (still ignoring case and accents), not "
                        "lemmas.")] = False,
    transcript: TranscriptOpt = None,
    where: WhereOpt = None,
    fmt: FormatOpt = Format.table,
    project: ProjectOpt = None,
) -> None:
    """Keyword in context: every occurrence of a word or phrase, with the codes already there."""
    from qcode.codebook import load as load_codebook
    from qcode.errors import QcodeError
    from qcode.reports.tables import parse_where
    from qcode.search import search as run

    proj = open_project(ctx, project)
    store = open_store(proj)
    language, order = proj.language, None
    path = proj.root / proj.codebook
    if path.is_file():  # its language and order, if it loads (search works without one)
        try:
            book = load_codebook(path)
        except QcodeError:
            book = None
        if book is not None and not book.errors:
            language = book.language or proj.language
            order = [c.id for c in book.walk()]
    update, bar = progress_bar()
    options: dict[str, Any] = {
        "language": language, "transcripts": transcript or None,
        "where": parse_where(where) or None, "roles": [r.value for r in role or ()] or None,
        "exact": exact, "code_order": order, "notify": lambda m: info(f"note: {m}")}
    if bar is not None:
        with bar:
            result = run(store, term, progress=update, **options)
    else:
        result = run(store, term, **options)
    for note in result.notes:
        info(f"note: {note}")
    if fmt is Format.table:
        _kwic(result.hits)
    else:
        render(result.hits, fmt, ["transcript", "turn", "speaker", "role", "time", "left",
                                  "match", "right", "codes", "start", "end", "how"])
    found_in = len({h["transcript"] for h in result.hits})
    info(f"{len(result.hits)} hit(s) of « {result.term} » in {found_in} of "
         f"{result.transcripts} transcript(s)")


def register(app: typer.Typer) -> None:
    app.command()(stats)
    app.command()(crosstab)
    app.command()(cooccur)
    app.command()(matrix)
    app.command()(search)
