"""Reviewing suggestions: each decision, shrink and widen, undo, bulk decisions, piped input."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcode import coding
from qcode.codebook import load_valid
from qcode.codebook_sync import sync
from qcode.project import load as load_project
from qcode.review import Reviewer, review_all
from qcode.store import Store
from qcode.suggest import list_suggestions, suggest
from tests.conftest import qcode

CODEBOOK = """\
themes:
  - id: t
    label: Thème
    codes:
      - { id: entraide, label: Entraide, keywords: [s'entraider, coup de main] }
      - { id: fete, label: Fête, keywords: [fête, barbecue] }
"""

TEXT = """\
Entretien T1
Date : 1 mars 2021

E : Comment ça se passe dans la cour ?

Karim : Bien. On s'entraide beaucoup entre voisins. Et puis on a fait une fête en juin, \
avec un barbecue. Tout le monde était là.

E : Et l'hiver ?

Karim : L'hiver c'est calme. Mais on donne un coup de main aux anciens. C'est normal.
"""


@pytest.fixture
def env(project_dir: Path) -> tuple[Path, Store]:
    (project_dir / "codebooks" / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
    (project_dir / "transcripts" / "T1.txt").write_text(TEXT, encoding="utf-8")
    assert qcode("ingest", cwd=project_dir).returncode == 0
    project = load_project(project_dir)
    store = Store.open(project.store_location)
    book = load_valid(project.root / project.codebook)
    sync(store, book)
    suggest(project, store, book)
    return project_dir, store


def _pending(store: Store) -> list[tuple[str, str]]:
    return [(s["code"], s["text"]) for s in list_suggestions(store)]


def test_queue_and_display(env: tuple[Path, Store]) -> None:
    store = env[1]
    assert _pending(store) == [
        ("entraide", "On s'entraide beaucoup entre voisins."),
        ("fete", "Et puis on a fait une fête en juin, avec un barbecue."),
        ("entraide", "Mais on donne un coup de main aux anciens."),
    ]
    item = Reviewer(store, "alice").current()
    assert item is not None
    assert item.turn == 2 and item.speaker == "Karim"
    a, b = item.passage
    assert item.turn_text[a:b] == "On s'entraide beaucoup entre voisins."
    assert [item.turn_text[s:e] for s, e in item.triggers] == ["entraide"]


def test_each_decision_then_undo(env: tuple[Path, Store]) -> None:
    store = env[1]
    r = Reviewer(store, "alice")
    assert r.act("y") == "accepted entraide for T1 turn 2"
    assert r.act("w").startswith("accepted fete on the turn [")
    assert r.act("n") == "rejected entraide for T1 turn 4"
    assert r.current() is None and r.act("y") == "no more suggestions"
    rows = coding.list_codings(store)
    assert [(c["code"], c["origin"], c["quote"][:20]) for c in rows] == [
        ("fete", "keyword", "Bien. On s'entraide "),  # widened to the whole turn
        ("entraide", "keyword", "On s'entraide beauco")]
    assert r.act("u").startswith("undid reject")
    back = r.current()
    assert back is not None and back.suggestion["code"] == "entraide"
    assert r.act("u").startswith("undid accept")  # the widened fête
    assert [c["code"] for c in coding.list_codings(store)] == ["entraide"]
    assert r.act("s").startswith("accepted fete on the sentence [")
    quotes = [c["quote"] for c in coding.list_codings(store, codes=["fete"])]
    assert quotes == ["Et puis on a fait une fête en juin, avec un barbecue."]
    assert r.decided == {"accepted": 2, "rejected": 0, "skipped": 0}


def test_skip_keeps_pending_and_rejected_never_returns(env: tuple[Path, Store]) -> None:
    root, store = env
    r = Reviewer(store, "alice")
    assert r.act("") == f"skipped suggestion {r.queue[0]['id']}"
    assert r.act("n").startswith("rejected fete")
    assert len(list_suggestions(store)) == 2
    project = load_project(root)
    book = load_valid(project.root / project.codebook)
    suggest(project, store, book)  # run again: the rejected one stays rejected
    assert [s["code"] for s in list_suggestions(store)] == ["entraide", "entraide"]
    assert [s["code"] for s in list_suggestions(store, statuses=["rejected"])] == ["fete"]


def test_bulk_accept_and_reject_with_filters(env: tuple[Path, Store]) -> None:
    store = env[1]
    assert review_all(store, "bot", accept=False, codes=["fete"]) == 1
    assert review_all(store, "bot", accept=True, min_score=0.0) == 2
    assert list_suggestions(store) == []
    assert {c["coder"] for c in coding.list_codings(store)} == {"bot"}


def test_cli_piped_review_and_bulk(env: tuple[Path, Store]) -> None:
    root = env[0]
    result = qcode("review", "--coder", "claire", cwd=root, stdin="y\nn\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[0].startswith("[1/3] T1 turn 2 · Karim · entraide (Entraide) · score ")
    assert out[1] == "  « On s'entraide beaucoup entre voisins. »"
    assert out[2] == "accepted entraide for T1 turn 2"
    assert out[-1] == "  « Mais on donne un coup de main aux anciens. »"  # EOF: stops here
    assert result.stderr == "review: 1 accepted, 1 rejected, 0 skipped, 1 left\n"
    result = qcode("review", "--accept", "--coder", "claire", cwd=root)
    assert (result.returncode, result.stderr) == (0, "accepted 1 suggestion(s)\n")
    result = qcode("review", "--accept", "--reject", cwd=root)
    assert result.returncode == 2
