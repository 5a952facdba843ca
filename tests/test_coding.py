"""Tagging by every addressing form, untag, listing, memos and undo, on a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qcode import coding
from qcode.codebook import load_valid
from qcode.codebook_sync import sync
from qcode.errors import NotFoundError, UsageError
from qcode.project import load as load_project
from qcode.store import Store
from tests.conftest import qcode

CODEBOOK = """\
themes:
  - id: social
    label: Liens
    codes:
      - { id: entraide, label: Entraide, key: e }
      - { id: santé, label: Santé }
      - { id: récit, label: Récit }
  - id: gouvernance
    label: Gouvernance
    codes:
      - { id: bureau, label: Le bureau, key: bu }
"""

TEXT = (
    "Entretien T1\nDate : 1 mars 2021\n\n"
    "E : Comment ça a commencé ?\n\n"
    "Karim : Pendant le confinement. On s’entraide entre voisins. Oui. Et la santé, "
    "c’était dur.\n\n"
    "E : Bon, d’accord. Et le bureau ?\n\n"
    "Karim : Oui. Le bureau décide, d’accord. Mais l’été dernier, on a fait la fête.\n"
)


@pytest.fixture
def env(project_dir: Path) -> tuple[Store, object, Path]:
    (project_dir / "codebooks" / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
    (project_dir / "transcripts" / "T1.txt").write_text(TEXT, encoding="utf-8")
    assert qcode("ingest", cwd=project_dir).returncode == 0
    project = load_project(project_dir)
    store = Store.open(project.store_location)
    book = load_valid(project.root / project.codebook)
    sync(store, book)
    return store, book, project_dir


def test_turn_range_sentence_span(env: tuple[Store, object, Path]) -> None:
    store = env[0]
    p = coding.resolve(store, "T1", "2")
    assert p.text.startswith("Pendant le confinement.") and p.text.endswith("c’était dur.")
    p = coding.resolve(store, "T1", "2-3")
    assert p.text.startswith("Pendant") and p.text.endswith("Et le bureau ?")
    assert "E : Bon, d’accord." in p.text  # a range covers the turns in between, with labels
    assert coding.resolve(store, "T1", "2.2").text == "On s’entraide entre voisins."
    assert coding.resolve(store, "T1", "2.2-4").text == (
        "On s’entraide entre voisins. Oui. Et la santé, c’était dur.")
    whole = coding.resolve(store, "T1", "2")
    p = coding.resolve(store, "T1", span=f"{whole.start}:{whole.start + 8}")
    assert (p.text, p.turn) == ("Pendant", 2)  # trailing space trimmed


@pytest.mark.parametrize(("unit", "message"), [
    ("9", "T1 has no turn 9 (turns 1 to 4)"),
    ("2.9", "turn 2 of T1 has no sentence 9 (sentences 1 to 4)"),
    ("3-2", "invalid turn range '3-2'"),
    ("2.3-1", "invalid sentence range '2.3-1'"),
    ("x", "invalid unit 'x'"),
])
def test_bad_units(env: tuple[Store, object, Path], unit: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        coding.resolve(env[0], "T1", unit)


def test_quotes_exact_loose_fuzzy_and_ambiguous(env: tuple[Store, object, Path]) -> None:
    store = env[0]
    p = coding.resolve(store, "T1", quote="On s’entraide entre voisins.")
    assert (p.how, p.turn) == ("exact", 2)
    p = coding.resolve(store, "T1", quote="on s'entraide  ENTRE voisins")  # apostrophe, case
    assert (p.how, p.text) == ("loose", "On s’entraide entre voisins")
    p = coding.resolve(store, "T1", quote="Pendant le confinment, on s'entraide")  # typo
    assert p.how == "fuzzy" and p.text.startswith("Pendant le confinement")
    with pytest.raises(coding.AmbiguousQuote) as info:  # « d’accord » occurs twice
        coding.resolve(store, "T1", quote="d’accord")
    assert len(info.value.candidates) == 2
    assert info.value.candidates[0].startswith("T1 turn 3 [")
    assert coding.resolve(store, "T1", quote="d’accord", occurrence=2).turn == 4
    with pytest.raises(NotFoundError, match="quote not found"):
        coding.resolve(store, "T1", quote="rien de tel ici, vraiment pas du tout")


def test_tag_untag_list_and_undo(env: tuple[Store, object, Path]) -> None:
    store, book, _ = env
    passage = coding.resolve(store, "T1", "2.4")
    result = coding.tag(store, book, passage, ["santé", "e"], "alice")  # id and key
    assert len(result.created) == 2
    again = coding.tag(store, book, passage, ["Santé"], "alice")  # by label: already there
    assert (again.created, len(again.existing)) == ([], 1)
    coding.tag(store, book, passage, ["santé"], "bob")
    rows = coding.list_codings(store, book=book)
    assert [(r["code"], r["coder"], r["quote"]) for r in rows] == [
        ("entraide", "alice", "Et la santé, c’était dur."),
        ("santé", "alice", "Et la santé, c’était dur."),
        ("santé", "bob", "Et la santé, c’était dur.")]
    assert {r["turn"] for r in rows} == {2}
    removed = coding.untag(store, book, passage, ["santé"], "alice")
    assert [(r["code_id"], r["coder"]) for r in removed] == [("santé", "alice")]
    assert coding.undo(store, "alice").startswith("undid untag")
    assert len(coding.list_codings(store, coders=["alice"])) == 2
    assert coding.undo(store, "alice").startswith("undid tag")
    assert coding.list_codings(store, coders=["alice"]) == []
    with pytest.raises(NotFoundError, match="nothing to undo for coder 'alice'"):
        coding.undo(store, "alice")
    assert len(coding.list_codings(store, coders=["bob"])) == 1  # bob's work untouched


def test_themes_are_not_codable_and_unknown_codes_suggest(
        env: tuple[Store, object, Path]) -> None:
    store, book, _ = env
    passage = coding.resolve(store, "T1", "2")
    with pytest.raises(UsageError, match="is a theme used as a folder"):
        coding.tag(store, book, passage, ["social"], "alice")
    with pytest.raises(NotFoundError, match="did you mean 'entraide'"):
        coding.tag(store, book, passage, ["entraid"], "alice")


def test_memos(env: tuple[Store, object, Path]) -> None:
    store, book, _ = env
    coding.add_memo(store, "code", "Le bureau", "Souvent cité avec l'AG.", "alice", book)
    coding.add_memo(store, "project", "", "Relire GL04.", "alice")
    with pytest.raises(NotFoundError):
        coding.add_memo(store, "transcript", "T9", "x", "alice")
    memos = coding.list_memos(store, "code", "bureau")
    assert [(m["coder"], m["text"]) for m in memos] == [("alice", "Souvent cité avec l'AG.")]
    assert coding.undo(store, "alice").endswith("removed the memo")  # the project memo
    assert [m["target_type"] for m in coding.list_memos(store)] == ["code"]


def test_memos_on_a_coding_go_and_come_back_with_it(env: tuple[Store, object, Path]) -> None:
    store, book, _ = env
    passage = coding.resolve(store, "T1", "2.2")
    coding_id = coding.tag(store, book, passage, ["entraide"], "alice").created[0]
    coding.add_memo(store, "coding", str(coding_id), "Le cœur du récit.", "bruno", book)
    assert len(coding.untag(store, book, passage, ["entraide"], "alice")) == 1
    assert coding.list_memos(store) == []  # no memo is left on a coding that is gone
    assert coding.undo(store, "alice").endswith("restored 1 coding(s)")
    memos = coding.list_memos(store, "coding", str(coding_id))
    assert [(m["coder"], m["text"]) for m in memos] == [("bruno", "Le cœur du récit.")]
    assert [c["id"] for c in coding.list_codings(store)] == [coding_id]


def test_a_merge_that_drops_a_repeated_coding_keeps_its_memos(
        env: tuple[Store, object, Path]) -> None:
    from qcode.store import codes as code_q

    store, book, _ = env
    passage = coding.resolve(store, "T1", "2.2")
    first, second = coding.tag(store, book, passage, ["entraide", "récit"], "alice").created
    coding.add_memo(store, "coding", str(second), "Raconté deux fois.", "alice", book)
    with store.write() as conn:
        assert code_q.recode(conn, "récit", "entraide") == 1
    assert [(c["id"], c["code"]) for c in coding.list_codings(store)] == [(first, "entraide")]
    assert [m["target_id"] for m in coding.list_memos(store)] == [str(first)]


def test_cli_tag_with_accented_codes_and_quote(env: tuple[Store, object, Path]) -> None:
    root = env[2]
    result = qcode("tag", "T1", "2.2", "entraide", "récit", "--coder", "claire", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("tagged T1 turn 2 [")
    assert result.stderr.endswith("]: 2 new coding(s)\n")
    result = qcode("tag", "T1", "--quote", "d’accord", "bureau", cwd=root)
    assert result.returncode == 1
    assert "the quote occurs 2 times in T1" in result.stderr
    result = qcode("tag", "T1", "--quote", "d'accord", "--occurrence", "2", "bu",
                   "--coder", "claire", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "ignoring case and spacing" in result.stderr
    rows = json.loads(qcode("codings", "list", "-f", "json", "--coder", "claire",
                            cwd=root).stdout)
    assert [(r["turn"], r["code"], r["quote"]) for r in rows] == [
        (2, "entraide", "On s’entraide entre voisins."),
        (2, "récit", "On s’entraide entre voisins."),
        (4, "bureau", "d’accord")]
    result = qcode("undo", "--coder", "claire", cwd=root)
    assert result.returncode == 0 and result.stderr.startswith("undid tag")
    result = qcode("tag", "T1", "9", "entraide", cwd=root)
    assert (result.returncode, result.stderr) == (2, "error: T1 has no turn 9 (turns 1 to 4)\n")
    result = qcode("memo", "add", "--code", "santé", "Définition à revoir", "--coder", "claire",
                   cwd=root)
    assert result.stderr == "memo 1 added on the code santé\n"
    shown = json.loads(qcode("memo", "show", "1", "-f", "json", cwd=root).stdout)
    assert (shown["coder"], shown["text"]) == ("claire", "Définition à revoir")


def test_codings_follow_codebook_edits_end_to_end(env: tuple[Store, object, Path]) -> None:
    root = env[2]
    assert qcode("tag", "T1", "2.2", "entraide", "--coder", "claire", cwd=root).returncode == 0
    assert qcode("tag", "T1", "4.2", "bureau", "--coder", "claire", cwd=root).returncode == 0
    assert qcode("tag", "T1", "2.2", "récit", "--coder", "claire", cwd=root).returncode == 0
    result = qcode("codebook", "rename", "entraide", "solidarité", "--label", "Solidarité",
                   cwd=root)
    assert result.returncode == 0, result.stderr
    result = qcode("codebook", "merge", "récit", "solidarité", cwd=root)
    assert result.returncode == 0, result.stderr
    result = qcode("codebook", "move", "bureau", "--to", "social", cwd=root)
    assert result.returncode == 0, result.stderr
    rows = json.loads(qcode("codings", "list", "-f", "json", cwd=root).stdout)
    assert [(r["turn"], r["code"], r["label"]) for r in rows] == [
        (2, "solidarité", "Solidarité"), (4, "bureau", "Le bureau")]  # merged: one left
    shown = {r["id"]: r for r in json.loads(qcode("codebook", "show", "-f", "json",
                                                   cwd=root).stdout)}
    assert shown["bureau"]["theme"] == "social"
    assert shown["solidarité"]["codings"] == 1
