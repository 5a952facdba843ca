"""Decode the bytes of a text file: UTF-8 (with or without BOM), UTF-16/32, or legacy 8-bit.

Byte-order marks are honoured first; then strict UTF-8 (and UTF-16 without a BOM); then
``charset-normalizer`` chooses among the legacy Western encodings transcripts are saved in
(cp1252, ISO-8859-15, latin-1, Mac Roman, cp850), and only when one of them gives plausible text.
A file that looks binary, or whose encoding cannot be determined, is refused with an
:class:`InputError` rather than read as garbage.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from qcode.errors import InputError

BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Legacy encodings of Western European text, in order of preference when several fit.
_PREFERRED = ("cp1252", "iso8859_15", "latin_1", "mac_roman", "cp850")


_CONTROLS_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def _control_ratio(text: str) -> float:
    """The share of control characters (other than tab and line ends): a sign of binary."""
    if not text:
        return 0.0
    return len(_CONTROLS_RE.findall(text)) / len(text)


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 without a BOM shows up as a NUL in every other byte of ASCII-heavy text."""
    if len(data) < 4 or len(data) % 2:
        return None
    even_nuls = data[0::2].count(0)
    odd_nuls = data[1::2].count(0)
    half = len(data) // 2
    if odd_nuls > 0.4 * half and even_nuls < 0.05 * half:
        encoding = "utf-16-le"
    elif even_nuls > 0.4 * half and odd_nuls < 0.05 * half:
        encoding = "utf-16-be"
    else:
        return None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def detect_encoding(data: bytes) -> str | None:
    """The name of the encoding of ``data``, or None if it cannot be told."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return encoding
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    if _utf16_without_bom(data) is not None:
        even_nuls = data[0::2].count(0)
        return "utf-16-be" if even_nuls > data[1::2].count(0) else "utf-16-le"
    if b"\x00" in data:
        return None
    from charset_normalizer import from_bytes  # imported here: only legacy files need it

    matches = from_bytes(data, cp_isolation=list(_PREFERRED), preemptive_behaviour=False)
    names = [m.encoding for m in matches]
    for preferred in _PREFERRED:
        if preferred in names:
            return preferred
    return None


def decode_text(data: bytes, path: str | Path) -> str:
    """Decode ``data`` read from ``path``; raise :class:`InputError` when it is not text."""
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise InputError("empty file: nothing to ingest", path=path)
    encoding = detect_encoding(data)
    if encoding is None:
        if b"\x00" in data:
            raise InputError("binary file, not text (it contains NUL bytes)", path=path,
                             hint="export the transcript as .txt, .docx or .odt")
        raise InputError("unknown text encoding", path=path,
                         hint="save the file as UTF-8")
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise InputError(f"cannot decode as {encoding}: {exc}", path=path,
                         hint="save the file as UTF-8") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if _control_ratio(text) > 0.01:
        raise InputError(f"unknown text encoding (read as {encoding}, it has control characters)",
                         path=path, hint="save the file as UTF-8")
    if not text.strip():
        raise InputError("empty file: nothing to ingest", path=path)
    return text
