"""``qcode codebook export|import``: exchange the codebook with other QDA tools (REFI-QDA .qdc).

Registered on the ``qcode codebook`` group by the last line of :mod:`qcode.cli.codebook`.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qcode.cli.boundary import command
from qcode.cli.codebook import app
from qcode.cli.common import ProjectOpt, open_project
from qcode.cli.output import info
from qcode.errors import ProjectError, QcodeError, ValidationError

if TYPE_CHECKING:
    from qcode.project import Project


class ExchangeFormat(StrEnum):
    qdc = "qdc"


def _notes(notes: list[str]) -> None:
    for note in notes:
        info(f"note: {note}")


@app.command("export")
@command
def export_codebook(
    ctx: typer.Context,
    file: Annotated[str | None, typer.Argument(
        metavar="[FILE|-]", show_default=False,
        help="Where to write (default: <exports>/<codebook name>.qdc; a folder; '-' for "
        "stdout).")] = None,
    fmt: Annotated[ExchangeFormat, typer.Option(
        "--format", "-f", help="Exchange format: qdc, a REFI-QDA codebook.")
    ] = ExchangeFormat.qdc,
    project: ProjectOpt = None,
) -> None:
    """Write the codebook for other QDA tools (NVivo, ATLAS.ti, MAXQDA, QualCoder…)."""
    from qcode.codebook import load_valid
    from qcode.fileutil import write_atomic
    from qcode.refi import codebook_export_notes, codebook_to_qdc

    proj = open_project(ctx, project)
    book = load_valid(proj.root / proj.codebook)
    data = codebook_to_qdc(book, language=proj.language)
    _notes(codebook_export_notes(book))
    if file == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    name = f"{proj.codebook.stem}.{fmt.value}"
    dest = Path(file) if file else proj.root / proj.exports_dir / name
    if dest.is_dir():
        dest = dest / name
    write_atomic(dest, data)  # owner-only, as every export: the examples quote interviews
    themes = len(book.roots)
    info(f"wrote {dest} ({themes} themes, {len(book.codes) - themes} codes)")


@app.command("import")
@command
def import_codebook(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE.qdc", help="A REFI-QDA codebook.")],
    out: Annotated[str | None, typer.Option(
        "--out", "-o", metavar="PATH", show_default=False,
        help="YAML file to write (default: codebooks/<file name>.yaml in the project; '-' "
        "for stdout).")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite the YAML file if it exists.")] = False,
    project: ProjectOpt = None,
) -> None:
    """Read a codebook from another QDA tool into a new YAML codebook (qcode.yaml unchanged)."""
    from qcode.refi import read_qdc_file, write_atomic

    proj: Project | None = None
    try:
        proj = open_project(ctx, project)
    except (ProjectError, ValidationError):
        if out is None:
            raise
    result = read_qdc_file(file, limits=proj.limits) if proj else read_qdc_file(file)
    if out == "-":
        _notes(result.notes)
        sys.stdout.write(result.yaml_text)
        return
    if out is not None:
        dest = Path(out)
    else:
        assert proj is not None
        dest = proj.root / "codebooks" / f"{file.stem}.yaml"
    if dest.exists() and not force:
        raise QcodeError(f"{dest} already exists",
                         hint="pass --force to overwrite it, or --out to write another file")
    _notes(result.notes)
    write_atomic(dest, result.yaml_text.encode("utf-8"))
    info(f"wrote {dest} ({result.themes} themes, {result.codes} codes)")
    _how_to_use(dest, proj)


def _how_to_use(dest: Path, proj: Project | None) -> None:
    shown: Path | str = dest
    if proj is not None:
        try:
            shown = dest.resolve().relative_to(proj.root.resolve())
        except ValueError:
            shown = dest.resolve()
        if proj.codebook == shown or (proj.root / proj.codebook).resolve() == dest.resolve():
            info("this is the project's codebook: 'qcode codebook sync' brings the store in "
                 "line with it")
            return
    info(f"qcode.yaml is unchanged: to use this codebook, set 'codebook: {shown}' in it")
