"""A process killed (SIGKILL) at random points of suggest, review, tag and export leaves a
consistent store and no truncated export, and the next run completes the work.

The processes are real ``qcode`` commands, killed at seeded random moments while they work;
every test runs on SQLite and on PostgreSQL (see ``backend`` in tests/conftest.py). (Ingest has
its own kill test in tests/ingest/test_kill.py, the interactive session in test_session.py.)
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from qcode.project import load as load_project
from qcode.store import Store, schema
from tests.conftest import REPO, qcode

pytestmark = pytest.mark.slow

STUDY = ["AC01", "AC04", "AC07", "AC09", "AI01", "AI03", "AI06", "AI08", "GL01", "GL03",
         "GL05", "GL06"]  # plain-text interviews of the bundled study


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QCODE_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def _project(root: Path) -> Store:
    """The bundled study's codebook and twelve of its interviews, ingested, in ``root``."""
    shutil.copy(REPO / "codebooks" / "voisinage-resilience.yaml",
                root / "codebooks" / "codebook.yaml")
    for tid in STUDY:
        shutil.copy(REPO / "transcripts" / f"{tid}.txt", root / "transcripts" / f"{tid}.txt")
    done = qcode("ingest", cwd=root)
    assert done.returncode == 0, done.stderr
    return Store.open(load_project(root).store_location)


def _start(root: Path, *args: str, stdin: Any = subprocess.DEVNULL) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "qcode", *args], cwd=root, env=_env(),
                            stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def _kill(proc: subprocess.Popen[str]) -> bool:
    """SIGKILL ``proc``; True when it was still working (the kill landed mid-run)."""
    running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    if proc.stderr is not None:
        proc.stderr.close()
    return running


def _rows(store: Store, table: Any, conn: Any = None) -> list[dict[str, Any]]:
    if conn is None:
        with store.read() as fresh:
            return _rows(store, table, fresh)
    return [dict(r._mapping) for r in conn.execute(select(table))]


def check_consistent(store: Store) -> dict[str, int]:
    """Whatever the moment of the kill: the database is whole, every coding and suggestion
    quotes its transcript exactly, every accepted suggestion has its coding, and every action
    in the journal refers to codings that exist. Returns counts of rows."""
    with store.read() as conn:  # one snapshot: other processes may be writing meanwhile
        if store.is_sqlite:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        tables = {name: _rows(store, getattr(schema, name), conn)
                  for name in ("transcripts", "codings", "suggestions", "journal",
                               "lemma_cache")}
    texts = {r["id"]: r["text"] for r in tables["transcripts"]}
    codings = {r["id"]: r for r in tables["codings"]}
    for c in codings.values():
        assert 0 <= c["start"] < c["end"] <= len(texts[c["transcript_id"]])
        assert texts[c["transcript_id"]][c["start"]:c["end"]] == c["snapshot"]
    keys = [(c["transcript_id"], c["start"], c["end"], c["code_id"], c["coder"])
            for c in codings.values()]
    assert len(keys) == len(set(keys)), "a coding was stored twice"
    suggestions = tables["suggestions"]
    for s in suggestions:
        assert texts[s["transcript_id"]][s["start"]:s["end"]] == s["snapshot"]
        if s["status"] == "accepted":
            coding = codings[s["coding_id"]]
            assert (coding["start"], coding["end"], coding["code_id"]) == (
                s["start"], s["end"], s["code_id"])
        else:
            assert s["coding_id"] is None
    for entry in tables["journal"]:
        payload = json.loads(entry["payload_json"])
        if entry["action"] in ("tag", "accept") and not entry["undone"]:
            assert set(payload["codings"]) <= set(codings), entry
    accepted = sum(s["status"] == "accepted" for s in suggestions)
    return {"codings": len(codings), "suggestions": len(suggestions), "accepted": accepted,
            "lemmas": len(tables["lemma_cache"])}


def _suggestions(store: Store) -> set[tuple[Any, ...]]:
    return {(s["transcript_id"], s["start"], s["end"], s["code_id"], s["status"])
            for s in _rows(store, schema.suggestions)}


def test_sigkill_during_suggest_then_resume(project_dir: Path, tmp_path: Path) -> None:
    rng = random.Random(11)
    store = _project(project_dir)
    landed = 0
    for _ in range(3):
        before = check_consistent(store)["lemmas"]
        proc = _start(project_dir, "suggest")
        target = rng.randint(before + 1, len(STUDY) - 1) if before < len(STUDY) - 1 else before
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if check_consistent(store)["lemmas"] >= target:
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.3))
        landed += _kill(proc)
        check_consistent(store)
    assert landed >= 2, "the kills must land while suggest works"
    done = qcode("suggest", cwd=project_dir, timeout=600)
    assert done.returncode == 0, done.stderr
    check_consistent(store)
    # the same suggestions as one uninterrupted run on a fresh copy
    (tmp_path / "ref").mkdir()
    reference_root = tmp_path / "ref" / "study"
    shutil.copytree(project_dir, reference_root, ignore=shutil.ignore_patterns(".qcode"))
    config = reference_root / "qcode.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text("\n".join(line for line in text.splitlines()
                                if not line.startswith("store:")) + "\n", encoding="utf-8")
    reference = _project(reference_root)
    assert qcode("suggest", cwd=reference_root, timeout=600).returncode == 0
    assert _suggestions(store) == _suggestions(reference) != set()


def test_sigkill_during_review_then_resume(project_dir: Path) -> None:
    rng = random.Random(12)
    store = _project(project_dir)
    assert qcode("suggest", "--code", "entraide", "--code", "proximite-voisinage", "--code",
                 "bailleur", cwd=project_dir, timeout=600).returncode == 0
    total = len(_suggestions(store))
    assert total >= 30
    landed = 0
    for _ in range(2):
        before = check_consistent(store)["accepted"]
        proc = _start(project_dir, "review", "--coder", "ana", stdin=subprocess.PIPE)
        assert proc.stdin is not None
        target = before + rng.randint(3, 10)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and check_consistent(store)["accepted"] < target:
            try:  # a coder deciding: accept, with a reject now and then
                proc.stdin.write("n\n" if rng.random() < 0.2 else "y\n")
                proc.stdin.flush()
            except BrokenPipeError:
                break
            time.sleep(0.05)
        landed += _kill(proc)
        proc.stdin.close()
        counts = check_consistent(store)
        assert counts["accepted"] == counts["codings"]  # each accept made exactly its coding
    assert landed == 2
    done = qcode("review", "--accept", "--coder", "ana", cwd=project_dir)
    assert done.returncode == 0, done.stderr
    counts = check_consistent(store)
    rows = _rows(store, schema.suggestions)
    assert all(s["status"] in ("accepted", "rejected") for s in rows)
    assert counts["codings"] == counts["accepted"] == sum(s["status"] == "accepted"
                                                          for s in rows)


def test_sigkill_during_tag_then_resume(project_dir: Path) -> None:
    rng = random.Random(13)
    store = _project(project_dir)
    began = time.monotonic()  # how long a whole tag takes on this machine now
    assert qcode("tag", "AC01", "1", "entraide", "--coder", "ana", cwd=project_dir
                 ).returncode == 0
    whole = time.monotonic() - began
    landed = 0
    turns = list(range(2, 14))
    for turn in turns:
        proc = _start(project_dir, "tag", "AC01", str(turn), "entraide", "--coder", "ana")
        time.sleep(rng.uniform(0.3, 1.1) * whole)
        landed += _kill(proc)
        check_consistent(store)
        mine = [c for c in _rows(store, schema.codings) if c["coder"] == "ana"]
        assert len(mine) <= turns.index(turn) + 2
    assert landed >= 2, "some kills must land mid-tag"
    for turn in turns:  # the coder runs them again: each coding exists exactly once
        done = qcode("tag", "AC01", str(turn), "entraide", "--coder", "ana", cwd=project_dir)
        assert done.returncode == 0, done.stderr
    check_consistent(store)
    assert len([c for c in _rows(store, schema.codings) if c["coder"] == "ana"]) == (
        len(turns) + 1)


def test_sigkill_during_export_never_leaves_a_truncated_file(project_dir: Path) -> None:
    rng = random.Random(14)
    store = _project(project_dir)
    assert qcode("suggest", cwd=project_dir, timeout=600).returncode == 0
    assert qcode("review", "--accept", "--coder", "ana", cwd=project_dir).returncode == 0
    exports = project_dir / "exports"
    commands = {"quotes.md": ("export", "quotes"), "digest.html": ("digest", "--format", "html")}
    reference, whole = {}, {}
    for name, command in commands.items():
        began = time.monotonic()  # how long the whole export takes on this machine now
        assert qcode(*command, cwd=project_dir).returncode == 0
        whole[name] = time.monotonic() - began
        reference[name] = (exports / name).read_bytes()
        assert len(reference[name]) > 20_000
    landed = 0
    for name, command in commands.items():
        for _ in range(4):
            (exports / name).write_bytes(b"the previous export\n")
            proc = _start(project_dir, *command)
            time.sleep(rng.uniform(0.4, 1.1) * whole[name])
            landed += _kill(proc)
            # the file is the previous one or the whole new one, never a part
            assert (exports / name).read_bytes() in (b"the previous export\n", reference[name])
        assert qcode(*command, cwd=project_dir).returncode == 0
        assert (exports / name).read_bytes() == reference[name]
    assert landed >= 3
    check_consistent(store)
