"""What every reader produces: one normalised text and the turns that point into it.

Offsets are code points (Python ``str`` indices) into :attr:`ParsedTranscript.text`, which is
Unicode NFC with ``\\n`` line ends and no BOM. A turn's speech is ``text[turn.start:turn.end]``;
its speaker label (``"Enquêtrice"``, ``"SPEAKER_00"``) is kept as written, and roles are resolved
later from the project's speaker map.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field


@dataclass(slots=True)
class Turn:
    """One speaker turn: ``[start, end)`` in the transcript text, times in milliseconds."""

    speaker: str
    start: int
    end: int
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass(slots=True)
class Paragraph:
    """A paragraph of a word-processor document, with the signals a reader can use."""

    text: str
    bold: bool = False  # the whole paragraph is bold (an unlabelled interviewer question)
    heading: bool = False


@dataclass(slots=True)
class ParsedTranscript:
    """The result of reading one file."""

    text: str
    turns: list[Turn]
    format: str
    metadata: dict[str, str] = field(default_factory=dict)  # header block, file properties
    warnings: list[str] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)  # YAML front matter


def excerpt(text: str, width: int = 40) -> str:
    """``text`` quoted for a one-line message, cut in the middle when long (a hostile file's
    "timing line" may be 50 MB long)."""
    text = " ".join(text.split())
    if len(text) > width:
        text = f"{text[: width - 15]}…{text[-14:]}"
    return repr(text)


def normalise_text(text: str) -> str:
    """NFC, ``\\n`` line ends, no BOM: the form every offset in qcode refers to."""
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text)


class TextBuilder:
    """Build a transcript text from turns that a reader decoded (captions, XML, CSV).

    Each turn becomes a paragraph ``Label: speech`` (or just ``speech`` without a speaker);
    paragraphs are separated by a blank line. The turn's span covers the speech only.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.turns: list[Turn] = []

    def _append(self, piece: str) -> None:
        self._parts.append(piece)
        self._length += len(piece)

    def add_turn(
        self,
        speaker: str,
        speech: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> None:
        speech = normalise_text(speech).strip()
        speaker = normalise_text(speaker).strip()
        if not speech:
            return
        if self._parts:
            self._append("\n\n")
        if speaker:
            self._append(f"{speaker}: ")
        start = self._length
        self._append(speech)
        self.turns.append(Turn(speaker, start, self._length, start_ms, end_ms))

    def build(
        self,
        format: str,
        metadata: dict[str, str] | None = None,
        warnings: list[str] | None = None,
    ) -> ParsedTranscript:
        text = "".join(self._parts) + ("\n" if self._parts else "")
        return ParsedTranscript(text, self.turns, format, dict(metadata or {}),
                                list(warnings or []))
