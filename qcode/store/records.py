"""Plain records exchanged between the store and the rest of qcode."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class TurnRecord:
    idx: int  # 1-based
    speaker: str
    role: str
    start: int
    end: int
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass(slots=True)
class SentenceRecord:
    turn_idx: int
    idx: int  # 1-based within the turn
    start: int
    end: int


@dataclass(slots=True)
class TranscriptRecord:
    id: str
    source_path: str
    format: str
    file_hash: str
    text_hash: str
    reader_version: int
    text: str
    words: int
    metadata: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    attributes: dict[str, tuple[str, str]] = field(default_factory=dict)  # name → (value, source)
    turns: list[TurnRecord] = field(default_factory=list)
    sentences: list[SentenceRecord] = field(default_factory=list)
    version: int = 1


@dataclass(slots=True)
class Fingerprint:
    """What decides whether a file needs re-reading, or its attributes and roles updating."""

    source_path: str
    file_hash: str
    text_hash: str
    reader_version: int
    version: int
    roles_key: str = ""
    attributes: dict[str, tuple[str, str]] = field(default_factory=dict)
