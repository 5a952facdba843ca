"""Read Transcriber (``.trs``) files: XML turns with speakers, times, events and overlaps.

The file is parsed with :mod:`defusedxml` (no entity declarations, no external references; the
usual ``<!DOCTYPE Trans SYSTEM "trans-14.dtd">`` is accepted and never fetched). Its declared
encoding is honoured (ISO-8859-1 is common). Each ``<Turn>`` becomes a turn of the clean text
built by :class:`~qcode.ingest.model.TextBuilder`:

* speaker label: the ``name`` of the ``<Speaker>`` the turn refers to (its ``id`` when the name is
  empty); a turn without a ``speaker`` attribute gets the speaker ``""``;
* times: the turn's ``startTime``/``endTime`` (seconds) in milliseconds; ``<Sync>`` only separates
  words (a turn without ``startTime`` takes the time of its first ``<Sync>``);
* overlapping speech (``speaker="spk1 spk2"`` with ``<Who nb="1"/>…<Who nb="2"/>…``) is split into
  one turn per ``<Who>`` segment, in document order, all sharing the turn's times;
* ``<Event desc="rires"/>`` is kept verbatim as ``[rires]``; an event with ``extent="begin"`` as
  ``[desc-]`` and ``extent="end"`` as ``[-desc]``; ``extent="previous"``/``"next"`` as
  ``+[desc]``/``[desc]+`` (the convention of ELAN's Transcriber import);
* ``<Comment desc="…"/>`` is kept as ``{…}`` (Transcriber's own display); ``<Background>`` is
  dropped; XML whitespace (the file's line breaks) is collapsed to single spaces;
* turns with no speech (only ``<Sync>``) are skipped;
* the ``<Trans>`` attributes (``scribe``, ``audio_filename``, ``version``, ``version_date``…) and
  the ``<Episode>`` ones (``program``, ``air_date``) go to the metadata; section topics are ignored.
"""

from __future__ import annotations

import codecs
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import ParseError
from xml.parsers import expat

from defusedxml import (
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)
from defusedxml.ElementTree import DefusedXMLParser

from qcode.errors import InputError
from qcode.ingest.encoding import BOMS, decode_text
from qcode.ingest.limits import DEFAULT_LIMITS, MAX_TIME_MS, Limits
from qcode.ingest.model import ParsedTranscript, TextBuilder, excerpt, normalise_text

FORMAT = "trs"

_XML_NS = "{http://www.w3.org/XML/1998/namespace}"
_XML_SPACE = re.compile(r"[ \t\r\n]+")
_DECLARATION = re.compile(rb"<\?xml\s[^>]*?encoding\s*=\s*[\"']([A-Za-z][A-Za-z0-9._:-]*)[\"']")
# Legacy 8-bit encodings in which valid, non-ASCII UTF-8 is practically never found in real text.
_LATIN = frozenset({"iso8859-1", "iso8859-15", "cp1252"})


def _decode(data: bytes, path: Path) -> tuple[str, list[str]]:
    """The XML document as text, decoded as its BOM or declaration says, and any warnings."""
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise InputError("empty file: nothing to ingest", path=path)
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding).lstrip("\ufeff"), []
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"bytes that are not valid {encoding} after a {encoding} byte-order mark",
                    path=path, line=data[: exc.start].count(b"\n") + 1,
                ) from None
    match = _DECLARATION.match(data)
    if match is None:
        # XML without a declaration is UTF-8 (or UTF-16); be lenient with legacy files.
        try:
            return data.decode("utf-8"), []
        except UnicodeDecodeError:
            pass
        text = decode_text(data, path)
        if b"\x00" in data:  # UTF-16 without a BOM, which XML allows
            return text, []
        return text, ["no encoding declared and not UTF-8: read as a legacy 8-bit encoding"]
    declared = match.group(1).decode("ascii")
    try:
        codec = codecs.lookup(declared)
    except LookupError:
        codec = None
    if codec is None or not getattr(codec, "_is_text_encoding", True):
        raise InputError(f"unknown encoding {excerpt(declared)} declared in the XML prolog",
                         path=path, line=1, hint="save the file as UTF-8")
    name = codec.name
    if name in _LATIN and not data.isascii():
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return text, [f"declared {declared} but the file is UTF-8: read as UTF-8"]
    try:
        return data.decode(name), []
    except UnicodeError as exc:  # UnicodeDecodeError, or a codec that refuses in its own way
        start = exc.start if isinstance(exc, UnicodeDecodeError) else 0
        raise InputError(
            f"bytes that are not valid {declared} as the XML prolog declares",
            path=path, line=data[:start].count(b"\n") + 1 if start else None,
            hint="fix the encoding declaration or save the file as UTF-8",
        ) from None


def _seconds_to_ms(value: str, what: str, path: Path, line: int) -> int:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise InputError(f"{what}={excerpt(value)} is not a time in seconds", path=path,
                         line=line)
    if seconds * 1000 > MAX_TIME_MS:
        raise InputError(f"{what}={excerpt(value)} is beyond {MAX_TIME_MS // 3_600_000} hours: "
                         "not a time in a recording", path=path, line=line)
    return round(seconds * 1000)


def _event_marker(attrib: dict[str, str]) -> str:
    desc = (attrib.get("desc") or attrib.get("type") or "").strip()
    if not desc:
        return ""
    extent = attrib.get("extent", "instantaneous")
    if extent == "begin":
        return f"[{desc}-]"
    if extent == "end":
        return f"[-{desc}]"
    if extent == "previous":
        return f"+[{desc}]"
    if extent == "next":
        return f"[{desc}]+"
    return f"[{desc}]"


@dataclass(slots=True)
class _RawTurn:
    speakers: list[str]
    line: int
    start_ms: int | None
    end_ms: int | None
    # (index into speakers, pieces of text) in document order
    segments: list[tuple[int, list[str]]] = field(default_factory=list)


class _Target:
    """Parser target: builds the turns as the XML streams by, knowing the current line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.parser: expat.XMLParserType | None = None
        self.stack: list[str] = []
        self.metadata: dict[str, str] = {}
        self.speakers: dict[str, str] = {}
        self.turns: list[_RawTurn] = []
        self.turn: _RawTurn | None = None
        self.seen_episode = False
        self.warnings: list[str] = []

    @property
    def line(self) -> int:
        return self.parser.CurrentLineNumber if self.parser is not None else 0

    def _error(self, message: str) -> InputError:
        return InputError(message, path=self.path, line=self.line)

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        parent = self.stack[-1] if self.stack else None
        self.stack.append(tag)
        if parent is None:
            if tag != "Trans":
                raise InputError(
                    f"not a Transcriber file: the root element is <{tag}>, not <Trans>",
                    path=self.path, line=self.line,
                )
            for key, value in attrib.items():
                name = "lang" if key == f"{_XML_NS}lang" else key
                self.metadata[name] = normalise_text(value).strip()
            return
        if self.turn is not None:
            self._inside_turn(tag, attrib)
        elif tag == "Speaker" and parent == "Speakers":
            self._speaker(attrib)
        elif tag == "Episode":
            self.seen_episode = True
            for key in ("program", "air_date"):
                if attrib.get(key, "").strip():
                    self.metadata.setdefault(key, normalise_text(attrib[key]).strip())
        elif tag == "Turn":
            if parent != "Section" or "Episode" not in self.stack:
                raise self._error(f"<Turn> inside <{parent}>, not in <Episode><Section>")
            self._open_turn(attrib)

    def _speaker(self, attrib: dict[str, str]) -> None:
        ident = attrib.get("id", "").strip()
        if not ident:
            raise self._error("<Speaker> without an id")
        if ident in self.speakers:
            raise self._error(f"<Speaker id={excerpt(ident)}> declared twice")
        name = normalise_text(attrib.get("name", "")).replace("\ufeff", "").strip()
        self.speakers[ident] = name or ident

    def _open_turn(self, attrib: dict[str, str]) -> None:
        line = self.line
        start = attrib.get("startTime")
        end = attrib.get("endTime")
        self.turn = _RawTurn(
            speakers=attrib.get("speaker", "").split(),
            line=line,
            start_ms=None if start is None else _seconds_to_ms(start, "startTime", self.path, line),
            end_ms=None if end is None else _seconds_to_ms(end, "endTime", self.path, line),
        )
        self.turn.segments.append((0, []))

    def _inside_turn(self, tag: str, attrib: dict[str, str]) -> None:
        turn = self.turn
        assert turn is not None
        pieces = turn.segments[-1][1]
        if tag == "Turn":
            raise self._error("<Turn> inside another <Turn>")
        if tag == "Sync":
            pieces.append(" ")
            if turn.start_ms is None and "time" in attrib:
                turn.start_ms = _seconds_to_ms(attrib["time"], "time", self.path, self.line)
        elif tag == "Who":
            try:
                nb = int(attrib.get("nb", ""))
            except ValueError:
                nb = 0
            if not 1 <= nb <= max(len(turn.speakers), 1):
                raise self._error(
                    f"<Who nb={excerpt(attrib.get('nb', ''))}> in a <Turn> of "
                    f"{len(turn.speakers)} speaker(s)"
                )
            turn.segments.append((nb - 1, []))
        elif tag == "Event":
            pieces.append(f" {_event_marker(attrib)} ")
        elif tag == "Comment":
            desc = attrib.get("desc", "").strip()
            pieces.append(f" {{{desc}}} " if desc else " ")
        else:  # Background, Vocal or unknown: a word boundary, any text inside is kept
            pieces.append(" ")

    def end(self, tag: str) -> None:
        self.stack.pop()
        if tag == "Turn" and self.turn is not None:
            turn = self.turn
            if turn.start_ms is not None and turn.end_ms is not None and \
                    turn.end_ms < turn.start_ms:
                raise InputError(f"<Turn> ends before it starts ({turn.end_ms / 1000:g} s < "
                                 f"{turn.start_ms / 1000:g} s)", path=self.path, line=turn.line)
            self.turns.append(turn)
            self.turn = None
        elif self.turn is not None and tag not in ("Sync", "Who", "Event", "Comment"):
            self.turn.segments[-1][1].append(" ")

    def data(self, text: str) -> None:
        if self.turn is not None:
            self.turn.segments[-1][1].append(text)

    def close(self) -> None:
        return None

    def build(self) -> ParsedTranscript:
        if not self.seen_episode:
            raise InputError("not a Transcriber file: no <Episode> in <Trans>", path=self.path)
        builder = TextBuilder()
        for turn in self.turns:
            labels: list[str] = []
            for ident in turn.speakers:
                if ident not in self.speakers:
                    raise InputError(
                        f"<Turn> refers to speaker {excerpt(ident)}, which <Speakers> does not "
                        "declare",
                        path=self.path, line=turn.line,
                    )
                labels.append(self.speakers[ident])
            if len(labels) > 1 and len(turn.segments) == 1:
                self.warnings.append(
                    f"line {turn.line}: a <Turn> of {len(labels)} speakers without <Who>: "
                    f"its speech is given to {labels[0]!r}"
                )
            for index, pieces in turn.segments:
                speech = _XML_SPACE.sub(" ", "".join(pieces)).strip(" ")
                speaker = labels[index] if labels else ""
                builder.add_turn(speaker, speech, turn.start_ms, turn.end_ms)
        if not builder.turns:
            raise InputError("no speech: every <Turn> of the file is empty", path=self.path)
        return builder.build(FORMAT, self.metadata, self.warnings)


def xml_refusal(exc: DefusedXmlException) -> str:
    """What defusedxml refused, in words (``EntitiesForbidden(name='lol', …)`` otherwise)."""
    if isinstance(exc, DTDForbidden):
        return f"the file declares a DTD (<!DOCTYPE {exc.name}>)"
    if isinstance(exc, EntitiesForbidden):
        kind = "an external entity" if exc.sysid or exc.pubid else "an entity"
        source = f" ({excerpt(exc.sysid or exc.pubid or '')})" if exc.sysid or exc.pubid else ""
        return f"the file declares {kind} {excerpt(exc.name or '')}{source}"
    if isinstance(exc, ExternalReferenceForbidden):
        return f"the file refers to the external resource {excerpt(exc.sysid or '')}"
    return str(exc)


def read_trs(data: bytes, path: Path, *, limits: Limits = DEFAULT_LIMITS) -> ParsedTranscript:
    """Read a Transcriber file; raise :class:`InputError` when it is not one or is malformed."""
    if len(data) > limits.max_file_bytes:
        raise InputError(f"file too large ({len(data)} bytes, the limit is "
                         f"{limits.max_file_bytes})", path=path)
    text, warnings = _decode(data, path)
    target = _Target(path)
    parser = DefusedXMLParser(target=target, forbid_dtd=False, forbid_entities=True,
                              forbid_external=True)
    target.parser = parser.parser
    try:
        parser.feed(text)
        parser.close()
    except ParseError as exc:
        line, column = exc.position
        raise InputError(f"malformed XML: {expat.ErrorString(exc.code)}",
                         path=path, line=line, column=column + 1) from None
    except DefusedXmlException as exc:
        raise InputError(f"refused XML: {xml_refusal(exc)}", path=path, line=target.line,
                         hint="entity declarations and external references are not allowed"
                         ) from None
    result = target.build()
    result.warnings[:0] = warnings
    return result
