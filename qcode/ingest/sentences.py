"""Sentence spans inside a turn, computed at ingest without loading a language model.

A sentence ends at ``.``, ``!``, ``?`` or ``…`` (with any closing quotes or brackets, and a
transcription mark such as ``[rires]`` that follows it) followed by a space and a capital, a
digit or an opening quote; or at a line break. Common French
abbreviations (``M.``, ``Mme``, ``cf.``, ``etc.`` before a lower-case word) and initials
(``M. D.``) do not end a sentence. Sentences are the finest unit a coder picks by number.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    {
        "m", "mm", "mme", "mmes", "mlle", "mlles", "dr", "pr", "me", "st", "ste", "av", "bd",
        "cf", "p", "pp", "vol", "n", "no", "env", "ex", "fig", "tel", "vs", "mr", "mrs", "ms",
        "jr", "sr", "prof", "etc", "art", "chap", "min", "h", "apr", "av. j.-c", "j.-c",
    }
)
_CLOSE = r"(?:[ \u00a0\u202f]?[»”\"')\]])*"
_MARK = r"(?:[ \u00a0\u202f]+[\[(][^\])\n]{1,30}[\])])"  # [rires], (silence) after the end
_BOUNDARY_RE = re.compile(
    rf"[.!?…]+{_CLOSE}{_MARK}+(?=[ \t\u00a0\u202f]+[«“\"(\[—–\-]?[ \u00a0\u202f]*[A-ZÀ-ÖØ-Þ0-9])"
    rf"|[.!?…]+{_CLOSE}(?=[ \t\u00a0\u202f]+[«“\"(\[—–\-]?[ \u00a0\u202f]*[A-ZÀ-ÖØ-Þ0-9])"
    rf"|[!?]+{_CLOSE}(?=[ \t\u00a0\u202f]+\S)"
    r"|\n+"
)
_WORD_BEFORE_RE = re.compile(r"([^\W\d_]+)\.$")


def _is_abbreviation(text: str, dot: int, start: int) -> bool:
    """Is the ``.`` at ``dot`` the end of an abbreviation or an initial?"""
    m = _WORD_BEFORE_RE.search(text, max(start, dot - 12), dot + 1)
    if m is None:
        return False
    word = m.group(1)
    if len(word) == 1 and word.isupper():  # an initial: « M. D. »
        return True
    return word.casefold() in _ABBREVIATIONS


def split_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The sentence spans of ``text[start:end]``, trimmed of surrounding whitespace."""
    spans: list[tuple[int, int]] = []
    pos = start
    for m in _BOUNDARY_RE.finditer(text, start, end):
        punct = m.group(0).rstrip(" \u00a0\u202f»”\"')]")
        if punct == "." and _is_abbreviation(text, m.start(), pos):
            continue
        _append(text, spans, pos, m.end())
        pos = m.end()
    _append(text, spans, pos, end)
    return spans


def _append(text: str, spans: list[tuple[int, int]], start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))
