"""Read word-processor documents: Word (``.docx``) and OpenDocument text (``.odt``).

Both are ZIP archives. Before anything is parsed the archive is checked against the project's
:class:`~qcode.ingest.limits.Limits` (number of members, total uncompressed size, and the
compression ratio of every member larger than 1 MiB: smaller members cannot cost much memory) and
member names that point outside it (``../``) are refused; every XML part is parsed with
:mod:`defusedxml` first, so DTDs and entities are refused wherever they are.

Each document becomes a list of :class:`~qcode.ingest.model.Paragraph` in document order — body
paragraphs, paragraphs in table cells (row by row, cell by cell, nested tables included), list
items, content controls, and the paragraphs of a text box right after the paragraph that anchors
it. Empty paragraphs are kept (they are blank lines of the text). A paragraph is ``bold`` when it
has visible text and every non-blank run is bold, by direct formatting or through its character
or paragraph style; ``heading`` when its style is a heading (``Heading n``, ``Title``,
``Subtitle``, ``Titre…``, or an outline level) or, in ODF, when it is a ``<text:h>``. Line breaks
inside a paragraph become ``\\n`` and tabs ``\\t``. Footnotes, comments, headers and footers,
deleted tracked changes and tables of contents are left out.

The paragraphs are then segmented into turns by :func:`qcode.ingest.text.segment_paragraphs`.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree.ElementTree import Element, ParseError
from xml.parsers import expat

import docx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring
from docx.text.run import Run

from qcode.errors import InputError
from qcode.ingest.limits import DEFAULT_LIMITS, Limits
from qcode.ingest.model import Paragraph, ParsedTranscript, normalise_text
from qcode.ingest.safezip import check_member_names, open_zip, read_member
from qcode.ingest.text import segment_paragraphs
from qcode.ingest.trs import xml_refusal

# python-docx's parts are lxml elements; lxml ships no type information.
_Element = Any

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# "<!DOCTYPE" and "<!ENTITY" in the encodings an XML part may use
_DTD_MARKERS = tuple(word.encode(encoding) for word in ("<!DOCTYPE", "<!ENTITY")
                     for encoding in ("utf-8", "utf-16-le", "utf-16-be"))


# --------------------------------------------------------------------------------------------
# ZIP and XML safety, shared by both formats


def _not_a_zip_hint(data: bytes, kind: str) -> str:
    if data.startswith(_OLE_MAGIC):
        return (f"this is an old binary or password-protected document, not a {kind}: "
                f"remove the password or save it as {kind}")
    if data.startswith(b"PK"):
        return "the file is truncated or damaged: copy or export it again"
    return f"the file is not in {kind} format, whatever its extension says"


def _open_zip(data: bytes, path: Path, kind: str, limits: Limits = DEFAULT_LIMITS
              ) -> zipfile.ZipFile:
    """Open ``data`` as a ZIP archive after checking it against ``limits`` and refusing member
    names that point outside the archive (``../``: made to overwrite files when unpacked)."""
    archive = open_zip(data, path, kind, limits, hint=_not_a_zip_hint(data, kind))
    try:
        check_member_names(archive, path, kind)
    except InputError:
        archive.close()
        raise
    return archive


def _read_member(archive: zipfile.ZipFile, name: str, path: Path, kind: str) -> bytes:
    return read_member(archive, name, path, kind)


def _parse_xml(data: bytes, member: str, path: Path) -> Element:
    """Parse one XML member with defusedxml; DTDs, entities and external references refused."""
    try:
        return safe_fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except ParseError as exc:
        line, column = exc.position
        raise InputError(f"malformed XML in {member}: {expat.ErrorString(exc.code)}",
                         path=path, line=line, column=column + 1) from None
    except DefusedXmlException as exc:
        raise InputError(f"refused XML in {member}: {xml_refusal(exc)}", path=path,
                         hint="DTDs, entities and external references are not allowed") from None
    except (LookupError, ValueError) as exc:  # an unknown or multi-byte declared encoding
        raise InputError(f"malformed XML in {member}: {exc}", path=path, line=1) from None


def _check_not_empty(paragraphs: list[Paragraph], path: Path, kind: str) -> None:
    if not any(p.text.strip() for p in paragraphs):
        raise InputError(f"empty {kind} document: no text in it", path=path)


def _heading_name(name: str) -> bool:
    name = name.strip().lower()
    return name.startswith(("heading", "titre")) or name in ("title", "subtitle", "sous-titre")


# --------------------------------------------------------------------------------------------
# Word (.docx)

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE_DOCUMENT = "/officeDocument"

# Block level: never contains body paragraphs we want.
_DOCX_SKIP_BLOCK = frozenset(
    _W + tag for tag in ("sectPr", "tblPr", "tblGrid", "trPr", "tcPr", "sdtPr", "sdtEndPr",
                         "customXmlPr", "del", "moveFrom")
) | {_MC + "Fallback"}
# Inside a paragraph: properties, deleted text, and the duplicate (VML) copy of a text box.
_DOCX_SKIP_INLINE = frozenset(
    _W + tag for tag in ("pPr", "rPr", "del", "moveFrom", "sdtPr", "sdtEndPr", "customXmlPr")
) | {_MC + "Fallback"}
_TRUE = frozenset({"1", "true", "on"})


def _docx_main_part(archive: zipfile.ZipFile, path: Path) -> str:
    """The name of the main document part, from ``_rels/.rels`` (``word/document.xml``)."""
    default = "word/document.xml"
    if "_rels/.rels" not in archive.namelist():
        return default
    rels = _parse_xml(_read_member(archive, "_rels/.rels", path, "Word"), "_rels/.rels", path)
    for rel in rels.iter(f"{_REL}Relationship"):
        if rel.get("Type", "").endswith(_OFFICE_DOCUMENT) and rel.get("Target"):
            target = rel.get("Target", "").lstrip("/")
            return str(PurePosixPath(target))
    return default


def _flag(element: _Element, tag: str) -> bool | None:
    """A toggle property such as ``<w:b/>`` or ``<w:b w:val="0"/>`` in ``element``'s rPr."""
    found = element.find(f"{_W}rPr/{_W}{tag}")
    if found is None:
        return None
    value = found.get(f"{_W}val")
    return value is None or value.lower() in _TRUE


class _DocxStyles:
    """Bold and heading signals of the document's styles, following ``basedOn`` chains."""

    def __init__(self, styles_element: _Element | None) -> None:
        self._by_id: dict[str, _Element] = {}
        self._default_paragraph: str | None = None
        if styles_element is not None:
            for style in styles_element.iterchildren(f"{_W}style"):
                style_id = style.get(f"{_W}styleId")
                if not style_id:
                    continue
                self._by_id.setdefault(style_id, style)
                if (style.get(f"{_W}type") == "paragraph"
                        and style.get(f"{_W}default", "").lower() in _TRUE):
                    self._default_paragraph = style_id
        self._bold: dict[str, bool | None] = {}
        self._heading: dict[str, bool] = {}

    def _chain(self, style_id: str | None) -> Iterator[_Element]:
        seen: set[str] = set()
        while style_id and style_id not in seen and style_id in self._by_id:
            seen.add(style_id)
            style = self._by_id[style_id]
            yield style
            based = style.find(f"{_W}basedOn")
            style_id = None if based is None else based.get(f"{_W}val")

    def paragraph_style(self, p: _Element) -> str | None:
        found = p.find(f"{_W}pPr/{_W}pStyle")
        style_id = None if found is None else found.get(f"{_W}val")
        return style_id or self._default_paragraph

    def bold(self, style_id: str | None) -> bool | None:
        if style_id is None:
            return None
        if style_id not in self._bold:
            self._bold[style_id] = next(
                (flag for s in self._chain(style_id) if (flag := _flag(s, "b")) is not None),
                None,
            )
        return self._bold[style_id]

    def heading(self, style_id: str | None) -> bool:
        if style_id is None:
            return False
        if style_id not in self._heading:
            result = False
            for style in self._chain(style_id):
                name = style.find(f"{_W}name")
                if _heading_name(name.get(f"{_W}val", "") if name is not None else style_id):
                    result = True
                if _outline_level(style):
                    result = True
            self._heading[style_id] = result
        return self._heading[style_id]


def _outline_level(element: _Element) -> bool:
    level = element.find(f"{_W}pPr/{_W}outlineLvl")
    if level is None:
        return False
    value = level.get(f"{_W}val", "")
    return value.isdigit() and int(value) < 9


def _run_text(run: _Element) -> str:
    return str(Run(run, None).text)  # type: ignore[arg-type]


class _DocxWalker:
    def __init__(self, styles: _DocxStyles) -> None:
        self.styles = styles
        self.paragraphs: list[Paragraph] = []

    def blocks(self, container: _Element) -> None:
        for child in container.iterchildren():
            tag = child.tag
            if not isinstance(tag, str) or tag in _DOCX_SKIP_BLOCK:
                continue
            if tag == f"{_W}p":
                self.paragraph(child)
            else:  # tables, rows, cells, content controls, custom XML, mc:Choice…
                self.blocks(child)

    def paragraph(self, p: _Element) -> None:
        runs: list[_Element] = []
        boxes: list[_Element] = []
        self._collect(p, runs, boxes)
        style_id = self.styles.paragraph_style(p)
        paragraph_bold = self.styles.bold(style_id)
        texts: list[str] = []
        bold = True
        visible = False
        for run in runs:
            text = _run_text(run)
            texts.append(text)
            if not text.strip():
                continue
            visible = True
            flag = _flag(run, "b")
            if flag is None:
                found = run.find(f"{_W}rPr/{_W}rStyle")
                flag = self.styles.bold(None if found is None else found.get(f"{_W}val"))
            if flag is None:
                flag = paragraph_bold
            bold = bold and bool(flag)
        heading = self.styles.heading(style_id) or _outline_level(p)
        self.paragraphs.append(Paragraph("".join(texts), bold=visible and bold, heading=heading))
        for box in boxes:
            self.blocks(box)

    def _collect(self, element: _Element, runs: list[_Element], boxes: list[_Element]) -> None:
        for child in element.iterchildren():
            tag = child.tag
            if not isinstance(tag, str) or tag in _DOCX_SKIP_INLINE:
                continue
            if tag == f"{_W}txbxContent":
                boxes.append(child)
                continue
            if tag == f"{_W}r":
                runs.append(child)
            self._collect(child, runs, boxes)


def docx_paragraphs(data: bytes, path: Path, limits: Limits = DEFAULT_LIMITS
                    ) -> list[Paragraph]:
    """The paragraphs of a Word document, in document order, with their bold/heading signals."""
    archive = _open_zip(data, path, "Word", limits)
    with archive:
        main = _docx_main_part(archive, path)
        # Refuse DTDs and entities, and report malformed XML with its line, before python-docx
        # parses the package: the main part, then any other XML part that declares a DTD
        # (found by a byte search: parsing every part would cost 50 ms on Word's 800 KB of
        # styles; python-docx itself never resolves entities).
        _parse_xml(_read_member(archive, main, path, "Word"), main, path)
        for name in archive.namelist():
            if name != main and name.lower().endswith((".xml", ".rels")):
                part = _read_member(archive, name, path, "Word")
                if any(marker in part for marker in _DTD_MARKERS):
                    _parse_xml(part, name, path)
    try:
        document: Any = docx.Document(io.BytesIO(data))
        body: _Element = document.element.body
        styles = _DocxStyles(document.styles.element)
    except Exception as exc:  # python-docx and lxml raise many kinds on a damaged package
        raise InputError(f"cannot read as a Word document: {exc}", path=path,
                         hint="open it in a word processor and save it again as .docx"
                         ) from None
    walker = _DocxWalker(styles)
    try:
        walker.blocks(body)
    except RecursionError:
        raise InputError("refused Word document: its XML is nested too deeply", path=path
                         ) from None
    return [Paragraph(normalise_text(p.text), p.bold, p.heading) for p in walker.paragraphs]


def read_docx(
    data: bytes, path: Path, known_labels: Collection[str] = (), *,
    limits: Limits = DEFAULT_LIMITS,
) -> ParsedTranscript:
    """Read a Word ``.docx`` transcript (``known_labels``: speaker labels from the project)."""
    paragraphs = docx_paragraphs(data, path, limits)
    _check_not_empty(paragraphs, path, "Word")
    return segment_paragraphs(paragraphs, path, "docx", known_labels)


# --------------------------------------------------------------------------------------------
# OpenDocument text (.odt)

_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
_FO = "{urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_DRAW = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
_ODT_MIMETYPE = "application/vnd.oasis.opendocument.text"
_MAX_SPACES = 1000  # one <text:s text:c="…"/> may stand for at most this many spaces

_ODT_SKIP_BLOCK = frozenset(
    {_TEXT + tag for tag in (
        "tracked-changes", "table-of-content", "alphabetical-index", "illustration-index",
        "object-index", "user-index", "bibliography", "table-index", "sequence-decls",
        "variable-decls", "user-field-decls", "dde-connection-decls", "soft-page-break",
        "section-source", "index-title-template",
    )}
    | {_OFFICE + "forms", _OFFICE + "annotation", _OFFICE + "annotation-end",
       _TABLE + "table-columns", _TABLE + "table-column", _TABLE + "table-header-columns"}
)
_ODT_SKIP_INLINE = frozenset(
    {_TEXT + tag for tag in (
        "note", "soft-page-break", "bookmark", "bookmark-start", "bookmark-end",
        "reference-mark", "reference-mark-start", "reference-mark-end", "change",
        "change-start", "change-end", "toc-mark", "toc-mark-start", "toc-mark-end",
        "alphabetical-index-mark", "alphabetical-index-mark-start",
        "alphabetical-index-mark-end", "user-index-mark", "user-index-mark-start",
        "user-index-mark-end", "ruby-text",
    )}
    | {_OFFICE + "annotation", _OFFICE + "annotation-end"}
)
_ODF_SPACE = re.compile(r"[ \t\r\n]+")


def _font_weight(value: str | None) -> bool | None:
    if value is None:
        return None
    value = value.strip().lower()
    if value in ("bold", "bolder"):
        return True
    if value.isdigit():
        return int(value) >= 600
    return False  # "normal", "lighter"


class _OdtStyles:
    """Bold and heading signals of ODF styles (common and automatic), following parents."""

    def __init__(self, roots: Iterable[Element]) -> None:
        self._styles: dict[tuple[str, str], Element] = {}
        for root in roots:
            for section in ("styles", "automatic-styles"):
                for container in root.iter(_OFFICE + section):
                    for style in container.iter(_STYLE + "style"):
                        family = style.get(_STYLE + "family", "")
                        name = style.get(_STYLE + "name", "")
                        if name:
                            self._styles[(family, name)] = style
        self._bold: dict[tuple[str, str], bool | None] = {}
        self._heading: dict[str, bool] = {}

    def _chain(self, family: str, name: str | None) -> Iterator[Element]:
        seen: set[str] = set()
        while name and name not in seen and (family, name) in self._styles:
            seen.add(name)
            style = self._styles[(family, name)]
            yield style
            name = style.get(_STYLE + "parent-style-name")

    def bold(self, family: str, name: str | None) -> bool | None:
        if name is None:
            return None
        key = (family, name)
        if key not in self._bold:
            result: bool | None = None
            for style in self._chain(family, name):
                props = style.find(_STYLE + "text-properties")
                weight = None if props is None else _font_weight(props.get(_FO + "font-weight"))
                if weight is not None:
                    result = weight
                    break
            self._bold[key] = result
        return self._bold[key]

    def heading(self, name: str | None) -> bool:
        if name is None:
            return False
        if name not in self._heading:
            result = False
            for style in self._chain("paragraph", name):
                label = style.get(_STYLE + "display-name") or (
                    style.get(_STYLE + "name", "").replace("_20_", " "))
                if _heading_name(label) or style.get(_STYLE + "default-outline-level"):
                    result = True
            self._heading[name] = result
        return self._heading[name]


class _OdtParagraph:
    """The text of one ``text:p``/``text:h`` with ODF white-space rules, and its bold chunks."""

    def __init__(self, budget: list[int], path: Path) -> None:
        self.pieces: list[tuple[str, bool]] = []  # (text, collapsible white space)
        self.chunks: list[tuple[str, bool]] = []  # (text, bold) for the bold test
        self.boxes: list[Element] = []
        self._budget = budget
        self._path = path

    def _spend(self, amount: int) -> None:
        self._budget[0] -= amount
        if self._budget[0] < 0:
            raise InputError("refused OpenDocument: its text is far larger than its XML "
                             "(too many repeated spaces)", path=self._path)

    def characters(self, text: str, bold: bool) -> None:
        if not text:
            return
        collapsed = _ODF_SPACE.sub(" ", text)
        after_space = not self.pieces or self.pieces[-1] == (" ", True)
        for index, part in enumerate(collapsed.split(" ")):
            if index and not after_space:
                self.pieces.append((" ", True))
                after_space = True
            if part:
                self.pieces.append((part, False))
                self.chunks.append((part, bold))
                after_space = False
        self._spend(len(collapsed))

    def literal(self, text: str, bold: bool) -> None:
        self._spend(len(text))
        self.pieces.append((text, False))
        self.chunks.append((text, bold))

    def text(self) -> str:
        pieces = list(self.pieces)
        while pieces and pieces[-1][1]:
            pieces.pop()
        return "".join(piece for piece, _ in pieces)

    def bold(self) -> bool:
        visible = [bold for text, bold in self.chunks if text.strip()]
        return bool(visible) and all(visible)


class _OdtWalker:
    def __init__(self, styles: _OdtStyles, budget: int, path: Path) -> None:
        self.styles = styles
        self.paragraphs: list[Paragraph] = []
        self._budget = [budget]
        self._path = path

    def blocks(self, container: Element) -> None:
        for child in container:
            tag = child.tag
            if tag in _ODT_SKIP_BLOCK:
                continue
            if tag in (_TEXT + "p", _TEXT + "h"):
                self.paragraph(child)
            else:  # lists, list items, sections, tables, rows, cells, frames, text boxes…
                self.blocks(child)

    def paragraph(self, element: Element) -> None:
        style = element.get(_TEXT + "style-name")
        para = _OdtParagraph(self._budget, self._path)
        self._inline(element, para, bool(self.styles.bold("paragraph", style)))
        heading = element.tag == _TEXT + "h" or self.styles.heading(style)
        self.paragraphs.append(Paragraph(para.text(), bold=para.bold(), heading=heading))
        for box in para.boxes:
            self.blocks(box)

    def _inline(self, element: Element, para: _OdtParagraph, bold: bool) -> None:
        para.characters(element.text or "", bold)
        for child in element:
            tag = child.tag
            if tag == _TEXT + "s":
                count = child.get(_TEXT + "c", "1")
                spaces = int(count) if count.isdigit() else 1
                para.literal(" " * max(1, min(spaces, _MAX_SPACES)), bold)
            elif tag == _TEXT + "tab":
                para.literal("\t", bold)
            elif tag == _TEXT + "line-break":
                para.literal("\n", bold)
            elif tag == _TEXT + "span":
                flag = self.styles.bold("text", child.get(_TEXT + "style-name"))
                self._inline(child, para, bold if flag is None else flag)
            elif isinstance(tag, str) and tag.startswith(_DRAW):
                para.boxes.extend(child.iter(_DRAW + "text-box"))
            elif tag not in _ODT_SKIP_INLINE:  # links, fields, meta, ruby base…
                self._inline(child, para, bold)
            para.characters(child.tail or "", bold)


def odt_paragraphs(data: bytes, path: Path, limits: Limits = DEFAULT_LIMITS
                   ) -> list[Paragraph]:
    """The paragraphs of an OpenDocument text, in document order, with bold/heading signals."""
    archive = _open_zip(data, path, "OpenDocument", limits)
    with archive:
        names = set(archive.namelist())
        if "mimetype" in names:
            mimetype = _read_member(archive, "mimetype", path, "OpenDocument")
            mimetype_text = mimetype.decode("ascii", "replace").strip()
            if not mimetype_text.startswith(_ODT_MIMETYPE):
                raise InputError(f"not an OpenDocument text: its mimetype is {mimetype_text!r}",
                                 path=path, hint="save the document as .odt text")
        content_bytes = _read_member(archive, "content.xml", path, "OpenDocument")
        content = _parse_xml(content_bytes, "content.xml", path)
        roots = [content]
        if "styles.xml" in names:
            roots.insert(0, _parse_xml(_read_member(archive, "styles.xml", path, "OpenDocument"),
                                       "styles.xml", path))
    if content.tag != _OFFICE + "document-content":
        raise InputError(f"not an OpenDocument text: content.xml has the root {content.tag}",
                         path=path)
    text_body = content.find(f"{_OFFICE}body/{_OFFICE}text")
    if text_body is None:
        raise InputError("not an OpenDocument text: no <office:text> in content.xml",
                         path=path, hint="save the document as .odt text")
    walker = _OdtWalker(_OdtStyles(roots), 4 * len(content_bytes) + 1024 * 1024, path)
    try:
        walker.blocks(text_body)
    except RecursionError:
        raise InputError("refused OpenDocument: its XML is nested too deeply", path=path
                         ) from None
    return [Paragraph(normalise_text(p.text), p.bold, p.heading) for p in walker.paragraphs]


def read_odt(
    data: bytes, path: Path, known_labels: Collection[str] = (), *,
    limits: Limits = DEFAULT_LIMITS,
) -> ParsedTranscript:
    """Read an OpenDocument ``.odt`` transcript (``known_labels`` as for ``.docx``)."""
    paragraphs = odt_paragraphs(data, path, limits)
    _check_not_empty(paragraphs, path, "OpenDocument")
    return segment_paragraphs(paragraphs, path, "odt", known_labels)

