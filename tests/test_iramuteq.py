"""``qcode export iramuteq``: corpora in IRaMuTeQ's format, from the small fixture project.

Golden files live in ``tests/fixtures/golden/iramuteq/``; regenerate them after an intended
change with ``QCODE_REGENERATE_GOLDEN=1 python -m pytest tests/test_iramuteq.py`` (read when the
module is imported: conftest hides QCODE_* variables from the tests) and review the diff.
The bundled study's corpus is checked in ``tests/test_export_quotes.py``, which already runs it.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from qcode.errors import UsageError
from qcode.reports import iramuteq as lib
from tests.conftest import FIXTURES, qcode
from tests.test_export_quotes import build_small_project, opened

REGENERATE = os.environ.get("QCODE_REGENERATE_GOLDEN") == "1"
GOLDEN = FIXTURES / "golden" / "iramuteq"


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return build_small_project(tmp_path / "petite")


def check_golden(name: str, data: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8"))
        return
    assert path.is_file(), f"missing golden file {path}: run with QCODE_REGENERATE_GOLDEN=1"
    assert data == path.read_bytes().decode("utf-8")


def texts_of(corpus: str) -> list[tuple[str, list[str]]]:
    """(star line, body lines) of each text; checks the layout IRaMuTeQ expects."""
    assert corpus.endswith("\n") and not corpus.endswith("\n\n")
    assert not corpus.startswith("\ufeff") and "\r" not in corpus
    out = []
    for chunk in corpus[:-1].split("\n\n"):
        first, *body = chunk.split("\n")
        assert re.fullmatch(r"\*\*\*\*( \*[^\W_]+_[\w.\-]+)+", first), first
        assert body and all(line.strip() == line and line for line in body), chunk
        assert not any("*" in line for line in body)
        out.append((first, body))
    return out


def test_golden_corpus_and_passages(small: Path) -> None:
    project, store, book = opened(small)
    result = lib.export_iramuteq(project, store, book)
    assert (result.texts, result.notes) == (2, [])
    check_golden("corpus-iramuteq.txt", result.data)
    texts = texts_of(result.data)
    assert texts[0][0] == ("**** *id_E01 *ageband_40-49 *initiative_amis_de_la_cour "
                           "*interviewer_Yanis_Benali *participant_Karim *role_porteur")
    assert texts[1][0] == ("**** *id_E02 *ageband_70-79 *initiative_Les_Ailes_17e "
                           "*interviewer_Sophie_Laurent *participant_Hélène *role_membre_élue")
    # participants only (no question), one line per paragraph, '*' removed from the text
    assert texts[0][1][1] == ("La fête de la cour, c'est le moment. Tout le monde descend — "
                              "les jeunes, les vieux — et on mange ensemble, xxx / ben voilà, "
                              "c'est c'est <la> fête_de_la_cour.")
    assert not any("?" in line for _, body in texts for line in body)
    assert texts[1][1] == [
        "Je connais mes voisins, maintenant. Avant, la cour, on la traversait vite.",
        "1. Les courses, 2. le ménage : Fatoumata m'a aidée # deux fois par semaine.",
        "On a une AG en septembre, dans le square. Le bureau, je n'y vais pas."]

    result = lib.export_iramuteq(project, store, book, themes=["liens"])
    check_golden("passages-iramuteq.txt", result.data)
    texts = texts_of(result.data)
    assert result.texts == len(texts) == 4  # alice's and bob's identical passage once
    assert [t[0].split()[-2:] for t in texts] == [
        ["*code_entraide", "*theme_liens"], ["*code_entraide", "*theme_liens"],
        ["*code_courses", "*theme_liens"], ["*code_fêtes", "*theme_liens"]]


def test_filters(small: Path) -> None:
    project, store, book = opened(small)
    result = lib.export_iramuteq(project, store, book, where=["role=porteur"])
    assert [t[0].split()[1] for t in texts_of(result.data)] == ["*id_E01"]
    result = lib.export_iramuteq(project, store, book, codes=["bureau"], coders=["alice"])
    assert texts_of(result.data) == [(
        "**** *id_E02 *ageband_70-79 *initiative_Les_Ailes_17e *interviewer_Sophie_Laurent "
        "*participant_Hélène *role_membre_élue *code_bureau *theme_gouvernance",
        ["Le bureau, je n'y vais pas."])]
    result = lib.export_iramuteq(project, store, book, codes=["bureau"], origins=["keyword"])
    assert [t[1] for t in texts_of(result.data)] == [["Le bureau, le bureau décide."]]
    empty = lib.export_iramuteq(project, store, book, codes=["bureau"], transcripts=["E01"],
                                origins=["manual"])
    assert (empty.data, empty.texts) == ("", 0)
    with pytest.raises(UsageError, match="use them with --code or --theme"):
        lib.export_iramuteq(project, store, book, coders=["alice"])


@pytest.mark.parametrize(("value", "expected"), [
    ("amis de la cour", "amis_de_la_cour"), ("Les Ailes (17e)", "Les_Ailes_17e"),
    ("l’îlot  *vert*", "l_îlot_vert"), ("2021-03-12", "2021-03-12"), ("M. D.", "M._D."),
    ("  ", ""), ("a_b", "a_b"),
])
def test_variable_value(value: str, expected: str) -> None:
    assert lib.variable_value(value) == expected


def test_star_line_and_body() -> None:
    assert lib.star_line([("age_band", "40-49"), ("tranche d'âge", "x y"), ("vide", ""),
                          ("_", "z")]) == "**** *ageband_40-49 *tranchedâge_x_y"
    assert lib.text_body("**** pas une ligne étoilée\n\n-*thème  non\n") == (
        "pas une ligne étoilée\n-thème non")


def test_cli(small: Path) -> None:
    result = qcode("export", "iramuteq", cwd=small)
    assert (result.returncode, result.stderr) == (
        0, "wrote exports/corpus-iramuteq.txt (2 texts)\n")
    written = small / "exports" / "corpus-iramuteq.txt"
    assert written.read_text(encoding="utf-8") == (GOLDEN / "corpus-iramuteq.txt").read_text(
        encoding="utf-8")
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    result = qcode("export", "iramuteq", "--theme", "Liens sociaux", "--out", "-", cwd=small)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (GOLDEN / "passages-iramuteq.txt").read_text(encoding="utf-8")
    result = qcode("export", "iramuteq", "--coder", "alice", cwd=small)
    assert result.returncode == 2
    assert result.stderr == ("error: --coder and --origin select codings: use them with "
                             "--code or --theme\n")
    result = qcode("export", "iramuteq", "--where", "genre=f", cwd=small)
    assert result.returncode == 2 and "known attributes: age_band, initiative" in result.stderr
