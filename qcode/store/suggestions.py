"""Queries on keyword suggestions and the lemma cache (all of their SQL)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, insert, select, update

from qcode.store import schema as s

_CHUNK = 500  # ids per IN (...) list: well under SQLite's variable limit


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


# --- transcripts as suggestions see them -------------------------------------------------------


def transcript_hashes(conn: Connection, ids: Sequence[str] | None = None
                      ) -> list[tuple[str, str]]:
    """(id, text hash) of every transcript, or of ``ids``, by id."""
    t = s.transcripts
    stmt = select(t.c.id, t.c.text_hash).order_by(t.c.id)
    if ids is None:
        return [(r.id, r.text_hash) for r in conn.execute(stmt)]
    out: list[tuple[str, str]] = []
    for chunk in _chunks(list(ids)):
        out.extend((r.id, r.text_hash) for r in conn.execute(stmt.where(t.c.id.in_(chunk))))
    return sorted(out)


def transcript_text(conn: Connection, transcript_id: str) -> str | None:
    return conn.execute(select(s.transcripts.c.text)
                        .where(s.transcripts.c.id == transcript_id)).scalar()


def coded_spans(conn: Connection, transcript_id: str) -> dict[str, list[tuple[int, int]]]:
    """The spans of the transcript's codings (any coder), by code."""
    c = s.codings
    out: dict[str, list[tuple[int, int]]] = {}
    for r in conn.execute(select(c.c.code_id, c.c.start, c.c.end)
                          .where(c.c.transcript_id == transcript_id)):
        out.setdefault(r.code_id, []).append((r.start, r.end))
    return out


# --- lemma cache -------------------------------------------------------------------------------


def cached_hashes(conn: Connection, model: str, hashes: Iterable[str]) -> set[str]:
    """Which of ``hashes`` have a cache row for ``model``."""
    lc = s.lemma_cache
    wanted = sorted(set(hashes))
    found: set[str] = set()
    for chunk in _chunks(wanted):
        found.update(conn.execute(select(lc.c.text_hash).where(
            lc.c.model == model, lc.c.text_hash.in_(chunk))).scalars())
    return found


def cache_get(conn: Connection, text_hash: str, model: str) -> str | None:
    lc = s.lemma_cache
    return conn.execute(select(lc.c.data).where(lc.c.text_hash == text_hash,
                                                lc.c.model == model)).scalar()


def cache_put(conn: Connection, rows: Sequence[tuple[str, str, str]]) -> None:
    """Insert or replace cache rows ``(text_hash, model, data)``."""
    lc = s.lemma_cache
    stamp = now()
    for text_hash, model, _ in rows:
        conn.execute(delete(lc).where(lc.c.text_hash == text_hash, lc.c.model == model))
    if rows:
        conn.execute(insert(lc), [{"text_hash": h, "model": m, "data": d, "created_at": stamp}
                                  for h, m, d in rows])


def cache_prune(conn: Connection, keep: Iterable[str] = ()) -> int:
    """Delete the cache rows of texts no transcript has any more (except ``keep``)."""
    lc, t = s.lemma_cache, s.transcripts
    current = select(t.c.text_hash)
    stmt = delete(lc).where(lc.c.text_hash.not_in(current))
    kept = list(keep)
    if kept:
        stmt = stmt.where(lc.c.text_hash.not_in(kept))
    return int(conn.execute(stmt).rowcount or 0)


def cache_stats(conn: Connection) -> list[dict[str, Any]]:
    lc = s.lemma_cache
    from sqlalchemy import func

    return [{"model": r.model, "rows": r.n, "bytes": int(r.size or 0)} for r in conn.execute(
        select(lc.c.model, func.count().label("n"), func.sum(func.length(lc.c.data))
               .label("size")).group_by(lc.c.model).order_by(lc.c.model))]


# --- suggestions -------------------------------------------------------------------------------


def by_keys(conn: Connection, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The suggestions (any status) with these text keys, by key (through the unique index)."""
    sg = s.suggestions
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(keys))):
        for r in conn.execute(select(sg.c.id, sg.c.text_key, sg.c.code_id, sg.c.status,
                                     sg.c.start, sg.c.end, sg.c.unit, sg.c.score,
                                     sg.c.triggers_json, sg.c.flag)
                              .where(sg.c.text_key.in_(chunk))):
            out[r.text_key] = dict(r._mapping)
    return out


def pending_keys(conn: Connection, transcripts: Sequence[str] | None = None
                 ) -> dict[str, list[tuple[int, str, str]]]:
    """(id, text key, code) of the pending suggestions, by transcript.

    One pass over the status index: per-transcript queries would each scan the table, which
    has no index on the transcript.
    """
    sg = s.suggestions
    wanted = set(transcripts) if transcripts is not None else None
    out: dict[str, list[tuple[int, str, str]]] = {}
    for r in conn.execute(select(sg.c.id, sg.c.transcript_id, sg.c.text_key, sg.c.code_id)
                          .where(sg.c.status == "pending")):
        if wanted is None or r.transcript_id in wanted:
            out.setdefault(r.transcript_id, []).append((r.id, r.text_key, r.code_id))
    return out


def insert_many(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(s.suggestions), list(rows))


def refresh(conn: Connection, suggestion_id: int, values: dict[str, Any]) -> None:
    """Update a suggestion's score, triggers, place… (whatever ``values`` holds)."""
    conn.execute(update(s.suggestions).where(s.suggestions.c.id == suggestion_id)
                 .values(**values))


def delete_pending(conn: Connection, ids: Sequence[int]) -> int:
    """Delete these suggestions if they are still pending; returns how many were."""
    sg = s.suggestions
    n = 0
    for chunk in _chunks(list(ids)):
        n += int(conn.execute(delete(sg).where(sg.c.id.in_(chunk), sg.c.status == "pending"))
                 .rowcount or 0)
    return n


def query(conn: Connection, *, ids: Sequence[int] | None = None,
          statuses: Sequence[str] | None = None, codes: Sequence[str] | None = None,
          transcripts: Sequence[str] | None = None, min_score: float = 0.0
          ) -> list[dict[str, Any]]:
    """Suggestions with their turn number, by transcript, start, code and id."""
    sg, tu = s.suggestions, s.turns
    turn = (select(tu.c.idx).where(tu.c.transcript_id == sg.c.transcript_id,
                                   tu.c.start <= sg.c.start, tu.c.end > sg.c.start)
            .limit(1).scalar_subquery().label("turn"))
    stmt = select(sg, turn)
    conditions: list[ColumnElement[bool]] = []
    if statuses:
        conditions.append(sg.c.status.in_(list(statuses)))
    if codes is not None:
        conditions.append(sg.c.code_id.in_(list(codes)))
    if transcripts is not None:
        conditions.append(sg.c.transcript_id.in_(list(transcripts)))
    if min_score > 0:
        conditions.append(sg.c.score >= min_score)
    stmt = stmt.where(and_(*conditions)) if conditions else stmt
    stmt = stmt.order_by(sg.c.transcript_id, sg.c.start, sg.c.end, sg.c.code_id, sg.c.id)
    if ids is None:
        return [dict(r._mapping) for r in conn.execute(stmt)]
    out: list[dict[str, Any]] = []
    for chunk in _chunks(sorted(set(ids))):
        out.extend(dict(r._mapping) for r in conn.execute(stmt.where(sg.c.id.in_(chunk))))
    out.sort(key=lambda r: (r["transcript_id"], r["start"], r["end"], r["code_id"], r["id"]))
    return out


def decide(conn: Connection, suggestion_id: int, *, status: str, decided_by: str | None,
           decided_at: str | None, coding_id: int | None = None) -> None:
    conn.execute(update(s.suggestions).where(s.suggestions.c.id == suggestion_id).values(
        status=status, decided_by=decided_by, decided_at=decided_at, coding_id=coding_id,
        flag="", flag_note=""))


def set_flag(conn: Connection, suggestion_id: int, flag: str, note: str) -> None:
    conn.execute(update(s.suggestions).where(s.suggestions.c.id == suggestion_id)
                 .values(flag=flag, flag_note=note))


def counts(conn: Connection) -> dict[str, int]:
    """Number of suggestions by status."""
    from sqlalchemy import func

    sg = s.suggestions
    return {r.status: r.n for r in conn.execute(
        select(sg.c.status, func.count().label("n")).group_by(sg.c.status))}
