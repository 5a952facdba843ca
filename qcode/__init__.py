"""qcode: qualitative coding of interview transcripts from the command line.

The public Python API (loaded lazily, so that ``import qcode`` stays cheap)::

    import qcode

    project = qcode.open_project("path/to/study")      # finds and validates qcode.yaml
    store = qcode.Store.open(project.store_location)   # the project's SQLite store
    report = qcode.ingest_transcripts(project, store)   # read the transcripts folder
    book = qcode.load_codebook(project.root / project.codebook)
    rows = qcode.list_codings(store, book=book)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# (names that are not also submodules: 'qcode.ingest' and 'qcode.suggest' are modules)
_API = {
    "open_project": ("qcode.project", "open_project"),
    "init_project": ("qcode.project", "init"),
    "Project": ("qcode.project", "Project"),
    "Store": ("qcode.store", "Store"),
    "ingest_transcripts": ("qcode.ingest.pipeline", "ingest"),
    "read_file": ("qcode.ingest.pipeline", "read_file"),
    "load_codebook": ("qcode.codebook", "load_valid"),
    "Codebook": ("qcode.codebook", "Codebook"),
    "list_transcripts": ("qcode.transcripts", "list_transcripts"),
    "show_transcript": ("qcode.transcripts", "show_transcript"),
    "list_codings": ("qcode.coding", "list_codings"),
    "compute_suggestions": ("qcode.suggest", "suggest"),
    "QcodeError": ("qcode.errors", "QcodeError"),
    "ExitCode": ("qcode.errors", "ExitCode"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        module, attribute = _API[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'qcode' has no attribute {name!r}")
