"""``qcode export qdpx`` and ``qcode import qdpx``: REFI-QDA projects (:mod:`qcode.qdpx`).

Registered on the ``export`` group by the last line of :mod:`qcode.cli.exports` and on the
``import`` group by the last line of :mod:`qcode.cli.imports`.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from qcode.cli.boundary import command
from qcode.cli.common import ProjectOpt, open_project, open_store
from qcode.cli.exports import CoderOpt, Origin, OriginOpt
from qcode.cli.exports import app as export_app
from qcode.cli.imports import app as import_app
from qcode.cli.output import Format, info, render, render_object


def _shown(path: Path) -> str:
    """The path relative to the current folder when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _notes(notes: list[str]) -> None:
    for note in notes:
        info(f"note: {note}")


@export_app.command("qdpx")
@command
def export_qdpx(
    ctx: typer.Context,
    file: Annotated[str | None, typer.Argument(
        metavar="[FILE|-]", show_default=False,
        help="Where to write (default: <exports>/<project folder>.qdpx; a folder; '-' for "
        "stdout).")] = None,
    coder: CoderOpt = None,
    origin: OriginOpt = None,
    line_names: Annotated[bool, typer.Option(
        "--line-names", help="Start each selection's name with 'line:N' (its 0-based line): "
        "qc (qualitative-coding) places codings by that line, not by the offsets.")] = False,
    project: ProjectOpt = None,
) -> None:
    """Write the project for other QDA tools: a REFI-QDA project (.qdpx) with the
    transcripts, codebook, codings per coder, attributes and memos."""
    from qcode import qdpx as lib
    from qcode.codebook_sync import open_synced

    proj = open_project(ctx, project)
    store = open_store(proj)
    book = open_synced(proj, store)[0] if (proj.root / proj.codebook).exists() else None
    coders = coder or []
    origins = [o.value for o in origin or [] if o is not Origin.all]
    if file == "-":
        result = lib.export_qdpx(proj, store, book, coders=coders, origins=origins,
                                 line_names=line_names)
        sys.stdout.flush()
        sys.stdout.buffer.write(result.data)
        sys.stdout.buffer.flush()
    else:
        result = lib.write_qdpx(proj, store, book, Path(file) if file else None,
                                coders=coders, origins=origins, line_names=line_names)
    _notes(result.notes)
    if result.path is not None:
        info(f"wrote {_shown(result.path)} ({result.transcripts} transcripts, "
             f"{result.codings} codings, {len(result.coders)} coders, {result.memos} memos)")


@import_app.command("qdpx")
@command
def import_qdpx(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE.qdpx",
                                         help="A REFI-QDA project from another QDA tool.")],
    fmt: Annotated[Format | None, typer.Option(
        "--format", "-f", help="Print what was imported on stdout: table, json or csv "
        "(default: a summary on stderr).", show_default=False)] = None,
    project: ProjectOpt = None,
) -> None:
    """Import a REFI-QDA project (.qdpx): transcripts, codes, codings, coders, attributes and
    memos, in one transaction; what cannot be carried is reported."""
    from qcode import qdpx as lib

    proj = open_project(ctx, project)
    result = lib.import_qdpx(proj, open_store(proj), file)
    _notes(result.notes)
    summary = {
        "transcripts_added": len(result.transcripts_added),
        "transcripts_matched": len(result.transcripts_matched),
        "codings_added": result.codings_added, "codings_present": result.codings_present,
        "memos_added": result.memos_added, "attributes_set": result.attributes_set,
        "coders": result.coders, "codebook": result.codebook,
        "codes_matched": result.codes_matched, "codes_unmatched": len(result.codes_unmatched),
    }
    if fmt is Format.json:
        render_object(asdict(result))
    elif fmt is not None:
        render([summary], fmt)
    added = ", ".join(result.transcripts_added[:8]) + \
        (", …" if len(result.transcripts_added) > 8 else "")
    info(f"imported {_shown(file)}{' (' + result.origin + ')' if result.origin else ''}: "
         f"{len(result.transcripts_added)} transcripts added"
         f"{' (' + added + ')' if added else ''}, {len(result.transcripts_matched)} already "
         f"in the project, {result.codings_added} codings added ({result.codings_present} "
         f"already there), {result.memos_added} memos, {result.attributes_set} attribute "
         f"values, coders: {', '.join(result.coders) or 'none'}")
    if result.codebook == "written":
        info(f"wrote the codebook {proj.codebook} ({result.codes_matched} codes)")
