"""Corpora for IRaMuTeQ, the French text-statistics tool (Reinert classification, similitudes).

IRaMuTeQ reads a plain-text corpus in the ALCESTE format: each text starts with a line
``**** *variable_value *variable2_value`` and runs until the next such line. qcode writes:

- without codes, one text per transcript: the participants' turns (interviewers and ``other``
  speakers left out), one turn per line, with the variables ``*id_<transcript>`` and one per
  transcript attribute;
- with ``codes``/``themes``, one text per coded passage of those codes (a passage coded by
  several coders once), in codebook order, with ``*code_<id>`` and ``*theme_<id>`` added to
  the transcript's variables.

Rules, from IRaMuTeQ's documentation and parser:

- a variable name ends at the first ``_``, so names keep only letters and digits
  (``age_band`` → ``*ageband_60-69``);
- values (modalities) have no spaces: any character other than a letter, a digit, ``-`` or
  ``.`` becomes ``_`` (``Claire Morel`` → ``Claire_Morel``, ``amis de l'îlot`` →
  ``amis_de_l_îlot``); accents are kept — IRaMuTeQ reads UTF-8 (choose ``utf_8`` when
  importing the file); an empty value leaves the variable out of that text;
- ``*`` is removed from the text (a line starting with ``****`` or ``-*`` would be read as a
  new text or a thematic variable); each paragraph is one line, with no blank line inside a
  text, runs of spaces collapsed;
- one blank line between texts; UTF-8 without a BOM (a BOM before the first ``****`` hides it),
  ``\\n`` line ends.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qcode.codebook import Codebook
from qcode.errors import UsageError
from qcode.project import Project
from qcode.reports.quotes import (
    check_transcripts,
    code_scope,
    match_where,
    select_quotes,
    write_export,
)
from qcode.store import Store
from qcode.store import transcripts as tq

DEFAULT_NAME = "corpus-iramuteq.txt"


@dataclass(slots=True)
class IramuteqExport:
    data: str
    texts: int
    notes: list[str] = field(default_factory=list)
    path: Path | None = None


def variable_name(name: str) -> str:
    """Letters and digits only: IRaMuTeQ splits a variable from its value at the first ``_``."""
    return "".join(ch for ch in name if ch.isalnum())


def variable_value(value: str) -> str:
    """No spaces nor characters IRaMuTeQ dislikes: they become ``_`` (accents are kept)."""
    out = re.sub(r"[^\w.\-]", "_", value.strip())
    return re.sub(r"_{2,}", "_", out).strip("_")


def star_line(variables: Sequence[tuple[str, str]]) -> str:
    """``**** *name_value …`` for the (name, value) pairs whose name and value are not empty."""
    parts = ["****"]
    for name, value in variables:
        n, v = variable_name(name), variable_value(value)
        if n and v:
            parts.append(f"*{n}_{v}")
    return " ".join(parts)


def text_body(text: str) -> str:
    """A passage as IRaMuTeQ text: no ``*``, one line per paragraph, no blank lines."""
    lines = [re.sub(r"[ \t\u00a0\u202f]+", " ", line).strip()
             for line in text.replace("*", "").split("\n")]
    return "\n".join(line for line in lines if line)


def _variables(transcript: str, attributes: dict[str, str], names: Sequence[str]
               ) -> list[tuple[str, str]]:
    return [("id", transcript)] + [(n, attributes.get(n, "")) for n in names]


def _check_names(names: Sequence[str]) -> list[str]:
    """Attribute names that clash once cleaned (``age band`` and ``age_band``): a note each."""
    seen: dict[str, str] = {"id": "id", "code": "code", "theme": "theme"}
    notes = []
    for name in names:
        clean = variable_name(name)
        if not clean:
            notes.append(f"attribute {name!r} has no letter or digit: left out of the corpus")
        elif clean in seen:
            notes.append(f"attributes {seen[clean]!r} and {name!r} are both *{clean} in the "
                         "corpus; rename one in the attribute sheet")
        else:
            seen[clean] = name
    return notes


def corpus(store: Store, *, transcripts: Sequence[str] = (), where: Sequence[str] = ()
           ) -> tuple[list[str], list[str]]:
    """One IRaMuTeQ text per transcript (participants' turns); returns (texts, notes)."""
    texts: list[str] = []
    notes: list[str] = []
    with store.read() as conn:
        attributes = tq.all_attributes(conn)
        known = tq.transcript_ids(conn)
        ids = check_transcripts(transcripts, known) or known
        if where:
            ids = match_where(where, attributes, ids)
        names = sorted({n for attrs in attributes.values() for n in attrs})
        notes.extend(_check_names(names))
        records = tq.load_many(conn, list(ids))
        for tid in ids:
            rec = records[tid]
            turns = [text_body(rec.text[t.start:t.end]) for t in rec.turns
                     if t.role == "participant"]
            body = "\n".join(t for t in turns if t)
            if not body:
                notes.append(f"{tid}: no participant turn, left out (check its speakers' "
                             "roles with 'qcode transcripts speakers')")
                continue
            variables = _variables(tid, attributes.get(tid, {}), names)
            texts.append(star_line(variables) + "\n" + body)
    return texts, notes


def coded_passages(project: Project, store: Store, book: Codebook, *,
                   themes: Sequence[str] = (), codes: Sequence[str] = (),
                   transcripts: Sequence[str] = (), where: Sequence[str] = (),
                   coders: Sequence[str] = (), origins: Sequence[str] = ()
                   ) -> tuple[list[str], list[str]]:
    """One IRaMuTeQ text per passage coded with the selected codes; returns (texts, notes)."""
    selection = select_quotes(project, store, book, themes=themes, codes=codes,
                              transcripts=transcripts, where=where, coders=coders,
                              origins=origins)
    notes = list(selection.notes) + _check_names(selection.attributes)
    texts: list[str] = []
    seen: set[tuple[str, str, int, int]] = set()
    for row in selection.rows:
        key = (row.code, row.transcript, row.start, row.end)
        if key in seen:
            continue
        seen.add(key)
        body = text_body(row.quote)
        if not body:
            continue
        variables = [*_variables(row.transcript, row.attributes, selection.attributes),
                     ("code", row.code), ("theme", row.theme)]
        texts.append(star_line(variables) + "\n" + body)
    return texts, notes


def export_iramuteq(project: Project, store: Store, book: Codebook | None = None, *,
                    themes: Sequence[str] = (), codes: Sequence[str] = (),
                    transcripts: Sequence[str] = (), where: Sequence[str] = (),
                    coders: Sequence[str] = (), origins: Sequence[str] = ()) -> IramuteqExport:
    """The corpus (no codes) or the coded passages (``codes``/``themes``) for IRaMuTeQ."""
    if themes or codes:
        if book is None:
            raise UsageError("exporting coded passages needs the codebook")
        code_scope(book, themes, codes)  # unknown codes fail before anything else
        texts, notes = coded_passages(project, store, book, themes=themes, codes=codes,
                                      transcripts=transcripts, where=where, coders=coders,
                                      origins=origins)
    else:
        if coders or origins:
            raise UsageError("--coder and --origin select codings: use them with --code or "
                             "--theme")
        texts, notes = corpus(store, transcripts=transcripts, where=where)
    data = "\n\n".join(texts) + "\n" if texts else ""
    return IramuteqExport(data, len(texts), notes)


def default_path(project: Project) -> Path:
    return project.root / project.exports_dir / DEFAULT_NAME


def write_iramuteq(project: Project, store: Store, book: Codebook | None = None,
                   path: Path | None = None, **options: Any) -> IramuteqExport:
    """:func:`export_iramuteq`, written atomically (default: ``exports/corpus-iramuteq.txt``)."""
    result = export_iramuteq(project, store, book, **options)
    result.path = write_export(path if path is not None else default_path(project), result.data)
    return result
