"""Theme digests: golden Markdown and HTML, quote choice, counts, filters, templates, the CLI.

Golden files live in tests/fixtures/golden/digest/. After an intended change of the output,
regenerate them with

    QCODE_REGENERATE_GOLDEN=1 python -m pytest tests/test_digest.py

and review the diff. (The variable is read when this module is imported, because conftest
hides QCODE_* variables from the tests themselves.)
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from qcode import coding
from qcode.codebook import Codebook, load_valid
from qcode.codebook_sync import sync
from qcode.errors import QcodeError, UsageError, ValidationError
from qcode.project import Project
from qcode.project import load as load_project
from qcode.reports.digest import (
    DigestOptions,
    build_context,
    choose_quotes,
    contrast,
    heat_color,
    render_digest,
    text_color,
    write_digest,
)
from qcode.store import Store
from qcode.store import codings as cq
from tests.conftest import FIXTURES, qcode

REGENERATE = os.environ.get("QCODE_REGENERATE_GOLDEN") == "1"
GOLDEN = FIXTURES / "golden" / "digest"

CODEBOOK = """\
name: Voisinage (test)
themes:
  - id: liens
    label: Liens sociaux
    description: Les liens que les voisins tissent entre eux.
    color: "#E15759"
    codes:
      - id: entraide
        label: Entraide
        description: Aide mutuelle entre voisins.
        key: e
        codes:
          - { id: courses, label: Courses pour les voisins }
      - { id: fetes, label: Fêtes, description: Fêtes et repas partagés. }
  - id: gouvernance
    label: Gouvernance
    description: Qui décide et comment.
    color: "#4E79A7"
    codes:
      - { id: bureau, label: Le bureau }
      - { id: ag, label: Assemblée générale }
"""

ATTRIBUTES = """\
id,initiative,role,arrondissement
A1,alpha,porteur,14
A2,alpha,membre,14
A3,alpha,membre,14
B1,beta,membre,17
B2,beta,elu,17
"""

TRANSCRIPTS = {
    "A1": (
        "[00:00:05] E : Comment est née l'association ?\n\n"
        "[00:00:12] Bernard : Tout a commencé pendant le premier confinement, en mars. "
        "On s'entraidait déjà beaucoup entre voisins du même palier. "
        "Le bureau s'est réuni dans la cour pour tout organiser.\n\n"
        "[00:01:30] E : Et ensuite ?\n\n"
        "[00:01:41] Bernard : Ensuite on a fait les courses pour les personnes âgées de "
        "l'immeuble. Chacun donnait un coup de main aux autres, sans rien demander.\n"
    ),
    "A2": (
        "E : Vous participez depuis quand ?\n\n"
        "Louise : Depuis deux ans. Quand ma voisine était malade, tout le monde l'a aidée, "
        "c'était de l'entraide toute simple.\n\n"
        "E : Et l'assemblée générale ?\n\n"
        "Louise : On y va tous, l'AG se tient dans le square en septembre.\n"
    ),
    "A3": (
        "E : Et l'entraide ?\n\n"
        "Mehdi : Oui, on s'entraide.\n\n"
        "E : Merci.\n\n"
        "Mehdi : Avec plaisir.\n"
    ),
    "B1": (
        "E : Qu'est-ce qui a changé pour vous ?\n\n"
        "Awa : Avant je ne connaissais personne. Maintenant, quand il manque du sel, je sais "
        "chez qui frapper, et on se rend service entre familles.\n\n"
        "E : Et les réunions ?\n\n"
        "Awa : Je vais à l'AG une fois par an, c'est tout.\n"
    ),
    "B2": (
        "E : Comment la mairie voit-elle l'association ?\n\n"
        "Mme Ferrand : Le bureau de l'association est un interlocuteur sérieux pour nous.\n\n"
        "E : Merci.\n\n"
        "Mme Ferrand : Je vous en prie.\n"
    ),
}

# (transcript, unit, code, coder, origin)
CODINGS = [
    ("A1", "2", "entraide", "qcode-keywords", "keyword"),
    ("A1", "2.2", "entraide", "alice", "manual"),
    ("A1", "2.3", "bureau", "alice", "manual"),
    ("A1", "4.1", "courses", "alice", "manual"),
    ("A1", "4.2", "entraide", "alice", "manual"),
    ("A2", "2.2", "entraide", "qcode-keywords", "keyword"),
    ("A2", "4", "ag", "alice", "manual"),
    ("A3", "2", "entraide", "alice", "manual"),
    ("B1", "2.2", "entraide", "alice", "manual"),
    ("B1", "4", "ag", "bob", "manual"),
    ("B2", "1-2", "bureau", "qcode-keywords", "keyword"),
]

def _make_project(root: Path) -> Path:
    from qcode.project import init

    init(root, name="Test study")
    (root / "codebooks" / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
    (root / "transcripts" / "attributes.csv").write_text(ATTRIBUTES, encoding="utf-8")
    for tid, text in TRANSCRIPTS.items():
        (root / "transcripts" / f"{tid}.txt").write_text(text, encoding="utf-8")
    result = qcode("ingest", cwd=root)
    assert result.returncode == 0, result.stderr
    project = load_project(root)
    store = Store.open(project.store_location)
    book = load_valid(project.root / project.codebook)
    sync(store, book)
    ids: dict[tuple[str, str, str], int] = {}
    for tid, unit, code, coder, origin in CODINGS:
        passage = coding.resolve(store, tid, unit)
        created = coding.tag(store, book, passage, [code], coder, origin=origin).created
        ids[(tid, unit, code)] = created[0]
    coding.add_memo(store, "code", "entraide", "Souvent lié au confinement.", "alice", book)
    coding.add_memo(store, "code", "gouvernance", "Thème à revoir avec l'équipe.", "bob", book)
    coding.add_memo(store, "coding", str(ids[("A1", "2.2", "entraide")]),
                    "Voir aussi B1 <à vérifier> & comparer.", "alice", book)
    with store.write() as conn:
        cq.set_memo(conn, ids[("B1", "2.2", "entraide")], "Le sel : un service minuscule.")
    store.close()
    return root


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small coded project: 2 initiatives, 3 roles, manual and keyword codings, memos."""
    return _make_project(tmp_path_factory.mktemp("digest") / "study")


@pytest.fixture
def opened(study: Path) -> tuple[Project, Store, Codebook]:
    project = load_project(study)
    store = Store.open(project.store_location)
    book = load_valid(project.root / project.codebook)
    return project, store, book


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} missing: run with QCODE_REGENERATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def _theme(context: dict[str, Any], theme_id: str) -> dict[str, Any]:
    return next(t for t in context["themes"] if t["id"] == theme_id)


def _code(context: dict[str, Any], code_id: str) -> dict[str, Any]:
    return next(c for t in context["themes"] for c in t["codes"] if c["id"] == code_id)


# --- golden files -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_golden(opened: tuple[Project, Store, Codebook], fmt: str) -> None:
    _golden(f"digest.{fmt}", render_digest(*opened, fmt))


def test_cli_writes_exports_atomically_owner_only(study: Path) -> None:
    for fmt in ("md", "html"):
        result = qcode("digest", "--format", fmt, cwd=study)
        assert result.returncode == 0, result.stderr
        path = study / "exports" / f"digest.{fmt}"
        assert result.stdout == ""
        assert result.stderr == f"wrote {path}\n"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        _golden(f"digest.{fmt}", path.read_text(encoding="utf-8"))
    assert not [p for p in (study / "exports").iterdir() if p.name.startswith(".")]


def test_cli_stdout_and_format_from_extension(study: Path, tmp_path: Path) -> None:
    result = qcode("digest", "--out", "-", cwd=study)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("# Synthèse par thème — Test study\n")
    out = tmp_path / "lead.html"
    result = qcode("digest", "--out", str(out), cwd=study)
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


# --- content ---------------------------------------------------------------------------------


def test_counts(opened: tuple[Project, Store, Codebook]) -> None:
    context = build_context(*opened, "md")
    liens = _theme(context, "liens")
    # entraide: A1 ×3, A2, A3, B1; courses: A1 — speakers are the participants only
    assert (liens["codings"], liens["transcripts"], liens["speakers"]) == (7, 4, 4)
    entraide = _code(context, "entraide")
    assert (entraide["codings"], entraide["transcripts"], entraide["speakers"]) == (6, 4, 4)
    by_initiative, by_role = liens["tables"]
    assert by_initiative["values"] == ["alpha", "beta"]
    assert {r["id"]: [c["count"] for c in r["cells"]] for r in by_initiative["rows"]} == {
        "entraide": [5, 1], "courses": [1, 0], "fetes": [0, 0]}
    assert (by_initiative["totals"], by_initiative["total"]) == ([6, 1], 7)
    assert by_role["values"] == ["elu", "membre", "porteur"]
    assert [c["count"] for c in by_role["rows"][0]["cells"]] == [0, 3, 3]
    gouvernance = _theme(context, "gouvernance")
    # B2's keyword coding spans the interviewer's question and the answer: one speaker
    assert (gouvernance["codings"], gouvernance["transcripts"], gouvernance["speakers"]) == (
        4, 4, 4)
    assert (context["totals"]["codings"], context["totals"]["transcripts"]) == (11, 5)


def test_cooccurring_codes(opened: tuple[Project, Store, Codebook]) -> None:
    context = build_context(*opened, "md")
    # liens is in turns A1-2, A1-4, A2-2, A3-2, B1-2 (n1 = 5); bureau in A1-2, B2-1, B2-2
    # (n2 = 3); both in A1-2: 1 / (5 + 3 - 1)
    assert [(c["id"], c["n1"], c["n2"], c["n12"], c["coefficient_text"])
            for c in _theme(context, "liens")["cooccurring"]] == [("bureau", 5, 3, 1, "0.14")]
    assert [c["id"] for c in _theme(context, "gouvernance")["cooccurring"]] == ["entraide"]


def test_representative_quotes_cover_transcripts_and_initiatives(
        opened: tuple[Project, Store, Codebook]) -> None:
    project, store, book = opened
    found = coding.list_codings(store, codes=["entraide"], book=book)
    assert [r["transcript"] for r in found[:3]] == ["A1", "A1", "A1"]  # the first ones found
    quotes = _code(build_context(project, store, book, "md"), "entraide")["quotes"]
    # A1 (alpha), then B1 (the other initiative), then A2 (a new transcript; A3's « Oui, on
    # s'entraide. » is too short)
    assert [q["transcript"] for q in quotes] == ["A1", "A2", "B1"]
    assert {q["attributes"]["initiative"] for q in quotes} == {"alpha", "beta"}
    assert quotes[0]["origin"] == "manual"  # A1's turn 2 is longer than the keyword coding…
    assert quotes[0]["citation"] == (
        "« On s'entraidait déjà beaucoup entre voisins du même palier. » (porteur, alpha) "
        "— A1, tour 2, 0:00:12")
    assert quotes[2]["citation"].endswith("(membre, beta) — B1, tour 2")  # no times in B1


def test_quotes_are_verbatim(opened: tuple[Project, Store, Codebook]) -> None:
    from qcode.transcripts import show_transcript

    project, store, book = opened
    context = build_context(project, store, book, "md")
    quotes = [q for t in context["themes"] for c in t["codes"] for q in c["quotes"]]
    assert quotes
    for q in quotes:
        text = show_transcript(store, q["transcript"])["text"]
        assert q["text"] == text[q["start"]:q["end"]]
        assert q["citation"].startswith(f"« {q['text']} »")


def test_choose_quotes_greedy_rules() -> None:
    def cand(tid: str, start: int, length: int, initiative: str, role: str = "membre",
             origin: str = "keyword") -> dict[str, Any]:
        return {"transcript": tid, "start": start, "end": start + length, "origin": origin,
                "quote": "x" * length, "attributes": {"initiative": initiative, "role": role}}

    by = ["initiative", "role"]
    pool = [cand("A1", 0, 50, "a"), cand("A1", 100, 50, "a"), cand("A2", 0, 50, "a"),
            cand("B1", 0, 20, "b"), cand("B2", 0, 60, "b"), cand("C1", 0, 900, "c")]
    picked = choose_quotes(pool, 3, by)
    assert [c["transcript"] for c in picked] == ["A1", "A2", "B2"]  # B1 too short, C1 too long
    # a reasonable length comes first (A1 again); then, among the others, a new initiative
    # (C1, too long) wins over a new transcript (B1, too short)
    picked = choose_quotes(pool, 5, by)
    assert [(c["transcript"], c["start"]) for c in picked] == [
        ("A1", 0), ("A1", 100), ("A2", 0), ("B2", 0), ("C1", 0)]
    # same passage by two coders is one candidate; manual wins a tie
    twins = [cand("A1", 0, 50, "a"), cand("A1", 0, 50, "a", origin="manual"),
             cand("A1", 200, 50, "a")]
    assert [c["origin"] for c in choose_quotes(twins, 3, by)] == ["manual", "keyword"]
    # a new role breaks a tie between transcripts of one initiative
    roles = [cand("A1", 0, 50, "a", "membre"), cand("A2", 0, 50, "a", "membre"),
             cand("A3", 0, 50, "a", "elu")]
    assert [c["transcript"] for c in choose_quotes(roles, 2, by)] == ["A1", "A3"]
    assert choose_quotes(pool, 0, by) == []


def test_memos_on_codes_and_codings(opened: tuple[Project, Store, Codebook]) -> None:
    context = build_context(*opened, "md")
    memos = _theme(context, "liens")["memos"]
    assert [(m["kind"], m["code"], m["coder"], m["text"]) for m in memos] == [
        ("code", "entraide", "alice", "Souvent lié au confinement."),
        ("coding", "entraide", "alice", "Voir aussi B1 <à vérifier> & comparer."),
        ("coding", "entraide", "alice", "Le sel : un service minuscule."),
    ]
    assert memos[1]["quote"]["source"] == "A1, tour 2, 0:00:12"
    assert [m["code"] for m in _theme(context, "gouvernance")["memos"]] == ["gouvernance"]


# --- HTML --------------------------------------------------------------------------------------


def test_html_is_self_contained_and_escaped(opened: tuple[Project, Store, Codebook]) -> None:
    html = render_digest(*opened, "html")
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*//""", html)
    assert not re.search(r"<(?:script|link|img|iframe|object)\b", html, re.IGNORECASE)
    assert "url(" not in html and "@import" not in html
    assert "Voir aussi B1 &lt;à vérifier&gt; &amp; comparer." in html
    assert "print-color-adjust: exact" in html and "break-before: page" in html
    assert '<th scope="col" class="value">alpha</th>' in html
    assert 'href="#theme-1-liens"' in html and 'id="theme-1-liens"' in html


def test_heatmap_cells_are_readable(opened: tuple[Project, Store, Codebook]) -> None:
    context = build_context(*opened, "html")
    for theme in context["themes"]:
        assert contrast(theme["text_color"], theme["color"]) >= 4.0
        for table in theme["tables"]:
            for row in table["rows"]:
                for cell in row["cells"]:
                    assert contrast(cell["fg"], cell["bg"]) >= 4.5
    top = _theme(context, "liens")["tables"][0]["rows"][0]["cells"][0]
    assert (top["count"], top["bg"]) == (5, heat_color("#E15759"))  # the largest cell
    assert heat_color("#4E79A7") == "#4E79A7"  # dark enough already
    assert contrast(heat_color("#EDC948"), "#FFFFFF") >= 3  # a pale yellow is darkened
    for r in range(0, 256, 17):
        for g in range(0, 256, 17):
            for b in range(0, 256, 51):
                bg = f"#{r:02X}{g:02X}{b:02X}"
                assert contrast(text_color(bg), bg) >= 4.5


# --- options -----------------------------------------------------------------------------------


def test_theme_filter(study: Path) -> None:
    result = qcode("digest", "--theme", "Gouvernance", "--out", "-", cwd=study)
    assert result.returncode == 0, result.stderr
    assert re.findall(r"^## .*", result.stdout, re.MULTILINE) == ["## Sommaire",
                                                                  "## 1. Gouvernance"]
    result = qcode("digest", "--theme", "entraide", "--out", "-", cwd=study)
    assert result.returncode == 2
    assert result.stderr == ("error: 'entraide' is a code of the theme 'liens', not a theme "
                             "(use --theme liens)\n")
    result = qcode("digest", "--theme", "nope", "--out", "-", cwd=study)
    assert result.returncode == 1 and "no code 'nope' in the codebook" in result.stderr


def test_origin_coder_and_quotes_options(opened: tuple[Project, Store, Codebook]) -> None:
    manual = build_context(*opened, "md", DigestOptions(origin="manual"))
    assert _theme(manual, "liens")["codings"] == 5
    assert all(q["origin"] == "manual" for t in manual["themes"] for c in t["codes"]
               for q in c["quotes"])
    bob = build_context(*opened, "md", DigestOptions(coders=["bob"]))
    assert [(t["id"], t["codings"]) for t in bob["themes"]] == [("liens", 0), ("gouvernance", 1)]
    one = build_context(*opened, "md", DigestOptions(quotes=1))
    assert len(_code(one, "entraide")["quotes"]) == 1
    text = render_digest(*opened, "md", DigestOptions(coders=["bob"]))
    assert "Aucun codage pour ce thème." in text
    with pytest.raises(UsageError, match="unknown origin"):
        build_context(*opened, "md", DigestOptions(origin="robot"))


def test_attribution_follows_the_quotes_setting(
        opened: tuple[Project, Store, Codebook]) -> None:
    project, store, book = opened
    project.raw["export"] = {"attribution": "[{initiative}/{arrondissement}] {transcript}"}
    quote = _code(build_context(project, store, book, "md"), "entraide")["quotes"][0]
    assert quote["citation"] == (
        "« On s'entraidait déjà beaucoup entre voisins du même palier. » [alpha/14] A1")
    assert quote["source"] == "A1, tour 2, 0:00:12"  # where a memo's coding is


def test_by_option_and_setting(opened: tuple[Project, Store, Codebook], study: Path) -> None:
    project, store, book = opened
    context = build_context(project, store, book, "md", DigestOptions(by=["arrondissement"]))
    assert [t["attribute"] for t in _theme(context, "liens")["tables"]] == ["arrondissement"]
    project.raw["export"] = {"digest_by": ["role"]}
    context = build_context(project, store, book, "md")
    assert [t["attribute"] for t in _theme(context, "liens")["tables"]] == ["role"]
    project.raw["export"] = {"digest_by": ["colour"]}
    with pytest.raises(ValidationError, match=r"export\.digest_by: no attribute 'colour'"):
        build_context(project, store, book, "md")
    project.raw["export"] = {"digest_by": "Initiative"}  # one name; case does not matter
    context = build_context(project, store, book, "md")
    assert [t["attribute"] for t in _theme(context, "liens")["tables"]] == ["initiative"]
    result = qcode("digest", "--by", "initiative,nope", "--out", "-", cwd=study)
    assert result.returncode == 1
    assert result.stderr == ("error: no attribute 'nope' on any transcript (known attributes: "
                             "arrondissement, initiative, role)\n")
    result = qcode("digest", "--by", "role", "--by", "initiative", "--out", "-", cwd=study)
    assert result.returncode == 0, result.stderr
    assert re.findall(r"^### Codes par (\w+)", result.stdout, re.MULTILINE)[:2] == [
        "role", "initiative"]


# --- templates ---------------------------------------------------------------------------------


def test_user_template_replaces_the_bundled_one(study: Path, tmp_path: Path) -> None:
    template = tmp_path / "mine.md.j2"
    template.write_text(
        "{% for t in themes %}{{ t.id }}={{ t.codings }}"
        "{% for c in t.codes %} {{ c.id }}:{{ c.quotes | length }}{% endfor %};\n{% endfor %}",
        encoding="utf-8")
    result = qcode("digest", "--template", str(template), "--out", "-", cwd=study)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "liens=7 entraide:3 courses:1 fetes:0;\ngouvernance=4 bureau:2 ag:2;\n")


def test_user_html_template_is_escaped_and_can_include_ours(study: Path, tmp_path: Path) -> None:
    template = tmp_path / "page.html.j2"
    template.write_text("<style>{% include '_digest.css.j2' %}</style>\n"
                        "{% for t in themes %}{% for m in t.memos %}<p>{{ m.text }}</p>\n"
                        "{% endfor %}{% endfor %}", encoding="utf-8")
    out = tmp_path / "page.html"
    result = qcode("digest", "--template", str(template), "--out", str(out), cwd=study)
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    assert "<p>Voir aussi B1 &lt;à vérifier&gt; &amp; comparer.</p>" in html
    assert "print-color-adjust" in html


def test_template_errors_name_the_file(opened: tuple[Project, Store, Codebook],
                                       tmp_path: Path) -> None:
    bad = tmp_path / "bad.md.j2"
    bad.write_text("line one\n{{ themes[0].nonexistent }}\n", encoding="utf-8")
    with pytest.raises(QcodeError) as info:
        render_digest(*opened, "md", DigestOptions(template=bad))
    assert str(info.value).startswith(f"{bad}:2: template error: ")
    assert "nonexistent" in str(info.value)
    broken = tmp_path / "broken.md.j2"
    broken.write_text("{% for t in themes %}\n", encoding="utf-8")
    with pytest.raises(QcodeError, match=r"broken.md.j2:\d+: template syntax error"):
        render_digest(*opened, "md", DigestOptions(template=broken))
    missing = tmp_path / "missing.j2"
    result = qcode("digest", "--template", str(missing), "--out", "-",
                   cwd=Path(opened[0].root))
    assert result.returncode == 1
    assert result.stderr == f"error: no template file {missing} (give the path of a jinja2 " \
                            "template (.j2))\n"


def test_write_digest_default_path(opened: tuple[Project, Store, Codebook],
                                   tmp_path: Path) -> None:
    project, store, book = opened
    path = write_digest(project, store, book, "html", tmp_path / "out")
    assert path == tmp_path / "out"
    folder = tmp_path / "folder"
    folder.mkdir()
    assert write_digest(project, store, book, "md", folder) == folder / "digest.md"
