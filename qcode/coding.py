"""Tagging: address a passage (turn, turns, sentence, quote, span), code it, list, undo.

A coding is a ``[start, end)`` span of a transcript's text with a code, a coder and an origin.
Units are addressed the way a coder reads a transcript on screen:

- ``12`` — turn 12; ``12-14`` — turns 12 to 14;
- ``12.3`` — sentence 3 of turn 12; ``12.3-5`` — its sentences 3 to 5;
- a quote (``--quote "texte exact"``): found exactly, then ignoring case, spaces and apostrophe
  styles, then fuzzily; several places → an error that lists them;
- a span (``--span 1520:1610``) in code points.

Every action is one transaction and one journal entry, so ``qcode undo`` can revert it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from qcode.codebook import Codebook
from qcode.errors import NotFoundError, QcodeError, UsageError
from qcode.store import Store
from qcode.store import codings as cq
from qcode.store import transcripts as tq
from qcode.store.records import TranscriptRecord

FUZZY_QUOTE_MIN = 90.0  # rapidfuzz partial ratio a quote must reach to be found fuzzily


@dataclass(slots=True)
class Passage:
    transcript_id: str
    start: int
    end: int
    text: str
    turn: int  # first turn of the passage
    how: str = "exact"  # how a quote was found: exact, loose, fuzzy


@dataclass(slots=True)
class TagResult:
    passage: Passage
    created: list[int] = field(default_factory=list)
    existing: list[int] = field(default_factory=list)


class AmbiguousQuote(QcodeError):
    """A quote found in several places; ``candidates`` lists them."""

    def __init__(self, message: str, candidates: list[str], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.candidates = candidates


def load_transcript(store: Store, transcript_id: str) -> TranscriptRecord:
    with store.read() as conn:
        rec = tq.load(conn, transcript_id)
        if rec is None:
            from qcode.transcripts import not_found_message

            raise NotFoundError(not_found_message(transcript_id, tq.transcript_ids(conn)))
    return rec


def turn_at(rec: TranscriptRecord, offset: int) -> int:
    """The number of the turn that contains (or follows) ``offset``."""
    for turn in rec.turns:
        if offset < turn.end:
            return turn.idx
    return rec.turns[-1].idx if rec.turns else 0


# numbers of at most 9 digits: a longer one names no turn, and int() of thousands of digits
# is refused by Python itself
_UNIT_RE = re.compile(r"^\s*(\d{1,9})(?:\.(\d{1,9})(?:-(\d{1,9}))?|-(\d{1,9}))?\s*$")


def resolve_unit(rec: TranscriptRecord, unit: str) -> Passage:
    """``12``, ``12-14``, ``12.3`` or ``12.3-5`` → the passage it names."""
    m = _UNIT_RE.match(unit)
    if m is None:
        raise UsageError(f"invalid unit {unit!r}",
                         hint="use a turn (12), turns (12-14), a sentence (12.3), sentences "
                              "(12.3-5), --quote or --span")
    first = int(m.group(1))
    turns = {t.idx: t for t in rec.turns}
    if first not in turns:
        raise UsageError(f"{rec.id} has no turn {first} (turns 1 to {len(rec.turns)})")
    if m.group(2) is not None:
        s_first = int(m.group(2))
        s_last = int(m.group(3)) if m.group(3) else s_first
        sentences = {se.idx: se for se in rec.sentences if se.turn_idx == first}
        for n in (s_first, s_last):
            if n not in sentences:
                raise UsageError(f"turn {first} of {rec.id} has no sentence {n} "
                                 f"(sentences 1 to {len(sentences)})")
        if s_last < s_first:
            raise UsageError(f"invalid sentence range {unit!r}: the end comes before the start")
        start, end = sentences[s_first].start, sentences[s_last].end
    else:
        last = int(m.group(4)) if m.group(4) else first
        if last not in turns:
            raise UsageError(f"{rec.id} has no turn {last} (turns 1 to {len(rec.turns)})")
        if last < first:
            raise UsageError(f"invalid turn range {unit!r}: the end comes before the start")
        start, end = turns[first].start, turns[last].end
    return Passage(rec.id, start, end, rec.text[start:end], first)


def resolve_span(rec: TranscriptRecord, span: str) -> Passage:
    m = re.fullmatch(r"\s*(\d{1,12})\s*:\s*(\d{1,12})\s*", span)
    if m is None:
        raise UsageError(f"invalid span {span!r}", hint="use START:END in characters, e.g. "
                                                        "1520:1610")
    start, end = int(m.group(1)), int(m.group(2))
    if not 0 <= start < end <= len(rec.text):
        raise UsageError(f"span {start}:{end} is outside {rec.id} (0:{len(rec.text)}) or empty")
    start, end = _trim(rec.text, start, end)
    if start >= end:
        raise UsageError(f"span {span.strip()} of {rec.id} holds only spaces")
    return Passage(rec.id, start, end, rec.text[start:end], turn_at(rec, start))


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _loose_pattern(quote: str) -> re.Pattern[str]:
    """The quote with any run of spaces, and either apostrophe or quote style, accepted."""
    parts = []
    for token in re.split(r"(\s+|['’`ʼ]|[«»\"“”])", quote.strip()):
        if not token:
            continue
        if token.isspace():
            parts.append(r"\s+")
        elif token in "'’`ʼ":
            parts.append("['’`ʼ]")
        elif token in "«»\"“”":
            parts.append("[«»\"“”]")
        else:
            parts.append(re.escape(token))
    return re.compile("".join(parts), re.IGNORECASE)


def _describe(rec: TranscriptRecord, start: int, end: int) -> str:
    turn = turn_at(rec, start)
    snippet = rec.text[start:end].replace("\n", " ")
    if len(snippet) > 70:
        snippet = snippet[:67] + "…"
    return f"{rec.id} turn {turn} [{start}:{end}]: « {snippet} »"


def resolve_quote(rec: TranscriptRecord, quote: str, occurrence: int | None = None) -> Passage:
    """Find ``quote`` in the transcript: exactly, loosely, then fuzzily."""
    if not quote.strip():
        raise UsageError("empty quote")
    text = rec.text
    found: list[tuple[int, int]] = []
    how = "exact"
    needle = quote.strip()
    pos = text.find(needle)
    while pos != -1:
        found.append((pos, pos + len(needle)))
        pos = text.find(needle, pos + 1)
    if not found:
        how = "loose"
        found = [(m.start(), m.end()) for m in _loose_pattern(needle).finditer(text)]
    if not found:
        how = "fuzzy"
        found = _fuzzy_find(rec, needle)
    if not found:
        raise NotFoundError(f"quote not found in {rec.id}: « {needle[:60]} »",
                            hint="copy the words from 'qcode transcripts show'")
    if occurrence is not None:
        if not 1 <= occurrence <= len(found):
            raise UsageError(f"the quote occurs {len(found)} time(s) in {rec.id}; "
                             f"--occurrence must be 1 to {len(found)}")
        found = [found[occurrence - 1]]
    if len(found) > 1:
        candidates = [_describe(rec, s, e) for s, e in found]
        raise AmbiguousQuote(
            f"the quote occurs {len(found)} times in {rec.id}: " + "; ".join(candidates),
            candidates, hint="add words to the quote, or choose one with --occurrence N")
    start, end = found[0]
    return Passage(rec.id, start, end, text[start:end], turn_at(rec, start), how)


_PUNCT = str.maketrans({ch: " " for ch in ".,;:!?«»\"“”()[]…-–—"} | {"’": "'", "`": "'",
                                                                      "ʼ": "'"})


def _fold_keeping_length(text: str) -> str:
    """Lower case, one apostrophe, punctuation as spaces — offsets unchanged."""
    lowered = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)
    return lowered.translate(_PUNCT)


def _fuzzy_find(rec: TranscriptRecord, quote: str) -> list[tuple[int, int]]:
    """Places whose text matches ``quote`` with a partial ratio ≥ FUZZY_QUOTE_MIN."""
    from rapidfuzz import fuzz

    quote = _fold_keeping_length(quote)
    scored: list[tuple[float, int, int]] = []
    for turn in rec.turns:
        chunk = _fold_keeping_length(rec.text[turn.start:turn.end])
        if len(chunk) < len(quote) * 0.5:
            continue
        aligned = fuzz.partial_ratio_alignment(quote, chunk, score_cutoff=FUZZY_QUOTE_MIN)
        if aligned is not None:
            start, end = _trim(rec.text, turn.start + aligned.dest_start,
                               turn.start + aligned.dest_end)
            scored.append((aligned.score, start, end))
    scored = [(score, s, e) for score, s, e in scored if s < e]  # never an empty passage
    if not scored:
        return []
    best = max(score for score, _, _ in scored)
    return [(s, e) for score, s, e in scored if score >= best - 1.0]


def resolve(store: Store, transcript_id: str, unit: str | None = None, *,
            quote: str | None = None, span: str | None = None,
            occurrence: int | None = None) -> Passage:
    """The passage named by exactly one of ``unit``, ``quote`` or ``span``."""
    given = [x for x in (unit, quote, span) if x is not None]
    if len(given) != 1:
        raise UsageError("name the passage with exactly one of UNIT, --quote or --span")
    rec = load_transcript(store, transcript_id)
    if quote is not None:
        return resolve_quote(rec, quote, occurrence)
    if span is not None:
        return resolve_span(rec, span)
    assert unit is not None
    return resolve_unit(rec, unit)


def _codable(book: Codebook, names: list[str]) -> list[str]:
    if not names:
        raise UsageError("name at least one code")
    ids = []
    for name in names:
        code = book.resolve(name)
        if not code.codable:
            raise UsageError(f"{code.id!r} ({code.label}) is a theme used as a folder; code "
                             "with one of its codes", hint="'qcode codebook show --tree'")
        if code.id not in ids:
            ids.append(code.id)
    return ids


def tag(store: Store, book: Codebook, passage: Passage, codes: list[str], coder: str,
        origin: str = "manual") -> TagResult:
    """Code ``passage`` with ``codes`` (ids, labels or keys): one action, one journal entry."""
    ids = _codable(book, codes)
    result = TagResult(passage)
    with store.write() as conn:
        for code_id in ids:
            coding_id, created = cq.add(
                conn, transcript_id=passage.transcript_id, start=passage.start,
                end=passage.end, code_id=code_id, coder=coder, origin=origin,
                snapshot=passage.text)
            (result.created if created else result.existing).append(coding_id)
        if result.created:
            cq.log(conn, coder, "tag", {"codings": result.created})
    return result


def untag(store: Store, book: Codebook, passage: Passage, codes: list[str], coder: str,
          *, any_coder: bool = False) -> list[dict[str, Any]]:
    """Remove the codings of exactly this passage (with these codes, or all) by this coder."""
    ids = [book.resolve(c).id for c in codes] if codes else None
    with store.write() as conn:
        found = [r for r in cq.query(conn, transcripts=[passage.transcript_id], codes=ids,
                                     coders=None if any_coder else [coder])
                 if r["start"] == passage.start and r["end"] == passage.end]
        rows = [row for r in found if (row := cq.remove(conn, r["id"])) is not None]
        if rows:
            cq.log(conn, coder, "untag", {"rows": rows})
    return rows


def list_codings(store: Store, *, transcripts: list[str] | None = None,
                 codes: list[str] | None = None, coders: list[str] | None = None,
                 origins: list[str] | None = None, flagged: bool | None = None,
                 book: Codebook | None = None) -> list[dict[str, Any]]:
    """Codings with their turn, code label and quote, in transcript order."""
    code_ids = [book.resolve(c).id for c in codes] if codes and book else codes
    with store.read() as conn:
        rows = cq.query(conn, transcripts=transcripts, codes=code_ids, coders=coders,
                        origins=origins, flagged=flagged)
        records = tq.load_many(conn, sorted({r["transcript_id"] for r in rows}))
        out = []
        for r in rows:
            tid = r["transcript_id"]
            rec = records[tid]
            label = book.codes[r["code_id"]].label if book and r["code_id"] in book.codes \
                else ""
            out.append({
                "id": r["id"], "transcript": tid, "turn": turn_at(rec, r["start"]),
                "start": r["start"], "end": r["end"], "code": r["code_id"], "label": label,
                "coder": r["coder"], "origin": r["origin"], "flag": r["flag"],
                "flag_note": r["flag_note"], "quote": rec.text[r["start"]:r["end"]],
                "memo": r["memo"], "created_at": r["created_at"],
            })
    return out


# --- memos ----------------------------------------------------------------------------------

MEMO_TARGETS = ("project", "transcript", "code", "coding")


def add_memo(store: Store, target_type: str, target_id: str, text: str, coder: str,
             book: Codebook | None = None) -> int:
    if target_type not in MEMO_TARGETS:
        raise UsageError(f"a memo is on one of {', '.join(MEMO_TARGETS)}")
    if not text.strip():
        raise UsageError("empty memo")
    with store.write() as conn:
        if target_type == "transcript" and tq.load(conn, target_id) is None:
            from qcode.transcripts import not_found_message

            raise NotFoundError(not_found_message(target_id, tq.transcript_ids(conn)))
        if target_type == "code":
            if book is None:
                raise UsageError("a memo on a code needs the codebook")
            target_id = book.resolve(target_id).id
        if target_type == "coding" and cq.get(conn, int(target_id)) is None:
            raise NotFoundError(f"no coding {target_id}",
                                hint="'qcode codings list' shows their ids")
        memo_id = cq.add_memo(conn, target_type, target_id, coder, text.strip())
        cq.log(conn, coder, "memo", {"memo": memo_id})
    return memo_id


def list_memos(store: Store, target_type: str | None = None,
               target_id: str | None = None) -> list[dict[str, Any]]:
    with store.read() as conn:
        return cq.memos(conn, target_type, target_id)


# --- undo -----------------------------------------------------------------------------------


def undo(store: Store, coder: str) -> str:
    """Revert ``coder``'s last action that is not undone yet; say what was undone."""
    from qcode.store import schema as s

    with store.write() as conn:
        entry = cq.last_action(conn, coder)
        if entry is None:
            raise NotFoundError(f"nothing to undo for coder {coder!r}")
        action, payload = entry["action"], entry["payload"]
        if action == "tag":
            for coding_id in payload["codings"]:
                cq.remove(conn, coding_id)
            message = f"removed {len(payload['codings'])} coding(s)"
        elif action == "untag":
            for row in payload["rows"]:
                cq.restore(conn, row)
            message = f"restored {len(payload['rows'])} coding(s)"
        elif action == "memo":
            cq.remove_memo(conn, payload["memo"])
            message = "removed the memo"
        elif action in ("accept", "reject"):
            for coding_id in payload.get("codings", []):
                cq.remove(conn, coding_id)
            sug = s.suggestions
            conn.execute(sug.update().where(sug.c.id.in_(payload.get("suggestions", [])))
                         .values(status="pending", decided_by=None, decided_at=None,
                                 coding_id=None))
            message = (f"{len(payload.get('suggestions', []))} suggestion(s) back to pending"
                       + (f", {len(payload.get('codings', []))} coding(s) removed"
                          if payload.get("codings") else ""))
        else:
            raise QcodeError(f"cannot undo an action of type {action!r}")
        cq.mark_undone(conn, entry["id"])
    return f"undid {action} of {entry['created_at']}: {message}"
