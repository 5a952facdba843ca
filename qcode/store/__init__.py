"""The store: the only package that speaks SQL (SQLAlchemy Core).

A project's store is a SQLite file inside the project (WAL mode, a busy timeout, foreign keys
on) or, for teams, a database URL. Every user action is one transaction: :meth:`Store.write`
opens it with ``BEGIN IMMEDIATE`` on SQLite so that two writers queue instead of deadlocking.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError

from qcode.errors import StoreError
from qcode.store import migrations

DEFAULT_BUSY_TIMEOUT_S = 30.0


def _is_url(location: str) -> bool:
    return "://" in location


class Store:
    """An open store. Use :meth:`read` and :meth:`write` to get a connection in a transaction."""

    def __init__(self, engine: Engine, location: str) -> None:
        self.engine = engine
        self.location = location
        self._writer = engine.execution_options(qcode_begin="IMMEDIATE")

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @classmethod
    def open(
        cls,
        location: str | Path,
        *,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        create: bool = True,
    ) -> Store:
        """Open (and create or migrate) the store at a file path or database URL."""
        location = str(location)
        if _is_url(location):
            engine = create_engine(location)
        else:
            path = Path(location)
            if not path.exists():
                if not create:
                    raise StoreError("no store yet", path=path, hint="run 'qcode ingest' first")
                path.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(path.parent, 0o700)
                # create the file readable by its owner only: transcripts are personal data
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": busy_timeout_s})
            _configure_sqlite(engine, busy_timeout_s)
        store = cls(engine, location)
        try:
            migrations.migrate(engine, before=store._backup_before_migration)
        except OperationalError as exc:
            raise StoreError(f"cannot open the store: {exc.orig}", path=location) from None
        except DBAPIError as exc:
            raise StoreError(f"cannot open the store: {exc.orig}", path=location) from None
        return store

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction (a consistent snapshot)."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction: committed on exit, rolled back on error."""
        try:
            with self._writer.begin() as conn:
                yield conn
        except OperationalError as exc:
            if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                raise StoreError(
                    "the store is busy: another qcode process kept it locked too long",
                    path=self.location,
                    hint="wait for the other process to finish, then run the command again",
                ) from None
            raise

    def backup(self, target: str | Path) -> Path:
        """A consistent copy of a SQLite store, taken while others may be working on it."""
        if not self.is_sqlite:
            raise StoreError("backup copies SQLite stores only; use the database's own tools "
                             "(pg_dump) for a server")
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        import sqlite3

        raw = self.engine.raw_connection()
        try:
            dest = sqlite3.connect(tmp)
            try:
                raw.driver_connection.backup(dest)  # type: ignore[union-attr]
            finally:
                dest.close()
        finally:
            raw.close()
        os.chmod(tmp, 0o600)
        tmp.replace(target)
        return target

    def _backup_before_migration(self) -> None:
        if not self.is_sqlite:
            return
        from datetime import UTC, datetime

        with self.engine.connect() as conn:
            version = migrations.current_version(conn)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = Path(self.location)
        self.backup(path.parent / "backups" / f"{path.stem}-v{version}-{stamp}{path.suffix}")

    def close(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine, busy_timeout_s: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun explicitly below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("qcode_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


__all__ = ["Store", "StoreError"]
