"""The public Python API: every name in qcode.__all__ resolves, lazily."""

from __future__ import annotations

import subprocess
import sys

import qcode


def test_every_public_name_resolves() -> None:
    for name in qcode.__all__:
        assert getattr(qcode, name) is not None


def test_import_qcode_does_not_load_the_store_or_spacy() -> None:
    code = ("import sys, qcode; print(any(m.startswith(('sqlalchemy', 'spacy')) "
            "for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
