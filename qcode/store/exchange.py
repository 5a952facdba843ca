"""Queries for exchanging codings between projects (``qcode export|import codings``).

Portable SQLAlchemy Core only (SQLite and PostgreSQL): no rowid, no dialect-specific SQL.
Lists of ids are sent in chunks, well under SQLite's limit of bound variables.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select

from qcode.store import schema as s

CHUNK = 500


def _chunks(ids: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


# --- export ---------------------------------------------------------------------------------


def export_rows(conn: Connection, *, transcripts: Sequence[str] | None = None,
                codes: Sequence[str] | None = None, coders: Sequence[str] | None = None,
                origins: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The codings to export with their transcript's text hash and source path, in a stable
    order: transcript, start, end, code, coder, origin, creation time, id."""
    c, t = s.codings, s.transcripts
    stmt = (select(c, t.c.text_hash, t.c.source_path)
            .select_from(c.join(t, t.c.id == c.c.transcript_id)))
    if transcripts is not None:
        stmt = stmt.where(c.c.transcript_id.in_(list(transcripts)))
    if codes is not None:
        stmt = stmt.where(c.c.code_id.in_(list(codes)))
    if coders is not None:
        stmt = stmt.where(c.c.coder.in_(list(coders)))
    if origins is not None:
        stmt = stmt.where(c.c.origin.in_(list(origins)))
    stmt = stmt.order_by(c.c.transcript_id, c.c.start, c.c.end, c.c.code_id, c.c.coder,
                         c.c.origin, c.c.created_at, c.c.id)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def turn_bounds(conn: Connection, transcript_ids: Sequence[str]
                ) -> dict[str, tuple[list[int], list[int]]]:
    """Per transcript, its turn numbers and their end offsets, in order."""
    tu = s.turns
    out: dict[str, tuple[list[int], list[int]]] = {}
    for chunk in _chunks(list(transcript_ids)):
        for r in conn.execute(select(tu.c.transcript_id, tu.c.idx, tu.c.end)
                              .where(tu.c.transcript_id.in_(chunk))
                              .order_by(tu.c.transcript_id, tu.c.idx)):
            idxs, ends = out.setdefault(r.transcript_id, ([], []))
            idxs.append(r.idx)
            ends.append(r.end)
    return out


def coding_memos(conn: Connection) -> dict[int, list[tuple[str, str, str]]]:
    """The memos written on codings (memos table), by coding id: (coder, text, updated_at),
    oldest first."""
    m = s.memos
    out: dict[int, list[tuple[str, str, str]]] = {}
    for r in conn.execute(select(m.c.target_id, m.c.coder, m.c.text, m.c.updated_at)
                          .where(m.c.target_type == "coding").order_by(m.c.id)):
        if str(r.target_id).isdigit():
            out.setdefault(int(r.target_id), []).append((r.coder, r.text, r.updated_at))
    return out


# --- import ---------------------------------------------------------------------------------


def transcript_hashes(conn: Connection) -> list[tuple[str, str, str]]:
    """Every transcript as (id, text hash, source path), by id."""
    t = s.transcripts
    return [(r.id, r.text_hash, r.source_path) for r in conn.execute(
        select(t.c.id, t.c.text_hash, t.c.source_path).order_by(t.c.id))]


def version_hashes(conn: Connection) -> list[tuple[str, int, str]]:
    """Every earlier text kept for a corrected transcript: (id, version, text hash)."""
    v = s.transcript_versions
    return [(r.transcript_id, r.version, r.text_hash) for r in conn.execute(
        select(v.c.transcript_id, v.c.version, v.c.text_hash)
        .order_by(v.c.transcript_id, v.c.version))]


def texts(conn: Connection, transcript_ids: Sequence[str]) -> dict[str, str]:
    """The current texts of these transcripts."""
    t = s.transcripts
    out: dict[str, str] = {}
    for chunk in _chunks(list(transcript_ids)):
        for r in conn.execute(select(t.c.id, t.c.text).where(t.c.id.in_(chunk))):
            out[r.id] = r.text
    return out


def version_text(conn: Connection, transcript_id: str, version: int) -> str | None:
    v = s.transcript_versions
    return conn.execute(select(v.c.text).where(v.c.transcript_id == transcript_id,
                                               v.c.version == version)).scalar()


def codings_in(conn: Connection, transcript_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The codings of these transcripts: id, transcript, span, code, coder, memo."""
    c = s.codings
    out: list[dict[str, Any]] = []
    for chunk in _chunks(list(transcript_ids)):
        out.extend(dict(r._mapping) for r in conn.execute(
            select(c.c.id, c.c.transcript_id, c.c.start, c.c.end, c.c.code_id, c.c.coder,
                   c.c.memo).where(c.c.transcript_id.in_(chunk)).order_by(c.c.id)))
    return out


def insert_codings(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert codings (full rows without ids) in batches; returns their new ids, in the rows'
    order (``RETURNING`` with SQLAlchemy's "insertmanyvalues": SQLite ≥ 3.35, PostgreSQL)."""
    if not rows:
        return []
    c = s.codings
    stmt = insert(c).returning(c.c.id, sort_by_parameter_order=True)
    ids: list[int] = []
    for chunk in _chunks(list(rows)):
        ids.extend(int(i) for i in conn.execute(stmt, list(chunk)).scalars())
    return ids
