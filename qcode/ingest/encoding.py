"""Decode the bytes of a text file: UTF-8 (with or without BOM), UTF-16/32, or legacy 8-bit.

Byte-order marks are honoured first; then UTF-16 without a BOM (a NUL in every other byte) and
strict UTF-8; then ``charset-normalizer`` chooses among the legacy Western encodings transcripts
are saved in (cp1252, ISO-8859-15, latin-1, Mac Roman, cp850), and only when one of them gives
plausible text. A file that looks binary, UTF-8 with a few invalid bytes (damaged, or cut in the
middle of a character: the message gives the first one's line and column), or whose encoding
cannot be determined, is refused with an :class:`InputError` rather than read as garbage.
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
    if b"\x00" in data and _utf16_without_bom(data) is not None:
        # ASCII text in UTF-16 is valid UTF-8 too (NUL is a character): test UTF-16 first
        even_nuls = data[0::2].count(0)
        return "utf-16-be" if even_nuls > data[1::2].count(0) else "utf-16-le"
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


_UTF8_MULTIBYTE_RE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}")


def _refuse_damaged_utf8(data: bytes, path: str | Path) -> None:
    """Refuse UTF-8 text with a few invalid bytes (a damaged or cut file) rather than read it
    in a legacy encoding, which would turn every accent into two wrong characters for good.

    A legacy (cp1252, latin-1) file has an invalid byte at most of its accents and almost no
    valid UTF-8 sequence; a damaged UTF-8 file has more valid sequences than invalid bytes.
    """
    valid = len(_UTF8_MULTIBYTE_RE.findall(data))
    if valid == 0:
        return
    text = data.decode("utf-8", errors="surrogateescape")
    invalid = [i for i, ch in enumerate(text) if "\udc80" <= ch <= "\udcff"]
    if not invalid or valid <= len(invalid):
        return
    first = invalid[0]
    line = text.count("\n", 0, first) + 1
    column = first - (text.rfind("\n", 0, first) + 1) + 1
    byte = ord(text[first]) - 0xDC00
    where = "at the end of the file (cut in the middle of a character?)" \
        if first >= len(text) - 3 and all(i >= len(text) - 3 for i in invalid) \
        else f"at line {line}, column {column}"
    raise InputError("unknown text encoding", path=path,
                     hint=f"save the file as UTF-8: it is UTF-8 except for "
                          f"{len(invalid)} invalid byte(s), the first (0x{byte:02X}) {where}")


def decode_text(data: bytes, path: str | Path) -> str:
    """Decode ``data`` read from ``path``; raise :class:`InputError` when it is not text."""
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise InputError("empty file: nothing to ingest", path=path)
    encoding = detect_encoding(data)
    if encoding is None or encoding in _PREFERRED:
        _refuse_damaged_utf8(data, path)
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
        if "\x00" in text:
            raise InputError("binary file, not text (it contains NUL bytes)", path=path,
                             hint="export the transcript as .txt, .docx or .odt")
        raise InputError(f"unknown text encoding (read as {encoding}, it has control characters)",
                         path=path, hint="save the file as UTF-8")
    nul = text.find("\x00")
    if nul != -1:  # a few NULs in text: a damaged file (and no database keeps NUL in text)
        line = text.count("\n", 0, nul) + 1
        raise InputError("NUL byte in the text: the file is damaged", path=path, line=line,
                         column=nul - (text.rfind("\n", 0, nul) + 1) + 1,
                         hint="remove the NUL characters, or export the transcript again")
    if not text.strip():
        raise InputError("empty file: nothing to ingest", path=path)
    return text
