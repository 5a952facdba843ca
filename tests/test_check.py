"""``qcode check`` and ``qcode backup`` on real stores, damaged on purpose, on both engines.

The damage is done the way it happens in life: rows edited behind qcode's back (sqlite3, psql),
foreign keys switched off while inserting, files deleted or opened to others, a store from an
older qcode. Each problem must be listed with a fix, and the fixes given as commands must work
when run as printed. Backups are taken while another process writes, and must restore to a
store that checks clean.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from qcode import coding
from qcode.codebook import load_valid
from qcode.codebook_sync import sync
from qcode.project import load as load_project
from qcode.store import Store
from qcode.store import suggestions as sq
from tests.conftest import REPO, qcode

CODEBOOK = """\
themes:
  - id: liens
    label: Liens
    codes:
      - { id: entraide, label: Entraide }
      - { id: voisinage, label: Voisinage }
  - id: gouvernance
    label: Gouvernance
    codes:
      - { id: bureau, label: Le bureau }
      - { id: ag, label: Assemblée générale }
"""

T1 = """\
Entretien T1
Date : 1 mars 2021

E : Comment ça a commencé ?

Karim : Pendant le confinement. On s’entraide entre voisins. Oui.

E : Et le bureau ?

Karim : Le bureau décide, d’accord. Mais l’été dernier, on a fait la fête.
"""

T2 = """\
E : Vous connaissez vos voisins ?

Nadia : Oui, tous ceux du palier. On se rend des services.

E : Depuis quand ?

Nadia : Depuis la crise. Avant, on se croisait sans se parler.
"""

Rows = list[dict[str, str]]


@pytest.fixture
def small(project_dir: Path) -> Path:
    """A project with two interviews, codings by two coders, a memo, a suggestion."""
    (project_dir / "codebooks" / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
    (project_dir / "transcripts" / "T1.txt").write_text(T1, encoding="utf-8")
    (project_dir / "transcripts" / "T2.txt").write_text(T2, encoding="utf-8")
    project = load_project(project_dir)
    store = Store.open(project.store_location)
    from qcode.ingest.pipeline import ingest

    assert ingest(project, store).ok
    book = load_valid(project_dir / project.codebook)
    sync(store, book)
    for tid, unit, code, coder in (("T1", "2", "entraide", "alice"), ("T1", "4", "bureau",
                                                                        "alice"),
                                   ("T1", "2.2", "voisinage", "bruno"),
                                   ("T2", "2", "voisinage", "alice"),
                                   ("T2", "4", "entraide", "bruno")):
        coding.tag(store, book, coding.resolve(store, tid, unit), [code], coder)
    [first] = [r["id"] for r in coding.list_codings(store, transcripts=["T1"], coders=["alice"],
                                                      codes=["entraide"])]
    coding.add_memo(store, "coding", str(first), "Entraide liée au confinement", "alice")
    passage = coding.resolve(store, "T2", "4.1")
    with store.write() as conn:
        sq.insert_many(conn, [{
            "transcript_id": "T2", "start": passage.start, "end": passage.end,
            "code_id": "entraide", "unit": "sentence", "score": 0.8, "triggers_json": "[]",
            "snapshot": passage.text, "text_key": "k1", "status": "pending",
            "created_at": "2021-03-01T00:00:00+00:00", "flag": "", "flag_note": ""}])
    store.close()
    return project_dir


def _check(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, Rows]:
    done = qcode("check", "--format", "json", *args, cwd=root, env=env)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("check: ") and done.stderr.count("\n") == 1, done.stderr
    return done.returncode, json.loads(done.stdout)


def _only(rows: Rows, check: str, where: str) -> dict[str, str]:
    found = [r for r in rows if r["check"] == check and r["where"] == where]
    assert len(found) == 1, (check, where, rows)
    return found[0]


def _sql(root: Path, *statements: str, foreign_keys: bool = True) -> None:
    """Edit the store behind qcode's back, as someone with sqlite3 or psql would."""
    location = load_project(root).store_location
    if "://" not in location:
        conn = sqlite3.connect(location, isolation_level=None)
        try:
            conn.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            for statement in statements:
                conn.execute(statement)
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(location, autocommit=True) as pg:
        if not foreign_keys:  # the server enforces them unless told not to fire its triggers
            pg.execute("SET session_replication_role = replica")
        for statement in statements:
            pg.execute(statement)


def _scalar(root: Path, statement: str) -> Any:
    location = load_project(root).store_location
    if "://" not in location:
        with closing(sqlite3.connect(location)) as conn:
            return conn.execute(statement).fetchone()[0]
    import psycopg

    with psycopg.connect(location) as pg:
        row = pg.execute(statement).fetchone()
        assert row is not None
        return row[0]


def _run_fix(root: Path, fix: str) -> None:
    """Run the command a fix gives, as printed (the part after 'then: ' for SQL fixes)."""
    command = fix.split("qcode backup, then: ", 1)[-1]
    argv = shlex.split(command)
    if argv[0] == "qcode":
        done = qcode(*argv[1:], cwd=root)
    else:
        done = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, (command, done.stderr)


# --- a sound project ----------------------------------------------------------------------------


def test_a_sound_project_checks_clean(small: Path) -> None:
    code, rows = _check(small)
    assert (code, rows) == (0, [])
    done = qcode("check", cwd=small)  # the table: nothing on stdout, the summary on stderr
    assert done.returncode == 0 and done.stdout == ""
    assert done.stderr.startswith("check: 0 problem(s), 0 warning(s), 0 note(s) in ")
    assert "2 transcripts, 2 source files, 8 turns" in done.stderr
    assert "5 codings, 1 suggestions, 1 memos" in done.stderr
    csv = qcode("check", "-f", "csv", cwd=small)
    assert csv.returncode == 0 and csv.stdout == "severity,check,where,problem,fix\n"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_the_study_freshly_run_checks_clean_and_backs_up(tmp_path: Path, backend: str,
                                                         request: pytest.FixtureRequest) -> None:
    root = tmp_path / "study"
    root.mkdir()
    shutil.copy(REPO / "qcode.yaml", root / "qcode.yaml")
    shutil.copytree(REPO / "transcripts", root / "transcripts")
    shutil.copytree(REPO / "codebooks", root / "codebooks")
    env = {"QCODE_DB": request.getfixturevalue("pg_url")} if backend == "postgresql" else {}
    done = qcode("run", "--format", "json", cwd=root, env=env, timeout=900)
    assert done.returncode == 0, done.stderr
    accepted = json.loads(done.stdout)["accepted_suggestions"]
    assert accepted > 3000
    code, rows = _check(root, env=env)
    assert (code, rows) == (0, [])
    summary = qcode("check", cwd=root, env=env).stderr
    assert "40 transcripts, 40 source files" in summary and f"{accepted} codings" in summary
    done = qcode("backup", cwd=root, env=env)
    assert done.returncode == 0, done.stderr
    copy = Path(done.stdout.strip())
    assert copy.parent == root / ".qcode" / "backups"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    if backend == "sqlite":
        with closing(sqlite3.connect(copy)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert conn.execute("SELECT count(*) FROM codings").fetchone()[0] == accepted
        assert _check(root, env={"QCODE_DB": str(copy)}) == (0, [])


# --- a damaged store -----------------------------------------------------------------------------


def test_a_damaged_store_lists_each_problem_with_its_fix(small: Path, backend: str) -> None:
    ids = {(r["transcript"], r["code"], r["coder"]): r["id"] for r in json.loads(
        qcode("codings", "list", "-f", "json", cwd=small).stdout)}
    past_end = ids[("T1", "bureau", "alice")]
    mismatch = ids[("T2", "voisinage", "alice")]
    unknown = ids[("T2", "entraide", "bruno")]
    memo_target = ids[("T1", "entraide", "alice")]
    _sql(small,
         f'UPDATE codings SET "end" = 100000 WHERE id = {past_end}',
         f"UPDATE codings SET snapshot = 'Depuis toujours.' WHERE id = {mismatch}",
         f"UPDATE codings SET code_id = 'inconnu' WHERE id = {unknown}",
         f"DELETE FROM codings WHERE id = {memo_target}",  # its memo stays behind
         'UPDATE suggestions SET start = start + 3')
    _sql(small,
         "INSERT INTO turns (transcript_id, idx, speaker, role, start, \"end\") "
         "VALUES ('T9', 1, 'E', 'interviewer', 0, 10)",
         foreign_keys=False)
    (small / "transcripts" / "T2.txt").unlink()
    if backend == "sqlite":
        os.chmod(small / ".qcode" / "qcode.db", 0o644)

    code, rows = _check(small)
    assert code == 1
    problem = _only(rows, "codings", f"T1 coding {past_end}")
    assert problem["severity"] == "error"
    assert problem["problem"] == (f"code bureau, by alice: span {T1.index('Le bureau')}:100000 "
                                  f"is outside the text (0:{len(T1)}) or empty")
    start = T1.index("Le bureau")
    quote = "Le bureau décide, d’accord. Mais l’été dernier, on a fait la fête."
    assert problem["fix"].startswith(
        f"its quote is at {start}:{start + len(quote)}: qcode tag T1 --span "
        f"{start}:{start + len(quote)} bureau --coder alice; then remove coding {past_end}: "
        "qcode backup, then: ")
    problem = _only(rows, "codings", f"T2 coding {mismatch}")
    said = "Oui, tous ceux du palier. On se rend des services."
    assert problem["problem"] == (
        f"code voisinage, by alice: the text at {T2.index(said)}:{T2.index(said) + len(said)} "
        f"« {said} » is not its quote « Depuis toujours. »")
    assert problem["fix"].startswith("find the passage with qcode codings list --transcript T2 "
                                     f"and re-tag it; then remove coding {mismatch}: ")
    problem = _only(rows, "codes", "inconnu")
    assert problem["problem"] == ("1 coding(s) in T2 use 'inconnu', which is not in the "
                                  "codebook")
    assert "qcode codebook add inconnu --label inconnu" in problem["fix"]
    assert "qcode codebook merge inconnu TARGET" in problem["fix"]
    assert problem["fix"].endswith("or keep them as orphans: qcode codebook sync --force")
    problem = _only(rows, "memos", "memo 1")
    assert problem["problem"] == ("memo « Entraide liée au confinement » by alice is on coding "
                                  f"{memo_target}, which no longer exists")
    assert problem["fix"].startswith("read it: qcode memo show 1; attach it")
    problem = _only(rows, "foreign-keys", "turns")
    assert problem["problem"] == ("1 row(s) of turns refer to transcripts that do not exist "
                                  "(transcript_id T9)")
    suggestion_id = _scalar(small, "SELECT id FROM suggestions")
    suggestion = _only(rows, "suggestions", f"T2 suggestion {suggestion_id}")
    assert suggestion["fix"].startswith("qcode suggest")
    problem = _only(rows, "sources", "T2")
    assert problem["problem"].startswith("its source file transcripts/T2.txt is missing")
    assert "qcode transcripts remove T2" in problem["fix"]
    if backend == "sqlite":
        assert _only(rows, "permissions", ".qcode/qcode.db") == {
            "severity": "error", "check": "permissions", "where": ".qcode/qcode.db",
            "problem": "the store is readable by others (.qcode/qcode.db 644); transcripts are "
                       "personal data",
            "fix": "chmod 600 .qcode/qcode.db"}
    expected = 8 if backend == "sqlite" else 7
    assert [r["severity"] for r in rows] == ["error"] * expected, rows
    table = qcode("check", cwd=small)
    assert table.returncode == 1
    assert table.stderr.startswith(f"check: {expected} problem(s), 0 warning(s), 0 note(s)")
    for word in ("inconnu", "memo 1", "T9", "chmod 600" if backend == "sqlite" else "T2"):
        assert word in table.stdout

    # the fixes, run as printed, repair what they name
    (small / "transcripts" / "T2.txt").write_text(T2, encoding="utf-8")
    for row in rows:
        if row["check"] in ("permissions", "foreign-keys"):
            _run_fix(small, row["fix"])
    _run_fix(small, _only(rows, "codes", "inconnu")["fix"].split("; ")[0]
             .removeprefix("put it back: "))
    _run_fix(small, "qcode suggest")
    tag, remove = _only(rows, "codings", f"T1 coding {past_end}")["fix"].split("; then ")
    _run_fix(small, tag.split(": ", 1)[1])
    _run_fix(small, remove.split(": ", 1)[1])
    code, rows = _check(small)
    assert code == 1
    assert sorted((r["check"], r["where"]) for r in rows) == [
        ("codings", f"T2 coding {mismatch}"), ("memos", "memo 1")]
    assert _scalar(small, "SELECT count(*) FROM turns WHERE transcript_id = 'T9'") == 0


def test_a_newer_schema_stops_the_check_and_asks_for_an_upgrade(small: Path) -> None:
    _sql(small, "INSERT INTO schema_version (version, applied_at, description) "
                "VALUES (99, 'later', 'from the future')")
    code, rows = _check(small)
    assert code == 1
    assert rows == [{"severity": "error", "check": "schema", "where": rows[0]["where"],
                     "problem": "schema version 99 is newer than this qcode knows (2)",
                     "fix": "upgrade qcode (pip install -U qcode) before using this store"}]


@pytest.mark.sqlite_only
def test_a_pending_migration_is_reported_and_the_next_command_backs_up_then_migrates(
        small: Path) -> None:
    # the store as an older qcode left it: schema version 1, transcripts only
    _sql(small, *(f"DROP TABLE {t}" for t in ("codes", "codebook_state", "codings",
                                              "suggestions", "memos", "lemma_cache", "journal",
                                              "positions")),
         "DELETE FROM schema_version WHERE version = 2",
         "INSERT INTO schema_version (version, applied_at, description) "
         "VALUES (1, 'then', 'created')")
    code, rows = _check(small)
    assert code == 1
    assert [(r["check"], r["problem"]) for r in rows] == [
        ("schema", "schema version 1: 1 migration(s) pending: 2 (codes, codebook state, "
                   "codings, suggestions, memos, lemma cache, journal, positions)")]
    assert "backs the store up to .qcode/backups/ then migrates it" in rows[0]["fix"]
    assert not (small / ".qcode" / "backups").exists()  # check changed nothing
    assert _scalar(small, "SELECT max(version) FROM schema_version") == 1

    done = qcode("transcripts", "list", cwd=small)  # any command: backup, then migrate
    assert done.returncode == 0, done.stderr
    [copy] = (small / ".qcode" / "backups").iterdir()
    assert copy.name.startswith("qcode-v1-")
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    with closing(sqlite3.connect(copy)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM turns").fetchone()[0] == 8
    assert _scalar(small, "SELECT max(version) FROM schema_version") == 2
    code, rows = _check(small)
    assert code == 0
    assert [(r["severity"], r["check"]) for r in rows] == [("warning", "codebook")]
    assert rows[0]["fix"] == "qcode codebook sync"


@pytest.mark.sqlite_only
def test_a_damaged_file_is_reported_not_a_traceback(small: Path) -> None:
    db = small / ".qcode" / "qcode.db"
    _sql(small, "PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = _scalar(small, "PRAGMA page_size")
    root = _scalar(small, "SELECT rootpage FROM sqlite_master WHERE name = 'codings'")
    with open(db, "r+b") as handle:  # clobber the header of the page that holds the codings
        handle.seek((root - 1) * page_size)
        handle.write(b"\xff" * 64)
    code, rows = _check(small)
    assert code == 1
    assert rows and all(r["check"] == "database" for r in rows)
    assert rows[0]["problem"].startswith(("PRAGMA integrity_check: ",
                                          "the store could not be read: "))
    assert "restore the latest backup (.qcode/backups/)" in rows[0]["fix"]


def test_turns_sentences_and_an_altered_text_are_rebuilt_by_reingesting(small: Path) -> None:
    _sql(small,
         "UPDATE turns SET start = 500, \"end\" = 400 WHERE transcript_id = 'T1' AND idx = 3",
         "UPDATE sentences SET idx = 7 WHERE transcript_id = 'T2' AND turn_idx = 2 AND idx = 2",
         "UPDATE transcripts SET text = replace(text, 'palier', 'PALIER') WHERE id = 'T2'")
    code, rows = _check(small)
    assert code == 1
    turns = _only(rows, "turns", "T1")
    assert turns["problem"] == f"turn 3 [500:400] is outside the text (0:{len(T1)}) or empty"
    assert turns["fix"] == ("rebuild its turns and sentences: qcode ingest --force "
                            "transcripts/T1.txt")
    sentences = _only(rows, "sentences", "T2")
    assert sentences["problem"] == "sentence 2.7 where 2.2 was expected"
    text = _only(rows, "transcripts", "T2")
    assert text["problem"] == ("the stored text does not match its digest: it was altered "
                               "outside qcode")
    # the altered text no longer holds the quote of the coding of that turn
    assert any(r["where"].startswith("T2 coding ") for r in rows)
    for row in (turns, sentences, text):
        _run_fix(small, row["fix"].split(": ", 1)[1])
    assert _check(small) == (0, [])


def test_the_codebook_invalid_out_of_step_or_with_orphans(small: Path) -> None:
    book = small / "codebooks" / "codebook.yaml"
    book.write_text(CODEBOOK.replace("label: Le bureau", "label: [not, a, label]"),
                    encoding="utf-8")
    code, rows = _check(small)
    assert code == 1
    assert rows[0] == {"severity": "error", "check": "codebook",
                       "where": "codebooks/codebook.yaml:10:30",
                       "problem": "themes[1].codes[0].label: label must be text",
                       "fix": "write it as a string"}
    # a code removed from the YAML: sync refuses while codings use it; forced, it is an orphan
    book.write_text(CODEBOOK.replace("      - { id: bureau, label: Le bureau }\n", ""),
                    encoding="utf-8")
    code, rows = _check(small)
    assert code == 1
    assert [(r["severity"], r["check"], r["where"]) for r in rows] == [
        ("error", "codes", "bureau"), ("warning", "codebook", "codebooks/codebook.yaml")]
    assert rows[1]["problem"] == ("the store's codes are not in step with the codebook (it "
                                  "changed since the last sync)")
    _run_fix(small, "qcode codebook sync --force")
    code, rows = _check(small)
    assert code == 0
    assert [(r["severity"], r["check"], r["where"]) for r in rows] == [
        ("warning", "codes", "bureau")]
    assert rows[0]["problem"] == ("1 coding(s) in T1 use 'bureau', kept as an orphan: no "
                                  "longer in the codebook")
    _run_fix(small, "qcode codebook add bureau --label 'Le bureau' --parent gouvernance")
    assert _check(small) == (0, [])


def test_flagged_codings_are_notes_and_new_files_and_the_journal_warnings(small: Path) -> None:
    # a corrected transcript: the quote of a coding is gone, re-anchoring flags it 'unplaced'
    (small / "transcripts" / "T1.txt").write_text(
        T1.replace("Le bureau décide, d’accord. Mais l’été dernier, on a fait la fête.",
                   "Je ne sais pas."), encoding="utf-8")
    assert qcode("ingest", cwd=small).returncode == 0
    (small / "transcripts" / "T3.txt").write_text(T2, encoding="utf-8")
    # alice's last action is a tag whose coding someone removed behind her back
    done = qcode("tag", "T2", "3", "bureau", "--coder", "alice", cwd=small)
    assert done.returncode == 0, done.stderr
    _sql(small, "DELETE FROM codings WHERE coder = 'alice' AND code_id = 'bureau' "
                "AND transcript_id = 'T2'")
    code, rows = _check(small)
    assert code == 0
    assert [(r["severity"], r["check"], r["where"]) for r in rows] == [
        ("warning", "journal", rows[0]["where"]),
        ("warning", "sources", "transcripts"),
        ("note", "codings", "T1")]
    assert rows[0]["problem"].startswith("the last 'tag' of alice (")
    assert rows[0]["problem"].endswith(") refers to nothing: the codings it made no longer "
                                       "exist")
    assert rows[1]["problem"] == "1 file(s) not ingested yet: transcripts/T3.txt"
    assert rows[2]["problem"] == ("1 coding(s) flagged by re-anchoring after a correction "
                                  "(1 unplaced): kept, waiting for a coder")
    assert rows[2]["fix"].startswith("see them: qcode codings list --flagged --transcript T1;")


# --- backup --------------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_backup_default_file_owner_only_verified_and_never_overwritten(small: Path) -> None:
    done = qcode("backup", cwd=small)
    assert done.returncode == 0, done.stderr
    copy = Path(done.stdout.strip())
    assert copy.parent == small / ".qcode" / "backups"
    assert copy.name.startswith("qcode-20") and copy.name.endswith("Z.db")
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert stat.S_IMODE(copy.parent.stat().st_mode) == 0o700
    assert done.stderr.startswith("backup: ") and "integrity checked" in done.stderr
    with closing(sqlite3.connect(copy)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("SELECT count(*) FROM codings").fetchone()[0] == 5
    assert sorted(p.name for p in copy.parent.iterdir()) == [copy.name]  # no leftovers

    target = small / "copy.db"
    target.write_bytes(b"precious")
    done = qcode("backup", str(target), cwd=small)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"error: {target} already exists (choose another file, or add "
                           "--force to replace it)\n")
    assert target.read_bytes() == b"precious"
    done = qcode("backup", str(target), "--force", cwd=small)
    assert done.returncode == 0 and done.stdout == f"{target}\n"
    assert target.read_bytes().startswith(b"SQLite format 3\x00")
    done = qcode("backup", ".qcode/qcode.db", "--force", cwd=small)
    assert done.returncode == 1 and "is the store itself" in done.stderr
    folder = small / "elsewhere"
    folder.mkdir()
    done = qcode("backup", str(folder), cwd=small)
    assert done.returncode == 0 and Path(done.stdout.strip()).parent == folder
    # a backup readable by others is a problem for check too
    os.chmod(copy, 0o644)
    code, rows = _check(small)
    assert code == 1
    assert _only(rows, "permissions", ".qcode/backups")["fix"] == (
        f"chmod 600 .qcode/backups/{copy.name}")


WRITER = """
import sys
from pathlib import Path
from qcode import coding
from qcode.codebook import load_valid
from qcode.project import load
from qcode.store import Store

root = Path(sys.argv[1])
project = load(root)
store = Store.open(project.store_location)
book = load_valid(root / project.codebook)
passages = [coding.resolve(store, tid, unit) for tid in ("T1", "T2") for unit in
            ("1", "2", "3", "4", "2.1", "2.2", "4.1", "4.2")]
n = 0
while not (root / "stop").exists():
    # one action: a coding and its journal entry, in one transaction
    coding.tag(store, book, passages[n % len(passages)], ["voisinage"], f"writer{n}")
    n += 1
    if n == 30:
        (root / "writing").write_text("")
print(n)
"""


def _consistent(root: Path, env: dict[str, str]) -> int:
    """The copy checks clean, and holds every action whole: as many codings by the writer as
    journal entries of its tags."""
    code, rows = _check(root, env=env)
    assert (code, rows) == (0, []), rows
    listed = json.loads(qcode("codings", "list", "-f", "json", cwd=root, env=env).stdout)
    written = [r for r in listed if r["coder"].startswith("writer")]
    assert len(written) >= 30
    location = env["QCODE_DB"]
    statement = "SELECT count(*) FROM journal WHERE coder LIKE 'writer%'"
    if "://" in location:
        import psycopg

        with psycopg.connect(location) as pg:
            row = pg.execute(statement).fetchone()
            assert row is not None
            entries = int(row[0])
    else:
        with closing(sqlite3.connect(location)) as conn:
            entries = int(conn.execute(statement).fetchone()[0])
    assert entries == len(written)
    return entries


def test_backup_while_another_process_writes_is_consistent(small: Path, backend: str,
                                                           request: pytest.FixtureRequest
                                                           ) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(small)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    copies = []
    try:
        deadline = time.monotonic() + 120
        while not (small / "writing").exists():
            assert writer.poll() is None, writer.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for _ in range(3):
            done = qcode("backup", cwd=small)
            assert done.returncode == 0, done.stderr
            copies.append(Path(done.stdout.strip()))
            assert writer.poll() is None  # still writing while the copy was taken
    finally:
        (small / "stop").write_text("")
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    assert int(out) > 30
    (small / "stop").unlink()
    (small / "writing").unlink()
    actions = []
    for copy in copies:
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
        if backend == "sqlite":
            actions.append(_consistent(small, {"QCODE_DB": str(copy)}))
            continue
        assert copy.suffix == ".dump" and copy.read_bytes()[:5] == b"PGDMP"
        server = request.getfixturevalue("pg_server")
        restored = server.new_database("qcode_restored")
        try:
            done = subprocess.run(["pg_restore", "--no-owner", "--dbname", restored, str(copy)],
                                  capture_output=True, text=True, check=False)
            assert done.returncode == 0, done.stderr
            actions.append(_consistent(small, {"QCODE_DB": restored}))
        finally:
            server.drop_database(restored)
    assert actions == sorted(set(actions))  # each copy a later moment of the writing
    assert actions[-1] < int(out)


def test_backup_of_a_postgresql_store_names_pg_dump_when_it_is_missing(
        tmp_path: Path, pg_url: str) -> None:
    assert qcode("init", str(tmp_path / "p"), "--db", pg_url).returncode == 0
    bare = tmp_path / "bin"  # a PATH without PostgreSQL's client tools
    bare.mkdir()
    done = qcode("backup", cwd=tmp_path / "p", env={"PATH": str(bare)})
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: pg_dump is not on PATH: backing up a PostgreSQL "
                                  "store needs PostgreSQL's client tools (pg_dump)")
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "p" / ".qcode" / "backups").exists() or not list(
        (tmp_path / "p" / ".qcode" / "backups").iterdir())
    done = qcode("backup", str(tmp_path / "team.dump"), cwd=tmp_path / "p")
    assert done.returncode == 0, done.stderr
    dump = tmp_path / "team.dump"
    assert done.stdout == f"{dump}\n" and dump.read_bytes()[:5] == b"PGDMP"
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    listed = subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True, text=True,
                            check=True).stdout
    assert "TABLE DATA public codings" in listed and "TABLE DATA public schema_version" in listed
