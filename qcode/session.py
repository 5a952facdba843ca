"""The interactive coding session behind ``qcode code``: one line in, what to show out.

A :class:`Session` holds a transcript, the codebook, the coder and the current turn. Its
:meth:`Session.handle` takes one line typed at the prompt and returns a :class:`Reply`: a status,
a one-line message, and the :class:`View` to display (the current turn, or the page of turns
around it, with numbered sentences, codings and memos). There is no terminal I/O here; the
terminal loop, with colours and completion, is :mod:`qcode.cli.session`.

What can be typed at the prompt::

    CODE…              code the current turn with these codes (ids, labels or keys)
    2-3 CODE…          code sentences 2 to 3 of the current turn (2 CODE…: sentence 2)
    12.2-3 CODE…       code sentences 2 to 3 of turn 12 (12.2 CODE…: its sentence 2)
    +CODE…             code, also with a key that is a command word too (+m, +g, +n)
    -CODE…             remove your codings of CODE on the current turn
    untag CODE… [2-3]  remove your coding of CODE on sentences 2 to 3 (or on the turn)
    u, undo            undo your last action (tag, untag, memo…)
    m TEXT, memo TEXT  a memo on your last coding in this turn, else on the transcript
                       (then prefixed with « turn N: »)
    Enter, n           next turn
    p                  previous turn
    g 12               go to turn 12
    /mot               search forward for a word (case and accents ignored), from the next
                       turn, wrapping round; / alone repeats the last search
    ?, h               help
    q                  quit

Words are separated by spaces or commas; a label with spaces (``Le bureau``) can be typed as it
is. A number or range as first (or last) word picks sentences. Single-word commands (``n``,
``p``, ``u``, ``q``, ``h``) win over a code key spelled the same: type ``+n`` to code with it.
When ``m`` or ``g`` is also a code's key, ``m`` or ``g`` alone codes with it, ``g 12`` still
goes to turn 12, and ``m WORDS`` codes when every word is a code — otherwise it is a memo
(``memo TEXT`` is always a memo).

Every action goes through :mod:`qcode.coding` and is its own transaction, committed before the
reply is returned; moving writes the coder's position (table ``positions``) so the next session
resumes there.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from qcode import coding
from qcode.codebook import Code, Codebook
from qcode.errors import NotFoundError, QcodeError, UsageError
from qcode.store import Store
from qcode.store import codings as cq
from qcode.store import positions as pq
from qcode.store.records import SentenceRecord, TranscriptRecord, TurnRecord
from qcode.transcripts import format_ms

HELP = """\
Code the transcript turn by turn; every action is saved at once.
  CODE…              code the current turn (codes by id, label or key; several at once)
  2-3 CODE…          code sentences 2 to 3 of the current turn (2 CODE…: sentence 2)
  12.2-3 CODE…       code sentences 2 to 3 of turn 12
  +CODE…             code, even with a key that is also a command (+m, +g, +n)
  -CODE…             remove your codings of CODE on the current turn
  untag CODE… [2-3]  remove your coding of CODE on sentences 2 to 3 (or on the turn)
  u, undo            undo your last action
  m TEXT, memo TEXT  memo on your last coding in this turn, else on the transcript
  Enter, n           next turn          p       previous turn
  g 12               go to turn 12
  /mot               search forward (case and accents ignored); / alone repeats
  ?, h               this help          q       quit (Ctrl-D too; Ctrl-C also quits)"""

COMMAND_WORDS = ("n", "p", "u", "q", "h", "undo", "quit", "help", "exit", "m", "g", "memo",
                 "untag", "go")

_RANGE_RE = re.compile(r"^\d+(?:-\d+)?$")
_TURN_RANGE_RE = re.compile(r"^\d+\.\d+(?:-\d+)?$")
_LIGATURES = {"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae"}
_APOSTROPHES = "’`ʼ‘"


# --- what is displayed -----------------------------------------------------------------------


@dataclass(slots=True)
class CodingMark:
    """A coding shown on a turn: its code, whose it is, and which sentences it covers."""

    id: int
    code_id: str
    label: str
    color: str | None
    key: str | None
    coder: str
    mine: bool
    origin: str
    start: int
    end: int
    scope: str  # "whole turn", "sentence 2", "sentences 2-3", "part of sentence 2", "turns 2-3"
    sentences: tuple[int, int] | None  # first and last sentence covered; None: the whole turn


@dataclass(slots=True)
class MemoMark:
    """A memo shown on a turn: on one of its codings (``code_id``), or on the transcript."""

    id: int
    coder: str
    mine: bool
    code_id: str | None  # the code of the coding it is on; None: on the transcript
    scope: str  # what the coding covers ("sentence 2"), or "turn" for a transcript memo
    text: str


@dataclass(slots=True)
class TurnView:
    idx: int
    speaker: str
    role: str
    time: str | None
    start: int
    end: int
    text: str
    sentences: list[SentenceRecord]
    codings: list[CodingMark] = field(default_factory=list)
    memos: list[MemoMark] = field(default_factory=list)
    highlights: list[tuple[int, int]] = field(default_factory=list)  # search hits (offsets)
    current: bool = False

    def segments(self) -> list[tuple[int | None, int, int]]:
        """The turn cut at its sentences: (sentence number or None for a gap, start, end)."""
        out: list[tuple[int | None, int, int]] = []
        pos = self.start
        for se in self.sentences:
            if se.start > pos:
                out.append((None, pos, se.start))
            out.append((se.idx, se.start, se.end))
            pos = se.end
        if pos < self.end:
            out.append((None, pos, self.end))
        return out

    def slice(self, start: int, end: int) -> str:
        """The text between two offsets of the transcript, inside this turn."""
        return self.text[start - self.start:end - self.start]


@dataclass(slots=True)
class View:
    transcript_id: str
    coder: str
    turn: int  # the current turn
    turn_count: int
    turns: list[TurnView]  # the current turn, or the page of turns holding it
    context: TurnView | None = None  # the turn before (one-turn view), for what it answers
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def current(self) -> TurnView:
        return next(t for t in self.turns if t.current)


@dataclass(slots=True)
class Reply:
    """The result of one line: ``ok`` or ``error``, a one-line message, the view after it."""

    status: str
    message: str
    turn: int
    view: View
    action: str = ""  # tag, untag, undo, memo, move, search, help, quit, error
    detail: list[str] = field(default_factory=list)  # extra lines (the help screen)
    quit: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def line(self) -> str:
        """The result line for scripts: status, turn and message, separated by tabs."""
        return f"{self.status}\t{self.turn}\t{' '.join(self.message.split())}"


# --- folding for search ------------------------------------------------------------------------


def _fold_char(ch: str) -> str:
    if ch in _APOSTROPHES:
        return "'"
    if ch.isspace():
        return " "
    if ch in _LIGATURES:
        return _LIGATURES[ch]
    decomposed = unicodedata.normalize("NFKD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def fold_with_map(text: str) -> tuple[str, list[int]]:
    """Text without case or accents, and for each of its characters the offset it came from."""
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        folded = _fold_char(ch)
        out.append(folded)
        origin.extend([i] * len(folded))
    return "".join(out), origin


def search_pattern(needle: str) -> re.Pattern[str]:
    """The pattern of a search: folded like the text, any run of spaces matching any other."""
    folded = fold_with_map(needle)[0]
    words = folded.split()
    if not words:
        raise UsageError("empty search", hint="type /word")
    return re.compile(" +".join(re.escape(w) for w in words))


def find_all(pattern: re.Pattern[str], text: str,
             folded: tuple[str, list[int]] | None = None) -> list[tuple[int, int]]:
    """Where ``pattern`` matches the folded ``text`` (``folded``: its fold_with_map, if known),
    as offsets into ``text``."""
    flat, origin = folded or fold_with_map(text)
    return [(origin[m.start()], origin[m.end() - 1] + 1)
            for m in pattern.finditer(flat) if m.end() > m.start()]


# --- the session -------------------------------------------------------------------------------


class Session:
    """A coder working through one transcript. :meth:`handle` takes each line typed."""

    def __init__(self, store: Store, book: Codebook, transcript_id: str, coder: str, *,
                 page_size: int = 1, turn: int | None = None) -> None:
        if page_size < 1:
            raise UsageError("--page must be 1 or more")
        self.store = store
        self.book = book
        self.coder = coder
        self.page_size = page_size
        self.rec: TranscriptRecord = coding.load_transcript(store, transcript_id)
        if not self.rec.turns:
            raise UsageError(f"{self.rec.id} has no turns to code",
                             hint="check the file's speaker labels, then 'qcode ingest --force'")
        self.turns: dict[int, TurnRecord] = {t.idx: t for t in self.rec.turns}
        self.sentences: dict[int, list[SentenceRecord]] = {}
        for se in self.rec.sentences:
            self.sentences.setdefault(se.turn_idx, []).append(se)
        self.last_search: str | None = None
        self._highlight: re.Pattern[str] | None = None
        self._folded: dict[int, tuple[str, list[int]]] = {}  # turn → its text, folded
        with store.read() as conn:
            stored = pq.get(conn, coder, self.rec.id)
        if turn is not None:
            self._check_turn(turn)
            self.current, self.resumed = turn, False
        elif stored is not None:
            self.current, self.resumed = min(max(stored, 1), self.turn_count), True
        else:
            self.current, self.resumed = self.rec.turns[0].idx, False
        self._save_position()

    # --- public ---------------------------------------------------------------------------

    @property
    def transcript_id(self) -> str:
        return self.rec.id

    @property
    def turn_count(self) -> int:
        return len(self.rec.turns)

    def greeting(self) -> str:
        """The first message: which transcript, where, as whom."""
        where = ("resuming where you stopped" if self.resumed else "starting")
        return (f"{self.rec.id}: {where}, turn {self.current} of {self.turn_count}; "
                f"coding as {self.coder}; ? for help")

    def shadowed(self) -> list[tuple[str, Code]]:
        """Command words that are also a code's key, id or label, with that code."""
        out = []
        for word in COMMAND_WORDS:
            code = self._exact(word)
            if code is not None:
                out.append((word, code))
        return out

    def help_lines(self) -> list[str]:
        lines = HELP.splitlines()
        for word, code in self.shadowed():
            if word in ("m", "g"):
                how = (f"'{word}' alone codes with {code.id}"
                       + ("; 'm WORDS' codes when every word is a code, else it is a memo"
                          if word == "m" else "; 'g 12' goes to turn 12"))
            else:
                how = f"type '+{word}' to code with {code.id}"
            lines.append(f"  note: '{word}' is also a command here: {how}")
        return lines

    def handle(self, line: str) -> Reply:
        """Do what one line asks; a user mistake becomes an ``error`` reply, never a raise."""
        detail: list[str] = []
        quit_ = False
        try:
            action, message = self._dispatch(line.strip(), detail)
            status = "ok"
            quit_ = action == "quit"
        except QcodeError as exc:
            action, status, message = "error", "error", _one_line(exc)
        return Reply(status, message, self.current, self.view(), action, detail, quit_)

    def view(self) -> View:
        """The current turn (or page) with its sentences, codings and memos."""
        first = (self.current - 1) // self.page_size * self.page_size + 1
        last = min(first + self.page_size - 1, self.turn_count)
        with self.store.read() as conn:
            rows = cq.query(conn, transcripts=[self.rec.id])
            coding_memos = cq.memos(conn, "coding")
            transcript_memos = cq.memos(conn, "transcript", self.rec.id)
        turns = [self._turn_view(self.turns[i], rows, coding_memos, transcript_memos)
                 for i in range(first, last + 1)]
        for tv in turns:
            tv.current = tv.idx == self.current
        context = None
        if self.page_size == 1 and self.current > 1:
            context = self._turn_view(self.turns[self.current - 1], [], [], [])
        return View(self.rec.id, self.coder, self.current, self.turn_count, turns, context,
                    {k: v for k, (v, _src) in self.rec.attributes.items()})

    # --- dispatch -------------------------------------------------------------------------

    def _dispatch(self, line: str, detail: list[str]) -> tuple[str, str]:
        if line in ("", "n"):
            return "move", self._go(self.current + 1, step=True)
        if line == "p":
            return "move", self._go(self.current - 1, step=True)
        if line in ("?", "h", "help"):
            detail.extend(self.help_lines())
            return "help", "help: CODE…, 2-3 CODE…, -CODE, u, m TEXT, Enter/n, p, g N, /word, q"
        if line in ("q", "quit", "exit"):
            return "quit", f"quit at turn {self.current}; everything you coded is saved"
        if line in ("u", "undo"):
            return "undo", self._undo()
        if line.startswith("/"):
            return "search", self._search(line[1:])
        if line.startswith("+"):
            return "tag", self._tag(line[1:])
        if line.startswith("-"):
            return "untag", self._untag(line[1:])
        word, rest = [*line.split(maxsplit=1), ""][:2]
        if word in ("g", "go", "goto"):
            if re.fullmatch(r"\d+", rest):
                return "move", self._go(int(rest))
            if word != "g" or self._exact("g") is None:
                raise UsageError(f"{word} takes a turn number, e.g. 'g 12'")
        if word == "memo":
            return "memo", self._memo(rest)
        if word == "m":
            if self._exact("m") is None:
                return "memo", self._memo(rest)
            if rest and not self._all_codes(rest):
                return "memo", self._memo(rest)
        if word == "untag":
            return "untag", self._untag(rest)
        return "tag", self._tag(line)

    # --- moves ----------------------------------------------------------------------------

    def _check_turn(self, turn: int) -> None:
        if turn not in self.turns:
            raise UsageError(f"{self.rec.id} has no turn {turn} (turns 1 to {self.turn_count})")

    def _go(self, turn: int, *, step: bool = False) -> str:
        if step and turn > self.turn_count:
            raise UsageError(f"turn {self.current} is the last of {self.rec.id}",
                             hint="q to quit, g 1 to go back to the start")
        if step and turn < 1:
            raise UsageError(f"turn 1 is the first of {self.rec.id}")
        self._check_turn(turn)
        self.current = turn
        self._highlight = None
        self._save_position()
        return self._describe_turn(self.turns[turn])

    def _save_position(self) -> None:
        with self.store.write() as conn:
            pq.put(conn, self.coder, self.rec.id, self.current)

    def _describe_turn(self, turn: TurnRecord, limit: int = 60) -> str:
        parts = [f"turn {turn.idx}/{self.turn_count}", f"{turn.speaker} ({turn.role})"]
        time = format_ms(turn.start_ms)
        if time:
            parts.append(time)
        return " · ".join(parts) + f": « {_snippet(self._text(turn), limit)} »"

    def _text(self, turn: TurnRecord) -> str:
        return self.rec.text[turn.start:turn.end]

    def _find(self, pattern: re.Pattern[str], turn: TurnRecord) -> list[tuple[int, int]]:
        """Search hits in a turn, as offsets into its text."""
        if turn.idx not in self._folded:
            self._folded[turn.idx] = fold_with_map(self._text(turn))
        return find_all(pattern, self._text(turn), self._folded[turn.idx])

    def _search(self, needle: str) -> str:
        if not needle.strip():
            if self.last_search is None:
                raise UsageError("no search to repeat", hint="type /word")
            needle = self.last_search
        pattern = search_pattern(needle)
        self.last_search = needle
        ordered = [t for t in self.rec.turns if t.idx > self.current] + \
                  [t for t in self.rec.turns if t.idx <= self.current]
        for turn in ordered:
            hits = self._find(pattern, turn)
            if hits:
                before = self.current
                if turn.idx != before:
                    self._go(turn.idx)
                self._highlight = pattern
                start = hits[0][0]
                text = self._text(turn)
                around = _snippet(text[max(0, start - 30):], 70)
                if start > 30:
                    around = "…" + around
                note = (" (from the start)" if turn.idx < before else
                        " (only in this turn)" if turn.idx == before else "")
                return f"« {needle.strip()} » in turn {turn.idx}{note}: {around}"
        raise NotFoundError(f"« {needle.strip()} » is not in {self.rec.id}")

    # --- coding ---------------------------------------------------------------------------

    def _exact(self, name: str) -> Code | None:
        """The code named exactly by ``name`` (id, label or key), or None."""
        try:
            return self.book.resolve(name)
        except NotFoundError:
            return None

    def _all_codes(self, text: str) -> bool:
        try:
            rng, codes = self._parse(text)
        except QcodeError:
            return False
        return rng is None and bool(codes)

    def _parse(self, text: str, sign: str = "+") -> tuple[str | None, list[Code]]:
        """``[RANGE] CODE… [RANGE]`` → the range (or None) and the codes (each word may start
        with ``sign``: ``+e +bu``, ``-e -bu``)."""
        tokens = [t.lstrip(sign) for t in re.split(r"[\s,]+", text.strip())]
        tokens = [t for t in tokens if t]
        rng: str | None = None
        if tokens and (_RANGE_RE.match(tokens[0]) or _TURN_RANGE_RE.match(tokens[0])):
            rng = tokens.pop(0)
        elif tokens and (_RANGE_RE.match(tokens[-1]) or _TURN_RANGE_RE.match(tokens[-1])):
            rng = tokens.pop()
        codes: list[Code] = []
        i = 0
        while i < len(tokens):
            for j in range(len(tokens), i, -1):  # the longest run of words naming a code
                code = self._exact(" ".join(tokens[i:j]))
                if code is not None:
                    if code not in codes:
                        codes.append(code)
                    i = j
                    break
            else:
                self.book.resolve(tokens[i])  # raises, with "did you mean"
        return rng, codes

    def _passage(self, rng: str | None) -> coding.Passage:
        if rng is None:
            turn = self.turns[self.current]
            return coding.Passage(self.rec.id, turn.start, turn.end, self._text(turn), turn.idx)
        unit = rng if "." in rng else f"{self.current}.{rng}"
        return coding.resolve_unit(self.rec, unit)

    def _where(self, passage: coding.Passage) -> str:
        turn = self.turns[passage.turn]
        if passage.start == turn.start and passage.end == turn.end:
            return f"turn {turn.idx}"
        return f"{self._scope(turn, passage.start, passage.end)[0]} of turn {turn.idx}"

    def _tag(self, text: str) -> str:
        rng, codes = self._parse(text)
        if not codes:
            hint = f"to go to turn {rng}, type 'g {rng}'" if rng and rng.isdigit() else \
                "e.g. 'entraide' or '2-3 entraide'; ? for help"
            raise UsageError("name at least one code", hint=hint)
        passage = self._passage(rng)
        result = coding.tag(self.store, self.book, passage, [c.id for c in codes], self.coder)
        with self.store.read() as conn:
            new = [r["code_id"] for i in result.created if (r := cq.get(conn, i))]
            old = [r["code_id"] for i in result.existing if (r := cq.get(conn, i))]
        where = self._where(passage)
        if new:
            message = f"tagged {where} with {', '.join(new)}"
            if old:
                message += f"; already there: {', '.join(old)}"
        else:
            message = f"already there: {', '.join(old)} on {where}"
        return message

    def _untag(self, text: str) -> str:
        rng, codes = self._parse(text, "-")
        if not codes:
            raise UsageError("name the code(s) to remove, e.g. '-entraide' or "
                             "'untag entraide 2-3'")
        ids = [c.id for c in codes]
        if rng is not None:
            passage = self._passage(rng)
            rows = coding.untag(self.store, self.book, passage, ids, self.coder)
            where = self._where(passage)
        else:
            turn = self.turns[self.current]
            rows = self._untag_within(turn, ids)
            where = f"turn {turn.idx}"
        if not rows:
            raise NotFoundError(f"no coding of yours with {', '.join(ids)} on {where}",
                                hint=self._yours_here())
        return "removed " + "; ".join(f"{r['code_id']} on {self._place(r)}" for r in rows)

    def _untag_within(self, turn: TurnRecord, ids: list[str]) -> list[dict[str, Any]]:
        """Remove this coder's codings with these codes inside ``turn``: one action, one entry
        in the journal (the same entry as :func:`qcode.coding.untag`, so undo restores them)."""
        with self.store.write() as conn:
            found = [r for r in cq.query(conn, transcripts=[self.rec.id], codes=ids,
                                         coders=[self.coder])
                     if r["start"] >= turn.start and r["end"] <= turn.end]
            rows = [row for r in found if (row := cq.remove(conn, r["id"])) is not None]
            if rows:
                cq.log(conn, self.coder, "untag", {"rows": rows})
        return rows

    def _yours_here(self) -> str:
        turn = self.turns[self.current]
        mine = [m for m in self._marks(turn) if m.mine]
        if not mine:
            return f"you have no codings on turn {turn.idx}"
        return "yours here: " + ", ".join(f"{m.code_id} ({m.scope})" for m in mine)

    def _my_codings(self) -> dict[int, dict[str, Any]]:
        with self.store.read() as conn:
            return {r["id"]: r for r in cq.query(conn, transcripts=[self.rec.id],
                                                 coders=[self.coder])}

    def _undo(self) -> str:
        before = self._my_codings()
        message = coding.undo(self.store, self.coder)
        after = self._my_codings()
        message = re.sub(r"^undid (\S+) of \S+:", r"undid \1:", message)
        changes = [f"-{r['code_id']} on {self._place(r)}" for i, r in before.items()
                   if i not in after]
        changes += [f"+{r['code_id']} on {self._place(r)}" for i, r in after.items()
                    if i not in before]
        if changes:
            message += " (" + "; ".join(changes[:4]) + ("; …" if len(changes) > 4 else "") + ")"
        return message

    def _place(self, row: dict[str, Any]) -> str:
        turn = self.turns[coding.turn_at(self.rec, row["start"])]
        scope = self._scope(turn, row["start"], row["end"])[0]
        return f"turn {turn.idx}" if scope == "whole turn" else f"{scope} of turn {turn.idx}"

    def _memo(self, text: str) -> str:
        if not text.strip():
            raise UsageError("empty memo", hint="type 'm' then the memo, e.g. 'm à relire'")
        turn = self.turns[self.current]
        mine = [r for r in self._my_codings().values()
                if r["start"] >= turn.start and r["end"] <= turn.end]
        if mine:
            last = max(mine, key=lambda r: (r["created_at"], r["id"]))
            coding.add_memo(self.store, "coding", str(last["id"]), text, self.coder)
            return f"memo on your coding {last['code_id']} ({self._place(last)})"
        coding.add_memo(self.store, "transcript", self.rec.id,
                        f"turn {turn.idx}: {text.strip()}", self.coder)
        return f"memo on {self.rec.id} (turn {turn.idx})"

    # --- building the view ----------------------------------------------------------------

    def _scope(self, turn: TurnRecord, start: int, end: int) -> tuple[str, tuple[int, int] | None]:
        if start <= turn.start and end >= turn.end:
            if start < turn.start or end > turn.end:
                first = coding.turn_at(self.rec, start)
                last = coding.turn_at(self.rec, max(start, end - 1))
                return f"turns {first}-{last}", None
            return "whole turn", None
        covered = [se for se in self.sentences.get(turn.idx, [])
                   if se.start < end and se.end > start]
        if not covered:
            return "part of the turn", None
        a, b = covered[0].idx, covered[-1].idx
        label = f"sentence {a}" if a == b else f"sentences {a}-{b}"
        if start != covered[0].start or end != covered[-1].end:
            label = f"part of {label}"
        return label, (a, b)

    def _marks(self, turn: TurnRecord, rows: list[dict[str, Any]] | None = None
               ) -> list[CodingMark]:
        if rows is None:
            with self.store.read() as conn:
                rows = cq.query(conn, transcripts=[self.rec.id])
        order = {cid: i for i, cid in enumerate(self.book.codes)}
        marks = []
        for r in rows:
            if not (r["start"] < turn.end and r["end"] > turn.start):
                continue
            code = self.book.codes.get(r["code_id"])
            scope, sentences = self._scope(turn, r["start"], r["end"])
            marks.append(CodingMark(
                id=r["id"], code_id=r["code_id"], label=code.label if code else r["code_id"],
                color=code.color if code else None, key=code.key if code else None,
                coder=r["coder"],
                mine=r["coder"] == self.coder, origin=r["origin"], start=r["start"],
                end=r["end"], scope=scope, sentences=sentences))
        marks.sort(key=lambda m: (m.start, -m.end, order.get(m.code_id, len(order)),
                                  not m.mine, m.coder, m.id))
        return marks

    def _turn_view(self, turn: TurnRecord, rows: list[dict[str, Any]],
                   coding_memos: list[dict[str, Any]],
                   transcript_memos: list[dict[str, Any]]) -> TurnView:
        marks = self._marks(turn, rows)
        by_id = {str(m.id): m for m in marks}
        memos = [MemoMark(m["id"], m["coder"], m["coder"] == self.coder,
                          by_id[m["target_id"]].code_id, by_id[m["target_id"]].scope, m["text"])
                 for m in coding_memos if m["target_id"] in by_id]
        prefix = f"turn {turn.idx}:"
        memos += [MemoMark(m["id"], m["coder"], m["coder"] == self.coder, None, "turn",
                           m["text"].removeprefix(prefix).strip())
                  for m in transcript_memos if m["text"].startswith(prefix)]
        highlights: list[tuple[int, int]] = []
        if self._highlight is not None and turn.idx == self.current:
            highlights = [(turn.start + a, turn.start + b)
                          for a, b in self._find(self._highlight, turn)]
        return TurnView(turn.idx, turn.speaker, turn.role, format_ms(turn.start_ms), turn.start,
                        turn.end, self._text(turn), list(self.sentences.get(turn.idx, [])),
                        marks, memos, highlights)


def last_transcript(store: Store, coder: str) -> str:
    """The transcript ``coder`` worked on most recently (for ``qcode code`` without one)."""
    with store.read() as conn:
        latest = pq.latest(conn, coder)
    if latest is None:
        raise UsageError(f"name the transcript to code: {coder} has not coded any yet",
                         hint="'qcode transcripts list' shows them")
    return latest[0]


def _snippet(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _one_line(exc: QcodeError) -> str:
    """An error as one line, without the codebook's path (the session knows which it is)."""
    text = exc.message + (f" ({exc.hint})" if exc.hint else "")
    return " ".join(text.split())


def completions(book: Codebook) -> list[list[str]]:
    """Words the prompt completes, in tiers: command words, code ids and keys; then labels."""
    words: list[str] = ["undo", "untag", "memo", "help", "quit"]
    labels: list[str] = []
    for code in book.walk():
        if code.codable:
            words.extend([code.id, *([code.key] if code.key else [])])
            labels.append(code.label)
    return [list(dict.fromkeys(words)), list(dict.fromkeys(labels))]


def complete(tiers: list[list[str]], prefix: str) -> list[str]:
    """The words of the first tier with any that start with ``prefix``, ignoring case and
    accents (a leading + or - is kept): ``decl`` → ``declencheur``, ``le b`` → ``Le bureau``."""
    sign = prefix[:1] if prefix[:1] in "+-" else ""
    wanted = fold_with_map(prefix[len(sign):])[0]
    for words in tiers:
        found = [sign + w for w in words if fold_with_map(w)[0].startswith(wanted)]
        if found:
            return found
    return []
