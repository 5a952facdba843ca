"""Quotes per theme: select codings with their context, render them as Markdown, CSV or JSON.

Selection and rendering are separate so that other reports (a digest) can reuse the rows:

- :func:`select_quotes` returns a :class:`Selection`: one :class:`QuoteRow` per coding, with
  its quote (always ``text[start:end]`` of the transcript), code path, turn, speaker, time,
  transcript attributes, coder, origin, memos and, when asked, the interviewer's question
  before it — in a deterministic order: codebook order of the codes (a theme, then its codes
  and sub-codes), then transcript id, start and end offsets, coder, coding id.
- :func:`render_quotes` turns a selection into Markdown (``quotes.md.j2``), CSV (``--excel``:
  UTF-8 with a BOM, ``;`` and CRLF, for spreadsheets configured for French) or JSON.
- :func:`export_quotes` does both; :func:`write_quotes` also writes the file atomically.

Attribution follows the study's style, « verbatim » (role, initiative) — AC03, tour 12,
0:04:31, set by a template in ``qcode.yaml``::

    export:
      attribution: "({role}, {initiative}) — {transcript}, tour {turn}, {time}"

Placeholders are the row's fields (:data:`ATTRIBUTION_FIELDS`) and the transcripts'
attributes; an unknown one is a validation error naming ``qcode.yaml``. An empty value takes
the separator before it (``, `` ``; `` `` — `` …) away with it, and empty brackets disappear, so a
transcript without times reads ``— AC03, tour 12``.

A *clean read* (``clean=True``, off by default) drops hesitations (euh, hein, ben…), repeated
words and transcription marks ([rires], (…), /, xxx) from the quotes for reading comfort; the
output then says so and keeps the verbatim quote too. Anonymisation brackets such as
``[prénom]`` are kept: they stand for words.
"""

from __future__ import annotations

import csv
import io
import json
import re
import string
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qcode.codebook import Codebook
from qcode.errors import NotFoundError, QcodeError, UsageError, ValidationError
from qcode.project import CONFIG_NAME, Project
from qcode.store import Store
from qcode.store import codings as cq
from qcode.store import transcripts as tq
from qcode.store.records import TranscriptRecord, TurnRecord
from qcode.transcripts import format_ms

ORIGINS = ("manual", "keyword", "import")
FORMATS = ("md", "csv", "json")
DEFAULT_NAMES = {"md": "quotes.md", "csv": "quotes.csv", "json": "quotes.json"}

# Placeholders of the attribution template besides the transcript attributes.
ATTRIBUTION_FIELDS = ("theme", "theme_label", "code", "label", "transcript", "speaker",
                      "speaker_role", "turn", "start", "end", "time", "coder", "origin")

DEFAULT_ATTRIBUTION = {
    "fr": "({role}, {initiative}) — {transcript}, tour {turn}, {time}",
    "en": "({role}, {initiative}) — {transcript}, turn {turn}, {time}",
}

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Verbatims par thème", "quote": "verbatim", "quotes": "verbatims",
        "one_transcript": "entretien", "transcripts": "entretiens",
        "selection": "Sélection", "theme": "thème", "code": "code", "transcript": "entretien",
        "coder": "codeur", "origin": "origine", "question": "Question", "turn": "tour",
        "memo": "Mémo", "verbatim": "Verbatim", "colon": " :", "semicolon": " ; ",
        "none": "Aucun verbatim ne correspond à la sélection.",
        "clean": "Lecture nettoyée : hésitations (euh, hein, ben…), mots répétés et marques de "
        "transcription ([rires], (…), /, xxx) retirés des citations ; le verbatim exact suit "
        "chaque citation modifiée.",
    },
    "en": {
        "title": "Quotes per theme", "quote": "quote", "quotes": "quotes",
        "one_transcript": "transcript", "transcripts": "transcripts",
        "selection": "Selection", "theme": "theme", "code": "code", "transcript": "transcript",
        "coder": "coder", "origin": "origin", "question": "Question", "turn": "turn",
        "memo": "Memo", "verbatim": "Verbatim", "colon": ":", "semicolon": "; ",
        "none": "No quote matches the selection.",
        "clean": "Clean read: hesitations (euh, hein, ben…), repeated words and transcription "
        "marks ([rires], (…), /, xxx) removed from the quotes; the exact verbatim follows each "
        "quote that changed.",
    },
}


# --- rows -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Context:
    """The interviewer's turn before a quote: the question it answers."""

    turn: int
    speaker: str
    text: str  # text[start:end] of that turn, verbatim
    time: str | None


@dataclass(slots=True)
class Memo:
    text: str
    coder: str | None  # None for the coding's own memo field


@dataclass(slots=True)
class QuoteRow:
    """One coding with everything a quote export shows about it."""

    coding_id: int
    transcript: str
    start: int
    end: int
    quote: str  # exactly text[start:end]
    code: str
    label: str
    theme: str
    theme_label: str
    path: list[str]  # labels from the theme's code down to this code (theme excluded)
    turn: int
    speaker: str
    speaker_role: str  # interviewer | participant | other
    start_ms: int | None
    time: str | None
    attributes: dict[str, str]
    coder: str
    origin: str
    flag: str
    memos: list[Memo] = field(default_factory=list)
    context: Context | None = None
    position: int = 0  # the code's place in the codebook


@dataclass(slots=True)
class Selection:
    rows: list[QuoteRow]
    book: Codebook
    attributes: list[str]  # every attribute name of the store's transcripts, sorted
    levels: int  # code levels below the themes (level1 … levelN columns)
    filters: list[tuple[str, str]] = field(default_factory=list)  # (kind, value) as asked
    notes: list[str] = field(default_factory=list)  # what the user should know (stderr)
    context: bool = False

    @property
    def transcripts(self) -> list[str]:
        return sorted({r.transcript for r in self.rows})


@dataclass(slots=True)
class QuotesExport:
    """A rendered export: ``data`` is text, or bytes for ``--excel``."""

    data: str | bytes
    fmt: str
    count: int  # quotes in the output (Markdown: identical passages of a code merged)
    notes: list[str] = field(default_factory=list)
    path: Path | None = None


# --- selection ----------------------------------------------------------------------------------


def _fold_value(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip().casefold()


def parse_where(specs: Iterable[str]) -> dict[str, list[str]]:
    """``["role=membre", "role=porteur", "initiative=les-ailes"]`` → attribute → values."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"invalid --where {spec!r}",
                             hint="write attribute=value, e.g. --where role=membre")
        out.setdefault(name.strip(), []).append(value.strip())
    return out


def match_where(specs: Iterable[str], attributes: dict[str, dict[str, str]],
                candidates: Iterable[str]) -> list[str]:
    """The ids among ``candidates`` whose attributes satisfy every ``attribute=value``.

    Different attributes must all hold; values given for one attribute are alternatives.
    Values are compared ignoring case. An unknown attribute, or a value no transcript has, is
    a usage error that lists what exists.
    """
    wanted = parse_where(specs)
    ids = list(candidates)
    if not wanted:
        return ids
    known = sorted({name for attrs in attributes.values() for name in attrs})
    for name, values in wanted.items():
        if name not in known:
            raise UsageError(
                f"unknown attribute {name!r} in --where",
                hint=f"known attributes: {', '.join(known)}" if known else
                "the transcripts have no attributes (set them in the attribute sheet)")
        existing = sorted({attrs[name] for attrs in attributes.values() if name in attrs})
        folded = {_fold_value(v) for v in existing}
        for value in values:
            if _fold_value(value) not in folded:
                raise UsageError(f"no transcript has {name}={value!r}",
                                 hint=f"values of {name}: {', '.join(existing)}")
    return [tid for tid in ids if all(
        _fold_value(attributes.get(tid, {}).get(name, "\0")) in {_fold_value(v) for v in values}
        for name, values in wanted.items())]


def code_scope(book: Codebook, themes: Sequence[str] = (), codes: Sequence[str] = ()
               ) -> list[str] | None:
    """The code ids that ``--theme`` and ``--code`` select (with sub-codes); None: all."""
    if not themes and not codes:
        return None
    out: dict[str, None] = {}
    for name in themes:
        theme = book.resolve(name)
        if theme.parent is not None:
            raise UsageError(f"{theme.id!r} ({theme.label}) is a code, not a theme",
                             hint="use --code for a code and its sub-codes; 'qcode codebook "
                                  "show --tree' lists the themes")
        out.update(dict.fromkeys([theme.id, *book.descendants(theme.id)]))
    for name in codes:
        code = book.resolve(name)
        out.update(dict.fromkeys([code.id, *book.descendants(code.id)]))
    return list(out)


def check_origins(origins: Sequence[str]) -> list[str] | None:
    """``manual``, ``keyword``, ``import`` or ``all`` → the origins to keep (None: all)."""
    wanted = [o.strip().lower() for o in origins if o.strip()]
    for origin in wanted:
        if origin != "all" and origin not in ORIGINS:
            raise UsageError(f"unknown origin {origin!r}",
                             hint=f"use {', '.join(ORIGINS)} or all")
    if not wanted or "all" in wanted:
        return None
    return list(dict.fromkeys(wanted))


def check_transcripts(ids: Sequence[str], known: Sequence[str]) -> list[str] | None:
    if not ids:
        return None
    from qcode.transcripts import not_found_message

    for tid in ids:
        if tid not in known:
            raise NotFoundError(not_found_message(tid, list(known)))
    return list(dict.fromkeys(ids))


def turn_of(turns: Sequence[TurnRecord], ends: Sequence[int], offset: int
            ) -> TurnRecord | None:
    """The turn that contains (or follows) ``offset``; ``ends`` are the turns' end offsets."""
    if not turns:
        return None
    i = bisect_right(ends, offset)
    return turns[min(i, len(turns) - 1)]


def question_before(rec: TranscriptRecord, turn_idx: int) -> Context | None:
    """The last interviewer turn before turn ``turn_idx``."""
    for turn in reversed(rec.turns):
        if turn.idx < turn_idx and turn.role == "interviewer":
            return Context(turn.idx, turn.speaker, rec.text[turn.start:turn.end],
                           format_ms(turn.start_ms))
    return None


def select_quotes(project: Project, store: Store, book: Codebook, *,
                  themes: Sequence[str] = (), codes: Sequence[str] = (),
                  transcripts: Sequence[str] = (), where: Sequence[str] = (),
                  coders: Sequence[str] = (), origins: Sequence[str] = (),
                  context: bool = False) -> Selection:
    """The codings that the filters select, as :class:`QuoteRow`, in export order.

    ``themes`` select a theme's codes and sub-codes, ``codes`` a code and its sub-codes (ids,
    labels or keys); ``where`` are ``attribute=value`` conditions on the transcripts;
    ``origins`` are ``manual``, ``keyword``, ``import`` or ``all`` (the default).
    """
    scope = code_scope(book, themes, codes)
    origin_list = check_origins(origins)
    filters: list[tuple[str, str]] = (
        [("theme", book.resolve(t).id) for t in themes]
        + [("code", book.resolve(c).id) for c in codes]
        + [("transcript", t) for t in transcripts]
        + [("where", w.strip()) for w in where]
        + [("coder", c) for c in coders]
        + [("origin", o) for o in (origin_list or [])])
    notes: list[str] = []
    with store.read() as conn:
        attributes = tq.all_attributes(conn)
        known_ids = tq.transcript_ids(conn)
        ids = check_transcripts(transcripts, known_ids)
        if where:
            ids = match_where(where, attributes, ids if ids is not None else known_ids)
        raw: list[dict[str, Any]] = []
        if ids is None or ids:
            raw = cq.query(conn, transcripts=ids, codes=scope, origins=origin_list)
        if coders:
            present = {r["coder"] for r in raw}
            missing = [c for c in coders if c not in present]
            if missing:
                everyone = sorted({r["coder"] for r in cq.query(conn)})
                unknown = [c for c in missing if c not in everyone]
                if unknown:
                    raise UsageError(f"no codings by {', '.join(map(repr, unknown))}",
                                     hint=f"coders: {', '.join(everyone) or 'none yet'}")
            wanted = set(coders)
            raw = [r for r in raw if r["coder"] in wanted]
        memos: dict[str, list[dict[str, Any]]] = {}
        for m in cq.memos(conn, "coding"):
            memos.setdefault(m["target_id"], []).append(m)
        records: dict[str, TranscriptRecord] = tq.load_many(
            conn, sorted({r["transcript_id"] for r in raw}))

    position = {code.id: i for i, code in enumerate(book.walk())}
    orphans = sorted({r["code_id"] for r in raw if r["code_id"] not in book.codes})
    if orphans:
        count = sum(1 for r in raw if r["code_id"] not in book.codes)
        notes.append(f"{count} coding(s) of code(s) no longer in the codebook left out: "
                     f"{', '.join(orphans)} ('qcode codebook show' lists orphans)")
    flagged = sum(1 for r in raw if r["flag"] and r["code_id"] in book.codes)
    if flagged:
        notes.append(f"{flagged} coding(s) flagged by re-anchoring included; check them with "
                     "'qcode codings list --flagged'")
    turn_ends = {tid: [t.end for t in rec.turns] for tid, rec in records.items()}
    rows: list[QuoteRow] = []
    for r in raw:
        if r["code_id"] not in book.codes:
            continue
        rec = records[r["transcript_id"]]
        code = book.codes[r["code_id"]]
        lineage = book.lineage(code.id)
        theme = book.codes[lineage[0]]
        turn = turn_of(rec.turns, turn_ends[rec.id], r["start"])
        row_memos = ([Memo(r["memo"], None)] if r["memo"] else []) + [
            Memo(m["text"], m["coder"]) for m in memos.get(str(r["id"]), [])]
        rows.append(QuoteRow(
            coding_id=r["id"], transcript=rec.id, start=r["start"], end=r["end"],
            quote=rec.text[r["start"]:r["end"]], code=code.id, label=code.label,
            theme=theme.id, theme_label=theme.label,
            path=[book.codes[c].label for c in lineage[1:]],
            turn=turn.idx if turn else 0, speaker=turn.speaker if turn else "",
            speaker_role=turn.role if turn else "",
            start_ms=turn.start_ms if turn else None,
            time=format_ms(turn.start_ms) if turn else None,
            attributes={k: v for k, (v, _src) in rec.attributes.items()},
            coder=r["coder"], origin=r["origin"], flag=r["flag"], memos=row_memos,
            context=question_before(rec, turn.idx) if context and turn else None,
            position=position[code.id]))
    rows.sort(key=lambda q: (q.position, q.transcript, q.start, q.end, q.coder, q.coding_id))
    names = sorted({name for attrs in attributes.values() for name in attrs})
    levels = max([c.depth for c in book.codes.values()] + [1])
    return Selection(rows, book, names, levels, filters, notes, context)


# --- clean read -------------------------------------------------------------------------------

_NONVERBAL = (r"rires?|rit|sourires?|silence|blanc|inaudible|incompr[ée]hensible|pause"
              r"|longue pause|soupirs?|soupire|toux|tousse|bruits?|h[ée]sitation|h[ée]site"
              r"|coupure|interruption|brouhaha|applaudissements|x{2,}|…|\.{1,3}")
_MARKS = re.compile(
    rf"\[\s*(?:{_NONVERBAL})\s*\]|\(\s*(?:{_NONVERBAL})\s*\)"  # [rires] (rires) […] (.)
    r"|(?<!\S)/{1,3}(?!\S)"  # / // /// pauses
    r"|(?<!\w)[xX]{3,}(?!\w)",  # xxx
    re.IGNORECASE)
_HESITATION = re.compile(
    r"(?<![\w’'])(?:e+u+h+|heu+|hein|ben|bah|hum+|hm+|mh+|m{2,}h*)(?![\w’'])"
    r"(?:\s*(?:…|\.\.\.))?(?:\s*,)?", re.IGNORECASE)
_WORD = r"[^\W\d_]+(?:['’][^\W\d_]+)*['’]?"
_REPEAT = re.compile(rf"(?<![\w’'])({_WORD}(?:\s+{_WORD}){{0,2}})"
                     rf"(?:(?:\s*(?:,|…|\.\.\.|--|—|–))?\s+\1)+(?![\w’'])", re.IGNORECASE)
_KEEP_DOUBLED = frozenset({"nous", "vous"})  # « nous nous sommes » is grammar, not a stammer
_SENTENCE_END = re.compile(r"[.!?…]\s*$")


def clean_read(text: str) -> str:
    """A quote made easier to read: no hesitations, repeated words or transcription marks.

    For reading only: the result is never stored, and exports keep the verbatim alongside.
    """

    def hesitation(m: re.Match[str]) -> str:
        word = m.group(0)
        before = m.string[:m.start()]
        at_start = not before.strip() or bool(_SENTENCE_END.search(before))
        if word[:1].isupper() and not at_start:  # « Ben » mid-sentence is likely a name
            return word
        return " "

    def repeat(m: re.Match[str]) -> str:
        unit = m.group(1)
        if unit.casefold() in _KEEP_DOUBLED:
            return m.group(0)
        return unit

    out = _MARKS.sub(" ", text)
    out = _HESITATION.sub(hesitation, out)
    out = _REPEAT.sub(repeat, out)
    lines = []
    for line in out.split("\n"):
        line = re.sub(r"[ \t\u00a0]{2,}", " ", line)
        line = re.sub(r"\s+,", ",", line)
        line = re.sub(r",(\s*,)+", ",", line)
        line = re.sub(r",\s*([.…])", r"\1", line)
        line = re.sub(r",\s*([?!;:])", r" \1", line)
        line = re.sub(r"\s+([.…])", r"\1", line)
        line = re.sub(r"^[\s,;]+", "", line).rstrip()
        lines.append(line)
    out = "\n".join(lines).strip()
    first = next((ch for ch in text if ch.isalpha()), "")
    if first.isupper() and out[:1].islower():
        out = out[0].upper() + out[1:]
    return out


# --- attribution ----------------------------------------------------------------------------

_SEPARATORS = (", ", " — ", " – ", " - ", "; ", " / ", " · ", " | ")


def attribution_template(project: Project) -> tuple[str, bool]:
    """The configured template (strict) or the default one for the project's language."""
    setting = project.raw.get("export")
    value = setting.get("attribution") if isinstance(setting, dict) else None
    if value is None:
        return DEFAULT_ATTRIBUTION.get(project.language, DEFAULT_ATTRIBUTION["en"]), False
    if not isinstance(value, str):
        raise _config_error(project, "export.attribution must be text, e.g. "
                            f'"{DEFAULT_ATTRIBUTION["fr"]}"')
    return value, True


def _config_error(project: Project, message: str) -> ValidationError:
    line = column = None
    try:
        from qcode.yamlutil import load_yaml

        _data, marks = load_yaml(project.config_path.read_text(encoding="utf-8-sig"),
                                 project.config_path)
        line, column = marks.value(("export", "attribution"))
    except Exception:  # the location is a help, not a requirement
        pass
    return ValidationError(message, path=project.root / CONFIG_NAME, line=line, column=column)


def parse_attribution(project: Project, template: str, known: Sequence[str], strict: bool
                      ) -> list[tuple[str, str | None]]:
    """``template`` as (literal, placeholder) pairs; unknown placeholders fail when strict."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise _config_error(project, f"export.attribution: invalid template {template!r}: "
                                     f"{exc} (write {{{{ and }}}} for a literal brace)") from None
    out: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parts:
        if name is not None and (spec or conversion or not name.strip()):
            raise _config_error(project, f"export.attribution: write placeholders as plain "
                                f"{{name}}, not {template!r}")
        if name is not None and name not in known and strict:
            raise _config_error(
                project, f"export.attribution: unknown placeholder {{{name}}} (known: "
                f"{', '.join('{' + k + '}' for k in known)})")
        out.append((literal, name))
    return out


def fill_attribution(parts: Sequence[tuple[str, str | None]], values: dict[str, str]) -> str:
    """Fill the template; an empty value takes its separator away, empty brackets vanish."""
    pieces: list[str] = []
    drop_leading = False
    for literal, name in parts:
        if drop_leading:
            for sep in _SEPARATORS:
                if literal.startswith(sep):
                    literal = literal[len(sep):]
                    break
            drop_leading = False
        if name is None:
            pieces.append(literal)
            continue
        value = values.get(name, "")
        if value:
            pieces.append(literal + value)
            continue
        for sep in _SEPARATORS:
            if literal.endswith(sep):
                literal = literal[: -len(sep)]
                break
        else:
            drop_leading = True
        pieces.append(literal)
    text = "".join(pieces)
    text = re.sub(r"\(\s*\)|\[\s*\]", "", text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return re.sub(r"^[\s,;—–·|/-]+|[\s,;—–·|/-]+$", "", text)


def row_values(row: QuoteRow) -> dict[str, str]:
    """What the attribution template can name: the row's fields, then its attributes."""
    values = dict(row.attributes)
    values.update({
        "theme": row.theme, "theme_label": row.theme_label, "code": row.code,
        "label": row.label, "transcript": row.transcript, "speaker": row.speaker,
        "speaker_role": row.speaker_role, "turn": str(row.turn), "start": str(row.start),
        "end": str(row.end), "time": row.time or "", "coder": row.coder, "origin": row.origin,
    })
    return values


class Attributor:
    """Renders attributions with the project's template, checked once."""

    def __init__(self, project: Project, selection: Selection) -> None:
        template, strict = attribution_template(project)
        known = list(dict.fromkeys([*ATTRIBUTION_FIELDS, *selection.attributes]))
        self.parts = parse_attribution(project, template, known, strict)

    def __call__(self, row: QuoteRow, **override: str) -> str:
        values = row_values(row)
        values.update(override)
        return fill_attribution(self.parts, values)


# --- rendering --------------------------------------------------------------------------------


def columns(selection: Selection, *, clean: bool = False) -> list[str]:
    """The CSV columns (and JSON keys), in order."""
    fixed_before = ["coding_id", "theme", "theme_label",
                    *(f"level{i}" for i in range(1, selection.levels + 1)),
                    "code", "label", "transcript", "speaker", "speaker_role"]
    fixed_after = ["turn", "start", "end", "time"]
    if selection.context:
        fixed_after += ["context_turn", "context_speaker", "context"]
    fixed_after += ["quote"]
    if clean:
        fixed_after += ["quote_clean", "clean_read"]
    fixed_after += ["attribution", "coder", "origin", "flag", "memo"]
    taken = set(fixed_before) | set(fixed_after)
    return [*fixed_before, *(attribute_column(n, taken) for n in selection.attributes),
            *fixed_after]


def attribute_column(name: str, taken: set[str]) -> str:
    """An attribute's column: its name, or ``attr_<name>`` when a fixed column has it."""
    return f"attr_{name}" if name in taken or name.startswith("level") else name


def row_dicts(selection: Selection, project: Project, *, clean: bool = False
              ) -> list[dict[str, Any]]:
    """One dict per coding, keys as :func:`columns` (JSON types: ints, null for missing)."""
    attribute = Attributor(project, selection)
    cols = columns(selection, clean=clean)
    taken = set(cols) - set(selection.attributes)
    out = []
    for row in selection.rows:
        item: dict[str, Any] = {
            "coding_id": row.coding_id, "theme": row.theme, "theme_label": row.theme_label}
        for i in range(selection.levels):
            item[f"level{i + 1}"] = row.path[i] if i < len(row.path) else ""
        item.update({"code": row.code, "label": row.label, "transcript": row.transcript,
                     "speaker": row.speaker, "speaker_role": row.speaker_role})
        for name in selection.attributes:
            item[attribute_column(name, taken)] = row.attributes.get(name, "")
        item.update({"turn": row.turn, "start": row.start, "end": row.end, "time": row.time})
        if selection.context:
            ctx = row.context
            item.update({"context_turn": ctx.turn if ctx else None,
                         "context_speaker": ctx.speaker if ctx else None,
                         "context": ctx.text if ctx else None})
        item["quote"] = row.quote
        if clean:
            item.update({"quote_clean": clean_read(row.quote), "clean_read": True})
        item.update({"attribution": attribute(row), "coder": row.coder, "origin": row.origin,
                     "flag": row.flag, "memo": "\n\n".join(m.text for m in row.memos)})
        out.append({c: item[c] for c in cols})
    return out


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_csv(rows: Sequence[dict[str, Any]], cols: Sequence[str], *, excel: bool = False
               ) -> str | bytes:
    """CSV text; ``excel``: bytes in UTF-8 with a BOM, ``;`` separators and CRLF line ends.

    Cells are verbatim: a quote keeps its own line breaks (``\\n``) inside its quoted cell.
    For spreadsheets, a cell that a spreadsheet would run as a formula (``=``, ``+``, ``-``,
    ``@``, tab or carriage return first) is shown as text instead, behind an apostrophe: a quote
    or a memo from someone else's file must never compute, fetch or run anything.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if excel else ",",
                        lineterminator="\r\n" if excel else "\n")
    writer.writerow(cols)
    for row in rows:
        cells = [_csv_cell(row[c]) for c in cols]
        writer.writerow([_inert(cell) for cell in cells] if excel else cells)
    text = buffer.getvalue()
    return ("\ufeff" + text).encode("utf-8") if excel else text


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(cell: str) -> str:
    """A spreadsheet cell that cannot be taken for a formula (OWASP's CSV injection advice)."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&])")
_MD_LINE_START = re.compile(r"(?m)^([ \t]*)([-+=]|\d+[.)])")


def md_escape(text: str) -> str:
    """Text shown literally by Markdown: punctuation that could format it is backslashed.

    Undo it by removing the backslash before any ASCII punctuation (CommonMark's escapes).
    """
    text = _MD_SPECIAL.sub(r"\\\1", text)

    def line_start(m: re.Match[str]) -> str:
        marker = m.group(2)
        return m.group(1) + (marker[:-1] + "\\" + marker[-1] if len(marker) > 1
                             else "\\" + marker)

    return _MD_LINE_START.sub(line_start, text)


def blockquote(text: str) -> str:
    """Every line prefixed with ``> `` (an empty line with ``>``)."""
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


def _labels(project: Project) -> dict[str, str]:
    return LABELS.get(project.language, LABELS["en"])


def _merged_items(selection: Selection, project: Project, clean: bool
                  ) -> dict[str, list[dict[str, Any]]]:
    """Markdown items by code: one per passage, the codings of several coders merged."""
    attribute = Attributor(project, selection)
    groups: dict[tuple[str, str, int, int], list[QuoteRow]] = {}
    for row in selection.rows:
        groups.setdefault((row.code, row.transcript, row.start, row.end), []).append(row)
    items: dict[str, list[dict[str, Any]]] = {}
    for (code, _t, _s, _e), rows in groups.items():
        first = rows[0]
        coders = ", ".join(dict.fromkeys(r.coder for r in rows))
        origins = ", ".join(dict.fromkeys(r.origin for r in rows))
        memos: dict[tuple[str | None, str], Memo] = {}
        for r in rows:
            for m in r.memos:
                memos.setdefault((m.coder, m.text), m)
        shown = clean_read(first.quote) if clean else first.quote
        items.setdefault(code, []).append({
            "quote": shown,
            "verbatim": first.quote if clean and shown != first.quote else None,
            "attribution": attribute(first, coder=coders, origin=origins),
            "context": first.context,
            "memos": list(memos.values()),
        })
    return items


def _filters_text(selection: Selection, labels: dict[str, str]) -> str:
    parts = []
    for kind, value in selection.filters:
        if kind == "where":
            name, _, wanted = value.partition("=")
            parts.append(f"{name.strip()} = {wanted.strip()}")
        else:
            parts.append(f"{labels[kind]} {value}")
    return labels["semicolon"].join(parts)


def render_markdown(selection: Selection, project: Project, *, clean: bool = False) -> str:
    from qcode.reports import environment

    labels = _labels(project)
    items = _merged_items(selection, project, clean)
    book = selection.book
    sections = []
    for code in book.walk():
        subtree = [code.id, *book.descendants(code.id)]
        if not any(c in items for c in subtree):
            continue
        sections.append({"level": min(2 + code.depth, 6), "label": code.label,
                         "description": code.description, "quotes": items.get(code.id, [])})
    count = sum(len(v) for v in items.values())
    n_transcripts = len(selection.transcripts)
    singular = {1, 0} if project.language == "fr" else {1}  # « 0 entretien » in French
    quotes_word = labels["quote"] if count in singular else labels["quotes"]
    transcripts_word = (labels["one_transcript"] if n_transcripts in singular
                        else labels["transcripts"])
    summary = f"{count} {quotes_word}, {n_transcripts} {transcripts_word}."
    filters = _filters_text(selection, labels)
    if filters:
        summary += f" {labels['selection']}{labels['colon']} {filters}."
    template = environment().get_template("quotes.md.j2")
    text = template.render(title=project.name, labels=labels, clean=clean, sections=sections,
                           summary=summary, md=md_escape, blockquote=blockquote)
    return text.rstrip("\n") + "\n"


def render_quotes(selection: Selection, project: Project, fmt: str = "md", *,
                  clean: bool = False, excel: bool = False) -> str | bytes:
    """The selection as Markdown, CSV (``excel``: bytes for French spreadsheets) or JSON."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"use {', '.join(FORMATS)}")
    if excel and fmt != "csv":
        raise UsageError("--excel applies to CSV only", hint="add --format csv")
    if fmt == "md":
        return render_markdown(selection, project, clean=clean)
    rows = row_dicts(selection, project, clean=clean)
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    return render_csv(rows, columns(selection, clean=clean), excel=excel)


def export_quotes(project: Project, store: Store, book: Codebook, *, fmt: str = "md",
                  clean: bool = False, excel: bool = False, context: bool = False,
                  themes: Sequence[str] = (), codes: Sequence[str] = (),
                  transcripts: Sequence[str] = (), where: Sequence[str] = (),
                  coders: Sequence[str] = (), origins: Sequence[str] = ()) -> QuotesExport:
    """Select and render quotes (nothing is written)."""
    selection = select_quotes(project, store, book, themes=themes, codes=codes,
                              transcripts=transcripts, where=where, coders=coders,
                              origins=origins, context=context)
    data = render_quotes(selection, project, fmt, clean=clean, excel=excel)
    if fmt == "md":
        count = len({(r.code, r.transcript, r.start, r.end) for r in selection.rows})
    else:
        count = len(selection.rows)
    return QuotesExport(data, fmt, count, list(selection.notes))


def default_path(project: Project, fmt: str) -> Path:
    return project.root / project.exports_dir / DEFAULT_NAMES[fmt]


def write_quotes(project: Project, store: Store, book: Codebook, path: Path | None = None,
                 **options: Any) -> QuotesExport:
    """:func:`export_quotes`, written atomically to ``path`` (default: the exports folder).

    Everything is rendered before the file is touched: a failure leaves the previous file.
    """
    result = export_quotes(project, store, book, **options)
    target = path if path is not None else default_path(project, result.fmt)
    result.path = write_export(target, result.data)
    return result


def write_export(target: Path, data: str | bytes) -> Path:
    """Write an export atomically; a folder or an unwritable place is a one-line error."""
    from qcode.fileutil import write_atomic

    if target.is_dir():
        raise UsageError(f"{target} is a folder", hint="give a file name to --out, or - for "
                                                       "stdout")
    try:
        return write_atomic(target, data)
    except OSError as exc:
        raise QcodeError(f"cannot write {target}: {exc.strerror or exc}",
                         hint="check the folder exists and is writable, or use --out") from None
