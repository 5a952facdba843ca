"""CSV turn tables exported by archives and spreadsheets: one row per turn.

Columns are found by the header row, in any order, in English or French (``time``/``temps``/
``heure``, ``speaker``/``locuteur``/``intervenant``, ``text``/``texte``, ``notes``/``remarques``,
optionally ``end``/``fin``); a file without a header is read as ``time, speaker, text, notes``.
The delimiter (``,``, ``;`` or tab) is the one that reads the file consistently, csv.Sniffer's
guess breaking ties; the encoding comes from
:func:`~qcode.ingest.encoding.decode_text`.

- A first row with no time, speaker or text but a note is the interview's header note →
  ``metadata["note"]``; notes on other rows go to ``metadata["notes"]`` as ``line N: note``.
- Consecutive rows of one speaker make one turn (their texts joined by a line break); a row
  with an empty speaker continues the current speaker (archives leave it blank like the time).
- Times are sparse. ``H:MM:SS`` and ``M:SS`` are read as such. Bare numbers are read as
  **minutes.seconds** (``1.19`` = 1 min 19 s, as in the Farms to Freeways archive, whose
  fractional parts never exceed 59) when every decimal time in the file has two digits after the
  point and none exceeds ``.59``; otherwise they are seconds (``75``, ``12.5``). A time that goes
  backwards (a new tape side) is kept as written, with a warning.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from qcode.errors import InputError
from qcode.ingest.encoding import decode_text
from qcode.ingest.limits import MAX_TIME_MS
from qcode.ingest.model import ParsedTranscript, TextBuilder, excerpt, normalise_text

COLUMN_NAMES: dict[str, frozenset[str]] = {
    "time": frozenset({
        "time", "times", "timestamp", "timecode", "tc", "start", "starttime", "begin", "from",
        "temps", "heure", "horodatage", "debut", "minutage", "tempsdebut", "heuredebut",
    }),
    "end": frozenset({"end", "endtime", "stop", "to", "fin", "tempsfin", "heurefin"}),
    "speaker": frozenset({
        "speaker", "speakers", "speakername", "who", "name", "voice", "role", "locuteur",
        "locutrice", "intervenant", "intervenante", "interlocuteur", "interlocutrice", "nom",
        "personne", "orateur", "oratrice", "qui",
    }),
    "text": frozenset({
        "text", "texte", "transcript", "transcription", "utterance", "speech", "content",
        "contenu", "verbatim", "parole", "paroles", "propos", "dialogue", "discours",
    }),
    "notes": frozenset({
        "notes", "note", "comment", "comments", "remark", "remarks", "annotation",
        "annotations", "commentaire", "commentaires", "remarque", "remarques",
    }),
}
_DEFAULT_ORDER = ("time", "speaker", "text", "notes")

_CLOCK_RE = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,](\d{1,3}))?$")
_NUMBER_RE = re.compile(r"^(\d+)(?:[.,](\d+))?$")


@dataclass(slots=True)
class _Row:
    line: int
    time: str
    end: str
    speaker: str
    text: str
    note: str


@dataclass(slots=True)
class _Columns:
    index: dict[str, int] = field(default_factory=dict)

    def get(self, row: list[str], name: str) -> str:
        i = self.index.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""


def _fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFD", name.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def _column_of(cell: str) -> str | None:
    folded = _fold(cell)
    for column, names in COLUMN_NAMES.items():
        if folded in names:
            return column
    return None


_DELIMITERS = (",", ";", "\t")
_TRIAL_CHARS = 256 * 1024


def _trial(sample: str, delimiter: str, truncated: bool) -> tuple[bool, bool, float]:
    """How well ``delimiter`` reads ``sample``: (splits the rows, parses, share of rows of the
    usual width)."""
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, quotechar='"',
                        doublequote=True, strict=True)
    widths: list[int] = []
    ok = True
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                widths.append(len(row))
    except csv.Error as exc:
        ok = truncated and "unexpected end of data" in str(exc)
    if not widths:
        return False, ok, 0.0
    usual = max(sorted(set(widths)), key=widths.count)
    return usual > 1, ok, widths.count(usual) / len(widths)


def _delimiter(text: str) -> str:
    """``,``, ``;`` or tab: each is tried on the start of the file; the one that splits the rows,
    parses and gives them one width wins, csv.Sniffer's guess breaking ties."""
    truncated = len(text) > _TRIAL_CHARS
    sample = text[: text.rfind("\n", 0, _TRIAL_CHARS) + 1 or _TRIAL_CHARS] if truncated else text
    try:
        sniffed = csv.Sniffer().sniff(sample[:16_384], delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        sniffed = ""
    first = text.split("\n", 1)[0]
    return max(
        _DELIMITERS,
        key=lambda d: (*_trial(sample, d, truncated), d == sniffed, first.count(d), d == ","),
    )


def _records(text: str, path: Path, delimiter: str) -> list[tuple[int, list[str]]]:
    """Rows with the line each starts on; malformed quoting → InputError with the line."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"',
                        doublequote=True, strict=True)
    out: list[tuple[int, list[str]]] = []
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            message = str(exc)
            if "unexpected end of data" in message or "field larger" in message:
                raise InputError(
                    f"unbalanced quote: the quoted field of the row that starts on line {start} "
                    "is never closed", path=path, line=start,
                    hint='close the quote, or double it ("") inside a quoted field',
                ) from None
            raise InputError(f"malformed CSV: {message}", path=path, line=reader.line_num,
                             hint='a quote inside a quoted field must be doubled ("")') from None
        if any(cell.strip() for cell in row):
            out.append((start, row))
        start = reader.line_num + 1
    return out


def _header(records: list[tuple[int, list[str]]], path: Path,
            warnings: list[str]) -> tuple[_Columns, int]:
    """Find the columns: (columns, number of records to skip)."""
    line, first = records[0]
    found = {i: _column_of(cell) for i, cell in enumerate(first) if cell.strip()}
    known = {i: c for i, c in found.items() if c is not None}
    # two known names, or a one-column table titled "text"
    if len(known) >= 2 or (len(found) == 1 and list(known.values()) == ["text"]):
        columns = _Columns()
        for i, column in known.items():
            columns.index.setdefault(column, i)
        if "text" not in columns.index:
            names = ", ".join(repr(c) for c in first)
            raise InputError(f"no text column in the header row ({names})", path=path,
                             line=line, hint="name the column of speech 'text' or 'texte'")
        return columns, 1
    width = max(len(row) for _, row in records)
    order: tuple[str, ...]
    if width >= 3:
        order = _DEFAULT_ORDER
    elif width == 2:
        order = ("speaker", "text")
    else:
        order = ("text",)
    warnings.append(f"no header row: columns read as {', '.join(order[:width])}")
    return _Columns({c: i for i, c in enumerate(order)}), 0


def _check_width(line: int, row: list[str], width: int, path: Path) -> None:
    extra = [cell for cell in row[width:] if cell.strip()]
    if extra:
        raise InputError(
            f"row has {len(row)} fields but the table has {width} columns "
            f"(extra {extra[0][:30]!r})", path=path, line=line,
            hint="put text that contains the delimiter between double quotes",
        )


def _minutes_seconds(rows: list[_Row]) -> bool:
    """Whether bare numbers in the time columns read as minutes.seconds (see module doc)."""
    fractions = []
    for row in rows:
        for value in (row.time, row.end):
            m = _NUMBER_RE.match(value)
            if m is not None and m.group(2) is not None:
                fractions.append(m.group(2))
    return bool(fractions) and all(len(f) == 2 and int(f) <= 59 for f in fractions)


def _time_ms(value: str, minutes_seconds: bool) -> int | None:
    """The time in ms, or None when it is not a time (or beyond any recording's length)."""
    value = value.strip().strip("[]()")
    if len(value) > 20:  # before int(): a huge number of digits is no time
        return None
    ms = _clock_or_number_ms(value, minutes_seconds)
    return None if ms is None or ms > MAX_TIME_MS else ms


def _clock_or_number_ms(value: str, minutes_seconds: bool) -> int | None:
    m = _CLOCK_RE.match(value)
    if m is not None:
        hours, minutes, seconds, frac = m.groups()
        if int(seconds) > 59 or (hours is not None and int(minutes) > 59):
            return None
        ms = int((frac or "").ljust(3, "0"))
        return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + ms
    m = _NUMBER_RE.match(value)
    if m is None:
        return None
    whole, frac = m.group(1), m.group(2) or ""
    if minutes_seconds:
        return (int(whole) * 60 + int(frac or "0")) * 1000
    return int(whole) * 1000 + int((frac + "000")[:3])


def read_csv(data: bytes, path: Path) -> ParsedTranscript:
    """Read a CSV table of turns (``time,speaker,text[,notes]``)."""
    text = normalise_text(decode_text(data, path))
    records = _records(text, path, _delimiter(text))
    if not records:
        raise InputError("the table has no rows", path=path)
    warnings: list[str] = []
    columns, skip = _header(records, path, warnings)
    width = len(records[0][1]) if skip else max(len(r) for _, r in records)
    rows: list[_Row] = []
    for line, cells in records[skip:]:
        _check_width(line, cells, width, path)
        rows.append(_Row(line, columns.get(cells, "time"), columns.get(cells, "end"),
                         columns.get(cells, "speaker"), columns.get(cells, "text"),
                         columns.get(cells, "notes")))

    metadata: dict[str, str] = {}
    if rows and not (rows[0].time or rows[0].speaker or rows[0].text) and rows[0].note:
        metadata["note"] = rows.pop(0).note
    notes = [f"line {r.line}: {r.note}" for r in rows if r.note]
    if notes:
        metadata["notes"] = "\n".join(notes)

    minutes_seconds = _minutes_seconds(rows)
    builder = TextBuilder()
    speaker = ""
    texts: list[str] = []
    start_ms: int | None = None
    end_ms: int | None = None
    last_time: int | None = None
    for row in rows:
        time_ms = _time_ms(row.time, minutes_seconds) if row.time else None
        if row.time and time_ms is None:
            warnings.append(f"line {row.line}: time {excerpt(row.time)} not understood; left empty")
        row_end = _time_ms(row.end, minutes_seconds) if row.end else None
        if time_ms is not None:
            if last_time is not None and time_ms < last_time:
                warnings.append(f"line {row.line}: time {row.time} is earlier than the one "
                                "before (a new tape or file?); kept as written")
            last_time = time_ms
        if not row.text:
            continue
        who = row.speaker or speaker
        if texts and who == speaker and who:
            texts.append(row.text)
            end_ms = row_end if row_end is not None else end_ms
            continue
        if texts:
            builder.add_turn(speaker, "\n".join(texts), start_ms, end_ms)
        speaker, texts, start_ms, end_ms = who, [row.text], time_ms, row_end
    if texts:
        builder.add_turn(speaker, "\n".join(texts), start_ms, end_ms)
    if not builder.turns:
        raise InputError("the table has no text in its text column", path=path,
                         line=records[0][0])
    return builder.build("csv", metadata, warnings)
