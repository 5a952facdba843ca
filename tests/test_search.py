"""Keyword in context (``qcode search``) with the real French model, on a real store.

What the matcher guarantees (the same as keyword suggestions): folded forms (case, accents,
apostrophe styles) and lemmas meet, so do words of one *family* (« solidaires » and
« solidarité »); elided clitics are skipped; a phrase is words in a row that punctuation breaks.
The golden file ``tests/fixtures/golden/tables/search.table.txt`` holds the CLI's table; after
an intended change, regenerate it and read the diff before keeping it:

    QCODE_REGENERATE_GOLDEN=1 python -m pytest tests/test_search.py
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qcode import coding, nlp
from qcode.codebook import load_valid
from qcode.codebook_sync import sync
from qcode.errors import NotFoundError, UsageError
from qcode.project import load as load_project
from qcode.search import _left, _right, search
from qcode.store import Store
from qcode.store import transcripts as tq
from tests.conftest import FIXTURES, qcode

REGENERATE = os.environ.get("QCODE_REGENERATE_GOLDEN") == "1"  # read at import: conftest
GOLDEN = FIXTURES / "golden" / "tables"                          # hides QCODE_* in tests

CODEBOOK = """\
themes:
  - id: social
    label: Liens
    codes:
      - { id: entraide, label: Entraide }
      - { id: voisinage, label: Voisinage }
  - id: gouv
    label: Gouvernance
    codes:
      - { id: instances, label: Instances }
"""

T1 = """Entretien T1
Date : 1 mars 2021

E : Et les voisins ?

Karim : Mon voisin m’aide. Les Voisins sont là. Une voisine aussi.

E : Et l’AG ?

Karim : L’assemblée générale, c’est en mai. On a fait l'AG dans la cour. {more}

E : Merci.

Karim : Au revoir.
""".format(more="Un événement solidaire. Les evenements de l’année.")

T2 = """Entretien T2
Date : 2 mars 2021

E : Bonjour.

Nadia : La solidarité compte. Assemblée. Générale, non.

E : Merci.

Nadia : De rien.
"""

ATTRIBUTES = "id,initiative\nT1,amis\nT2,voisins\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Path]]:
    from qcode.ingest.pipeline import ingest
    from qcode.project import init

    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("QCODE_"):
                mp.delenv(name)
        root = tmp_path_factory.mktemp("search") / "study"
        init(root, name="Search")
        (root / "codebooks" / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
        (root / "transcripts" / "attributes.csv").write_text(ATTRIBUTES, encoding="utf-8")
        (root / "transcripts" / "T1.txt").write_text(T1, encoding="utf-8")
        (root / "transcripts" / "T2.txt").write_text(T2, encoding="utf-8")
        project = load_project(root)
        store = Store.open(project.store_location)
        assert ingest(project, store, None).ok
        book = load_valid(root / project.codebook)
        sync(store, book)
        # « Mon voisin m’aide. » coded twice, listed in codebook order on its hit
        coding.tag(store, book, coding.resolve(store, "T1", "2.1"), ["voisinage", "entraide"],
                   "alice")
        coding.tag(store, book, coding.resolve(store, "T1", "4"), ["instances"], "bob",
                   "keyword")
        yield store, root
        store.close()


ORDER = ["social", "entraide", "voisinage", "gouv", "instances"]


def hits(store: Store, term: str, **options: Any) -> list[dict[str, Any]]:
    return search(store, term, code_order=ORDER, **options).hits


def matches(rows: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    return [(r["transcript"], r["turn"], r["match"]) for r in rows]


def test_first_search_lemmatises_and_says_so(env: tuple[Store, Path]) -> None:
    store, _ = env
    said: list[str] = []
    result = search(store, "voisins", notify=said.append)
    assert result.lemmatised == 2 and result.transcripts == 2
    assert said == ["computing the lemmas of 2 transcript(s) not analysed yet (once: later "
                    "searches and suggestions reuse them)"]
    # from then on the cache serves: no text goes through spaCy, nothing is said
    said.clear()
    before = nlp.counters.texts
    again = search(store, "voisins", notify=said.append)
    assert (again.lemmatised, said, nlp.counters.texts) == (0, [], before)
    assert again.hits == result.hits


def test_inflections_and_roles(env: tuple[Store, Path]) -> None:
    store, _ = env
    everyone = hits(store, "voisins")
    assert matches(everyone) == [("T1", 1, "voisins"), ("T1", 2, "voisin"),
                                 ("T1", 2, "Voisins"), ("T1", 2, "voisine")]
    assert [r["how"] for r in everyone][:3] == ["form", "lemma", "form"]
    assert everyone[3]["how"] in {"lemma", "family"}
    assert matches(hits(store, "voisins", roles=["participant"])) == matches(everyone)[1:]
    assert matches(hits(store, "voisin", roles=["interviewer"])) == [("T1", 1, "voisins")]
    assert [(r["speaker"], r["role"]) for r in everyone[:2]] == [("E", "interviewer"),
                                                                 ("Karim", "participant")]
    # forms only
    assert matches(hits(store, "voisins", exact=True)) == [
        ("T1", 1, "voisins"), ("T1", 2, "Voisins")]


def test_accents_apostrophes_and_family(env: tuple[Store, Path]) -> None:
    store, _ = env
    assert matches(hits(store, "evenement")) == [("T1", 4, "événement"),
                                                 ("T1", 4, "evenements")]
    # the elided article is skipped on both sides, whichever apostrophe is typed
    assert matches(hits(store, "l’AG")) == [("T1", 3, "AG"), ("T1", 4, "AG")]
    assert matches(hits(store, "l'ag")) == matches(hits(store, "l’AG"))
    # a noun in -ité and its adjective share a family key
    family = hits(store, "solidaires")
    assert matches(family) == [("T1", 4, "solidaire"), ("T2", 2, "solidarité")]
    assert family[1]["how"] == "family"


def test_phrases(env: tuple[Store, Path]) -> None:
    store, _ = env
    found = hits(store, "assemblée générale")
    assert matches(found) == [("T1", 4, "assemblée générale")]  # « Assemblée. Générale »: no
    assert (found[0]["left"], found[0]["right"]) == (
        "L’", ", c’est en mai. On a fait l'AG dans la cour. Un événement…")
    with store.read() as conn:
        text = tq.text_of(conn, "T1")
    assert text is not None
    assert all(text[r["start"]:r["end"]] == r["match"] for r in hits(store, "voisins"))


def test_codes_on_hits(env: tuple[Store, Path]) -> None:
    store, _ = env
    found = {(r["turn"], r["match"]): r["codes"] for r in hits(store, "voisins")}
    assert found[(2, "voisin")] == ["entraide", "voisinage"]  # codebook order
    assert found[(2, "Voisins")] == []
    assert found[(1, "voisins")] == []
    assert [r["codes"] for r in hits(store, "AG")] == [[], ["instances"]]


def test_filters(env: tuple[Store, Path]) -> None:
    store, _ = env
    assert matches(hits(store, "solidarité", where={"initiative": "voisins"})) == [
        ("T2", 2, "solidarité")]
    assert matches(hits(store, "solidarité", transcripts=["T1"])) == [
        ("T1", 4, "solidaire")]
    with pytest.raises(NotFoundError, match="no attribute 'role' on any transcript"):
        hits(store, "x", where={"role": "membre"})
    with pytest.raises(UsageError, match="invalid role 'maire'"):
        hits(store, "x", roles=["maire"])
    with pytest.raises(UsageError, match="empty search term"):
        hits(store, "  ")
    with pytest.raises(UsageError, match="nothing to search for in 'euh'"):
        hits(store, "euh")


def test_context_on_one_line_cut_at_words() -> None:
    text = "Début du tour. " + "mot " * 30 + "CIBLE " + "suite\n\nligne " * 12 + "fin."
    start = text.index("CIBLE")
    end = start + len("CIBLE")
    left = _left(text, 0, start, 60)
    right = _right(text, end, len(text), 60)
    assert left.startswith("…mot ") and left.endswith("mot ") and len(left) <= 61
    assert right.startswith(" suite ligne suite") and right.endswith("…")
    assert "\n" not in right and "  " not in right and len(right) <= 61
    # inside the turn's bounds, nothing is cut
    assert _left(text, start - 8, start, 60) == "mot mot "
    assert _right("a CIBLE b.", 7, 10, 60) == " b."


def test_cli(env: tuple[Store, Path]) -> None:
    _, root = env
    result = qcode("search", "voisins", "--role", "participant", cwd=root)
    assert result.returncode == 0, result.stderr
    *notes, summary = result.stderr.splitlines()
    assert summary == "3 hit(s) of « voisins » in 1 of 2 transcript(s)"
    # (the note when this test runs first and the lemmas are not cached yet)
    assert all(n.startswith("note: computing the lemmas of 2 transcript(s)") for n in notes)
    path = GOLDEN / "search.table.txt"
    if REGENERATE:
        path.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == path.read_text(encoding="utf-8")
    result = qcode("search", "AG", "-f", "json", "--where", "initiative=amis", cwd=root)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["turn"], r["speaker"], r["role"], r["match"], r["codes"]) for r in rows] == [
        (3, "E", "interviewer", "AG", []), (4, "Karim", "participant", "AG", ["instances"])]
    assert set(rows[0]) == {"transcript", "turn", "speaker", "role", "time", "left", "match",
                            "right", "codes", "start", "end", "how"}
    result = qcode("search", "AG", "-f", "csv", "--role", "boss", cwd=root)
    assert result.returncode == 2 and "Invalid value for '--role'" in result.stderr
