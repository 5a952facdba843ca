"""Analysis tables (stats, crosstab, co-occurrence, matrix) on a small, hand-checked study.

Every expected number below is worked out by hand from the codings listed in ``CODINGS``; the
comments show the arithmetic. Golden files (``tests/fixtures/golden/tables/``) hold the CLI's
renderings of one command per format; after an intended change of the output, regenerate them
and read the diff before keeping it:

    QCODE_REGENERATE_GOLDEN=1 python -m pytest tests/test_tables.py

Real SQLite store, real files; CLI tests run the ``qcode`` command.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qcode import coding
from qcode.codebook import Codebook, load_valid
from qcode.codebook_sync import sync
from qcode.errors import NotFoundError, UsageError
from qcode.project import load as load_project
from qcode.reports import tables
from qcode.reports.tables import _merge, _places
from qcode.store import Store
from tests.conftest import FIXTURES, qcode

REGENERATE = os.environ.get("QCODE_REGENERATE_GOLDEN") == "1"  # read at import: conftest
GOLDEN = FIXTURES / "golden" / "tables"                          # hides QCODE_* in tests

CODEBOOK = """\
themes:
  - id: social
    label: Liens
    codes:
      - { id: entraide, label: Entraide }
      - id: voisinage
        label: Voisinage
        codes:
          - { id: fetes, label: Fêtes }
  - id: gouv
    label: Gouvernance
    codes:
      - { id: bureau, label: Le bureau }
      - { id: argent, label: Argent }
"""

ATTRIBUTES = "id,initiative,role\nT1,amis,membre\nT2,amis,porteur\nT3,voisins,membre\nT4,voisins,\n"


def transcript(tid: str, first: str, second: str) -> str:
    return (f"Entretien {tid}\nDate : 1 mars 2021\n\nE : Bonjour.\n\nKarim : {first}\n\n"
            f"E : Et après ?\n\nKarim : {second}\n")


TEXTS = {
    # turn 2: sentences 2.1 (4 words), 2.2 (4), 2.3 (4); turn 4: 4.1 (6), 4.2 (3)
    "T1": transcript("T1", "On s’entraide entre voisins. Le bureau décide tout. On fait des "
                           "fêtes.", "Les voisins font la fête ensemble. Le bureau paie."),
    # turn 2: 2.1 (4 words), 2.2 (3)
    "T2": transcript("T2", "Le bureau se réunit. On s'entraide beaucoup.", "Fin."),
    # turn 2: 2.1 (4 words)
    "T3": transcript("T3", "Les fêtes de quartier. Rien d'autre.", "Voilà."),
    "T4": transcript("T4", "Rien.", "Toujours rien."),
}

# (transcript, unit, code, coder, origin)
CODINGS = [
    ("T1", "2.1", "entraide", "alice", "manual"),   # c1
    ("T1", "2.2", "bureau", "alice", "manual"),     # c2
    ("T1", "2.3", "fetes", "alice", "manual"),      # c3
    ("T1", "2", "entraide", "bob", "keyword"),      # c4: the whole turn 2 (12 words)
    ("T1", "4.1", "fetes", "bob", "keyword"),       # c5
    ("T1", "4.2", "bureau", "alice", "manual"),     # c6
    ("T2", "2.1", "bureau", "alice", "manual"),     # c7
    ("T2", "2.2", "entraide", "alice", "manual"),   # c8
    ("T3", "2.1", "fetes", "alice", "manual"),      # c9
]


def build(root: Path) -> tuple[Store, Codebook]:
    from qcode.ingest.pipeline import ingest

    (root / "codebooks" / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
    (root / "transcripts" / "attributes.csv").write_text(ATTRIBUTES, encoding="utf-8")
    for tid, text in TEXTS.items():
        (root / "transcripts" / f"{tid}.txt").write_text(text, encoding="utf-8")
    project = load_project(root)
    store = Store.open(project.store_location)
    report = ingest(project, store, None)
    assert report.ok, report.errors
    book = load_valid(root / project.codebook)
    sync(store, book)
    for tid, unit, code, coder, origin in CODINGS:
        coding.tag(store, book, coding.resolve(store, tid, unit), [code], coder, origin)
    return store, book


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Codebook, Path]]:
    from qcode.project import init

    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("QCODE_"):
                mp.delenv(name)
        root = tmp_path_factory.mktemp("tables") / "study"
        init(root, name="Tables")
        store, book = build(root)
        yield store, book, root
        store.close()


def pick(rows: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(r[k] for k in keys) for r in rows]


# --- the fixture is what the hand computations assume -------------------------------------------


def test_fixture_passages(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    quotes = {(r["transcript"], r["code"], r["coder"]): r["quote"]
              for r in coding.list_codings(store, book=book)}
    assert quotes[("T1", "entraide", "alice")] == "On s’entraide entre voisins."
    assert quotes[("T1", "entraide", "bob")] == ("On s’entraide entre voisins. Le bureau décide "
                                                 "tout. On fait des fêtes.")
    assert quotes[("T2", "entraide", "alice")] == "On s'entraide beaucoup."
    assert quotes[("T3", "fetes", "alice")] == "Les fêtes de quartier."


# --- stats -------------------------------------------------------------------------------------


def test_stats(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    rows = tables.stats(store, book)
    assert pick(rows, "level", "theme", "code", "path", "coder", "origin", "codings",
                "transcripts", "words") == [
        # social: c1 c3 c4 c5 c8 c9 in T1 T2 T3; words: T1 turn 2 (12, covering c1 and c3)
        # + 4.1 (6), T2 2.2 (3), T3 2.1 (4) = 25, each word once
        ("theme", "social", None, "social", None, None, 6, 3, 25),
        ("code", "social", "entraide", "social/entraide", "alice", "manual", 2, 2, 4 + 3),
        ("code", "social", "entraide", "social/entraide", "bob", "keyword", 1, 1, 12),
        ("code", "social", "voisinage", "social/voisinage", None, None, 0, 0, 0),
        ("code", "social", "fetes", "social/voisinage/fetes", "alice", "manual", 2, 2, 4 + 4),
        ("code", "social", "fetes", "social/voisinage/fetes", "bob", "keyword", 1, 1, 6),
        # gouv: c2 c6 c7, words 4 + 3 + 4
        ("theme", "gouv", None, "gouv", None, None, 3, 2, 11),
        ("code", "gouv", "bureau", "gouv/bureau", "alice", "manual", 3, 2, 11),
        ("code", "gouv", "argent", "gouv/argent", None, None, 0, 0, 0),
    ]
    assert rows[0]["label"] == "Liens" and rows[4]["label"] == "Fêtes"


def test_stats_filters(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    by_bob = tables.stats(store, book, coders=["bob"])
    assert [r for r in pick(by_bob, "code", "codings", "words") if r[1]] == [
        (None, 2, 18), ("entraide", 1, 12), ("fetes", 1, 6)]
    assert by_bob == tables.stats(store, book, origins=["keyword"])
    # role=membre: T1 and T3 (T2 is porteur, T4 has no role)
    membre = tables.stats(store, book, where={"role": "membre"})
    assert [r for r in pick(membre, "code", "coder", "codings", "transcripts") if r[2]] == [
        (None, None, 5, 2), ("entraide", "alice", 1, 1), ("entraide", "bob", 1, 1),
        ("fetes", "alice", 2, 2), ("fetes", "bob", 1, 1), (None, None, 2, 1),
        ("bureau", "alice", 2, 1)]
    # values compared ignoring case and accents; one attribute twice means either value
    assert tables.stats(store, book, where={"Role": ["MEMBRE"]}) == membre
    both = tables.stats(store, book, where={"role": ["membre", "porteur"]})
    assert both == tables.stats(store, book)
    only_t2 = tables.stats(store, book, transcripts=["T2"])
    assert [r for r in pick(only_t2, "code", "codings") if r[1]] == [
        (None, 1), ("entraide", 1), (None, 1), ("bureau", 1)]


@pytest.mark.parametrize(("options", "message"), [
    ({"where": {"quartier": "x"}},
     "no attribute 'quartier' on any transcript (known attributes: initiative, role)"),
    ({"where": {"role": "maire"}},
     "no transcript has role='maire' (values of role: membre, porteur)"),
    ({"transcripts": ["T9"]}, "no transcript 'T9' in the store"),
    ({"coders": ["carol"]}, "no codings by coder 'carol' (coders: alice, bob)"),
])
def test_filter_errors(study: tuple[Store, Codebook, Path], options: dict[str, Any],
                       message: str) -> None:
    store, book, _ = study
    with pytest.raises(NotFoundError) as err:
        tables.stats(store, book, **options)
    assert str(err.value).startswith(message)


def test_bad_origin_level_unit(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    with pytest.raises(UsageError, match="invalid origin 'robot'"):
        tables.stats(store, book, origins=["robot"])
    with pytest.raises(UsageError, match="invalid level 'sentence'"):
        tables.matrix(store, book, level="sentence")
    with pytest.raises(UsageError, match="invalid unit 'sentence'"):
        tables.cooccurrence(store, book, unit="sentence")
    with pytest.raises(UsageError, match="invalid --where 'role'"):
        tables.parse_where(["role"])
    assert tables.parse_where(["role=membre", "role = porteur", "initiative=a=b"]) == {
        "role": ["membre", "porteur"], "initiative": ["a=b"]}


# --- crosstab ----------------------------------------------------------------------------------


def test_crosstab_by_theme(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    rows = tables.crosstab(store, book, "role")
    assert {r["attribute"] for r in rows} == {"role"}
    assert pick(rows, "theme", "value", "codings", "transcripts", "value_transcripts",
                "share_transcripts", "share_codings") == [
        # social has 6 codings; membre = T1 (c1 c3 c4 c5) + T3 (c9)
        ("social", "membre", 5, 2, 2, 1.0, round(5 / 6, 3)),
        ("social", "porteur", 1, 1, 1, 1.0, round(1 / 6, 3)),
        ("social", "(none)", 0, 0, 1, 0.0, 0.0),            # T4 has no role
        # gouv has 3 codings; membre = T1 (c2 c6): 1 of the 2 membre transcripts
        ("gouv", "membre", 2, 1, 2, 0.5, round(2 / 3, 3)),
        ("gouv", "porteur", 1, 1, 1, 1.0, round(1 / 3, 3)),
        ("gouv", "(none)", 0, 0, 1, 0.0, 0.0),
    ]


def test_crosstab_by_code_with_filters(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    rows = tables.crosstab(store, book, "Initiative", level="code", coders=["alice"])
    assert pick(rows, "theme", "code", "value", "codings", "transcripts", "share_transcripts",
                "share_codings") == [
        # alice's entraide: c1 (T1), c8 (T2) — both amis
        ("social", "entraide", "amis", 2, 2, 1.0, 1.0),
        ("social", "entraide", "voisins", 0, 0, 0.0, 0.0),
        # a code without codings: the share of its codings is undefined, not 0
        ("social", "voisinage", "amis", 0, 0, 0.0, None),
        ("social", "voisinage", "voisins", 0, 0, 0.0, None),
        # alice's fetes: c3 (T1, amis), c9 (T3, voisins); 2 voisins transcripts (T3, T4)
        ("social", "fetes", "amis", 1, 1, 0.5, 0.5),
        ("social", "fetes", "voisins", 1, 1, 0.5, 0.5),
        ("gouv", "bureau", "amis", 3, 2, 1.0, 1.0),
        ("gouv", "bureau", "voisins", 0, 0, 0.0, 0.0),
        ("gouv", "argent", "amis", 0, 0, 0.0, None),
        ("gouv", "argent", "voisins", 0, 0, 0.0, None),
    ]


def test_crosstab_unknown_attribute(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    with pytest.raises(NotFoundError, match=r"no attribute 'genre' on any transcript "
                                            r"\(known attributes: initiative, role\)"):
        tables.crosstab(store, book, "genre")


# --- co-occurrence ------------------------------------------------------------------------------


def test_cooccur_turn(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    rows = tables.cooccurrence(store, book, unit="turn")
    # turns: entraide {T1:2, T2:2}; fetes {T1:2, T1:4, T3:2}; bureau {T1:2, T1:4, T2:2}
    assert pick(rows, "code1", "code2", "n12", "n1", "n2", "jaccard") == [
        ("entraide", "bureau", 2, 2, 3, round(2 / (2 + 3 - 2), 3)),   # 0.667
        ("fetes", "bureau", 2, 3, 3, 2 / (3 + 3 - 2)),                # 0.5
        ("entraide", "fetes", 1, 2, 3, 1 / (2 + 3 - 1)),              # 0.25
    ]
    assert rows[0]["label1"] == "Entraide" and rows[0]["label2"] == "Le bureau"


def test_cooccur_overlap(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    rows = tables.cooccurrence(store, book, unit="overlap")
    # passages: entraide 2 (T1 turn 2, c1 joined into c4; T2 2.2), fetes 3, bureau 3.
    # entraide × bureau: T1 turn 2 ⊃ 2.2 → 1 (in T2, 2.1 and 2.2 only touch: not an overlap);
    # entraide × fetes: T1 turn 2 ⊃ 2.3 → 1; fetes × bureau: adjacent sentences only → 0
    assert pick(rows, "code1", "code2", "n12", "n1", "n2", "jaccard") == [
        ("entraide", "fetes", 1, 2, 3, 1 / (2 + 3 - 1)),
        ("entraide", "bureau", 1, 2, 3, 1 / (2 + 3 - 1)),
    ]


def test_cooccur_transcript_and_theme(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    rows = tables.cooccurrence(store, book, unit="transcript")
    # entraide {T1, T2}, fetes {T1, T3}, bureau {T1, T2}
    assert pick(rows, "code1", "code2", "n12", "n1", "n2", "jaccard") == [
        ("entraide", "bureau", 2, 2, 2, 1.0),
        ("entraide", "fetes", 1, 2, 2, round(1 / 3, 3)),
        ("fetes", "bureau", 1, 2, 2, round(1 / 3, 3)),
    ]
    themes = tables.cooccurrence(store, book, unit="turn", level="theme")
    # social {T1:2, T1:4, T2:2, T3:2}, gouv {T1:2, T1:4, T2:2}
    assert themes == [{"theme1": "social", "label1": "Liens", "theme2": "gouv",
                       "label2": "Gouvernance", "n12": 3, "n1": 4, "n2": 3,
                       "jaccard": 3 / (4 + 3 - 3)}]


def test_cooccur_undefined_and_focus(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    rows = tables.cooccurrence(store, book, unit="turn", include_zero=True)
    by_pair = {(r["code1"], r["code2"]): r for r in rows}
    assert len(rows) == 10  # 5 codable codes: every pair
    # neither code has a unit: 0 / 0 is undefined, reported as None (listed last), not 0
    assert by_pair[("voisinage", "argent")]["jaccard"] is None
    assert rows[-1]["jaccard"] is None
    # one code has units, the other none: 0 / (2 + 0 − 0) = 0
    assert by_pair[("entraide", "argent")]["jaccard"] == 0.0
    focus = tables.cooccurrence(store, book, unit="turn", focus="bureau")
    assert pick(focus, "code1", "code2", "n12") == [("bureau", "entraide", 2),
                                                    ("bureau", "fetes", 2)]
    # a theme: the pairs with any of its codes, its codes first
    assert pick(tables.cooccurrence(store, book, focus="gouv"), "code1", "code2") == [
        ("bureau", "entraide"), ("bureau", "fetes")]
    assert pick(tables.cooccurrence(store, book, focus="voisinage"), "code1", "code2") == [
        ("fetes", "bureau"), ("fetes", "entraide")]
    assert pick(focus, "theme1", "theme2") == [("gouv", "social"), ("gouv", "social")]
    # at theme level a code stands for its theme
    assert pick(tables.cooccurrence(store, book, level="theme", focus="Le bureau"),
                "theme1", "theme2") == [("gouv", "social")]
    # filters: bob's codings alone never share a turn
    assert tables.cooccurrence(store, book, coders=["bob"]) == []


def test_places_join_overlapping_passages() -> None:
    # one passage of a overlapping two of b is one place: n12 ≤ min(n1, n2)
    assert _places([(0, 100)], [(10, 20), (30, 40)]) == 1
    assert _places([(0, 10), (15, 30)], [(5, 20)]) == 1
    assert _places([(0, 10)], [(10, 20)]) == 0  # touching is not overlapping
    assert _places([(0, 10), (20, 30)], [(5, 6), (25, 40)]) == 2
    assert _merge([(5, 8), (0, 5), (7, 9)], touching=False) == [(0, 5), (5, 9)]
    assert _merge([(5, 8), (0, 5)]) == [(0, 8)]


# --- matrix ------------------------------------------------------------------------------------


def test_matrix(study: tuple[Store, Codebook, Path]) -> None:
    store, book, _ = study
    rows = tables.matrix(store, book)
    assert list(rows[0]) == ["code", "label", "T1", "T2", "T3", "T4"]
    assert [(r["code"], r["T1"], r["T2"], r["T3"], r["T4"]) for r in rows] == [
        ("entraide", 1, 1, 0, 0),
        ("voisinage", 0, 0, 0, 0),
        ("fetes", 1, 0, 1, 0),
        ("bureau", 1, 1, 0, 0),
        ("argent", 0, 0, 0, 0),
    ]
    themes = tables.matrix(store, book, level="theme", where={"role": "membre"})
    assert themes == [{"theme": "social", "label": "Liens", "T1": 1, "T3": 1},
                      {"theme": "gouv", "label": "Gouvernance", "T1": 1, "T3": 0}]
    assert [r["T1"] for r in tables.matrix(store, book, origins=["keyword"])] == [
        1, 0, 1, 0, 0]


def test_orphan_codes_come_last(project_dir: Path) -> None:
    store, _ = build(project_dir)
    path = project_dir / "codebooks" / "codebook.yaml"
    path.write_text(CODEBOOK.replace("      - { id: bureau, label: Le bureau }\n", ""),
                    encoding="utf-8")
    book = load_valid(path)
    sync(store, book, force=True)
    rows = tables.stats(store, book)
    assert pick(rows[-1:], "level", "theme", "code", "label", "codings") == [
        ("code", None, "bureau", "Le bureau", 3)]
    assert [r["theme"] for r in tables.matrix(store, book, level="theme")] == [
        "social", "gouv", "bureau"]
    store.close()


# --- CLI and golden files ----------------------------------------------------------------------


def golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.is_file(), f"no {path.name}: run with QCODE_REGENERATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("name", "args"), [
    ("stats.table.txt", ["stats"]),
    ("crosstab.csv", ["crosstab", "--by", "role", "--level", "code", "-f", "csv"]),
    ("cooccur.json", ["cooccur", "--unit", "turn", "--format", "json"]),
    ("matrix.table.txt", ["matrix", "--where", "initiative=amis"]),
])
def test_cli_golden(study: tuple[Store, Codebook, Path], name: str, args: list[str]) -> None:
    result = qcode(*args, cwd=study[2])
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    golden(name, result.stdout)


def test_cli_matrix_csv_and_json(study: tuple[Store, Codebook, Path]) -> None:
    result = qcode("matrix", "-f", "csv", "--level", "theme", "--coder", "alice",
                   cwd=study[2])
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("theme,label,T1,T2,T3,T4\n"
                             "social,Liens,1,1,1,0\n"
                             "gouv,Gouvernance,1,1,0,0\n")
    result = qcode("cooccur", "--unit", "overlap", "--origin", "manual", "-f", "json",
                   cwd=study[2])
    assert json.loads(result.stdout) == []
    assert result.stderr == "no pair of codes coded together\n"


@pytest.mark.parametrize(("args", "code", "stderr"), [
    (["crosstab", "--by", "genre"], 1,
     "error: no attribute 'genre' on any transcript (known attributes: initiative, role)\n"),
    (["stats", "--where", "role"], 2,
     "error: invalid --where 'role' (use ATTRIBUTE=VALUE, e.g. --where role=membre)\n"),
    (["stats", "--where", "role=maire"], 1,
     "error: no transcript has role='maire' (values of role: membre, porteur)\n"),
    (["matrix", "--coder", "carol"], 1,
     "error: no codings by coder 'carol' (coders: alice, bob)\n"),
])
def test_cli_errors(study: tuple[Store, Codebook, Path], args: list[str], code: int,
                    stderr: str) -> None:
    result = qcode(*args, cwd=study[2])
    assert (result.returncode, result.stdout, result.stderr) == (code, "", stderr)


def test_cli_usage_errors(study: tuple[Store, Codebook, Path]) -> None:
    result = qcode("cooccur", "--unit", "sentence", cwd=study[2])
    assert result.returncode == 2 and "Invalid value for '--unit'" in result.stderr
    result = qcode("crosstab", cwd=study[2])
    assert result.returncode == 2 and "Missing option '--by'" in result.stderr
