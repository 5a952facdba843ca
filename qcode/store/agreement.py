"""Queries behind intercoder agreement (read-only, portable SQLAlchemy Core)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, select

from qcode.store import schema as s

_CHUNK = 500  # ids per IN (...) list: well under SQLite's variable limit


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


def coverage(conn: Connection, coders: Sequence[str],
             transcripts: Sequence[str] | None = None) -> dict[str, set[str]]:
    """Transcript id → those of ``coders`` with at least one coding in it (of any code), for
    every transcript (or those of ``transcripts``)."""
    c = s.codings
    stmt = select(c.c.transcript_id, c.c.coder).where(c.c.coder.in_(list(coders))).distinct()
    out: dict[str, set[str]] = {}
    batches = [stmt] if transcripts is None else [
        stmt.where(c.c.transcript_id.in_(chunk)) for chunk in _chunks(sorted(set(transcripts)))]
    for batch in batches:
        for tid, coder in conn.execute(batch):
            out.setdefault(tid, set()).add(coder)
    return out


def spans(conn: Connection, coders: Sequence[str], transcripts: Sequence[str]
          ) -> list[tuple[str, int, int, str, str]]:
    """(transcript, start, end, code, coder) of every coding by ``coders`` in ``transcripts``,
    in transcript and offset order."""
    c = s.codings
    stmt = (select(c.c.transcript_id, c.c.start, c.c.end, c.c.code_id, c.c.coder)
            .where(c.c.coder.in_(list(coders)))
            .order_by(c.c.transcript_id, c.c.start, c.c.end, c.c.code_id, c.c.coder))
    out: list[tuple[str, int, int, str, str]] = []
    for chunk in _chunks(sorted(set(transcripts))):
        out.extend((r[0], r[1], r[2], r[3], r[4])
                   for r in conn.execute(stmt.where(c.c.transcript_id.in_(chunk))))
    return out
