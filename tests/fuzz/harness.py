"""Run one target of :mod:`tests.fuzz.targets` under atheris (libFuzzer's engine).

Only qcode's own modules are instrumented for coverage (instrumenting everything loaded takes
50 s); they must therefore be imported here, inside ``instrument_imports``, and not before.
libFuzzer's options come from the command line (``-max_total_time=20``, ``-dict=…``, corpus
folders); a crash stops the run with exit code 1 and writes the input to
``<artifact_prefix>crash-<sha1>``.
"""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-untyped]


def fuzz(target: str, argv: list[str] | None = None) -> None:
    with atheris.instrument_imports(include=["qcode"]):
        from tests.fuzz.targets import TARGETS

    atheris.Setup(sys.argv if argv is None else argv, TARGETS[target])
    atheris.Fuzz()
