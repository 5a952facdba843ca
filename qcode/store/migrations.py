"""Ordered schema migrations.

A new store is created from :mod:`qcode.store.schema` and stamped with :data:`LATEST`. An older
store runs, in order and each in its own transaction, the migrations above its version. Add a
migration by appending ``(version, description, function)`` to :data:`MIGRATIONS` and changing
``schema.py`` to the new shape; never edit a migration that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, inspect, select

from qcode.errors import StoreError
from qcode.store import schema

Migration = tuple[int, str, Callable[[Connection], None]]


def _initial(conn: Connection) -> None:  # pragma: no cover - stores start at LATEST
    schema.metadata.create_all(conn)


def _coding(conn: Connection) -> None:
    for table in (schema.codes, schema.codebook_state, schema.codings, schema.suggestions,
                  schema.memos, schema.lemma_cache, schema.journal, schema.positions):
        table.create(conn)  # with its indexes


MIGRATIONS: list[Migration] = [
    (1, "transcripts, versions, attributes, turns, sentences", _initial),
    (2, "codes, codebook state, codings, suggestions, memos, lemma cache, journal, "
        "positions", _coding),
]
LATEST = MIGRATIONS[-1][0]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def current_version(conn: Connection) -> int | None:
    """The store's schema version, or None for an empty database."""
    if not inspect(conn).has_table("schema_version"):
        return None
    version = conn.execute(select(schema.schema_version.c.version)
                           .order_by(schema.schema_version.c.version.desc()).limit(1)).scalar()
    return int(version) if version is not None else None


def pending(engine: Engine) -> list[Migration]:
    with engine.connect() as conn:
        version = current_version(conn)
    if version is None:
        return []
    if version > LATEST:
        raise StoreError(
            f"the store has schema version {version}, newer than this qcode knows ({LATEST})",
            hint="upgrade qcode (pip install -U qcode)",
        )
    return [m for m in MIGRATIONS if m[0] > version]


def migrate(engine: Engine, before: Callable[[], None] | None = None) -> int:
    """Create or upgrade the schema; call ``before`` once before upgrading an existing store.

    Returns the number of migrations applied (0 for a new or up-to-date store).
    """
    # schema changes run as writers (BEGIN IMMEDIATE on SQLite, the writers' lock on
    # PostgreSQL), so that two processes opening a new store at once create it only once
    writer = engine.execution_options(qcode_begin="IMMEDIATE")
    with engine.connect() as conn:
        new = current_version(conn) is None
    if new:
        with writer.begin() as conn:
            if current_version(conn) is None:
                schema.metadata.create_all(conn)
                conn.execute(schema.schema_version.insert().values(
                    version=LATEST, applied_at=_now(), description="created"))
                return 0
    todo = pending(engine)
    if todo and before is not None:
        before()
    for version, description, function in todo:
        with writer.begin() as conn:
            if (current_version(conn) or 0) >= version:  # another process got there first
                continue
            function(conn)
            conn.execute(schema.schema_version.insert().values(
                version=version, applied_at=_now(), description=description))
    return len(todo)
