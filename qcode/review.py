"""Reviewing keyword suggestions one by one, like ``git add -p``.

A :class:`Reviewer` walks the pending suggestions (filtered by code, transcript, score) in
transcript order. For each it gives the passage in its turn with the trigger words marked, and
takes one decision:

- ``y`` accept — a coding of the suggested passage;
- ``n`` reject — it never comes back for the same text;
- ``s`` shrink — accept only the sentence that holds the first trigger word;
- ``w`` widen — accept the whole turn;
- ``k`` (or Enter) skip — leave it pending;
- ``u`` undo the last decision; ``?`` help; ``q`` quit.

Each decision is its own transaction with a journal entry (``qcode undo`` reverts it too). The
class does no terminal I/O, so it is driven the same way by the terminal, by piped input and by
tests. Scripts decide in bulk with :func:`qcode.suggest.accept_suggestions` and
:func:`qcode.suggest.reject_suggestions` (``qcode review --accept|--reject``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qcode import coding
from qcode.store import Store
from qcode.store import codings as cq
from qcode.store import suggestions as sq
from qcode.store import transcripts as tq
from qcode.store.records import TranscriptRecord
from qcode.suggest import accept_suggestions, list_suggestions, reject_suggestions

HELP = ("y accept · n reject · s shrink to the sentence · w widen to the turn · "
        "k or Enter skip · u undo · q quit · ? help")


@dataclass(slots=True)
class Item:
    """A suggestion as shown: its turn, the passage and where the trigger words are."""

    suggestion: dict[str, Any]
    turn: int
    speaker: str
    turn_start: int
    turn_text: str
    passage: tuple[int, int]  # offsets of the suggested passage within turn_text
    triggers: list[tuple[int, int]]  # offsets of trigger words within turn_text


class Reviewer:
    def __init__(self, store: Store, coder: str, *, codes: Sequence[str] | None = None,
                 transcripts: Sequence[str] | None = None, min_score: float = 0.0) -> None:
        self.store = store
        self.coder = coder
        self.queue = list_suggestions(store, statuses=["pending"], codes=codes,
                                      transcripts=transcripts, min_score=min_score)
        self.position = 0
        self.decided = {"accepted": 0, "rejected": 0, "skipped": 0}
        self.history: list[tuple[int, str]] = []  # (position, status) of each decision
        self._records: dict[str, TranscriptRecord] = {}

    @property
    def remaining(self) -> int:
        return len(self.queue) - self.position

    def _record(self, tid: str) -> TranscriptRecord:
        if tid not in self._records:
            with self.store.read() as conn:
                rec = tq.load(conn, tid)
            assert rec is not None
            self._records[tid] = rec
        return self._records[tid]

    def current(self) -> Item | None:
        if self.position >= len(self.queue):
            return None
        sug = self.queue[self.position]
        rec = self._record(sug["transcript"])
        turn = next((t for t in rec.turns if t.start <= sug["start"] < t.end), None)
        if turn is None:  # a suggestion spanning turns: show the whole span
            start, end, idx, speaker = sug["start"], sug["end"], sug["turn"] or 0, ""
        else:
            start, end, idx, speaker = turn.start, max(turn.end, sug["end"]), turn.idx, \
                turn.speaker
        triggers = [(t["start"] - start, t["end"] - start) for t in sug["triggers"]
                    if start <= t["start"] < t["end"] <= end]
        return Item(sug, idx, speaker, start, rec.text[start:end],
                    (sug["start"] - start, sug["end"] - start), triggers)

    def act(self, key: str) -> str:
        """Apply one decision key to the current suggestion; return a line saying what happened."""
        key = key.strip().lower()
        item = self.current()
        if key in {"?", "h", "help"}:
            return HELP
        if key == "u":
            return self.undo()
        if item is None:
            return "no more suggestions"
        sug = item.suggestion
        if key in {"", "k"}:
            self.position += 1
            self.decided["skipped"] += 1
            return f"skipped suggestion {sug['id']}"
        if key == "y":
            n = accept_suggestions(self.store, ids=[sug["id"]], coder=self.coder)
            return self._done(n, "accepted", sug)
        if key == "n":
            n = reject_suggestions(self.store, ids=[sug["id"]], coder=self.coder)
            return self._done(n, "rejected", sug)
        if key in {"s", "w"}:
            start, end = self._resized(item, key)
            self._accept_span(sug, start, end)
            self.history.append((self.position, "accepted"))
            self.position += 1
            self.decided["accepted"] += 1
            what = "the sentence" if key == "s" else "the turn"
            return f"accepted {sug['code']} on {what} [{start}:{end}]"
        return f"unknown key {key!r}: {HELP}"

    def _done(self, n: int, status: str, sug: dict[str, Any]) -> str:
        if n:
            self.history.append((self.position, status))
        self.position += 1
        if n == 0:
            return (f"suggestion {sug['id']} could not be {status}: the transcript changed "
                    "since; run 'qcode suggest' again")
        self.decided[status] += 1
        return f"{status} {sug['code']} for {sug['transcript']} turn {sug['turn']}"

    def _resized(self, item: Item, key: str) -> tuple[int, int]:
        rec = self._record(item.suggestion["transcript"])
        if key == "w":
            turn = next(t for t in rec.turns if t.idx == item.turn)
            return turn.start, turn.end
        anchor = (item.turn_start + item.triggers[0][0] if item.triggers
                  else item.suggestion["start"])
        for se in rec.sentences:
            if se.turn_idx == item.turn and se.start <= anchor < se.end:
                return se.start, se.end
        return item.suggestion["start"], item.suggestion["end"]

    def _accept_span(self, sug: dict[str, Any], start: int, end: int) -> None:
        rec = self._record(sug["transcript"])
        with self.store.write() as conn:
            coding_id, created = cq.add(
                conn, transcript_id=rec.id, start=start, end=end, code_id=sug["code"],
                coder=self.coder, origin="keyword", snapshot=rec.text[start:end])
            sq.decide(conn, sug["id"], status="accepted", decided_by=self.coder,
                      decided_at=sq.now(), coding_id=coding_id)
            cq.log(conn, self.coder, "accept", {"suggestions": [sug["id"]],
                                                "codings": [coding_id] if created else [],
                                                "linked": [coding_id]})

    def undo(self) -> str:
        """Undo the coder's last action; the review goes back to that suggestion."""
        message = coding.undo(self.store, self.coder)
        if self.history:
            position, status = self.history.pop()
            self.decided[status] -= 1
            self.position = position
            by_id = {r["id"]: r for r in list_suggestions(self.store, statuses=None)}
            sug = self.queue[position]
            if sug["id"] in by_id:
                self.queue[position] = by_id[sug["id"]]
        return message


def review_all(store: Store, coder: str, *, accept: bool, codes: Sequence[str] | None = None,
               transcripts: Sequence[str] | None = None, min_score: float = 0.0) -> int:
    """Accept or reject every pending suggestion that the filters select (for scripts)."""
    if accept:
        return accept_suggestions(store, codes=codes, transcripts=transcripts,
                                  min_score=min_score, coder=coder)
    return reject_suggestions(store, codes=codes, transcripts=transcripts,
                              min_score=min_score, coder=coder)
