"""The SQLite store: a real file, WAL, migrations, versions kept, cascades, permissions."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from qcode.errors import StoreError
from qcode.store import Store, migrations, schema
from qcode.store import transcripts as q
from qcode.store.records import SentenceRecord, TranscriptRecord, TurnRecord


def record(text: str = "E: Bonjour.\n\nKarim: Salut.\n", tid: str = "T1") -> TranscriptRecord:
    import hashlib

    return TranscriptRecord(
        id=tid, source_path=f"transcripts/{tid}.txt", format="txt",
        file_hash=hashlib.sha256(text.encode()).hexdigest(),
        text_hash=hashlib.sha256(text.encode()).hexdigest(),
        reader_version=1, text=text, words=2,
        attributes={"initiative": ("les-ailes", "sheet")},
        turns=[TurnRecord(1, "E", "interviewer", 3, 11), TurnRecord(2, "Karim", "participant",
                                                                      20, 26, 1000, 2000)],
        sentences=[SentenceRecord(1, 1, 3, 11), SentenceRecord(2, 1, 20, 26)],
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / ".qcode" / "qcode.db")


def test_new_store_is_wal_stamped_and_private(tmp_path: Path, store: Store) -> None:
    db = tmp_path / ".qcode" / "qcode.db"
    assert db.is_file()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT max(version) FROM schema_version").fetchone()[0] == (
            migrations.LATEST)
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_save_load_round_trip(store: Store) -> None:
    rec = record()
    with store.write() as conn:
        assert q.save(conn, rec) == "added"
    with store.read() as conn:
        loaded = q.load(conn, "T1")
    assert loaded is not None
    assert loaded.text == rec.text
    assert loaded.turns == rec.turns
    assert loaded.sentences == rec.sentences
    assert loaded.attributes == {"initiative": ("les-ailes", "sheet")}
    assert loaded.version == 1


def test_changed_text_keeps_the_previous_version(store: Store) -> None:
    with store.write() as conn:
        q.save(conn, record())
    new = record("E: Bonjour !\n\nKarim: Salut.\n")
    with store.write() as conn:
        assert q.save(conn, new) == "updated"
    with store.read() as conn:
        assert q.load(conn, "T1").version == 2  # type: ignore[union-attr]
        assert q.previous_text(conn, "T1", 1) == "E: Bonjour.\n\nKarim: Salut.\n"
        assert [v["version"] for v in q.versions(conn, "T1")] == [1]


def test_same_text_is_refreshed_not_versioned(store: Store) -> None:
    with store.write() as conn:
        q.save(conn, record())
    with store.write() as conn:
        assert q.save(conn, record()) == "refreshed"
        assert q.versions(conn, "T1") == []


def test_failed_action_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as conn:
        q.save(conn, record())
        raise RuntimeError("crash in the middle of an action")
    with store.read() as conn:
        assert q.transcript_ids(conn) == []
        assert conn.execute(select(schema.turns)).all() == []


def test_remove_deletes_everything_of_the_transcript(store: Store) -> None:
    with store.write() as conn:
        q.save(conn, record())
        q.save(conn, record(tid="T2"))
        q.save(conn, record("E: autre\n", tid="T2"))
    with store.write() as conn:
        assert q.remove(conn, "T2")
    with store.read() as conn:
        assert q.transcript_ids(conn) == ["T1"]
        for table in (schema.turns, schema.sentences, schema.attributes,
                      schema.transcript_versions):
            rows = conn.execute(select(table.c.transcript_id)).scalars().all()
            assert set(rows) <= {"T1"}


def test_summaries_and_speakers(store: Store) -> None:
    with store.write() as conn:
        q.save(conn, record())
    with store.read() as conn:
        [row] = q.summaries(conn)
        speakers = q.speakers(conn)
    assert row == {"id": "T1", "file": "transcripts/T1.txt", "format": "txt", "turns": 2,
                   "speakers": 2, "words": 2, "version": 1, "interviewer": "E",
                   "attributes": {"initiative": "les-ailes"}}
    assert speakers == [
        {"speaker": "E", "role": "interviewer", "turns": 1, "transcripts": 1},
        {"speaker": "Karim", "role": "participant", "turns": 1, "transcripts": 1},
    ]


def test_newer_schema_is_refused(tmp_path: Path, store: Store) -> None:
    db = tmp_path / ".qcode" / "qcode.db"
    store.close()
    with sqlite3.connect(db) as raw:
        raw.execute("INSERT INTO schema_version VALUES (999, 'now', 'future')")
    with pytest.raises(StoreError, match="schema version 999, newer than this qcode"):
        migrations.pending(Store.open(db).engine)


def test_missing_store_without_create(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store yet"):
        Store.open(tmp_path / "none.db", create=False)


def test_pending_migrations_run_in_order_with_backup_first(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    db = tmp_path / "s.db"
    Store.open(db).close()
    calls: list[str] = []

    nxt = migrations.LATEST + 1

    def m2(conn: object) -> None:
        calls.append("m2")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, (nxt, "test", m2)])
    monkeypatch.setattr(migrations, "LATEST", nxt)
    store = Store.open(db)  # opening migrates
    assert calls == ["m2"]
    [backup] = (tmp_path / "backups").iterdir()
    assert backup.name.startswith(f"s-v{nxt - 1}-")
    with sqlite3.connect(backup) as raw:  # the copy is of the store before the migration
        assert raw.execute("SELECT max(version) FROM schema_version").fetchone()[0] == nxt - 1
    store.close()
    Store.open(db).close()  # already at 2: nothing runs twice
    assert calls == ["m2"]
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT max(version) FROM schema_version").fetchone()[0] == nxt


def test_a_version_1_store_is_migrated_with_its_data(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    db = tmp_path / "v1.db"
    engine = create_engine(f"sqlite:///{db}")
    v1 = [schema.schema_version, schema.transcripts, schema.transcript_versions,
          schema.attributes, schema.turns, schema.sentences]
    with engine.begin() as conn:
        schema.metadata.create_all(conn, tables=v1)
        conn.execute(schema.schema_version.insert().values(version=1, applied_at="then",
                                                           description="created"))
        q.save(conn, record())
    engine.dispose()
    store = Store.open(db)
    with store.read() as conn:
        assert migrations.current_version(conn) == migrations.LATEST
        assert q.transcript_ids(conn) == ["T1"]
        assert conn.execute(select(schema.codings)).all() == []
    assert len(list((tmp_path / "backups").iterdir())) == 1
