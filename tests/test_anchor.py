"""Re-anchoring codings when a corrected transcript is re-ingested: realistic edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcode import coding
from qcode.anchor import OffsetMap, place
from qcode.codebook import load_valid
from qcode.codebook_sync import sync
from qcode.ingest.pipeline import ingest
from qcode.project import load as load_project
from qcode.store import Store
from tests.conftest import qcode

CODEBOOK = """\
themes:
  - id: t
    label: Thème
    codes:
      - { id: entraide, label: Entraide }
      - { id: accord, label: Accord }
      - { id: fete, label: Fête }
      - { id: bureau, label: Bureau }
"""

V1 = """\
Entretien T1
Date : 1 mars 2021

E : Comment ça a commencé ?

Karim : Pendant le confinemnt, on s'entraide entre voisins. Oui. D'accord.

E : Et le bureau ?

Karim : Oui. Le bureau décide tout, d'accord. On vote en AG.

E : Et la fête ?

Karim : La fête de la cour, c'était en juin. Tout le monde est venu. Oui.
"""


@pytest.fixture
def env(project_dir: Path) -> tuple[Path, Store]:
    (project_dir / "codebooks" / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
    (project_dir / "transcripts" / "T1.txt").write_text(V1, encoding="utf-8")
    project = load_project(project_dir)
    store = Store.open(project.store_location)
    assert ingest(project, store).ok
    return project_dir, store


def _code(env: tuple[Path, Store], unit: str | None, code: str, quote: str | None = None,
          occurrence: int | None = None) -> int:
    root, store = env
    project = load_project(root)
    book = load_valid(project.root / project.codebook)
    sync(store, book)
    passage = coding.resolve(store, "T1", unit, quote=quote, occurrence=occurrence)
    return coding.tag(store, book, passage, [code], "alice").created[0]


def _reingest(env: tuple[Path, Store], text: str) -> list[dict[str, object]]:
    root, store = env
    (root / "transcripts" / "T1.txt").write_text(text, encoding="utf-8")
    report = ingest(load_project(root), store)
    assert report.ok and report.outcomes[0].status == "updated"
    return coding.list_codings(store)


def _by_code(rows: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {r["code"]: r for r in rows}


def test_typo_fix_inserted_paragraph_and_relabelled_speaker(env: tuple[Path, Store]) -> None:
    _code(env, "2.1", "entraide")  # « Pendant le confinemnt, on s'entraide entre voisins. »
    _code(env, None, "fete", quote="La fête de la cour, c'était en juin.")
    _code(env, "4.3", "bureau")
    v2 = (V1.replace("confinemnt", "confinement")  # a typo fixed inside a coded passage
          .replace("E : Et le bureau ?", "E : Et le bureau ?\n\n[Une voisine entre.]")
          .replace("Karim :", "Karim (45 ans) :"))  # speaker relabelled
    rows = _by_code(_reingest(env, v2))
    assert rows["entraide"]["quote"] == "Pendant le confinement, on s'entraide entre voisins."
    assert rows["entraide"]["flag"] == ""
    assert "text corrected" in str(rows["entraide"]["flag_note"])
    assert rows["fete"]["quote"] == "La fête de la cour, c'était en juin."
    assert rows["bureau"]["quote"] == "On vote en AG."
    assert all(r["flag"] == "" for r in rows.values())


def test_quotes_that_occur_several_times_stay_on_their_own_occurrence(
        env: tuple[Path, Store]) -> None:
    # « Oui. » occurs three times and « d'accord » twice: each coding keeps its own one
    _code(env, None, "accord", quote="Oui.", occurrence=2)
    _code(env, None, "entraide", quote="Oui.", occurrence=3)
    v2 = "Entretien T1 (transcription relue)\n" + V1.split("\n", 1)[1].replace(
        "Comment ça a commencé ?", "Comment est-ce que ça a commencé, au tout début ?")
    rows = _by_code(_reingest(env, v2))
    text = v2
    third_oui = [i for i in range(len(text)) if text.startswith("Oui.", i)][2]
    assert (rows["entraide"]["start"], rows["entraide"]["flag"]) == (third_oui, "")
    second_oui = [i for i in range(len(text)) if text.startswith("Oui.", i)][1]
    assert rows["accord"]["start"] == second_oui


def test_deleted_turn_is_kept_and_flagged_never_dropped(env: tuple[Path, Store]) -> None:
    coding_id = _code(env, "6", "fete")  # the last turn
    _code(env, "4", "bureau")
    v2 = V1.split("E : Et la fête ?")[0]  # the last question and answer deleted
    rows = _reingest(env, v2)
    assert len(rows) == 2  # nothing dropped
    fete = _by_code(rows)["fete"]
    assert fete["id"] == coding_id
    assert fete["flag"] == "unplaced"
    assert "is no longer in the text" in str(fete["flag_note"])
    root, store = env
    flagged = coding.list_codings(store, flagged=True)
    assert [r["code"] for r in flagged] == ["fete"]
    result = qcode("codings", "list", "--flagged", "-f", "csv", cwd=root)
    assert "unplaced" in result.stdout and "bureau" not in result.stdout


def test_rewritten_turn_found_fuzzily_or_flagged(env: tuple[Path, Store]) -> None:
    _code(env, "4.2", "bureau")  # « Le bureau décide tout, d'accord. »
    _code(env, "6", "fete")
    v2 = (V1.replace("Le bureau décide tout, d'accord.", "Le bureau, il décide de tout, d'accord.")
          .replace("La fête de la cour, c'était en juin. Tout le monde est venu. Oui.",
                   "Alors en septembre on a surtout parlé des charges."))
    rows = _by_code(_reingest(env, v2))
    assert rows["bureau"]["flag"] == ""
    assert "décide de tout" in str(rows["bureau"]["quote"])
    assert rows["fete"]["flag"] == "unplaced"


def test_ambiguous_when_the_diff_cannot_choose(env: tuple[Path, Store]) -> None:
    _code(env, None, "accord", quote="D'accord.")
    # the answer is gone, and « D'accord. » now stands once before and once after its place
    v2 = (V1.replace("Karim : Pendant le confinemnt, on s'entraide entre voisins. Oui. "
                     "D'accord.", "Karim : Bon.")
          .replace("E : Comment ça a commencé ?", "E : Comment ça a commencé ? D'accord.")
          .replace("E : Et le bureau ?", "E : D'accord. Et le bureau ?"))
    rows = _by_code(_reingest(env, v2))
    assert rows["accord"]["flag"] == "ambiguous"
    assert "occurs 2 times" in str(rows["accord"]["flag_note"])
    assert rows["accord"]["quote"] == "D'accord."


def test_cli_reports_what_moved(env: tuple[Path, Store]) -> None:
    _code(env, "2.1", "entraide")
    _code(env, "6", "fete")
    root = env[0]
    (root / "transcripts" / "T1.txt").write_text(V1.split("E : Et la fête ?")[0].replace(
        "Comment", "Alors, comment"), encoding="utf-8")
    result = qcode("ingest", cwd=root)
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert lines[0].startswith("updated   T1: 4 turns")
    assert lines[0].endswith("codings re-anchored: 1 moved, 1 unplaced")
    assert lines[1].startswith("warning: T1: T1 coding 2: unplaced: ")


def test_offset_map_is_exact_on_unchanged_text() -> None:
    old = "abc def\nghi jkl\nmno\n"
    new = "abc XX def\nghi jkl\nnew line\nmno\n"
    m = OffsetMap(old, new)
    for i, ch in enumerate(old):
        j = m.exact(i)
        if j is not None:
            assert new[j] == ch
    p = place(m, old.index("jkl"), old.index("jkl") + 3, "jkl")
    assert (p.how, new[p.start:p.end]) == ("moved", "jkl")
