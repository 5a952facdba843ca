"""REFI-QDA exchange with other QDA tools: codebooks (``.qdc``), and the codebook part and the
hardened XML parsing of projects (``.qdpx``, :mod:`qcode.qdpx`).

REFI-QDA (``urn:QDA-XML:codebook:1.0``) is what NVivo, ATLAS.ti, MAXQDA, QualCoder and others
read and write. It has fewer fields than a qcode codebook, so the export and the import agree on
the following mapping.

Codebook export (:func:`codebook_to_qdc`)
-----------------------------------------

========================  ======================================================================
qcode YAML                ``.qdc``
========================  ======================================================================
theme / code / sub-code   nested ``<Code>`` elements under ``<Codes>``; themes are top level
``label``                 ``name``
``codable``               ``isCodable`` (themes are ``false`` by default: folders in other tools)
``color``                 ``color`` (``#RRGGBB``)
``guid``                  ``guid``; without one, ``uuid5(QCODE_GUID_NAMESPACE, id)``, so that the
                          same codebook always gives the same GUIDs (re-exports do not churn)
``description``           first paragraph(s) of ``<Description>``
``include``, ``exclude``  ``<Description>`` paragraphs ``Inclure : …`` and ``Exclure : …``
``examples``              a ``<Description>`` paragraph ``Exemples :`` then one ``- …`` line per
                          example (continuation lines indented by two spaces)
``id``                    the last line of ``<Description>``: ``qcode-id: <id>`` (REFI-QDA has
                          no field for it; the import reads it back so codings keep their code)
``keywords``, ``key``,    not carried: REFI-QDA has no field for them (the export says so in a
``unit``, keyword opts.   note; they stay in the YAML)
========================  ======================================================================

The paragraph labels are French (``Inclure :``, ``Exclure :``, ``Exemples :``) unless the
codebook's language (or the project's) is another one, in which case they are English
(``Include:``, ``Exclude:``, ``Examples:``); the import reads both. Paragraphs are separated by a
blank line. Characters that XML 1.0 cannot hold (control characters) are left out.

Codebook import (:func:`qdc_to_codebook_yaml`)
----------------------------------------------

The file is parsed with :mod:`defusedxml`: entity declarations (billion laughs) and external
references are refused, a plain ``<!DOCTYPE>`` is harmless and ignored. What other tools write is
accepted: no colours, folders (``isCodable="false"``) at any depth, duplicate names under
different parents, character references, a BOM, CRLF line ends, ``#RGB`` colours (expanded),
GUIDs in braces or upper case (normalised to lower case without braces, as qcode stores them).
A root ``<CodeBook>`` without the REFI-QDA namespace is read with a note (strict importers refuse
it). Top-level codes become themes. Ids come from the ``qcode-id:`` line when it is there, valid
and unique; otherwise from the name: lower case, accents kept, every run of characters that are
not letters or digits becomes ``-`` (``Santé & soin`` → ``santé-soin``), made unique with ``-2``,
``-3``… Each code keeps its GUID in ``guid:``. ``<Sets>``, invalid colours and GUIDs, and unknown
elements are dropped, each with a note.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import unicodedata
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.parsers import expat

import yaml
from defusedxml import (
    DefusedXmlException,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)
from defusedxml.ElementTree import DefusedXMLParser

from qcode import __version__
from qcode.codebook import ID_RE, Code, Codebook
from qcode.errors import InputError, QcodeError, ValidationError
from qcode.ingest.limits import DEFAULT_LIMITS, Limits, read_limited

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
# Part of the format: changing it changes the GUID of every code exported without a 'guid:'.
QCODE_GUID_NAMESPACE = uuid.UUID("7849fdec-0586-4293-8e24-db92b6e04f50")
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
MAX_DEPTH = 100  # nesting of codes accepted on import

# (include, exclude, examples) paragraph labels, and the separator before the text
_LABELS = {"fr": ("Inclure", "Exclure", "Exemples"), "en": ("Include", "Exclude", "Examples")}
_LABEL_RE = re.compile(
    r"^\s*(?P<label>inclure|exclure|exemples?|include|exclude|examples?)[ \t\u00a0\u202f]*:"
    r"[ \t\u00a0\u202f]?(?P<rest>.*)$", re.IGNORECASE)
_KIND = {"inclure": "include", "include": "include", "exclure": "exclude",
         "exclude": "exclude", "exemple": "examples", "exemples": "examples",
         "example": "examples", "examples": "examples"}
_FRENCH_LABELS = frozenset({"inclure", "exclure", "exemple", "exemples"})
_QCODE_ID_RE = re.compile(r"^\s*qcode-id\s*:\s*(.*?)\s*$")
_GUID_RE = re.compile(
    r"^\s*\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?\s*$")
_QDC_COLOR_RE = re.compile(r"^#(?:[0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})$")
_XML_SPACE = re.compile(r"[ \t\r\n]+")
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# --- writing files ----------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`qcode.fileutil.write_atomic`).

    Readers never see a half-written file, and a failure leaves the old file as it was. The new
    file keeps the old one's permissions, or gets the usual ones (0666 minus the umask): a
    codebook is shared with colleagues, unlike exports of quotes.
    """
    from qcode import fileutil

    try:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        fileutil.write_atomic(path, data, mode=mode)
    except OSError as exc:
        raise QcodeError(f"cannot write the file: {exc.strerror or exc}", path=path) from None


# --- codebook export --------------------------------------------------------------------------


def normal_guid(value: str | None) -> str | None:
    """A REFI-QDA GUID as qcode compares them (lower case, no braces), or None if not one."""
    match = _GUID_RE.match(value or "")
    return match.group(1).lower() if match else None


def code_guid(code: Code) -> str:
    """The REFI-QDA GUID of a code: its ``guid:`` field, else derived from its id."""
    return code.guid or str(uuid.uuid5(QCODE_GUID_NAMESPACE, code.id))


def xml_text(text: str) -> str:
    """``text`` as XML 1.0 can hold it: ``\n`` line ends, control characters left out."""
    return _NOT_XML_CHAR.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def codebook_description(code: Code, language: str = "fr") -> str:
    """The text of a code's ``<Description>``: definition, criteria, examples, ``qcode-id``."""
    include, exclude, examples = _LABELS["fr" if language == "fr" else "en"]
    sep = " : " if language == "fr" else ": "
    parts: list[str] = []
    if code.description:
        parts.append(code.description)
    if code.include:
        parts.append(f"{include}{sep}{code.include}")
    if code.exclude:
        parts.append(f"{exclude}{sep}{code.exclude}")
    items = [ex.strip() for ex in code.examples if ex.strip()]
    if items:
        parts.append(f"{examples}{sep.rstrip()}\n"
                     + "\n".join("- " + ex.replace("\n", "\n  ") for ex in items))
    parts.append(f"qcode-id: {code.id}")
    return "\n\n".join(parts)


def codebook_to_qdc(book: Codebook, *, language: str | None = None) -> bytes:
    """A REFI-QDA ``.qdc`` document (UTF-8 bytes) for a loaded, valid codebook.

    ``language`` picks the labels of the description paragraphs when the codebook does not say
    (default French). Raises :class:`ValidationError` for a codebook with no codes (an empty
    ``<Codes/>`` is invalid) or two codes with the same GUID.
    """
    if not book.roots:
        raise ValidationError("the codebook has no codes: a .qdc file needs at least one",
                              path=book.path, hint="add a theme under 'themes:'")
    lang = book.language or language or "fr"
    seen: dict[str, Code] = {}
    for code in book.walk():
        guid = code_guid(code)
        if guid in seen:
            raise ValidationError(
                f"codes {seen[guid].id!r} (line {seen[guid].line}) and {code.id!r} have the same "
                f"GUID {guid}", path=book.path, line=code.line,
                hint="remove the 'guid:' of one of them; a new one is derived from its id")
        seen[guid] = code

    root = ET.Element("CodeBook", {"xmlns": CODEBOOK_NS, "origin": f"qcode {__version__}"})
    add_codes(ET.SubElement(root, "Codes"), book, lang)
    ET.indent(root, space="  ")
    return (XML_DECLARATION + "\n" + ET.tostring(root, encoding="unicode") + "\n").encode("utf-8")


def code_element(parent: ET.Element, code: Code, language: str,
                 note_refs: Sequence[str] = ()) -> ET.Element:
    """Append the ``<Code>`` of one code (without its sub-codes) to ``parent``.

    ``note_refs`` are the GUIDs of the notes written on the code (projects only): one
    ``<NoteRef>`` each, after the description, as the project schema orders them.
    """
    attrib = {"guid": code_guid(code), "name": xml_text(code.label),
              "isCodable": "true" if code.codable else "false"}
    if code.color:
        attrib["color"] = code.color.upper()
    element = ET.SubElement(parent, "Code", attrib)
    ET.SubElement(element, "Description").text = xml_text(codebook_description(code, language))
    for guid in note_refs:
        ET.SubElement(element, "NoteRef", {"targetGUID": guid})
    return element


def add_codes(parent: ET.Element, book: Codebook, language: str,
              note_refs: Mapping[str, Sequence[str]] | None = None) -> None:
    """Append the codebook's codes to ``parent`` (a ``<Codes>``): themes, then their codes.

    ``note_refs`` maps a code's id to the GUIDs of the notes on it (a ``.qdpx`` project's
    memos on codes; a ``.qdc`` codebook has none).
    """
    refs = note_refs or {}

    def add(element: ET.Element, code: Code) -> None:
        child = code_element(element, code, language, refs.get(code.id, ()))
        for sub in code.children:
            add(child, book.codes[sub])

    for theme in book.roots:
        add(parent, book.codes[theme])


def codebook_export_notes(book: Codebook) -> list[str]:
    """What a ``.qdc`` export of ``book`` leaves out (REFI-QDA has no field for it)."""
    notes = []
    with_keywords = sum(1 for code in book.codes.values() if code.keywords)
    if with_keywords:
        notes.append(f"REFI-QDA has no field for keywords: those of {with_keywords} code(s) "
                     "are not in the .qdc (they stay in the YAML)")
    with_keys = sum(1 for code in book.codes.values() if code.key)
    if with_keys:
        notes.append(f"REFI-QDA has no field for quick-tagging keys: those of {with_keys} "
                     "code(s) are not in the .qdc (they stay in the YAML)")
    return notes


# --- codebook import: XML parsing -------------------------------------------------------------


@dataclass(slots=True)
class XmlNode:
    tag: str  # local name
    ns: str
    attrib: dict[str, str]
    line: int
    children: list[XmlNode] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Document:
    """What a REFI-QDA XML document must be: its root element, and how to say it is not."""

    root: str  # local name of the root element
    what: str  # "a REFI-QDA codebook"
    noun: str  # "a codebook"
    hints: Mapping[str, str]  # another root element → the hint for it


_DOCUMENTS = {
    "CodeBook": _Document("CodeBook", "a REFI-QDA codebook", "a codebook", {
        "Project": "it is a REFI-QDA project: export its codebook as .qdc from the other tool"}),
    "Project": _Document("Project", "a REFI-QDA project", "a project", {
        "CodeBook": "it is a REFI-QDA codebook: import it with 'qcode codebook import'"}),
}


class _TreeTarget:
    """Parser target building a small tree whose elements know their line."""

    def __init__(self, path: Path, document: _Document = _DOCUMENTS["CodeBook"]) -> None:
        self.path = path
        self.document = document
        self.parser: expat.XMLParserType | None = None
        self.stack: list[XmlNode] = []
        self.root: XmlNode | None = None
        self.codes = 0  # <Code> elements open

    @property
    def line(self) -> int:
        return self.parser.CurrentLineNumber if self.parser is not None else 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        ns, local = ("", tag)
        if tag.startswith("{"):
            ns, _, local = tag[1:].partition("}")
        node = XmlNode(local, ns, dict(attrib), self.line)
        if self.stack:
            self.stack[-1].children.append(node)
        else:
            expected = self.document
            if local != expected.root:
                raise InputError(f"not {expected.what}: the root element is <{local}>, "
                                 f"not <{expected.root}>", path=self.path, line=self.line,
                                 hint=expected.hints.get(local))
            self.root = node
        self.stack.append(node)
        self.codes += local == "Code"
        if self.codes > MAX_DEPTH or len(self.stack) > MAX_DEPTH + 10:
            raise InputError(f"codes nested more than {MAX_DEPTH} levels deep",
                             path=self.path, line=self.line)

    def end(self, tag: str) -> None:
        self.codes -= self.stack.pop().tag == "Code"

    def data(self, text: str) -> None:
        if self.stack:
            self.stack[-1].text.append(text)

    def close(self) -> XmlNode | None:
        return self.root


def parse_xml(data: bytes, path: str | Path, *, root: str = "CodeBook") -> XmlNode:
    """Parse a REFI-QDA document whose root element is ``root`` (``CodeBook`` or ``Project``).

    Hostile XML is refused with :class:`InputError` (entity declarations, external
    references); a plain ``<!DOCTYPE>`` is harmless and ignored. Every element knows its line.
    """
    document = _DOCUMENTS[root]
    if root == "CodeBook" and data.startswith(b"PK\x03\x04"):
        raise InputError("not a .qdc codebook but a ZIP archive (a .qdpx project?)", path=path,
                         hint="export the codebook alone, as .qdc, from the other tool")
    target = _TreeTarget(Path(path), document)
    parser = DefusedXMLParser(target=target, forbid_dtd=False, forbid_entities=True,
                              forbid_external=True)
    target.parser = parser.parser
    hint = f"{document.noun} never needs them: they are refused to stop entity-expansion " \
        "and external-entity attacks"
    try:
        parser.feed(data)
        parser.close()
    except ParseError as exc:
        line, column = exc.position
        raise InputError(f"malformed XML: {expat.ErrorString(exc.code)}", path=path, line=line,
                         column=column + 1) from None
    except EntitiesForbidden as exc:
        kind = "external entity" if exc.sysid or exc.pubid else "entity"
        raise InputError(f"refused: the file declares the XML {kind} {exc.name!r}",
                         path=path, line=target.line, hint=hint) from None
    except ExternalReferenceForbidden as exc:
        raise InputError(f"refused: the file refers to the external resource {exc.sysid!r}",
                         path=path, line=target.line, hint=hint) from None
    except DefusedXmlException as exc:
        raise InputError(f"refused XML: {exc}", path=path, line=target.line) from None
    except (LookupError, ValueError) as exc:  # an unknown or multi-byte declared encoding
        raise InputError(f"malformed XML: {exc}", path=path, line=1,
                         hint="save the file as UTF-8") from None
    if target.root is None:  # pragma: no cover - expat reports an empty document
        raise InputError("empty file", path=path)
    return target.root


# --- codebook import: from the tree to YAML ---------------------------------------------------


@dataclass(slots=True)
class ImportedCode:
    """A code read from a REFI-QDA ``<Code>``, with the qcode id it is given."""

    line: int
    name: str
    depth: int
    codable: bool
    guid: str | None = None
    color: str | None = None
    description: str = ""
    include: str = ""
    exclude: str = ""
    examples: list[str] = field(default_factory=list)
    qcode_id: str | None = None
    id: str = ""
    children: list[ImportedCode] = field(default_factory=list)


@dataclass(slots=True)
class QdcImport:
    """A ``.qdc`` read into qcode YAML, with what was dropped or changed on the way."""

    yaml_text: str
    notes: list[str]
    themes: int
    codes: int  # below the themes
    entries: list[ImportedCode] = field(default_factory=list)  # every code, in tree order

    @property
    def guids(self) -> dict[str, str]:
        """Each code's GUID (lower case, no braces) → its id; codes without a usable GUID
        (none, invalid, or that of an earlier code) are not in it."""
        return {code.guid: code.id for code in self.entries if code.guid}


def slugify(name: str) -> str:
    """An id from a name: lower case, accents kept, other characters as single ``-``."""
    text = unicodedata.normalize("NFC", name).lower()
    return re.sub(r"[\W_]+", "-", text).strip("-")


@dataclass(slots=True)
class _Description:
    description: str = ""
    include: str = ""
    exclude: str = ""
    examples: list[str] = field(default_factory=list)
    qcode_id: str | None = None
    labels: set[str] = field(default_factory=set)  # languages of the labels found


def parse_description(text: str) -> _Description:
    """Split a ``<Description>`` into definition, criteria, examples and ``qcode-id``."""
    out = _Description()
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if lines and (match := _QCODE_ID_RE.match(lines[-1])):
        out.qcode_id = match.group(1)
        lines.pop()
    sections: dict[str, list[str]] = {"description": []}
    label_lines: dict[str, tuple[str, str]] = {}  # kind → (first label line, its language)
    current = sections["description"]
    previous_blank = True
    for line in lines:
        # a label starts a paragraph; indented lines in the examples continue an example
        match = _LABEL_RE.match(line) if previous_blank and not (
            current is sections.get("examples") and line[:1].isspace()) else None
        if match:
            label = match.group("label").lower()
            kind = _KIND[label]
            label_lines.setdefault(kind, (line.strip(), "fr" if label in _FRENCH_LABELS
                                          else "en"))
            current = sections.setdefault(kind, [])
            if current:  # the same label twice: one text, a blank line between
                current.append("")
            if match.group("rest").strip() or kind != "examples":
                current.append(match.group("rest"))
        else:
            current.append(line)
        previous_blank = not line.strip()
    description = "\n".join(sections["description"]).strip()
    out.include = "\n".join(sections.get("include", [])).strip()
    out.exclude = "\n".join(sections.get("exclude", [])).strip()
    items: list[str] = []
    for line in sections.get("examples", []):
        if line.startswith("- ") or line == "-":
            items.append(line[2:])
        elif items and (line.startswith("  ") or not line.strip()):
            items[-1] += "\n" + line[2:]
        elif line.strip():
            items.append(line.strip())
    out.examples = [item.strip() for item in items if item.strip()]
    for kind, (label_line, language) in label_lines.items():
        if getattr(out, kind):
            out.labels.add(language)
        else:  # a label with nothing after it is text, not a section
            description = f"{description}\n\n{label_line}".strip()
    out.description = description
    return out


def _who(name: str) -> str:
    return repr(name) if name else "a code without a name"


def _boolean(value: str | None) -> bool | None:
    if value is None:
        return None
    return {"true": True, "1": True, "false": False, "0": False}.get(value.strip().lower())


class _Importer:
    def __init__(self, path: Path, allowed: frozenset[str] = frozenset()) -> None:
        self.path = path
        self.allowed = allowed  # other children of <Code> read by the caller (NoteRef)
        self.notes: list[str] = []
        self.guids: dict[str, int] = {}  # guid → line of its first code
        self.ignored: dict[str, int] = {}  # unknown element → line of its first occurrence
        self.languages: set[str] = set()
        self.count = 0

    def code(self, node: XmlNode, depth: int) -> ImportedCode:
        self.count += 1
        attrib = node.attrib
        name = one_line(attrib.get("name", "")).strip()
        codable = _boolean(attrib.get("isCodable"))
        if codable is None:
            shown = "no isCodable" if "isCodable" not in attrib else \
                f"isCodable={attrib['isCodable']!r}"
            self.notes.append(f"line {node.line}: {_who(name)} has {shown}: "
                              "read as codable")
            codable = True
        code = ImportedCode(node.line, name, depth, codable)
        raw_guid = attrib.get("guid", "").strip()
        guid = normal_guid(raw_guid)
        if guid is None:
            self.notes.append(f"line {node.line}: {_who(name)} has "
                              f"{'an invalid GUID ' + repr(raw_guid) if raw_guid else 'no GUID'}"
                              ": qcode derives one from its id")
        elif guid in self.guids:
            self.notes.append(f"line {node.line}: {_who(name)} has the GUID of the code at line "
                              f"{self.guids[guid]}: qcode derives a new "
                              "one from its id")
        else:
            code.guid = guid
            self.guids[code.guid] = node.line
        color = attrib.get("color")
        if color is not None:
            color = color.strip()
            if _QDC_COLOR_RE.match(color):
                code.color = ("#" + "".join(c * 2 for c in color[1:]) if len(color) == 4
                              else color).upper()
            else:
                self.notes.append(f"line {node.line}: {_who(name)}: colour {color!r} is not "
                                  "#RRGGBB: dropped")
        for child in node.children:
            if child.tag == "Code":
                code.children.append(self.code(child, depth + 1))
            elif child.tag == "Description":
                desc = parse_description(xml_text("".join(child.text)))
                code.description, code.include, code.exclude = (
                    desc.description, desc.include, desc.exclude)
                code.examples, code.qcode_id = desc.examples, desc.qcode_id
                self.languages |= desc.labels
            elif child.tag not in self.allowed:
                self.ignored.setdefault(child.tag, child.line)
        return code

    def assign_ids(self, codes: list[ImportedCode]) -> None:
        ordered: list[ImportedCode] = []
        stack = list(reversed(codes))
        while stack:
            code = stack.pop()
            ordered.append(code)
            stack.extend(reversed(code.children))
        used: dict[str, int] = {}
        for code in ordered:  # first the ids written by qcode, so that they keep them
            cid = code.qcode_id
            if cid is None:
                continue
            if not ID_RE.match(cid):
                self.notes.append(f"line {code.line}: {_who(code.name)}: qcode-id {cid!r} is not a "
                                  "valid id: a new one is made from the name")
            elif cid in used:
                self.notes.append(f"line {code.line}: {_who(code.name)}: qcode-id {cid!r} is also "
                                  f"the id of the code at line {used[cid]}: a new one is made "
                                  "from the name")
            else:
                code.id = cid
                used[cid] = code.line
        for code in ordered:
            if code.id:
                continue
            base = slugify(code.name) or "code"
            candidate, n = base, 2
            while candidate in used:
                candidate, n = f"{base}-{n}", n + 1
            if candidate != base:
                self.notes.append(f"line {code.line}: {_who(code.name)} gets the id {candidate!r} "
                                  f"({base!r} is taken)")
            code.id = candidate
            used[candidate] = code.line

        for code in ordered:
            if not code.name:
                self.notes.append(f"line {code.line}: a code without a name: labelled with its "
                                  f"id {code.id!r}")

    def entry(self, code: ImportedCode) -> dict[str, Any]:
        out: dict[str, Any] = {"id": code.id, "label": code.name or code.id}
        for key in ("description", "include", "exclude"):
            if getattr(code, key):
                out[key] = getattr(code, key)
        if code.examples:
            out["examples"] = code.examples
        if code.color:
            out["color"] = code.color
        if code.codable != (code.depth > 0):
            out["codable"] = code.codable
        if code.guid:
            out["guid"] = code.guid
        if code.children:
            out["codes"] = [self.entry(child) for child in code.children]
        return out


_YAML_BREAKS = re.compile("[\x85\u2028\u2029]")


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key, multi-line text as ``|`` blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style: str | None = None
    if _YAML_BREAKS.search(value) or value.startswith("#"):
        style = '"'  # escaped as \N, \L, \P: other quoting styles would fold these line breaks
    elif "\n" in value:
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def one_line(text: str) -> str:
    """XML whitespace (not the no-break spaces of French typography) collapsed to one space."""
    return _XML_SPACE.sub(" ", text).strip(" ")


def read_qdc(data: bytes, path: Path, *, imported_on: dt.date | None = None) -> QdcImport:
    """Read a ``.qdc`` document into qcode YAML; :class:`InputError` if it cannot be read."""
    root = parse_xml(data, path)
    notes = []
    if root.ns != CODEBOOK_NS:
        which = f"the namespace {root.ns!r}" if root.ns else "no namespace"
        notes.append(f"the root element has {which}, not {CODEBOOK_NS}: read anyway "
                     "(strict importers refuse such files)")
    return codebook_from_tree(root, path, imported_on=imported_on, notes=notes)


def codebook_from_tree(root: XmlNode, path: Path, *, imported_on: dt.date | None = None,
                       notes: Sequence[str] = (), origin: str | None = None,
                       allowed: frozenset[str] = frozenset()) -> QdcImport:
    """Read a ``<CodeBook>`` element into qcode YAML: the root of a ``.qdc``, or the codebook
    of a ``.qdpx`` project (then ``origin`` is the project's, and ``allowed`` names the other
    children of ``<Code>`` that the caller reads itself, such as ``NoteRef``)."""
    importer = _Importer(path, allowed)
    importer.notes.extend(notes)
    themes: list[ImportedCode] = []
    sets: list[str] = []
    for child in root.children:
        if child.tag == "Codes":
            for node in child.children:
                if node.tag == "Code":
                    themes.append(importer.code(node, 0))
                else:
                    importer.ignored.setdefault(node.tag, node.line)
        elif child.tag == "Sets":
            sets.extend(one_line(s.attrib.get("name", "")) or "?" for s in child.children
                        if s.tag == "Set")
        else:
            importer.ignored.setdefault(child.tag, child.line)
    if not themes:
        raise InputError("no codes in the codebook: nothing to import", path=path,
                         line=root.line)
    if sets:
        shown = ", ".join(repr(s) for s in sets[:5]) + (", …" if len(sets) > 5 else "")
        importer.notes.append(f"{len(sets)} code set(s) not carried (qcode has no code sets): "
                              f"{shown}")
    for tag, line in sorted(importer.ignored.items(), key=lambda item: item[1]):
        importer.notes.append(f"line {line}: <{tag}> ignored (not part of a REFI-QDA codebook)")
    importer.assign_ids(themes)

    document: dict[str, Any] = {}
    if len(importer.languages) == 1:
        document["language"] = next(iter(importer.languages))
    document["themes"] = [importer.entry(theme) for theme in themes]
    origin = one_line(root.attrib.get("origin", "") if origin is None else origin)
    date = (imported_on or dt.date.today()).isoformat()
    header = (f"# Codebook imported by qcode {__version__} from {one_line(path.name)} "
              f"(REFI-QDA{', written by ' + origin if origin else ''}) on {date}.\n"
              "# Each code keeps its REFI-QDA GUID in 'guid:', so that exports back to the "
              "other tool stay in step.\n\n")
    body = yaml.dump(document, Dumper=_Dumper, allow_unicode=True, sort_keys=False,
                     default_flow_style=False, width=float("inf"), indent=2)
    entries: list[ImportedCode] = []
    stack = list(reversed(themes))
    while stack:
        code = stack.pop()
        entries.append(code)
        stack.extend(reversed(code.children))
    return QdcImport(header + body, importer.notes, len(themes), importer.count - len(themes),
                     entries)


def qdc_to_codebook_yaml(data: bytes, path: Path, *, imported_on: dt.date | None = None
                         ) -> tuple[str, list[str]]:
    """The text of a qcode YAML codebook for a ``.qdc`` document, and the import notes."""
    result = read_qdc(data, path, imported_on=imported_on)
    return result.yaml_text, result.notes


def read_qdc_file(path: Path, *, limits: Limits = DEFAULT_LIMITS,
                  imported_on: dt.date | None = None) -> QdcImport:
    """Read a ``.qdc`` file (size-limited) into qcode YAML."""
    data = read_limited(path, limits, ".qdc file")
    return read_qdc(data, path, imported_on=imported_on)
