"""Options shared by commands, and opening the project and its store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qcode.cli.output import Format, info

if TYPE_CHECKING:
    from qcode.project import Project
    from qcode.store import Store

ProjectOpt = Annotated[
    Path | None,
    typer.Option("--project", "-P", help="Project folder (default: found from the current "
                 "folder upwards, or $QCODE_PROJECT).", show_default=False),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


def project_dir(ctx: typer.Context, local: Path | None) -> Path | None:
    """The ``--project`` given to this command, else the one given before the command."""
    if local is not None:
        return local
    obj = ctx.find_root().obj
    if isinstance(obj, dict) and obj.get("project") is not None:
        return Path(obj["project"])
    return None


def open_project(ctx: typer.Context, local: Path | None) -> Project:
    from qcode.project import open_project as _open

    return _open(project_dir(ctx, local))


def open_store(project: Project) -> Store:
    from qcode.store import Store

    store = Store.open(project.store_location)
    store.on_wait = lambda: info("waiting for another qcode process to finish writing to the "
                                 "store…")
    return store
