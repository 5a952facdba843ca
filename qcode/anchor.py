"""Re-anchoring: keep codings and suggestions on their passage when a transcript is corrected.

When a changed file is re-ingested, every span on the old text is mapped to the new text
(DESIGN §5):

1. through a diff of the old and new texts: a span whose text is untouched moves with it
   (``moved``, or ``unchanged`` when its offsets stay the same); a span edited inside (a typo
   fixed) is kept on the edited text when it is still at least 85 % similar;
2. otherwise by searching its quote snapshot: exactly, nearest to where the diff puts it — a
   quote found several times with nothing to choose between them is ``ambiguous``;
3. otherwise fuzzily (rapidfuzz) in a window around that place.

What cannot be placed is kept, flagged ``unplaced`` (its offsets clamped to the new text) and
listed by ``qcode codings list --flagged``; nothing is dropped.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select, update

from qcode.store import schema as s

SIMILAR_EDIT = 85.0  # % similarity for a span edited inside to stay on its place
FUZZY_MIN = 85.0  # % partial ratio for a fuzzy search to place a quote
WINDOW = 3000  # characters around the expected place searched fuzzily


@dataclass(slots=True)
class Placement:
    start: int
    end: int
    flag: str = ""  # '' | ambiguous | unplaced
    how: str = "unchanged"  # unchanged | moved | edited | found | fuzzy | ambiguous | unplaced
    note: str = ""


@dataclass(slots=True)
class AnchorReport:
    counts: Counter[str] = field(default_factory=Counter)
    flagged: list[str] = field(default_factory=list)  # one line per flagged coding

    def summary(self) -> str:
        parts = [f"{self.counts[k]} {k}" for k in ("unchanged", "moved", "edited", "found",
                                                    "fuzzy", "ambiguous", "unplaced")
                 if self.counts[k]]
        return ", ".join(parts)


_TOKEN_RE = re.compile(r"\w+|\s+|[^\w\s]")
_LINE_RE = re.compile(r"[^\n]*\n|[^\n]+$")


def _spans(text: str, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text) if m.end() > m.start()]


class OffsetMap:
    """Maps offsets of an old text to a new one through their diff.

    The diff runs on lines first (transcripts are paragraphs, mostly unchanged), then on
    tokens (words, spaces, punctuation) inside the lines that changed: fast on a long interview
    even with many corrections. Equal runs of lines or tokens are equal runs of characters.
    """

    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new
        self.blocks: list[tuple[int, int, int]] = []  # (old start, new start, length)
        a = _spans(old, _LINE_RE)
        b = _spans(new, _LINE_RE)
        lines = difflib.SequenceMatcher(None, [old[i:j] for i, j in a],
                                        [new[i:j] for i, j in b], autojunk=False)
        for tag, i1, i2, j1, j2 in lines.get_opcodes():
            if tag == "equal":
                self._add(a[i1][0], b[j1][0], a[i2 - 1][1] - a[i1][0])
            elif tag == "replace":
                lo_a, hi_a = a[i1][0], a[i2 - 1][1]
                lo_b, hi_b = b[j1][0], b[j2 - 1][1]
                ta = _spans(old[lo_a:hi_a], _TOKEN_RE)
                tb = _spans(new[lo_b:hi_b], _TOKEN_RE)
                tokens = difflib.SequenceMatcher(
                    None, [old[lo_a + i:lo_a + j] for i, j in ta],
                    [new[lo_b + i:lo_b + j] for i, j in tb], autojunk=False)
                for blk in tokens.get_matching_blocks():
                    if blk.size:
                        start = ta[blk.a][0]
                        self._add(lo_a + start, lo_b + tb[blk.b][0],
                                  ta[blk.a + blk.size - 1][1] - start)
        self.starts = [blk[0] for blk in self.blocks]

    def _add(self, a: int, b: int, size: int) -> None:
        if size > 0:
            self.blocks.append((a, b, size))

    def exact(self, offset: int) -> int | None:
        """Where the character at ``offset`` went, if it is unchanged."""
        i = bisect.bisect_right(self.starts, offset) - 1
        if i >= 0:
            a, b, size = self.blocks[i]
            if a <= offset < a + size:
                return b + offset - a
        return None

    def approx(self, offset: int) -> int:
        """The nearest place in the new text for ``offset`` (always defined)."""
        i = bisect.bisect_right(self.starts, offset) - 1
        if i < 0:
            return 0
        a, b, size = self.blocks[i]
        return min(b + min(offset - a, size), len(self.new))


def place(mapping: OffsetMap, start: int, end: int, snapshot: str) -> Placement:
    """Where the span ``[start, end)`` of the old text (quoting ``snapshot``) is now."""
    from rapidfuzz import fuzz

    old, new = mapping.old, mapping.new
    quote = snapshot or old[start:end]
    a, b = mapping.exact(start), mapping.exact(end - 1)
    if a is not None and b is not None and b >= a:
        if new[a:b + 1] == quote:
            return Placement(a, b + 1, how="unchanged" if (a, b + 1) == (start, end)
                             else "moved")
        if fuzz.ratio(new[a:b + 1], quote) >= SIMILAR_EDIT:
            return Placement(a, b + 1, how="edited",
                             note=f"text corrected: « {_short(quote)} » → "
                                  f"« {_short(new[a:b + 1])} »")
    expected = mapping.approx(start)
    hits = []
    pos = new.find(quote)
    while pos != -1 and quote:
        hits.append(pos)
        pos = new.find(quote, pos + 1)
    if len(hits) == 1:
        return Placement(hits[0], hits[0] + len(quote), how="found")
    if len(hits) > 1:
        hits.sort(key=lambda h: abs(h - expected))
        best, second = hits[0], hits[1]
        if abs(best - expected) * 4 < abs(second - expected):  # clearly the nearest
            return Placement(best, best + len(quote), how="found")
        where = ", ".join(str(h) for h in sorted(hits)[:6])
        return Placement(best, best + len(quote), "ambiguous", "ambiguous",
                         f"« {_short(quote)} » occurs {len(hits)} times near its old place "
                         f"(at {where}); kept on the nearest")
    lo = max(0, expected - WINDOW)
    hi = min(len(new), expected + len(quote) + WINDOW)
    if quote.strip() and hi > lo:
        aligned = fuzz.partial_ratio_alignment(quote, new[lo:hi], score_cutoff=FUZZY_MIN)
        if aligned is not None:
            s_, e_ = lo + aligned.dest_start, lo + aligned.dest_end
            found = _short(new[s_:e_])
            return Placement(s_, e_, how="fuzzy",
                             note=f"found fuzzily ({aligned.score:.0f} %): « {found} »")
    s_ = min(expected, max(len(new) - 1, 0))
    e_ = min(max(s_ + 1, s_ + (end - start)), len(new))
    return Placement(s_, e_, "unplaced", "unplaced",
                     f"« {_short(quote)} » (was at {start}:{end}) is no longer in the text")


def _short(text: str, width: int = 50) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def reanchor(conn: Connection, transcript_id: str, old: str, new: str,
             version: int) -> AnchorReport:
    """Move the transcript's codings and suggestions from ``old`` to ``new`` text."""
    report = AnchorReport()
    mapping: OffsetMap | None = None
    for table, label in ((s.codings, "coding"), (s.suggestions, "suggestion")):
        rows = conn.execute(select(table.c.id, table.c.start, table.c.end, table.c.snapshot,
                                   table.c.flag, table.c.flag_note)
                            .where(table.c.transcript_id == transcript_id)).all()
        if not rows:
            continue
        if mapping is None:
            mapping = OffsetMap(old, new)
        for r in rows:
            p = place(mapping, r.start, r.end, r.snapshot)
            if label == "coding":
                report.counts[p.how] += 1
            values: dict[str, Any] = {"start": p.start, "end": p.end}
            if p.flag != "unplaced":  # the quote as it now reads, for the next correction
                values["snapshot"] = new[p.start:p.end]
            if p.flag:
                values.update(flag=p.flag, flag_note=f"version {version}: {p.note}")
                if label == "coding":
                    report.flagged.append(f"{transcript_id} {label} {r.id}: {p.flag}: {p.note}")
            elif p.how in ("edited", "fuzzy") or r.flag:
                values.update(flag="", flag_note=f"version {version}: {p.note}" if p.note
                              else "")
            conn.execute(update(table).where(table.c.id == r.id).values(**values))
    return report
