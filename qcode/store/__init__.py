"""The store: the only package that speaks SQL (SQLAlchemy Core).

A project's store is a SQLite file inside the project (WAL mode, a busy timeout, foreign keys
on) or, for teams coding at once from several machines, a PostgreSQL database
(``postgresql://user@host/db``). Every user action is one transaction, and writers take turns:
:meth:`Store.write` opens its transaction with ``BEGIN IMMEDIATE`` on SQLite, and on PostgreSQL
takes a transaction-scoped advisory lock first, so both engines give every writer the same
serial view (a read-then-write action never works on stale rows). Readers never wait: on
PostgreSQL they read one snapshot (``REPEATABLE READ``), as SQLite's WAL readers do.
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


# The key of the advisory lock that PostgreSQL writers take in turn (any constant will do:
# one database holds one project).
WRITER_LOCK_KEY = 0x71636F6465  # "qcode"


def _is_url(location: str) -> bool:
    return "://" in location


def engine_url(location: str) -> str:
    """The SQLAlchemy URL of a database location: ``postgresql://`` is driven by psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if location.startswith(prefix):
            return "postgresql+psycopg://" + location[len(prefix):]
    return location


def redacted(location: str) -> str:
    """A location fit for messages: a URL's password is replaced by ``***``."""
    if not _is_url(location):
        return location
    from sqlalchemy.engine import make_url

    try:
        return make_url(location).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: say nothing of its parts
        return location.split("://", 1)[0] + "://…"


class Store:
    """An open store. Use :meth:`read` and :meth:`write` to get a connection in a transaction."""

    def __init__(self, engine: Engine, location: str) -> None:
        self.engine = engine
        self.location = location
        self._writer = engine.execution_options(qcode_begin="IMMEDIATE")
        self._reader = (engine.execution_options(isolation_level="REPEATABLE READ")
                        if engine.dialect.name == "postgresql" else engine)

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
            engine = _server_engine(location, busy_timeout_s)
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
        except DBAPIError as exc:
            engine.dispose()
            raise StoreError(f"cannot open the store: {_first_line(exc.orig)}",
                             path=redacted(location)) from None
        return store

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction (a consistent snapshot)."""
        with self._reader.begin() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction: committed on exit, rolled back on error."""
        try:
            with self._writer.begin() as conn:
                yield conn
        except OperationalError as exc:
            message = str(exc.orig)
            if "locked" in message or "busy" in message or "lock timeout" in message:
                raise StoreError(
                    "the store is busy: another qcode process kept it locked too long",
                    path=redacted(self.location),
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


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _server_engine(location: str, busy_timeout_s: float) -> Engine:
    """An engine on a database server (PostgreSQL), writers serialised by an advisory lock."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = make_url(engine_url(location))
        if url.get_backend_name() != "postgresql":
            raise StoreError(f"qcode stores projects in SQLite or PostgreSQL, not "
                             f"{url.get_backend_name()}", path=redacted(location))
        engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise StoreError(f"not a database URL qcode can use: {exc}",
                         path=redacted(location),
                         hint="write it as postgresql://user@host:port/database") from None
    timeout_ms = int(busy_timeout_s * 1000)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("qcode_begin") == "IMMEDIATE":
            # writers take turns, as on SQLite; waiting longer than the busy timeout fails
            # with 'lock timeout', reported as a busy store
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {timeout_ms}")
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY})")

    return engine


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
