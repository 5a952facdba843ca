"""Where each coder stopped in each transcript (table ``positions``), for ``qcode code``."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select, update

from qcode.store import schema as s


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def get(conn: Connection, coder: str, transcript_id: str) -> int | None:
    """The turn where ``coder`` stopped in ``transcript_id``, if they ever opened it."""
    p = s.positions
    turn = conn.execute(select(p.c.turn).where(p.c.coder == coder,
                                               p.c.transcript_id == transcript_id)).scalar()
    return int(turn) if turn is not None else None


def put(conn: Connection, coder: str, transcript_id: str, turn: int) -> None:
    """Remember that ``coder`` is at ``turn`` of ``transcript_id`` (insert or update)."""
    p = s.positions
    stamp = _now()
    result = conn.execute(update(p).where(p.c.coder == coder, p.c.transcript_id == transcript_id)
                          .values(turn=turn, updated_at=stamp))
    if result.rowcount == 0:
        conn.execute(insert(p).values(coder=coder, transcript_id=transcript_id, turn=turn,
                                      updated_at=stamp))


def latest(conn: Connection, coder: str) -> tuple[str, int] | None:
    """The transcript (and turn) ``coder`` worked on most recently."""
    p = s.positions
    row = conn.execute(select(p.c.transcript_id, p.c.turn).where(p.c.coder == coder)
                       .order_by(p.c.updated_at.desc()).limit(1)).first()
    return (row.transcript_id, int(row.turn)) if row is not None else None
