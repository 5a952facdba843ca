"""Otter.ai text exports (``.txt``): a header line ``Speaker Name  0:00`` above each turn.

Otter writes every turn as a header — the speaker's name, two spaces, the time as ``M:SS`` or
``H:MM:SS`` — then the speech on the following lines, then a blank line; the export may end with
``Transcribed by https://otter.ai``. The text reader calls :func:`looks_like_otter` on the decoded,
normalised text and, when it fires, :func:`parse_otter`: the transcript text is the file's own
text and the turns point into it (the header is the label, the body lines are the speech).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from qcode.errors import InputError
from qcode.ingest.model import ParsedTranscript, Turn

# Name (no colon: ``E : 0:12`` is an ordinary label), two spaces or a tab, then the time.
_HEADER_RE = re.compile(
    r"^(?P<name>[^\s:][^:\n]{0,62}?)(?: {2,}|\t)(?P<time>(?:\d{1,2}:)?\d{1,2}:\d{2})[ \t]*$"
)
_FOOTER_RE = re.compile(r"^\s*Transcribed by\s+\S*otter\.ai\S*\s*$", re.IGNORECASE)
MIN_HEADERS = 2


@dataclass(slots=True)
class _Header:
    index: int  # line index
    name: str
    time_ms: int


def _time_ms(value: str) -> int | None:
    parts = [int(p) for p in value.split(":")]
    if any(p > 59 for p in parts[1:]):
        return None
    while len(parts) < 3:
        parts.insert(0, 0)
    hours, minutes, seconds = parts
    return ((hours * 60 + minutes) * 60 + seconds) * 1000


def _header(line: str, index: int) -> _Header | None:
    m = _HEADER_RE.match(line)
    if m is None:
        return None
    time_ms = _time_ms(m.group("time"))
    if time_ms is None:
        return None
    return _Header(index, m.group("name").strip(), time_ms)


def _headers(lines: list[str]) -> list[_Header]:
    """Header lines that stand at the start of a block and have a body line below them."""
    out: list[_Header] = []
    for index, line in enumerate(lines):
        if index > 0 and lines[index - 1].strip():
            continue
        header = _header(line, index)
        if header is None:
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if following.strip() and _header(following, index + 1) is None:
            out.append(header)
    return out


def looks_like_otter(text: str) -> bool:
    """True when ``text`` is an Otter.ai export: several ``Name  0:00`` headers, in time order,
    opening at least half of the blank-line-separated blocks."""
    lines = text.split("\n")
    headers = _headers(lines)
    if len(headers) < MIN_HEADERS:
        return False
    times = [h.time_ms for h in headers]
    if any(b < a for a, b in itertools.pairwise(times)):
        return False
    blocks = sum(
        1 for i, line in enumerate(lines) if line.strip() and (i == 0 or not lines[i - 1].strip())
    )
    return 2 * len(headers) >= blocks


def parse_otter(text: str, path: Path) -> ParsedTranscript:
    """Turns of an Otter.ai export; ``text`` must already be decoded and normalised."""
    lines = text.split("\n")
    headers = _headers(lines)
    if not headers:
        raise InputError("no Otter.ai speaker header ('Name  0:00') found", path=path,
                         hint="an Otter.ai export has a line 'Speaker Name  0:00' above each turn")
    offsets: list[int] = []  # offset of each line's start
    pos = 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1

    metadata: dict[str, str] = {}
    warnings: list[str] = []
    preamble = "\n".join(lines[: headers[0].index]).strip()
    if preamble:
        metadata["header"] = preamble

    turns: list[Turn] = []
    for number, header in enumerate(headers):
        stop = headers[number + 1].index if number + 1 < len(headers) else len(lines)
        body = list(range(header.index + 1, stop))
        # the export's footer is not speech
        content = [i for i in body if lines[i].strip()]
        if content and number + 1 == len(headers) and _FOOTER_RE.match(lines[content[-1]]):
            metadata["transcribed_by"] = lines[content[-1]].strip()
            content.pop()
        if not content:
            warnings.append(f"line {header.index + 1}: turn of {header.name} has no text")
            continue
        first, last = content[0], content[-1]
        start = offsets[first] + (len(lines[first]) - len(lines[first].lstrip()))
        end = offsets[last] + len(lines[last].rstrip())
        turns.append(Turn(header.name, start, end, header.time_ms, None))
        if turns[:-1] and (turns[-2].start_ms or 0) > header.time_ms:
            warnings.append(f"line {header.index + 1}: time {lines[header.index].split()[-1]} "
                            "is earlier than the previous turn's")
    if not turns:
        raise InputError("the Otter.ai export has speaker headers but no speech", path=path,
                         line=headers[0].index + 1)
    return ParsedTranscript(text, turns, "otter", metadata, warnings)
