"""``qcode review``: decide on pending keyword suggestions, one by one or in bulk."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from qcode.cli.boundary import command
from qcode.cli.coding import CoderOpt
from qcode.cli.common import ProjectOpt, open_project, open_store
from qcode.cli.output import info


def _show(item: object, position: int, total: int, label: str, tty: bool) -> None:
    from qcode.review import Item

    assert isinstance(item, Item)
    sug = item.suggestion
    words = ", ".join(sorted({t["keyword"] for t in sug["triggers"]}))
    header = (f"[{position}/{total}] {sug['transcript']} turn {item.turn} · {item.speaker} · "
              f"{sug['code']} ({label}) · score {sug['score']:.2f} · triggers: {words}")
    if not tty:
        a, b = item.passage
        print(header)
        print(f"  « {item.turn_text[a:b]} »")
        return
    from rich.console import Console
    from rich.text import Text

    text = Text(item.turn_text)
    a, b = item.passage
    text.stylize("underline", a, b)
    for s, e in item.triggers:
        text.stylize("bold black on yellow", s, e)
    console = Console()
    console.rule()
    console.print(Text(header, style="bold"))
    console.print(text)


def review(
    ctx: typer.Context,
    code: Annotated[list[str] | None, typer.Option("--code", "-c")] = None,
    transcript: Annotated[list[str] | None, typer.Option("--transcript", "-t")] = None,
    min_score: Annotated[float, typer.Option("--min-score", help="Only suggestions scoring "
                                             "at least this (0 to 1).")] = 0.0,
    accept: Annotated[bool, typer.Option("--accept", help="Accept all that the filters "
                                         "select, without asking.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject all that the filters "
                                         "select, without asking.")] = False,
    coder: CoderOpt = None,
    project: ProjectOpt = None,
) -> None:
    """Walk pending suggestions: accept, reject, shrink to the sentence, widen to the turn."""
    from qcode.codebook_sync import open_synced
    from qcode.coders import resolve_coder
    from qcode.errors import UsageError
    from qcode.review import HELP, Reviewer, review_all

    if accept and reject:
        raise UsageError("--accept and --reject exclude each other")
    proj = open_project(ctx, project)
    store = open_store(proj)
    book, _ = open_synced(proj, store)
    codes = [book.resolve(c).id for c in code] if code else None
    who = resolve_coder(coder, proj)
    if accept or reject:
        n = review_all(store, who, accept=accept, codes=codes, transcripts=transcript,
                       min_score=min_score)
        info(f"{'accepted' if accept else 'rejected'} {n} suggestion(s)")
        return
    reviewer = Reviewer(store, who, codes=codes, transcripts=transcript, min_score=min_score)
    total = len(reviewer.queue)
    if total == 0:
        info("no pending suggestions (run 'qcode suggest' first)")
        return
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    if tty:
        info(HELP)
    while True:
        item = reviewer.current()
        if item is None:
            break
        label = book.codes[item.suggestion["code"]].label \
            if item.suggestion["code"] in book.codes else ""
        _show(item, reviewer.position + 1, total, label, tty)
        try:
            key = input("decision [y,n,s,w,k,u,q,?] " if tty else "")
        except EOFError:
            break
        if key.strip().lower() == "q":
            break
        print(reviewer.act(key))
    d = reviewer.decided
    info(f"review: {d['accepted']} accepted, {d['rejected']} rejected, {d['skipped']} skipped, "
         f"{reviewer.remaining} left")


def register(app: typer.Typer) -> None:
    app.command()(command(review))
