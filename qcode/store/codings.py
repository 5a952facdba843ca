"""Queries on codings, memos and the action journal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from qcode.store import schema as s


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def find(conn: Connection, transcript_id: str, start: int, end: int, code_id: str,
         coder: str) -> int | None:
    """The id of the coding of this passage with this code by this coder, if any."""
    c = s.codings
    return conn.execute(select(c.c.id).where(
        c.c.transcript_id == transcript_id, c.c.start == start, c.c.end == end,
        c.c.code_id == code_id, c.c.coder == coder)).scalar()


def add(conn: Connection, *, transcript_id: str, start: int, end: int, code_id: str,
        coder: str, origin: str, snapshot: str, memo: str = "") -> tuple[int, bool]:
    """Insert a coding unless the same one exists; returns (id, created)."""
    existing = find(conn, transcript_id, start, end, code_id, coder)
    if existing is not None:
        return existing, False
    stamp = now()
    result = conn.execute(insert(s.codings).values(
        transcript_id=transcript_id, start=start, end=end, code_id=code_id, coder=coder,
        origin=origin, snapshot=snapshot, memo=memo, created_at=stamp, updated_at=stamp))
    return _new_id(result), True


def get(conn: Connection, coding_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(s.codings).where(s.codings.c.id == coding_id)).first()
    return dict(row._mapping) if row is not None else None


def remove(conn: Connection, coding_id: int) -> dict[str, Any] | None:
    """Delete a coding and the memos written on it; returns the row as it was, its memos
    under ``"memos"`` (for the journal, so that :func:`restore` puts both back), or None."""
    row = get(conn, coding_id)
    if row is not None:
        m = s.memos
        on_it = (m.c.target_type == "coding") & (m.c.target_id == str(coding_id))
        row["memos"] = [dict(r._mapping) for r in conn.execute(select(m).where(on_it)
                                                               .order_by(m.c.id))]
        conn.execute(delete(m).where(on_it))
        conn.execute(delete(s.codings).where(s.codings.c.id == coding_id))
    return row


def restore(conn: Connection, row: dict[str, Any]) -> None:
    """Put back a coding removed earlier, with its id, and the memos that were on it."""
    values = dict(row)
    memos_on_it = values.pop("memos", [])
    conn.execute(insert(s.codings).values(**values))
    if memos_on_it:
        conn.execute(insert(s.memos), memos_on_it)


def query(conn: Connection, *, transcripts: list[str] | None = None,
          codes: list[str] | None = None, coders: list[str] | None = None,
          origins: list[str] | None = None, flagged: bool | None = None
          ) -> list[dict[str, Any]]:
    c = s.codings
    stmt = select(c)
    if transcripts:
        stmt = stmt.where(c.c.transcript_id.in_(transcripts))
    if codes:
        stmt = stmt.where(c.c.code_id.in_(codes))
    if coders:
        stmt = stmt.where(c.c.coder.in_(coders))
    if origins:
        stmt = stmt.where(c.c.origin.in_(origins))
    if flagged is True:
        stmt = stmt.where(c.c.flag != "")
    elif flagged is False:
        stmt = stmt.where(c.c.flag == "")
    stmt = stmt.order_by(c.c.transcript_id, c.c.start, c.c.end, c.c.code_id, c.c.id)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def set_memo(conn: Connection, coding_id: int, memo: str) -> None:
    conn.execute(update(s.codings).where(s.codings.c.id == coding_id)
                 .values(memo=memo, updated_at=now()))


# --- memos ----------------------------------------------------------------------------------


def add_memo(conn: Connection, target_type: str, target_id: str, coder: str, text: str) -> int:
    stamp = now()
    result = conn.execute(insert(s.memos).values(
        target_type=target_type, target_id=target_id, coder=coder, text=text,
        created_at=stamp, updated_at=stamp))
    return _new_id(result)


def memos(conn: Connection, target_type: str | None = None, target_id: str | None = None
          ) -> list[dict[str, Any]]:
    m = s.memos
    stmt = select(m)
    if target_type is not None:
        stmt = stmt.where(m.c.target_type == target_type)
    if target_id is not None:
        stmt = stmt.where(m.c.target_id == target_id)
    return [dict(r._mapping) for r in conn.execute(stmt.order_by(m.c.id))]


def remove_memo(conn: Connection, memo_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(s.memos).where(s.memos.c.id == memo_id)).first()
    if row is None:
        return None
    conn.execute(delete(s.memos).where(s.memos.c.id == memo_id))
    return dict(row._mapping)


# --- journal --------------------------------------------------------------------------------


def log(conn: Connection, coder: str, action: str, payload: dict[str, Any]) -> int:
    """Record an action in the journal, in the same transaction as the action itself."""
    result = conn.execute(insert(s.journal).values(
        coder=coder, action=action, payload_json=json.dumps(payload, ensure_ascii=False),
        created_at=now(), undone=False))
    return _new_id(result)


def last_action(conn: Connection, coder: str) -> dict[str, Any] | None:
    j = s.journal
    row = conn.execute(select(j).where(j.c.coder == coder, j.c.undone.is_(False))
                       .order_by(j.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    out = dict(row._mapping)
    out["payload"] = json.loads(out.pop("payload_json"))
    return out


def mark_undone(conn: Connection, entry_id: int) -> None:
    conn.execute(update(s.journal).where(s.journal.c.id == entry_id).values(undone=True))
