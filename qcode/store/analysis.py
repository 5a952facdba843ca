"""Queries behind the analysis tables and the corpus search (read-only)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, select

from qcode.store import schema as s
from qcode.store.records import TurnRecord

_CHUNK = 500  # ids per IN (...) list: well under SQLite's variable limit


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


def attribute_names(conn: Connection) -> list[str]:
    """Every attribute name some transcript has, sorted."""
    a = s.attributes
    return list(conn.execute(select(a.c.name).distinct().order_by(a.c.name)).scalars())


def coders(conn: Connection) -> list[str]:
    """Every coder that has codings, sorted."""
    c = s.codings
    return list(conn.execute(select(c.c.coder).distinct().order_by(c.c.coder)).scalars())


def codings(conn: Connection, *, transcripts: Sequence[str] | None = None,
            coders: Sequence[str] | None = None, origins: Sequence[str] | None = None
            ) -> list[dict[str, Any]]:
    """Codings without their snapshot or memo: id, transcript_id, start, end, code_id, coder,
    origin — by transcript, start, end, code, coder."""
    c = s.codings
    stmt = select(c.c.id, c.c.transcript_id, c.c.start, c.c.end, c.c.code_id, c.c.coder,
                  c.c.origin)
    if coders:
        stmt = stmt.where(c.c.coder.in_(list(coders)))
    if origins:
        stmt = stmt.where(c.c.origin.in_(list(origins)))
    stmt = stmt.order_by(c.c.transcript_id, c.c.start, c.c.end, c.c.code_id, c.c.coder,
                         c.c.id)
    if transcripts is None:
        return [dict(r._mapping) for r in conn.execute(stmt)]
    out: list[dict[str, Any]] = []
    for chunk in _chunks(sorted(set(transcripts))):
        out.extend(dict(r._mapping) for r in conn.execute(
            stmt.where(c.c.transcript_id.in_(chunk))))
    return out


def texts(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    """The text of each transcript of ``ids``."""
    t = s.transcripts
    out: dict[str, str] = {}
    for chunk in _chunks(sorted(set(ids))):
        out.update((r.id, r.text) for r in conn.execute(
            select(t.c.id, t.c.text).where(t.c.id.in_(chunk))))
    return out


def turns(conn: Connection, ids: Sequence[str]) -> dict[str, list[TurnRecord]]:
    """The turns of each transcript of ``ids``, in order."""
    tu = s.turns
    out: dict[str, list[TurnRecord]] = {tid: [] for tid in ids}
    for chunk in _chunks(sorted(set(ids))):
        for x in conn.execute(select(tu).where(tu.c.transcript_id.in_(chunk))
                              .order_by(tu.c.transcript_id, tu.c.idx)):
            out[x.transcript_id].append(TurnRecord(x.idx, x.speaker, x.role, x.start, x.end,
                                                   x.start_ms, x.end_ms))
    return out


def code_labels(conn: Connection) -> dict[str, str]:
    """The label of every code in the store (orphans included), by id."""
    c = s.codes
    return {r.id: r.label for r in conn.execute(select(c.c.id, c.c.label))}
