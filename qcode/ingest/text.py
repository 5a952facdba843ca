"""Plain text, Markdown and word-processor paragraphs: speaker labels at paragraph starts.

The transcript text is the file's own text, normalised; turns point into it. What is recognised
(REFERENCE §1):

- YAML front matter between ``---`` lines (Markdown) → metadata;
- a header block before the first turn (a title line, then ``Key : value`` lines with keys such
  as Date, Lieu, Enquêtrice, Durée) → metadata;
- speaker labels at the start of a line: ``E :``, ``Enquêtrice :``, ``Enq. :``, ``P1:``,
  ``M. D. :``, ``Karim :``, ``Marie (42 ans) :``, bold ``**E :**``, with a space, U+00A0, U+202F
  or nothing before the colon;
- timestamps next to the label: ``[00:12:34] E :``, ``E : (00:12:34)``, ``[12:34]``,
  ``00:12:34.5``, and f4-style ``#00:12:34-5#`` at the end of a paragraph;
- lines without a label continue the current turn.

A label counts as a speaker when it recurs (or is in the project's speaker map), so a
``Remarque :`` inside the talk is not taken for a speaker. Word-processor files without labels use
bold paragraphs as interviewer questions.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from qcode.errors import InputError
from qcode.ingest.encoding import decode_text
from qcode.ingest.model import Paragraph, ParsedTranscript, Turn, normalise_text
from qcode.yamlutil import safe_load

# --- timestamps -----------------------------------------------------------------------------

_TS = r"(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
_TS_RE = re.compile(rf"^(?P<ts>{_TS})$")
_F4_RE = re.compile(r"\s*#(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2})(?:-(?P<f>\d+))?#\s*$")


def parse_timestamp(value: str) -> int:
    """``00:12:34``, ``12:34``, ``1:02:03.5`` or ``12:34,250`` → milliseconds."""
    value = value.strip().replace(",", ".")
    main, _, frac = value.partition(".")
    parts = [int(p) for p in main.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    hours, minutes, seconds = parts
    ms = int((frac + "000")[:3]) if frac else 0
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + ms


# --- labels ---------------------------------------------------------------------------------

_SPACES = " \t\u00a0\u202f\u2007"
_OPEN_TS = rf"(?:\[(?P<ts1>{_TS})\]|\((?P<ts2>{_TS})\)|(?P<ts3>{_TS}))[{_SPACES}]*[-–—]?[{_SPACES}]*"  # noqa: E501
_AFTER_TS = rf"[{_SPACES}]*(?:\[(?P<ts4>{_TS})\]|\((?P<ts5>{_TS})\)|(?P<ts6>{_TS})(?=[{_SPACES}]|$))"  # noqa: E501
_LABEL_RE = re.compile(
    rf"^(?P<lead>[{_SPACES}]*(?:{_OPEN_TS})?(?P<bo>\*\*|__)?[{_SPACES}]*)"
    rf"(?P<label>[^\W\d_](?:[\w.'’\-]|[{_SPACES}](?=[\w(])|\([^()\n:]{{1,30}}\)){{0,62}}?)"
    rf"(?:[{_SPACES}]*(?P<ts7>\[{_TS}\]|\({_TS}\)))?"
    rf"[{_SPACES}]*(?P<bc1>\*\*|__)?[{_SPACES}]*:(?!//)(?P<bc2>\*\*|__)?"
    rf"(?:{_AFTER_TS})?[{_SPACES}]*"
)

# Words that open a remark rather than a turn: never speakers, even if they recur.
_NOT_SPEAKERS = frozenset(
    {
        "remarque", "note", "nb", "n.b.", "ps", "p.s.", "attention", "exemple", "definition",
        "source", "sources", "voir", "cf", "http", "https", "mailto", "resume", "objet",
        "rappel", "conclusion", "introduction", "titre", "chapitre", "partie", "question",
        "reponse", "questions", "theme", "sujet",
    }
)
_MAX_LABEL_WORDS = 6

# --- header block ---------------------------------------------------------------------------

HEADER_KEYS: dict[str, str] = {
    "entretien": "entretien",
    "entretien n°": "entretien",
    "date": "date",
    "date de l'entretien": "date",
    "lieu": "lieu",
    "duree": "duree",
    "heure": "heure",
    "enqueteur": "enqueteur",
    "enquetrice": "enqueteur",
    "enqueteurs": "enqueteur",
    "enquetrices": "enqueteur",
    "interviewer": "enqueteur",
    "intervieweur": "enqueteur",
    "intervieweuse": "enqueteur",
    "personne interviewee": "interviewe",
    "personne enquetee": "interviewe",
    "interviewe": "interviewe",
    "interviewee": "interviewe",
    "interviewe(e)": "interviewe",
    "enquete": "interviewe",
    "enquetee": "interviewe",
    "participant": "interviewe",
    "participante": "interviewe",
    "initiative": "initiative",
    "transcription": "transcription",
    "transcrit par": "transcription",
    "transcriptrice": "transcription",
    "transcripteur": "transcription",
    "projet": "projet",
    "fichier": "fichier",
    "enregistrement": "enregistrement",
    "langue": "langue",
    "title": "title",
    "titre": "title",
}
_HEADER_LINE_RE = re.compile(rf"^(?P<key>[^\W\d_][^:\n]{{0,40}}?)[{_SPACES}]*:[{_SPACES}]*(?P<value>.*)$")  # noqa: E501
_SENTENCE_END_RE = re.compile(r"(?:[a-zà-ÿ]{3,}[.!?…]|[!?…])$")
_MD_DECOR_RE = re.compile(r"^(?:#{1,6}\s+|[-*+]\s+|>\s*)?(?:\*\*|__)?")


def fold(text: str) -> str:
    """Casefold and strip accents: the form used to compare labels and keys."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("’", "'")


@functools.lru_cache(maxsize=4096)
def fold_label(label: str) -> str:
    """A speaker label folded for comparison with the speaker map (``Enq.`` → ``enq``).

    Cached: a transcript repeats a few labels thousands of times."""
    return re.sub(r"\s+", " ", fold(label)).strip(" .")


@dataclass(slots=True)
class _Line:
    start: int  # offset of the line in the text
    end: int  # offset of its end (before "\n")
    bold: bool = False
    heading: bool = False  # a section heading: part of no turn

    def content(self, text: str) -> str:
        return text[self.start : self.end]


@dataclass(slots=True)
class _Label:
    label: str
    speech_start: int  # offset where the speech begins
    time_ms: int | None


def _lines(text: str, start: int = 0) -> list[_Line]:
    out = []
    pos = start
    n = len(text)
    while pos <= n:
        nl = text.find("\n", pos)
        if nl == -1:
            nl = n
        out.append(_Line(pos, nl))
        pos = nl + 1
    return out


def _match_label(text: str, line: _Line) -> _Label | None:
    content = line.content(text)
    m = _LABEL_RE.match(content)
    if m is None:
        return None
    label = m.group("label").strip(_SPACES)
    if not label or len(label) > 63:
        return None
    words = label.replace("(", " ").split()
    if len(words) > _MAX_LABEL_WORDS:
        return None
    if fold_label(label) in _NOT_SPEAKERS:
        return None
    # an opening bold marker must be closed around the label (``**E :**`` or ``**E** :``)
    if m.group("bo") and not (m.group("bc1") or m.group("bc2")):
        return None
    ts = next(
        (m.group(g) for g in ("ts1", "ts2", "ts3", "ts4", "ts5", "ts6") if m.group(g)), None
    )
    if ts is None and m.group("ts7"):
        ts = m.group("ts7")[1:-1]
    speech = line.start + m.end()
    return _Label(label, speech, parse_timestamp(ts) if ts else None)


def _front_matter(text: str, path: Path) -> tuple[dict[str, str], int]:
    """YAML front matter at the very start → (metadata, offset where the body starts)."""
    if not text.startswith("---\n"):
        return {}, 0
    end = re.search(r"^(?:---|\.\.\.)[ \t]*$", text[4:], re.MULTILINE)
    if end is None:
        raise InputError("front matter opened with '---' is never closed", path=path, line=1,
                         hint="add a line '---' after the front matter")
    raw = text[4 : 4 + end.start()]
    try:
        data = safe_load(raw)  # Python tags, alias bombs and deep nesting refused
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise InputError(f"front matter: {problem}", path=path, line=line) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError("front matter must be a mapping of keys to values", path=path, line=2)
    meta = {str(k): "" if v is None else str(v) for k, v in data.items()}
    body = 4 + end.end()
    if body < len(text) and text[body] == "\n":
        body += 1
    return meta, body


def _header_key(text: str, line: _Line) -> tuple[str, str] | None:
    content = _MD_DECOR_RE.sub("", line.content(text), count=1)
    content = content.replace("**", "").replace("__", "")
    m = _HEADER_LINE_RE.match(content.strip())
    if m is None:
        return None
    key = fold_label(m.group("key"))
    if key not in HEADER_KEYS:
        return None
    value = m.group("value").strip(_SPACES)
    if len(value) > 200 or "?" in value:
        return None
    if HEADER_KEYS[key] == "enqueteur" and (
        len(value.split()) > _MAX_LABEL_WORDS + 4 or _SENTENCE_END_RE.search(value)
    ):
        return None
    return HEADER_KEYS[key], value


def _header_block(text: str, lines: list[_Line]) -> tuple[dict[str, str], int]:
    """A title line and ``Key : value`` lines at the top → (metadata, index of the next line)."""
    i = 0
    while i < len(lines) and not lines[i].content(text).strip():
        i += 1
    meta: dict[str, str] = {}
    first = i
    title: str | None = None
    keys = 0
    while i < len(lines):
        content = lines[i].content(text).strip()
        if not content:
            # a blank line ends the header block, except right after a lone title line
            if keys == 0 and title is not None:
                i += 1
                continue
            break
        kv = _header_key(text, lines[i])
        if kv is not None:
            key, value = kv
            meta[key] = f"{meta[key]}; {value}" if key in meta else value
            keys += 1
        elif i == first and len(content) <= 160 and _match_label(text, lines[i]) is None:
            title = _MD_DECOR_RE.sub("", content, count=1).replace("**", "").strip()
        else:
            break
        i += 1
    if keys == 0:
        return {}, first
    if title:
        meta["title"] = title
    return meta, i


@dataclass(slots=True)
class _Block:
    label: _Label | None
    lines: list[_Line]
    bold: bool


def segment_lines(
    text: str,
    lines: list[_Line],
    path: Path,
    format: str,
    metadata: dict[str, str],
    known_labels: Collection[str] = (),
) -> ParsedTranscript:
    """Find the speaker turns among ``lines`` (the body, after any front matter and header)."""
    known = {fold_label(k) for k in known_labels}
    candidates = [_match_label(text, ln) if ln.content(text).strip() else None for ln in lines]
    counts = Counter(fold_label(c.label) for c in candidates if c is not None)
    speakers = {lab for lab, n in counts.items() if n >= 2 or lab in known}
    warnings: list[str] = []

    blocks: list[_Block] = []
    current: _Block | None = None
    for ln, cand in zip(lines, candidates, strict=True):
        if not ln.content(text).strip():
            continue
        if ln.heading:
            current = None
            continue
        if cand is not None and fold_label(cand.label) in speakers:
            current = _Block(cand, [ln], ln.bold)
            blocks.append(current)
        elif current is None or (not speakers and current.bold != ln.bold):
            current = _Block(None, [ln], ln.bold)
            blocks.append(current)
        else:
            current.lines.append(ln)

    turns: list[Turn] = []
    if speakers:
        for block in blocks:
            if block.label is None:
                # text between the header and the first labelled turn
                warnings.append(
                    f"line {_line_no(text, block.lines[0].start)}: text before the first "
                    "speaker label kept as a turn without speaker"
                )
            _add_turn(text, block, turns, block.label.label if block.label else "")
    elif any(ln.bold for ln in lines) and not all(
        ln.bold for ln in lines if ln.content(text).strip()
    ):
        for block in blocks:
            _add_turn(text, block, turns, "Interviewer" if block.bold else "Participant")
    else:
        raise InputError(
            "no speaker labels found at the start of paragraphs",
            path=path,
            hint="start each turn with a label such as 'E :' or 'Karim :'; the README lists "
                 "the conventions qcode reads",
        )
    if not turns:
        raise InputError("no speech found after the speaker labels", path=path)
    for turn in turns:
        if turn.start_ms is not None and turn.end_ms is not None and turn.end_ms < turn.start_ms:
            warnings.append(f"line {_line_no(text, turn.start)}: the end time at the end of the "
                            "paragraph comes before the time next to its label; left out")
            turn.end_ms = None
    return ParsedTranscript(text, turns, format, metadata, warnings)


def _line_no(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _add_turn(text: str, block: _Block, turns: list[Turn], speaker: str) -> None:
    start = block.label.speech_start if block.label else block.lines[0].start
    end = block.lines[-1].end
    end_ms: int | None = None
    f4 = _F4_RE.search(text, start, end)
    if f4 is not None:
        end_ms = parse_timestamp(f"{f4['h']}:{f4['m']}:{f4['s']}.{(f4['f'] or '0')[:1]}00")
        end = f4.start()
    # trim spaces and dangling bold markers around the speech
    while start < end and text[start].isspace():  # \v, \f and U+2028 too, like str.strip()
        start += 1
    while end > start and (text[end - 1].isspace()):
        end -= 1
    if start >= end:
        return
    start_ms = block.label.time_ms if block.label else None
    turns.append(Turn(speaker, start, end, start_ms, end_ms))


def segment_text(
    text: str, path: Path, format: str, known_labels: Collection[str] = ()
) -> ParsedTranscript:
    """Segment an already normalised plain-text or Markdown transcript."""
    front, body = _front_matter(text, path)
    lines = _lines(text, body)
    header, first = _header_block(text, lines)
    parsed = segment_lines(text, lines[first:], path, format, header, known_labels)
    parsed.attributes = front
    return parsed


def segment_paragraphs(
    paragraphs: Iterable[Paragraph],
    path: Path,
    format: str,
    known_labels: Collection[str] = (),
) -> ParsedTranscript:
    """Join word-processor paragraphs with ``\\n`` and segment them like text.

    Bold paragraphs become interviewer questions when the document has no speaker labels;
    headings (after the header block) belong to no turn.
    """
    parts: list[str] = []
    flags: list[tuple[bool, bool]] = []
    for para in paragraphs:
        chunk = normalise_text(para.text)
        parts.append(chunk)
        flags.extend([(para.bold and not para.heading, para.heading)] * (chunk.count("\n") + 1))
    text = "\n".join(parts)
    if not text.strip():
        raise InputError("document has no text", path=path)
    text += "\n"
    lines = _lines(text)
    for ln, (bold, heading) in zip(lines, flags, strict=False):
        ln.bold, ln.heading = bold, heading
    header, first = _header_block(text, lines)
    return segment_lines(text, lines[first:], path, format, header, known_labels)


def read_text(data: bytes, path: Path, known_labels: Collection[str] = ()) -> ParsedTranscript:
    """Read a ``.txt`` or ``.md`` transcript (an Otter.ai export is recognised and read as such)."""
    text = normalise_text(decode_text(data, path))
    fmt = "md" if path.suffix.lower() in {".md", ".markdown"} else "txt"
    if fmt == "txt":
        from qcode.ingest import otter

        if otter.looks_like_otter(text):
            return otter.parse_otter(text, path)
    return segment_text(text, path, fmt, known_labels)


def timestamp_pattern() -> re.Pattern[str]:
    """The timestamp forms recognised next to labels (for other readers and tests)."""
    return _TS_RE
