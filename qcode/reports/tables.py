"""Analysis tables built from codings: stats, crosstabs, co-occurrence, code × transcript matrix.

Each function returns rows (a list of dicts, JSON-ready) that the CLI renders as a table, JSON or
CSV, and that a digest reuses. They take the same filters:

- ``transcripts``: transcript ids (all by default; an unknown id is an error);
- ``where``: ``{attribute: value or [values]}`` — a transcript is kept when, for every attribute
  named, its value is one of those given (names and values compared ignoring case and accents;
  an unknown attribute or a value no transcript has is an error listing the known ones);
- ``coders``: coder names (an unknown coder is an error listing those who coded);
- ``origins``: ``manual``, ``keyword``, ``import`` (all by default).

Transcripts in scope are those the first two select; codings in scope are theirs, by those
coders, with those origins.

Levels. ``level="code"`` counts each coding under its own code (a code's row never includes its
sub-codes' codings); ``level="theme"`` counts it under the theme at the root of its code. Rows
come in codebook order; codes kept as orphans (removed from the codebook with ``sync --force``)
come last, each standing for itself at both levels (their theme is ``None``).

Definitions
    ``words`` — the words (as ingest counts them) of the text the codings cover, each word once
    even where codings overlap. ``share_transcripts`` — among the transcripts in scope that have
    the attribute value, the share where the theme or code appears; ``share_codings`` — the share
    of the theme's or code's codings made in those transcripts (``None`` when it has none).
    Co-occurrence units: ``transcript`` — a transcript; ``turn`` — a speaker turn (a coding
    belongs to every turn it overlaps); ``overlap`` — a passage: a code's overlapping codings
    are joined into passages, ``n1`` counts the passages of the first code, ``n2`` those of
    the second, and ``n12`` the places where a passage of one overlaps a passage of the other
    (overlapping passages of the two codes joined into one place, so ``n12 ≤ min(n1, n2)``).
    ``jaccard = n12 / (n1 + n2 − n12)``, rounded to 3 decimals, ``None`` when undefined (neither
    code has any unit).
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qcode.codebook import Codebook
from qcode.errors import NotFoundError, QcodeError, UsageError
from qcode.nlp import fold
from qcode.store import Store
from qcode.store import analysis as q
from qcode.store import transcripts as tq
from qcode.store.records import TurnRecord

ORIGINS = ("manual", "keyword", "import")
LEVELS = ("code", "theme")
UNITS = ("turn", "overlap", "transcript")
NONE_VALUE = "(none)"  # the crosstab value of transcripts without the attribute
DECIMALS = 3

_WORD_RE = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")  # words as ingest counts them

Where = Mapping[str, str | Sequence[str]]


# --- scope -------------------------------------------------------------------------------------


def parse_where(items: Sequence[str] | None) -> dict[str, list[str]]:
    """``["role=membre", "role=porteur", "initiative=x"]`` → ``{"role": [...], ...}``."""
    out: dict[str, list[str]] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"invalid --where {item!r}",
                             hint="use ATTRIBUTE=VALUE, e.g. --where role=membre")
        out.setdefault(name.strip(), []).append(value.strip())
    return out


def _shorten(values: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f", … ({len(values)} in all)" if len(values) > limit else "")


def resolve_attribute(name: str, known: Sequence[str]) -> str:
    """The attribute ``name`` refers to (exactly, else ignoring case and accents)."""
    if name in known:
        return name
    for k in known:
        if fold(k) == fold(name.strip()):
            return k
    listing = _shorten(list(known)) if known else "none: add an attribute sheet"
    raise NotFoundError(f"no attribute {name!r} on any transcript (known attributes: "
                        f"{listing})")


@dataclass(slots=True)
class Scope:
    """The transcripts and codings a table covers."""

    transcripts: list[str]  # ids, sorted
    attributes: dict[str, dict[str, str]]  # of every transcript in scope
    codings: list[dict[str, Any]]
    known_attributes: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    turns: dict[str, list[TurnRecord]] = field(default_factory=dict)


def select_transcripts(conn: Any, transcripts: Sequence[str] | None = None,
                       where: Where | None = None) -> tuple[list[str], dict[str, dict[str, str]],
                                                            list[str]]:
    """(ids in scope, attributes of every transcript, known attribute names)."""
    from qcode.transcripts import not_found_message

    known_ids = tq.transcript_ids(conn)
    if not known_ids:
        raise NotFoundError("no transcripts in the store", hint="run 'qcode ingest' first")
    attributes = tq.all_attributes(conn)
    names = q.attribute_names(conn)
    ids = list(known_ids)
    if transcripts:
        missing = [t for t in dict.fromkeys(transcripts) if t not in set(known_ids)]
        if missing:
            raise NotFoundError(not_found_message(missing[0], known_ids))
        wanted = set(transcripts)
        ids = [t for t in known_ids if t in wanted]
    for raw_name, raw_values in (where or {}).items():
        name = resolve_attribute(raw_name, names)
        values = [raw_values] if isinstance(raw_values, str) else list(raw_values)
        present = sorted({a[name] for a in attributes.values() if name in a})
        folded = {fold(v.strip()) for v in values}
        for v in values:
            if not any(fold(p) == fold(v.strip()) for p in present):
                raise NotFoundError(f"no transcript has {name}={v!r} (values of {name}: "
                                    f"{_shorten(present)})")
        ids = [t for t in ids if fold(attributes.get(t, {}).get(name, "\0")) in folded]
    return ids, attributes, names


def load_scope(store: Store, *, coders: Sequence[str] | None = None,
               origins: Sequence[str] | None = None, transcripts: Sequence[str] | None = None,
               where: Where | None = None, texts: bool = False, turns: bool = False) -> Scope:
    """The transcripts and codings selected by the filters (see the module's documentation)."""
    for origin in origins or ():
        if origin not in ORIGINS:
            raise UsageError(f"invalid origin {origin!r}",
                             hint=f"use {', '.join(ORIGINS)} or all")
    with store.read() as conn:
        ids, attributes, names = select_transcripts(conn, transcripts, where)
        if coders:
            known = q.coders(conn)
            missing = [c for c in coders if c not in known]
            if missing:
                raise NotFoundError(f"no codings by coder {missing[0]!r} (coders: "
                                    f"{_shorten(known) if known else 'none yet'})")
        everything = not transcripts and not where
        rows = q.codings(conn, transcripts=None if everything else ids, coders=coders,
                         origins=origins)
        scope = Scope(ids, {t: attributes.get(t, {}) for t in ids}, rows, names)
        if texts:
            scope.texts = q.texts(conn, sorted({r["transcript_id"] for r in rows}))
        if turns:
            scope.turns = q.turns(conn, sorted({r["transcript_id"] for r in rows}))
    return scope


# --- groups: what a row stands for ---------------------------------------------------------------


@dataclass(slots=True)
class Group:
    key: str
    label: str
    theme: str | None
    path: str
    codable: bool = True


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise UsageError(f"invalid level {level!r}", hint=f"use {' or '.join(LEVELS)}")


def _orphan_ids(book: Codebook, codings: Sequence[dict[str, Any]]) -> list[str]:
    return sorted({r["code_id"] for r in codings if r["code_id"] not in book.codes})


def groups(book: Codebook, codings: Sequence[dict[str, Any]], level: str,
           labels: Mapping[str, str] | None = None) -> list[Group]:
    """The rows of a table at ``level``, in codebook order, then orphan codes."""
    _check_level(level)
    out: list[Group] = []
    if level == "theme":
        out = [Group(t, book.codes[t].label, t, t) for t in book.roots]
    else:
        for code in book.walk():
            out.append(Group(code.id, code.label, book.theme_of(code.id),
                             "/".join(book.lineage(code.id)), code.codable))
    for cid in _orphan_ids(book, codings):
        out.append(Group(cid, (labels or {}).get(cid, ""), None, cid))
    return out


def group_of(book: Codebook, code_id: str, level: str) -> str:
    """The key of the row a coding with ``code_id`` counts under."""
    if level == "theme" and code_id in book.codes:
        return book.theme_of(code_id)
    return code_id


def _labels(store: Store) -> dict[str, str]:
    with store.read() as conn:
        return q.code_labels(conn)


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, DECIMALS) if den else None


# --- words covered -----------------------------------------------------------------------------


def _merge(spans: list[tuple[int, int]], *, touching: bool = True) -> list[tuple[int, int]]:
    """Sorted disjoint intervals; ``touching`` ones are joined too, else only overlapping."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and (s <= out[-1][1] if touching else s < out[-1][1]):
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _words(texts: Mapping[str, str], codings: Sequence[dict[str, Any]]) -> int:
    by_transcript: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for r in codings:
        by_transcript[r["transcript_id"]].append((r["start"], r["end"]))
    total = 0
    for tid, spans in by_transcript.items():
        text = texts.get(tid, "")
        for s, e in _merge(spans):
            total += len(_WORD_RE.findall(text, s, e))
    return total


def _measure(texts: Mapping[str, str], codings: Sequence[dict[str, Any]]) -> dict[str, int]:
    return {"codings": len(codings),
            "transcripts": len({r["transcript_id"] for r in codings}),
            "words": _words(texts, codings)}


# --- stats -------------------------------------------------------------------------------------


def stats(store: Store, book: Codebook, *, coders: Sequence[str] | None = None,
          origins: Sequence[str] | None = None, transcripts: Sequence[str] | None = None,
          where: Where | None = None) -> list[dict[str, Any]]:
    """Codings, transcripts and words per code × coder × origin, with theme totals.

    Rows: ``level`` (``theme`` or ``code``), ``theme``, ``code`` (``None`` on a theme row),
    ``label``, ``path`` (ids from the theme down, ``/``-separated), ``coder``, ``origin``
    (``None`` on theme rows: they total every coder and origin), ``codings``, ``transcripts``,
    ``words``. Each theme's total row comes first, then its codes in codebook order, each with
    one row per coder and origin (sorted); a codable code without codings gets one row of zeros
    (coder and origin ``None``).
    """
    scope = load_scope(store, coders=coders, origins=origins, transcripts=transcripts,
                       where=where, texts=True)
    by_code: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in scope.codings:
        by_code[r["code_id"]].append(r)
    rows: list[dict[str, Any]] = []

    def code_rows(g: Group) -> None:
        mine = by_code.get(g.key, [])
        if not mine:
            if g.codable:
                rows.append({"level": "code", "theme": g.theme, "code": g.key,
                             "label": g.label, "path": g.path, "coder": None, "origin": None,
                             "codings": 0, "transcripts": 0, "words": 0})
            return
        split: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for r in mine:
            split[(r["coder"], r["origin"])].append(r)
        for (coder, origin), part in sorted(split.items()):
            rows.append({"level": "code", "theme": g.theme, "code": g.key, "label": g.label,
                         "path": g.path, "coder": coder, "origin": origin,
                         **_measure(scope.texts, part)})

    code_groups = groups(book, scope.codings, "code", _labels(store))
    for theme in book.roots:
        subtree = [g for g in code_groups if g.theme == theme]
        mine = [r for g in subtree for r in by_code.get(g.key, [])]
        rows.append({"level": "theme", "theme": theme, "code": None,
                     "label": book.codes[theme].label, "path": theme, "coder": None,
                     "origin": None, **_measure(scope.texts, mine)})
        for g in subtree:
            code_rows(g)
    for g in code_groups:
        if g.theme is None:
            code_rows(g)
    return rows


# --- crosstab ----------------------------------------------------------------------------------


def crosstab(store: Store, book: Codebook, by: str, *, level: str = "theme",
             coders: Sequence[str] | None = None, origins: Sequence[str] | None = None,
             transcripts: Sequence[str] | None = None, where: Where | None = None
             ) -> list[dict[str, Any]]:
    """Each theme (or code) × each value of the transcript attribute ``by``.

    Rows: ``theme`` (and ``code`` at code level), ``label``, ``attribute``, ``value``
    (:data:`NONE_VALUE` for transcripts without the attribute, last), ``codings``,
    ``transcripts`` (where it appears), ``value_transcripts`` (transcripts in scope with the
    value), ``share_transcripts`` (transcripts / value_transcripts), ``share_codings`` (codings
    / all the theme's or code's codings in scope; ``None`` when it has none). Every pair is
    listed, zeros included; codes that are only folders and have no codings are left out.
    """
    _check_level(level)
    scope = load_scope(store, coders=coders, origins=origins, transcripts=transcripts,
                       where=where)
    attribute = resolve_attribute(by, scope.known_attributes)
    value_of = {t: scope.attributes[t].get(attribute, NONE_VALUE) for t in scope.transcripts}
    values = sorted(v for v in set(value_of.values()) if v != NONE_VALUE)
    if NONE_VALUE in value_of.values():
        values.append(NONE_VALUE)
    value_transcripts = {v: sum(1 for x in value_of.values() if x == v) for v in values}
    counts: dict[tuple[str, str], int] = defaultdict(int)
    present: dict[tuple[str, str], set[str]] = defaultdict(set)
    totals: dict[str, int] = defaultdict(int)
    for r in scope.codings:
        key = group_of(book, r["code_id"], level)
        value = value_of[r["transcript_id"]]
        counts[(key, value)] += 1
        present[(key, value)].add(r["transcript_id"])
        totals[key] += 1
    rows = []
    for g in groups(book, scope.codings, level, _labels(store)):
        if not g.codable and not totals.get(g.key):
            continue
        head = ({"theme": g.key} if level == "theme"
                else {"theme": g.theme, "code": g.key})
        for v in values:
            n = counts.get((g.key, v), 0)
            t = len(present.get((g.key, v), ()))
            rows.append({**head, "label": g.label, "attribute": attribute, "value": v,
                         "codings": n, "transcripts": t,
                         "value_transcripts": value_transcripts[v],
                         "share_transcripts": _ratio(t, value_transcripts[v]),
                         "share_codings": _ratio(n, totals.get(g.key, 0))})
    return rows


# --- co-occurrence -----------------------------------------------------------------------------


def _turns_of(turns: list[TurnRecord], ends: list[int], start: int, end: int) -> list[int]:
    """The turns a span overlaps (or, if none, the turn at or after its start)."""
    out = []
    for i in range(bisect.bisect_right(ends, start), len(turns)):
        t = turns[i]
        if t.start >= end:
            break
        if t.start < end and start < t.end:
            out.append(t.idx)
    if not out and turns:
        i = min(bisect.bisect_right(ends, start), len(turns) - 1)
        out.append(turns[i].idx)
    return out


def _places(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    """How many places a passage of ``a`` overlaps a passage of ``b`` (both sorted and
    disjoint); overlapping passages of the two are joined into one place."""
    marked = sorted([(s, e, 1) for s, e in a] + [(s, e, 2) for s, e in b])
    count = 0
    reach = -1
    flags = 0
    for s, e, who in marked:
        if s < reach:
            flags |= who
            reach = max(reach, e)
            continue
        if flags == 3:
            count += 1
        flags, reach = who, e
    if flags == 3:
        count += 1
    return count


def cooccurrence(store: Store, book: Codebook, *, unit: str = "turn", level: str = "code",
                 focus: str | None = None, include_zero: bool = False,
                 coders: Sequence[str] | None = None, origins: Sequence[str] | None = None,
                 transcripts: Sequence[str] | None = None, where: Where | None = None
                 ) -> list[dict[str, Any]]:
    """Pairs of codes (or themes) coded on the same units (see the module's documentation).

    Rows: ``theme1``, ``code1``, ``label1``, ``theme2``, ``code2``, ``label2`` (no ``code1``
    and ``code2`` at theme level), ``n12``, ``n1``, ``n2``, ``jaccard``; by Jaccard coefficient
    (descending, undefined last), then ``n12`` (descending), then codebook order; the first of
    a pair comes first in the codebook. Only pairs with ``n12 > 0`` unless ``include_zero``.
    ``focus`` (an id, label or key) keeps the pairs that involve it, it first: at code level a
    code or a theme with every code below it (a theme digest's "codes that co-occur with it
    most"), at theme level the theme of what it names.
    """
    _check_level(level)
    if unit not in UNITS:
        raise UsageError(f"invalid unit {unit!r}", hint=f"use {', '.join(UNITS)}")
    scope = load_scope(store, coders=coders, origins=origins, transcripts=transcripts,
                       where=where, turns=unit == "turn")
    all_groups = groups(book, scope.codings, level, _labels(store))
    order = {g.key: i for i, g in enumerate(all_groups)}
    info = {g.key: g for g in all_groups}
    focus_keys: set[str] | None = None
    if focus is not None:
        if focus in info and focus not in book.codes:  # an orphan code
            focus_keys = {focus}
        else:
            cid = book.resolve(focus).id
            focus_keys = ({group_of(book, cid, level)} if level == "theme"
                          else {cid, *book.descendants(cid)})
    # per group: its units (a set), or for overlap its passages by transcript
    units: dict[str, set[Any]] = defaultdict(set)
    spans: dict[str, dict[str, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    ends = {tid: [t.end for t in turns] for tid, turns in scope.turns.items()}
    for r in scope.codings:
        key = group_of(book, r["code_id"], level)
        tid = r["transcript_id"]
        if unit == "transcript":
            units[key].add(tid)
        elif unit == "turn":
            for idx in _turns_of(scope.turns[tid], ends[tid], r["start"], r["end"]):
                units[key].add((tid, idx))
        else:
            spans[key][tid].append((r["start"], r["end"]))
    passages: dict[str, dict[str, list[tuple[int, int]]]] = {
        key: {tid: _merge(s, touching=False) for tid, s in by_tid.items()}
        for key, by_tid in spans.items()}
    size: dict[str, int] = {}
    for g in all_groups:
        if unit == "overlap":
            size[g.key] = sum(len(p) for p in passages.get(g.key, {}).values())
        else:
            size[g.key] = len(units.get(g.key, ()))

    def both(a: str, b: str) -> int:
        if unit != "overlap":
            return len(units.get(a, set()) & units.get(b, set()))
        pa, pb = passages.get(a, {}), passages.get(b, {})
        return sum(_places(pa[tid], pb[tid]) for tid in pa.keys() & pb.keys())

    keys = [g.key for g in all_groups if g.codable or size[g.key]]
    rows = []
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            if focus_keys is not None and a not in focus_keys and b not in focus_keys:
                continue
            n12 = both(a, b)
            if n12 == 0 and not include_zero:
                continue
            first, second = (b, a) if focus_keys and a not in focus_keys else (a, b)
            n1, n2 = size[first], size[second]
            rows.append((first, second, n12, n1, n2, _ratio(n12, n1 + n2 - n12)))
    rows.sort(key=lambda r: (r[5] is None, -(r[5] or 0.0), -r[2], order[r[0]], order[r[1]]))
    out = []
    for a, b, n12, n1, n2, j in rows:
        if level == "code":
            head = {"theme1": info[a].theme, "code1": a, "label1": info[a].label,
                    "theme2": info[b].theme, "code2": b, "label2": info[b].label}
        else:
            head = {"theme1": a, "label1": info[a].label, "theme2": b, "label2": info[b].label}
        out.append({**head, "n12": n12, "n1": n1, "n2": n2, "jaccard": j})
    return out


# --- matrix ------------------------------------------------------------------------------------


def matrix(store: Store, book: Codebook, *, level: str = "code",
           coders: Sequence[str] | None = None, origins: Sequence[str] | None = None,
           transcripts: Sequence[str] | None = None, where: Where | None = None
           ) -> list[dict[str, Any]]:
    """The 0/1 matrix of codes (or themes) × transcripts: 1 when the transcript has a coding of
    it. Rows: ``code`` (or ``theme``), ``label``, then one key per transcript id in scope, in
    id order; rows in codebook order (codes that are only folders and have no codings are left
    out)."""
    _check_level(level)
    scope = load_scope(store, coders=coders, origins=origins, transcripts=transcripts,
                       where=where)
    name = "code" if level == "code" else "theme"
    columns = [name, "label", *scope.transcripts]
    if len(set(columns)) != len(columns):
        raise QcodeError(f"a transcript id clashes with the matrix's {name!r} or 'label' "
                         "column", hint="rename that transcript")
    present: dict[str, set[str]] = defaultdict(set)
    for r in scope.codings:
        present[group_of(book, r["code_id"], level)].add(r["transcript_id"])
    rows = []
    for g in groups(book, scope.codings, level, _labels(store)):
        if not g.codable and not present.get(g.key):
            continue
        mine = present.get(g.key, set())
        rows.append({name: g.key, "label": g.label,
                     **{t: int(t in mine) for t in scope.transcripts}})
    return rows
