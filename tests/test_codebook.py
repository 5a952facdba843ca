"""The YAML codebook: loading, every validation problem with its place, sync into the store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from qcode.codebook import catastrophic, fold, load, load_valid
from qcode.codebook_sync import overview, sync
from qcode.errors import NotFoundError, ValidationError
from qcode.project import load as load_project
from qcode.store import Store, schema
from tests.conftest import FIXTURES, qcode

PROBLEMS = FIXTURES / "codebook" / "problems.yaml"

SMALL = """\
# a small codebook
name: Petit
themes:
  - id: values
    label: Valeurs
    color: "#E15759"
    codes:
      - id: solidarité
        label: Solidarité
        key: so
        keywords: [solidarité, { term: s'entraider, fuzzy: 1 }]
      - id: récit
        label: Récit
        codes:
          - id: origines
            label: Les origines
            unit: turn
  - id: governance
    label: Gouvernance
    codes:
      - { id: bureau, label: Le bureau, keywords: [{ term: bureau, not: [bureau de poste] }] }
codes:
  - { id: ag, label: L'AG, parent: governance, keywords: [{ term: AG, exact: true }] }
"""


def write(tmp_path: Path, text: str, name: str = "cb.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_tree_fields_and_flat_codes(tmp_path: Path) -> None:
    book = load_valid(write(tmp_path, SMALL))
    assert book.name == "Petit"
    assert book.roots == ["values", "governance"]
    assert [c.id for c in book.walk()] == ["values", "solidarité", "récit", "origines",
                                          "governance", "bureau", "ag"]
    assert book.lineage("origines") == ["values", "récit", "origines"]
    assert book.theme_of("ag") == "governance"
    assert book.descendants("values") == ["solidarité", "récit", "origines"]
    values, so, origines = book.codes["values"], book.codes["solidarité"], book.codes["origines"]
    assert (values.codable, values.color, values.depth) == (False, "#E15759", 0)
    assert (so.codable, so.key, so.depth) == (True, "so", 1)
    assert [(k.term, k.fuzzy) for k in so.keywords] == [("solidarité", 0), ("s'entraider", 1)]
    assert origines.unit == "turn"
    assert book.codes["bureau"].keywords[0].vetoes == ["bureau de poste"]
    assert book.codes["ag"].keywords[0].exact is True
    assert book.problems == []


def test_resolve_by_id_label_key_with_suggestion(tmp_path: Path) -> None:
    book = load_valid(write(tmp_path, SMALL))
    assert book.resolve("solidarité").id == "solidarité"
    assert book.resolve("SOLIDARITE").id == "solidarité"
    assert book.resolve("Le Bureau").id == "bureau"
    assert book.resolve("so").id == "solidarité"
    with pytest.raises(NotFoundError, match=r"no code 'origine' .*did you mean 'origines' "
                                            r"\(Les origines\)\?"):
        book.resolve("origine")


def test_every_problem_is_reported_with_line_and_column() -> None:
    book = load(PROBLEMS)
    p = str(PROBLEMS)
    assert [str(x) for x in book.problems] == [
        f'{p}:6:12: themes[0].color: invalid colour \'#12345\': write it as "#RRGGBB" '
        '(quoted), e.g. "#4E79A7"',
        f"{p}:13:13: themes[0].codes[0].keywords[1]: keyword '!!!' normalises to nothing: "
        "write a word or phrase, not only punctuation or spaces",
        f"{p}:14:22: themes[0].codes[0].keywords[2].regex: regular expression prone to "
        "catastrophic backtracking (a repeated group contains another repeat): avoid a "
        "repeated group that itself repeats, e.g. write (ab)+ instead of (a+b?)+",
        f"{p}:15:22: themes[0].codes[0].keywords[3].regex: invalid regular expression: "
        "missing ), unterminated subpattern at position 7: fix the pattern",
        f"{p}:16:13: themes[0].codes[1].id: duplicate id 'solidarite' (first at line 8): "
        "give each entry its own id",
        f"{p}:19:12: themes[1].label: empty label: give the entry a label people can read",
        f"{p}:23:14: themes[1].codes[0].key: key 'so' is also the key of 'solidarite': give "
        "each code its own key",
        f"{p}:24:9: themes[1].codes[0].lable: unknown field 'lable': did you mean 'label'?",
        f"{p}:25:20: themes[1].codes[0].keywords[0]: keyword 'solidarité' is also a keyword "
        "of 'solidarite' (line 12): keep it on one code, or add 'not:' phrases to tell them "
        "apart",
        f"{p}:25:51: themes[1].codes[0].keywords[1].fuzzy: invalid fuzzy tolerance 5: use a "
        "number of typing errors from 0 to 2",
        f"{p}:27:44: codes[0].parent: unknown parent 'nowhere': use the id of a theme or code "
        "defined in this codebook",
    ]
    assert [x.severity for x in book.problems].count("warning") == 1


def test_validate_command_exit_3_with_every_problem() -> None:
    result = qcode("codebook", "validate", str(PROBLEMS))
    assert result.returncode == 3
    lines = result.stderr.splitlines()
    assert len(lines) == 12
    assert lines[8].startswith(f"warning: {PROBLEMS}:25:20: ")
    assert all(x.startswith("error: ") for i, x in enumerate(lines) if i != 8)
    assert lines[-1] == f"error: {PROBLEMS}: 10 error(s) in the codebook"
    assert result.stdout == ""


def test_validate_command_ok(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL)
    result = qcode("codebook", "validate", str(path))
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == f"{path}: ok (2 themes, 5 codes, 4 keywords)\n"


@pytest.mark.parametrize(("text", "message"), [
    ("themes: [", "invalid YAML"),
    ("- a\n- b\n", "the codebook must be a mapping"),
    ("name: x\n", "no themes"),
    ("themes:\n  - label: x\n", "entry without an id"),
    ("themes:\n  - id: a b\n    label: x\n", "invalid id 'a b'"),
    ("themes:\n  - id: a\n    label: x\n    unit: page\n", "invalid unit 'page'"),
    ("themes:\n  - id: a\n    label: x\n    key: abc\n", "invalid key 'abc'"),
    ("themes:\n  - id: a\n    label: x\n    keywords: [{term: x, regex: y}]\n",
     "exactly one of 'term' or 'regex'"),
    ("themes:\n  - id: a\n    label: x\n    codes: [{id: b, label: y, guid: nope}]\n",
     "invalid GUID"),
    ("themes:\n  - id: a\n    label: x\n    keywords: [{term: x, not: ['...']}]\n",
     "veto '...' normalises to nothing"),
    ("colour: red\nthemes: []\n", "unknown top-level field 'colour'"),
])
def test_single_problems(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValidationError) as info:
        load_valid(path)
    assert message in str(info.value) + " ".join(info.value.problems)
    assert info.value.exit_code == 3


@pytest.mark.parametrize(("pattern", "dangerous"), [
    ("(a+)+b", True), ("(a*)*", True), ("(\\w+\\s?)+$", True), ("(a|a)*", True),
    ("co-?présiden\\w*", False), ("\\bAG\\b", False), ("(ab)+", False), ("a{2,5}", False),
])
def test_catastrophic_patterns(pattern: str, dangerous: bool) -> None:
    assert (catastrophic(pattern) is not None) is dangerous


def test_fold() -> None:
    assert fold("  L’Assemblée  Générale ") == "l' assemblee generale"
    assert fold("S'ENTRAIDER") == "s' entraider"
    assert fold("!!!") == ""


# --- sync -----------------------------------------------------------------------------------


@pytest.fixture
def project_with_codebook(project_dir: Path) -> Path:
    (project_dir / "codebooks" / "codebook.yaml").write_text(SMALL, encoding="utf-8")
    (project_dir / "transcripts" / "T1.txt").write_text(
        "E : Et l'association ?\nKarim : On s'entraide, c'est la solidarité.\nE : Et ?\n"
        "Karim : Le bureau décide.\n", encoding="utf-8")
    assert qcode("ingest", cwd=project_dir).returncode == 0
    return project_dir


def _add_coding(store: Store, code_id: str, start: int = 30, end: int = 45) -> None:
    now = datetime.now(UTC).isoformat()
    with store.write() as conn:
        conn.execute(insert(schema.codings).values(
            transcript_id="T1", start=start, end=end, code_id=code_id, coder="alice",
            origin="manual", snapshot="On s'entraide", created_at=now, updated_at=now))


def test_sync_follows_the_yaml_and_refuses_to_drop_used_codes(
        project_with_codebook: Path) -> None:
    project = load_project(project_with_codebook)
    store = Store.open(project.store_location)
    path = project.root / project.codebook
    report = sync(store, load_valid(path))
    assert report.changed and len(report.added) == 7
    assert not sync(store, load_valid(path)).changed  # same digest: nothing to do
    _add_coding(store, "solidarité")
    path.write_text(SMALL.replace("      - id: solidarité\n        label: Solidarité\n"
                                  "        key: so\n        keywords: [solidarité, "
                                  "{ term: s'entraider, fuzzy: 1 }]\n", ""), encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        sync(store, load_valid(path))
    assert "no longer has 'solidarité', which 1 coding(s) still use" in str(info.value)
    assert info.value.problems == [
        "solidarité: T1 [30:45] by alice (manual): « On s'entraide »"]
    rows = {r["id"]: r for r in overview(store, load_valid(path))}
    assert "solidarité" not in rows  # refused: nothing changed in the store...
    report = sync(store, load_valid(path), force=True)  # ...until forced
    assert report.orphaned == ["solidarité"]
    assert [c["id"] for c in report.orphan_codings] == [1]
    rows = {r["id"]: r for r in overview(store, load_valid(path))}
    assert rows["solidarité"]["status"] == "orphan"
    assert rows["solidarité"]["codings"] == 1  # kept, never deleted


def test_codebook_show_formats(project_with_codebook: Path) -> None:
    import csv
    import io
    import json

    result = qcode("codebook", "show", "-f", "json", cwd=project_with_codebook)
    assert result.returncode == 0
    assert result.stderr == "codebook synced into the store: 7 added\n"
    rows = json.loads(result.stdout)
    assert [(r["id"], r["depth"], r["keywords"], r["codings"]) for r in rows] == [
        ("values", 0, 0, 0), ("solidarité", 1, 2, 0), ("récit", 1, 0, 0),
        ("origines", 2, 0, 0), ("governance", 0, 0, 0), ("bureau", 1, 1, 0), ("ag", 1, 1, 0)]
    result = qcode("codebook", "show", "-f", "csv", cwd=project_with_codebook)
    assert result.stderr == ""
    assert next(csv.reader(io.StringIO(result.stdout)))[:4] == ["id", "label", "depth",
                                                                 "parent"]
    tree = qcode("codebook", "show", "--tree", cwd=project_with_codebook).stdout
    assert "    Les origines" in tree


def test_codebook_missing_is_a_clear_error(project_dir: Path) -> None:
    result = qcode("codebook", "show", cwd=project_dir)
    assert result.returncode == 1
    assert result.stderr == (f"error: {project_dir / 'codebooks' / 'codebook.yaml'}: codebook "
                             "not found (create it, or set 'codebook:' in qcode.yaml)\n")
