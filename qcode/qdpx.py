"""REFI-QDA projects (``.qdpx``): the whole project out, and other tools' projects in.

A ``.qdpx`` is a ZIP archive: ``project.qde`` (XML, namespace ``urn:QDA-XML:project:1.0``) and a
``sources/`` folder of plain-text files. NVivo, ATLAS.ti, MAXQDA, QualCoder, Transana and qc
(qualitative-coding) read and write it. The codebook part is :mod:`qcode.refi`'s, shared with
the ``.qdc`` codebook exchange.

Export (:func:`export_qdpx`)
----------------------------

========================  ======================================================================
qcode                     ``project.qde`` (elements in the schema's order)
========================  ======================================================================
coders                    ``<Users><User guid name>``: the coders of the exported codings and
                          memos
codebook                  ``<CodeBook>``, as in a ``.qdc`` (:func:`qcode.refi.add_codes`); a
                          code kept as an orphan for its codings is added at the top level
attributes                ``<Variables>`` (``Text``, declared once), and one ``<Case>`` per
                          transcript holding its ``<VariableValue>``\\ s and a ``<SourceRef>``
transcripts               ``<TextSource name="<id>" plainTextPath="internal://<guid>.txt">``;
                          the text (``sources/<guid>.txt``) is the stored text: UTF-8, ``\\n``,
                          no BOM; no ``richTextPath``
codings                   one ``<PlainTextSelection>`` per coding: ``startPosition`` and
                          ``endPosition`` in code points, end exclusive (Python slicing),
                          ``name`` the start of the quote, ``creatingUser``; inside it a
                          ``<Coding creatingUser>`` with its ``<CodeRef>``
memos                     ``<Notes><Note>`` with ``<PlainTextContent>``, linked by
                          ``<NoteRef>``: from the project (memos on the project), from the
                          ``<TextSource>`` (on a transcript), the ``<Code>`` (on a code) and the
                          ``<Coding>`` (on a coding, and a coding's own memo field)
========================  ======================================================================

GUIDs are ``uuid5`` of qcode's namespace and what the element stands for (a coder's name, a
transcript's id, a coding's transcript, span, code and coder…), and codes keep their codebook
GUIDs, so exporting the same store twice gives the same bytes: the ZIP members are written in a
fixed order with fixed dates. Codings flagged ``unplaced`` (their passage is gone from a
corrected transcript) are left out; a coding's origin (manual, keyword) has no field in
REFI-QDA. With ``line_names`` the selection names start with ``line:N`` (the 0-based line of the
passage's start), which qc needs to place codings (qc reads the line from the name; it
ignores the offsets).

Import (:func:`import_qdpx`)
----------------------------

The archive is checked before anything is read (:mod:`qcode.ingest.safezip`: size, members,
ZIP bombs, member names that escape the archive) and ``project.qde`` is parsed without entity
expansion (:func:`qcode.refi.parse_xml`); the root must be ``<Project>`` in the REFI-QDA
namespace. What other tools write is accepted: any ``*.qde`` name, ``sources/`` or ``Sources/``,
STORED or DEFLATE members, a BOM, CRLF line ends, duplicate names, values on cases or on sources.

- **Sources → transcripts.** A text source whose text (normalised: NFC, ``\\n``, no BOM) is
  already a transcript's text is that transcript. Otherwise it is written to the transcripts
  folder as ``<name>.txt`` (the name made a safe, unused file name) and read by the normal text
  reader; a text without speaker labels becomes one turn per paragraph, without speaker (a
  later ``qcode ingest`` sees the file unchanged). Offsets are mapped to the stored text: when
  the source has CRLF line ends, the selections' names (the start of their text, or qc's
  ``line:N``) and where they begin and end tell whether the tool counted ``\\r\\n`` as one
  character or two; a text that NFC changes (decomposed accents) is mapped through
  :mod:`qcode.anchor`. The codings land on the same characters.
- **Codes.** A project without a codebook file gets one, written from the file's codebook
  (each code keeps its GUID). An existing codebook is matched code by code: by the
  ``qcode-id`` line of the description, then the GUID, then the name (ignoring case and
  accents); codings of a code that matches none are left out and reported — add the code
  (``qcode codebook add``) and import again: nothing is imported twice.
- **Users → coders**, by name; a coding without a known user gets the coder ``unknown``.
- **Variables → attributes**, written to the attribute sheet (new columns and rows; a value
  already in the sheet is kept and the other reported) and to the store.
- **Notes → memos**: on the project, a transcript, a code or a coding, as their ``<NoteRef>``
  says; a note on a selection without a code becomes a memo on the transcript that quotes the
  passage; a note nothing refers to becomes a memo on the project.
- The same coding (transcript, span, code, coder) or memo (target, coder, text) is not added
  twice. Everything is written in one store transaction; the files written before it (the
  transcripts, the codebook, the sheet) are removed or restored if anything fails.
- What is left out is reported: rich text, picture/PDF/audio/video sources, links, sets,
  graphs, codings of whole sources, selections without a code, unknown codes and variables.
  An import is not an action ``qcode undo`` reverts (``qcode transcripts remove`` does).
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import datetime as dt
import fnmatch
import hashlib
import io
import re
import unicodedata
import uuid
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from qcode import __version__
from qcode.codebook import Code, Codebook, fold, load_valid
from qcode.errors import InputError, QcodeError, ValidationError
from qcode.ingest.limits import Limits, read_limited
from qcode.ingest.model import ParsedTranscript, Turn, normalise_text
from qcode.ingest.safezip import check_member_names, open_zip, read_member
from qcode.ingest.sheet import ID_COLUMNS, read_sheet
from qcode.project import Project
from qcode.refi import (
    QCODE_GUID_NAMESPACE,
    XML_DECLARATION,
    QdcImport,
    XmlNode,
    add_codes,
    code_element,
    code_guid,
    codebook_from_tree,
    normal_guid,
    one_line,
    parse_xml,
    xml_text,
)
from qcode.store import Store
from qcode.store import codes as codes_q
from qcode.store import codings as cq
from qcode.store import qdpx as xq
from qcode.store import transcripts as tq
from qcode.store.records import TranscriptRecord

PROJECT_NS = "urn:QDA-XML:project:1.0"
KIND = "REFI-QDA project"
NAME_LENGTH = 40  # characters of the quote in a selection's name
UNKNOWN_CODER = "unknown"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed: the same store gives the same bytes
_DATETIME_RE = re.compile(
    r"^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?$")
_LINE_NAME_RE = re.compile(r"^line:(\d+)(?:\s+|$)")
_DOCUMENT_EXT_RE = re.compile(
    r"\.(?:txt|text|md|docx?|odt|rtf|pdf|html?|vtt|srt|trs|csv|qdpx)$", re.IGNORECASE)
_MEDIA = {"PictureSource": "picture", "PDFSource": "PDF", "AudioSource": "audio",
          "VideoSource": "video"}


def stable_guid(kind: str, *parts: object) -> str:
    """A GUID that depends only on what it names (``uuid5`` in qcode's namespace)."""
    return str(uuid.uuid5(QCODE_GUID_NAMESPACE, "\x1f".join([kind, *map(str, parts)])))


def _datetime(value: str | None) -> str | None:
    """``value`` if it is an ``xsd:dateTime``, else None."""
    return value if value and _DATETIME_RE.match(value.strip()) else None


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _shown(items: Iterable[str], limit: int = 5) -> str:
    items = list(items)
    text = ", ".join(repr(i) for i in items[:limit])
    return text + (", …" if len(items) > limit else "")


def quote_name(text: str, start: int, end: int, *, line_names: bool = False) -> str:
    """A selection's ``name``: the start of its quote on one line (``line:N …`` for qc)."""
    quote = " ".join(text[start:end].split())
    name = quote[:NAME_LENGTH].rstrip() + ("…" if len(quote) > NAME_LENGTH else "")
    if line_names:
        name = f"line:{text.count(chr(10), 0, start)} {name}"
    return xml_text(name)


# --- export -----------------------------------------------------------------------------------


@dataclass(slots=True)
class QdpxExport:
    """A ``.qdpx`` archive and what it holds."""

    data: bytes
    transcripts: int
    codings: int
    coders: list[str]
    memos: int
    notes: list[str] = field(default_factory=list)
    path: Path | None = None


@dataclass(slots=True)
class _Note:
    guid: str
    text: str
    coder: str
    created: str | None
    target: tuple[str, Any]  # (project | transcript | code | coding, the target)


def export_qdpx(project: Project, store: Store, book: Codebook | None, *,
                coders: Sequence[str] = (), origins: Sequence[str] = (),
                line_names: bool = False) -> QdpxExport:
    """The project as a ``.qdpx`` archive (bytes): every transcript, the codebook (``book``,
    None when the project has none), the codings (of ``coders`` and ``origins`` when given),
    the attributes and the memos."""
    with store.read() as conn:
        texts = xq.texts(conn)
        attributes = tq.all_attributes(conn)
        rows = cq.query(conn, coders=list(coders) or None, origins=list(origins) or None)
        memos = cq.memos(conn)
        stored = codes_q.stored(conn)
    return _Writer(project, book, texts, attributes, stored, line_names).build(rows, memos)


def default_path(project: Project) -> Path:
    """``<exports>/<project folder>.qdpx``."""
    return project.root / project.exports_dir / f"{project.root.name}.qdpx"


def write_qdpx(project: Project, store: Store, book: Codebook | None,
               path: Path | None = None, **options: Any) -> QdpxExport:
    """Export the project to ``path`` (default :func:`default_path`), atomically.

    The file is readable by its owner only: it holds whole interviews (personal data).
    """
    from qcode import fileutil

    result = export_qdpx(project, store, book, **options)
    dest = path if path is not None else default_path(project)
    if dest.is_dir():
        dest = dest / default_path(project).name
    try:
        fileutil.write_atomic(dest, result.data)
    except OSError as exc:
        raise QcodeError(f"cannot write the file: {exc.strerror or exc}", path=dest) from None
    result.path = dest
    return result


class _Writer:
    def __init__(self, project: Project, book: Codebook | None, texts: dict[str, str],
                 attributes: dict[str, dict[str, str]], stored: dict[str, dict[str, Any]],
                 line_names: bool) -> None:
        self.project = project
        self.book = book
        self.texts = texts
        self.attributes = attributes
        self.stored = stored
        self.line_names = line_names
        self.language = (book.language if book else None) or project.language or "fr"
        self.notes: list[str] = []

    def build(self, rows: list[dict[str, Any]], memos: list[dict[str, Any]]) -> QdpxExport:
        unplaced = sum(1 for r in rows if r["flag"] == "unplaced")
        if unplaced:
            self.notes.append(f"{_plural(unplaced, 'coding')} flagged 'unplaced' left out: "
                              "their passage is no longer in the transcript ('qcode codings "
                              "list --flagged')")
        rows = [r for r in rows if r["flag"] != "unplaced" and r["transcript_id"] in self.texts]
        rows.sort(key=lambda r: (r["transcript_id"], r["start"], r["end"], r["code_id"],
                                 r["coder"]))
        extra = self._orphan_codes(rows)
        guids = self._code_guids(extra)
        notes = self._notes(rows, memos, guids)
        users = sorted({r["coder"] for r in rows} | {n.coder for n in notes})
        user_guids = {name: stable_guid("user", name) for name in users}

        root = ET.Element("Project", {"xmlns": PROJECT_NS,
                                      "name": xml_text(self.project.name) or "qcode project",
                                      "origin": f"qcode {__version__}"})
        if users:
            element = ET.SubElement(root, "Users")
            for name in users:
                ET.SubElement(element, "User", {"guid": user_guids[name], "name": xml_text(name)})
        self._codebook(root, extra, notes)
        self._cases(root)
        members = self._sources(root, rows, guids, user_guids, notes)
        if notes:
            element = ET.SubElement(root, "Notes")
            for note in notes:
                attrib = {"guid": note.guid, "name": quote_name(note.text, 0, len(note.text)),
                          "creatingUser": user_guids[note.coder]}
                if _datetime(note.created):
                    attrib["creationDateTime"] = str(note.created)
                ET.SubElement(ET.SubElement(element, "Note", attrib),
                              "PlainTextContent").text = xml_text(note.text)
        for note in notes:
            if note.target[0] == "project":
                ET.SubElement(root, "NoteRef", {"targetGUID": note.guid})
        if rows:
            self.notes.append("a coding's origin (manual, keyword, import) is not carried: "
                              "REFI-QDA has no field for it")
        if self.book is not None and any(c.keywords or c.key for c in self.book.codes.values()):
            self.notes.append("keywords and quick-tagging keys are not carried: REFI-QDA has no "
                              "field for them (they stay in the YAML)")
        ET.indent(root, space="  ")
        qde = (XML_DECLARATION + "\n" + ET.tostring(root, encoding="unicode") + "\n")
        data = _zip([("project.qde", qde.encode("utf-8")), *members])
        return QdpxExport(data, len(self.texts), len(rows), users, len(notes), self.notes)

    def _orphan_codes(self, rows: list[dict[str, Any]]) -> list[Code]:
        """Codes used by codings but not in the codebook (orphans): top-level codes."""
        known = self.book.codes if self.book is not None else {}
        extra: list[Code] = []
        for code_id in sorted({r["code_id"] for r in rows} - set(known)):
            row = self.stored.get(code_id, {})
            extra.append(Code(id=code_id, label=row.get("label") or code_id, codable=True,
                              color=row.get("color")))
        if extra:
            self.notes.append(f"{_plural(len(extra), 'code')} not in the codebook (kept for "
                              f"their codings) exported at the top level: "
                              f"{_shown(c.id for c in extra)}")
        return extra

    def _code_guids(self, extra: list[Code]) -> dict[str, str]:
        codes = [*(self.book.walk() if self.book is not None else []), *extra]
        guids: dict[str, str] = {}
        seen: dict[str, str] = {}
        for code in codes:
            guid = code_guid(code)
            if guid in seen:
                raise ValidationError(
                    f"codes {seen[guid]!r} and {code.id!r} have the same GUID {guid}",
                    path=self.book.path if self.book is not None else None,
                    hint="remove the 'guid:' of one of them; a new one is derived from its id")
            seen[guid] = code.id
            guids[code.id] = guid
        return guids

    def _notes(self, rows: list[dict[str, Any]], memos: list[dict[str, Any]],
               guids: dict[str, str]) -> list[_Note]:
        by_id = {r["id"]: r for r in rows}
        out: list[_Note] = []
        left_out = 0
        for memo in memos:
            kind, target_id = memo["target_type"], memo["target_id"]
            target: Any = target_id
            if (kind == "transcript" and target_id not in self.texts) or \
                    (kind == "code" and target_id not in guids):
                left_out += 1
                continue
            if kind == "coding":
                row = by_id.get(int(target_id)) if target_id.isdigit() else None
                if row is None:
                    left_out += 1
                    continue
                target = _key(row)
            out.append(_Note(stable_guid("note", kind, target, memo["coder"], memo["created_at"],
                                         memo["text"]),
                             memo["text"], memo["coder"], memo["created_at"], (kind, target)))
        for row in rows:
            if row["memo"].strip():
                out.append(_Note(stable_guid("coding-memo", _key(row), row["memo"]),
                                 row["memo"].strip(), row["coder"], row["updated_at"],
                                 ("coding", _key(row))))
        if left_out:
            self.notes.append(f"{_plural(left_out, 'memo')} on codings, transcripts or codes "
                              "that are not exported left out")
        out.sort(key=lambda n: (n.target[0], str(n.target[1]), n.created or "", n.coder,
                                n.text, n.guid))
        return out

    def _codebook(self, root: ET.Element, extra: list[Code], notes: list[_Note]) -> None:
        if (self.book is None or not self.book.roots) and not extra:
            return
        refs: dict[str, list[str]] = {}
        for note in notes:
            if note.target[0] == "code":
                refs.setdefault(note.target[1], []).append(note.guid)
        codes = ET.SubElement(ET.SubElement(root, "CodeBook"), "Codes")
        if self.book is not None:
            add_codes(codes, self.book, self.language, refs)
        for code in extra:
            code_element(codes, code, self.language, refs.get(code.id, ()))

    def _cases(self, root: ET.Element) -> None:
        names = sorted({name for values in self.attributes.values() for name in values})
        if not names:
            return
        variables = ET.SubElement(root, "Variables")
        for name in names:
            ET.SubElement(variables, "Variable", {"guid": stable_guid("variable", name),
                                                  "name": xml_text(name),
                                                  "typeOfVariable": "Text"})
        cases = ET.SubElement(root, "Cases")
        for tid in self.texts:
            case = ET.SubElement(cases, "Case", {"guid": stable_guid("case", tid),
                                                 "name": xml_text(tid)})
            values = self.attributes.get(tid, {})
            for name in names:
                if name in values:
                    value = ET.SubElement(case, "VariableValue")
                    ET.SubElement(value, "VariableRef",
                                  {"targetGUID": stable_guid("variable", name)})
                    ET.SubElement(value, "TextValue").text = xml_text(values[name])
            ET.SubElement(case, "SourceRef", {"targetGUID": stable_guid("source", tid)})

    def _sources(self, root: ET.Element, rows: list[dict[str, Any]], guids: dict[str, str],
                 user_guids: dict[str, str], notes: list[_Note]) -> list[tuple[str, bytes]]:
        if not self.texts:
            return []
        by_transcript: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_transcript.setdefault(row["transcript_id"], []).append(row)
        coding_notes: dict[Any, list[str]] = {}
        transcript_notes: dict[str, list[str]] = {}
        for note in notes:
            if note.target[0] == "coding":
                coding_notes.setdefault(note.target[1], []).append(note.guid)
            elif note.target[0] == "transcript":
                transcript_notes.setdefault(note.target[1], []).append(note.guid)
        sources = ET.SubElement(root, "Sources")
        members: list[tuple[str, bytes]] = []
        for tid, text in self.texts.items():
            guid = stable_guid("source", tid)
            source = ET.SubElement(sources, "TextSource", {
                "guid": guid, "name": xml_text(tid), "plainTextPath": f"internal://{guid}.txt"})
            for row in by_transcript.get(tid, []):
                key = _key(row)
                user = user_guids[row["coder"]]
                attrib = {"guid": stable_guid("selection", *key),
                          "name": quote_name(text, row["start"], row["end"],
                                             line_names=self.line_names),
                          "startPosition": str(row["start"]), "endPosition": str(row["end"]),
                          "creatingUser": user}
                created = _datetime(row["created_at"])
                if created:
                    attrib["creationDateTime"] = created
                selection = ET.SubElement(source, "PlainTextSelection", attrib)
                coding_attrib = {"guid": stable_guid("coding", *key), "creatingUser": user}
                if created:
                    coding_attrib["creationDateTime"] = created
                coding = ET.SubElement(selection, "Coding", coding_attrib)
                ET.SubElement(coding, "CodeRef", {"targetGUID": guids[row["code_id"]]})
                for note_guid in coding_notes.get(key, []):
                    ET.SubElement(coding, "NoteRef", {"targetGUID": note_guid})
            for note_guid in transcript_notes.get(tid, []):
                ET.SubElement(source, "NoteRef", {"targetGUID": note_guid})
            members.append((f"sources/{guid}.txt", text.encode("utf-8")))
        return members


def _key(row: dict[str, Any]) -> tuple[str, int, int, str, str]:
    return (row["transcript_id"], row["start"], row["end"], row["code_id"], row["coder"])


def _zip(members: Sequence[tuple[str, bytes]]) -> bytes:
    """A ZIP archive of ``members`` (DEFLATE), the same bytes for the same members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=6)
    return buffer.getvalue()


# --- import: reading the archive --------------------------------------------------------------


@dataclass(slots=True)
class _FileCoding:
    line: int
    user: str | None  # GUID
    code: str | None  # GUID
    created: str | None
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _FileSelection:
    line: int
    name: str
    start: int
    end: int
    user: str | None
    created: str | None
    codings: list[_FileCoding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _FileSource:
    line: int
    guid: str
    name: str
    text: str | None  # None: no plain text in the file
    selections: list[_FileSelection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # variable GUID → value
    rich: bool = False  # the file also has a rich-text version of it


@dataclass(slots=True)
class _FileCase:
    line: int
    name: str
    values: dict[str, str] = field(default_factory=dict)  # variable GUID → value
    sources: list[str] = field(default_factory=list)  # source GUIDs


@dataclass(slots=True)
class _FileNote:
    guid: str
    text: str
    user: str | None
    created: str | None


@dataclass(slots=True)
class ProjectFile:
    """What qcode reads of a ``.qdpx``: users, codebook, variables, sources, notes."""

    path: Path
    member: str  # the .qde member
    name: str = ""
    origin: str = ""
    users: dict[str, str] = field(default_factory=dict)  # GUID → name
    codebook: XmlNode | None = None
    code_notes: dict[str, list[str]] = field(default_factory=dict)  # code GUID → note GUIDs
    variables: dict[str, str] = field(default_factory=dict)  # GUID → name
    cases: list[_FileCase] = field(default_factory=list)
    sources: list[_FileSource] = field(default_factory=list)
    notes: dict[str, _FileNote] = field(default_factory=dict)
    project_notes: list[str] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # one line each, with the XML line


_DROPPED = {
    "rich": "rich text formatting of {n} source(s) dropped (their plain text is read)",
    "picture": "{n} picture source(s) left out (qcode reads text sources only)",
    "PDF": "{n} PDF source(s) left out (qcode reads text sources only)",
    "audio": "{n} audio source(s) left out (qcode reads text sources only)",
    "video": "{n} video source(s) left out (qcode reads text sources only)",
    "Links": "{n} link(s) left out (qcode has no links)",
    "Sets": "{n} set(s) left out (qcode has no sets)",
    "Graphs": "{n} graph(s) left out (qcode has no graphs)",
    "Description": "the project's description left out",
    "source description": "{n} source description(s) left out",
    "selection description": "{n} selection description(s) left out",
    "source coding": "{n} coding(s) of whole sources left out (qcode codes passages)",
    "case code": "{n} code(s) on cases left out",
    "case selection": "{n} selection reference(s) of cases left out",
    "uncoded": "{n} selection(s) without a code (comments) left out",
    "note without text": "{n} note(s) without plain text left out",
    "missing note": "{n} reference(s) to notes that are not in the file ignored",
    "note on a coding left out": "{n} note(s) on codings that were left out, left out too",
    "unknown variable": "{n} value(s) of variables that are not declared left out",
    "unknown user": "{n} coding(s) by a user the file does not name: coder 'unknown'",
}


def _text(node: XmlNode) -> str:
    return "".join(node.text)


def _int(value: str | None) -> int | None:
    try:
        return int((value or "").strip())
    except ValueError:
        return None


class _Reader:
    def __init__(self, archive: zipfile.ZipFile, path: Path, member: str) -> None:
        self.archive = archive
        self.path = path
        self.file = ProjectFile(path, member)
        self.where = f"{path.name}/{member}"
        # sources/ or Sources/ (any case): file name in lower case → member
        self.internal: dict[str, str] = {}
        for info in archive.infolist():
            folder, _, rest = info.filename.partition("/")
            if folder.lower() == "sources" and rest and not info.is_dir():
                self.internal.setdefault(rest.lower(), info.filename)

    def problem(self, line: int, message: str) -> None:
        self.file.problems.append(f"{self.where}:{line}: {message}")

    def read(self, root: XmlNode) -> ProjectFile:
        pf = self.file
        pf.name = one_line(root.attrib.get("name", ""))
        pf.origin = one_line(root.attrib.get("origin", ""))
        for child in root.children:
            tag = child.tag
            if tag == "Users":
                self.users(child)
            elif tag == "CodeBook":
                pf.codebook = child
                self.code_notes(child)
            elif tag == "Variables":
                for var in child.children:
                    guid = normal_guid(var.attrib.get("guid"))
                    if var.tag == "Variable" and guid:
                        pf.variables[guid] = one_line(var.attrib.get("name", ""))
            elif tag == "Cases":
                for case in child.children:
                    if case.tag == "Case":
                        self.case(case)
            elif tag == "Sources":
                for source in child.children:
                    if source.tag == "TextSource":
                        self.source(source)
                    elif source.tag in _MEDIA:
                        pf.dropped[_MEDIA[source.tag]] += 1
                    else:
                        self.problem(source.line, f"<{source.tag}> ignored (not a source)")
            elif tag == "Notes":
                for note in child.children:
                    if note.tag == "Note":
                        self.note(note)
            elif tag == "NoteRef":
                if guid := normal_guid(child.attrib.get("targetGUID")):
                    pf.project_notes.append(guid)
            elif tag in ("Links", "Sets", "Graphs"):
                pf.dropped[tag] += len(child.children)
            elif tag == "Description":
                if _text(child).strip():
                    pf.dropped["Description"] += 1
            else:
                self.problem(child.line, f"<{tag}> ignored (not part of a REFI-QDA project)")
        return pf

    def users(self, node: XmlNode) -> None:
        for user in node.children:
            guid = normal_guid(user.attrib.get("guid"))
            if user.tag != "User" or guid is None:
                continue
            name = one_line(user.attrib.get("name") or user.attrib.get("id") or "")
            self.file.users[guid] = name[:200] or f"user-{guid[:8]}"

    def code_notes(self, codebook: XmlNode) -> None:
        stack = list(codebook.children)
        while stack:
            node = stack.pop()
            if node.tag == "Code":
                guid = normal_guid(node.attrib.get("guid"))
                refs = [g for c in node.children if c.tag == "NoteRef"
                        if (g := normal_guid(c.attrib.get("targetGUID")))]
                if guid and refs:
                    self.file.code_notes.setdefault(guid, []).extend(refs)
            stack.extend(node.children)

    def values(self, node: XmlNode, into: dict[str, str]) -> None:
        """A ``<VariableValue>``: its variable's GUID → the value as text."""
        ref: str | None = None
        value: str | None = None
        for child in node.children:
            if child.tag == "VariableRef":
                ref = normal_guid(child.attrib.get("targetGUID"))
            elif child.tag.endswith("Value"):
                value = one_line(_text(child))
        if ref is not None and value:
            into[ref] = value

    def case(self, node: XmlNode) -> None:
        case = _FileCase(node.line, one_line(node.attrib.get("name", "")))
        for child in node.children:
            if child.tag == "VariableValue":
                self.values(child, case.values)
            elif child.tag == "SourceRef":
                if guid := normal_guid(child.attrib.get("targetGUID")):
                    case.sources.append(guid)
            elif child.tag == "CodeRef":
                self.file.dropped["case code"] += 1
            elif child.tag == "SelectionRef":
                self.file.dropped["case selection"] += 1
        self.file.cases.append(case)

    def member_text(self, path_attr: str, line: int, what: str) -> str | None:
        """The text of an ``internal://`` file, None (with a problem) when it is not there."""
        if not path_attr.lower().startswith("internal://"):
            self.problem(line, f"{what}: its text is not inside the archive "
                         f"({path_attr!r}): left out")
            return None
        rest = path_attr[len("internal://"):].lstrip("/").lower()
        if rest.startswith("sources/"):
            rest = rest[len("sources/"):]
        member = self.internal.get(rest)
        if member is None:
            self.problem(line, f"{what}: {path_attr!r} is not in the archive: left out")
            return None
        data = read_member(self.archive, member, self.path, KIND)
        from qcode.ingest.encoding import decode_text

        try:
            return decode_text(data, f"{self.path}/{member}") if data.strip() else ""
        except InputError as exc:
            raise InputError(f"{member}: {exc.message}", path=self.path, hint=exc.hint) from None

    def source(self, node: XmlNode) -> None:
        guid = normal_guid(node.attrib.get("guid")) or stable_guid("unnamed-source", node.line)
        name = one_line(node.attrib.get("name", "")) or f"source-{guid[:8]}"
        plain = node.attrib.get("plainTextPath", "").strip()
        inline = next((c for c in node.children if c.tag == "PlainTextContent"), None)
        text: str | None = None
        if plain:
            text = self.member_text(plain, node.line, f"source {name!r}")
        elif inline is not None:
            text = _text(inline)
        elif node.attrib.get("richTextPath"):
            self.problem(node.line, f"source {name!r} has rich text only: left out")
        else:
            self.problem(node.line, f"source {name!r} has no text: left out")
        source = _FileSource(node.line, guid, name, text,
                             rich=bool(node.attrib.get("richTextPath")))
        for child in node.children:
            if child.tag == "PlainTextSelection":
                self.selection(child, source)
            elif child.tag == "Coding":
                self.file.dropped["source coding"] += 1
            elif child.tag == "NoteRef":
                if ref := normal_guid(child.attrib.get("targetGUID")):
                    source.notes.append(ref)
            elif child.tag == "VariableValue":
                self.values(child, source.values)
            elif child.tag == "Description" and _text(child).strip():
                self.file.dropped["source description"] += 1
        self.file.sources.append(source)

    def selection(self, node: XmlNode, source: _FileSource) -> None:
        start = _int(node.attrib.get("startPosition"))
        end = _int(node.attrib.get("endPosition"))
        if start is None or end is None:
            self.problem(node.line, "a selection without valid startPosition and endPosition: "
                         "left out")
            return
        selection = _FileSelection(node.line, node.attrib.get("name", ""), start, end,
                                   normal_guid(node.attrib.get("creatingUser")),
                                   _datetime(node.attrib.get("creationDateTime")))
        for child in node.children:
            if child.tag == "Coding":
                coding = _FileCoding(child.line,
                                     normal_guid(child.attrib.get("creatingUser")), None,
                                     _datetime(child.attrib.get("creationDateTime")))
                for part in child.children:
                    if part.tag == "CodeRef":
                        coding.code = normal_guid(part.attrib.get("targetGUID"))
                    elif part.tag == "NoteRef" and (
                            ref := normal_guid(part.attrib.get("targetGUID"))):
                        coding.notes.append(ref)
                selection.codings.append(coding)
            elif child.tag == "NoteRef":
                if ref := normal_guid(child.attrib.get("targetGUID")):
                    selection.notes.append(ref)
            elif child.tag == "Description" and _text(child).strip():
                self.file.dropped["selection description"] += 1
        source.selections.append(selection)

    def note(self, node: XmlNode) -> None:
        guid = normal_guid(node.attrib.get("guid"))
        if guid is None:
            return
        plain = node.attrib.get("plainTextPath", "").strip()
        inline = next((c for c in node.children if c.tag == "PlainTextContent"), None)
        text: str | None = None
        if inline is not None:
            text = _text(inline)
        elif plain:
            text = self.member_text(plain, node.line, "a note")
        if text is None or not text.strip():
            self.file.dropped["note without text"] += 1
            return
        self.file.notes[guid] = _FileNote(guid, normalise_text(text).strip(),
                                          normal_guid(node.attrib.get("creatingUser")),
                                          _datetime(node.attrib.get("creationDateTime")))


def _project_member(archive: zipfile.ZipFile, path: Path) -> str:
    """The ``.qde`` member: ``project.qde`` or any other single ``*.qde``."""
    names = [i.filename for i in archive.infolist() if not i.is_dir()]
    qdes = [n for n in names if n.lower().endswith(".qde")]
    top = [n for n in qdes if "/" not in n]
    chosen = top or qdes
    if not chosen:
        raise InputError("not a REFI-QDA project: no .qde file in the archive", path=path,
                         hint="export the project from the other tool as REFI-QDA (.qdpx)")
    if len(chosen) > 1:
        exact = [n for n in chosen if n.lower() == "project.qde"]
        if len(exact) != 1:
            raise InputError(f"several .qde files in the archive: {_shown(chosen)}", path=path,
                             hint="a .qdpx holds one project")
        chosen = exact
    return chosen[0]


def read_project(data: bytes, path: Path, limits: Limits) -> ProjectFile:
    """Read a ``.qdpx`` archive (the bytes of ``path``); hostile files raise InputError."""
    hint = ("the file is truncated or damaged: export it again" if data.startswith(b"PK")
            else "a .qdpx is a ZIP archive; this file is not one, whatever its extension says")
    archive = open_zip(data, path, KIND, limits, hint=hint)
    with archive:
        check_member_names(archive, path, KIND)
        member = _project_member(archive, path)
        where = f"{path}/{member}"
        root = parse_xml(read_member(archive, member, path, KIND), where, root="Project")
        if root.ns != PROJECT_NS:
            which = f"the namespace {root.ns!r}" if root.ns else "no namespace"
            raise InputError(f"not a REFI-QDA project: the root element <Project> has {which}, "
                             f"not {PROJECT_NS}", path=where, line=root.line,
                             hint="the file does not follow the standard: export it again "
                                  "from the other tool")
        return _Reader(archive, path, member).read(root)


# --- import: offsets --------------------------------------------------------------------------


def _name_matches(name: str, text: str, start: int) -> bool:
    """Does a selection's name say it starts at ``start`` of ``text``? A name is the start of
    the quote (maybe cut, with '…'), or qc's ``line:N`` (the 0-based line of the start)."""
    if not 0 <= start < len(text):
        return False
    line = _LINE_NAME_RE.match(name)
    if line is not None and text.count("\n", 0, start) != int(line.group(1)):
        return False
    wanted = " ".join(name[line.end() if line else 0:].rstrip("…").split())
    if not wanted:
        return line is not None
    found = " ".join(text[start:start + 2 * len(wanted) + 16].split())
    return found.startswith(wanted)


def _bounded(text: str, start: int, end: int) -> bool:
    """Does ``[start, end)`` begin and end at word or line boundaries of ``text``?"""
    if not 0 <= start < end <= len(text):
        return False
    before = start == 0 or not text[start - 1].isalnum() or not text[start].isalnum()
    after = end == len(text) or not text[end].isalnum() or not text[end - 1].isalnum()
    return before and after


@dataclass(slots=True)
class _Offsets:
    """Maps a source's selection offsets to its normalised text."""

    lf: str  # the text with \n line ends (not yet NFC)
    count_crlf_as_two: bool
    crlf: list[int]  # offsets of the \r of each \r\n in the raw text
    note: str = ""

    def to_lf(self, offset: int) -> int:
        if not self.count_crlf_as_two:
            return offset
        return offset - bisect.bisect_left(self.crlf, offset)


def _offsets(raw: str, selections: Sequence[_FileSelection]) -> _Offsets:
    """How the tool counted ``\\r\\n``: as two characters (the standard's code points of the
    file) or one (some tools); decided by the selections' names, then their boundaries."""
    lf = raw.replace("\r\n", "\n").replace("\r", "\n")
    crlf = [m.start() for m in re.finditer("\r\n", raw)]
    if not crlf:
        return _Offsets(lf, False, [])
    scores = []
    for text in (raw, lf):
        named = sum(1 for s in selections if _name_matches(s.name, text, s.start))
        bounded = sum(1 for s in selections if _bounded(text, s.start, s.end))
        scores.append((named, bounded))
    if any(s.end > len(lf) for s in selections) or scores[0] > scores[1]:
        return _Offsets(lf, True, crlf)
    if scores[1] > scores[0]:
        return _Offsets(lf, False, crlf, "counts \\r\\n as one character")
    return _Offsets(lf, True, crlf, "could not tell how the tool counted \\r\\n: read as two "
                    "characters, as the standard says" if selections else "")


# --- import: into the project -----------------------------------------------------------------


@dataclass(slots=True)
class QdpxImport:
    """What an import of a ``.qdpx`` did, and what it left out (``notes``)."""

    path: str
    origin: str
    transcripts_added: list[str] = field(default_factory=list)
    transcripts_matched: list[str] = field(default_factory=list)
    codings_added: int = 0
    codings_present: int = 0
    memos_added: int = 0
    attributes_set: int = 0
    coders: list[str] = field(default_factory=list)
    codebook: str = "none"  # written | existing | none
    codes_matched: int = 0
    codes_unmatched: list[str] = field(default_factory=list)
    files_written: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Placed:
    """A source as it lands in the project."""

    source: _FileSource
    tid: str
    text: str  # the transcript's text in the store
    spans: list[tuple[_FileSelection, int, int]]  # selections placed on ``text``
    file: Path | None = None  # a new transcript: the file it is written to
    parsed: ParsedTranscript | None = None  # … as the reader reads it
    record: TranscriptRecord | None = None  # … and as the store keeps it


def _now() -> str:
    return cq.now()


def _safe_id(name: str, project: Project) -> str:
    """A transcript id (and file name) from a source's name."""
    base = PurePosixPath(unicodedata.normalize("NFC", one_line(name)).replace("\\", "/")).name
    base = _DOCUMENT_EXT_RE.sub("", base)
    tid = re.sub(r"[^\w.\-]+", "-", base).strip("-._")[:100] or "source"
    if any(fnmatch.fnmatch(f"{tid}.txt", pattern) for pattern in project.ignore):
        tid = f"source-{tid}"
    return tid


def _paragraph_turns(text: str) -> ParsedTranscript:
    """A text without speaker labels: one turn per paragraph (line), without speaker."""
    turns = []
    for match in re.finditer(r"[^\n]+", text):
        start, end = match.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            turns.append(Turn("", start, end))
    return ParsedTranscript(text, turns, "txt", {}, [
        "imported from a REFI-QDA project: one turn per paragraph, without speaker"])


class _Importer:
    def __init__(self, project: Project, store: Store, pf: ProjectFile,
                 today: dt.date | None) -> None:
        self.project = project
        self.store = store
        self.pf = pf
        self.today = today
        self.result = QdpxImport(str(pf.path), pf.origin)
        self.notes: list[str] = []
        self.dropped = Counter(pf.dropped)
        self.code_map: dict[str, str] = {}  # code GUID → qcode id
        self.code_names: dict[str, str] = {}  # code GUID → name in the file
        self.book: Codebook | None = None
        self.yaml_text: str | None = None
        self.placed: list[_Placed] = []
        self.sheet_rows: dict[str, dict[str, str]] = {}  # values for the attribute sheet
        self.existing_attributes: dict[str, dict[str, str]] = {}  # transcripts in the store

    def where(self, line: int) -> str:
        """``file.qdpx/project.qde:line``, as messages name a place in the project file."""
        return f"{self.pf.path.name}/{self.pf.member}:{line}"

    # -- codes

    def codebook(self) -> None:
        pf = self.pf
        qdc: QdcImport | None = None
        if pf.codebook is not None and any(
                codes.tag == "Codes" and any(c.tag == "Code" for c in codes.children)
                for codes in pf.codebook.children):
            qdc = codebook_from_tree(pf.codebook, Path(pf.path.name), imported_on=self.today,
                                     origin=pf.origin, allowed=frozenset({"NoteRef"}))
            self.code_names = {c.guid: c.name for c in qdc.entries if c.guid}
        path = self.project.root / self.project.codebook
        if not path.exists():
            if qdc is not None:  # the notes say how the codebook was written
                self.notes.extend(f"{pf.member} {n}" if n.startswith("line ") else n
                                  for n in qdc.notes)
                self.yaml_text = qdc.yaml_text
                self.code_map = qdc.guids
                self.result.codebook = "written"
                self.result.codes_matched = len(qdc.entries)
            return
        from qcode.codebook_sync import open_synced

        self.book, _ = open_synced(self.project, self.store)
        self.result.codebook = "existing"
        if qdc is not None:
            self.match_codes(self.book, qdc)

    def match_codes(self, book: Codebook, qdc: QdcImport) -> None:
        """Each code of the file → the project's code with its qcode-id, GUID, else name."""
        by_guid = {code_guid(code): code.id for code in book.codes.values()}
        by_name: dict[str, set[str]] = {}
        for code in book.codes.values():
            for name in (code.label, code.id):
                by_name.setdefault(fold(name), set()).add(code.id)
        for entry in qdc.entries:
            target: str | None = None
            if entry.qcode_id and entry.qcode_id in book.codes:
                target = entry.qcode_id
            elif entry.guid and entry.guid in by_guid:
                target = by_guid[entry.guid]
            elif len(candidates := by_name.get(fold(entry.name), set())) == 1:
                target = next(iter(candidates))
            if target is None:
                self.result.codes_unmatched.append(entry.name or entry.id)
                continue
            self.result.codes_matched += 1
            if entry.guid:
                self.code_map[entry.guid] = target
        if self.result.codes_unmatched:
            self.notes.append(
                f"{_plural(len(self.result.codes_unmatched), 'code')} of the file "
                f"{'is' if len(self.result.codes_unmatched) == 1 else 'are'} not in the "
                f"project's codebook: {_shown(self.result.codes_unmatched)}")

    # -- sources

    def sources(self) -> None:
        with self.store.read() as conn:
            by_hash = xq.ids_by_text_hash(conn)
            stored = set(tq.transcript_ids(conn))
            self.existing_attributes = tq.all_attributes(conn)
        folder = self.project.root / self.project.transcripts_dir
        taken = {tid.casefold() for tid in stored}
        if folder.is_dir():
            taken |= {p.stem.casefold() for p in folder.iterdir()}
        new_hashes: dict[str, _Placed] = {}
        for source in self.pf.sources:
            if source.text is None:
                continue
            raw = source.text[1:] if source.text.startswith("\ufeff") else source.text
            offsets = _offsets(raw, source.selections)
            text = unicodedata.normalize("NFC", offsets.lf)
            if not text.strip():
                self.notes.append(f"source {source.name!r} has no text: left out"
                                  + (f" with its {_plural(len(source.selections), 'selection')}"
                                     if source.selections else ""))
                continue
            if source.rich:
                self.dropped["rich"] += 1
            if offsets.note and source.selections:
                self.notes.append(f"source {source.name!r}: {offsets.note}")
            spans = self.spans(source, offsets, text)
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            if digest in by_hash:
                placed = _Placed(source, by_hash[digest], text, spans)
                self.result.transcripts_matched.append(placed.tid)
            elif digest in new_hashes:
                placed = _Placed(source, new_hashes[digest].tid, text, spans)
            else:
                tid = candidate = _safe_id(source.name, self.project)
                n = 2
                while tid.casefold() in taken:
                    tid, n = f"{candidate}-{n}", n + 1
                taken.add(tid.casefold())
                placed = _Placed(source, tid, text, spans, file=folder / f"{tid}.txt")
                new_hashes[digest] = placed
                self.result.transcripts_added.append(tid)
            self.placed.append(placed)

    def spans(self, source: _FileSource, offsets: _Offsets, text: str
              ) -> list[tuple[_FileSelection, int, int]]:
        """The selections placed on the normalised ``text`` (NFC may change its length)."""
        from qcode.anchor import OffsetMap, place

        lf = offsets.lf
        mapping = OffsetMap(lf, text) if text != lf else None
        out = []
        for sel in source.selections:
            start, end = offsets.to_lf(sel.start), offsets.to_lf(sel.end)
            if not 0 <= start < end <= len(lf):
                self.pf.problems.append(
                    f"{self.where(sel.line)}: selection [{sel.start}:{sel.end}] of source "
                    f"{source.name!r} is empty or outside its text ({len(lf)} characters): "
                    "left out")
                continue
            if mapping is not None:
                placement = place(mapping, start, end, lf[start:end])
                if placement.flag:
                    self.pf.problems.append(
                        f"{self.where(sel.line)}: selection of source {source.name!r} could "
                        "not be placed on its normalised text: left out")
                    continue
                start, end = placement.start, placement.end
            out.append((sel, start, end))
        return out

    # -- attributes

    def attributes(self) -> None:
        pf = self.pf
        by_guid = {s.guid: s for s in pf.sources}
        by_name: dict[str, list[str]] = {}
        for s in pf.sources:
            by_name.setdefault(s.name, []).append(s.guid)
        values: dict[str, dict[str, str]] = {}  # source GUID → variable GUID → value
        for case in pf.cases:
            targets = [g for g in case.sources if g in by_guid] or by_name.get(case.name, [])
            if not targets:
                if case.values:
                    self.notes.append(f"{self.where(case.line)}: case {case.name!r} refers "
                                      f"to no source: its {_plural(len(case.values), 'value')} "
                                      "left out")
                continue
            for guid in targets:
                values.setdefault(guid, {}).update(case.values)
        for s in pf.sources:  # values on a source win over those of its case
            values.setdefault(s.guid, {}).update(s.values)
        ids = {name.casefold() for name in ID_COLUMNS}
        refused: set[str] = set()
        with_values: dict[str, dict[str, str]] = {}  # transcript → attribute → value
        for placed in self.placed:
            for var, value in values.get(placed.source.guid, {}).items():
                name = pf.variables.get(var)
                if name is None:
                    self.dropped["unknown variable"] += 1
                    continue
                if not name or name.casefold() in ids:
                    refused.add(name)
                    continue
                row = with_values.setdefault(placed.tid, {})
                if row.get(name, value) != value:
                    self.notes.append(f"transcript {placed.tid!r}: two values of {name!r} "
                                      f"({row[name]!r}, {value!r}): the first kept")
                    continue
                row[name] = value
        if refused:
            self.notes.append(f"variables named like the sheet's id column left out: "
                              f"{_shown(sorted(refused))}")
        sheet_path = self.project.root / self.project.attributes_path
        sheet = read_sheet(sheet_path) if sheet_path.is_file() else None
        if sheet is not None and not sheet.readable and with_values:
            raise InputError("the attribute sheet cannot be read, so the project's variables "
                             "cannot be added to it", path=sheet_path,
                             hint="fix the sheet ('qcode ingest' lists its problems), then "
                                  "import again")
        parsed = {p.tid: p.parsed.attributes for p in self.placed if p.parsed is not None}
        for tid, row in with_values.items():
            current = dict(sheet.rows.get(tid, {})) if sheet is not None else {}
            for known in (self.existing_attributes.get(tid, {}), parsed.get(tid, {})):
                current.update({k: v for k, v in known.items() if k not in current})
            additions = {}
            for name, value in row.items():
                if name not in current:
                    additions[name] = value
                elif current[name] != value:
                    self.notes.append(f"transcript {tid!r}: {name} is {current[name]!r} in the "
                                      f"project and {value!r} in the file: the project's kept")
            if additions:
                self.sheet_rows[tid] = additions
                self.result.attributes_set += len(additions)

    # -- new transcripts

    def parse(self) -> None:
        """Read each new transcript's text as ``qcode ingest`` would read its file."""
        from qcode.ingest.pipeline import read_file

        limits = self.project.limits
        unsegmented: dict[str, list[str]] = {}  # why the reader refused → transcripts
        rebuilt: dict[str, tuple[str, str]] = {}  # tid → (text, text as read)
        for placed in self.placed:
            if placed.file is not None:
                try:
                    placed.parsed = read_file(placed.file, placed.text.encode("utf-8"),
                                              self.project.speakers.known_labels(placed.tid),
                                              limits)
                except InputError as exc:  # most often: no speaker labels
                    placed.parsed = _paragraph_turns(placed.text)
                    if len(placed.parsed.turns) > limits.max_turns:
                        raise InputError(
                            f"source {placed.source.name!r}: {len(placed.parsed.turns)} "
                            f"paragraphs, the limit is {limits.max_turns} turns",
                            path=self.where(placed.source.line)) from None
                    unsegmented.setdefault(exc.message, []).append(placed.tid)
                if placed.parsed.text != placed.text:  # a reader that rebuilds the text (rare)
                    rebuilt[placed.tid] = (placed.text, placed.parsed.text)
            if placed.tid in rebuilt and placed.text == rebuilt[placed.tid][0]:
                placed.spans = self._moved(placed, rebuilt[placed.tid][1])
                placed.text = rebuilt[placed.tid][1]
        for reason, ids in unsegmented.items():
            self.notes.append(f"{_plural(len(ids), 'source')} ({_shown(ids)}) read as one turn "
                              f"per paragraph, without speaker: {reason}")

    def records(self) -> None:
        """The store's record of each new transcript, with its attributes."""
        from qcode.ingest.pipeline import build_record

        sheet_path = self.project.root / self.project.attributes_path
        sheet = read_sheet(sheet_path) if sheet_path.is_file() else None
        for placed in self.placed:
            if placed.file is None or placed.parsed is None:
                continue
            row = {**self.sheet_rows.get(placed.tid, {}),
                   **(sheet.rows.get(placed.tid, {}) if sheet is not None else {})}
            placed.record = build_record(self.project, placed.tid, placed.file,
                                         placed.text.encode("utf-8"), placed.parsed, row)
            placed.text = placed.record.text

    def _moved(self, placed: _Placed, new: str) -> list[tuple[_FileSelection, int, int]]:
        from qcode.anchor import OffsetMap, place

        mapping = OffsetMap(placed.text, new)
        out = []
        for sel, start, end in placed.spans:
            placement = place(mapping, start, end, placed.text[start:end])
            if placement.flag:
                self.pf.problems.append(f"{self.where(sel.line)}: selection could not be "
                                        "placed on the text as read: left out")
                continue
            out.append((sel, placement.start, placement.end))
        return out

    # -- codings and memos

    def codings(self) -> tuple[dict[xq.CodingKey, dict[str, Any]],
                               list[tuple[str, Any, str]]]:
        """The codings to add (by key) and the memos: (target type, target, note GUID)."""
        pf = self.pf
        rows: dict[xq.CodingKey, dict[str, Any]] = {}
        memos: list[tuple[str, Any, str]] = [("project", "", g) for g in pf.project_notes]
        unknown: Counter[str] = Counter()  # code name (known to the file) → codings
        undefined = 0  # codings whose CodeRef names no code of the file
        texts = {p.tid: p.text for p in self.placed}
        for placed in self.placed:
            text = texts[placed.tid]
            memos.extend(("transcript", placed.tid, g) for g in placed.source.notes)
            for sel, start, end in placed.spans:
                if not sel.codings:
                    if sel.notes:
                        memos.extend(("passage", (placed.tid, start, end), g)
                                     for g in sel.notes)
                    else:
                        self.dropped["uncoded"] += 1
                    continue
                for coding in sel.codings:
                    code = self.code_map.get(coding.code or "")
                    if code is None:
                        if (coding.code or "") in self.code_names:
                            unknown[self.code_names[coding.code or ""]] += 1
                        else:
                            undefined += 1
                        continue
                    user = coding.user or sel.user
                    coder = pf.users.get(user or "")
                    if coder is None:
                        self.dropped["unknown user"] += 1
                        coder = UNKNOWN_CODER
                    key = (placed.tid, start, end, code, coder)
                    created = coding.created or sel.created or _now()
                    rows.setdefault(key, {
                        "transcript_id": placed.tid, "start": start, "end": end,
                        "code_id": code, "coder": coder, "origin": "import",
                        "snapshot": text[start:end], "memo": "", "created_at": created,
                        "updated_at": created, "flag": "", "flag_note": ""})
                    memos.extend(("coding", key, g) for g in [*coding.notes, *sel.notes])
        if undefined:
            self.notes.append(f"{_plural(undefined, 'coding')} of codes the file does not "
                              "define left out")
        for name, n in sorted(unknown.items()):
            self.notes.append(f"{_plural(n, 'coding')} of code {name!r}, which is not in the "
                              "project's codebook, left out (add it with 'qcode codebook add', "
                              "then import again)")
        for code_guid_, refs in sorted(pf.code_notes.items()):
            code = self.code_map.get(code_guid_)
            if code is not None:
                memos.extend(("code", code, g) for g in refs)
        referenced = {g for _, _, g in memos}
        memos.extend(("project", "", g) for g in pf.notes if g not in referenced)
        return rows, memos

    def memo_rows(self, memos: list[tuple[str, Any, str]], ids: dict[xq.CodingKey, int],
                  existing: set[xq.MemoKey], texts: dict[str, str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        seen = set(existing)
        for kind, target, guid in memos:
            note = self.pf.notes.get(guid)
            if note is None:
                self.dropped["missing note"] += 1
                continue
            text = note.text
            if kind == "coding":
                if target not in ids:  # the coding was left out (an unknown code)
                    self.dropped["note on a coding left out"] += 1
                    continue
                target_id = str(ids[target])
            elif kind == "passage":  # a note on a selection without a code
                tid, start, end = target
                kind, target_id = "transcript", tid
                text = f"[{start}:{end}] « {quote_name(texts[tid], start, end)} »\n{text}"
            else:
                target_id = str(target)
            coder = self.pf.users.get(note.user or "", UNKNOWN_CODER)
            key = (kind, target_id, coder, text)
            if key in seen:
                continue
            seen.add(key)
            created = note.created or _now()
            out.append({"target_type": kind, "target_id": target_id, "coder": coder,
                        "text": text, "created_at": created, "updated_at": created})
        return out

    # -- everything at once

    def run(self) -> QdpxImport:
        self.codebook()
        self.sources()
        self.parse()
        self.attributes()
        self.records()
        rows, memos = self.codings()
        writes = _Files()
        try:
            if self.yaml_text is not None:
                path = self.project.root / self.project.codebook
                writes.create(path, self.yaml_text.encode("utf-8"), shared=True)
                self.book = load_valid(path)
            for placed in self.placed:
                if placed.record is not None and placed.file is not None:
                    writes.create(placed.file, placed.text.encode("utf-8"))
            if self.sheet_rows:
                sheet_path = self.project.root / self.project.attributes_path
                writes.replace(sheet_path, _merged_sheet(sheet_path, self.sheet_rows))
            self.commit(rows, memos)
        except BaseException:
            writes.undo()
            raise
        result = self.result
        result.files_written = [str(p) for p in writes.created + writes.replaced]
        result.coders = sorted({r["coder"] for r in rows.values()}
                               | set(self.pf.users.values()))
        for kind, n in self.dropped.items():
            if n:
                result.notes.append(_DROPPED[kind].format(n=n))
        result.notes = [*self.notes, *self.pf.problems, *result.notes]
        return result

    def commit(self, rows: dict[xq.CodingKey, dict[str, Any]],
               memos: list[tuple[str, Any, str]]) -> None:
        from qcode.codebook_sync import mark_synced
        from qcode.ingest.roles import roles_key

        texts = {p.tid: p.text for p in self.placed}
        with self.store.write() as conn:
            for placed in self.placed:
                record = placed.record
                if record is None:
                    continue
                if tq.text_of(conn, record.id) is not None:
                    raise QcodeError(f"transcript {record.id!r} was added by another process "
                                     "during the import; nothing was imported",
                                     hint="run the import again")
                tq.save(conn, record)
                interviewer = record.attributes.get("interviewer", (None, ""))[0]
                tq.set_roles_key(conn, record.id, roles_key(self.project.speakers, record.id,
                                                            interviewer))
            for tid in sorted(set(self.sheet_rows) - {p.record.id for p in self.placed
                                                      if p.record is not None}):
                merged = {**{k: (v, "sheet") for k, v in self.sheet_rows[tid].items()},
                          **tq.attributes_of(conn, tid)}
                tq.set_attributes(conn, tid, merged)
            if self.yaml_text is not None and self.book is not None:
                mark_synced(conn, self.book)
            existing = xq.coding_ids(conn, sorted(texts))
            new = [row for key, row in rows.items() if key not in existing]
            self.result.codings_present = len(rows) - len(new)
            self.result.codings_added = len(new)
            xq.insert_codings(conn, new)
            ids = xq.coding_ids(conn, sorted(texts)) if new or memos else existing
            memo_rows = self.memo_rows(memos, ids, xq.memo_keys(conn), texts)
            xq.insert_memos(conn, memo_rows)
            self.result.memos_added = len(memo_rows)


class _Files:
    """Files written before the store transaction, undone if anything fails after."""

    def __init__(self) -> None:
        self.created: list[Path] = []
        self.replaced: list[Path] = []
        self.originals: list[tuple[Path, bytes | None]] = []

    def create(self, path: Path, data: bytes, *, shared: bool = False) -> None:
        if path.exists():
            raise QcodeError("already exists: qcode does not overwrite it", path=path,
                             hint="another process wrote it meanwhile; run the import again")
        self._write(path, data, shared)
        self.created.append(path)

    def replace(self, path: Path, data: bytes) -> None:
        try:
            original = path.read_bytes() if path.exists() else None
        except OSError as exc:
            raise QcodeError(f"cannot read the file: {exc.strerror}", path=path) from None
        self._write(path, data, True)
        self.originals.append((path, original))
        (self.replaced if original is not None else self.created).append(path)

    @staticmethod
    def _write(path: Path, data: bytes, shared: bool) -> None:
        from qcode import fileutil
        from qcode.refi import write_atomic

        if shared:  # the codebook and the sheet: the usual permissions, like the user's files
            write_atomic(path, data)
            return
        try:  # a transcript: personal data, readable by its owner only
            fileutil.write_atomic(path, data)
        except OSError as exc:
            raise QcodeError(f"cannot write the file: {exc.strerror or exc}", path=path) from None

    def undo(self) -> None:
        for path, original in reversed(self.originals):
            if original is not None:
                with contextlib.suppress(QcodeError):
                    self._write(path, original, True)
        for path in reversed(self.created):
            path.unlink(missing_ok=True)


def _merged_sheet(path: Path, rows: dict[str, dict[str, str]]) -> bytes:
    """The attribute sheet with ``rows`` added: new columns at the end, new rows at the end,
    empty cells of existing rows filled; the file's delimiter, BOM and line ends kept."""
    from qcode.ingest.encoding import decode_text

    header: list[str] = []
    body: list[list[str]] = []
    delimiter, newline, bom = ",", "\n", False
    if path.is_file():
        data = path.read_bytes()
        bom = data.startswith(b"\xef\xbb\xbf")
        newline = "\r\n" if b"\r\n" in data else "\n"
        text = normalise_text(decode_text(data, path))
        try:
            delimiter = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t").delimiter
        except csv.Error:
            delimiter = ","
        table = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter)]
        header, body = (table[0], table[1:]) if table else ([], [])
    if not header:
        header = ["id"]
    lowered = [h.strip().casefold() for h in header]
    id_col = next((lowered.index(c) for c in ID_COLUMNS if c in lowered), 0)
    names = [h.strip() for h in header]
    for values in rows.values():
        for name in values:
            if name not in names:
                names.append(name)
                header.append(name)
    width = len(header)
    index = {r[id_col].strip(): r for r in body if len(r) > id_col and r[id_col].strip()}
    for tid, values in rows.items():
        row = index.get(tid)
        if row is None:
            row = [""] * width
            row[id_col] = tid
            body.append(row)
            index[tid] = row
        row.extend([""] * (width - len(row)))
        for name, value in values.items():
            column = names.index(name)
            if not row[column].strip():
                row[column] = value
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(body)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")


def import_qdpx(project: Project, store: Store, path: Path, *,
                today: dt.date | None = None) -> QdpxImport:
    """Import a ``.qdpx`` project into ``project`` (see the module's docstring for the rules).

    Raises :class:`InputError` for a file that cannot be read or is hostile; nothing is
    imported then, nor when anything else fails.
    """
    data = read_limited(path, project.limits, ".qdpx file")
    pf = read_project(data, path, project.limits)
    return _Importer(project, store, pf, today).run()


__all__ = ["PROJECT_NS", "ProjectFile", "QdpxExport", "QdpxImport", "default_path",
           "export_qdpx", "import_qdpx", "quote_name", "read_project", "stable_guid",
           "write_qdpx"]

