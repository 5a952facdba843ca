"""Intercoder agreement: the statistics, the units built from codings, and ``qcode agreement``.

- The published vectors of REFERENCE §3, to 6 decimals.
- Krippendorff's α against the ``krippendorff`` package (an independent implementation) on
  random reliability data, and the units built from random codings (characters, sentences)
  against a brute-force character-by-character construction fed to that package.
- A small real project (real transcripts ingested into a real SQLite store, coded by three
  coders through the library) where every expected figure is worked out by hand below.
- The command itself (a real ``qcode`` subprocess): JSON, CSV, table, ``--disagreements``,
  errors and exit codes.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import random
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcode import coding
from qcode.agreement import (
    Category,
    Span,
    Text,
    Unit,
    assemble,
    brennan_prediger,
    cohen_kappa,
    compare,
    disagreement_rows,
    from_columns,
    krippendorff_alpha,
    match_segments,
    measure,
    merge,
    parse_coders,
    parse_unit,
    percent_agreement,
    rows,
    scott_pi,
)
from qcode.codebook import Codebook, load_valid
from qcode.codebook_sync import sync
from qcode.errors import NotFoundError, UsageError
from qcode.project import load as load_project
from qcode.store import Store
from qcode.store.records import SentenceRecord
from tests.conftest import BACKENDS, new_pg_database, qcode

# --- the published vectors (REFERENCE §3) -----------------------------------------------------


def _chars(length: int, *spans: tuple[int, int]) -> list[int]:
    return [1 if any(s <= i < e for s, e in spans) else 0 for i in range(length)]


def test_published_24_characters() -> None:
    data = from_columns(_chars(24, (2, 10), (14, 20)), _chars(24, (4, 8), (15, 17)))
    assert round(percent_agreement(data).value or 0, 6) == 0.666667
    assert round(cohen_kappa(data).value or 0, 6) == 0.384615
    assert round(scott_pi(data).value or 0, 6) == 0.314286
    assert round(krippendorff_alpha(data).value or 0, 6) == 0.328571


def test_published_24_characters_from_codings() -> None:
    """The same vector, built by the char unit from two coders' codings of a 24-character
    text (interval arithmetic, not a character loop)."""
    texts = {"T": Text("T", "x" * 24)}
    spans = [Span("T", 2, 10, "c", "A"), Span("T", 14, 20, "c", "A"),
             Span("T", 4, 8, "c", "B"), Span("T", 15, 17, "c", "B")]
    cat = Category("c", "C", "code", "c", frozenset({"c"}))
    (result,), overall, _, _ = assemble(texts, spans, ["A", "B"], [cat], Unit("char"))
    stats = result.stats
    assert stats.units == 24
    assert result.coded == {"A": 14, "B": 6}
    assert [round(f.value or 0, 6) for f in (stats.agreement, stats.kappa, stats.pi,
                                             stats.alpha)] == [0.666667, 0.384615, 0.314286,
                                                               0.328571]
    assert overall.stats == stats


def test_published_binary_six_units() -> None:
    data = from_columns([0, 1, 0, 1, 0, 1], [0, 1, 0, 1, 0, 0])
    assert round(cohen_kappa(data).value or 0, 6) == 0.666667
    assert round(scott_pi(data).value or 0, 6) == 0.657143
    assert round(krippendorff_alpha(data).value or 0, 6) == 0.685714


def test_published_three_coders_with_missing_values() -> None:
    def row(text: str) -> list[int | None]:
        return [None if x == "." else int(x) for x in text.split()]

    data = from_columns(row(". . . . . 3 4 1 2 1 1 3 3 . 3"),
                        row("1 . 2 1 3 3 4 3 . . . . . . ."),
                        row(". . 2 1 3 4 4 . 2 1 1 3 3 . 4"))
    assert round(krippendorff_alpha(data).value or 0, 6) == 0.691358


def test_kappa_sums_each_coders_own_marginals() -> None:
    """p_e is Σ_v (n_A,v/n)(n_B,v/n) — a product would give another number."""
    data = from_columns([1, 1, 1, 0], [1, 0, 0, 0])
    # p_o = 2/4; p_e = (3/4)(1/4) + (1/4)(3/4) = 6/16; κ = (8/16 − 6/16) / (10/16) = 0.2
    assert cohen_kappa(data).value == pytest.approx(0.2)
    assert brennan_prediger(data).value == pytest.approx(0.0)  # (1/2 − 1/2) / (1/2)


# --- undefined cases ---------------------------------------------------------------------------


def test_no_variation_is_undefined_not_zero_or_one() -> None:
    data = from_columns([0, 0, 0, 0], [0, 0, 0, 0])  # a code nobody used: p_e = 1
    stats = measure(data)
    assert stats.agreement.value == 1.0  # agreement itself is defined
    for figure in (stats.kappa, stats.pi, stats.alpha):
        assert figure.value is None
        assert "no variation" in figure.reason
    assert "p_e = 1" in stats.kappa.reason


def test_no_pairable_units_is_undefined() -> None:
    data = from_columns([1, 0, None], [None, None, 1])
    stats = measure(data)
    assert stats.units == 0
    for figure in (stats.agreement, stats.kappa, stats.pi, stats.alpha,
                   stats.brennan_prediger):
        assert figure.value is None and figure.reason


def test_kappa_needs_two_coders() -> None:
    data = from_columns([1, 0, 1], [1, 0, 0], [1, 1, 1])
    assert cohen_kappa(data).value is None
    assert "two coders" in cohen_kappa(data).reason
    assert scott_pi(data).value is not None  # Fleiss' κ
    assert krippendorff_alpha(data).value is not None


def test_one_coder_constant_the_other_not_is_defined() -> None:
    data = from_columns([0, 0, 0, 0], [0, 1, 0, 0])
    assert cohen_kappa(data).value == pytest.approx(0.0)  # p_e = 3/4, p_o = 3/4


def test_fleiss_for_three_coders_by_hand() -> None:
    # units: (1,1,1) (1,1,0) (0,0,0): pairwise agreement 1, 1/3, 1 → p_o = 7/9;
    # pooled: 5 ones, 4 zeros of 9 → p_e = (25 + 16) / 81 = 41/81
    data = from_columns([1, 1, 0], [1, 1, 0], [1, 0, 0])
    p_o, p_e = Fraction(7, 9), Fraction(41, 81)
    assert percent_agreement(data).value == pytest.approx(float(p_o))
    assert scott_pi(data).value == pytest.approx(float((p_o - p_e) / (1 - p_e)))


def test_coders_who_share_no_transcript_give_undefined_figures() -> None:
    texts = {"T1": Text("T1", "abcdef"), "T2": Text("T2", "ghijkl")}
    spans = [Span("T1", 0, 3, "c", "A"), Span("T2", 0, 3, "c", "B")]
    cat = Category("c", "C", "code", "c", frozenset({"c"}))
    for kind in ("char", "document"):
        (result,), overall, _, _ = assemble(texts, spans, ["A", "B"], [cat], Unit(kind))
        assert not result.applied and not overall.applied
        for stats in (result.stats, overall.stats):
            assert stats.units == 0
            assert [stats.agreement.value, stats.kappa.value, stats.alpha.value] == [
                None, None, None]


# --- α against the krippendorff package ---------------------------------------------------------


def _reference_alpha(columns: list[list[int | None]]) -> float | None:
    matrix = np.array([[np.nan if v is None else v for v in col] for col in columns], float)
    try:
        with np.errstate(invalid="ignore", divide="ignore"):  # 0/0: no variation
            value = float(krippendorff.alpha(reliability_data=matrix,
                                             level_of_measurement="nominal"))
    except (ValueError, ZeroDivisionError):
        return None
    return None if math.isnan(value) else value


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 4).flatmap(lambda m: st.lists(
    st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=m, max_size=m),
    min_size=1, max_size=25)))
def test_alpha_matches_krippendorff_package(units: list[list[int | None]]) -> None:
    columns = [list(col) for col in zip(*units, strict=True)]
    ours = krippendorff_alpha(from_columns(*columns)).value
    theirs = _reference_alpha(columns)
    if ours is None:
        assert theirs is None
    else:
        assert theirs is not None
        assert ours == pytest.approx(theirs, abs=1e-9)


def test_alpha_matches_krippendorff_package_seeded() -> None:
    rng = random.Random(6)
    for _ in range(200):
        coders, units = rng.randint(2, 5), rng.randint(2, 60)
        values = list(range(rng.randint(2, 4)))
        columns: list[list[int | None]] = [
            [None if rng.random() < 0.25 else rng.choice(values) for _ in range(units)]
            for _ in range(coders)]
        theirs = _reference_alpha(columns)
        ours = krippendorff_alpha(from_columns(*columns)).value
        if theirs is None:
            assert ours is None
        else:
            assert ours == pytest.approx(theirs, abs=1e-9)


# --- units from random codings, against a brute-force construction -------------------------------


def _random_case(rng: random.Random, coders: list[str]) -> tuple[dict[str, Text], list[Span]]:
    texts: dict[str, Text] = {}
    spans: list[Span] = []
    for t in range(3):
        tid = f"T{t}"
        length = rng.randint(30, 160)
        cuts = sorted(rng.sample(range(1, length), rng.randint(2, 8)))
        bounds = [0, *cuts, length]
        sentences = [SentenceRecord(1, i + 1, s + (1 if i else 0), e)  # a space between
                     for i, (s, e) in enumerate(itertools.pairwise(bounds))
                     if e - s > 1]
        texts[tid] = Text(tid, "".join(rng.choice("ab c") for _ in range(length)), [],
                          sentences)
        for coder in coders:
            if rng.random() < 0.2:
                continue  # this coder has not coded this transcript: missing
            for _ in range(rng.randint(1, 6)):
                s = rng.randrange(0, length - 1)
                e = rng.randint(s + 1, min(length, s + 40))
                spans.append(Span(tid, s, e, rng.choice("xy"), coder))
    return texts, spans


def _brute_columns(texts: dict[str, Text], spans: list[Span], coders: list[str], code: str,
                   kind: str) -> list[list[int | None]]:
    columns: list[list[int | None]] = [[] for _ in coders]
    for tid, t in texts.items():
        units = ([(i, i + 1) for i in range(len(t.text))] if kind == "char"
                 else [(se.start, se.end) for se in t.sentences])
        for us, ue in units:
            for col, coder in zip(columns, coders, strict=True):
                mine = [sp for sp in spans if sp.transcript == tid and sp.coder == coder]
                if not mine:
                    col.append(None)
                else:
                    col.append(int(any(sp.code == code and sp.start < ue and us < sp.end
                                       for sp in mine)))
    return columns


def _brute_kappa(a: list[int | None], b: list[int | None]) -> float | None:
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    n = len(pairs)
    if not n:
        return None
    p_o = sum(x == y for x, y in pairs) / n
    pa, pb = sum(x for x, _ in pairs) / n, sum(y for _, y in pairs) / n
    p_e = pa * pb + (1 - pa) * (1 - pb)
    return None if p_e == 1 else (p_o - p_e) / (1 - p_e)


@pytest.mark.parametrize("kind", ["char", "sentence"])
def test_units_from_random_codings_match_brute_force(kind: str) -> None:
    rng = random.Random(11)
    cats = [Category(c, c, "code", c, frozenset({c})) for c in "xy"]
    for _ in range(40):
        coders = ["A", "B", "C"][:rng.randint(2, 3)]
        texts, spans = _random_case(rng, coders)
        results, overall, _, _ = assemble(texts, spans, coders, cats, Unit(kind))
        pooled: list[list[int | None]] = [[] for _ in coders]
        for cat, result in zip(cats, results, strict=True):
            columns = _brute_columns(texts, spans, coders, cat.key, kind)
            for into, col in zip(pooled, columns, strict=True):
                into.extend(col)
            theirs = _reference_alpha(columns)
            ours = result.stats.alpha.value
            assert (ours is None) == (theirs is None)
            if ours is not None:
                assert ours == pytest.approx(theirs, abs=1e-9)
            complete = [u for u in zip(*columns, strict=True) if None not in u]
            assert result.stats.units == len(complete)
            if len(coders) == 2:
                expected = _brute_kappa(columns[0], columns[1])
                if expected is None:
                    assert result.stats.kappa.value is None
                else:
                    assert result.stats.kappa.value == pytest.approx(expected, abs=1e-9)
        if all(r.applied for r in results):  # else the overall leaves a code out
            theirs = _reference_alpha(pooled)
            assert (overall.stats.alpha.value is None) == (theirs is None)
            if theirs is not None:
                assert overall.stats.alpha.value == pytest.approx(theirs, abs=1e-9)


# --- helpers --------------------------------------------------------------------------------------


def test_merge_joins_overlaps_and_optionally_touching() -> None:
    assert merge([(5, 8), (0, 3), (2, 4), (8, 9), (9, 9)]) == [(0, 4), (5, 9)]
    assert merge([(5, 8), (0, 3), (2, 4), (8, 9)], touching=False) == [(0, 4), (5, 8), (8, 9)]


def test_match_segments_one_to_one_best_first() -> None:
    # A [0,10) overlaps B [0,9) (0.9) and nothing else; A [20,30) vs B [21,30) (0.9)
    assert match_segments([(0, 10), (20, 30)], [(0, 9), (21, 30)], 0.9) == [(0, 0), (1, 1)]
    assert match_segments([(0, 10)], [(0, 8)], 0.9) == []  # 0.8
    assert match_segments([(0, 10)], [(0, 8)], 0.8) == [(0, 0)]
    # two A segments both overlap one B segment: only the better one is matched
    assert match_segments([(0, 10), (10, 19)], [(0, 19)], 0.4) == [(0, 0)]
    assert match_segments([(0, 9), (9, 19)], [(0, 19)], 0.4) == [(1, 0)]


@pytest.mark.parametrize(("spec", "expected"), [
    ("char", Unit("char")), ("Sentence", Unit("sentence")), ("turn", Unit("turn")),
    ("document", Unit("document")), ("segment", Unit("segment", 0.9)),
    ("segment:0.75", Unit("segment", 0.75)), ("segment:80%", Unit("segment", 0.8)),
    ("segment:1", Unit("segment", 1.0))])
def test_parse_unit(spec: str, expected: Unit) -> None:
    assert parse_unit(spec) == expected


@pytest.mark.parametrize("spec", ["word", "segment:0", "segment:1.5", "segment:abc",
                                  "turn:0.9", ""])
def test_parse_unit_rejects(spec: str) -> None:
    with pytest.raises(UsageError):
        parse_unit(spec)


def test_parse_coders() -> None:
    assert parse_coders(["alice,bob", " carol ", "bob"]) == ["alice", "bob", "carol"]
    with pytest.raises(UsageError):
        parse_coders(["alice"])
    with pytest.raises(UsageError):
        parse_coders(["alice,alice,"])


# --- a small real project, worked out by hand -------------------------------------------------

CODEBOOK = """\
themes:
  - id: social
    label: Liens
    codes:
      - { id: entraide, label: Entraide }
      - { id: fetes, label: Fêtes }
  - id: gouv
    label: Gouvernance
    codes:
      - { id: bureau, label: Le bureau }
      - { id: argent, label: Argent }
"""

TURN2 = "On s’entraide entre voisins. Le bureau décide tout. On fait des fêtes."
TURN4 = "Les voisins font la fête ensemble. Le bureau paie."
TEXTS = {
    # turns: 1 E (1 sentence), 2 Karim (3 sentences), 3 E (1), 4 Karim (2) → 7 sentences
    "T1": f"E : Bonjour.\n\nKarim : {TURN2}\n\nE : Et après ?\n\nKarim : {TURN4}\n",
    "T2": f"E : Bonjour.\n\nKarim : {TURN2}\n\nE : Et après ?\n\nKarim : {TURN4}\n",
    "T3": "E : Bonjour.\n\nKarim : Rien à dire.\n",
}

# (transcript, unit, code, coder)
CODINGS = [
    ("T1", "2.1", "entraide", "alice"),
    ("T1", "2.2", "bureau", "alice"),
    ("T1", "4", "fetes", "alice"),       # the whole of turn 4
    ("T1", "2", "entraide", "bob"),      # the whole of turn 2
    ("T1", "4.2", "bureau", "bob"),
    ("T1", "4.1", "fetes", "bob"),
    ("T1", "2.1", "entraide", "carol"),
    ("T2", "2.1", "entraide", "alice"),  # bob never coded T2: missing for him
    ("T2", "2.1", "entraide", "carol"),
    ("T2", "4.1", "fetes", "carol"),
]


@pytest.fixture(scope="module", params=BACKENDS)
def study(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
          ) -> Iterator[tuple[Store, Codebook, Path]]:
    """The hand-computed project, its store in SQLite and then in PostgreSQL."""
    from qcode.ingest.pipeline import ingest
    from qcode.project import init

    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("QCODE_"):
                mp.delenv(name)
        root = tmp_path_factory.mktemp("agreement") / "study"
        db = new_pg_database(request) if request.param == "postgresql" else None
        init(root, name="Agreement", store=db)
        (root / "codebooks" / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
        for tid, text in TEXTS.items():
            (root / "transcripts" / f"{tid}.txt").write_text(text, encoding="utf-8")
        project = load_project(root)
        store = Store.open(project.store_location)
        report = ingest(project, store, None)
        assert report.ok, report.errors
        book = load_valid(root / project.codebook)
        sync(store, book)
        for tid, unit, code, coder in CODINGS:
            coding.tag(store, book, coding.resolve(store, tid, unit), [code], coder)
        yield store, book, root
        store.close()


def by_code(report_rows: list[dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    return {r["code"] if r["level"] == "code" else r["level"] if r["level"] == "overall"
            else r["theme"]: r for r in report_rows}


def kappa_of(n11: int, n10: int, n01: int, n00: int) -> float:
    n = n11 + n10 + n01 + n00
    p_o = Fraction(n11 + n00, n)
    a1, b1 = Fraction(n11 + n10, n), Fraction(n11 + n01, n)
    p_e = a1 * b1 + (1 - a1) * (1 - b1)
    return float((p_o - p_e) / (1 - p_e))


def test_project_shape(study: tuple[Store, Codebook, Path]) -> None:
    """The hand computations below rest on this segmentation."""
    store, _, _ = study
    rec = coding.load_transcript(store, "T1")
    assert [t.idx for t in rec.turns] == [1, 2, 3, 4]
    assert [(se.turn_idx, se.idx) for se in rec.sentences] == [
        (1, 1), (2, 1), (2, 2), (2, 3), (3, 1), (4, 1), (4, 2)]
    assert rec.text[rec.turns[1].start:rec.turns[1].end] == TURN2


def test_sentence_units_by_hand(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    report = compare(store, book, ["alice", "bob"], unit="sentence")
    assert report.compared == ["T1"]  # T2: alice only; T3: nobody
    assert report.coded == {"alice": ["T1", "T2"], "bob": ["T1"]}
    got = by_code(rows(report))
    assert list(got) == ["entraide", "fetes", "bureau", "argent", "overall"]
    # entraide over T1's 7 sentences: alice {2.1}, bob {2.1, 2.2, 2.3}
    # p_o = 5/7; p_e = (1/7)(3/7) + (6/7)(4/7) = 27/49 → κ = (35 − 27)/(49 − 27) = 8/22
    # π: pooled 4 ones of 14 → p_e = (16 + 100)/196 = 29/49 → π = (35 − 29)/(49 − 29) = 0.3
    # α: n = 14, 4 disagreeing ordered pairs → 1 − 13·4 / (196 − 116) = 0.35
    e = got["entraide"]
    assert (e["unit"], e["units"], e["coded"]) == ("sentence", 7, {"alice": 1, "bob": 3})
    assert e["agreement"] == round(5 / 7, 4)
    assert e["kappa"] == round(8 / 22, 4)
    assert e["pi"] == 0.3
    assert e["alpha"] == 0.35
    assert e["brennan_prediger"] == round((5 / 7 - 0.5) / 0.5, 4)
    assert e["note"] == ""
    # bureau: alice {2.2}, bob {4.2}: p_o = 5/7, p_e = 1/49 + 36/49 → κ = −2/12
    assert got["bureau"]["kappa"] == round(-2 / 12, 4)
    # fetes: alice {4.1, 4.2}, bob {4.1}: p_o = 6/7, p_e = 2/49 + 30/49 → κ = 10/17
    assert got["fetes"]["kappa"] == round(10 / 17, 4)
    # argent: nobody applied it → listed, undefined, left out of the overall
    a = got["argent"]
    assert [a[k] for k in ("kappa", "pi", "alpha")] == [None, None, None]
    assert a["note"] == "undefined: no coder applied it in the transcripts compared"
    # overall: the 3 × 7 decisions pooled; agreements: entraide 5, fetes 6, bureau 5
    o = got["overall"]
    assert (o["units"], o["code"], o["unit"]) == (21, None, "sentence")
    assert o["agreement"] == round(16 / 21, 4)
    assert o["coded"] == {"alice": 4, "bob": 5}
    assert o["kappa"] == round(kappa_of(2, 2, 3, 14), 4)


def test_char_units_by_hand(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    rec = coding.load_transcript(store, "T1")
    n = len(rec.text)
    s21 = len("On s’entraide entre voisins.")
    s22 = len("Le bureau décide tout.")
    s41, s42 = len("Les voisins font la fête ensemble."), len("Le bureau paie.")
    got = by_code(rows(compare(store, book, ["alice", "bob"], unit="char")))
    # entraide: alice = sentence 2.1, bob = the whole of turn 2 (which contains 2.1)
    e = got["entraide"]
    assert (e["unit"], e["units"], e["coded"]) == ("char", n, {"alice": s21, "bob": len(TURN2)})
    assert e["kappa"] == round(kappa_of(s21, 0, len(TURN2) - s21, n - len(TURN2)), 4)
    # bureau: disjoint sentences 2.2 and 4.2
    assert got["bureau"]["kappa"] == round(kappa_of(0, s22, s42, n - s22 - s42), 4)
    # fetes: alice = turn 4, bob = sentence 4.1 (at its start)
    assert got["fetes"]["kappa"] == round(kappa_of(s41, len(TURN4) - s41, 0, n - len(TURN4)),
                                          4)
    assert got["overall"]["units"] == 3 * n


def test_turn_and_document_units_by_hand(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    turn = by_code(rows(compare(store, book, ["alice", "bob"], unit="turn")))
    # 4 turns; entraide: both {2}; fetes: both {4}; bureau: alice {2}, bob {4}
    assert turn["entraide"]["agreement"] == 1.0 and turn["entraide"]["kappa"] == 1.0
    assert turn["fetes"]["kappa"] == 1.0
    # bureau: p_o = 2/4, p_e = (1/4)(1/4) + (3/4)(3/4) = 10/16 → κ = −2/6
    assert turn["bureau"]["kappa"] == round(-1 / 3, 4)
    assert turn["overall"]["units"] == 12
    doc = by_code(rows(compare(store, book, ["alice", "bob"], unit="document")))
    # one document both coded, each code present for both: no variation → undefined
    e = doc["entraide"]
    assert (e["units"], e["agreement"], e["kappa"], e["pi"], e["alpha"]) == (
        1, 1.0, None, None, None)
    assert e["note"] == ("undefined — κ, π, α: no variation, applied to every unit by all")


def test_segment_units_by_hand(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    # entraide: 2.1 (28 characters) inside turn 2 (70): overlap 28/70 = 0.4
    # fetes: 4.1 (34) inside turn 4 (50): 0.68; bureau: disjoint
    seg = by_code(rows(compare(store, book, ["alice", "bob"], unit="segment")))
    assert seg["entraide"]["unit"] == "segment:0.9"
    for code in ("entraide", "fetes", "bureau"):
        assert (seg[code]["units"], seg[code]["agreement"]) == (2, 0.0)
        assert seg[code]["kappa"] is None and seg[code]["alpha"] is None
        assert seg[code]["brennan_prediger"] == -1.0
        assert "'neither coded'" in seg[code]["note"]
    # at 0.4 (reached exactly by entraide) entraide and fetes match, bureau does not
    loose = by_code(rows(compare(store, book, ["alice", "bob"], unit="segment:0.4")))
    assert (loose["entraide"]["units"], loose["entraide"]["agreement"]) == (1, 1.0)
    assert (loose["fetes"]["units"], loose["fetes"]["agreement"]) == (1, 1.0)
    assert (loose["bureau"]["units"], loose["bureau"]["agreement"]) == (2, 0.0)
    # overall: 4 units, 2 agreements → 0.5; κ_n = (0.5 − 0.5) / 0.5 = 0
    assert (loose["overall"]["units"], loose["overall"]["agreement"]) == (4, 0.5)
    assert loose["overall"]["brennan_prediger"] == 0.0
    assert loose["overall"]["coded"] == {"alice": 3, "bob": 3}  # passages of each
    strict = by_code(rows(compare(store, book, ["alice", "bob"], unit="segment:0.5")))
    assert (strict["entraide"]["units"], strict["fetes"]["units"]) == (2, 1)
    with pytest.raises(UsageError, match="exactly two coders"):
        compare(store, book, ["alice", "bob", "carol"], unit="segment")


def test_three_coders_missing_data(study: tuple[Store, Codebook, Path]) -> None:
    """α uses T2 too (alice and carol coded it, bob did not); π and agreement only T1."""
    store, book, _ = study
    report = compare(store, book, ["alice", "bob", "carol"], unit="sentence")
    assert report.compared == ["T1", "T2"]
    e = by_code(rows(report))["entraide"]
    # the reliability data written out by hand, sentence by sentence (T1 then T2)
    t1_alice, t1_bob, t1_carol = [0, 1, 0, 0, 0, 0, 0], [0, 1, 1, 1, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0]
    t2_alice, t2_carol = [0, 1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0]  # bob: missing
    alice, carol = [*t1_alice, *t2_alice], [*t1_carol, *t2_carol]
    bob: list[int | None] = [*t1_bob, *[None] * 7]
    expected = krippendorff.alpha(reliability_data=np.array(
        [alice, [np.nan if v is None else v for v in bob], carol], float),
        level_of_measurement="nominal")
    assert e["alpha"] == round(float(expected), 4)
    assert e["units"] == 7
    assert e["kappa"] is None and "two coders" in e["note"]
    # π (Fleiss) over T1: units (0,0,0)×4, (1,1,1), (0,1,0)×2: pairwise agreement 1 on 5
    # units, 1/3 on 2 → p_o = (5 + 2/3)/7 = 17/21; values 1: 3 + 2 = 5 of 21
    p_o, p1 = Fraction(17, 21), Fraction(5, 21)
    p_e = p1 * p1 + (1 - p1) * (1 - p1)
    assert e["agreement"] == round(float(p_o), 4)
    assert e["pi"] == round(float((p_o - p_e) / (1 - p_e)), 4)


def test_theme_level_and_selection(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    themes = by_code(rows(compare(store, book, ["alice", "bob"], level="theme")))
    assert list(themes) == ["social", "gouv", "overall"]
    # social (entraide or fetes) by sentence: alice {2.1, 4.1, 4.2}, bob {2.1, 2.2, 2.3, 4.1}
    # → agree on 2.1, 4.1 and the 2 uncoded sentences: 4 of 7
    social = themes["social"]
    assert (social["level"], social["code"], social["label"]) == ("theme", None, "Liens")
    assert social["agreement"] == round(4 / 7, 4)
    assert social["kappa"] == round(kappa_of(2, 1, 2, 2), 4)
    only = by_code(rows(compare(store, book, ["alice", "bob"], themes=["gouv"])))
    assert list(only) == ["bureau", "argent", "overall"]
    picked = by_code(rows(compare(store, book, ["alice", "bob"], codes=["Fêtes"])))
    assert list(picked) == ["fetes", "overall"]
    assert picked["overall"]["kappa"] == picked["fetes"]["kappa"]
    with pytest.raises(UsageError, match="is a code, not a theme"):
        compare(store, book, ["alice", "bob"], themes=["fetes"])
    with pytest.raises(NotFoundError, match="no code 'nope'"):
        compare(store, book, ["alice", "bob"], codes=["nope"])


def test_transcript_restriction(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    report = compare(store, book, ["alice", "carol"], transcripts=["T2"])
    assert report.compared == ["T2"]
    got = by_code(rows(report))
    # T2: alice {2.1 entraide}, carol {2.1 entraide, 4.1 fetes}
    assert got["entraide"]["agreement"] == 1.0 and got["entraide"]["kappa"] == 1.0
    assert got["fetes"]["agreement"] == round(6 / 7, 4)
    assert got["fetes"]["kappa"] == 0.0  # alice constant: p_e = 6/7 = p_o
    with pytest.raises(NotFoundError, match="coder 'bob' has no codings in the transcript"):
        compare(store, book, ["alice", "bob"], transcripts=["T2"])
    with pytest.raises(NotFoundError, match="no transcript 'T9'"):
        compare(store, book, ["alice", "bob"], transcripts=["T9"])


def test_unknown_coder(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    with pytest.raises(NotFoundError, match="no codings by coder 'zed'"):
        compare(store, book, ["alice", "zed"])


def test_disagreements_by_sentence(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    listed = disagreement_rows(compare(store, book, ["alice", "bob"], disagreements=True))
    assert [(d["where"], d["code"], d["coders"]["alice"], d["coders"]["bob"])
            for d in listed] == [
        ("2.2", "entraide", "not coded", "coded"),
        ("2.2", "bureau", "coded", "not coded"),
        ("2.3", "entraide", "not coded", "coded"),
        ("4.2", "fetes", "coded", "not coded"),
        ("4.2", "bureau", "not coded", "coded")]
    first = listed[0]
    assert (first["transcript"], first["turn"], first["quote"], first["unit"]) == (
        "T1", 2, "Le bureau décide tout.", "sentence")
    rec = coding.load_transcript(store, "T1")
    for d in listed:
        assert rec.text[d["start"]:d["end"]] == d["quote"]


def test_disagreements_by_char_segment_document(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    rec = coding.load_transcript(store, "T1")
    chars = disagreement_rows(compare(store, book, ["alice", "bob"], unit="char",
                                      disagreements=True))
    # entraide: bob's turn 2 beyond 2.1 (trimmed of its leading space); bureau 2.2 and 4.2;
    # fetes: 4.2 (alice's whole turn 4 beyond bob's 4.1)
    assert [(d["code"], d["quote"]) for d in chars] == [
        ("entraide", "Le bureau décide tout. On fait des fêtes."),
        ("bureau", "Le bureau décide tout."),
        ("fetes", "Le bureau paie."),
        ("bureau", "Le bureau paie.")]
    for d in chars:
        assert rec.text[d["start"]:d["end"]] == d["quote"]
        assert d["where"] == f"{d['start']}:{d['end']}"
    segs = disagreement_rows(compare(store, book, ["alice", "bob"], unit="segment",
                                     disagreements=True))
    entraide = segs[0]
    turn2 = rec.turns[1]
    assert (entraide["code"], entraide["quote"]) == ("entraide", TURN2)
    assert entraide["coders"] == {
        "alice": f"coded {turn2.start}:{turn2.start + 28}",
        "bob": f"coded {turn2.start}:{turn2.end}"}
    assert len(segs) == 4
    docs = disagreement_rows(compare(store, book, ["alice", "carol"], unit="document",
                                     disagreements=True))
    # alice and carol: T1 bureau and fetes (alice only), T2 fetes (carol only)
    assert [(d["transcript"], d["code"], d["coders"]) for d in docs] == [
        ("T1", "fetes", {"alice": "coded", "carol": "not coded"}),
        ("T1", "bureau", {"alice": "coded", "carol": "not coded"}),
        ("T2", "fetes", {"alice": "not coded", "carol": "coded"})]
    assert docs[0]["quote"] is None and docs[0]["turn"] is None


# --- the command ---------------------------------------------------------------------------------


def test_cli_json(study: tuple[Store, Codebook, Path]) -> None:
    _, _, root = study
    result = qcode("agreement", "--coders", "alice,bob", "--format", "json", cwd=root)
    assert result.returncode == 0, result.stderr
    got = by_code(json.loads(result.stdout))
    assert got["entraide"]["kappa"] == round(8 / 22, 4)
    assert got["entraide"]["unit"] == "sentence"
    assert "argent" not in got  # nobody applied it: not listed unless asked
    assert result.stderr.splitlines() == [
        "unit: sentence — sentences; one carries a code when any of its characters is coded",
        "transcripts coded (at least one coding): alice 2, bob 1; compared: 1 coded by two "
        "coders or more (T1)",
        "overall: pooled over every code × unit decision of the 3 code(s) some coder applied",
        "1 code(s) nobody applied in the transcripts compared are not listed (--all-codes "
        "lists them, undefined)"]
    every = by_code(json.loads(qcode("agreement", "--coders", "alice,bob", "--all-codes",
                                     "--format", "json", cwd=root).stdout))
    assert every["argent"]["kappa"] is None
    assert set(every) == set(got) | {"argent"}


def test_cli_csv(study: tuple[Store, Codebook, Path]) -> None:
    _, _, root = study
    result = qcode("agreement", "--coders", "alice", "--coders", "bob", "--unit", "turn",
                   "--all-codes", "-f", "csv", cwd=root)
    assert result.returncode == 0, result.stderr
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(table[0]) == ["level", "theme", "code", "label", "unit", "units",
                              "coded:alice", "coded:bob", "agreement", "kappa", "pi", "alpha",
                              "brennan_prediger", "note"]
    bureau = next(r for r in table if r["code"] == "bureau")
    assert (bureau["unit"], bureau["units"], bureau["kappa"]) == ("turn", "4", "-0.3333")
    argent = next(r for r in table if r["code"] == "argent")
    assert argent["kappa"] == "" and argent["note"].startswith("undefined")
    assert table[-1]["level"] == "overall" and table[-1]["unit"] == "turn"


def test_cli_table(study: tuple[Store, Codebook, Path]) -> None:
    _, _, root = study
    result = qcode("agreement", "--coders", "alice,bob", "--unit", "document", cwd=root)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Agreement of alice, bob per code — unit: document" in out
    assert "undefined" in out and "(overall)" in out
    line = next(ln for ln in out.splitlines() if "entraide" in ln)
    assert "document" in line and "1.0000" in line and "undefined" in line


def test_cli_disagreements(study: tuple[Store, Codebook, Path]) -> None:
    _, _, root = study
    result = qcode("agreement", "--coders", "alice,bob", "--disagreements", "-f", "json",
                   cwd=root)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [(d["turn"], d["where"], d["code"]) for d in listed] == [
        (2, "2.2", "entraide"), (2, "2.2", "bureau"), (2, "2.3", "entraide"),
        (4, "4.2", "fetes"), (4, "4.2", "bureau")]
    assert result.stderr.splitlines()[-1] == "5 disagreement(s)"
    as_csv = qcode("agreement", "--coders", "alice,bob", "--disagreements", "-f", "csv",
                   "--unit", "turn", cwd=root)
    assert as_csv.returncode == 0, as_csv.stderr
    table = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["transcript"], r["turn"], r["code"], r["alice"], r["bob"]) for r in table] == [
        ("T1", "2", "bureau", "coded", "not coded"), ("T1", "4", "bureau", "not coded", "coded")]
    assert table[0]["quote"] == TURN2
    shown = qcode("agreement", "--coders", "alice,bob", "--disagreements", "--code", "fetes",
                  cwd=root)
    assert shown.returncode == 0, shown.stderr
    assert "Disagreements of alice, bob — unit: sentence" in shown.stdout
    assert "Le bureau paie." in shown.stdout
    assert "entraide" not in shown.stdout


def test_cli_theme_level(study: tuple[Store, Codebook, Path]) -> None:
    _, _, root = study
    result = qcode("agreement", "--coders", "alice,bob", "--level", "theme", "-f", "json",
                   cwd=root)
    assert result.returncode == 0, result.stderr
    assert [(r["level"], r["theme"]) for r in json.loads(result.stdout)] == [
        ("theme", "social"), ("theme", "gouv"), ("overall", None)]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--coders", "alice,zed"], 1,
     "error: no codings by coder 'zed' (coders with codings: alice, bob, carol)"),
    (["--coders", "alice"], 2,
     "error: agreement needs two coders or more (e.g. --coders alice,bob; 'qcode stats' "
     "lists the coders)"),
    (["--coders", "alice,bob", "--unit", "word"], 2,
     "error: invalid unit 'word' (use char, sentence, turn, segment[:0.9] or document)"),
    (["--coders", "alice,bob", "--unit", "segment:2"], 2,
     "error: invalid segment threshold '2' (an overlap share above 0 and at most 1, e.g. "
     "segment:0.9 or segment:90%)"),
    (["--coders", "alice,bob,carol", "--unit", "segment"], 2,
     "error: segment agreement compares exactly two coders (use char, sentence, turn or "
     "document for more)"),
    (["--coders", "alice,bob", "--transcript", "T2"], 1,
     "error: coder 'bob' has no codings in the transcript(s) asked (bob coded T1)"),
    (["--coders", "alice,bob", "--theme", "fetes"], 2,
     "error: 'fetes' (Fêtes) is a code, not a theme (use --code for a code and its "
     "sub-codes; 'qcode codebook show --tree' lists the themes)"),
])
def test_cli_errors(study: tuple[Store, Codebook, Path], args: list[str], code: int,
                    message: str) -> None:
    _, _, root = study
    result = qcode("agreement", *args, cwd=root)
    assert (result.returncode, result.stdout, result.stderr) == (code, "", message + "\n")


def test_cli_missing_coders_option(study: tuple[Store, Codebook, Path]) -> None:
    _, _, root = study
    result = qcode("agreement", cwd=root)
    assert result.returncode == 2
    assert "--coders" in result.stderr and result.stdout == ""
