"""Caption files: WebVTT (``.vtt``) and SubRip (``.srt``) from Zoom, Teams, Whisper, noScribe.

A small parser of our own rather than a library: webvtt-py reports malformed files without a
line number (and skips bad cues silently unless strict), srt gives character offsets but neither
checks that a cue ends after it starts, and both leave the speaker conventions to us. The parser
keeps the line of every cue so that each error names it.

Speakers, in order of precedence within a cue:

- voice tags ``<v Name>text</v>`` (Teams; noScribe uses ``S00``, ``S01``…), several per cue;
- WhisperX labels ``[SPEAKER_00]: text``;
- Zoom labels ``Display Name: words``, only when the file is written that way: a label must be a
  short name (≤ 5 words, ≤ 40 characters, no sentence punctuation), some name must recur and
  labelled cues must be at least half of the cues — so a ``Note: …`` inside a Whisper caption is
  not a speaker.

A cue without a speaker belongs to the unnamed speaker ``""``. Consecutive cues of one speaker are
merged into one turn (first start, last end, texts joined by a space); for the unnamed speaker a
new turn starts at a pause of 2 s or more, or once the turn lasts 60 s and a cue ends a sentence,
so that times stay useful. Inline tags (``<c>``, ``<i>``, ``<b>``, ``<lang en>``, karaoke
timestamps ``<00:00:01.000>``) are removed, their words kept; WebVTT character references are
decoded. The text is built with :class:`~qcode.ingest.model.TextBuilder`.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from qcode.errors import InputError
from qcode.ingest.encoding import decode_text
from qcode.ingest.limits import MAX_TIME_MS
from qcode.ingest.model import ParsedTranscript, TextBuilder, excerpt, normalise_text

PAUSE_MS = 2_000  # an unnamed speaker's turn ends at a pause this long
LONG_TURN_MS = 60_000  # … or once it lasts this long and a cue ends a sentence

_TS = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})[.,](\d{1,3})"
_TIMING_RE = re.compile(rf"^\s*(?P<a>{_TS})\s*-->\s*(?P<b>{_TS})(?:[ \t]+(?P<settings>.*))?\s*$")
_TS_RE = re.compile(rf"^{_TS}$")
_VOICE_RE = re.compile(r"<v(?:\.[^\s>]*)?(?:[ \t]+(?P<name>[^>]*))?>", re.IGNORECASE)
_TAG_RE = re.compile(r"</?(?:[A-Za-z][^<>]*)?>|<\d[\d:.]*>")
_ASS_RE = re.compile(r"\{\\[^{}]*\}")  # SRT files from subtitle editors: {\an8}, {\i1}
_BRACKET_LABEL_RE = re.compile(r"^\s*\[(?P<name>[^\[\]\n]{1,40})\]\s*:\s*")
_ZOOM_LABEL_RE = re.compile(r"^\s*(?P<name>[^\s:<>\[\]][^:<>\[\]\n]{0,39}?)\s*:(?:\s+|$)")
_SENTENCE_PUNCT = re.compile(r"[?!;,…\"«»“”()]")
_SENTENCE_END_RE = re.compile(r"[.!?…][\"'’”»)\]]*$")
_ABBREV_RE = re.compile(r"^(?:[A-ZÀ-Ý][a-zà-ÿ]{0,2}\.-?)+$")  # M. Dr. Mme. J.-P. → allowed dots
_HEADER_META_RE = re.compile(r"^([A-Za-z][\w -]{0,30}?)\s*:\s*(\S.*)$")
_LOOKS_TIMED_RE = re.compile(r"\d:\d\d")
_BLANK_RE = re.compile(r"^[ \t]*$")


@dataclass(slots=True)
class _Cue:
    line: int  # line of the timing line
    start_ms: int
    end_ms: int
    payload: list[str]


@dataclass(slots=True)
class _Segment:
    speaker: str
    text: str
    start_ms: int
    end_ms: int


# --- low-level parsing ------------------------------------------------------------------------


def _decode(data: bytes, path: Path) -> list[str]:
    text = normalise_text(decode_text(data, path))
    return text.split("\n")


def _timestamp(raw: str, path: Path, line: int) -> int:
    """``01:02:03.500``, ``02:03.500`` or ``00:02:03,500`` (SRT) → milliseconds."""
    m = _TS_RE.match(raw)
    if m is None:  # pragma: no cover - the timing regex only passes well-formed stamps
        raise InputError(f"bad timestamp {excerpt(raw)}", path=path, line=line)
    hours, minutes, seconds, frac = m.groups()
    if int(minutes) > 59 or int(seconds) > 59:
        raise InputError(f"bad timestamp {excerpt(raw)}: minutes and seconds must be below 60",
                         path=path, line=line)
    ms = int(frac.ljust(3, "0"))
    if hours is not None and len(hours.lstrip("0")) > 3:  # before int(): it may be huge
        ms = MAX_TIME_MS + 1
    else:
        ms += ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000
    if ms > MAX_TIME_MS:
        raise InputError(f"timestamp {excerpt(raw)} is beyond {MAX_TIME_MS // 3_600_000} hours: "
                         "not a time in a recording", path=path, line=line)
    return ms


def _timing(content: str, path: Path, line: int, *, vtt: bool) -> tuple[int, int]:
    m = _TIMING_RE.match(content)
    if m is None:
        example = "00:00:01.000 --> 00:00:04.000" if vtt else "00:00:01,000 --> 00:00:04,000"
        raise InputError(f"bad cue timing line {excerpt(content)}", path=path, line=line,
                         hint=f"expected a line like '{example}'")
    start = _timestamp(m.group("a"), path, line)
    end = _timestamp(m.group("b"), path, line)
    if end < start:
        raise InputError(f"cue ends before it starts ({m.group('b')} < {m.group('a')})",
                         path=path, line=line)
    return start, end


def _blocks(lines: list[str], first: int) -> Iterator[tuple[int, list[str]]]:
    """Blocks of non-blank lines from ``lines[first:]``, with the 1-based line of each block."""
    block: list[str] = []
    block_line = 0
    for index in range(first, len(lines)):
        content = lines[index]
        if _BLANK_RE.match(content):
            if block:
                yield block_line, block
                block = []
            continue
        if not block:
            block_line = index + 1
        block.append(content)
    if block:
        yield block_line, block


def _split_cues(block_line: int, block: list[str]) -> list[tuple[int, list[str]]]:
    """Split a block where a timing line follows cue text without a blank line in between."""
    out: list[tuple[int, list[str]]] = []
    current: list[str] = []
    current_line = block_line
    for offset, content in enumerate(block):
        timing_here = "-->" in content and _TIMING_RE.match(content) is not None
        # a timing line may be the first line, or the second after an identifier
        if timing_here and current and not (len(current) == 1 and "-->" not in current[0]):
            # a cue number just above the timing line belongs to the new cue
            carry = current.pop() if len(current) > 2 and current[-1].strip().isdigit() else None
            out.append((current_line, current))
            current = []
            if carry is not None:
                current_line = block_line + offset - 1
                current.append(carry)
        if not current:
            current_line = block_line + offset
        current.append(content)
    if current:
        out.append((current_line, current))
    return out


def _cue_from_block(
    block_line: int, block: list[str], path: Path, *, vtt: bool, last_line: int
) -> _Cue:
    if "-->" in block[0]:
        timing_index = 0
    elif len(block) > 1 and "-->" in block[1]:
        timing_index = 1  # a cue identifier (VTT) or a cue number (SRT) comes first
    elif len(block) == 1 and not vtt and block[0].strip().isdigit() and (
        block_line == last_line
    ):
        raise InputError(f"truncated cue {block[0].strip()[:12]}: the file ends after its number",
                         path=path, line=block_line)
    else:
        # point at the line that tried to be a timing line, else at the cue's second line
        tries = [i for i, content in enumerate(block[:2]) if _LOOKS_TIMED_RE.search(content)]
        at = tries[0] if tries else min(1, len(block) - 1)
        line, found = block_line + at, block[at]
        raise InputError(f"expected a cue timing line 'start --> end', found {excerpt(found)}",
                         path=path, line=line,
                         hint="every cue needs a timing line; a blank line inside a cue's text "
                         "splits it in two")
    if not vtt and timing_index == 1 and not block[0].strip().isdigit():
        raise InputError(f"bad cue number {excerpt(block[0])}", path=path, line=block_line,
                         hint="an SRT cue starts with its number, then its timing line")
    timing_line = block_line + timing_index
    start, end = _timing(block[timing_index], path, timing_line, vtt=vtt)
    payload = block[timing_index + 1 :]
    if not payload and timing_line == last_line:
        raise InputError("truncated cue: the file ends after its timing line", path=path,
                         line=timing_line)
    return _Cue(timing_line, start, end, payload)


def _last_content_line(lines: list[str]) -> int:
    for index in range(len(lines) - 1, -1, -1):
        if not _BLANK_RE.match(lines[index]):
            return index + 1
    return 0


def _parse_vtt(lines: list[str], path: Path) -> tuple[list[_Cue], dict[str, str]]:
    first = lines[0] if lines else ""
    if not re.match(r"^WEBVTT(?:[ \t]|$)", first):
        raise InputError("missing WEBVTT header: a WebVTT file starts with the line 'WEBVTT'",
                         path=path, line=1, hint="is it an SRT file? rename it to .srt")
    metadata: dict[str, str] = {}
    title = first[6:].strip(" \t-")
    if title:
        metadata["title"] = title
    # The header runs to the first blank line; a timing line ends it early (lenient).
    index = 1
    while index < len(lines) and not _BLANK_RE.match(lines[index]):
        if "-->" in lines[index]:
            break
        m = _HEADER_META_RE.match(lines[index])  # Kind: captions, Language: fr
        if m is not None:
            metadata[m.group(1).lower()] = m.group(2).strip()
        index += 1
    last_line = _last_content_line(lines)
    cues: list[_Cue] = []
    for block_line, block in _blocks(lines, index):
        head = block[0]
        if re.match(r"^NOTE(?:[ \t]|$)", head):
            continue
        if re.match(r"^(?:STYLE|REGION)[ \t]*$", head) and not any("-->" in b for b in block):
            continue
        for cue_line, cue_block in _split_cues(block_line, block):
            cues.append(_cue_from_block(cue_line, cue_block, path, vtt=True,
                                        last_line=last_line))
    if not cues:
        raise InputError(f"no cues: the file ends at line {max(last_line, 1)} without any "
                         "'start --> end' timing line", path=path, line=max(last_line, 1))
    return cues, metadata


def _parse_srt(lines: list[str], path: Path) -> list[_Cue]:
    if lines and lines[0].startswith("WEBVTT"):
        raise InputError("this is a WebVTT file, not SRT", path=path, line=1,
                         hint="rename it to .vtt")
    last_line = _last_content_line(lines)
    cues: list[_Cue] = []
    for block_line, block in _blocks(lines, 0):
        for cue_line, cue_block in _split_cues(block_line, block):
            cues.append(_cue_from_block(cue_line, cue_block, path, vtt=False,
                                        last_line=last_line))
    if not cues:
        raise InputError(f"no cues: the file ends at line {max(last_line, 1)} without any "
                         "'start --> end' timing line", path=path, line=max(last_line, 1))
    return cues


# --- cue text and speakers --------------------------------------------------------------------


def _clean(text: str, *, vtt: bool) -> str:
    """Remove inline tags (keeping their words) and collapse the cue's lines into one."""
    text = _TAG_RE.sub("", text)
    text = html.unescape(text) if vtt else _ASS_RE.sub("", text)
    return " ".join(text.split())


def is_short_name(name: str) -> bool:
    """A plausible display name: ≤ 5 words, ≤ 40 characters, no sentence punctuation."""
    name = name.strip()
    if not name or len(name) > 40 or not (name[0].isalnum() or name[0] == "_"):
        return False
    words = name.split()
    if len(words) > 5 or _SENTENCE_PUNCT.search(name):
        return False
    # a dot is allowed only in abbreviations and initials (M. Dupont, Dr. Li, J.-P. Roux)
    return all("." not in w or _ABBREV_RE.match(w) for w in words)


def _zoom_label(text: str) -> tuple[str, str] | None:
    m = _ZOOM_LABEL_RE.match(text)
    if m is None or not is_short_name(m.group("name")):
        return None
    return m.group("name").strip(), text[m.end() :]


def _bracket_label(text: str) -> tuple[str, str] | None:
    m = _BRACKET_LABEL_RE.match(text)
    if m is None or not is_short_name(m.group("name")):
        return None
    return m.group("name").strip(), text[m.end() :]


def _voice_segments(raw: str) -> list[tuple[str | None, str]]:
    """Split a cue payload at its voice tags: (voice name or None, raw text) pieces."""
    pieces: list[tuple[str | None, str]] = []
    pos = 0
    voice: str | None = None
    for m in _VOICE_RE.finditer(raw):
        pieces.append((voice, raw[pos : m.start()]))
        voice = " ".join((m.group("name") or "").split()) or None
        pos = m.end()
    pieces.append((voice, raw[pos:]))
    return [(v, t) for v, t in pieces if t.strip() or v is not None]


def _segments(cues: list[_Cue], *, vtt: bool) -> list[_Segment]:
    # First pass: voice tags and explicit labels, Zoom candidates counted across the file.
    pieces: list[tuple[_Cue, str | None, str, bool]] = []  # cue, speaker, text, from voice tag
    for cue in cues:
        raw = "\n".join(cue.payload)
        for voice, chunk in _voice_segments(raw):
            pieces.append((cue, voice, chunk, voice is not None))
    zoom_names: Counter[str] = Counter()
    plain = 0
    for _cue, voice, chunk, _tagged in pieces:
        if voice is not None:
            continue
        cleaned = _clean(chunk, vtt=vtt)
        if not cleaned:
            continue
        plain += 1
        if _bracket_label(cleaned) is None:
            label = _zoom_label(cleaned)
            if label is not None:
                zoom_names[label[0]] += 1
    zoom = (
        bool(zoom_names)
        and zoom_names.most_common(1)[0][1] >= 2
        and 2 * sum(zoom_names.values()) >= plain
    )
    out: list[_Segment] = []
    for cue, voice, chunk, _tagged in pieces:
        text = _clean(chunk, vtt=vtt)
        speaker = voice or ""
        if voice is None and text:
            label = _bracket_label(text) or (_zoom_label(text) if zoom else None)
            if label is not None:
                speaker, text = label[0], label[1].strip()
        if text:
            out.append(_Segment(speaker, text, cue.start_ms, cue.end_ms))
    return out


def _build(segments: list[_Segment], fmt: str, path: Path,
           metadata: dict[str, str]) -> ParsedTranscript:
    if not segments:
        raise InputError("the cues hold no text", path=path,
                         hint="the file has timing lines but every cue is empty")
    builder = TextBuilder()
    speaker = segments[0].speaker
    texts: list[str] = []
    start_ms = end_ms = 0

    def flush() -> None:
        builder.add_turn(speaker, " ".join(texts), start_ms, end_ms)

    for seg in segments:
        new_turn = not texts or seg.speaker != speaker
        if texts and not new_turn and speaker == "":
            ends_sentence = _SENTENCE_END_RE.search(texts[-1]) is not None
            new_turn = seg.start_ms - end_ms >= PAUSE_MS or (
                end_ms - start_ms >= LONG_TURN_MS and ends_sentence
            )
        if new_turn:
            if texts:
                flush()
            speaker, texts, start_ms, end_ms = seg.speaker, [], seg.start_ms, seg.end_ms
        texts.append(seg.text)
        end_ms = max(end_ms, seg.end_ms)
    flush()
    if not builder.turns:  # pragma: no cover - segments all had text
        raise InputError("the cues hold no text", path=path)
    return builder.build(fmt, metadata)


def read_vtt(data: bytes, path: Path) -> ParsedTranscript:
    """Read a WebVTT file: one turn per run of cues of one speaker, times in ms."""
    lines = _decode(data, path)
    cues, metadata = _parse_vtt(lines, path)
    return _build(_segments(cues, vtt=True), "vtt", path, metadata)


def read_srt(data: bytes, path: Path) -> ParsedTranscript:
    """Read a SubRip file: one turn per run of cues of one speaker, times in ms."""
    lines = _decode(data, path)
    cues = _parse_srt(lines, path)
    return _build(_segments(cues, vtt=False), "srt", path, {})
