"""The store's side of ``qcode check`` and ``qcode backup``: every query they need.

Everything here reads; nothing writes. The checks are portable SQLAlchemy Core and give the
same answers on SQLite and PostgreSQL: dangling rows are found by query for every foreign key
of :mod:`qcode.store.schema`, whether or not the engine enforces it. SQLite's own verifiers
(``PRAGMA integrity_check``, ``PRAGMA foreign_key_check``) run on SQLite only, beside them.

The fixes ``qcode check`` proposes for rows no command can repair are SQL statements for the
user to run; they are compiled here, from the tables, for the store's dialect.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Dialect,
    Table,
    and_,
    create_engine,
    delete,
    exists,
    func,
    inspect,
    select,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from qcode.store import DEFAULT_BUSY_TIMEOUT_S, Store, migrations
from qcode.store import schema as s

_CHUNK = 500  # ids per IN (...) list: well under SQLite's variable limit
SAMPLE = 20  # values listed per kind of dangling row


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


# --- opening a store as it is ------------------------------------------------------------------


def open_as_is(location: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> Store:
    """Open a store without creating or migrating it (``Store.open`` does both by default).

    ``qcode check`` must see the schema as it is, pending migrations included, and ``qcode
    backup`` must copy the store before anything changes it.
    """
    return Store.open(location, busy_timeout_s=busy_timeout_s, create=False, migrate=False)


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# --- schema --------------------------------------------------------------------------------------


def schema_versions(conn: Connection) -> list[int] | None:
    """The versions recorded in ``schema_version``, in order; None when there is no such table."""
    if not inspect(conn).has_table("schema_version"):
        return None
    sv = s.schema_version
    return [int(v) for v in conn.execute(select(sv.c.version).order_by(sv.c.version)).scalars()]


def missing_schema(conn: Connection) -> list[str]:
    """The tables (``table``) and columns (``table.column``) of the current schema not there."""
    inspector = inspect(conn)
    present = set(inspector.get_table_names())
    missing: list[str] = []
    for name, table in s.metadata.tables.items():
        if name not in present:
            missing.append(name)
            continue
        columns = {c["name"] for c in inspector.get_columns(name)}
        missing.extend(f"{name}.{c.name}" for c in table.columns if c.name not in columns)
    return missing


# --- SQLite's own verifiers -----------------------------------------------------------------------


def sqlite_integrity(conn: Connection) -> list[str]:
    """What ``PRAGMA integrity_check`` finds wrong (empty when the file is sound)."""
    rows = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA integrity_check")]
    return [] if rows == ["ok"] else rows


def sqlite_foreign_key_violations(conn: Connection) -> Counter[tuple[str, str]]:
    """``PRAGMA foreign_key_check``: the number of violations per (table, referred table)."""
    return Counter((str(r[0]), str(r[2])) for r in
                   conn.exec_driver_sql("PRAGMA foreign_key_check"))


# --- dangling rows (every declared foreign key, by query) --------------------------------------


@dataclass(slots=True)
class Dangling:
    """Rows of ``table`` whose ``columns`` refer to no row of ``parent``."""

    table: str
    parent: str
    columns: list[str]
    count: int
    values: list[tuple[Any, ...]] = field(default_factory=list)  # distinct, up to SAMPLE
    delete_sql: str = ""  # the statement that deletes them, for this store's dialect


def _foreign_keys() -> Iterator[tuple[Table, Table, list[tuple[Any, Any]]]]:
    for table in s.metadata.sorted_tables:
        for fk in table.foreign_key_constraints:
            parent = fk.referred_table
            pairs = [(el.parent, el.column) for el in fk.elements]
            yield table, parent, pairs


def dangling_rows(conn: Connection) -> list[Dangling]:
    """Rows that refer to a missing row, for every foreign key of the schema."""
    out: list[Dangling] = []
    for table, parent, pairs in _foreign_keys():
        linked = and_(*(parent_col == child_col for child_col, parent_col in pairs))
        orphan = and_(*(child_col.is_not(None) for child_col, _ in pairs if child_col.nullable),
                      ~exists().where(linked))
        count = conn.execute(select(func.count()).select_from(table).where(orphan)).scalar()
        if not count:
            continue
        columns = [child_col for child_col, _ in pairs]
        values = [tuple(r) for r in conn.execute(
            select(*columns).where(orphan).distinct().order_by(*columns).limit(SAMPLE))]
        statement = delete(table).where(orphan)
        out.append(Dangling(table.name, parent.name, [c.name for c in columns], int(count),
                            values, compile_sql(statement, conn.dialect)))
    return out


def compile_sql(statement: Any, dialect: Dialect) -> str:
    """A statement as SQL text for ``dialect``, its values written in (for the user to run)."""
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    return " ".join(sql.split())  # one line (the values written in are ids: no spaces)


def delete_by_id_sql(table_name: str, ids: Sequence[int], dialect: Dialect) -> str:
    """``DELETE`` of the rows of ``codings``, ``suggestions``, ``memos`` or ``journal`` by id."""
    table = s.metadata.tables[table_name]
    return compile_sql(delete(table).where(table.c.id.in_(list(ids))), dialect)


# --- transcripts and what points into them ------------------------------------------------------


class TurnRow(NamedTuple):
    idx: int
    start: int
    end: int


class SentenceRow(NamedTuple):
    turn_idx: int
    idx: int
    start: int
    end: int


class SpanRow(NamedTuple):
    """A coding (``who`` = its coder) or a suggestion (``who`` = its status)."""

    id: int
    start: int
    end: int
    code_id: str
    who: str
    snapshot: str
    flag: str


@dataclass(slots=True)
class TranscriptRows:
    id: str
    text: str
    text_hash: str
    source_path: str
    file_hash: str
    turns: list[TurnRow] = field(default_factory=list)
    sentences: list[SentenceRow] = field(default_factory=list)
    codings: list[SpanRow] = field(default_factory=list)
    suggestions: list[SpanRow] = field(default_factory=list)


def transcript_ids(conn: Connection) -> list[str]:
    return list(conn.execute(select(s.transcripts.c.id).order_by(s.transcripts.c.id)).scalars())


def transcripts_with_rows(conn: Connection, ids: Sequence[str], batch: int = 100
                          ) -> Iterator[TranscriptRows]:
    """Each transcript of ``ids`` with its turns, sentences, codings and suggestions.

    Read ``batch`` transcripts at a time, in five queries per batch, so that a large archive
    is checked in bounded memory and a small study in a handful of queries.
    """
    t, tu, se, c, sg = s.transcripts, s.turns, s.sentences, s.codings, s.suggestions
    for chunk in _chunks(list(ids), batch):
        records = {tid: TranscriptRows(tid, text, text_hash, source_path, file_hash)
                   for tid, text, text_hash, source_path, file_hash in conn.execute(
                       select(t.c.id, t.c.text, t.c.text_hash, t.c.source_path, t.c.file_hash)
                       .where(t.c.id.in_(chunk))).tuples()}
        for tid, *turn in conn.execute(
                select(tu.c.transcript_id, tu.c.idx, tu.c.start, tu.c.end)
                .where(tu.c.transcript_id.in_(chunk))
                .order_by(tu.c.transcript_id, tu.c.idx)).tuples():
            records[tid].turns.append(TurnRow._make(turn))
        for tid, *sentence in conn.execute(
                select(se.c.transcript_id, se.c.turn_idx, se.c.idx, se.c.start, se.c.end)
                .where(se.c.transcript_id.in_(chunk))
                .order_by(se.c.transcript_id, se.c.turn_idx, se.c.idx)).tuples():
            records[tid].sentences.append(SentenceRow._make(sentence))
        for tid, *span in conn.execute(
                select(c.c.transcript_id, c.c.id, c.c.start, c.c.end, c.c.code_id, c.c.coder,
                       c.c.snapshot, c.c.flag)
                .where(c.c.transcript_id.in_(chunk)).order_by(c.c.id)).tuples():
            records[tid].codings.append(SpanRow._make(span))
        for tid, *span in conn.execute(
                select(sg.c.transcript_id, sg.c.id, sg.c.start, sg.c.end, sg.c.code_id,
                       sg.c.status, sg.c.snapshot, sg.c.flag)
                .where(sg.c.transcript_id.in_(chunk)).order_by(sg.c.id)).tuples():
            records[tid].suggestions.append(SpanRow._make(span))
        for tid in chunk:
            if tid in records:
                yield records[tid]


# --- codes ---------------------------------------------------------------------------------------


def code_usage(conn: Connection) -> tuple[Counter[str], Counter[str]]:
    """(codings per code, pending suggestions per code)."""
    c, sg = s.codings, s.suggestions
    codings = Counter({r.code_id: int(r.n) for r in conn.execute(
        select(c.c.code_id, func.count().label("n")).group_by(c.c.code_id))})
    pending = Counter({r.code_id: int(r.n) for r in conn.execute(
        select(sg.c.code_id, func.count().label("n")).where(sg.c.status == "pending")
        .group_by(sg.c.code_id))})
    return codings, pending


def coding_transcripts(conn: Connection, code_ids: Sequence[str]) -> dict[str, list[str]]:
    """The transcripts where each of ``code_ids`` is used by codings, sorted."""
    c = s.codings
    out: dict[str, list[str]] = {}
    for chunk in _chunks(list(code_ids)):
        for r in conn.execute(select(c.c.code_id, c.c.transcript_id).distinct()
                              .where(c.c.code_id.in_(chunk))
                              .order_by(c.c.code_id, c.c.transcript_id)):
            out.setdefault(r.code_id, []).append(r.transcript_id)
    return out


def code_statuses(conn: Connection) -> dict[str, str]:
    """Every code in the store (as last synced from the YAML) and its status."""
    return {r.id: r.status for r in conn.execute(select(s.codes.c.id, s.codes.c.status))}


def codebook_state(conn: Connection) -> dict[str, str]:
    return {r.name: r.value for r in conn.execute(select(s.codebook_state))}


# --- memos and the journal ---------------------------------------------------------------------


class MemoRow(NamedTuple):
    id: int
    target_type: str
    target_id: str
    coder: str
    text: str


def memos(conn: Connection) -> list[MemoRow]:
    m = s.memos
    return [MemoRow(r.id, r.target_type, r.target_id, r.coder, r.text) for r in conn.execute(
        select(m.c.id, m.c.target_type, m.c.target_id, m.c.coder, m.c.text).order_by(m.c.id))]


def existing_ids(conn: Connection, table_name: str, ids: Sequence[Any]) -> set[Any]:
    """Which of ``ids`` are ids of rows of ``table_name``."""
    table = s.metadata.tables[table_name]
    found: set[Any] = set()
    for chunk in _chunks(sorted(set(ids))):
        found.update(conn.execute(select(table.c.id).where(table.c.id.in_(chunk))).scalars())
    return found


class JournalRow(NamedTuple):
    id: int
    coder: str
    action: str
    payload: Any  # the parsed payload, or None when it is not valid JSON
    created_at: str


def journal(conn: Connection) -> tuple[list[JournalRow], list[JournalRow]]:
    """(every entry not undone yet whose payload is not valid JSON or not an object,
    the last entry not undone of each coder — the one ``qcode undo`` would revert)."""
    j = s.journal
    broken: list[JournalRow] = []
    last: dict[str, JournalRow] = {}
    rows = conn.execute(select(j.c.id, j.c.coder, j.c.action, j.c.payload_json, j.c.created_at)
                        .where(j.c.undone.is_(False)).order_by(j.c.id))
    for r in rows:
        try:
            payload = json.loads(r.payload_json)
        except ValueError:
            payload = None
        entry = JournalRow(r.id, r.coder, r.action, payload, r.created_at)
        if not isinstance(payload, dict):
            broken.append(entry)
        last[r.coder] = entry
    return broken, sorted(last.values(), key=lambda e: e.coder)


# --- a copy ------------------------------------------------------------------------------------


def verify_sqlite_copy(path: Path) -> tuple[list[str], int | None]:
    """Open a SQLite copy: (what ``PRAGMA integrity_check`` finds wrong, its schema version)."""
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            problems = sqlite_integrity(conn)
            version = migrations.current_version(conn) if not problems else None
    except DBAPIError as exc:
        return [_first_line(exc.orig)], None
    finally:
        engine.dispose()
    return problems, version
