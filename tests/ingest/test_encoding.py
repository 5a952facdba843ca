"""Text decoding: BOMs, UTF-8, UTF-16, legacy encodings, and what is refused."""

from __future__ import annotations

import pytest

from qcode.errors import InputError
from qcode.ingest.encoding import decode_text, detect_encoding

SAMPLE = "Enquêtrice : l’été dernier, on a ouvert la cour. Œuvre commune, « ça » marche.\n" * 3


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),
        ("utf-16-le", "utf-16-le"),
        ("utf-16-be", "utf-16-be"),
        ("cp1252", "cp1252"),
    ],
)
def test_encodings_round_trip(encoding: str, expected: str) -> None:
    data = SAMPLE.encode(encoding)
    assert detect_encoding(data) == expected
    assert decode_text(data, "f.txt") == SAMPLE


def test_latin1_without_cp1252_only_characters() -> None:
    text = "Enquêteur : vous êtes arrivée à Paris en quelle année ? Là-bas, c'était.\n" * 3
    assert decode_text(text.encode("latin-1"), "f.txt") == text


@pytest.mark.parametrize("data", [b"", b"   \r\n\n", b"\xef\xbb\xbf", b"\xff\xfe"])
def test_empty_files_are_refused(data: bytes) -> None:
    with pytest.raises(InputError, match=r"^f\.txt: empty file"):
        decode_text(data, "f.txt")


def test_binary_file_is_refused() -> None:
    data = bytes(range(256)) * 20
    with pytest.raises(InputError, match=r"^f\.txt: binary file, not text"):
        decode_text(data, "f.txt")


def test_png_named_txt_is_refused() -> None:
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)
    with pytest.raises(InputError, match=r"f\.txt: binary file"):
        decode_text(data, "f.txt")


@pytest.mark.parametrize(
    "data",
    [
        # EBCDIC: no Western 8-bit encoding reads it as plausible text
        "Enquêtrice : bonjour, ça va ? Été.\n".encode("cp500") * 5,
        # UTF-8 and latin-1 mixed in one file
        "é".encode() * 10 + "é".encode("latin-1") * 10 + b"abc" * 30,
    ],
)
def test_unknown_encoding_is_refused(data: bytes) -> None:
    with pytest.raises(InputError, match=r"^f\.txt: unknown text encoding \(save the file as"):
        decode_text(data, "f.txt")
