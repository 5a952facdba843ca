"""A project whose store is a PostgreSQL database: same commands, same results as SQLite.

Against a real server (tests/pgserver.py); the rest of the suite also runs every project
test on PostgreSQL (the ``backend`` parameter in tests/conftest.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from qcode.errors import StoreError
from qcode.store import Store, engine_url, redacted
from tests.conftest import REPO, qcode


def _without_times(csv_text: str) -> list[list[str]]:
    """The rows of a CSV listing without its time stamps (when each run wrote them)."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(csv_text)))
    keep = [i for i, name in enumerate(rows[0]) if not name.endswith("_at")] if rows else []
    return [[row[i] for i in keep] for row in rows]


def _copy_study(root: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copy(REPO / "qcode.yaml", root / "qcode.yaml")
    shutil.copytree(REPO / "transcripts", root / "transcripts")
    shutil.copytree(REPO / "codebooks", root / "codebooks")
    return root


def test_urls_are_driven_by_psycopg_and_passwords_never_shown() -> None:
    assert engine_url("postgresql://ana@db.lab/etude") == "postgresql+psycopg://ana@db.lab/etude"
    assert engine_url("postgres://ana@db.lab/etude") == "postgresql+psycopg://ana@db.lab/etude"
    assert engine_url("postgresql+psycopg://x@y/z") == "postgresql+psycopg://x@y/z"
    assert redacted("postgresql://ana:s3cret@db.lab:5432/etude") == (
        "postgresql://ana:***@db.lab:5432/etude")
    assert redacted("/home/ana/.qcode/qcode.db") == "/home/ana/.qcode/qcode.db"


def test_unreachable_server_or_other_engine_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        Store.open("postgresql://ana:s3cret@127.0.0.1:1/etude")
    message = str(caught.value)
    assert message.startswith("postgresql://ana:***@127.0.0.1:1/etude: cannot open the store")
    assert "s3cret" not in message and "\n" not in message
    with pytest.raises(StoreError, match="SQLite or PostgreSQL, not mysql"):
        Store.open("mysql://root@localhost/x")


def test_init_with_db_creates_the_schema_and_points_the_project_at_it(
        tmp_path: Path, pg_url: str) -> None:
    done = qcode("init", str(tmp_path / "p"), "--db", pg_url)
    assert done.returncode == 0, done.stderr
    config = (tmp_path / "p" / "qcode.yaml").read_text(encoding="utf-8")
    assert f"store: {pg_url}" in config
    store = Store.open(pg_url, create=False)
    with store.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM schema_version")).scalar() == 1
    store.close()
    # a second coder joins the same database from another folder (another machine)
    assert qcode("init", str(tmp_path / "q"), "--db", pg_url).returncode == 0
    assert not (tmp_path / "p" / ".qcode").exists()  # no SQLite file was made


def test_init_with_a_bad_db_creates_nothing(tmp_path: Path) -> None:
    done = qcode("init", str(tmp_path / "p"), "--db", "not-a-url")
    assert done.returncode == 2 and "not a database URL" in done.stderr
    done = qcode("init", str(tmp_path / "p"), "--db", "postgresql://x@127.0.0.1:1/none")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "cannot open the store" in done.stderr
    assert not (tmp_path / "p").exists()


def test_a_writer_that_waits_too_long_gets_a_busy_error_not_a_database_error(
        pg_url: str) -> None:
    import psycopg

    from qcode.store import WRITER_LOCK_KEY

    Store.open(pg_url).close()
    holder = psycopg.connect(pg_url)
    try:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK_KEY,))  # a long writer
        store = Store.open(pg_url, busy_timeout_s=0.3)
        with store.read() as conn:  # readers never wait
            assert conn.execute(text("SELECT count(*) FROM codings")).scalar() == 0
        with pytest.raises(StoreError, match="the store is busy"), store.write() as conn:
            conn.execute(text("SELECT 1"))
        store.close()
    finally:
        holder.rollback()
        holder.close()


@pytest.mark.slow
def test_main_job_gives_the_same_results_on_postgresql_as_on_sqlite(
        tmp_path: Path, pg_url: str) -> None:
    on_sqlite = _copy_study(tmp_path / "sqlite")
    on_server = _copy_study(tmp_path / "postgresql")
    for root, env in ((on_sqlite, {}), (on_server, {"QCODE_DB": pg_url})):
        done = qcode("run", "--format", "json", cwd=root, env=env, timeout=600)
        assert done.returncode == 0, done.stderr
    assert not (on_server / ".qcode").exists()
    for name in ("quotes.md", "quotes.csv", "digest.md", "digest.html"):
        assert (on_server / "exports" / name).read_bytes() == (
            on_sqlite / "exports" / name).read_bytes(), name
    for command in (("codings", "list", "-f", "csv"), ("suggestions", "list", "-f", "csv"),
                    ("transcripts", "list", "-f", "csv"), ("transcripts", "speakers", "-f",
                                                         "csv"),
                    ("stats", "-f", "csv"), ("crosstab", "--by", "initiative", "-f", "csv"),
                    ("search", "voisins", "-f", "csv")):
        outputs = [_without_times(qcode(*command, cwd=root, env=env).stdout)
                   for root, env in ((on_sqlite, {}), (on_server, {"QCODE_DB": pg_url}))]
        assert outputs[0] == outputs[1], command
        assert len(outputs[0]) > 3, command
    summary = json.loads(qcode("run", "--format", "json", cwd=on_server,
                               env={"QCODE_DB": pg_url}).stdout)
    assert summary["errors"] == [] and summary["totals"][0]["transcripts"] == 40


def test_a_team_on_postgresql_exchanges_with_a_coder_on_sqlite(tmp_path: Path,
                                                                 pg_url: str) -> None:
    """Codings and whole projects travel between the two engines unchanged."""
    team = _copy_study(tmp_path / "team")
    (team / "qcode.yaml").write_text((team / "qcode.yaml").read_text(encoding="utf-8").replace(
        "store: .qcode/qcode.db", f"store: {pg_url}"), encoding="utf-8")
    assert qcode("ingest", cwd=team).returncode == 0
    for tid, unit, code, coder in (("HV01", "3", "entraide", "ana"), ("HV01", "5.1", "mairie-elus",
                                   "bruno"), ("AC01", "4", "fetes", "ana")):
        done = qcode("tag", tid, unit, code, "--coder", coder, cwd=team)
        assert done.returncode == 0, done.stderr
    assert qcode("memo", "add", "--code", "entraide", "à discuter", "--coder", "ana",
                 cwd=team).returncode == 0
    apart = _copy_study(tmp_path / "apart")  # a coder with her own SQLite copy
    assert qcode("ingest", cwd=apart).returncode == 0
    assert qcode("tag", "GL01", "6", "confiance", "--coder", "claire", cwd=apart).returncode == 0
    # her codings join the team's database, and the team's reach her copy
    assert qcode("export", "codings", "--out", str(tmp_path / "claire.jsonl"),
                 cwd=apart).returncode == 0
    done = qcode("import", "codings", str(tmp_path / "claire.jsonl"), cwd=team)
    assert done.returncode == 0, done.stderr
    assert qcode("export", "codings", "--out", str(tmp_path / "team.jsonl"),
                 cwd=team).returncode == 0
    assert qcode("import", "codings", str(tmp_path / "team.jsonl"), cwd=apart).returncode == 0
    listed = [sorted((c["transcript"], c["turn"], c["start"], c["end"], c["code"], c["coder"],
                      c["quote"]) for c in json.loads(
                          qcode("codings", "list", "-f", "json", cwd=root).stdout))
              for root in (team, apart)]
    assert listed[0] == listed[1] and len(listed[0]) == 4  # (ids and origins differ)
    # the whole project, from the server to a new SQLite project through REFI-QDA
    assert qcode("export", "qdpx", str(tmp_path / "team.qdpx"), cwd=team).returncode == 0
    assert qcode("init", str(tmp_path / "copy")).returncode == 0
    done = qcode("import", "qdpx", str(tmp_path / "team.qdpx"), cwd=tmp_path / "copy")
    assert done.returncode == 0, done.stderr
    copied = json.loads(qcode("codings", "list", "-f", "json", cwd=tmp_path / "copy").stdout)
    original = json.loads(qcode("codings", "list", "-f", "json", cwd=team).stdout)
    assert sorted((c["coder"], c["code"], c["quote"]) for c in copied) == sorted(
        (c["coder"], c["code"], c["quote"]) for c in original)
