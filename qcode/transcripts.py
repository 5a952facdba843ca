"""Browsing transcripts: listings and views that the CLI renders and scripts consume."""

from __future__ import annotations

import re
from typing import Any

from qcode.errors import NotFoundError, UsageError
from qcode.store import Store
from qcode.store import transcripts as q


def format_ms(ms: int | None) -> str | None:
    """Milliseconds → ``H:MM:SS`` (``None`` stays ``None``)."""
    if ms is None:
        return None
    seconds = ms // 1000
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def list_transcripts(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        return q.summaries(conn)


def list_speakers(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        return q.speakers(conn)


def parse_turn_range(spec: str, count: int) -> tuple[int, int]:
    """``12`` → (12, 12); ``10-20`` → (10, 20); ``10-`` → (10, count); 1-based, inclusive."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:(-)\s*(\d+)?)?\s*", spec)
    if m is None:
        raise UsageError(f"invalid turn range {spec!r}", hint="use 12, 10-20 or 10-")
    first = int(m.group(1))
    last = int(m.group(3)) if m.group(3) else (count if m.group(2) else first)
    if first < 1 or last < first:
        raise UsageError(f"invalid turn range {spec!r}", hint="turns are numbered from 1")
    if first > count:
        raise UsageError(f"turn {first} does not exist (the transcript has {count} turns)")
    return first, min(last, count)


def show_transcript(store: Store, transcript_id: str, turns: str | None = None) -> dict[str, Any]:
    """The full normalised text and every turn (or a range) with speaker, role, offsets, times."""
    with store.read() as conn:
        rec = q.load(conn, transcript_id)
        if rec is None:
            raise NotFoundError(not_found_message(transcript_id, q.transcript_ids(conn)))
    first, last = parse_turn_range(turns, len(rec.turns)) if turns else (1, len(rec.turns))
    sentences: dict[int, list[dict[str, int]]] = {}
    for se in rec.sentences:
        sentences.setdefault(se.turn_idx, []).append(
            {"sentence": se.idx, "start": se.start, "end": se.end})
    return {
        "id": rec.id,
        "file": rec.source_path,
        "format": rec.format,
        "version": rec.version,
        "words": rec.words,
        "metadata": rec.metadata,
        "attributes": {k: v for k, (v, _src) in rec.attributes.items()},
        "warnings": rec.warnings,
        "text": rec.text,
        "turns": [
            {
                "turn": t.idx,
                "speaker": t.speaker,
                "role": t.role,
                "start": t.start,
                "end": t.end,
                "start_ms": t.start_ms,
                "end_ms": t.end_ms,
                "time": format_ms(t.start_ms),
                "text": rec.text[t.start:t.end],
                "sentences": sentences.get(t.idx, []),
            }
            for t in rec.turns
            if first <= t.idx <= last
        ],
    }


def remove_transcripts(store: Store, ids: list[str]) -> list[str]:
    """Remove transcripts (all or none: an unknown id removes nothing)."""
    with store.write() as conn:
        known = set(q.transcript_ids(conn))
        for tid in ids:
            if tid not in known:
                raise NotFoundError(not_found_message(tid, sorted(known)))
        for tid in ids:
            q.remove(conn, tid)
    return ids


def not_found_message(transcript_id: str, known: list[str]) -> str:
    from rapidfuzz import process, utils

    message = f"no transcript {transcript_id!r} in the store"
    best = (process.extractOne(transcript_id, known, processor=utils.default_process,
                               score_cutoff=60) if known else None)
    if best is not None:
        message += f"; did you mean {best[0]!r}?"
    elif not known:
        message += "; run 'qcode ingest' first"
    return message
