"""``qcode digest``: a digest per theme, as Markdown or one self-contained HTML page."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from qcode.cli.boundary import command
from qcode.cli.common import ProjectOpt, open_project, open_store
from qcode.cli.output import info


class DigestFormat(StrEnum):
    md = "md"
    html = "html"


class OriginChoice(StrEnum):
    all = "all"
    manual = "manual"
    keyword = "keyword"
    import_ = "import"


def _guess_format(out: str | None, template: Path | None) -> str:
    """html when --out or --template names an HTML file (``.html``, ``.html.j2``), else md."""
    for name in (out if out not in (None, "-") else None,
                 template.name if template is not None else None):
        if name is not None and {".html", ".htm"} & {s.lower() for s in Path(name).suffixes}:
            return "html"
    return "md"


@command
def digest(
    ctx: typer.Context,
    theme: Annotated[list[str] | None, typer.Option(
        "--theme", "-t", help="A theme (id, label or key); repeat for several. Default: all.",
        show_default=False)] = None,
    fmt: Annotated[DigestFormat | None, typer.Option(
        "--format", "-f", help="md or html (default: from --out's extension, else md).",
        show_default=False)] = None,
    template: Annotated[Path | None, typer.Option(
        "--template", help="A jinja2 template to use instead of the bundled one (same "
        "context).", show_default=False)] = None,
    out: Annotated[str | None, typer.Option(
        "--out", "-o", help="File to write, or - for stdout (default: exports/digest.md or "
        ".html).", show_default=False)] = None,
    coder: Annotated[list[str] | None, typer.Option(
        "--coder", help="Only these coders' codings; repeat for several.",
        show_default=False)] = None,
    origin: Annotated[OriginChoice, typer.Option(
        "--origin", help="Only codings of this origin.")] = OriginChoice.all,
    by: Annotated[list[str] | None, typer.Option(
        "--by", help="Attributes of the tables, e.g. --by initiative,role (default: "
        "export.digest_by in qcode.yaml, else initiative and role).",
        show_default=False)] = None,
    quotes: Annotated[int, typer.Option(
        "--quotes", min=0, help="Representative quotes per code.")] = 3,
    project: ProjectOpt = None,
) -> None:
    """Per theme: definition, counts, codes by initiative and role, co-occurring codes,
    representative quotes and memos."""
    from qcode.codebook_sync import open_synced
    from qcode.reports.digest import DigestOptions, render_digest, write_digest

    chosen = fmt.value if fmt is not None else _guess_format(out, template)
    options = DigestOptions(themes=theme or None, coders=coder or None, origin=origin.value,
                            by=by or None, quotes=quotes, template=template)
    proj = open_project(ctx, project)
    store = open_store(proj)
    book, _ = open_synced(proj, store)
    if out == "-":
        sys.stdout.write(render_digest(proj, store, book, chosen, options))
        return
    path = write_digest(proj, store, book, chosen, Path(out) if out else None, options)
    info(f"wrote {path}")
