"""Codebook edits (add, rename, merge, move): the YAML kept as written, the codings following.

Golden files: each case below edits ``tests/fixtures/codebook/edit/codebook.yaml`` (comments,
blank lines, quoted strings, flow-style lists, a flat ``codes:`` list with ``parent:``) and
compares the file byte for byte with ``tests/fixtures/codebook/edit/<case>.expected.yaml``.
After an intended change of the output, regenerate them and read the diff before keeping it:

    QCODE_REGENERATE_GOLDEN=1 python -m pytest tests/test_codebook_edit.py

Everything runs on real files and a real SQLite store; CLI tests run the ``qcode`` command.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from qcode.codebook import load, load_valid
from qcode.codebook_edit import (
    EditError,
    EditResult,
    _Doc,
    _Editor,
    _move,
    _Plan,
    _run,
    add_code,
    detect_indent,
    merge_codes,
    move_code,
    rename_code,
)
from qcode.codebook_sync import code_rows, sync
from qcode.errors import NotFoundError, UsageError, ValidationError
from qcode.ingest.pipeline import ingest
from qcode.project import Project
from qcode.project import load as load_project
from qcode.store import Store, schema
from qcode.store import codes as store_codes
from tests.conftest import FIXTURES, qcode

# read at import: the autouse fixture in conftest.py hides QCODE_* variables from the tests
REGENERATE = os.environ.get("QCODE_REGENERATE_GOLDEN") == "1"
EDIT_FIXTURES = FIXTURES / "codebook" / "edit"
SOURCE = EDIT_FIXTURES / "codebook.yaml"
TRANSCRIPT = ("E : Comment ça a commencé ?\n\n"
              "Karim : Avec les voisins, pendant le confinement. On s'entraide, on se rend des "
              "services. Le bureau décide en assemblée générale.\n")


@pytest.fixture
def project(project_dir: Path) -> Project:
    shutil.copyfile(SOURCE, project_dir / "codebooks" / "codebook.yaml")
    (project_dir / "transcripts" / "T1.txt").write_text(TRANSCRIPT, encoding="utf-8")
    return load_project(project_dir)


@pytest.fixture
def store(project: Project) -> Store:
    store = Store.open(project.store_location)
    report = ingest(project, store)
    assert report.ok, report.errors
    return store


def codebook_path(project: Project) -> Path:
    return project.root / project.codebook


# --- golden files ----------------------------------------------------------------------------

Edit = Callable[[Project, Store], EditResult]

CASES: dict[str, Edit] = {
    # a code with every option, under a theme whose list is an empty flow list
    "add-code": lambda p, s: add_code(
        p, s, "participation", "Participation", parent="Liens",
        description="Prendre part aux décisions: conseils de quartier, budgets participatifs.",
        key="pa", color="#59a14f", keywords=["participer", "conseil de quartier"], unit="turn"),
    # the first sub-code of the last code of a theme: the next theme's comment stays put
    "add-subcode": lambda p, s: add_code(p, s, "open-conflicts", "Conflits ouverts",
                                         parent="conflicts"),
    # a theme: after the last one, before the flat list's comment, a blank line like the others
    "add-theme": lambda p, s: add_code(p, s, "territory", "Territoire", color="#76B7B2"),
    # under a code of the flat list: a flat entry with 'parent:', before the file's last comment
    "add-flat": lambda p, s: add_code(p, s, "board-members", "Membres du bureau",
                                      parent="bureau"),
    # id and label of a nested code that a flat entry names as its parent
    "rename": lambda p, s: rename_code(p, s, "governance-bodies", "instances",
                                       label="Instances"),
    # a flat entry named by its label
    "rename-flat": lambda p, s: rename_code(p, s, "Trésorerie", "treasury"),
    # keywords (one skipped, one rewritten to keep its meaning), a sub-code, the target by key
    "merge": lambda p, s: merge_codes(p, s, "mutual-aid", "so"),
    # a flat code into its parent: its flat child follows
    "merge-flat": lambda p, s: merge_codes(p, s, "bureau", "governance-bodies"),
    # a theme with its heading comment under another theme (it stays not codable)
    "move-theme": lambda p, s: move_code(p, s, "values", "ties"),
    # an only sub-code to the top (it stays codable); its parent loses its empty 'codes:'
    "move-top": lambda p, s: move_code(p, s, "ag", None),
    # the first code of a theme, with its sub-codes, under another theme
    "move-first": lambda p, s: move_code(p, s, "governance-bodies", "values"),
    # a flat entry: only its 'parent:' changes
    "move-flat": lambda p, s: move_code(p, s, "treasurer", "conflicts"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str, project: Project, store: Store) -> None:
    result = CASES[case](project, store)
    path = codebook_path(project)
    actual = path.read_bytes()
    golden = EDIT_FIXTURES / f"{case}.expected.yaml"
    if REGENERATE:
        golden.write_bytes(actual)
    assert golden.is_file(), f"no {golden.name}: run with QCODE_REGENERATE_GOLDEN=1"
    assert actual.decode() == golden.read_text(encoding="utf-8")
    assert actual == golden.read_bytes()
    assert result.changed and result.new_text == actual.decode()
    # the new file is a valid codebook, recorded as synced
    book = load_valid(path)
    assert not sync(store, book).changed


def test_goldens_keep_every_comment() -> None:
    """Whatever moved, no comment of the fixture is lost, except the end-of-line comment of an
    entry that a merge removes."""
    lines = SOURCE.read_text("utf-8").splitlines()
    comments = [line.split("#", 1)[1].strip() for line in lines
                if "  #" in line or line.lstrip().startswith("#")]
    assert len(comments) == 13
    removed = {"merge": "to be merged into solidarity", "merge-flat": "flat"}
    for case in CASES:
        text = (EDIT_FIXTURES / f"{case}.expected.yaml").read_text("utf-8")
        for comment in comments:
            if removed.get(case) != comment:
                assert f"# {comment}\n" in text, f"{case} lost the comment {comment!r}"


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 11), st.integers(-1, 11)), min_size=1, max_size=5))
def test_any_moves_keep_a_valid_codebook_and_every_comment(tmp_path: Path,
                                                           moves: list[tuple[int, int]]) -> None:
    """Moves one after the other (on the tree, without a store): each result is a valid
    codebook with the expected tree, and no line of comment is lost or doubled."""
    path = tmp_path / "codebook.yaml"
    path.write_bytes(SOURCE.read_bytes())
    comments = sorted(line.strip() for line in SOURCE.read_text("utf-8").splitlines()
                      if line.lstrip().startswith("#"))
    for which, where in moves:
        book = load_valid(path)
        ids = list(book.codes)
        code, parent = ids[which], ids[where] if where >= 0 else None
        if parent == code or parent in book.descendants(code):
            continue
        expected = {c.id: c.parent for c in book.codes.values()} | {code: parent}
        codable = {c.id: c.codable for c in book.codes.values()}
        doc = _Doc(path.read_bytes())
        plan = _move(code, parent)(_Editor(doc, book))
        if plan.noop is not None:
            continue
        text = doc.render()
        path.write_text(text, encoding="utf-8")
        after = load_valid(path)
        assert {c.id: c.parent for c in after.codes.values()} == expected
        assert {c.id: c.codable for c in after.codes.values()} == codable
        assert sorted(line.strip() for line in text.splitlines()
                      if line.lstrip().startswith("#")) == comments
        for eol in ("# the first theme", "# a quoted name", "# flow style", "# lemma match",
                    "# to be merged into solidarity", "# flat"):
            assert text.count(eol) == 1


# --- the library, on a real store ------------------------------------------------------------


def add_coding(store: Store, code_id: str, start: int, end: int, coder: str = "alice") -> int:
    with store.write() as conn:
        text = conn.execute(select(schema.transcripts.c.text)
                            .where(schema.transcripts.c.id == "T1")).scalar_one()
        result = conn.execute(insert(schema.codings).values(
            transcript_id="T1", start=start, end=end, code_id=code_id, coder=coder,
            origin="manual", snapshot=text[start:end], memo="",
            created_at="2024-01-01T00:00:00Z", updated_at="2024-01-01T00:00:00Z"))
        return int(result.inserted_primary_key[0])


def codings(store: Store) -> dict[int, tuple[str, int, int, str]]:
    c = schema.codings
    with store.read() as conn:
        return {r.id: (r.code_id, r.start, r.end, r.coder)
                for r in conn.execute(select(c.c.id, c.c.code_id, c.c.start, c.c.end, c.c.coder))}


def stored_codes(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(schema.codes).order_by(schema.codes.c.position))]


def state(store: Store) -> dict[str, str]:
    with store.read() as conn:
        return {r.name: r.value for r in conn.execute(select(schema.codebook_state))}


def assert_store_follows_file(project: Project, store: Store) -> None:
    book = load_valid(codebook_path(project))
    assert stored_codes(store) == code_rows(book)
    assert not sync(store, book).changed


def test_rename_moves_the_codings(project: Project, store: Store) -> None:
    a = add_coding(store, "governance-bodies", 8, 20)
    b = add_coding(store, "governance-bodies", 30, 40, coder="bob")
    other = add_coding(store, "conflicts", 8, 20)
    child = add_coding(store, "ag", 50, 60)
    result = rename_code(project, store, "gb", "instances")  # named by its key
    assert result.message == "renamed 'governance-bodies' to 'instances': 2 codings moved"
    assert result.codings_moved == 2
    assert codings(store) == {a: ("instances", 8, 20, "alice"), b: ("instances", 30, 40, "bob"),
                              other: ("conflicts", 8, 20, "alice"), child: ("ag", 50, 60, "alice")}
    rows = {r["id"]: r for r in stored_codes(store)}
    assert "governance-bodies" not in rows
    assert rows["ag"]["parent_id"] == rows["bureau"]["parent_id"] == "instances"
    assert_store_follows_file(project, store)


def test_merge_moves_deduplicated_codings_sub_codes_and_keywords(project: Project,
                                                                 store: Store) -> None:
    kept = [add_coding(store, "solidarity", 10, 30), add_coding(store, "solidarity", 40, 50)]
    same = add_coding(store, "mutual-aid", 10, 30)  # the same passage and coder: dropped
    other_coder = add_coding(store, "mutual-aid", 10, 30, coder="bob")
    new = add_coding(store, "mutual-aid", 60, 70)
    sub = add_coding(store, "exchange", 60, 70)
    result = merge_codes(project, store, "Entraide", "solidarity")
    assert result.message == ("merged 'mutual-aid' into 'solidarity': 3 codings moved "
                              "(1 duplicate dropped), 1 sub-code moved, 2 keywords added")
    assert (result.codings_moved, result.duplicates_dropped) == (3, 1)
    after = codings(store)
    assert same not in after
    assert {cid: after[cid][0] for cid in [*kept, other_coder, new, sub]} == {
        kept[0]: "solidarity", kept[1]: "solidarity", other_coder: "solidarity",
        new: "solidarity", sub: "exchange"}
    assert len(after) == 2 + 3 - 1 + 1
    assert sum(1 for code, *_ in after.values() if code == "solidarity") == 4
    rows = {r["id"]: r for r in stored_codes(store)}
    assert "mutual-aid" not in rows
    assert (rows["exchange"]["parent_id"], rows["exchange"]["depth"]) == ("solidarity", 2)
    book = load_valid(codebook_path(project))
    words = {k.text: (k.fuzzy, k.vetoes) for k in book.codes["solidarity"].keywords}
    # 'coup de main' keeps the meaning it had on mutual-aid: not fuzzy, vetoed by 'aide sociale'
    assert words == {"solidarité": (1, []), "entraide": (1, []),
                     "coup de main": (0, ["aide sociale"]),
                     "/s'entraid\\w*/": (1, ["aide sociale"])}
    assert_store_follows_file(project, store)


def test_move_keeps_the_codings_and_updates_the_tree(project: Project, store: Store) -> None:
    ids = [add_coding(store, "solidarity", 10, 30), add_coding(store, "exchange", 40, 50)]
    before = codings(store)
    result = move_code(project, store, "values", "ties")
    assert result.message == "moved 'values' under 'ties' (kept 'codable: false')"
    assert codings(store) == before and set(before) == set(ids)
    rows = {r["id"]: r for r in stored_codes(store)}
    assert (rows["values"]["parent_id"], rows["values"]["depth"]) == ("ties", 1)
    assert rows["values"]["codable"] is False
    assert (rows["exchange"]["depth"], rows["solidarity"]["parent_id"]) == (3, "values")
    assert_store_follows_file(project, store)


def test_move_to_the_top_keeps_it_codable(project: Project, store: Store) -> None:
    result = move_code(project, store, "ag", None)
    assert result.message == "moved 'ag' to the top level (a theme) (kept 'codable: true')"
    book = load_valid(codebook_path(project))
    assert (book.codes["ag"].depth, book.codes["ag"].codable) == (0, True)
    assert book.roots == ["governance", "values", "ties", "ag"]


def test_add_reattaches_the_codings_of_an_orphan(project: Project, store: Store) -> None:
    add_code(project, store, "old-code", "Ancien code", parent="values")
    orphan = add_coding(store, "old-code", 10, 20)
    shutil.copyfile(SOURCE, codebook_path(project))  # someone removes it from the YAML
    with pytest.raises(ValidationError, match="the codebook no longer has 'old-code'"):
        rename_code(project, store, "ag", "assemblies")
    sync(store, load_valid(codebook_path(project)), force=True)  # kept as an orphan
    assert {r["id"]: r["status"] for r in stored_codes(store)}["old-code"] == "orphan"
    with pytest.raises(EditError, match="1 coding still uses the id 'old-code'"):
        rename_code(project, store, "ag", "old-code")
    result = add_code(project, store, "old-code", "Ancien code", parent="values")
    assert result.message == ("added 'old-code' under 'values' (it takes back the 1 coding kept "
                              "from the removed code 'old-code')")
    assert codings(store)[orphan][0] == "old-code"
    assert_store_follows_file(project, store)


@pytest.mark.parametrize(("edit", "error", "message"), [
    (lambda p, s: merge_codes(p, s, "governance", "ag"), EditError,
     "cannot merge 'governance' into 'ag', one of its own sub-codes"),
    (lambda p, s: merge_codes(p, s, "gb", "governance-bodies"), EditError,
     "cannot merge 'governance-bodies' into itself"),
    (lambda p, s: move_code(p, s, "governance-bodies", "treasurer"), EditError,
     "cannot move 'governance-bodies' under 'treasurer', one of its own sub-codes"),
    (lambda p, s: move_code(p, s, "values", "values"), EditError,
     "cannot move 'values' under itself"),
    (lambda p, s: rename_code(p, s, "ag", "conflicts"), EditError,
     "id 'conflicts' is already used by 'Conflits' (line 20)"),
    (lambda p, s: add_code(p, s, "x", "X", key="SO"), EditError,
     "key 'SO' is already the key of 'solidarity'"),
    (lambda p, s: add_code(p, s, "x", "X", parent="governanse"), NotFoundError,
     "no code 'governanse' in the codebook"),
    (lambda p, s: add_code(p, s, "x y", "X"), UsageError, "invalid id 'x y'"),
    (lambda p, s: add_code(p, s, "x", "X", color="blue"), UsageError, "invalid colour 'blue'"),
    (lambda p, s: add_code(p, s, "x", "X", keywords=["?!"]), UsageError,
     "keyword '?!' normalises to nothing"),
], ids=["merge-into-sub-code", "merge-into-itself", "move-under-sub-code", "move-under-itself",
        "rename-to-used-id", "add-used-key", "add-unknown-parent", "add-invalid-id",
        "add-invalid-colour", "add-empty-keyword"])
def test_refused_edits_change_nothing(project: Project, store: Store, edit: Edit,
                                      error: type[Exception], message: str) -> None:
    add_coding(store, "governance-bodies", 8, 20)
    sync(store, load_valid(codebook_path(project)))
    path = codebook_path(project)
    before = (path.read_bytes(), codings(store), stored_codes(store), state(store))
    with pytest.raises(error, match=re.escape(message)):
        edit(project, store)
    assert (path.read_bytes(), codings(store), stored_codes(store), state(store)) == before


def test_merge_into_a_theme_that_cannot_be_coded_is_refused(project: Project,
                                                            store: Store) -> None:
    add_coding(store, "conflicts", 8, 20)
    with pytest.raises(EditError, match=re.escape("'values' cannot be coded (a theme) and 1 "
                                                  "coding would move to it")):
        merge_codes(project, store, "conflicts", "values")
    # without codings to move, a code can be folded into a theme
    result = merge_codes(project, store, "ag", "governance")
    assert result.message.startswith("merged 'ag' into 'governance': 0 codings moved")


def test_dry_run_changes_nothing(project: Project, store: Store) -> None:
    add_coding(store, "mutual-aid", 10, 30)
    path = codebook_path(project)
    before = (path.read_bytes(), codings(store), stored_codes(store), state(store))
    result = merge_codes(project, store, "mutual-aid", "solidarity", dry_run=True)
    assert result.message == ("would merge 'mutual-aid' into 'solidarity': 1 coding would move, "
                              "1 sub-code would move, 2 keywords would be added")
    assert result.diff.startswith(f"--- {path}\n+++ {path} (edited)\n@@ ")
    assert "-      - id: mutual-aid     # to be merged into solidarity\n" in result.diff
    assert (path.read_bytes(), codings(store), stored_codes(store), state(store)) == before
    assert not list(path.parent.glob(".*.tmp"))


def test_an_edit_that_would_break_the_codebook_is_refused(project: Project,
                                                          store: Store) -> None:
    """The new text is loaded like any codebook before anything is written (exit 3)."""
    add_coding(store, "ag", 8, 20)
    sync(store, load_valid(codebook_path(project)))
    path = codebook_path(project)
    before = (path.read_bytes(), codings(store), stored_codes(store), state(store))

    def duplicate(ed: _Editor) -> _Plan:  # an edit gone wrong: two entries with one id
        ed.entry("exchange").node["id"] = "ag"
        return _Plan(describe=lambda _c, _d: "broken",
                     store=lambda conn: {"moved": 0})

    with pytest.raises(ValidationError, match="the edit would leave 1 error") as info:
        _run(project, store, "test", duplicate, False)
    assert info.value.problems == [
        f"{path} (after the edit):45:17: themes[1].codes[1].codes[0].id: duplicate id 'ag' "
        "(first at line 18): give each entry its own id"]
    assert (path.read_bytes(), codings(store), stored_codes(store), state(store)) == before
    assert not list(path.parent.glob(".*.tmp"))


def test_when_the_file_cannot_be_replaced_the_store_rolls_back(project: Project,
                                                               store: Store) -> None:
    """Someone saves the codebook while qcode edits it: the codings moved inside the
    transaction go back, and the other person's file is kept."""
    coding = add_coding(store, "ag", 8, 20)
    sync(store, load_valid(codebook_path(project)))
    path = codebook_path(project)
    before = (codings(store), stored_codes(store), state(store))

    def rename_while_someone_saves(ed: _Editor) -> _Plan:
        ed.entry("ag").node["id"] = "assemblies"
        theirs = path.read_bytes().replace(b"# end of the codebook", b"# saved meanwhile")
        path.write_bytes(theirs)
        return _Plan(describe=lambda _c, _d: "renamed",
                     store=lambda conn: {"moved": store_codes.recode(conn, "ag", "assemblies")})

    with pytest.raises(EditError, match="the codebook changed while qcode was editing it"):
        _run(project, store, "rename", rename_while_someone_saves, False)
    assert path.read_bytes().endswith(b"# saved meanwhile\n")
    assert (codings(store), stored_codes(store), state(store)) == before
    assert codings(store)[coding][0] == "ag"


def test_file_details_are_kept(project: Project, store: Store) -> None:
    """Permissions, a byte-order mark and Windows line ends survive an edit."""
    path = codebook_path(project)
    path.write_bytes(b"\xef\xbb\xbf" + SOURCE.read_bytes().replace(b"\n", b"\r\n"))
    os.chmod(path, 0o640)
    rename_code(project, store, "ag", "assemblies")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == data.count(b"\n") == SOURCE.read_bytes().count(b"\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    expected = SOURCE.read_bytes().replace(b"id: ag\n", b"id: assemblies\n")
    assert data[3:].replace(b"\r\n", b"\n") == expected


def test_new_text_reads_back_the_same_with_yaml_1_1(project: Project, store: Store) -> None:
    """qcode reads YAML with PyYAML (YAML 1.1): 'on' (a French word) must not become true."""
    add_code(project, store, "yes", "No", parent="ties", key="on", keywords=["on", "1_000"])
    rename_code(project, store, "neighbours", "off")
    book = load_valid(codebook_path(project))
    assert (book.codes["yes"].label, book.codes["yes"].key) == ("No", "on")
    assert [k.term for k in book.codes["yes"].keywords] == ["on", "1_000"]
    assert "off" in book.codes
    assert "      - id: 'yes'\n        label: 'No'\n        key: 'on'\n" in \
        codebook_path(project).read_text("utf-8")


def test_a_repeated_key_is_reported_not_a_traceback(project: Project, store: Store) -> None:
    path = codebook_path(project)
    path.write_text("themes:\n  - id: a\n    label: A\n    label: B\n", encoding="utf-8")
    with pytest.raises(ValidationError, match='4:5: cannot edit the codebook: found duplicate '
                       'key "label"'):
        add_code(project, store, "b", "B")
    assert path.read_text("utf-8") == "themes:\n  - id: a\n    label: A\n    label: B\n"


def test_relabel_only(project: Project, store: Store) -> None:
    result = rename_code(project, store, "ag", "ag", label="AG")
    assert result.message == "relabelled 'ag': 'Assemblée générale' → 'AG'"
    again = rename_code(project, store, "ag", "ag", label="AG")
    assert (again.changed, again.message) == (False, "nothing to do: 'ag' already has that id "
                                              "and label")
    assert load_valid(codebook_path(project)).codes["ag"].label == "AG"


def test_moving_to_the_same_place_is_a_no_op(project: Project, store: Store) -> None:
    path = codebook_path(project)
    before = path.read_bytes()
    result = move_code(project, store, "ag", "governance-bodies")
    assert (result.changed, result.message) == (False, "nothing to do: 'ag' is already under "
                                                "'governance-bodies'")
    assert path.read_bytes() == before


@pytest.mark.parametrize(("text", "indent"), [
    ("themes:\n  - id: a\n    codes:\n      - id: b\n", (2, 4, 2)),
    ("themes:\n- id: a\n  codes:\n  - id: b\n", (2, 2, 0)),
    ("name: x\nthemes:\n    -   id: a\n        codes:\n            -   id: b\n", (2, 8, 4)),
    ("name: x\n", (2, 4, 2)),
])
def test_detect_indent(text: str, indent: tuple[int, int, int]) -> None:
    assert detect_indent(text) == indent


def test_an_unindented_codebook_stays_unindented(project: Project, store: Store) -> None:
    path = codebook_path(project)
    path.write_text("themes:\n- id: a\n  label: A\n  codes:\n  - id: a1\n    label: A1\n"
                    "- id: b\n  label: B\n", encoding="utf-8")
    move_code(project, store, "a1", "b")
    assert path.read_text("utf-8") == ("themes:\n- id: a\n  label: A\n- id: b\n  label: B\n"
                                       "  codes:\n  - id: a1\n    label: A1\n")
    assert load(path).codes["a1"].parent == "b"


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def cli_project(project: Project, store: Store) -> Path:
    """A project whose codebook is synced, with two codings of 'governance-bodies'."""
    sync(store, load_valid(codebook_path(project)))
    add_coding(store, "governance-bodies", 8, 20)
    add_coding(store, "governance-bodies", 30, 40)
    return project.root


def test_cli_rename(cli_project: Path) -> None:
    result = qcode("codebook", "rename", "governance-bodies", "instances", cwd=cli_project)
    assert (result.returncode, result.stdout, result.stderr) == (
        0, "", "renamed 'governance-bodies' to 'instances': 2 codings moved\n")
    shown = qcode("codebook", "show", "--format", "csv", cwd=cli_project)
    assert shown.returncode == 0 and shown.stderr == ""
    assert "instances,Instances et prise de décision,1,governance,governance,True,gb,,sentence," \
        "3,2,2,active" in shown.stdout


def test_cli_syncs_first_and_says_so(project: Project, store: Store) -> None:
    result = qcode("codebook", "add", "territory", "--label", "Territoire", cwd=project.root)
    assert (result.returncode, result.stdout, result.stderr) == (
        0, "", "codebook synced into the store: 12 added\nadded 'territory' as a theme\n")


def test_cli_add_every_option(cli_project: Path) -> None:
    result = qcode("codebook", "add", "participation", "--label", "Participation", "--parent",
                   "Liens", "--description", "Prendre part aux décisions: conseils de quartier, "
                   "budgets participatifs.", "--key", "pa", "--color", "#59a14f", "--keyword",
                   "participer", "-k", "conseil de quartier", "--unit", "turn", cwd=cli_project)
    assert (result.returncode, result.stdout, result.stderr) == (
        0, "", "added 'participation' under 'ties'\n")
    assert (cli_project / "codebooks" / "codebook.yaml").read_bytes() == (
        EDIT_FIXTURES / "add-code.expected.yaml").read_bytes()


def test_cli_refused_merge_leaves_file_and_store(cli_project: Path, store: Store) -> None:
    path = cli_project / "codebooks" / "codebook.yaml"
    before = (path.read_bytes(), codings(store), stored_codes(store), state(store))
    result = qcode("codebook", "merge", "governance", "governance-bodies", cwd=cli_project)
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "", f"error: {path}: cannot merge 'governance' into 'governance-bodies', one of its "
        "own sub-codes (move 'governance-bodies' out of it first)\n")
    assert (path.read_bytes(), codings(store), stored_codes(store), state(store)) == before


def test_cli_unknown_code_suggests_one(cli_project: Path) -> None:
    result = qcode("codebook", "move", "solidaritee", "--top", cwd=cli_project)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"error: {cli_project / 'codebooks' / 'codebook.yaml'}: no code "
                             "'solidaritee' in the codebook (did you mean 'solidarity' "
                             "(Solidarité)?)\n")


def test_cli_dry_run_prints_the_diff(cli_project: Path, store: Store) -> None:
    path = cli_project / "codebooks" / "codebook.yaml"
    before = (path.read_bytes(), codings(store), stored_codes(store), state(store))
    result = qcode("codebook", "move", "treasurer", "--to", "Conflits", "--dry-run",
                   cwd=cli_project)
    assert result.returncode == 0
    assert result.stdout == (
        f"--- {path}\n+++ {path} (edited)\n@@ -53,7 +53,7 @@\n"
        " # Flat codes, attached by parent:\n"
        " codes:\n"
        "   - { id: bureau, label: Le bureau, parent: governance-bodies }   # flat\n"
        '-  - { id: treasurer, label: "Trésorerie", parent: bureau }\n'
        '+  - { id: treasurer, label: "Trésorerie", parent: conflicts }\n'
        "   - id: neighbours\n"
        "     label: Voisins\n"
        "     parent: ties\n")
    assert result.stderr == "dry run, nothing changed: would move 'treasurer' under 'conflicts'\n"
    assert (path.read_bytes(), codings(store), stored_codes(store), state(store)) == before


@pytest.mark.parametrize(("args", "message"), [
    (["move", "ag"], "error: give either --to PARENT or --top\n"),
    (["move", "ag", "--to", "values", "--top"], "error: give either --to PARENT or --top\n"),
    (["add", "x", "--label", "X", "--color", "red"],
     "error: invalid colour 'red' (write it as #RRGGBB, e.g. #4E79A7)\n"),
])
def test_cli_usage_errors_exit_2(cli_project: Path, args: list[str], message: str) -> None:
    result = qcode("codebook", *args, cwd=cli_project)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message)


def test_cli_usage_errors_from_typer_exit_2(cli_project: Path) -> None:
    missing = qcode("codebook", "add", "x", cwd=cli_project)
    assert missing.returncode == 2 and "Missing option '--label'" in missing.stderr
    unit = qcode("codebook", "add", "x", "--label", "X", "--unit", "page", cwd=cli_project)
    assert unit.returncode == 2 and "'page' is not one of" in unit.stderr


def test_cli_invalid_codebook_is_exit_3_and_untouched(cli_project: Path) -> None:
    path = cli_project / "codebooks" / "codebook.yaml"
    broken = path.read_bytes().replace(b'color: "#4E79A7"', b'color: "#4E79A"')
    path.write_bytes(broken)
    result = qcode("codebook", "rename", "ag", "assemblies", cwd=cli_project)
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr.splitlines() == [
        f"error: {path}:11:12: themes[0].color: invalid colour '#4E79A': write it as \"#RRGGBB\" "
        '(quoted), e.g. "#4E79A7"',
        f"warning: {path}:43:34: themes[1].codes[1].keywords[1]: keyword 'entraide' is also a "
        "keyword of 'solidarity' (line 39): keep it on one code, or add 'not:' phrases to tell "
        "them apart",
        f"error: {path}: 1 error(s) in the codebook",
    ]
    assert path.read_bytes() == broken
