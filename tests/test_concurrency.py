"""Several qcode processes coding the same transcript at the same moment lose nothing.

Each test runs against SQLite and against a real PostgreSQL server (see ``backend`` in
tests/conftest.py). The processes are real: separate interpreters started together, released
at once by a start file, each committing its actions one by one as a coder would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qcode import coding
from qcode.codebook import load_valid
from qcode.codebook_sync import sync
from qcode.project import load as load_project
from qcode.store import Store
from tests.conftest import REPO, qcode

CODEBOOK = """\
themes:
  - id: liens
    label: Liens
    codes:
      - { id: entraide, label: Entraide }
      - { id: voisinage, label: Voisinage }
      - { id: fêtes, label: Fêtes }
"""

TURNS = 40


def _transcript() -> str:
    lines = ["Entretien T1", ""]
    for n in range(1, TURNS + 1):
        who = "E" if n % 2 else "Nadia"
        lines += [f"{who} : Phrase {n} sur l’entraide entre voisins. Et une autre, {n}.", ""]
    return "\n".join(lines)


# One coder's session: find the turns, wait for the start file, then tag every turn with its
# codes as fast as it can, one transaction per action, and print the ids of the codings it
# created.
WORKER = """
import json, os, sys, time
from pathlib import Path
from qcode import coding
from qcode.codebook import load_valid
from qcode.project import load
from qcode.store import Store

root, coder, codes, go = Path(sys.argv[1]), sys.argv[2], sys.argv[3].split(","), sys.argv[4]
project = load(root)
store = Store.open(project.store_location)
book = load_valid(root / project.codebook)
passages = [coding.resolve(store, "T1", str(turn)) for turn in range(1, TURNS + 1)]
while not os.path.exists(go):
    time.sleep(0.001)
created = []
for passage in passages:
    created += coding.tag(store, book, passage, codes, coder).created
print(json.dumps(created))
""".replace("TURNS", str(TURNS))


@pytest.fixture
def study(project_dir: Path) -> tuple[Store, Path]:
    (project_dir / "codebooks" / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
    (project_dir / "transcripts" / "T1.txt").write_text(_transcript(), encoding="utf-8")
    assert qcode("ingest", cwd=project_dir).returncode == 0
    project = load_project(project_dir)
    store = Store.open(project.store_location)
    sync(store, load_valid(project_dir / project.codebook))
    return store, project_dir


def _run_together(root: Path, jobs: list[tuple[str, str]]) -> list[list[int]]:
    """Start one worker per (coder, codes) job, release them at once, return what each made."""
    go = root / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(root), coder, codes, str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for coder, codes in jobs]
    time.sleep(1.5)  # every worker has opened the store and waits at the line
    go.write_text("go")
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    return results


def _codings(store: Store) -> list[dict[str, object]]:
    return coding.list_codings(store, transcripts=["T1"])


def test_two_coders_tagging_the_same_transcript_at_once_lose_nothing(
        study: tuple[Store, Path], backend: str) -> None:
    store, root = study
    made = _run_together(root, [("alice", "entraide,voisinage"), ("bruno", "entraide,fêtes")])
    assert [len(m) for m in made] == [2 * TURNS, 2 * TURNS]
    rows = _codings(store)
    assert len(rows) == 4 * TURNS  # every action of both coders is there
    assert {r["id"] for r in rows} == set(made[0]) | set(made[1])
    by_coder: dict[str, set[tuple[object, ...]]] = {}
    for r in rows:
        by_coder.setdefault(str(r["coder"]), set()).add((r["start"], r["end"], r["code"]))
    assert len(by_coder["alice"]) == len(by_coder["bruno"]) == 2 * TURNS
    assert {c for _, _, c in by_coder["alice"]} == {"entraide", "voisinage"}


def test_the_same_coder_in_two_processes_gets_each_coding_once(
        study: tuple[Store, Path], backend: str) -> None:
    store, root = study
    made = _run_together(root, [("alice", "entraide"), ("alice", "entraide"),
                                ("alice", "voisinage")])
    rows = _codings(store)
    # the two identical sessions race on every turn: each coding exists exactly once,
    # created by whichever process came first
    assert len(rows) == 2 * TURNS
    assert len(made[0]) + len(made[1]) == TURNS
    assert len(made[2]) == TURNS
    assert len({(r["start"], r["end"], r["code"]) for r in rows}) == 2 * TURNS


def test_cli_taggers_and_an_export_at_once(study: tuple[Store, Path], backend: str) -> None:
    store, root = study
    env = {k: v for k, v in os.environ.items() if not k.startswith("QCODE_")}
    env["PYTHONPATH"] = str(REPO)
    commands = [[sys.executable, "-m", "qcode", "tag", "T1", str(turn), "entraide",
                 "--coder", f"c{turn % 3}"] for turn in range(1, 13)]
    commands.append([sys.executable, "-m", "qcode", "export", "quotes", "--format", "json",
                     "--out", "-"])
    procs = [subprocess.Popen(c, cwd=root, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for c in commands]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    json.loads(outputs[-1][0])  # the export read one consistent state and wrote whole JSON
    rows = _codings(store)
    assert sorted((r["coder"], r["turn"]) for r in rows) == sorted(
        (f"c{turn % 3}", turn) for turn in range(1, 13))


class _Holder:
    """Another process's long write: holds the store's writer turn until released."""

    def __init__(self, location: str) -> None:
        self.location = location
        if "://" in location:
            import psycopg

            from qcode.store import WRITER_LOCK_KEY

            self.conn: object = psycopg.connect(location)
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)",  # type: ignore[attr-defined]
                              (WRITER_LOCK_KEY,))
        else:
            import sqlite3

            self.conn = sqlite3.connect(location, isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")  # type: ignore[attr-defined]

    def release(self) -> None:
        self.conn.rollback()  # type: ignore[attr-defined]
        self.conn.close()  # type: ignore[attr-defined]


def test_a_writer_that_must_wait_says_so_then_completes(
        study: tuple[Store, Path], backend: str) -> None:
    store, root = study
    env = {k: v for k, v in os.environ.items() if not k.startswith("QCODE_")}
    env["PYTHONPATH"] = str(REPO)
    holder = _Holder(load_project(root).store_location)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "qcode", "tag", "T1", "3", "entraide",
                                 "--coder", "alice"], cwd=root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2.5)
        assert proc.poll() is None  # still waiting for its turn, not failed
    finally:
        holder.release()
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "waiting for another qcode process to finish writing to the store" in err
    assert "locked" not in err and "Traceback" not in err
    assert [(r["coder"], r["turn"]) for r in _codings(store)] == [("alice", 3)]
    # with nobody else writing, nothing is said
    done = qcode("tag", "T1", "5", "entraide", "--coder", "alice", cwd=root)
    assert done.returncode == 0 and "waiting" not in done.stderr


def test_a_coder_in_a_session_while_a_script_exports_and_another_ingests(
        study: tuple[Store, Path], backend: str) -> None:
    store, root = study
    env = {k: v for k, v in os.environ.items() if not k.startswith("QCODE_")}
    env["PYTHONPATH"] = str(REPO)
    session = subprocess.Popen([sys.executable, "-m", "qcode", "code", "T1", "--coder", "ana"],
                               cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    for n in range(2, 10):  # new interviews arrive while she codes
        (root / "transcripts" / f"T{n}.txt").write_text(
            _transcript().replace("Entretien T1", f"Entretien T{n}").replace("Nadia", f"P{n}"),
            encoding="utf-8")
    others = [subprocess.Popen([sys.executable, "-m", "qcode", *args], cwd=root, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for args in (("ingest",), ("export", "quotes", "--format", "json", "--out", "-"),
                           ("export", "quotes", "--format", "json", "--out", "-"))]
    assert session.stdin is not None
    for _ in range(TURNS):  # code every turn, one action at a time, as a person would
        session.stdin.write("entraide\nn\n")
        session.stdin.flush()
        time.sleep(0.03)
    session.stdin.write("q\n")
    session.stdin.flush()
    out, err = session.communicate(timeout=300)
    assert session.returncode == 0, err
    statuses = [line.split("\t")[0] for line in out.splitlines()]
    assert statuses == ["ok"] * (2 * TURNS + 1), out  # every code, every move, and quit
    for proc in others:
        o, e = proc.communicate(timeout=300)
        assert proc.returncode == 0, e
        if proc.args[-1] == "-":
            json.loads(o)  # each export read one consistent state
    rows = _codings(store)
    assert sorted(r["turn"] for r in rows if r["coder"] == "ana") == list(range(1, TURNS + 1))
    listed = json.loads(qcode("transcripts", "list", "-f", "json", cwd=root).stdout)
    assert sorted(t["id"] for t in listed) == [f"T{n}" for n in range(1, 10)]
