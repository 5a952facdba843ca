"""A process killed (SIGKILL) in the middle of a large ingest leaves a consistent store, and
the next run completes the work."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, qcode

COUNT = 300
WORDS = ["voisins", "la cour", "l’association", "le bureau", "l’AG", "les subventions",
         "la mairie", "on s’entraide", "euh", "[rires]", "pendant le confinement", "les bancs",
         "le gardien", "la fête", "les jardinières", "c’était", "vraiment", "du coup"]


def _transcript(rng: random.Random, n: int) -> str:
    lines = [f"Entretien K{n:04d}", "Date : 1 mars 2021", ""]
    for turn in range(40):
        speaker = "E" if turn % 2 == 0 else "Karim"
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))
        end = " ?" if speaker == "E" else "."
        lines.append(f"{speaker} : {words.capitalize()}{end}")
        lines.append("")
    return "\n".join(lines)


def _counts(db: Path) -> tuple[int, int, int]:
    with sqlite3.connect(db) as raw:
        raw.execute("PRAGMA busy_timeout=10000")
        transcripts = raw.execute("SELECT count(*) FROM transcripts").fetchone()[0]
        without_turns = raw.execute(
            "SELECT count(*) FROM transcripts t WHERE NOT EXISTS "
            "(SELECT 1 FROM turns u WHERE u.transcript_id = t.id)").fetchone()[0]
        turns = raw.execute("SELECT count(*) FROM turns").fetchone()[0]
    return transcripts, without_turns, turns


def _check_consistent(db: Path) -> int:
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
        # every transcript is whole: 40 turns, each with its sentences
        partial = raw.execute(
            "SELECT t.id, count(u.idx) FROM transcripts t LEFT JOIN turns u "
            "ON u.transcript_id = t.id GROUP BY t.id HAVING count(u.idx) != 40").fetchall()
        assert partial == []
        orphans = raw.execute("SELECT count(*) FROM sentences s WHERE NOT EXISTS (SELECT 1 "
                              "FROM turns u WHERE u.transcript_id = s.transcript_id AND "
                              "u.idx = s.turn_idx)").fetchone()[0]
        assert orphans == 0
        return int(raw.execute("SELECT count(*) FROM transcripts").fetchone()[0])


@pytest.mark.slow
@pytest.mark.sqlite_only  # about the SQLite file
def test_sigkill_during_ingest_then_resume(project_dir: Path) -> None:
    rng = random.Random(7)
    folder = project_dir / "transcripts"
    for n in range(COUNT):
        (folder / f"K{n:04d}.txt").write_text(_transcript(rng, n), encoding="utf-8")
    db = project_dir / ".qcode" / "qcode.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QCODE_")}
    env["PYTHONPATH"] = str(REPO)

    done_before = 0
    for target in (20, 120):  # kill twice, at different points
        proc = subprocess.Popen([sys.executable, "-m", "qcode", "ingest"], cwd=project_dir,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if db.exists():
                try:
                    if _counts(db)[0] >= target:
                        break
                except sqlite3.OperationalError:
                    pass
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        done = _check_consistent(db)
        assert done_before <= done < COUNT, "the kill must land in the middle of the ingest"
        done_before = done

    result = qcode("ingest", cwd=project_dir, timeout=300)
    assert result.returncode == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"ingest: {COUNT - done_before} added, {done_before} unchanged"
    assert _check_consistent(db) == COUNT
