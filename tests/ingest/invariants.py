"""The invariants every reader's output must satisfy (REFERENCE §1, DESIGN §3)."""

from __future__ import annotations

import unicodedata

from qcode.ingest.model import ParsedTranscript


def assert_transcript_invariants(parsed: ParsedTranscript, fmt: str | None = None) -> None:
    """Normalised text; turns ordered, disjoint, inside the text, speech trimmed and non-empty."""
    text = parsed.text
    assert unicodedata.is_normalized("NFC", text)
    assert "\r" not in text and not text.startswith("\ufeff")
    previous_end = 0
    for turn in parsed.turns:
        assert previous_end <= turn.start < turn.end <= len(text), turn
        speech = text[turn.start : turn.end]
        assert speech == speech.strip() and speech, turn
        assert turn.speaker == turn.speaker.strip(), turn
        if turn.start_ms is not None:
            assert turn.start_ms >= 0, turn
            if turn.end_ms is not None:
                assert turn.start_ms <= turn.end_ms, turn
        previous_end = turn.end
    if fmt is not None:
        assert parsed.format == fmt
