"""Queries on transcripts, their turns, sentences, attributes and earlier versions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from qcode.store import schema as s
from qcode.store.records import (
    Fingerprint,
    SentenceRecord,
    TranscriptRecord,
    TurnRecord,
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def fingerprints(conn: Connection) -> dict[str, Fingerprint]:
    """Every transcript's fingerprint, by id (two queries: re-ingest checks stay cheap)."""
    t, a = s.transcripts, s.attributes
    rows = conn.execute(select(t.c.id, t.c.source_path, t.c.file_hash, t.c.text_hash,
                               t.c.reader_version, t.c.version, t.c.roles_key))
    out = {r.id: Fingerprint(r.source_path, r.file_hash, r.text_hash, r.reader_version,
                             r.version, r.roles_key) for r in rows}
    for r in conn.execute(select(a.c.transcript_id, a.c.name, a.c.value, a.c.source)):
        out[r.transcript_id].attributes[r.name] = (r.value, r.source)
    return out


def text_of(conn: Connection, transcript_id: str) -> str | None:
    t = s.transcripts
    return conn.execute(select(t.c.text).where(t.c.id == transcript_id)).scalar()


def transcript_ids(conn: Connection) -> list[str]:
    return list(conn.execute(select(s.transcripts.c.id).order_by(s.transcripts.c.id)).scalars())


def save(conn: Connection, rec: TranscriptRecord) -> str:
    """Insert or replace a transcript; an earlier, different text is kept as a version.

    Returns ``"added"``, ``"updated"`` (the text changed) or ``"refreshed"`` (same text, new
    file or reader).
    """
    t = s.transcripts
    now = _now()
    old = conn.execute(select(t.c.text, t.c.text_hash, t.c.file_hash, t.c.version)
                       .where(t.c.id == rec.id)).first()
    values: dict[str, Any] = {
        "source_path": rec.source_path,
        "format": rec.format,
        "file_hash": rec.file_hash,
        "text_hash": rec.text_hash,
        "reader_version": rec.reader_version,
        "text": rec.text,
        "metadata_json": json.dumps(rec.metadata, ensure_ascii=False, sort_keys=True),
        "warnings_json": json.dumps(rec.warnings, ensure_ascii=False),
        "words": rec.words,
        "updated_at": now,
    }
    if old is None:
        conn.execute(insert(t).values(id=rec.id, version=1, ingested_at=now, **values))
        outcome = "added"
        rec.version = 1
    else:
        version = old.version
        if old.text_hash != rec.text_hash:
            conn.execute(insert(s.transcript_versions).values(
                transcript_id=rec.id, version=version, text=old.text, text_hash=old.text_hash,
                file_hash=old.file_hash, replaced_at=now))
            version += 1
            outcome = "updated"
        else:
            outcome = "refreshed"
        conn.execute(update(t).where(t.c.id == rec.id).values(version=version, **values))
        rec.version = version
        conn.execute(delete(s.sentences).where(s.sentences.c.transcript_id == rec.id))
        conn.execute(delete(s.turns).where(s.turns.c.transcript_id == rec.id))
    if rec.turns:
        conn.execute(insert(s.turns), [
            {"transcript_id": rec.id, "idx": tr.idx, "speaker": tr.speaker, "role": tr.role,
             "start": tr.start, "end": tr.end, "start_ms": tr.start_ms, "end_ms": tr.end_ms}
            for tr in rec.turns
        ])
    if rec.sentences:
        conn.execute(insert(s.sentences), [
            {"transcript_id": rec.id, "turn_idx": se.turn_idx, "idx": se.idx,
             "start": se.start, "end": se.end}
            for se in rec.sentences
        ])
    set_attributes(conn, rec.id, rec.attributes)
    return outcome


def set_attributes(conn: Connection, transcript_id: str,
                   attributes: dict[str, tuple[str, str]]) -> bool:
    """Replace a transcript's attributes; True when something changed."""
    a = s.attributes
    if attributes_of(conn, transcript_id) == attributes:
        return False
    conn.execute(delete(a).where(a.c.transcript_id == transcript_id))
    if attributes:
        conn.execute(insert(a), [
            {"transcript_id": transcript_id, "name": k, "value": v, "source": src}
            for k, (v, src) in attributes.items()
        ])
    return True


def update_roles(conn: Connection, transcript_id: str, roles: dict[str, str]) -> bool:
    """Set the role of each speaker label of a transcript; True when something changed."""
    changed = False
    for speaker, role in roles.items():
        result = conn.execute(update(s.turns).where(
            s.turns.c.transcript_id == transcript_id, s.turns.c.speaker == speaker,
            s.turns.c.role != role).values(role=role))
        changed = changed or result.rowcount > 0
    return changed


def attributes_of(conn: Connection, transcript_id: str) -> dict[str, tuple[str, str]]:
    a = s.attributes
    return {r.name: (r.value, r.source) for r in conn.execute(
        select(a.c.name, a.c.value, a.c.source).where(a.c.transcript_id == transcript_id))}


def get_roles_key(conn: Connection, transcript_id: str) -> str:
    t = s.transcripts
    return conn.execute(select(t.c.roles_key).where(t.c.id == transcript_id)).scalar() or ""


def set_roles_key(conn: Connection, transcript_id: str, key: str) -> None:
    conn.execute(update(s.transcripts).where(s.transcripts.c.id == transcript_id)
                 .values(roles_key=key))


def set_source_path(conn: Connection, transcript_id: str, source_path: str) -> None:
    t = s.transcripts
    conn.execute(update(t).where(t.c.id == transcript_id, t.c.source_path != source_path)
                 .values(source_path=source_path))


def remove(conn: Connection, transcript_id: str) -> bool:
    """Delete a transcript with its turns, sentences, attributes and versions."""
    conn.execute(delete(s.sentences).where(s.sentences.c.transcript_id == transcript_id))
    conn.execute(delete(s.turns).where(s.turns.c.transcript_id == transcript_id))
    conn.execute(delete(s.attributes).where(s.attributes.c.transcript_id == transcript_id))
    conn.execute(delete(s.transcript_versions)
                 .where(s.transcript_versions.c.transcript_id == transcript_id))
    result = conn.execute(delete(s.transcripts).where(s.transcripts.c.id == transcript_id))
    return result.rowcount > 0


def summaries(conn: Connection) -> list[dict[str, Any]]:
    """One row per transcript: id, file, format, turns, speakers, words, version, attributes."""
    t, tu = s.transcripts, s.turns
    counts = (
        select(tu.c.transcript_id, func.count().label("turns"),
               func.count(func.distinct(tu.c.speaker)).label("speakers"))
        .group_by(tu.c.transcript_id).subquery()
    )
    rows = conn.execute(
        select(t.c.id, t.c.source_path, t.c.format, t.c.words, t.c.version,
               func.coalesce(counts.c.turns, 0).label("turns"),
               func.coalesce(counts.c.speakers, 0).label("speakers"))
        .select_from(t.outerjoin(counts, counts.c.transcript_id == t.c.id))
        .order_by(t.c.id)
    ).all()
    attrs = all_attributes(conn)
    interviewers = _speakers_by_role(conn, "interviewer")
    return [
        {
            "id": r.id, "file": r.source_path, "format": r.format, "turns": r.turns,
            "speakers": r.speakers, "words": r.words, "version": r.version,
            "interviewer": ", ".join(interviewers.get(r.id, [])),
            "attributes": attrs.get(r.id, {}),
        }
        for r in rows
    ]


def _speakers_by_role(conn: Connection, role: str) -> dict[str, list[str]]:
    tu = s.turns
    out: dict[str, list[str]] = {}
    for r in conn.execute(select(tu.c.transcript_id, tu.c.speaker).where(tu.c.role == role)
                          .distinct().order_by(tu.c.transcript_id, tu.c.speaker)):
        out.setdefault(r.transcript_id, []).append(r.speaker)
    return out


def all_attributes(conn: Connection) -> dict[str, dict[str, str]]:
    a = s.attributes
    out: dict[str, dict[str, str]] = {}
    for r in conn.execute(select(a.c.transcript_id, a.c.name, a.c.value)
                          .order_by(a.c.transcript_id, a.c.name)):
        out.setdefault(r.transcript_id, {})[r.name] = r.value
    return out


def load(conn: Connection, transcript_id: str) -> TranscriptRecord | None:
    """A transcript with its turns, sentences and attributes, or None."""
    t = s.transcripts
    r = conn.execute(select(t).where(t.c.id == transcript_id)).first()
    if r is None:
        return None
    tu, se, a = s.turns, s.sentences, s.attributes
    turns = [TurnRecord(x.idx, x.speaker, x.role, x.start, x.end, x.start_ms, x.end_ms)
             for x in conn.execute(select(tu).where(tu.c.transcript_id == transcript_id)
                                   .order_by(tu.c.idx))]
    sentences = [SentenceRecord(x.turn_idx, x.idx, x.start, x.end)
                 for x in conn.execute(select(se).where(se.c.transcript_id == transcript_id)
                                       .order_by(se.c.turn_idx, se.c.idx))]
    attrs = {x.name: (x.value, x.source) for x in conn.execute(
        select(a).where(a.c.transcript_id == transcript_id).order_by(a.c.name))}
    return TranscriptRecord(
        id=r.id, source_path=r.source_path, format=r.format, file_hash=r.file_hash,
        text_hash=r.text_hash, reader_version=r.reader_version, text=r.text, words=r.words,
        metadata=json.loads(r.metadata_json), warnings=json.loads(r.warnings_json),
        attributes=attrs, turns=turns, sentences=sentences, version=r.version,
    )


def speakers(conn: Connection) -> list[dict[str, Any]]:
    """Every speaker label with its role, turn count and the transcripts it appears in."""
    tu = s.turns
    rows = conn.execute(
        select(tu.c.speaker, tu.c.role, func.count().label("turns"),
               func.count(func.distinct(tu.c.transcript_id)).label("transcripts"))
        .group_by(tu.c.speaker, tu.c.role)
        .order_by(func.count().desc(), tu.c.speaker)
    ).all()
    return [{"speaker": r.speaker, "role": r.role, "turns": r.turns,
             "transcripts": r.transcripts} for r in rows]


def versions(conn: Connection, transcript_id: str) -> list[dict[str, Any]]:
    v = s.transcript_versions
    return [dict(r._mapping) for r in conn.execute(
        select(v.c.version, v.c.text_hash, v.c.replaced_at)
        .where(v.c.transcript_id == transcript_id).order_by(v.c.version))]


def previous_text(conn: Connection, transcript_id: str, version: int) -> str | None:
    v = s.transcript_versions
    return conn.execute(select(v.c.text).where(v.c.transcript_id == transcript_id,
                                               v.c.version == version)).scalar()


def load_many(conn: Connection, ids: list[str], *, sentences: bool = False
              ) -> dict[str, TranscriptRecord]:
    """Several transcripts at once, in a few queries (exports read thousands).

    Sentences are left out unless asked for: most readers need the text, turns and attributes.
    """
    t, tu, se, a = s.transcripts, s.turns, s.sentences, s.attributes
    out: dict[str, TranscriptRecord] = {}
    for i in range(0, len(ids), 500):  # well under SQLite's limit of bound variables
        chunk = ids[i:i + 500]
        for r in conn.execute(select(t).where(t.c.id.in_(chunk))):
            out[r.id] = TranscriptRecord(
                id=r.id, source_path=r.source_path, format=r.format, file_hash=r.file_hash,
                text_hash=r.text_hash, reader_version=r.reader_version, text=r.text,
                words=r.words, metadata=json.loads(r.metadata_json),
                warnings=json.loads(r.warnings_json), version=r.version)
        for x in conn.execute(select(tu).where(tu.c.transcript_id.in_(chunk))
                              .order_by(tu.c.transcript_id, tu.c.idx)):
            out[x.transcript_id].turns.append(
                TurnRecord(x.idx, x.speaker, x.role, x.start, x.end, x.start_ms, x.end_ms))
        if sentences:
            for x in conn.execute(select(se).where(se.c.transcript_id.in_(chunk))
                                  .order_by(se.c.transcript_id, se.c.turn_idx, se.c.idx)):
                out[x.transcript_id].sentences.append(
                    SentenceRecord(x.turn_idx, x.idx, x.start, x.end))
        for x in conn.execute(select(a).where(a.c.transcript_id.in_(chunk))
                              .order_by(a.c.transcript_id, a.c.name)):
            out[x.transcript_id].attributes[x.name] = (x.value, x.source)
    return out
