"""Hostile and broken files through the real CLI: one table, every reader (issue 7, item 1).

Each row of :data:`tests.hostile_cases.CASES` writes one input into a fresh copy of a project
whose store already holds a transcript, then runs the ``qcode`` command that reads it
(``ingest``, ``codebook validate``, ``codebook import``, or any command with a broken
``qcode.yaml``) in a subprocess. A refused input must give its documented exit code, exactly
one ``error:`` line that names the file and says what is wrong, no traceback, and leave the
store's rows and the project's files exactly as they were. The few legitimate inputs of the
table (UTF-16 without a BOM, overlapping cues…) must be read without an error.

``python -m bench.hostile_table`` prints the same table as Markdown.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import qcode
from tests.hostile_cases import CASES, Case, judge, make_template, run_case


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_template(tmp_path_factory.mktemp("hostile"), qcode)


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.slow else []) for c in CASES],
)
def test_hostile_input(case: Case, template: Path, tmp_path: Path) -> None:
    outcome = run_case(case, template, tmp_path, qcode)
    verdict = judge(case, outcome)
    assert verdict.ok, f"{case.input}: {'; '.join(verdict.problems)}\n{outcome.stderr[-3000:]}"


def test_the_table_covers_every_reader() -> None:
    readers = {c.reader for c in CASES}
    assert readers >= {"txt", "md", "docx", "odt", "vtt", "srt", "trs", "csv", "sheet", "qdc",
                       "qdpx", "qcode.yaml", "codebook"}
    assert len({c.id for c in CASES}) == len(CASES)
