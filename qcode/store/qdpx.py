"""Queries of the REFI-QDA project exchange (``qcode export qdpx`` / ``qcode import qdpx``).

Bulk reads and writes only, in portable SQLAlchemy Core: the export reads every transcript's
text at once, the import finds transcripts by the digest of their text and inserts codings and
memos in a few statements. ``IN`` lists are cut in chunks well under SQLite's limit of bound
variables.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select

from qcode.store import schema as s

CHUNK = 500

# (transcript, start, end, code, coder): what makes a coding the same coding
CodingKey = tuple[str, int, int, str, str]
# (target type, target id, coder, text): what makes a memo the same memo
MemoKey = tuple[str, str, str, str]


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


def texts(conn: Connection) -> dict[str, str]:
    """Every transcript's text, by id, in id order."""
    t = s.transcripts
    return {r.id: r.text for r in conn.execute(select(t.c.id, t.c.text).order_by(t.c.id))}


def ids_by_text_hash(conn: Connection) -> dict[str, str]:
    """The digest of each stored text → the (first, by id) transcript that has it."""
    t = s.transcripts
    out: dict[str, str] = {}
    for r in conn.execute(select(t.c.id, t.c.text_hash).order_by(t.c.id)):
        out.setdefault(r.text_hash, r.id)
    return out


def coding_ids(conn: Connection, transcript_ids: Sequence[str]) -> dict[CodingKey, int]:
    """The codings of these transcripts, by what makes a coding the same coding."""
    c = s.codings
    out: dict[CodingKey, int] = {}
    for chunk in _chunks(sorted(set(transcript_ids))):
        for r in conn.execute(select(c.c.id, c.c.transcript_id, c.c.start, c.c.end,
                                     c.c.code_id, c.c.coder)
                              .where(c.c.transcript_id.in_(chunk))):
            out.setdefault((r.transcript_id, r.start, r.end, r.code_id, r.coder), r.id)
    return out


def insert_codings(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert codings (full rows without ids) in one statement."""
    if rows:
        conn.execute(insert(s.codings), list(rows))


def memo_keys(conn: Connection) -> set[MemoKey]:
    """Every memo, by what makes a memo the same memo (an import adds none twice)."""
    m = s.memos
    return {(r.target_type, r.target_id, r.coder, r.text) for r in conn.execute(
        select(m.c.target_type, m.c.target_id, m.c.coder, m.c.text))}


def insert_memos(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert memos (full rows without ids) in one statement."""
    if rows:
        conn.execute(insert(s.memos), list(rows))
