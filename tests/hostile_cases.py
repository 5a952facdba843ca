"""Hostile and broken inputs for every reader, and how qcode must answer each (issue 7, item 1).

One table, shared by ``tests/test_hostile.py`` (which asserts every row) and
``bench/hostile_table.py`` (which prints it as Markdown): each :class:`Case` writes one input into
a copy of a small project whose store already holds a transcript, names the ``qcode`` command
that reads it, and says what qcode must answer — the exit code and a fragment of the one
``error:`` line (for the few inputs that are legitimate, such as UTF-16 without a BOM, the input
is read: exit 0, no error, and the fragment is found in what qcode says).

:func:`run_case` runs the real command in a subprocess and records what a user would see, plus
two checks a user would not: whether the store's rows changed and whether any file of the
project (other than the store) changed — a refused input must leave both exactly as they were.

The inputs are built here, by code, rather than kept as binary fixtures: each is a recipe that
says what it is (a 20 MB run of zeros in a .docx, a cue timing line cut in the middle…).
"""

from __future__ import annotations

import hashlib
import io
import random
import re
import shutil
import sqlite3
import struct
import subprocess
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REFI_FIXTURES = REPO / "tests" / "fixtures" / "refi"
STUDY_CODEBOOK = REPO / "codebooks" / "voisinage-resilience.yaml"

Runner = Callable[..., subprocess.CompletedProcess[str]]

GOOD_TRANSCRIPT = (
    "E : Bonjour, vous habitez le quartier depuis longtemps ?\n"
    "Karim : Depuis vingt ans. On s'entraide beaucoup ici, surtout depuis le confinement.\n"
    "E : Et l'association ?\n"
    "Karim : Elle organise la fête de la cour chaque été.\n"
)
MB = 1024 * 1024
TIMEOUT_S = 120  # a command still running after this is a hang
CB_NS = "urn:QDA-XML:codebook:1.0"


@dataclass(frozen=True, slots=True)
class Input:
    """What a case wrote: the command that reads it, and the file the error must name."""

    args: list[str]
    culprit: str  # a file name the error line must contain


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    reader: str  # txt, md, docx, odt, vtt, srt, trs, csv, sheet, qdc, qcode.yaml, codebook
    input: str  # what the input is, for the table
    make: Callable[[Path], Input]  # writes the input into the project folder
    exit_code: int
    message: str  # a fragment of the error line (of stderr when accepted)
    accepted: bool = False  # a legitimate input, read without error
    slow: bool = False  # takes more than a few seconds
    error_lines: int = 1  # a validation error lists its problem, then sums them up


@dataclass(slots=True)
class Outcome:
    exit_code: int
    stderr: str
    errors: list[str]  # the "error: …" lines
    store_same: bool
    files_same: bool
    seconds: float
    culprit: str

    def answer(self, case: Case) -> str:
        """What qcode answered, in one line: the error, or what it said about the input."""
        if self.errors:
            return " / ".join(e.removeprefix("error: ") for e in self.errors)
        lines = [ln for ln in self.stderr.splitlines() if ln.strip()]
        said = [ln for ln in lines if case.message in ln]
        return (said or lines or [""])[0]


# --- building inputs --------------------------------------------------------------------------


def _write(project: Path, rel: str, data: bytes | str) -> Path:
    path = project / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def _ingest(project: Path, name: str, data: bytes | str) -> Input:
    """A transcript dropped in the transcripts folder, read by a plain ``qcode ingest``."""
    _write(project, f"transcripts/{name}", data)
    return Input(["ingest"], name)


def _set_limits(project: Path, **limits: int) -> Path:
    """Set ``limits:`` in the project's qcode.yaml; returns the project folder."""
    config = project / "qcode.yaml"
    text = config.read_text("utf-8")
    block = "limits:\n" + "".join(f"  {k}: {v}\n" for k, v in limits.items())
    text = re.sub(r"(?ms)^limits:\n(?:  .*\n)*", block, text)
    config.write_text(text, "utf-8")
    return project


def _zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data,
                             compress_type=method)
    return out.getvalue()


def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def _docx() -> bytes:
    import docx

    document = docx.Document()
    for line in GOOD_TRANSCRIPT.splitlines():
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _docx_with(replace: dict[str, bytes] | None = None,
               extra: list[tuple[str, bytes]] | None = None) -> bytes:
    members = [(n, (replace or {}).get(n, d)) for n, d in _members(_docx())]
    return _zip(members + list(extra or []))


_ODT_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
           'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')


def _odt(content: bytes | None = None, extra: list[tuple[str, bytes]] | None = None) -> bytes:
    paragraphs = "".join(f"<text:p>{line}</text:p>" for line in GOOD_TRANSCRIPT.splitlines())
    if content is None:
        content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODT_NS}>'
                   f"<office:body><office:text>{paragraphs}</office:text></office:body>"
                   "</office:document-content>").encode()
    manifest = (b'<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
                b'"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>')
    return _zip([("mimetype", b"application/vnd.oasis.opendocument.text"),
                 ("META-INF/manifest.xml", manifest), ("content.xml", content),
                 *(extra or [])])


def _billion_laughs(root: str) -> str:
    """A DTD whose entity &lol9; expands to 10⁹ « lol »."""
    lines = ['<!ENTITY lol "lol">']
    for i in range(1, 10):
        previous = f"&lol{i - 1};" if i > 1 else "&lol;"
        lines.append(f'<!ENTITY lol{i} "{previous * 10}">')
    return f"<!DOCTYPE {root} [\n" + "\n".join(lines) + "\n]>\n"


def _lying_sizes(data: bytes, member: str, size: int) -> bytes:
    """The archive with ``member``'s uncompressed size rewritten as ``size`` in both headers."""
    raw = bytearray(data)
    name = member.encode()
    central = raw.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", raw, central + 28)[0]
        if raw[central + 46 : central + 46 + name_len] == name:
            struct.pack_into("<I", raw, central + 24, size)
            local = struct.unpack_from("<I", raw, central + 42)[0]
            struct.pack_into("<I", raw, local + 22, size)
            return bytes(raw)
        central = raw.find(b"PK\x01\x02", central + 4)
    raise ValueError(f"no member {member}")


def _nested_zip_bomb() -> bytes:
    """A ZIP of ZIPs whose innermost member is 10 MB of zeros (42.zip, in small)."""
    inner = _zip([("zeros.bin", bytes(10 * MB))])
    for level in range(3):
        inner = _zip([(f"layer{level}-{i}.zip", inner) for i in range(4)])
    return inner


def _yaml_bomb(key: str = "bomb") -> str:
    lines = [f'{key}:', '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"  {name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    return "\n".join(lines) + "\n"


def _vtt(cues: str) -> str:
    return "WEBVTT\n\n" + cues


_VTT_OK = ("00:00:01.000 --> 00:00:04.000\nKarim: On s'entraide beaucoup ici.\n\n"
           "00:00:04.500 --> 00:00:08.000\nMarie: Depuis le confinement surtout.\n\n"
           "00:00:08.500 --> 00:00:12.000\nKarim: Oui, la fête de la cour.\n\n"
           "00:00:12.500 --> 00:00:15.000\nMarie: Chaque été.\n")


def _trs(turns: str, prolog: str = "") -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + prolog +
            '<Trans scribe="x"><Speakers><Speaker id="spk1" name="Karim"/></Speakers>'
            f'<Episode><Section type="report">{turns}</Section></Episode></Trans>\n')


_TRS_TURN = '<Turn speaker="spk1" startTime="0" endTime="5"><Sync time="0"/>Bonjour.</Turn>'


def _qdc(codes: str, prolog: str = "") -> str:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}<CodeBook xmlns="{CB_NS}">'
            f"<Codes>{codes}</Codes></CodeBook>\n")


def _qdc_code(name: str, inner: str = "") -> str:
    return f'<Code name="{name}" isCodable="true">{inner}</Code>'


def _codebook_validate(project: Path, data: bytes | str) -> Input:
    _write(project, "hostile/codebook.yaml", data)
    return Input(["codebook", "validate", "hostile/codebook.yaml"], "codebook.yaml")


def _codebook_import(project: Path, data: bytes | str, name: str = "theirs.qdc") -> Input:
    _write(project, f"hostile/{name}", data)
    return Input(["codebook", "import", f"hostile/{name}", "--out", "codebooks/imported.yaml"],
                 name)


def _qdpx_import(project: Path, data: bytes, name: str = "theirs.qdpx") -> Input:
    _write(project, f"hostile/{name}", data)
    return Input(["import", "qdpx", f"hostile/{name}"], name)


_QDE = (b'<?xml version="1.0" encoding="utf-8"?>\n<Project xmlns="urn:QDA-XML:project:1.0" '
        b'name="theirs" origin="another tool"><Sources/></Project>\n')


def _qde_with(prolog: str, body: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}<Project xmlns="urn:QDA-XML:'
            f'project:1.0" name="{body}" origin="another tool"><Sources/></Project>\n').encode()


def _config(project: Path, extra: str = "", replace: bytes | None = None) -> Input:
    config = project / "qcode.yaml"
    if replace is not None:
        config.write_bytes(replace)
    else:
        config.write_text(config.read_text("utf-8") + extra, "utf-8")
    return Input(["ingest"], "qcode.yaml")


def _sheet(project: Path, data: bytes | str) -> Input:
    _write(project, "transcripts/attributes.csv", data)
    return Input(["ingest"], "attributes.csv")


def _noise(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _utf8_transcript() -> bytes:
    return (GOOD_TRANSCRIPT * 20).encode("utf-8")


def _million_turns() -> str:
    return "".join(f"{'E' if i % 2 == 0 else 'K'} : mot {i}.\n" for i in range(1_000_000))


# --- the table --------------------------------------------------------------------------------


def _c(id: str, reader: str, input: str, make: Callable[[Path], Input], exit_code: int,
       message: str, *, accepted: bool = False, slow: bool = False,
       error_lines: int = 1) -> Case:
    return Case(id, reader, input, make, exit_code, message, accepted, slow, error_lines)


CASES: list[Case] = [
    # --- text and Markdown
    _c("txt-empty", "txt", "empty file", lambda p: _ingest(p, "vide.txt", b""), 1,
       "empty file"),
    _c("txt-binary", "txt", "4 KB of random bytes named .txt",
       lambda p: _ingest(p, "bruit.txt", _noise(4096, 1)), 1, "binary file"),
    _c("txt-pdf", "txt", "a PDF named .txt",
       lambda p: _ingest(p, "rapport.txt", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + _noise(3000, 2)),
       1, "binary file"),
    _c("txt-nul", "txt", "a transcript with one NUL byte in a turn",
       lambda p: _ingest(p, "nul.txt", GOOD_TRANSCRIPT.replace("vingt", "vi\x00ngt")), 1,
       "NUL byte in the text"),
    _c("txt-invalid-utf8", "txt", "UTF-8 transcript with one invalid byte (0xFF)",
       lambda p: _ingest(p, "abime.txt", _utf8_transcript().replace(b"vingt", b"vi\xffngt", 1)),
       1, "invalid byte(s), the first (0xFF) at line 2"),
    _c("txt-cut-utf8", "txt", "UTF-8 transcript cut in the middle of « é »",
       lambda p: _ingest(p, "coupe.txt", (GOOD_TRANSCRIPT + "E : Et l'été").encode()[:-1]),
       1, "cut in the middle of a character"),
    _c("txt-utf16-nobom", "txt", "UTF-16 (LE) without a byte-order mark",
       lambda p: _ingest(p, "utf16.txt", GOOD_TRANSCRIPT.encode("utf-16-le")), 0, "added",
       accepted=True),
    _c("txt-no-labels", "txt", "prose without speaker labels",
       lambda p: _ingest(p, "prose.txt", "Il était une fois un quartier.\n" * 50), 1,
       "no speaker labels found"),
    _c("txt-50mb-line", "txt", "a single line of 50 MB (default limit 50 MB)",
       lambda p: _ingest(p, "ligne.txt", b"E : " + b"blah " * (10 * MB + 1)), 1,
       "file too large (50 MB; limit 50 MB)"),
    _c("txt-over-limit", "txt", "a 2 MB transcript, limits.max_file_mb: 1 in qcode.yaml",
       lambda p: _ingest(_set_limits(p, max_file_mb=1), "long.txt", GOOD_TRANSCRIPT * 9000),
       1,
       "limit 1 MB"),
    _c("txt-million-turns", "txt", "1,000,000 turns (16 MB)",
       lambda p: _ingest(p, "million.txt", _million_turns()), 1,
       "1000000 turns, the limit is 100000", slow=True),
    _c("md-yaml-bomb", "md", "front matter: YAML alias bomb (billion laughs)",
       lambda p: _ingest(p, "bombe.md", "---\n" + _yaml_bomb() + "---\n" + GOOD_TRANSCRIPT), 1,
       "aliases expand to more than"),
    _c("md-python-tag", "md", "front matter: !!python/object/apply:os.system",
       lambda p: _ingest(p, "tag.md", "---\nx: !!python/object/apply:os.system ['touch pwned']"
                         "\n---\n" + GOOD_TRANSCRIPT), 1, "could not determine a constructor"),
    # --- Word and OpenDocument
    _c("docx-empty", "docx", "empty file", lambda p: _ingest(p, "vide.docx", b""), 1,
       "not a readable Word (ZIP) file"),
    _c("docx-pdf", "docx", "a PDF named .docx",
       lambda p: _ingest(p, "rapport.docx", b"%PDF-1.7\n" + _noise(5000, 3)), 1,
       "not in Word format"),
    _c("docx-ole", "docx", "an old binary .doc renamed .docx",
       lambda p: _ingest(p, "ancien.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000)),
       1, "old binary or password-protected"),
    _c("docx-truncated", "docx", "a .docx cut in half",
       lambda p: _ingest(p, "coupe.docx", (lambda d: d[: len(d) // 2])(_docx())), 1,
       "truncated or damaged"),
    _c("docx-traversal", "docx", "ZIP path traversal: a member named ../../evil.sh",
       lambda p: _ingest(p, "traverse.docx",
                         _docx_with(extra=[("../../evil.sh", b"rm -rf ~\n")])), 1,
       "path traversal"),
    _c("docx-absolute", "docx", "ZIP member with an absolute path /etc/cron.d/x",
       lambda p: _ingest(p, "absolu.docx",
                         _docx_with(extra=[("/etc/cron.d/x", b"* * * * * root true\n")])), 1,
       "path traversal"),
    _c("docx-ratio-bomb", "docx", "ZIP bomb: a 20 MB member of zeros (ratio ≈ 1000)",
       lambda p: _ingest(p, "bombe.docx",
                         _docx_with(extra=[("word/media/zeros.bin", bytes(20 * MB))])), 1,
       "a ZIP bomb?"),
    _c("docx-many-members", "docx", "ZIP bomb: 20,000 members",
       lambda p: _ingest(p, "membres.docx", _docx_with(
           extra=[(f"customXml/m{i}.bin", b"") for i in range(20_000)])), 1,
       "20017 members in the archive, the limit is 10000"),
    _c("docx-nested-zip", "docx", "nested ZIP bomb inside a .docx (never opened)",
       lambda p: _ingest(p, "imbrique.docx", _docx_with(
           extra=[("word/embeddings/42.zip", _nested_zip_bomb())])), 0, "added",
       accepted=True),
    _c("docx-unzipped-limit", "docx",
       "3 MB once unzipped, limits.max_unzipped_mb: 1 in qcode.yaml",
       lambda p: _ingest(_set_limits(p, max_unzipped_mb=1), "gros.docx", _docx_with(
           extra=[("word/media/photo.bin", _noise(3 * MB, 4))])), 1,
       "once unzipped, the limit is 1048576"),
    _c("docx-lying-size", "docx", "ZIP member that declares 100 bytes and holds 4 KB",
       lambda p: _ingest(p, "ment.docx", _lying_sizes(_docx(), "word/document.xml", 100)), 1,
       "cannot unzip word/document.xml"),
    _c("docx-billion-laughs", "docx", "XML entity expansion (billion laughs) in document.xml",
       lambda p: _ingest(p, "lol.docx", _docx_with(replace={"word/document.xml": (
           '<?xml version="1.0"?>' + _billion_laughs("w:document") +
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           "<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>").encode()
       })), 1, "refused XML in word/document.xml"),
    _c("docx-xxe-styles", "docx", "external entity file:///etc/passwd in styles.xml",
       lambda p: _ingest(p, "xxe.docx", _docx_with(replace={"word/styles.xml": (
           b'<?xml version="1.0"?><!DOCTYPE w:styles [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
           b'<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           b"&xxe;</w:styles>")})), 1, "refused XML in word/styles.xml"),
    _c("docx-multibyte-encoding", "docx", 'document.xml declares encoding="shift_jis"',
       lambda p: _ingest(p, "sjis.docx", _docx_with(replace={"word/document.xml": (
           re.sub(rb"encoding=.UTF-8.", b'encoding="shift_jis"',
                  dict(_members(_docx()))["word/document.xml"], count=1))})),
       1, "malformed XML in word/document.xml: multi-byte encodings are not supported"),
    _c("odt-truncated", "odt", "an .odt cut in half",
       lambda p: _ingest(p, "coupe.odt", (lambda d: d[: len(d) // 2])(_odt())), 1,
       "not a readable OpenDocument (ZIP) file"),
    _c("odt-billion-laughs", "odt", "XML entity expansion in content.xml",
       lambda p: _ingest(p, "lol.odt", _odt(content=(
           '<?xml version="1.0"?>' + _billion_laughs("office:document-content") +
           f"<office:document-content {_ODT_NS}><office:body><office:text><text:p>&lol9;"
           "</text:p></office:text></office:body></office:document-content>").encode())), 1,
       "refused XML in content.xml"),
    _c("odt-ratio-bomb", "odt", "ZIP bomb: a 20 MB member of zeros",
       lambda p: _ingest(p, "bombe.odt", _odt(extra=[("Pictures/zeros.bin", bytes(20 * MB))])),
       1, "a ZIP bomb?"),
    _c("odt-traversal", "odt", "ZIP path traversal: ..\\..\\evil.bat (backslashes)",
       lambda p: _ingest(p, "traverse.odt", _odt(extra=[("..\\..\\evil.bat", b"del *\n")])), 1,
       "path traversal"),
    # --- captions
    _c("vtt-cut-timing", "vtt", "cut in the middle of a cue's timing line",
       lambda p: _ingest(p, "coupe.vtt", _vtt(_VTT_OK + "\n00:00:15.500 --> 00:0")), 1,
       "bad cue timing line"),
    _c("vtt-cut-after-timing", "vtt", "cut right after a cue's timing line",
       lambda p: _ingest(p, "coupe2.vtt", _vtt(_VTT_OK + "\n00:00:15.500 --> 00:00:17.000\n")),
       1, "truncated cue"),
    _c("vtt-huge-time", "vtt", "timestamp 99999999999:00:00.000",
       lambda p: _ingest(p, "heure.vtt", _vtt(
           "99999999999:00:00.000 --> 99999999999:00:01.000\nKarim: bonjour\n")), 1,
       "beyond 100 hours"),
    _c("vtt-5000-digits", "vtt", "timestamp whose hours have 5,000 digits",
       lambda p: _ingest(p, "chiffres.vtt", _vtt(
           "9" * 5000 + ":00:00.000 --> " + "9" * 5000 + ":00:01.000\nKarim: bonjour\n")), 1,
       "beyond 100 hours"),
    _c("vtt-1mb-line", "vtt", "a 1 MB line where a cue's timing line should be",
       lambda p: _ingest(p, "ligne.vtt", _vtt("cue-1\n" + "x" * MB + "\nKarim: bonjour\n")), 1,
       "expected a cue timing line"),
    _c("vtt-no-header", "vtt", "no WEBVTT header (an SRT named .vtt)",
       lambda p: _ingest(p, "srt.vtt", "1\n00:00:01,000 --> 00:00:02,000\nbonjour\n"), 1,
       "missing WEBVTT header"),
    _c("vtt-empty", "vtt", "empty file", lambda p: _ingest(p, "vide.vtt", b""), 1, "empty file"),
    _c("vtt-overlap", "vtt", "overlapping cues (two people at once)",
       lambda p: _ingest(p, "chevauche.vtt", _vtt(
           "00:00:01.000 --> 00:00:06.000\nKarim: On s'entraide.\n\n"
           "00:00:03.000 --> 00:00:05.000\nMarie: Oui !\n\n"
           "00:00:05.500 --> 00:00:09.000\nKarim: Depuis toujours.\n\n"
           "00:00:08.000 --> 00:00:10.000\nMarie: Tout à fait.\n")), 0, "added",
       accepted=True),
    _c("srt-backwards", "srt", "a cue that ends before it starts",
       lambda p: _ingest(p, "envers.srt",
                         "1\n00:00:05,000 --> 00:00:01,000\nbonjour\n\n"
                         "2\n00:00:06,000 --> 00:00:07,000\nsalut\n"), 1,
       "cue ends before it starts"),
    _c("srt-negative", "srt", "a negative time (-00:00:01,000)",
       lambda p: _ingest(p, "negatif.srt", "1\n-00:00:01,000 --> 00:00:02,000\nbonjour\n"), 1,
       "bad cue timing line"),
    _c("srt-binary", "srt", "random bytes named .srt",
       lambda p: _ingest(p, "bruit.srt", _noise(4096, 5)), 1, "binary file"),
    _c("srt-cut-number", "srt", "cut right after a cue number",
       lambda p: _ingest(p, "coupe.srt",
                         "1\n00:00:01,000 --> 00:00:02,000\nbonjour\n\n2\n"), 1,
       "truncated cue 2"),
    # --- Transcriber
    _c("trs-empty", "trs", "empty file", lambda p: _ingest(p, "vide.trs", b""), 1, "empty file"),
    _c("trs-billion-laughs", "trs", "XML entity expansion (billion laughs)",
       lambda p: _ingest(p, "lol.trs", _trs(_TRS_TURN.replace("Bonjour.", "&lol9;"),
                                            _billion_laughs("Trans"))), 1,
       "declares an entity 'lol'"),
    _c("trs-xxe-file", "trs", "external entity file:///etc/passwd",
       lambda p: _ingest(p, "xxe.trs", _trs(
           _TRS_TURN.replace("Bonjour.", "&xxe;"),
           '<!DOCTYPE Trans [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n')), 1,
       "declares an external entity 'xxe' ('file:///etc/passwd')"),
    _c("trs-xxe-http", "trs", "external entity http://127.0.0.1:9/x",
       lambda p: _ingest(p, "xxe-http.trs", _trs(
           _TRS_TURN.replace("Bonjour.", "&xxe;"),
           '<!DOCTYPE Trans [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x">]>\n')), 1,
       "external entity 'xxe' ('http://127.0.0.1:9/x')"),
    _c("trs-dtd-http", "trs", "DOCTYPE with an http:// DTD (never fetched)",
       lambda p: _ingest(p, "dtd.trs", _trs(
           _TRS_TURN, '<!DOCTYPE Trans SYSTEM "http://127.0.0.1:9/trans-14.dtd">\n')), 0,
       "added", accepted=True),
    _c("trs-cut", "trs", "XML cut in the middle of a turn",
       lambda p: _ingest(p, "coupe.trs", _trs(_TRS_TURN * 3)[:-60]), 1,
       "malformed XML: no element found"),
    _c("trs-huge-time", "trs", 'startTime="1e300"',
       lambda p: _ingest(p, "heure.trs", _trs(_TRS_TURN.replace('startTime="0"',
                                                                'startTime="1e300"'))), 1,
       "beyond 100 hours"),
    _c("trs-negative-time", "trs", 'endTime="-5"',
       lambda p: _ingest(p, "negatif.trs", _trs(_TRS_TURN.replace('endTime="5"',
                                                                  'endTime="-5"'))), 1,
       "is not a time in seconds"),
    _c("trs-backwards", "trs", "a turn that ends before it starts",
       lambda p: _ingest(p, "envers.trs", _trs(_TRS_TURN.replace('startTime="0"',
                                                                 'startTime="9"'))), 1,
       "ends before it starts"),
    _c("trs-encoding", "trs", "declares encoding x-unknown",
       lambda p: _ingest(p, "encodage.trs", _trs(_TRS_TURN).replace("UTF-8", "x-unknown")), 1,
       "unknown encoding 'x-unknown'"),
    # --- CSV turn tables and the attribute sheet
    _c("csv-unbalanced", "csv", "a quoted field never closed",
       lambda p: _ingest(p, "guillemet.csv",
                         'time,speaker,text\n0:01,Karim,"bonjour\n0:02,Marie,salut\n'), 1,
       "unbalanced quote"),
    _c("csv-binary", "csv", "random bytes named .csv",
       lambda p: _ingest(p, "bruit.csv", _noise(4096, 6)), 1, "binary file"),
    _c("csv-huge-time", "csv", "a time of 5,000 digits (read, time left empty)",
       lambda p: _ingest(p, "heure.csv", "time,speaker,text\n" + "9" * 5000 +
                         ",Karim,bonjour\n0:02,Marie,salut\n"), 0, "not understood; left empty",
       accepted=True),
    _c("sheet-binary", "sheet", "attribute sheet of random bytes",
       lambda p: _sheet(p, _noise(4096, 7)), 1, "binary file"),
    _c("sheet-invalid-utf8", "sheet", "attribute sheet with an invalid UTF-8 byte",
       lambda p: _sheet(p, "id,initiative,rôle\nok,Les Ailes,porteur\n".encode() * 1 +
                        "x1,é,à\n".encode() * 5 + b"x2,\xff,b\n"), 1,
       "invalid byte(s)"),
    _c("sheet-huge-field", "sheet", "attribute sheet with a 200 KB quoted cell",
       lambda p: _sheet(p, 'id,note\nok,"' + "x" * 200_000 + '"\n'), 1,
       "field larger than field limit"),
    # --- qcode.yaml
    _c("config-yaml-bomb", "qcode.yaml", "YAML alias bomb (billion laughs)",
       lambda p: _config(p, _yaml_bomb()), 3, "aliases expand to more than"),
    _c("config-recursive", "qcode.yaml", "recursive alias (&a [*a])",
       lambda p: _config(p, "loop: &a [*a]\n"), 3, "recursive alias"),
    _c("config-deep", "qcode.yaml", "50,000 nested lists",
       lambda p: _config(p, "deep: " + "[" * 50_000 + "]" * 50_000 + "\n"), 3,
       "nested more than 200 levels deep"),
    _c("config-python-tag", "qcode.yaml", "!!python/object/apply:os.system",
       lambda p: _config(p, "x: !!python/object/apply:os.system ['touch pwned']\n"), 3,
       "could not determine a constructor"),
    _c("config-binary", "qcode.yaml", "random bytes",
       lambda p: _config(p, replace=_noise(2048, 8)), 3, "not UTF-8 text"),
    _c("config-nul", "qcode.yaml", "a NUL byte",
       lambda p: _config(p, "name: a\x00b\n"), 3, "control characters are not allowed"),
    _c("config-bad-limit", "qcode.yaml", "limits: {max_file_mb: -5}",
       lambda p: _config(_set_limits(p, max_file_mb=-5)), 3,
       "must be a positive number of megabytes", error_lines=2),
    # --- codebooks (YAML)
    _c("codebook-yaml-bomb", "codebook", "YAML alias bomb",
       lambda p: _codebook_validate(p, _yaml_bomb("x") + "themes: []\n"), 3,
       "aliases expand to more than"),
    _c("codebook-recursive", "codebook", "recursive alias",
       lambda p: _codebook_validate(p, "themes: &t [{id: a, label: A, codes: *t}]\n"), 3,
       "recursive alias"),
    _c("codebook-deep", "codebook", "50,000 nested mappings",
       lambda p: _codebook_validate(p, "themes: " + "{a: " * 50_000 + "1" + "}" * 50_000),
       3, "nested more than 200 levels deep"),
    _c("codebook-python-tag", "codebook", "!!python/name:os.system",
       lambda p: _codebook_validate(p, "themes: !!python/name:os.system\n"), 3,
       "could not determine a constructor"),
    _c("codebook-binary", "codebook", "random bytes",
       lambda p: _codebook_validate(p, _noise(2048, 9)), 3, "not UTF-8 text"),
    _c("codebook-cut", "codebook", "the study's codebook cut inside a quoted string",
       lambda p: _codebook_validate(p, (lambda t: t[: t.index('"', 4000) + 20])(
           STUDY_CODEBOOK.read_text("utf-8"))), 3, "invalid YAML"),
    # --- REFI-QDA codebooks (.qdc)
    _c("qdc-billion-laughs", "qdc", "XML entity expansion (billion laughs)",
       lambda p: _codebook_import(p, (REFI_FIXTURES / "billion-laughs.qdc").read_bytes()), 1,
       "declares the XML entity 'lol'"),
    _c("qdc-xxe", "qdc", "external entity (file:///etc/passwd)",
       lambda p: _codebook_import(p, (REFI_FIXTURES / "external-entity.qdc").read_bytes()), 1,
       "external entity"),
    _c("qdc-dtd-http", "qdc", "DOCTYPE with an http:// DTD (never fetched)",
       lambda p: _codebook_import(p, _qdc(
           _qdc_code("Entraide"), '<!DOCTYPE CodeBook SYSTEM "http://127.0.0.1:9/x.dtd">\n')),
       0, "wrote", accepted=True),
    _c("qdc-truncated", "qdc", "XML cut in the middle",
       lambda p: _codebook_import(p, (REFI_FIXTURES / "truncated.qdc").read_bytes()), 1,
       "malformed XML"),
    _c("qdc-zip", "qdc", "a ZIP archive (.qdpx) named .qdc",
       lambda p: _codebook_import(p, _zip([("project.qde", b"<Project/>")])), 1,
       "not a .qdc codebook but a ZIP archive"),
    _c("qdc-binary", "qdc", "random bytes",
       lambda p: _codebook_import(p, _noise(4096, 10)), 1, "malformed XML"),
    _c("qdc-empty", "qdc", "empty file", lambda p: _codebook_import(p, b""), 1,
       "malformed XML: no element found"),
    _c("qdc-deep", "qdc", "codes nested 10,000 levels deep",
       lambda p: _codebook_import(p, _qdc(
           '<Code name="a" isCodable="true">' * 10_000 + "</Code>" * 10_000)), 1,
       "codes nested more than 100 levels deep"),
    _c("qdc-over-limit", "qdc", "a 2 MB .qdc, limits.max_file_mb: 1 in qcode.yaml",
       lambda p: _codebook_import(_set_limits(p, max_file_mb=1), _qdc(
           "".join(_qdc_code(f"code {i}") for i in range(50_000)))), 1,
       "file too large"),
    # --- REFI-QDA projects (.qdpx)
    _c("qdpx-pdf", "qdpx", "a PDF named .qdpx",
       lambda p: _qdpx_import(p, b"%PDF-1.7\n" + _noise(5000, 11)), 1,
       "not a readable REFI-QDA project (ZIP) file"),
    _c("qdpx-truncated", "qdpx", "a .qdpx cut in half",
       lambda p: _qdpx_import(p, (lambda d: d[: len(d) // 2])(_zip(
           [("project.qde", _QDE), ("sources/a.txt", GOOD_TRANSCRIPT.encode() * 20)]))), 1,
       "not a readable REFI-QDA project (ZIP) file"),
    _c("qdpx-traversal", "qdpx", "ZIP path traversal: sources/../../../evil.txt",
       lambda p: _qdpx_import(p, _zip([("project.qde", _QDE),
                                       ("sources/../../../evil.txt", b"x")])), 1,
       "path traversal"),
    _c("qdpx-ratio-bomb", "qdpx", "ZIP bomb: a 20 MB source of zeros",
       lambda p: _qdpx_import(p, _zip([("project.qde", _QDE),
                                       ("sources/zeros.txt", bytes(20 * MB))])), 1,
       "a ZIP bomb?"),
    _c("qdpx-many-members", "qdpx", "ZIP bomb: 20,000 members",
       lambda p: _qdpx_import(p, _zip([("project.qde", _QDE)] + [
           (f"sources/s{i}.txt", b"") for i in range(20_000)])), 1,
       "20001 members in the archive, the limit is 10000"),
    _c("qdpx-billion-laughs", "qdpx", "XML entity expansion in project.qde",
       lambda p: _qdpx_import(p, _zip([("project.qde",
                                        _qde_with(_billion_laughs("Project"), "&lol9;"))])), 1,
       "declares the XML entity 'lol'"),
    _c("qdpx-xxe", "qdpx", "external entity file:///etc/passwd in project.qde",
       lambda p: _qdpx_import(p, _zip([("project.qde", _qde_with(
           '<!DOCTYPE Project [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n', "&xxe;"))])), 1,
       "declares the XML external entity 'xxe'"),
]


# --- running a case ---------------------------------------------------------------------------


def make_template(folder: Path, run: Runner) -> Path:
    """A project whose store holds one transcript with attributes: the starting point of every
    case (copied, never changed)."""
    project = folder / "template"
    result = run("init", str(project), "--name", "Hostile inputs")
    assert result.returncode == 0, result.stderr
    _write(project, "transcripts/ok.txt", GOOD_TRANSCRIPT)
    _write(project, "transcripts/attributes.csv", "id,initiative,role\nok,Les Ailes,porteur\n")
    result = run("ingest", cwd=project)
    assert result.returncode == 0, result.stderr
    return project


def store_rows(project: Path) -> list[str]:
    """Every row of every table of the project's SQLite store, in a stable order."""
    database = project / ".qcode" / "qcode.db"
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return sorted(conn.iterdump())
    finally:
        conn.close()


def project_files(project: Path) -> dict[str, str]:
    """The project's files (the store aside) and a digest of each."""
    out = {}
    for path in sorted(project.rglob("*")):
        rel = path.relative_to(project)
        if path.is_file() and rel.parts[0] != ".qcode":
            out[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def run_case(case: Case, template: Path, workdir: Path, run: Runner) -> Outcome:
    """Copy the template, write the case's input, run its command, and compare."""
    project = workdir / case.id
    shutil.copytree(template, project)
    given = case.make(project)
    rows, files = store_rows(project), project_files(project)
    started = time.perf_counter()
    try:
        result = run(*given.args, cwd=project, timeout=TIMEOUT_S)
        returncode, stderr = result.returncode, result.stderr
    except subprocess.TimeoutExpired:  # a hang (a YAML bomb, before it was refused)
        returncode, stderr = -1, f"(no answer: killed after {TIMEOUT_S} s)"
    seconds = time.perf_counter() - started
    # paths as a user in the project folder reads them (ingest names files absolutely)
    stderr = stderr.replace(f"{project.resolve()}/", "").replace(f"{project}/", "")
    errors = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    outcome = Outcome(returncode, stderr, errors, store_rows(project) == rows,
                      project_files(project) == files, seconds, given.culprit)
    shutil.rmtree(project, ignore_errors=True)  # some inputs are 50 MB
    return outcome


@dataclass(slots=True)
class Verdict:
    """What is wrong with an outcome (nothing, for a case that passes)."""

    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def judge(case: Case, outcome: Outcome) -> Verdict:
    """Check an outcome against its case: the checks of tests/test_hostile.py."""
    verdict = Verdict()
    problems = verdict.problems
    if "Traceback" in outcome.stderr:
        problems.append("a traceback")
    if outcome.exit_code != case.exit_code:
        problems.append(f"exit code {outcome.exit_code}, expected {case.exit_code}")
    if case.accepted:
        if outcome.errors:
            problems.append(f"error lines for an input that must be read: {outcome.errors}")
        if case.message not in outcome.stderr:
            problems.append(f"{case.message!r} not in what qcode said")
        return verdict
    if len(outcome.errors) != case.error_lines:
        problems.append(f"{len(outcome.errors)} error lines, expected {case.error_lines}")
    else:
        line = outcome.errors[0]
        if case.message not in line:
            problems.append(f"{case.message!r} not in the error line")
        if outcome.culprit not in line:
            problems.append(f"the error line does not name {outcome.culprit}")
        if len(line) > 400:
            problems.append(f"an error line of {len(line)} characters")
    if not outcome.store_same:
        problems.append("the store changed")
    if not outcome.files_same:
        problems.append("a project file changed or appeared")
    return verdict
