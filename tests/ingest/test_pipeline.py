"""Ingest end to end on a real project folder: statuses, versions, attributes, bad input."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest

from qcode.ingest.pipeline import ingest
from qcode.project import load
from qcode.store import Store
from qcode.store import transcripts as q

GOOD = (
    "Entretien T — test\nDate : 1 mars 2021\nEnquêtrice : Claire Morel\n\n"
    "E : Comment ça a commencé ?\n\nKarim : Avec les voisins, pendant le confinement.\n\n"
    "E : Et après ?\n\nKarim : On a créé l’association. On s’entraide.\n"
)


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def run(project_dir: Path, paths: list[Path] | None = None, force: bool = False):  # type: ignore[no-untyped-def]
    project = load(project_dir)
    store = Store.open(project.store_location)
    try:
        return ingest(project, store, paths, force=force), store
    finally:
        pass


def test_ingest_then_unchanged_then_updated(project_dir: Path) -> None:
    tr = project_dir / "transcripts"
    write(tr, "T1.txt", GOOD)
    write(tr, "T2.md", GOOD.replace("Karim", "Agnès"))
    write(tr, "README.md", "# Not a transcript\n")
    write(tr, "attributes.csv", "id,initiative,role,interviewer\nT1,amis-de-la-cour,porteur,"
                                "Claire Morel\nT2,les-ailes,membre,Claire Morel\n")
    report, store = run(project_dir)
    assert report.ok, report.errors
    assert sorted((o.transcript_id, o.status) for o in report.outcomes) == [
        ("T1", "added"), ("T2", "added")]
    with store.read() as conn:
        rec = q.load(conn, "T1")
    assert rec is not None
    assert rec.attributes["initiative"] == ("amis-de-la-cour", "sheet")
    assert [(t.speaker, t.role) for t in rec.turns] == [
        ("E", "interviewer"), ("Karim", "participant"), ("E", "interviewer"),
        ("Karim", "participant")]
    assert rec.metadata["enqueteur"] == "Claire Morel"
    assert [rec.text[s.start:s.end] for s in rec.sentences if s.turn_idx == 4] == [
        "On a créé l’association.", "On s’entraide."]

    report, _ = run(project_dir)
    assert [o.status for o in report.outcomes] == ["unchanged", "unchanged"]

    write(tr, "T1.txt", GOOD.replace("commencé", "démarré"))
    report, store = run(project_dir)
    assert sorted(o.status for o in report.outcomes) == ["unchanged", "updated"]
    with store.read() as conn:
        assert q.load(conn, "T1").version == 2  # type: ignore[union-attr]
        assert q.previous_text(conn, "T1", 1) == GOOD


def test_sheet_change_updates_attributes_of_unchanged_files(project_dir: Path) -> None:
    tr = project_dir / "transcripts"
    write(tr, "T1.txt", GOOD)
    write(tr, "attributes.csv", "id;initiative\nT1;a\n")
    run(project_dir)
    write(tr, "attributes.csv", "id;initiative\nT1;b\n")
    report, store = run(project_dir)
    assert report.outcomes[0].message == "unchanged (attributes or speaker roles updated)"
    with store.read() as conn:
        assert q.attributes_of(conn, "T1") == {"initiative": ("b", "sheet")}


def test_speaker_map_change_updates_roles_without_rereading(project_dir: Path) -> None:
    tr = project_dir / "transcripts"
    write(tr, "T1.txt", GOOD.replace("E :", "Yanis :"))
    report, store = run(project_dir)
    with store.read() as conn:
        roles = {t.speaker: t.role for t in q.load(conn, "T1").turns}  # type: ignore[union-attr]
    # no label in the map: the speaker who asks the questions is taken as the interviewer
    assert roles == {"Yanis": "interviewer", "Karim": "participant"}
    assert "taken as the interviewer" in report.outcomes[0].warnings[0]
    cfg = project_dir / "qcode.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        "  other: []", "  other: [Yanis]"), encoding="utf-8")
    report, store = run(project_dir)
    assert report.outcomes[0].status == "unchanged"
    with store.read() as conn:
        roles = {t.speaker: t.role for t in q.load(conn, "T1").turns}  # type: ignore[union-attr]
    assert roles == {"Yanis": "other", "Karim": "participant"}


def test_interviewer_recognised_from_the_sheet_initials(project_dir: Path) -> None:
    tr = project_dir / "transcripts"
    write(tr, "T1.txt", GOOD.replace("E :", "CM :"))
    write(tr, "attributes.csv", "id,interviewer\nT1,Claire Morel\n")
    _, store = run(project_dir)
    with store.read() as conn:
        assert q.summaries(conn)[0]["interviewer"] == "CM"


def _docx_bytes() -> bytes:
    import docx

    doc = docx.Document()
    for line in GOOD.splitlines():
        doc.add_paragraph(line)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


BAD_FILES: list[tuple[str, bytes, str]] = [
    ("empty.txt", b"", "empty file"),
    ("binary.txt", bytes(range(256)) * 8, "binary file"),
    ("nospeakers.txt", "Il était une fois un quartier.\nFin.\n".encode(), "no speaker labels"),
    ("broken-xml.trs", b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<Trans><Episode><Section>'
                   b'<Turn speaker="spk1" startTime="0" endTime="2">bonjour', ""),
    ("broken-cues.vtt", b"WEBVTT\n\n00:00:01.000 --> zz\nBonjour\n", ""),
    ("photo.pdf", b"%PDF-1.4", "unsupported file type"),
    ("ebcdic.txt", "E : Été ?\nR : Oui.\n".encode("cp500") * 5, "unknown text encoding"),
]


def test_bad_files_are_reported_and_the_others_still_ingest(project_dir: Path) -> None:
    tr = project_dir / "inbox"
    tr.mkdir()
    good = write(tr, "T1.txt", GOOD)
    paths = [good]
    for name, data, _ in BAD_FILES:
        paths.append(write(tr, name, data))
    truncated = _docx_bytes()
    paths.append(write(tr, "truncated.docx", truncated[: len(truncated) // 2]))
    report, store = run(project_dir, paths)
    assert not report.ok
    statuses = {Path(o.path).name: o.status for o in report.outcomes}
    assert statuses["T1.txt"] == "added"
    failed = {Path(o.path).name: o.message for o in report.outcomes if o.status == "failed"}
    assert set(failed) == {name for name, _, _ in BAD_FILES} | {"truncated.docx"}
    for name, _, reason in BAD_FILES:
        message = failed[name]
        assert "\n" not in message
        assert name in message  # names the file
        assert reason in message
    with store.read() as conn:
        assert q.transcript_ids(conn) == ["T1"]


def test_attribute_sheet_problems(project_dir: Path) -> None:
    tr = project_dir / "transcripts"
    write(tr, "T1.txt", GOOD)
    write(tr, "T2.txt", GOOD)
    write(tr, "attributes.csv",
          "id,initiative\nT1,a\nT9,b\nT2,c\nT1,d\n")
    report, store = run(project_dir)
    sheet = project_dir / "transcripts" / "attributes.csv"
    assert report.errors == [
        f"{sheet}:3: unknown transcript id 'T9' in the attribute sheet (fix the id or remove "
        "the row; ids are transcript file names without extension)",
        f"{sheet}:5: duplicate row for transcript 'T1' (first at line 2) (keep one row per "
        "transcript)",
    ]
    assert sorted(o.status for o in report.outcomes) == ["added", "added"]
    with store.read() as conn:
        assert q.attributes_of(conn, "T1") == {"initiative": ("a", "sheet")}
        assert q.attributes_of(conn, "T2") == {"initiative": ("c", "sheet")}


def test_duplicate_ids_across_files(project_dir: Path) -> None:
    tr = project_dir / "transcripts"
    write(tr, "T1.txt", GOOD)
    write(tr, "T1.md", GOOD)
    report, _ = run(project_dir)
    assert len(report.errors) == 1
    assert "transcript id 'T1' is already used by" in report.errors[0]


def test_too_large_file_is_refused(project_dir: Path) -> None:
    cfg = project_dir / "qcode.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("max_file_mb: 50", "max_file_mb: 0.001"),
                   encoding="utf-8")
    write(project_dir / "transcripts", "T1.txt", GOOD * 20)
    report, _ = run(project_dir)
    assert "file too large" in report.errors[0]


@pytest.mark.sqlite_only  # about the SQLite file
def test_store_is_consistent_sqlite(project_dir: Path) -> None:
    write(project_dir / "transcripts", "T1.txt", GOOD)
    run(project_dir)
    with sqlite3.connect(project_dir / ".qcode" / "qcode.db") as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


@pytest.mark.parametrize("ext", [".txt", ".md"])
def test_real_corpus_markdown(ext: str) -> None:
    from tests.conftest import corpora_dir

    path = corpora_dir("changelog-md") / "founders-talk-52.md"
    from qcode.ingest.pipeline import read_file

    parsed = read_file(path.with_suffix(ext) if ext == ".md" else path, path.read_bytes())
    speakers = {t.speaker for t in parsed.turns}
    assert speakers == {"Adam Stacoviak", "Pia Mancini"}
    for t in parsed.turns:
        speech = parsed.text[t.start:t.end]
        assert speech and not speech.startswith("**") and not speech.startswith(":")


def test_same_id_from_another_folder_is_refused_but_a_moved_file_is_followed(
        project_dir: Path) -> None:
    tr = project_dir / "transcripts"
    write(tr, "T1.txt", GOOD)
    run(project_dir)
    other = project_dir / "other"
    other.mkdir()
    write(other, "T1.md", GOOD)
    report, _ = run(project_dir, [other / "T1.md"])
    assert report.errors == [
        f"{other / 'T1.md'}: transcript id 'T1' is already used by transcripts/T1.txt (rename "
        "one of the files, or remove the other transcript with 'qcode transcripts remove T1')"]
    (tr / "T1.txt").rename(tr / "T1.md")  # moved: the same transcript, read as Markdown now
    report, store = run(project_dir)
    assert report.ok and report.outcomes[0].status == "refreshed"
    with store.read() as conn:
        assert q.summaries(conn)[0]["file"] == "transcripts/T1.md"
        assert q.summaries(conn)[0]["format"] == "md"
    (tr / "T1.md").rename(tr / "T1-moved.md")
    (tr / "sub").mkdir()
    (tr / "T1-moved.md").rename(tr / "sub" / "T1.md")  # moved to a subfolder: followed
    report, store = run(project_dir)
    assert report.ok and report.outcomes[0].status == "unchanged"
    with store.read() as conn:
        assert q.summaries(conn)[0]["file"] == "transcripts/sub/T1.md"


def test_unreadable_attribute_sheet_is_reported_and_keeps_stored_attributes(
        project_dir: Path) -> None:
    tr = project_dir / "transcripts"
    write(tr, "T1.txt", GOOD)
    write(tr, "T2.txt", GOOD)
    write(tr, "attributes.csv", "id,initiative\nT1,a\nT2,b\n")
    run(project_dir)
    write(tr, "T1.txt", GOOD.replace("Et après", "Et ensuite"))  # T1 is read again
    write(tr, "attributes.csv", b"")
    report, store = run(project_dir)
    assert report.errors == [f"{tr / 'attributes.csv'}: empty file: nothing to ingest"]
    assert sorted(o.status for o in report.outcomes) == ["unchanged", "updated"]
    with store.read() as conn:  # a broken sheet does not wipe what the last good one said
        assert q.attributes_of(conn, "T1") == {"initiative": ("a", "sheet")}
        assert q.attributes_of(conn, "T2") == {"initiative": ("b", "sheet")}
    (tr / "attributes.csv").unlink()  # no sheet at all: it says nothing any more
    report, store = run(project_dir)
    assert report.ok
    with store.read() as conn:
        assert q.attributes_of(conn, "T1") == {}


def test_no_interviewer_is_a_warning(project_dir: Path) -> None:
    write(project_dir / "transcripts", "T1.txt",
          "BA725 : oui.\nOU : ben voilà.\nBA725 : et alors.\nOU : bon.\n")
    report, _ = run(project_dir)
    assert report.outcomes[0].warnings == [
        "no interviewer identified among the speakers ('BA725', 'OU'); name one in qcode.yaml "
        "'speakers' or in the attribute sheet's interviewer column"]
