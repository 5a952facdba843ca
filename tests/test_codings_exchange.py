"""``qcode export codings`` / ``qcode import codings``: coders working apart.

Two real projects hold the same six interviews of the bundled study: A under their own names
(``HV01.txt`` …), B renamed (``entretien-hv01.txt`` → id ``entretien-hv01``). In A the hand
coding of ``tests/fixtures/gold`` is the coder ``gold`` (292 codings), with a few codings of
``alice`` (memos, a flag) and of the keyword coder; B has one coding of its own coder ``bea``.
Files go through the real CLI (subprocess) and the library; stores are real SQLite files.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from qcode import __version__, coding, exchange
from qcode.codebook import Codebook, load_valid
from qcode.codebook_sync import sync
from qcode.errors import ValidationError
from qcode.project import Project
from qcode.project import init as init_project
from qcode.project import load as load_project
from qcode.store import Store, schema
from qcode.store import codings as cq
from qcode.store import exchange as xq
from qcode.store import transcripts as tq
from tests.conftest import FIXTURES, REPO, qcode

IDS = ("HV01", "AI02", "AC03", "GL04", "HV07", "AI09")
SUFFIX = {"HV01": ".txt", "AI02": ".md", "AC03": ".vtt", "GL04": ".docx", "HV07": ".txt",
          "AI09": ".md"}


# --- building the two projects ------------------------------------------------------------------


def make_project(root: Path, name: str, files: dict[str, Path]) -> Path:
    """A project with the study's codebook and ``files`` (name in the project → source)."""
    init_project(root, name=name)
    shutil.copy(REPO / "codebooks" / "voisinage-resilience.yaml",
                root / "codebooks" / "codebook.yaml")
    for target, source in files.items():
        shutil.copy(source, root / "transcripts" / target)
    ingest(root)
    return root


def ingest(root: Path) -> None:
    from qcode.ingest.pipeline import ingest as run_ingest

    project, store, book = opened(root)
    try:
        report = run_ingest(project, store)
        assert report.ok, report.errors
        sync(store, book)
    finally:
        store.close()


def opened(root: Path) -> tuple[Project, Store, Codebook]:
    project = load_project(root)
    return project, Store.open(project.store_location), load_valid(root / project.codebook)


def study_file(tid: str) -> Path:
    return REPO / "transcripts" / f"{tid}{SUFFIX[tid]}"


def code_gold(root: Path) -> None:
    """The hand coding of the six interviews, as the coder ``gold``, with its notes as memos."""
    _, store, _ = opened(root)
    with store.write() as conn:
        for tid in IDS:
            rec = tq.load(conn, tid)
            assert rec is not None
            turns = {t.idx: t for t in rec.turns}
            for raw in (FIXTURES / "gold" / f"{tid}.jsonl").read_text("utf-8").splitlines():
                row = json.loads(raw)
                start = rec.text.index(row["quote"], turns[row["turn"]].start)
                end = start + len(row["quote"])
                cq.add(conn, transcript_id=tid, start=start, end=end, code_id=row["code"],
                       coder="gold", origin="manual", snapshot=rec.text[start:end],
                       memo=row["note"])
    store.close()


def tag(root: Path, tid: str, quote: str | None, codes: list[str], coder: str,
        origin: str = "manual", unit: str | None = None) -> int:
    _, store, book = opened(root)
    try:
        passage = coding.resolve(store, tid, unit, quote=quote)
        result = coding.tag(store, book, passage, codes, coder, origin)
        return (result.created or result.existing)[0]
    finally:
        store.close()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("exchange")
    a = make_project(root / "A", "Étude A", {f"{t}{SUFFIX[t]}": study_file(t) for t in IDS})
    code_gold(a)
    memo_coding = tag(a, "HV01", "Moi je livrais.", ["chaine-appels"], "alice")
    _, store, _ = opened(a)
    with store.write() as conn:
        cq.set_memo(conn, memo_coding, "Le geste concret.")
    store.close()
    _, store, book = opened(a)
    coding.add_memo(store, "coding", str(memo_coding), "À comparer avec AI02.", "alice", book)
    store.close()
    flagged = tag(a, "AI02", "Le café des mamans.", ["fetes"], "alice")
    _, store, _ = opened(a)
    with store.write() as conn:
        conn.execute(update(schema.codings).where(schema.codings.c.id == flagged)
                     .values(flag="ambiguous", flag_note="version 2: occurs twice"))
    store.close()
    tag(a, "HV07", "Très attachant.", ["mairie-elus"], "qcode-keywords", "keyword")
    b = make_project(root / "B", "Étude B",
                     {f"entretien-{t.lower()}{SUFFIX[t]}": study_file(t) for t in IDS})
    tag(b, "entretien-gl04", "Quatrième étage.", ["parcours-personnel"], "bea")
    return a, b


@pytest.fixture
def pair(base: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """Fresh copies of A and B for one test."""
    a, b = base
    return (Path(shutil.copytree(a, tmp_path / "A")), Path(shutil.copytree(b, tmp_path / "B")))


# --- reading a store back -----------------------------------------------------------------------


def codings(root: Path) -> list[dict[str, Any]]:
    """Every coding, keyed by its transcript's text hash instead of its store-local id."""
    _, store, _ = opened(root)
    with store.read() as conn:
        hashes = {tid: digest for tid, digest, _ in xq.transcript_hashes(conn)}
        rows = cq.query(conn)
    store.close()
    for r in rows:
        r["hash"] = hashes[r["transcript_id"]]
    return rows


def keys(rows: list[dict[str, Any]]) -> set[tuple[str, int, int, str, str]]:
    return {(r["hash"], r["start"], r["end"], r["code_id"], r["coder"]) for r in rows}


def state(root: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """All codings and journal entries, to show that a command changed nothing."""
    _, store, _ = opened(root)
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(schema.codings).order_by(schema.codings.c.id))]
        journal = [dict(r._mapping) for r in conn.execute(
            select(schema.journal).order_by(schema.journal.c.id))]
    store.close()
    return rows, journal


def latest_change(root: Path) -> str:
    """The latest time a coding or a memo on a coding was changed."""
    _, store, _ = opened(root)
    with store.read() as conn:
        stamps = [r.updated_at for r in conn.execute(select(schema.codings.c.updated_at))]
        stamps += [r.updated_at for r in conn.execute(
            select(schema.memos.c.updated_at).where(schema.memos.c.target_type == "coding"))]
    store.close()
    return str(max(stamps))


def export_a(a: Path, *args: str) -> Path:
    result = qcode("export", "codings", *args, cwd=a)
    assert result.returncode == 0, result.stderr
    return a / "exports" / "codings.jsonl"


def import_json(project: Path, file: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = qcode("import", "codings", str(file), "--coder", "bea", "-f", "json", *args,
                   cwd=project)
    return result.returncode, json.loads(result.stdout), result.stderr


def file_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


# --- export ---------------------------------------------------------------------------------


def test_export_writes_a_header_and_one_line_per_coding(pair: tuple[Path, Path]) -> None:
    a, _ = pair
    result = qcode("export", "codings", cwd=a)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == "wrote exports/codings.jsonl (295 codings, jsonl)\n"
    path = a / "exports" / "codings.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # quotes are personal data
    raw = path.read_bytes()
    assert raw.endswith(b"\n") and b"\r" not in raw
    header, *lines = file_lines(path)
    _, store, book = opened(a)
    assert header == {
        "format": "qcode-codings", "version": 1, "qcode": __version__, "project": "Étude A",
        "exported_at": latest_change(a),
        "codebook": {"name": book.name, "file": "codebook.yaml", "digest": book.digest},
        "filters": {}, "codings": 295}
    assert len(lines) == 295
    assert set(lines[0]) == {"transcript", "transcript_hash", "source", "start", "end", "quote",
                             "turn", "code", "label", "coder", "origin", "memo", "created_at",
                             "flag"}
    with store.read() as conn:
        records = tq.load_many(conn, list(IDS))
    store.close()
    for line in lines:
        rec = records[line["transcript"]]
        assert line["transcript_hash"] == rec.text_hash
        assert line["source"] == Path(rec.source_path).name
        assert line["quote"] == rec.text[line["start"]:line["end"]]
        assert line["turn"] == coding.turn_at(rec, line["start"])
        assert line["label"] == book.codes[line["code"]].label
    order = [(x["transcript"], x["start"], x["end"], x["code"], x["coder"]) for x in lines]
    assert order == sorted(order)
    by_coder = {x["coder"] for x in lines}
    assert by_coder == {"gold", "alice", "qcode-keywords"}
    memo = next(x for x in lines if x["quote"] == "Moi je livrais." and x["coder"] == "alice")
    assert memo["memo"] == "Le geste concret.\n\nalice: À comparer avec AI02."
    assert next(x for x in lines if x["code"] == "fetes" and x["coder"] == "alice")["flag"] \
        == "ambiguous"
    assert {x["origin"] for x in lines} == {"manual", "keyword"}


def test_same_store_gives_byte_identical_files(pair: tuple[Path, Path], tmp_path: Path
                                               ) -> None:
    a, _ = pair
    first = export_a(a).read_bytes()
    assert export_a(a).read_bytes() == first
    piped = qcode("export", "codings", "--out", "-", cwd=a)
    assert piped.returncode == 0 and piped.stderr == ""
    assert piped.stdout.encode("utf-8") == first
    copy = Path(shutil.copytree(a, tmp_path / "copie"))
    (copy / "exports" / "codings.jsonl").unlink()
    assert export_a(copy).read_bytes() == first
    # a new coding, or a memo on one, changes the file; its time follows the store
    new = tag(a, "HV01", "Personne n'est payé.", ["benevolat-salariat"], "alice")
    second = export_a(a).read_bytes()
    assert second != first
    assert json.loads(second.split(b"\n")[0])["exported_at"] == latest_change(a) > \
        json.loads(first.split(b"\n")[0])["exported_at"]
    _, store, book = opened(a)
    coding.add_memo(store, "coding", str(new), "Bénévolat pur.", "alice", book)
    store.close()
    third = export_a(a).read_bytes()
    assert b'"memo": "alice: B\xc3\xa9n\xc3\xa9volat pur."' in third
    assert json.loads(third.split(b"\n")[0])["exported_at"] == latest_change(a) > \
        json.loads(second.split(b"\n")[0])["exported_at"]


def test_export_filters_by_coder_code_theme_transcript_origin(pair: tuple[Path, Path]
                                                              ) -> None:
    a, _ = pair
    result = qcode("export", "codings", "--coder", "alice", cwd=a)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "wrote exports/codings-alice.jsonl (2 codings, jsonl)\n"
    header, *lines = file_lines(a / "exports" / "codings-alice.jsonl")
    assert header["filters"] == {"coders": ["alice"]} and header["codings"] == 2
    assert {x["coder"] for x in lines} == {"alice"}

    project, store, book = opened(a)
    try:
        governance = exchange.export_codings(project, store, book, themes=["governance"])
        wanted = {"governance", *book.descendants("governance")}
        rows = [json.loads(x) for x in governance.data.splitlines()[1:]]
        assert rows and {x["code"] for x in rows} <= wanted
        assert governance.count == sum(1 for r in codings(a) if r["code_id"] in wanted)
        instances = exchange.export_codings(project, store, book, codes=["instances"])
        assert {json.loads(x)["code"] for x in instances.data.splitlines()[1:]} <= \
            {"instances", *book.descendants("instances")}
        one = exchange.export_codings(project, store, book, transcripts=["AC03"],
                                      origins=["manual"])
        rows = [json.loads(x) for x in one.data.splitlines()[1:]]
        assert {x["transcript"] for x in rows} == {"AC03"}
        assert len(rows) == 38  # the gold standard's AC03 rows
        keyword = exchange.export_codings(project, store, book, origins=["keyword"])
        assert keyword.count == 1
    finally:
        store.close()
    missing = qcode("export", "codings", "--transcript", "XX99", cwd=a)
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: no transcript 'XX99'")
    assert not (a / "exports" / "codings.jsonl").exists()


# --- import ---------------------------------------------------------------------------------


def test_import_into_a_project_with_other_names_then_again(pair: tuple[Path, Path]) -> None:
    a, b = pair
    path = export_a(a)
    in_a, before_b = codings(a), codings(b)
    code, report, stderr = import_json(b, path)
    assert code == 0, stderr
    assert report["summary"] == {"imported": 295, "reanchored": 0, "already_present": 0,
                                 "unknown_transcript": 0, "unknown_code": 0, "unplaced": 0,
                                 "conflict": 0}
    assert report["ok"] is True and report["problems"] == []
    assert {(m["file"], m["store"]) for m in report["transcripts"]} == \
        {(t, f"entretien-{t.lower()}") for t in IDS}
    assert stderr.startswith(
        "note: 6 transcript(s) of the file found here by their text under another id: "
        "AC03 → entretien-ac03, AI02 → entretien-ai02, AI09 → entretien-ai09, "
        "GL04 → entretien-gl04, HV01 → entretien-hv01, … (6 in all)\n")
    assert stderr.endswith("imported 295 coding(s), 0 already present; 'qcode undo' reverts "
                           "the import\n")
    after = codings(b)
    assert keys(after) == keys(in_a) | keys(before_b)
    imported = {(r["hash"], r["start"], r["end"], r["code_id"], r["coder"]): r for r in after
                if r["origin"] == "import"}
    assert len(imported) == 295
    for r in in_a:  # coder, creation time, memo and flag travel; the quote is the same text
        mine = imported[(r["hash"], r["start"], r["end"], r["code_id"], r["coder"])]
        assert mine["created_at"] == r["created_at"]
        assert mine["snapshot"] == r["snapshot"]
        assert mine["flag"] == r["flag"]
        if r["coder"] == "gold":
            assert mine["memo"] == r["memo"]
    assert next(r for r in imported.values() if r["coder"] == "alice"
                and r["snapshot"] == "Moi je livrais.")["memo"] == \
        "Le geste concret.\n\nalice: À comparer avec AI02."

    code, report, stderr = import_json(b, path)  # idempotent
    assert code == 0
    assert report["summary"]["already_present"] == 295
    assert report["summary"]["imported"] == 0 and report["problems"] == []
    assert stderr.endswith("imported 0 coding(s), 295 already present\n")
    assert len(codings(b)) == len(after)

    # and back: B's export (A's codings, now of origin import, and bea's) into A
    result = qcode("export", "codings", "--out", str(b / "b.jsonl"), cwd=b)
    assert result.returncode == 0, result.stderr
    back = qcode("import", "codings", str(b / "b.jsonl"), "--coder", "alice", cwd=a)
    assert back.returncode == 0, back.stderr
    assert back.stderr.endswith("imported 1 coding(s), 295 already present; 'qcode undo' "
                                "reverts the import\n")
    assert "│ already_present    │   295 │" in back.stdout
    assert keys(codings(a)) == keys(after)


def test_dry_run_changes_nothing_and_undo_reverts_the_import(pair: tuple[Path, Path]) -> None:
    a, b = pair
    path = export_a(a)
    before = state(b)
    code, dry, stderr = import_json(b, path, "--dry-run")
    assert code == 0
    assert dry["dry_run"] is True and dry["summary"]["imported"] == 295
    assert stderr.endswith("would import 295 coding(s), 0 already present; dry run: nothing "
                           "written\n")
    assert state(b) == before
    code, real, _ = import_json(b, path)
    assert real["summary"] == dry["summary"]
    undo = qcode("undo", "--coder", "bea", cwd=b)
    assert undo.returncode == 0, undo.stderr
    assert "removed 295 coding(s)" in undo.stderr
    assert state(b)[0] == before[0]  # the codings as they were (the journal says undone)


def test_unknown_code_and_unknown_transcript_are_reported_the_rest_imported(
        pair: tuple[Path, Path]) -> None:
    a, b = pair
    added = qcode("codebook", "add", "temoignage-rare", "--label", "Témoignage rare",
                  "--parent", "values", cwd=a)
    assert added.returncode == 0, added.stderr
    tag(a, "HV01", "Personne n'est payé.", ["temoignage-rare"], "alice")
    shutil.copy(REPO / "transcripts" / "AC01.txt", a / "transcripts" / "AC01.txt")
    ingest(a)
    tag(a, "AC01", None, ["entraide"], "alice", unit="2")
    path = export_a(a)
    lines = path.read_text("utf-8").splitlines()

    result = qcode("import", "codings", str(path), "--coder", "bea", cwd=b)
    assert result.returncode == 1, result.stderr
    assert "│ imported           │   295 │" in result.stdout
    assert "│ unknown_transcript │     1 │" in result.stdout
    assert "│ unknown_code       │     1 │" in result.stdout
    assert result.stderr.endswith("imported 295 coding(s), 0 already present, 2 not imported "
                                  "(see the lines above); 'qcode undo' reverts the import\n")
    code, report, _ = import_json(b, path)
    assert code == 1 and report["ok"] is False
    assert report["summary"]["already_present"] == 295
    problems = {p["status"]: p for p in report["problems"]}
    unknown_code, unknown_transcript = problems["unknown_code"], problems["unknown_transcript"]
    assert json.loads(lines[unknown_code["line"] - 1])["code"] == "temoignage-rare"
    assert "no code 'temoignage-rare' in the codebook" in unknown_code["detail"]
    assert "qcode codebook add" in unknown_code["detail"]
    assert json.loads(lines[unknown_transcript["line"] - 1])["transcript"] == "AC01"
    assert unknown_transcript["detail"] == ("no transcript has this text, and none is named "
                                            "'AC01'")
    assert not any(r["code_id"] == "temoignage-rare" for r in codings(b))


def test_conflicting_coding_of_the_same_coder_is_reported_not_merged(
        pair: tuple[Path, Path]) -> None:
    a, b = pair
    path = export_a(a)
    assert import_json(b, path)[0] == 0
    # in B, the coding of « Moi je livrais. » by alice is widened to the next sentence
    _, store, book = opened(b)
    rec = coding.load_transcript(store, "entretien-hv01")
    start = rec.text.index("Moi je livrais.")
    narrow = coding.Passage(rec.id, start, start + len("Moi je livrais."), "Moi je livrais.",
                            coding.turn_at(rec, start))
    assert len(coding.untag(store, book, narrow, ["chaine-appels"], "alice")) == 1
    end = rec.text.index(".", narrow.end + 1) + 1
    wide = coding.Passage(rec.id, start, end, rec.text[start:end], narrow.turn)
    widened = coding.tag(store, book, wide, ["chaine-appels"], "alice").created[0]
    store.close()
    before = state(b)[0]

    code, report, _ = import_json(b, path)
    assert code == 1
    assert report["summary"]["conflict"] == 1 and report["summary"]["already_present"] == 294
    conflict = report["problems"][0]
    line = file_lines(path)[conflict["line"] - 1]
    assert (line["quote"], line["coder"], line["code"]) == ("Moi je livrais.", "alice",
                                                            "chaine-appels")
    assert conflict["detail"] == (
        f"alice already coded chaine-appels at {start}:{end} of entretien-hv01 (coding "
        f"{widened}), overlapping {start}:{narrow.end}: untag the one you do not want, then "
        "import again")
    assert state(b)[0] == before

    # a line that contradicts its transcript: its quote is not the text at its offsets
    edited = path.parent / "edited.jsonl"
    rows = path.read_text("utf-8").splitlines()
    first = json.loads(rows[1])
    first["quote"] = first["quote"].replace("e", "é", 1)
    first["coder"] = "carla"
    rows[1] = json.dumps(first, ensure_ascii=False)
    edited.write_text("\n".join(rows) + "\n", encoding="utf-8")
    project, store, book = opened(b)
    report_ = exchange.import_codings(project, store, book, edited, coder="bea")
    store.close()
    assert report_.counts()["conflict"] == 2
    contradiction = next(r for r in report_.results if r.line == 2)
    assert contradiction.status == "conflict"
    assert "is not the text at" in contradiction.detail


def test_memo_that_differs_is_reported_beside_an_already_present_coding(
        pair: tuple[Path, Path]) -> None:
    a, b = pair
    path = export_a(a)
    assert import_json(b, path)[0] == 0
    rows = path.read_text("utf-8").splitlines()
    n = next(i for i, x in enumerate(rows) if '"coder": "gold"' in x)
    line = json.loads(rows[n])
    line["memo"] = "Une autre lecture."
    rows[n] = json.dumps(line, ensure_ascii=False)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, report, _ = import_json(b, path)
    assert code == 0  # the coding is there: a memo is not a reason to fail
    assert report["summary"]["already_present"] == 295
    assert report["problems"][0]["line"] == n + 1
    assert report["problems"][0]["detail"].startswith("memo differs: the store's is kept")


# --- corrected transcripts ------------------------------------------------------------------

TYPO = ("Moi je suis arrivé dans cette rue en 85.", "Moi je suis arrivé dans cette rue en 1985.")
GONE = "Oh, ça tient avec des bouts de ficelle. "
OPENING = ("Ah, comment c'est né… [rires]", "Ah, comment c'est né, tout ça… [rires]")


def corrected_hv01() -> str:
    text = study_file("HV01").read_text("utf-8")
    for old, new in (TYPO, (GONE, ""), OPENING):
        assert text.count(old) == 1
        text = text.replace(old, new)
    return text


def check_reanchored(root: Path, tid: str, path: Path, report: dict[str, Any], how: str
                     ) -> None:
    """77 of the 78 codings of HV01 placed on the corrected text, the one whose sentence was
    deleted reported as unplaced."""
    summary = report["summary"]
    assert summary["unplaced"] == 1 and summary["conflict"] == 0
    assert summary["imported"] + summary["reanchored"] == 294
    assert summary["reanchored"] == 77  # every coding of HV01 (78 of them) but the lost one
    unplaced = next(p for p in report["problems"] if p["status"] == "unplaced")
    assert unplaced["code"] == "ressources" and unplaced["transcript"] == "HV01"
    assert "not imported" in unplaced["detail"]
    assert {m["matched_by"] for m in report["transcripts"] if m["file"] == "HV01"} == {how}
    _, store, _ = opened(root)
    rec = coding.load_transcript(store, tid)
    store.close()
    mine = [r for r in codings(root) if r["transcript_id"] == tid and r["origin"] == "import"]
    assert len(mine) == 77
    for r in mine:
        assert r["snapshot"] == rec.text[r["start"]:r["end"]]
        assert GONE.strip() not in r["snapshot"]
    quotes = {r["snapshot"] for r in mine}
    assert TYPO[1] in quotes  # the corrected words, exactly the corrected sentence
    assert any(q.startswith(OPENING[1]) and q.endswith("dans l'escalier.") for q in quotes)
    exported = file_lines(path)
    for p in report["problems"]:
        if p["status"] != "reanchored":
            continue
        quote = exported[p["line"] - 1]["quote"]
        if TYPO[0] not in quote and OPENING[0] not in quote:  # untouched words stay the same
            assert rec.text[p["placed_start"]:p["placed_end"]] == quote


def test_corrected_transcript_with_its_earlier_text_is_reanchored_through_the_diff(
        pair: tuple[Path, Path]) -> None:
    a, b = pair
    path = export_a(a)
    (b / "transcripts" / "entretien-hv01.txt").write_text(corrected_hv01(), encoding="utf-8")
    ingest(b)  # B keeps the earlier text as version 1, whose hash is in A's file
    code, report, stderr = import_json(b, path)
    assert code == 1
    check_reanchored(b, "entretien-hv01", path, report, "earlier text")
    assert ("note: transcript HV01 of the file is entretien-hv01 here, corrected since the "
            "export: codings re-anchored through the diff of the two texts") in stderr
    line = next(n for n, x in enumerate(file_lines(path), 1) if x.get("quote") == TYPO[0])
    typo = next(p for p in report["problems"] if p["line"] == line)
    assert typo["status"] == "reanchored" and "(edited)" in typo["detail"]
    before = state(b)[0]
    code, again, _ = import_json(b, path)  # idempotent, re-anchored codings included
    assert code == 1
    assert again["summary"]["already_present"] == 294 and again["summary"]["unplaced"] == 1
    assert state(b)[0] == before


def test_corrected_transcript_known_only_by_its_id_is_reanchored_by_its_quotes(
        pair: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = pair
    path = export_a(a)
    files = {f"{t}{SUFFIX[t]}": study_file(t) for t in IDS if t != "HV01"}
    files["AI02-copie.md"] = study_file("AI02")  # the same text twice: AI02 wins by its id
    c = make_project(tmp_path / "C", "Étude C", files)
    (c / "transcripts" / "HV01.txt").write_text(corrected_hv01(), encoding="utf-8")
    ingest(c)  # never had the earlier text
    project, store, book = opened(c)
    result = exchange.import_codings(project, store, book, path, coder="claire")
    store.close()
    report = result.as_dict()
    assert result.ok is False
    check_reanchored(c, "HV01", path, report, "id")
    fuzzy = [r for r in result.results if r.status == "reanchored" and "(fuzzy)" in r.detail]
    assert fuzzy  # the corrected sentences were found fuzzily near their old offsets
    assert not any(r["transcript_id"] == "AI02-copie" for r in codings(c))
    assert "transcript HV01 of the file is here, with another text: codings re-anchored by " \
           "searching their quotes" in result.notes


# --- malformed files ----------------------------------------------------------------------------


def mutate(path: Path, target: Path, line: int, new: str | None) -> Path:
    rows = path.read_text("utf-8").split("\n")
    if new is None:
        del rows[line - 1]
    else:
        rows[line - 1] = new
    target.write_text("\n".join(rows), encoding="utf-8")
    return target


def test_malformed_json_line_is_one_error_and_nothing_is_imported(pair: tuple[Path, Path]
                                                                  ) -> None:
    a, b = pair
    path = export_a(a)
    rows = path.read_text("utf-8").split("\n")
    bad = mutate(path, a / "bad.jsonl", 3, rows[2][:40] + rows[2][41:])
    before = state(b)
    result = qcode("import", "codings", str(bad), "--coder", "bea", cwd=b)
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {bad}:3: not valid JSON: ")
    assert result.stderr.endswith("; nothing imported\n")
    assert result.stderr.count("\n") == 1
    assert state(b) == before


def test_truncated_file_is_malformed(pair: tuple[Path, Path]) -> None:
    a, b = pair
    path = export_a(a)
    raw = path.read_bytes()
    before = state(b)
    cut = a / "cut.jsonl"
    cut.write_bytes(raw[: len(raw) // 2])  # in the middle of a line
    result = qcode("import", "codings", str(cut), "--coder", "bea", cwd=b)
    assert result.returncode == 3
    assert result.stderr.endswith("(the file seems truncated); nothing imported\n")
    lines = raw.split(b"\n")
    cut.write_bytes(b"\n".join(lines[:100]) + b"\n")  # at the end of a line
    result = qcode("import", "codings", str(cut), "--coder", "bea", cwd=b)
    assert result.returncode == 3
    assert result.stderr == (f"error: {cut}:100: the header announces 295 coding(s) but the "
                             "file has 99: it is truncated or was edited; nothing imported\n")
    assert state(b) == before


def _line(n: int) -> dict[str, Any]:
    return {"transcript": "HV01", "transcript_hash": "a" * 64, "start": 0, "end": 5,
            "quote": "Entre", "code": "entraide", "coder": "alice", "n": n}


HEADER = '{"format": "qcode-codings", "version": 1, "codings": 1}'


@pytest.mark.parametrize(("content", "where", "message"), [
    ("", 1, "empty file: expected the header line"),
    ('{"format": "autre"}\n', 1, "not a qcode codings file"),
    ('{"format": "qcode-codings", "version": 2, "codings": 0}\n', 1,
     "written by a newer qcode (format version 2"),
    ('{"format": "qcode-codings", "version": 1}\n', 1, "the header's 'codings' must be"),
    ("[1, 2]\n", 1, "expected a JSON object {…}, not list"),
    (HEADER + '\n{"transcript": "HV01"\n', 2, "not valid JSON: Expecting ',' delimiter"),
    (HEADER + "\n" + json.dumps({**_line(1), "start": 9}) + "\n", 2, "invalid span 9:5"),
    (HEADER + "\n" + json.dumps({**_line(1), "start": True}) + "\n", 2,
     "'start' must be a whole number"),
    (HEADER + "\n" + json.dumps({k: v for k, v in _line(1).items() if k != "code"}) + "\n", 2,
     "missing field 'code'"),
    (HEADER + "\n" + json.dumps({**_line(1), "transcript_hash": "abc"}) + "\n", 2,
     "'transcript_hash' must be 64 lowercase hexadecimal digits"),
    (HEADER + "\n" + json.dumps({**_line(1), "coder": "  "}) + "\n", 2, "'coder' is empty"),
    (HEADER + "\n" + json.dumps({**_line(1), "flag": "perdu"}) + "\n", 2, "unknown flag"),
    (HEADER + "\n" + json.dumps({**_line(1), "created_at": "hier"}) + "\n", 2,
     "'created_at' is not an ISO 8601 time"),
    (HEADER + '\n{"transcript": NaN}\n', 2, "NaN is not allowed in JSON"),
    (HEADER + "\n" + json.dumps(_line(1)) + "\n" + json.dumps(_line(2)) + "\n", 3,
     "the header announces 1 coding(s) but the file has 2"),
])
def test_malformed_files(tmp_path: Path, content: str, where: int, message: str) -> None:
    path = tmp_path / "f.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        exchange.read_codings(path)
    assert str(err.value).startswith(f"{path}:{where}: {message}")
    assert str(err.value).endswith("; nothing imported")


def test_every_malformed_line_is_listed(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    good = json.dumps(_line(1))
    path.write_bytes(b'{"format": "qcode-codings", "version": 1, "codings": 4}\n'
                     + good.encode() + b"\n\xff\xfe\n" + good.encode() + b"\n{}\n")
    with pytest.raises(ValidationError) as err:
        exchange.read_codings(path)
    assert str(err.value) == f"{path}: 2 malformed lines; nothing imported"
    assert err.value.problems == [f"{path}:3: not UTF-8 text (byte 1)",
                                  f"{path}:5: missing field 'transcript'"]


def test_a_bom_blank_lines_and_crlf_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n\r\n"
                     + json.dumps(_line(1)).encode() + b"\r\n")
    parsed = exchange.read_codings(path)
    assert [c.line for c in parsed.codings] == [3]
    assert parsed.codings[0].quote == "Entre" and parsed.codings[0].origin == ""


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    from qcode.errors import InputError
    from qcode.ingest.limits import Limits

    path = tmp_path / "f.jsonl"
    path.write_text(HEADER.replace('"codings": 1', '"codings": 0') + "\n", encoding="utf-8")
    assert exchange.read_codings(path).codings == []
    with pytest.raises(InputError) as err:
        exchange.read_codings(path, limits=Limits(max_file_bytes=10))
    assert str(err.value).startswith(f"{path}: file too large (")


def test_the_same_text_twice_under_other_names_is_not_guessed(pair: tuple[Path, Path]) -> None:
    a, b = pair
    path = export_a(a, "--transcript", "AI02")
    shutil.copy(study_file("AI02"), b / "transcripts" / "entretien-ai02-bis.md")
    ingest(b)
    project, store, book = opened(b)
    report = exchange.import_codings(project, store, book, path, coder="bea")
    store.close()
    assert report.counts()["unknown_transcript"] == 49  # AI02: 48 gold codings and alice's
    assert report.results[0].detail == ("2 transcripts have this text (entretien-ai02, "
                                         "entretien-ai02-bis): none is named 'AI02'")
