"""``qcode transcripts``: list, show, speakers, remove."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from qcode.cli.boundary import command
from qcode.cli.common import FormatOpt, ProjectOpt, open_project, open_store
from qcode.cli.output import Format, info, render, render_object

app = typer.Typer(help="Browse the transcripts in the store.", no_args_is_help=True,
                  rich_markup_mode=None)


@app.command("list")
@command
def list_(ctx: typer.Context, fmt: FormatOpt = Format.table, project: ProjectOpt = None) -> None:
    """Transcripts: id, file, format, turns, speakers, words, interviewer, attributes."""
    from qcode import transcripts as lib

    proj = open_project(ctx, project)
    rows = lib.list_transcripts(open_store(proj))
    if fmt is Format.csv:
        names = sorted({k for r in rows for k in r["attributes"]})
        flat = [{**{k: v for k, v in r.items() if k != "attributes"},
                 **{n: r["attributes"].get(n, "") for n in names}} for r in rows]
        render(flat, fmt)
    else:
        render(rows, fmt, wrap=("attributes",))


@app.command()
@command
def show(
    ctx: typer.Context,
    transcript: Annotated[str, typer.Argument(help="Transcript id.")],
    turns: Annotated[str | None, typer.Option("--turns", "-t",
                     help="Turns to show: 12, 10-20, 10-.")] = None,
    fmt: FormatOpt = Format.table,
    project: ProjectOpt = None,
) -> None:
    """A transcript's numbered turns with speaker and time (the full text as JSON)."""
    from qcode import transcripts as lib

    proj = open_project(ctx, project)
    view = lib.show_transcript(open_store(proj), transcript, turns)
    if fmt is Format.json:
        render_object(view)
        return
    rows: list[dict[str, Any]] = [
        {"turn": t["turn"], "speaker": t["speaker"], "role": t["role"],
         "time": t["time"] or "", "text": t["text"]}
        for t in view["turns"]
    ]
    if fmt is Format.csv:
        rows = [{**r, "start": t["start"], "end": t["end"]} for r, t in zip(
            rows, view["turns"], strict=True)]
        render(rows, fmt)
        return
    render(rows, fmt, title=f"{view['id']} ({view['file']})", wrap=("text",))


@app.command()
@command
def speakers(ctx: typer.Context, fmt: FormatOpt = Format.table,
             project: ProjectOpt = None) -> None:
    """Detected speaker labels with their role and counts, to spot misdetections."""
    from qcode import transcripts as lib

    proj = open_project(ctx, project)
    render(lib.list_speakers(open_store(proj)), fmt)


@app.command()
@command
def remove(
    ctx: typer.Context,
    transcript: Annotated[list[str], typer.Argument(help="Transcript id(s).")],
    project: ProjectOpt = None,
) -> None:
    """Remove transcripts from the store (the files are left alone)."""
    from qcode import transcripts as lib

    proj = open_project(ctx, project)
    removed = lib.remove_transcripts(open_store(proj), transcript)
    for tid in removed:
        info(f"removed {tid}")
