"""Queries on codes, the codebook's synced state, and the codings that use codes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from qcode.store import schema as s


def state(conn: Connection) -> dict[str, str]:
    return {r.name: r.value for r in conn.execute(select(s.codebook_state))}


def set_state(conn: Connection, **values: str) -> None:
    for name, value in values.items():
        conn.execute(delete(s.codebook_state).where(s.codebook_state.c.name == name))
        conn.execute(insert(s.codebook_state).values(name=name, value=value))


def stored(conn: Connection) -> dict[str, dict[str, Any]]:
    """Every code in the store, by id."""
    return {r.id: dict(r._mapping) for r in conn.execute(select(s.codes)
                                                         .order_by(s.codes.c.position))}


def replace_codes(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Replace the active codes by ``rows`` (orphans are written by the caller)."""
    conn.execute(delete(s.codes))
    if rows:
        conn.execute(insert(s.codes), rows)


def coding_counts(conn: Connection) -> dict[str, int]:
    c = s.codings
    return {r.code_id: r.n for r in conn.execute(
        select(c.c.code_id, func.count().label("n")).group_by(c.c.code_id))}


def codings_of(conn: Connection, code_ids: list[str]) -> list[dict[str, Any]]:
    """The codings that use any of ``code_ids`` (id, code, transcript, span, coder, quote)."""
    if not code_ids:
        return []
    c = s.codings
    rows = conn.execute(select(c.c.id, c.c.code_id, c.c.transcript_id, c.c.start, c.c.end,
                               c.c.coder, c.c.origin, c.c.snapshot)
                        .where(c.c.code_id.in_(code_ids))
                        .order_by(c.c.code_id, c.c.transcript_id, c.c.start))
    return [dict(r._mapping) for r in rows]


def recode(conn: Connection, old: str, new: str) -> int:
    """Move every coding of code ``old`` to code ``new``; returns how many moved.

    A moved coding that would repeat one ``new`` already has (same passage, same coder) is
    dropped, so a merge never leaves the same coding twice.
    """
    c, m = s.codings, s.memos
    result = conn.execute(update(c).where(c.c.code_id == old).values(code_id=new))
    kept: dict[tuple[Any, ...], int] = {}
    dropped: dict[int, int] = {}  # a repeated coding → the one kept in its place
    for row in conn.execute(select(c.c.id, c.c.transcript_id, c.c.start, c.c.end, c.c.coder)
                            .where(c.c.code_id == new).order_by(c.c.id)):
        key = (row.transcript_id, row.start, row.end, row.coder)
        if key in kept:
            dropped[row.id] = kept[key]
        else:
            kept[key] = row.id
    for gone, keeper in dropped.items():  # memos on a dropped coding follow to the kept one
        conn.execute(update(m).where(m.c.target_type == "coding", m.c.target_id == str(gone))
                     .values(target_id=str(keeper)))
    if dropped:
        conn.execute(delete(c).where(c.c.id.in_(list(dropped))))
    return int(result.rowcount or 0)
