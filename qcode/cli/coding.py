"""``qcode tag``, ``untag``, ``codings list``, ``memo``, ``undo``."""

from __future__ import annotations

from typing import Annotated

import typer

from qcode.cli.boundary import command
from qcode.cli.common import FormatOpt, ProjectOpt, open_project, open_store
from qcode.cli.output import Format, info, render, render_object

CoderOpt = Annotated[str | None, typer.Option(
    "--coder", help="Who is coding (default: $QCODE_CODER, the project's or user's setting, "
    "the OS user).", show_default=False)]
QuoteOpt = Annotated[str | None, typer.Option(
    "--quote", "-q", help="Name the passage by its words.", show_default=False)]
SpanOpt = Annotated[str | None, typer.Option(
    "--span", help="Name the passage by START:END offsets.", show_default=False)]
OccurrenceOpt = Annotated[int | None, typer.Option(
    "--occurrence", help="Which occurrence of a quote found several times.",
    show_default=False)]

codings_app = typer.Typer(help="List codings.", no_args_is_help=True, rich_markup_mode=None)
memo_app = typer.Typer(help="Memos on the project, a transcript, a code or a coding.",
                       no_args_is_help=True, rich_markup_mode=None)


def _split_unit_and_codes(unit_and_codes: list[str], quote: str | None,
                          span: str | None) -> tuple[str | None, list[str]]:
    """With --quote or --span every argument is a code; otherwise the first is the unit."""
    if quote is not None or span is not None:
        return None, unit_and_codes
    if not unit_and_codes:
        return None, []
    return unit_and_codes[0], unit_and_codes[1:]


def tag(
    ctx: typer.Context,
    transcript: Annotated[str, typer.Argument(help="Transcript id.")],
    unit_and_codes: Annotated[list[str], typer.Argument(
        help="UNIT (12, 12-14, 12.3, 12.3-5) then CODE… (id, label or key); with --quote or "
             "--span, only CODE….", metavar="[UNIT] CODE...")],
    quote: QuoteOpt = None,
    span: SpanOpt = None,
    occurrence: OccurrenceOpt = None,
    coder: CoderOpt = None,
    project: ProjectOpt = None,
) -> None:
    """Code a passage of a transcript with one or more codes."""
    from qcode import coding
    from qcode.codebook_sync import open_synced
    from qcode.coders import resolve_coder

    proj = open_project(ctx, project)
    store = open_store(proj)
    book, _ = open_synced(proj, store)
    unit, codes = _split_unit_and_codes(unit_and_codes, quote, span)
    passage = coding.resolve(store, transcript, unit, quote=quote, span=span,
                             occurrence=occurrence)
    result = coding.tag(store, book, passage, codes, resolve_coder(coder, proj))
    where = f"{passage.transcript_id} turn {passage.turn} [{passage.start}:{passage.end}]"
    if passage.how != "exact":
        info(f"quote found {'ignoring case and spacing' if passage.how == 'loose' else 'fuzzily'}"
             f": « {passage.text} »")
    info(f"tagged {where}: {len(result.created)} new coding(s)"
         + (f", {len(result.existing)} already there" if result.existing else ""))


def untag(
    ctx: typer.Context,
    transcript: Annotated[str, typer.Argument(help="Transcript id.")],
    unit_and_codes: Annotated[list[str] | None, typer.Argument(
        help="UNIT then CODE… (all codes of the passage when none).",
        metavar="[UNIT] [CODE...]")] = None,
    quote: QuoteOpt = None,
    span: SpanOpt = None,
    occurrence: OccurrenceOpt = None,
    any_coder: Annotated[bool, typer.Option(
        "--any-coder", help="Also remove other coders' codings of the passage.")] = False,
    coder: CoderOpt = None,
    project: ProjectOpt = None,
) -> None:
    """Remove the codings of exactly this passage."""
    from qcode import coding
    from qcode.codebook_sync import open_synced
    from qcode.coders import resolve_coder

    proj = open_project(ctx, project)
    store = open_store(proj)
    book, _ = open_synced(proj, store)
    unit, codes = _split_unit_and_codes(unit_and_codes or [], quote, span)
    passage = coding.resolve(store, transcript, unit, quote=quote, span=span,
                             occurrence=occurrence)
    removed = coding.untag(store, book, passage, codes, resolve_coder(coder, proj),
                           any_coder=any_coder)
    info(f"removed {len(removed)} coding(s) of {passage.transcript_id} turn {passage.turn} "
         f"[{passage.start}:{passage.end}]")
    if not removed:
        raise typer.Exit(1)


@codings_app.command("list")
@command
def codings_list(
    ctx: typer.Context,
    transcript: Annotated[list[str] | None, typer.Option("--transcript", "-t")] = None,
    code: Annotated[list[str] | None, typer.Option("--code", "-c")] = None,
    coder: Annotated[list[str] | None, typer.Option("--coder")] = None,
    origin: Annotated[list[str] | None, typer.Option(
        "--origin", help="manual, keyword or import.")] = None,
    flagged: Annotated[bool, typer.Option(
        "--flagged", help="Only codings that re-anchoring could not place surely.")] = False,
    fmt: FormatOpt = Format.table,
    project: ProjectOpt = None,
) -> None:
    """Codings: transcript, turn, span, code, coder, origin, flag, quote."""
    from qcode import coding
    from qcode.codebook_sync import open_synced

    proj = open_project(ctx, project)
    store = open_store(proj)
    book, _ = open_synced(proj, store)
    rows = coding.list_codings(store, transcripts=transcript, codes=code, coders=coder,
                               origins=origin, flagged=True if flagged else None, book=book)
    columns = ["id", "transcript", "turn", "start", "end", "code", "coder", "origin", "flag",
               "quote"]
    if fmt is Format.table:
        for r in rows:
            if len(r["quote"]) > 80:
                r["quote"] = r["quote"][:79] + "…"
        render(rows, fmt, columns, wrap=("quote",))
    else:
        render(rows, fmt, [*columns, "label", "flag_note", "memo", "created_at"])


def _memo_target(transcript: str | None, code: str | None, coding_id: int | None,
                 on_project: bool) -> tuple[str, str]:
    from qcode.errors import UsageError

    targets = [(t, v) for t, v in (("transcript", transcript), ("code", code),
                                   ("coding", None if coding_id is None else str(coding_id)))
               if v is not None]
    if on_project:
        targets.append(("project", ""))
    if len(targets) != 1:
        raise UsageError("give exactly one of --transcript, --code, --coding or --project")
    return targets[0]


@memo_app.command("add")
@command
def memo_add(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="The memo ('-' reads it from stdin).")],
    transcript: Annotated[str | None, typer.Option("--transcript", "-t")] = None,
    code: Annotated[str | None, typer.Option("--code", "-c")] = None,
    coding_id: Annotated[int | None, typer.Option("--coding")] = None,
    on_project: Annotated[bool, typer.Option("--project-memo", "--on-project",
                                             help="A memo on the whole project.")] = False,
    coder: CoderOpt = None,
    project: ProjectOpt = None,
) -> None:
    """Write a memo."""
    import sys

    from qcode import coding
    from qcode.codebook_sync import open_synced
    from qcode.coders import resolve_coder

    target_type, target_id = _memo_target(transcript, code, coding_id, on_project)
    proj = open_project(ctx, project)
    store = open_store(proj)
    book = open_synced(proj, store)[0] if target_type == "code" else None
    body = sys.stdin.read() if text == "-" else text
    memo_id = coding.add_memo(store, target_type, target_id, body, resolve_coder(coder, proj),
                              book)
    info(f"memo {memo_id} added on the {target_type}{' ' + target_id if target_id else ''}")


@memo_app.command("list")
@command
def memo_list(
    ctx: typer.Context,
    transcript: Annotated[str | None, typer.Option("--transcript", "-t")] = None,
    code: Annotated[str | None, typer.Option("--code", "-c")] = None,
    coding_id: Annotated[int | None, typer.Option("--coding")] = None,
    on_project: Annotated[bool, typer.Option("--project-memo", "--on-project")] = False,
    fmt: FormatOpt = Format.table,
    project: ProjectOpt = None,
) -> None:
    """List memos (all, or those on one target)."""
    from qcode import coding

    proj = open_project(ctx, project)
    store = open_store(proj)
    if any(x is not None for x in (transcript, code, coding_id)) or on_project:
        target_type, target_id = _memo_target(transcript, code, coding_id, on_project)
        rows = coding.list_memos(store, target_type, target_id)
    else:
        rows = coding.list_memos(store)
    render(rows, fmt, ["id", "target_type", "target_id", "coder", "created_at", "text"],
           wrap=("text",))


@memo_app.command("show")
@command
def memo_show(ctx: typer.Context, memo_id: Annotated[int, typer.Argument()],
              fmt: FormatOpt = Format.table, project: ProjectOpt = None) -> None:
    """Show one memo."""
    from qcode import coding
    from qcode.errors import NotFoundError

    proj = open_project(ctx, project)
    rows = [m for m in coding.list_memos(open_store(proj)) if m["id"] == memo_id]
    if not rows:
        raise NotFoundError(f"no memo {memo_id}", hint="'qcode memo list' shows their ids")
    if fmt is Format.table:
        m = rows[0]
        print(f"memo {m['id']} on the {m['target_type']} {m['target_id']} by {m['coder']}, "
              f"{m['created_at']}\n\n{m['text']}")
    elif fmt is Format.json:
        render_object(rows[0])
    else:
        render(rows, fmt)


def undo(ctx: typer.Context, coder: CoderOpt = None, project: ProjectOpt = None) -> None:
    """Revert your last action (tag, untag, memo, accept, reject)."""
    from qcode import coding
    from qcode.coders import resolve_coder

    proj = open_project(ctx, project)
    info(coding.undo(open_store(proj), resolve_coder(coder, proj)))


def register(app: typer.Typer) -> None:
    app.command()(command(tag))
    app.command()(command(untag))
    app.command()(command(undo))
    app.add_typer(codings_app, name="codings")
    app.add_typer(memo_app, name="memo")
