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
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError

from qcode.errors import StoreError
from qcode.store import migrations

DEFAULT_BUSY_TIMEOUT_S = 30.0
# A writer that has not got its turn after this long tells the user it is waiting (once per
# wait), then goes on waiting up to the busy timeout.
WAIT_NOTICE_AFTER_S = 0.25


class _WaitNotice:
    """What a writer calls when it must wait for another process: a callback the CLI sets."""

    def __init__(self) -> None:
        self.callback: Callable[[], None] | None = None

    def __call__(self) -> None:
        if self.callback is not None:
            self.callback()


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

    def __init__(self, engine: Engine, location: str, notice: _WaitNotice | None = None) -> None:
        self.engine = engine
        self.location = location
        self._notice = notice or _WaitNotice()
        self._writer = engine.execution_options(qcode_begin="IMMEDIATE")
        self._reader = (engine.execution_options(isolation_level="REPEATABLE READ")
                        if engine.dialect.name == "postgresql" else engine)

    @property
    def on_wait(self) -> Callable[[], None] | None:
        """Called when a writer must wait for another process's write to finish."""
        return self._notice.callback

    @on_wait.setter
    def on_wait(self, callback: Callable[[], None] | None) -> None:
        self._notice.callback = callback

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
        migrate: bool = True,
    ) -> Store:
        """Open (and create or migrate) the store at a file path or database URL.

        ``migrate=False`` opens the store as it is, neither created nor migrated (for
        ``qcode check`` and ``qcode backup``, which must see and copy it untouched).
        """
        location = str(location)
        notice = _WaitNotice()
        if _is_url(location):
            engine = _server_engine(location, busy_timeout_s, notice)
        else:
            path = Path(location)
            if not path.exists():
                if not create or not migrate:
                    raise StoreError("no store yet", path=path, hint="run 'qcode ingest' first")
                path.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(path.parent, 0o700)
                # create the file readable by its owner only: transcripts are personal data
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": busy_timeout_s})
            _configure_sqlite(engine, busy_timeout_s, notice)
        store = cls(engine, location, notice)
        try:
            if migrate:
                migrations.migrate(engine, before=store._backup_before_migration)
            else:
                with engine.connect():
                    pass
        except DBAPIError as exc:
            engine.dispose()
            raise StoreError(f"cannot open the store: {_first_line(exc.orig)}",
                             path=redacted(location),
                             hint=None if _is_url(location) else "if the file is damaged, "
                             "restore a copy from .qcode/backups/ (see 'qcode backup')"
                             ) from None
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
                raise _busy(self.location, exc) from None
            raise

    def backup(self, target: str | Path) -> Path:
        """A consistent copy of a SQLite store, taken while others may be working on it."""
        if not self.is_sqlite:
            raise StoreError("backup copies SQLite stores only; use the database's own tools "
                             "(pg_dump) for a server")
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.unlink(missing_ok=True)  # a part left by a killed backup
        os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY, 0o600))  # owner-only from the start
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


def _server_engine(location: str, busy_timeout_s: float, notice: _WaitNotice) -> Engine:
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
            if conn.exec_driver_sql(
                    f"SELECT pg_try_advisory_xact_lock({WRITER_LOCK_KEY})").scalar():
                return
            if not _sleep_then_try(conn, f"SELECT pg_try_advisory_xact_lock({WRITER_LOCK_KEY})"):
                notice()
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY})")

    return engine


def _sleep_then_try(conn: Connection, statement: str) -> bool:
    """Try to take the writers' lock once more after the notice delay (PostgreSQL)."""
    import time

    time.sleep(WAIT_NOTICE_AFTER_S)
    return bool(conn.exec_driver_sql(statement).scalar())


def _configure_sqlite(engine: Engine, busy_timeout_s: float, notice: _WaitNotice) -> None:
    full_ms = int(busy_timeout_s * 1000)
    notice_ms = min(full_ms, int(WAIT_NOTICE_AFTER_S * 1000))

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
        if mode != "IMMEDIATE":
            conn.exec_driver_sql(f"BEGIN {mode}")
            return
        # a writer: try for a moment; if another process holds the store, say so, then wait
        # up to the busy timeout
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute(f"PRAGMA busy_timeout={notice_ms}")
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            notice()
            raw.execute(f"PRAGMA busy_timeout={max(full_ms - notice_ms, 0)}")
            try:
                raw.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as again:
                raise _busy(engine.url.database or "", again) from None
        finally:
            raw.execute(f"PRAGMA busy_timeout={full_ms}")


def _busy(location: str, _cause: object) -> StoreError:
    return StoreError(
        "the store is busy: another qcode process kept it locked too long",
        path=redacted(location),
        hint="wait for the other process to finish, then run the command again",
    )


__all__ = ["Store", "StoreError"]
