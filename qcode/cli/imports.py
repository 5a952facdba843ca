"""``qcode import``: bring other coders' and other tools' work into the project.

The commands of this group live beside their ``export`` twins and register themselves here:
``import codings`` in :mod:`qcode.cli.codings_exchange`, ``import qdpx`` in
:mod:`qcode.cli.qdpx`. Each import is one transaction: a file that cannot be read whole changes
nothing.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Import codings from other coders, and projects from other QDA tools.",
                  no_args_is_help=True, rich_markup_mode=None)

from qcode.cli import codings_exchange as _codings  # noqa: E402,F401  (registers import codings)
from qcode.cli import qdpx as _qdpx  # noqa: E402,F401  (registers import qdpx)
