"""Fuzzing: property tests on every reader and on the tagging addresses, the atheris harnesses
run for a bounded time, and the inputs they found replayed as regression tests (issue 7, item 2).

- Every reader, through :func:`qcode.ingest.pipeline.read_file` as ``qcode ingest`` calls it,
  on arbitrary bytes and on damaged copies of real files: it reads them into a transcript that
  keeps the invariants (ordered spans of the normalised text, sane times, sentences inside
  their turn), or refuses them with a :class:`QcodeError`, never anything else. The same for
  the attribute sheet, YAML (``qcode.yaml``, codebooks) and REFI-QDA codebooks.
- The tagging addresses (:func:`qcode.coding.resolve_unit`, ``resolve_span``,
  ``resolve_quote``): any string is a passage of the text or a ``QcodeError``; a valid
  address is exactly the turn, sentence or characters it names.
- ``tests/fuzz/fuzz_<reader>.py`` under atheris for ``QCODE_FUZZ_SECONDS`` (default 18) each,
  on a copy of its seed corpus; any crash fails the test and prints the input.
- ``tests/fuzz/regressions/<reader>/``: every input a fuzzer crashed on, replayed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qcode.codebook import load as load_codebook
from qcode.coding import resolve_quote, resolve_span, resolve_unit
from qcode.errors import QcodeError, ValidationError
from qcode.ingest.pipeline import SUPPORTED, build_record, read_file
from qcode.ingest.sheet import read_sheet
from qcode.project import Project
from qcode.project import load as load_project
from qcode.store.records import TranscriptRecord
from qcode.yamlutil import load_yaml
from tests.conftest import FIXTURES, REPO
from tests.fuzz.targets import TARGETS, check_qdc, check_transcript, seeds
from tests.hostile_cases import _docx, _odt

FUZZ = REPO / "tests" / "fuzz"
FUZZ_SECONDS = int(os.environ.get("QCODE_FUZZ_SECONDS", "18"))
EXAMPLES_SCALE = float(os.environ.get("QCODE_FUZZ_EXAMPLES", "1"))  # e.g. 20 for a long hunt


def _n(examples: int) -> int:
    return max(1, int(examples * EXAMPLES_SCALE))


_SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                       HealthCheck.data_too_large,
                                                       HealthCheck.filter_too_much])

# --- damaged copies of real files -----------------------------------------------------------

_TOKENS = [b"\x00", b"\xff", b"\xc3", b"\xef\xbb\xbf", b"\n", b"\r\n", b"\n\n", b"\t", b"-->",
           b" --> ", b":", b" : ", b"<", b">", b"/>", b"&", b"&a;", b";", b",", b'"', b"[", b"]",
           b"#", b"---\n", b"&a [*a]", b"9" * 40, b"99:59:59.999", b"<Turn>", b"<v ", b"E : ",
           b"<!DOCTYPE x [<!ENTITY a 'b'>]>", b"<Sync time='1e300'/>", b"**", b"\xe2\x80\xaf"]


@st.composite
def damaged(draw: st.DrawFn, originals: list[bytes]) -> bytes:
    """One of ``originals`` cut, with bytes flipped, tokens inserted, ranges dropped or
    repeated."""
    data = bytearray(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(0, 6))):
        operation = draw(st.sampled_from(["cut", "flip", "insert", "drop", "repeat"]))
        at = draw(st.integers(0, len(data)))
        if operation == "cut":
            del data[at:]
        elif operation == "flip" and data:
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
        elif operation == "insert":
            data[at:at] = draw(st.sampled_from(_TOKENS) | st.binary(min_size=1, max_size=6))
        elif operation == "drop":
            del data[at : at + draw(st.integers(1, 200))]
        elif operation == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 200))] * draw(st.integers(1, 3))
    return bytes(data)


def _originals(ext: str) -> list[bytes]:
    """Real files of a format: the fuzz seeds, the fixtures, a document built here."""
    by_target = {".txt": "text", ".md": "text", ".markdown": "text", ".vtt": "vtt",
                 ".srt": "srt", ".trs": "trs"}
    if ext in by_target:
        return list(seeds(by_target[ext]).values())
    if ext == ".csv":
        return [p.read_bytes() for p in sorted((FIXTURES / "ingest" / "csv").glob("*.csv"))]
    if ext == ".docx":
        return [_docx()]
    if ext == ".odt":
        return [_odt()]
    raise KeyError(ext)


def _any_input(ext: str) -> st.SearchStrategy[bytes]:
    originals = _originals(ext)
    soup = st.text(alphabet=st.sampled_from(list("EK :[]()0123456789.,;-\n\r\t<>/&#\"'WEBVT→é")),
                   max_size=300).map(lambda s: s.encode("utf-8"))
    return st.one_of(damaged(originals), st.binary(max_size=600), soup)


@pytest.mark.parametrize("ext", SUPPORTED)
def test_every_reader_reads_or_refuses_with_one_error(ext: str) -> None:
    @settings(_SLOW, max_examples=_n(60 if ext in (".docx", ".odt") else 400))
    @given(_any_input(ext))
    def run(data: bytes) -> None:
        check_transcript(data, f"fuzz{ext}")

    run()


@settings(_SLOW, max_examples=_n(150))
@given(st.one_of(damaged([b"id,initiative,role\nok,Les Ailes,porteur\nx,\"a;b\",c\n",
                          "id;rôle\nE01;enquêtrice\n".encode("cp1252")]),
                 st.binary(max_size=400)))
def test_the_attribute_sheet_reports_problems_and_never_raises(
        tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("sheet") / "attributes.csv"
    path.write_bytes(data)
    sheet = read_sheet(path)
    assert all(isinstance(e, QcodeError) and e.path == path for e in sheet.errors)
    for row in sheet.rows.values():
        assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in row.items())
    if not sheet.readable:
        assert sheet.errors


@settings(_SLOW, max_examples=_n(150))
@given(st.one_of(damaged(list(seeds("qdc").values())), st.binary(max_size=600)))
def test_refi_codebooks_read_or_refuse(data: bytes) -> None:
    check_qdc(data)


# --- YAML: qcode.yaml and codebooks ---------------------------------------------------------

_YAML_SOUP = st.lists(st.sampled_from([*"ab: -[]{}&*!?|>'\"#,\n\t%@`0.~", "!!python/", "&a ",
                                       "*a", "<<: *a", "---\n", "  "]),
                      max_size=60).map("".join)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10),
                     st.dates())


def _documents(keys: list[str]) -> st.SearchStrategy[object]:
    """Random YAML data whose mapping keys are the settings a reader looks for."""
    return st.recursive(_SCALARS, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(keys), inner, max_size=5)),
        max_leaves=25)


@settings(_SLOW, max_examples=_n(300))
@given(_YAML_SOUP)
def test_yaml_loader_answers_any_text_with_a_validation_error_at_most(text: str) -> None:
    try:
        data, marks = load_yaml(text, "x.yaml")
    except ValidationError as exc:
        assert exc.path == "x.yaml"
        return
    yaml.safe_dump(data)  # plain data: no Python objects, no recursion
    for line, column in marks.values.values():
        assert line >= 1 and column >= 1


_PROJECT_KEYS = ["name", "language", "codebook", "transcripts", "attributes", "exports",
                 "store", "coding_unit", "coder", "speakers", "ignore", "limits", "interviewer",
                 "participant", "other", "max_file_mb", "max_unzipped_mb", "E07"]


@settings(_SLOW, max_examples=_n(200))
@given(st.one_of(_documents(_PROJECT_KEYS).map(lambda d: yaml.safe_dump(d)), _YAML_SOUP))
def test_a_broken_qcode_yaml_is_a_qcode_error(tmp_path_factory: pytest.TempPathFactory,
                                              text: str) -> None:
    root = tmp_path_factory.mktemp("project")
    (root / "qcode.yaml").write_text(text, "utf-8")
    try:
        project = load_project(root)
    except QcodeError:
        return
    assert project.limits.max_file_bytes > 0


_CODEBOOK_KEYS = ["themes", "codes", "id", "label", "parent", "definition", "include", "exclude",
                  "examples", "color", "key", "unit", "codable", "guid", "keywords", "words",
                  "fuzzy", "not", "regex", "exact", "name", "language"]


@settings(_SLOW, max_examples=_n(300))
@given(st.one_of(_documents(_CODEBOOK_KEYS).map(lambda d: yaml.safe_dump({"themes": d})),
                 _documents(_CODEBOOK_KEYS).map(lambda d: yaml.safe_dump(d)), _YAML_SOUP))
def test_a_broken_codebook_is_a_list_of_problems(tmp_path_factory: pytest.TempPathFactory,
                                                 text: str) -> None:
    path = tmp_path_factory.mktemp("codebook") / "codebook.yaml"
    path.write_text(text, "utf-8")
    try:
        book = load_codebook(path)
    except QcodeError:
        return
    for code in book.codes.values():
        assert code.parent is None or code.parent in book.codes


# --- the tagging addresses ------------------------------------------------------------------

_SPEECH = st.lists(st.sampled_from([*"abcé ,.!?…«»’'-\n", "euh", "[rires]", "M. "]),
                   min_size=1, max_size=40).map("".join).filter(lambda s: s.strip(" ,\n") != "")


@st.composite
def transcripts(draw: st.DrawFn) -> TranscriptRecord:
    """A transcript as the store keeps it: read by the text reader, with its sentences."""
    turns = draw(st.lists(_SPEECH, min_size=2, max_size=8))
    source = "".join(f"{'E' if i % 2 == 0 else 'Karim'} : {' '.join(t.split())}\n"
                     for i, t in enumerate(turns))
    data = source.encode("utf-8")
    try:
        parsed = read_file(Path("t.txt"), data)
    except QcodeError:
        assume(False)
    return build_record(Project(root=REPO), "t", Path("t.txt"), data, parsed, None)


_UNIT_SOUP = st.text(alphabet=st.sampled_from(list("0123456789.-: \t١٢x")), max_size=14)


@settings(_SLOW, max_examples=_n(300))
@given(transcripts(), _UNIT_SOUP)
def test_any_unit_string_is_a_passage_or_a_qcode_error(rec: TranscriptRecord, unit: str) -> None:
    try:
        passage = resolve_unit(rec, unit)
    except QcodeError:
        return
    assert 0 <= passage.start < passage.end <= len(rec.text)
    assert passage.text == rec.text[passage.start : passage.end]


@settings(_SLOW, max_examples=_n(300))
@given(transcripts(), st.data())
def test_a_valid_unit_is_exactly_the_turns_or_sentences_it_names(rec: TranscriptRecord,
                                                                 data: st.DataObject) -> None:
    first = data.draw(st.integers(1, len(rec.turns)), "first turn")
    sentences = [s for s in rec.sentences if s.turn_idx == first]
    by_sentence = data.draw(st.booleans(), "sentences")
    if sentences and by_sentence:
        a = data.draw(st.integers(1, len(sentences)))
        b = data.draw(st.integers(a, len(sentences)))
        passage = resolve_unit(rec, f"{first}.{a}" if a == b else f"{first}.{a}-{b}")
        assert (passage.start, passage.end) == (sentences[a - 1].start, sentences[b - 1].end)
    else:
        last = data.draw(st.integers(first, len(rec.turns)), "last turn")
        passage = resolve_unit(rec, str(first) if first == last else f"{first}-{last}")
        assert (passage.start, passage.end) == (rec.turns[first - 1].start,
                                                rec.turns[last - 1].end)
    assert passage.turn == first
    assert passage.text == rec.text[passage.start : passage.end]


@settings(_SLOW, max_examples=_n(300))
@given(transcripts(), st.one_of(
    st.text(alphabet=st.sampled_from(list("0123456789: -x")), max_size=12),
    st.tuples(st.integers(-5, 400), st.integers(-5, 400)).map(lambda t: f"{t[0]}:{t[1]}")))
def test_any_span_is_a_trimmed_passage_inside_the_text_or_a_qcode_error(
        rec: TranscriptRecord, span: str) -> None:
    try:
        passage = resolve_span(rec, span)
    except QcodeError:
        return
    start, end = (int(x) for x in span.split(":"))
    assert start <= passage.start <= passage.end <= end <= len(rec.text)
    assert passage.text == rec.text[passage.start : passage.end] == passage.text.strip()


@settings(_SLOW, max_examples=_n(300))
@given(transcripts(), st.one_of(_SPEECH, st.text(max_size=30)), st.none() | st.integers(-1, 4))
def test_any_quote_is_a_passage_inside_the_text_or_a_qcode_error(
        rec: TranscriptRecord, quote: str, occurrence: int | None) -> None:
    try:
        passage = resolve_quote(rec, quote, occurrence)
    except QcodeError:
        return
    assert 0 <= passage.start <= passage.end <= len(rec.text)
    assert passage.text == rec.text[passage.start : passage.end]


@settings(_SLOW, max_examples=_n(200))
@given(transcripts(), st.data())
def test_a_quote_copied_from_the_text_is_found_where_it_is(rec: TranscriptRecord,
                                                           data: st.DataObject) -> None:
    turn = data.draw(st.sampled_from(rec.turns))
    start = data.draw(st.integers(turn.start, turn.end - 1))
    end = data.draw(st.integers(start + 1, turn.end))
    quote = rec.text[start:end]
    assume(quote.strip() == quote and any(ch.isalpha() for ch in quote))
    try:
        passage = resolve_quote(rec, quote)
    except QcodeError as exc:  # the same words elsewhere: ambiguous, and said so
        places = [i for i in range(len(rec.text)) if rec.text.startswith(quote, i)]
        assert len(places) > 1, exc
        return
    assert (passage.start, passage.end, passage.how) == (start, end, "exact")


# Found by the property tests above; qcode/coding.py belongs to another part of the work: these
# stay expected failures (strict: they fail loudly once fixed, so the marker goes) until then.


def _record(source: str) -> TranscriptRecord:
    data = source.encode("utf-8")
    return build_record(Project(root=REPO), "t", Path("t.txt"), data,
                        read_file(Path("t.txt"), data), None)


_SMALL = "E : Bonjour. Vous allez bien ?\nK : Oui.   Très bien.\nE : Bon.\nK : Voilà.\n"


def test_a_unit_of_5000_digits_is_a_usage_error() -> None:
    with pytest.raises(QcodeError):
        resolve_unit(_record(_SMALL), "9" * 5000)


def test_a_span_of_5000_digits_is_a_usage_error() -> None:
    with pytest.raises(QcodeError):
        resolve_span(_record(_SMALL), "1:" + "9" * 5000)


def test_a_quote_of_punctuation_is_not_an_empty_passage() -> None:
    try:
        passage = resolve_quote(_record(_SMALL), "«", occurrence=1)
    except QcodeError:
        return
    assert passage.start < passage.end, passage


def test_a_span_of_spaces_is_not_an_empty_passage() -> None:
    rec = _record(_SMALL)
    start = rec.text.index("   ") + 1
    try:
        passage = resolve_span(rec, f"{start}:{start + 1}")
    except QcodeError:
        return
    assert passage.start < passage.end, passage


# --- regressions found by the fuzzers ---------------------------------------------------------

_REGRESSIONS = sorted(p for p in (FUZZ / "regressions").glob("*/*") if p.is_file())


@pytest.mark.parametrize("path", _REGRESSIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fuzzer_finding_stays_fixed(path: Path) -> None:
    TARGETS[path.parent.name](path.read_bytes())


def test_every_regression_folder_is_a_target() -> None:
    assert _REGRESSIONS
    assert {p.parent.name for p in _REGRESSIONS} <= set(TARGETS)


# --- coverage-guided fuzzing (atheris) --------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("atheris") is None,
                    reason="atheris is not installed (pip install -e '.[test]')")
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_atheris_finds_no_crash(target: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, data in seeds(target).items():
        (corpus / name).write_bytes(data)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "-m", f"tests.fuzz.fuzz_{target}", str(corpus),
         f"-max_total_time={FUZZ_SECONDS}", f"-dict={FUZZ / 'dicts' / f'{target}.dict'}",
         f"-artifact_prefix={artifacts}/", "-timeout=10", "-rss_limit_mb=2048", "-max_len=8192",
         "-print_final_stats=1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=FUZZ_SECONDS + 120,
        check=False)
    crashes = sorted(artifacts.iterdir())
    report = "\n".join(line for line in result.stderr.splitlines()
                       if not line.startswith(("#", "INFO: Instrumenting", '"')))
    found = "\n".join(f"{p.name}: {p.read_bytes()[:2000]!r}" for p in crashes)
    assert result.returncode == 0 and not crashes, (
        f"the {target} fuzzer crashed; add the input to tests/fuzz/regressions/{target}/ "
        f"once fixed\n{found}\n{report[-6000:]}")
    assert "Done" in result.stderr and "runs in" in result.stderr


def test_fuzz_targets_accept_their_seeds() -> None:
    for target, check in TARGETS.items():
        corpus = seeds(target)
        assert corpus, target
        for data in corpus.values():
            check(data)
