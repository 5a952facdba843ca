"""Intercoder agreement: percent agreement, Cohen's κ, Scott's π, Krippendorff's α, per code.

Two parts, kept apart:

**Statistics** (pure functions on reliability data, any nominal values). Reliability data is a
mapping from a *pattern* — one value per coder, ``None`` where that coder gave none (missing) —
to a weight: how many units have that pattern (a character run counts as many units as it has
characters). Formulas are those of REFERENCE §3:

- *agreement* (percent agreement, as a share 0–1) — over the units every coder coded, the share
  of pairs of coders that agree; for two coders, the share of units on which they agree;
- *Cohen's κ* (two coders) — (p_o − p_e) / (1 − p_e), p_e = Σ_v (n_A,v/n)(n_B,v/n): a **sum**
  over values of the product of each coder's own marginals;
- *Scott's π* — the same form with p_e = Σ_v p_v², p_v from the pooled values; for more than
  two coders this is Fleiss' κ, its generalisation (p_o is then the mean pairwise agreement);
- *Brennan–Prediger κ_n* — p_e = 1/q for q values (here 2: coded, not coded);
- *Krippendorff's α* (nominal) — α = 1 − (n − 1)·Σ_{c≠k} o_ck / Σ_{c≠k} n_c·n_k over the
  coincidence matrix (each unit with m_u ≥ 2 values adds its pairs of values from different
  coders, weighted 1/(m_u − 1)); it uses every unit, missing values included.

A figure that cannot be computed is *undefined* — a :class:`Figure` with ``value=None`` and the
reason — never 0 or 1: no unit coded by every coder, no variation (p_e = 1; expected
disagreement 0), no pairable values, κ asked of other than two coders.

**Units** (:func:`assemble`): codings become binary reliability data per code (coded / not
coded), one unit kind at a time:

- ``char`` — every character of the transcripts;
- ``sentence``, ``turn`` — the sentences and speaker turns found at ingest; a unit carries a
  code when any of its characters is coded;
- ``segment[:t]`` — each coder's passages of a code (a coder's overlapping codings of one code
  joined), matched one-to-one between the two coders when |A∩B| / |A∪B| ≥ t (default 0.9, as
  MAXQDA), best overlaps first. A matched pair is a unit both coded, an unmatched passage a
  unit only its coder coded. "Neither coded" does not exist for passages, so κ, π and α are
  undefined there and chance agreement is Brennan–Prediger's (p_e = 1/2 per code: coded or not;
  MAXQDA takes 1/number of codes instead). Two coders only;
- ``document`` — a transcript carries a code when the coder coded it at least once there.

Missing data: a coder *has coded* a transcript when they have at least one coding in it (of any
code); the units of a transcript a coder has not coded are missing for that coder. Agreement,
κ, π and κ_n use the units every coder coded; α uses every unit that at least two coders coded.
The *overall* figure pools the binary decisions of every code × unit of the codes (or themes)
any of the coders applied in the transcripts compared, and computes each statistic once on
them; codes nobody applied are listed as undefined and left out of it (they would only add
units where everyone agrees on "not coded").

A theme (``level="theme"``) stands for its codes and sub-codes: a unit carries the theme when
any of them is coded there.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qcode.errors import NotFoundError, UsageError
from qcode.store.records import SentenceRecord, TurnRecord

if TYPE_CHECKING:
    from qcode.codebook import Codebook
    from qcode.store import Store

Value = Hashable
Pattern = tuple[Value | None, ...]
Data = Mapping[Pattern, float]

UNIT_KINDS = ("char", "sentence", "turn", "segment", "document")
DEFAULT_UNIT = "sentence"
DEFAULT_THRESHOLD = 0.9
LEVELS = ("code", "theme")
DECIMALS = 4  # figures in rows (the statistics themselves are not rounded)
CODED, NOT_CODED, MISSING = "coded", "not coded", "missing"

UNIT_DESCRIPTIONS = {
    "char": "every character of the transcripts, coded or not",
    "sentence": "sentences; one carries a code when any of its characters is coded",
    "turn": "speaker turns; one carries a code when any of its characters is coded",
    "segment": "coders' passages matched one-to-one when |A∩B|/|A∪B| ≥ {t:g}; chance "
               "agreement by Brennan–Prediger (p_e = 1/2); κ, π, α undefined",
    "document": "transcripts; one carries a code when the coder coded it there at least once",
}
NO_NEITHER = "passages have no 'neither coded' case (chance-corrected: κ_n)"


# --- statistics --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    """A statistic, or ``None`` with the reason it is undefined."""

    value: float | None
    reason: str = ""

    @property
    def defined(self) -> bool:
        return self.value is not None


def _undefined(reason: str) -> Figure:
    return Figure(None, reason)


def from_columns(*columns: Sequence[Value | None]) -> Counter[Pattern]:
    """Reliability data from one sequence of values per coder (``None`` or NaN: missing)."""
    if len({len(c) for c in columns}) > 1:
        raise ValueError("every coder needs one value per unit")
    out: Counter[Pattern] = Counter()
    for values in zip(*columns, strict=True):
        out[tuple(None if _missing(v) else v for v in values)] += 1
    return out


def _missing(value: Value | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _width(data: Data) -> int:
    widths = {len(p) for p in data}
    if len(widths) > 1:
        raise ValueError("every pattern needs one value per coder")
    return widths.pop() if widths else 0


def _complete(data: Data) -> list[tuple[Pattern, float]]:
    """The units every coder gave a value to."""
    return [(p, w) for p, w in data.items() if w > 0 and all(v is not None for v in p)]


NO_COMPLETE = "no unit coded by every coder"
NO_SPREAD = "no variation (expected disagreement 0)"
NO_VARIATION = "no variation (p_e = 1)"


def _pairwise(units: list[tuple[Pattern, float]]) -> tuple[float, float, dict[Value, float]]:
    """(total weight, mean pairwise observed agreement, pooled value shares)."""
    m = len(units[0][0])
    total = sum(w for _, w in units)
    agree = 0.0
    pooled: dict[Value, float] = defaultdict(float)
    for pattern, w in units:
        counts = Counter(pattern)
        agree += w * sum(n * (n - 1) for n in counts.values()) / (m * (m - 1))
        for v, n in counts.items():
            pooled[v] += w * n
    return total, agree / total, {v: x / (total * m) for v, x in pooled.items()}


def percent_agreement(data: Data) -> Figure:
    """The share of pairs of coders that agree, over the units every coder coded (0–1)."""
    if _width(data) < 2:
        return _undefined("agreement needs two coders or more")
    units = _complete(data)
    if not units:
        return _undefined(NO_COMPLETE)
    return Figure(_pairwise(units)[1])


def cohen_kappa(data: Data) -> Figure:
    """Cohen's κ of two coders, over the units both coded."""
    if _width(data) != 2:
        return _undefined("Cohen's κ is for exactly two coders")
    units = _complete(data)
    if not units:
        return _undefined(NO_COMPLETE)
    total = sum(w for _, w in units)
    observed = sum(w for (a, b), w in units if a == b) / total
    first: dict[Value, float] = defaultdict(float)
    second: dict[Value, float] = defaultdict(float)
    for (a, b), w in units:
        first[a] += w
        second[b] += w
    if len(first) == 1 and first.keys() == second.keys():
        return _undefined(NO_VARIATION)
    expected = sum((first[v] / total) * (second.get(v, 0.0) / total) for v in first)
    return Figure((observed - expected) / (1 - expected))


def scott_pi(data: Data) -> Figure:
    """Scott's π (Fleiss' κ for more than two coders), over the units every coder coded."""
    if _width(data) < 2:
        return _undefined("Scott's π needs two coders or more")
    units = _complete(data)
    if not units:
        return _undefined(NO_COMPLETE)
    _, observed, shares = _pairwise(units)
    if len(shares) == 1:
        return _undefined(NO_VARIATION)
    expected = sum(p * p for p in shares.values())
    return Figure((observed - expected) / (1 - expected))


def brennan_prediger(data: Data, q: int = 2) -> Figure:
    """Brennan–Prediger's κ_n: chance agreement 1/q for q possible values."""
    if q < 2:
        raise ValueError("q must be 2 or more")
    if _width(data) < 2:
        return _undefined("κ_n needs two coders or more")
    units = _complete(data)
    if not units:
        return _undefined(NO_COMPLETE)
    observed = _pairwise(units)[1]
    return Figure((observed - 1 / q) / (1 - 1 / q))


def coincidences(data: Data) -> dict[tuple[Value, Value], float]:
    """Krippendorff's coincidence matrix ``o[(c, k)]`` (units with fewer than two values add
    nothing)."""
    o: dict[tuple[Value, Value], float] = defaultdict(float)
    for pattern, w in data.items():
        values = [v for v in pattern if v is not None]
        m = len(values)
        if m < 2 or w <= 0:
            continue
        counts = Counter(values)
        for c, nc in counts.items():
            for k, nk in counts.items():
                pairs = nc * (nk - 1) if c == k else nc * nk
                if pairs:
                    o[(c, k)] += w * pairs / (m - 1)
    return o


def krippendorff_alpha(data: Data) -> Figure:
    """Krippendorff's α for nominal values, any number of coders, missing values allowed."""
    o = coincidences(data)
    marginals: dict[Value, float] = defaultdict(float)
    for (c, _k), x in o.items():
        marginals[c] += x
    n = sum(marginals.values())
    if n == 0:
        return _undefined("no pairable values: no unit coded by two coders")
    if len(marginals) == 1:
        return _undefined(NO_SPREAD)
    observed = sum(x for (c, k), x in o.items() if c != k)
    expected = n * n - sum(x * x for x in marginals.values())
    return Figure(1 - (n - 1) * observed / expected)


@dataclass(frozen=True, slots=True)
class Stats:
    """Every statistic of one set of reliability data. ``units`` counts the units every coder
    coded (the base of agreement, κ, π and κ_n)."""

    units: int
    agreement: Figure
    kappa: Figure
    pi: Figure
    alpha: Figure
    brennan_prediger: Figure


FIGURES = ("agreement", "kappa", "pi", "alpha", "brennan_prediger")
SYMBOLS = {"agreement": "agreement", "kappa": "κ", "pi": "π", "alpha": "α",
           "brennan_prediger": "κ_n"}


def measure(data: Data, *, chance_free: bool = False) -> Stats:
    """Every statistic of ``data``. ``chance_free``: the data has no "neither coded" units
    (segments): κ, π and α are undefined, κ_n (q = 2) stands for chance-corrected agreement."""
    units = int(sum(w for _, w in _complete(data)))
    if chance_free:
        skip = _undefined(NO_NEITHER)
        return Stats(units, percent_agreement(data), skip, skip, skip, brennan_prediger(data))
    return Stats(units, percent_agreement(data), cohen_kappa(data), scott_pi(data),
                 krippendorff_alpha(data), brennan_prediger(data))


# --- units -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit kind, with the overlap threshold for segments."""

    kind: str
    threshold: float | None = None

    def __str__(self) -> str:
        return f"segment:{self.threshold:g}" if self.kind == "segment" else self.kind

    @property
    def description(self) -> str:
        return UNIT_DESCRIPTIONS[self.kind].format(t=self.threshold or 0)


def parse_unit(spec: str) -> Unit:
    """``char``, ``sentence``, ``turn``, ``document``, ``segment`` or ``segment:0.8`` (also
    ``segment:80%``)."""
    kind, sep, rest = spec.strip().lower().partition(":")
    if kind not in UNIT_KINDS:
        raise UsageError(f"invalid unit {spec!r}",
                         hint="use char, sentence, turn, segment[:0.9] or document")
    if kind != "segment":
        if sep:
            raise UsageError(f"invalid unit {spec!r}: only segment takes a threshold",
                             hint="e.g. --unit segment:0.8")
        return Unit(kind)
    if not sep:
        return Unit(kind, DEFAULT_THRESHOLD)
    text = rest.strip()
    try:
        threshold = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        threshold = -1.0
    if not 0 < threshold <= 1:
        raise UsageError(f"invalid segment threshold {rest!r}",
                         hint="an overlap share above 0 and at most 1, e.g. segment:0.9 or "
                              "segment:90%")
    return Unit(kind, threshold)


@dataclass(slots=True)
class Text:
    """What assembling units needs of a transcript."""

    id: str
    text: str
    turns: list[TurnRecord] = field(default_factory=list)
    sentences: list[SentenceRecord] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Span:
    """A coding, reduced to what agreement needs."""

    transcript: str
    start: int
    end: int
    code: str
    coder: str


@dataclass(frozen=True, slots=True)
class Category:
    """What a row stands for: a code, or a theme with its codes and sub-codes."""

    key: str
    label: str
    level: str  # code | theme
    theme: str | None
    codes: frozenset[str]


@dataclass(slots=True)
class Disagreement:
    """A passage where the coders differ on a code: each coder's value (``coded``,
    ``not coded``, ``missing``; for segments, ``coded START:END`` of their passages)."""

    key: str  # the category's key
    transcript: str
    turn: int | None
    where: str  # 1520:1610, 12.3, 12, or the transcript id
    start: int | None
    end: int | None
    quote: str | None
    values: dict[str, str]
    position: int = 0  # the category's position (sort order)


@dataclass(slots=True)
class Result:
    """The agreement on one category (or overall)."""

    category: Category | None  # None: overall
    data: Counter[Pattern]
    coded: dict[str, int]  # units each coder coded with it, among the units every coder coded
    stats: Stats
    applied: bool  # some coder applied it in the transcripts compared


def merge(spans: Iterable[tuple[int, int]], *, touching: bool = True) -> list[tuple[int, int]]:
    """Sorted, disjoint intervals covering ``spans`` (touching ones joined unless asked not
    to)."""
    out: list[list[int]] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if out and (s < out[-1][1] or (touching and s == out[-1][1])):
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _turn_number(turns: Sequence[TurnRecord], ends: Sequence[int], offset: int) -> int | None:
    if not turns:
        return None
    return turns[min(bisect.bisect_right(ends, offset), len(turns) - 1)].idx


def _has_alnum(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


class _Assembler:
    """Builds the reliability data of each category from the codings, unit kind by unit kind."""

    def __init__(self, texts: Mapping[str, Text], spans: Sequence[Span], coders: Sequence[str],
                 unit: Unit, *, disagreements: bool) -> None:
        self.texts = texts
        self.coders = list(coders)
        self.unit = unit
        self.want = disagreements
        self.skipped = 0  # character runs without a letter or digit left out of the listing
        index = {c: i for i, c in enumerate(self.coders)}
        self.coded_by: dict[str, set[int]] = defaultdict(set)
        # (transcript, code) → coder index → intervals
        self.by_code: dict[tuple[str, str], dict[int, list[tuple[int, int]]]] = \
            defaultdict(lambda: defaultdict(list))
        for sp in spans:
            i = index.get(sp.coder)
            if i is None or sp.transcript not in texts:
                continue
            self.coded_by[sp.transcript].add(i)
            length = len(texts[sp.transcript].text)
            s, e = max(0, sp.start), min(length, sp.end)
            if s < e:
                self.by_code[(sp.transcript, sp.code)][i].append((s, e))
        # transcripts at least two of the coders coded: the only ones with pairable units
        self.shared = sorted(t for t, who in self.coded_by.items() if len(who) >= 2)
        self.codes_in: dict[str, set[str]] = defaultdict(set)
        for tid, code in self.by_code:
            self.codes_in[tid].add(code)
        shared = set(self.shared)
        self.used = {code for tid, code in self.by_code if tid in shared}  # in those
        self._units: dict[str, tuple[list[tuple[int, int]], list[str], list[int]]] = {}
        self._turn_ends = {t: [x.end for x in texts[t].turns] for t in self.shared}

    # -- per category ---------------------------------------------------------------------

    def run(self, cat: Category, position: int) -> tuple[Counter[Pattern], list[Disagreement]]:
        data: Counter[Pattern] = Counter()
        found: list[Disagreement] = []
        for tid in self.shared:
            present = self.coded_by[tid]
            intervals: dict[int, list[tuple[int, int]]] = {}
            for code in cat.codes & self.codes_in.get(tid, set()):
                for i, ivs in self.by_code[(tid, code)].items():
                    intervals.setdefault(i, []).extend(ivs)
            kind = self.unit.kind
            if kind == "char":
                self._chars(cat, tid, present, intervals, data, found)
            elif kind in ("sentence", "turn"):
                self._fixed(cat, tid, present, intervals, data, found)
            elif kind == "document":
                self._document(cat, tid, present, intervals, data, found)
            else:
                self._segments(cat, tid, intervals, data, found)
        for d in found:
            d.position = position
        return data, found

    def _blank(self, present: set[int]) -> list[Value | None]:
        return [0 if i in present else None for i in range(len(self.coders))]

    def _values(self, pattern: Pattern) -> dict[str, str]:
        return {c: MISSING if v is None else (CODED if v else NOT_CODED)
                for c, v in zip(self.coders, pattern, strict=True)}

    @staticmethod
    def _differ(pattern: Pattern) -> bool:
        return len({v for v in pattern if v is not None}) > 1

    def _chars(self, cat: Category, tid: str, present: set[int],
               intervals: dict[int, list[tuple[int, int]]], data: Counter[Pattern],
               found: list[Disagreement]) -> None:
        text = self.texts[tid].text
        merged = {i: merge(ivs) for i, ivs in intervals.items()}
        points = sorted({0, len(text), *(x for ivs in merged.values() for iv in ivs
                                         for x in iv)})
        cursor = dict.fromkeys(merged, 0)
        base = self._blank(present)
        runs: list[tuple[int, int, Pattern]] = []
        for p, q in itertools.pairwise(points):
            values: list[Value | None] = list(base)
            for i, ivs in merged.items():
                k = cursor[i]
                while k < len(ivs) and ivs[k][1] <= p:
                    k += 1
                cursor[i] = k
                if k < len(ivs) and ivs[k][0] <= p:
                    values[i] = 1
            pattern = tuple(values)
            data[pattern] += q - p
            if self.want and self._differ(pattern):
                if runs and runs[-1][1] == p and runs[-1][2] == pattern:
                    runs[-1] = (runs[-1][0], q, pattern)
                else:
                    runs.append((p, q, pattern))
        for s, e, pattern in runs:
            quote = text[s:e]
            if not _has_alnum(quote):
                self.skipped += 1
                continue
            s += len(quote) - len(quote.lstrip())  # the quote without its edge spaces
            e -= len(quote) - len(quote.rstrip())
            quote = text[s:e]
            found.append(Disagreement(
                cat.key, tid, _turn_number(self.texts[tid].turns, self._turn_ends[tid], s),
                f"{s}:{e}", s, e, quote, self._values(pattern)))

    def _unit_spans(self, tid: str) -> tuple[list[tuple[int, int]], list[str], list[int]]:
        """The sentences or turns of a transcript: spans (sorted), names, turn numbers."""
        if tid not in self._units:
            rec = self.texts[tid]
            if self.unit.kind == "turn":
                items = sorted((t.start, t.end, str(t.idx), t.idx) for t in rec.turns)
            else:
                items = sorted((se.start, se.end, f"{se.turn_idx}.{se.idx}", se.turn_idx)
                               for se in rec.sentences)
            self._units[tid] = ([(s, e) for s, e, _, _ in items], [n for _, _, n, _ in items],
                                [t for _, _, _, t in items])
        return self._units[tid]

    def _fixed(self, cat: Category, tid: str, present: set[int],
               intervals: dict[int, list[tuple[int, int]]], data: Counter[Pattern],
               found: list[Disagreement]) -> None:
        spans, names, turn_numbers = self._unit_spans(tid)
        starts = [s for s, _ in spans]
        ends = [e for _, e in spans]
        marked: dict[int, set[int]] = defaultdict(set)  # unit → coders that coded it
        for i, ivs in intervals.items():
            for s, e in merge(ivs):
                first = bisect.bisect_right(ends, s)
                last = bisect.bisect_left(starts, e)
                for u in range(first, last):
                    marked[u].add(i)
        base = self._blank(present)
        data[tuple(base)] += len(spans) - len(marked)
        for u in sorted(marked):
            values = list(base)
            for i in marked[u]:
                values[i] = 1
            pattern = tuple(values)
            data[pattern] += 1
            if self.want and self._differ(pattern):
                s, e = spans[u]
                found.append(Disagreement(cat.key, tid, turn_numbers[u], names[u], s, e,
                                          self.texts[tid].text[s:e], self._values(pattern)))

    def _document(self, cat: Category, tid: str, present: set[int],
                  intervals: dict[int, list[tuple[int, int]]], data: Counter[Pattern],
                  found: list[Disagreement]) -> None:
        values = self._blank(present)
        for i, ivs in intervals.items():
            if ivs:
                values[i] = 1
        pattern = tuple(values)
        data[pattern] += 1
        if self.want and self._differ(pattern):
            found.append(Disagreement(cat.key, tid, None, tid, None, None, None,
                                      self._values(pattern)))

    def _segments(self, cat: Category, tid: str, intervals: dict[int, list[tuple[int, int]]],
                  data: Counter[Pattern], found: list[Disagreement]) -> None:
        first = merge(intervals.get(0, []), touching=False)
        second = merge(intervals.get(1, []), touching=False)
        pairs = match_segments(first, second, self.unit.threshold or DEFAULT_THRESHOLD)
        data[(1, 1)] += len(pairs)
        lone_a = sorted(set(range(len(first))) - {a for a, _ in pairs})
        lone_b = sorted(set(range(len(second))) - {b for _, b in pairs})
        data[(1, 0)] += len(lone_a)
        data[(0, 1)] += len(lone_b)
        if not self.want or not (lone_a or lone_b):
            return
        text = self.texts[tid].text
        lone = sorted([first[a] for a in lone_a] + [second[b] for b in lone_b])
        for s, e in merge(lone, touching=False):
            values = {}
            for coder, segs in zip(self.coders, (first, second), strict=True):
                mine = [f"{a}:{b}" for a, b in segs if a < e and s < b]
                values[coder] = f"{CODED} {', '.join(mine)}" if mine else NOT_CODED
            found.append(Disagreement(
                cat.key, tid, _turn_number(self.texts[tid].turns, self._turn_ends[tid], s),
                f"{s}:{e}", s, e, text[s:e], values))

    def coded_counts(self, data: Counter[Pattern]) -> dict[str, int]:
        counts = dict.fromkeys(self.coders, 0)
        for pattern, w in _complete(data):
            for coder, v in zip(self.coders, pattern, strict=True):
                if v:
                    counts[coder] += int(w)
        return counts

    def applied(self, cat: Category) -> bool:
        return not cat.codes.isdisjoint(self.used)


def match_segments(first: Sequence[tuple[int, int]], second: Sequence[tuple[int, int]],
                   threshold: float) -> list[tuple[int, int]]:
    """Pairs (i, j) of two coders' segments (each list sorted and disjoint) matched
    one-to-one when their overlap |A∩B| / |A∪B| reaches ``threshold``, best overlaps first
    (then by position)."""
    starts = [s for s, _ in second]
    ends = [e for _, e in second]
    candidates: list[tuple[float, int, int]] = []
    for i, (s, e) in enumerate(first):
        for j in range(bisect.bisect_right(ends, s), bisect.bisect_left(starts, e)):
            s2, e2 = second[j]
            ratio = (min(e, e2) - max(s, s2)) / (max(e, e2) - min(s, s2))
            if ratio >= threshold - 1e-12:
                candidates.append((-ratio, i, j))
    taken_a: set[int] = set()
    taken_b: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for _, i, j in sorted(candidates):
        if i not in taken_a and j not in taken_b:
            taken_a.add(i)
            taken_b.add(j)
            pairs.append((i, j))
    return sorted(pairs)


def assemble(texts: Mapping[str, Text], spans: Sequence[Span], coders: Sequence[str],
             categories: Sequence[Category], unit: Unit, *, disagreements: bool = False
             ) -> tuple[list[Result], Result, list[Disagreement], int]:
    """The agreement on each category, overall, the disagreements (when asked), and how many
    character runs without a letter or digit were left out of that list.

    ``texts`` are the transcripts compared; ``spans`` every coding of the ``coders`` in them
    (of any code: a coder with a coding in a transcript has coded it).
    """
    if len(coders) < 2 or len(set(coders)) != len(coders):
        raise UsageError("name two different coders or more")
    if unit.kind == "segment" and len(coders) != 2:
        raise UsageError("segment agreement compares exactly two coders",
                         hint="use char, sentence, turn or document for more")
    work = _Assembler(texts, spans, coders, unit, disagreements=disagreements)
    chance_free = unit.kind == "segment"
    results: list[Result] = []
    found: list[Disagreement] = []
    pooled: Counter[Pattern] = Counter()
    for position, cat in enumerate(categories):
        data, listed = work.run(cat, position)
        applied = work.applied(cat)
        if applied:
            pooled.update(data)
        found.extend(listed)
        results.append(Result(cat, data, work.coded_counts(data),
                              measure(data, chance_free=chance_free), applied))
    overall = Result(None, pooled, work.coded_counts(pooled),
                     measure(pooled, chance_free=chance_free), any(r.applied for r in results))
    found.sort(key=lambda d: (d.transcript, -1 if d.start is None else d.start,
                              d.position, d.end or 0))
    return results, overall, found, work.skipped


# --- from the store ----------------------------------------------------------------------------


@dataclass(slots=True)
class Report:
    """The agreement of some coders on a project's codings."""

    coders: list[str]
    unit: Unit
    level: str
    results: list[Result]
    overall: Result
    transcripts: list[str]  # in scope
    coded: dict[str, list[str]]  # the transcripts each coder has coded, in scope
    compared: list[str]  # transcripts at least two of the coders coded
    disagreements: list[Disagreement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_coders(values: Iterable[str]) -> list[str]:
    """``["A,B", "C"]`` → ``["A", "B", "C"]`` (blanks and repeats dropped)."""
    out: dict[str, None] = {}
    for value in values:
        for name in value.split(","):
            if name.strip():
                out[name.strip()] = None
    if len(out) < 2:
        raise UsageError("agreement needs two coders or more",
                         hint="e.g. --coders alice,bob; 'qcode stats' lists the coders")
    return list(out)


def categories(book: Codebook, level: str, scope: Sequence[str] | None,
               used: set[str]) -> list[Category]:
    """The rows: codes in codebook order (themes used as folders only when coded), or themes
    with their selected codes."""
    if level not in LEVELS:
        raise UsageError(f"invalid level {level!r}", hint="use code or theme")
    wanted = set(scope) if scope is not None else set(book.codes)
    out: list[Category] = []
    if level == "theme":
        for root in book.roots:
            codes = frozenset(c for c in [root, *book.descendants(root)] if c in wanted)
            if codes:
                out.append(Category(root, book.codes[root].label, "theme", root, codes))
        return out
    for code in book.walk():
        if code.id in wanted and (code.codable or code.id in used):
            out.append(Category(code.id, code.label, "code", book.theme_of(code.id),
                                frozenset([code.id])))
    return out


def compare(store: Store, book: Codebook, coders: Sequence[str], *,
            unit: str | Unit = DEFAULT_UNIT, level: str = "code", themes: Sequence[str] = (),
            codes: Sequence[str] = (), transcripts: Sequence[str] = (),
            disagreements: bool = False) -> Report:
    """The agreement of ``coders`` on the project's codings (see the module's documentation).

    ``themes`` and ``codes`` select codes as the exports do (a theme: its codes and sub-codes;
    a code: with its sub-codes); ``transcripts`` restricts the transcripts compared.
    """
    from qcode.reports.quotes import check_transcripts, code_scope
    from qcode.store import agreement as aq
    from qcode.store import analysis as q
    from qcode.store import transcripts as tq

    coders = parse_coders(coders)
    the_unit = unit if isinstance(unit, Unit) else parse_unit(unit)
    if the_unit.kind == "segment" and len(coders) != 2:
        raise UsageError("segment agreement compares exactly two coders",
                         hint="use char, sentence, turn or document for more")
    scope = code_scope(book, themes, codes)
    with store.read() as conn:
        known_coders = q.coders(conn)
        unknown = [c for c in coders if c not in known_coders]
        if unknown:
            raise NotFoundError(
                f"no codings by coder {unknown[0]!r}",
                hint=f"coders with codings: {', '.join(known_coders) or 'none yet'}")
        known_ids = tq.transcript_ids(conn)
        ids = check_transcripts(transcripts, known_ids) or list(known_ids)
        who = aq.coverage(conn, coders, ids if transcripts else None)  # transcript → coders
        coded = {c: sorted(t for t, names in who.items() if c in names) for c in coders}
        idle = [c for c in coders if not coded[c]]
        if idle:
            everywhere = sorted(aq.coverage(conn, [idle[0]]))
            shown = everywhere[:10] + ([f"… ({len(everywhere)} in all)"]
                                       if len(everywhere) > 10 else [])
            raise NotFoundError(f"coder {idle[0]!r} has no codings in the transcript(s) asked",
                                hint=f"{idle[0]} coded {', '.join(shown)}")
        compared = sorted(t for t, names in who.items() if len(names) >= 2)
        spans = [Span(*row) for row in aq.spans(conn, coders, compared)]
        records = tq.load_many(conn, compared, sentences=the_unit.kind == "sentence")
    texts = {tid: Text(tid, rec.text, rec.turns, rec.sentences) for tid, rec in records.items()}
    orphans = sorted({sp.code for sp in spans if sp.code not in book.codes})
    cats = categories(book, level, scope, {sp.code for sp in spans})
    results, overall, found, skipped = assemble(texts, spans, coders, cats, the_unit,
                                                disagreements=disagreements)
    notes = []
    if orphans:
        notes.append(f"codes no longer in the codebook left out: {', '.join(orphans)}")
    if skipped:
        notes.append(f"{skipped} stretch(es) of spaces or punctuation where the coders differ "
                     "left out of the list")
    return Report(coders, the_unit, level, results, overall, ids, coded, compared, found, notes)


# --- rows --------------------------------------------------------------------------------------


def _round(figure: Figure) -> float | None:
    return None if figure.value is None else round(figure.value, DECIMALS)


def _note(report: Report, result: Result) -> str:
    """Why figures are undefined, grouped by reason."""
    if not result.applied:
        if result.category is not None:
            return "undefined: no coder applied it in the transcripts compared"
        if not report.compared:
            return "undefined: no transcript coded by two of the coders or more"
        return "undefined: no coder applied any of these codes in the transcripts compared"
    reasons: dict[str, list[str]] = {}
    for name in FIGURES:
        figure: Figure = getattr(result.stats, name)
        if not figure.defined:
            key = NO_VARIATION if figure.reason == NO_SPREAD else figure.reason
            reasons.setdefault(key, []).append(SYMBOLS[name])
    parts = []
    values = {v for p, _ in _complete(result.data) for v in p}
    for reason, names in reasons.items():
        shown = reason
        if reason in (NO_VARIATION, NO_SPREAD):
            shown = "no variation"
            if result.category is not None and values == {0}:
                shown += ", not applied where all coded"
            elif result.category is not None and values == {1}:
                shown += ", applied to every unit by all"
        elif reason == NO_COMPLETE and report.unit.kind == "segment":
            shown = "no passage of it where both coded"
        elif reason == NO_COMPLETE:
            shown = "no transcript coded by every coder"
        parts.append(f"{', '.join(names)}: {shown}")
    return ("undefined — " + "; ".join(parts)) if parts else ""


def result_row(report: Report, result: Result) -> dict[str, Any]:
    """One JSON-ready row: the category, the unit, each statistic and the reasons."""
    cat = result.category
    stats = result.stats
    return {
        "level": cat.level if cat else "overall",
        "theme": cat.theme if cat else None,
        "code": cat.key if cat and cat.level == "code" else None,
        "label": cat.label if cat else None,
        "unit": str(report.unit),
        "units": stats.units,
        "coded": result.coded,
        "agreement": _round(stats.agreement),
        "kappa": _round(stats.kappa),
        "pi": _round(stats.pi),
        "alpha": _round(stats.alpha),
        "brennan_prediger": _round(stats.brennan_prediger),
        "note": _note(report, result),
    }


def rows(report: Report) -> list[dict[str, Any]]:
    """Every category's row, then the overall row."""
    return [result_row(report, r) for r in report.results] + [
        result_row(report, report.overall)]


def disagreement_rows(report: Report) -> list[dict[str, Any]]:
    labels = {r.category.key: r.category.label for r in report.results if r.category}
    return [{"transcript": d.transcript, "turn": d.turn, "where": d.where,
             "unit": str(report.unit), report.level: d.key, "label": labels.get(d.key, ""),
             "start": d.start, "end": d.end, "quote": d.quote, "coders": d.values}
            for d in report.disagreements]
