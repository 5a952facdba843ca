"""REFI-QDA projects (.qdpx): export, import, round trips, other tools' files, hostile files,
and interoperability with a real peer (qc, the ``qualitative-coding`` package)."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qcode import coding
from qcode.codebook import Codebook, load_valid
from qcode.codebook_sync import open_synced
from qcode.errors import StoreError
from qcode.ingest.pipeline import ingest
from qcode.project import Project, init
from qcode.project import load as load_project
from qcode.qdpx import PROJECT_NS, export_qdpx, import_qdpx, quote_name, read_project
from qcode.refi import QCODE_GUID_NAMESPACE, code_guid, codebook_to_qdc
from qcode.store import Store
from tests.conftest import FIXTURES, REPO, qcode

QDPX = FIXTURES / "qdpx"
SCHEMAS = REPO.parent / "shared" / "refi-qda"
STUDY_CODEBOOK = REPO / "codebooks" / "voisinage-resilience.yaml"
SUBSET = ("HV01.txt", "AC02.md", "AC03.vtt", "AC10.docx")
Q = {"q": PROJECT_NS}


# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> Any:
    xsd = SCHEMAS / "Project.xsd"
    if not xsd.is_file():
        pytest.skip(f"REFI-QDA schemas not present ({SCHEMAS})")
    import xmlschema

    return xmlschema.XMLSchema(str(xsd))


def opened(root: Path) -> tuple[Project, Store, Codebook]:
    project = load_project(root)
    store = Store.open(project.store_location)
    book, _ = open_synced(project, store)
    return project, store, book


def study_subset(root: Path) -> Path:
    """The study's codebook and four of its interviews (txt, md, vtt, docx) with their rows of
    the attribute sheet, ingested, coded by two coders, with memos of every kind."""
    shutil.copy(STUDY_CODEBOOK, root / "codebooks" / "codebook.yaml")
    ids = {Path(name).stem for name in SUBSET}
    for name in SUBSET:
        shutil.copy(REPO / "transcripts" / name, root / "transcripts" / name)
    sheet = (REPO / "transcripts" / "attributes.csv").read_text(encoding="utf-8").splitlines()
    (root / "transcripts" / "attributes.csv").write_text(
        "\n".join([sheet[0], *(r for r in sheet[1:] if r.split(",")[0] in ids)]) + "\n",
        encoding="utf-8")
    project = load_project(root)
    store = Store.open(project.store_location)
    assert ingest(project, store).ok
    book, _ = open_synced(project, store)

    def tag(tid: str, unit: str | None, codes: list[str], coder: str,
            quote: str | None = None) -> int:
        passage = coding.resolve(store, tid, unit, quote=quote)
        return coding.tag(store, book, passage, codes, coder).created[0]

    first = tag("HV01", "2", ["isolement", "declencheur"], "alice")
    tag("HV01", "4.2-3", ["isolement"], "bob")
    tag("HV01", "6", ["fetes"], "alice")
    tag("HV01", "6", ["fetes"], "bob")  # the same passage, both coders
    tag("AC03", "4", ["entraide"], "bob")
    tag("AC02", None, ["entraide"], "alice", quote="cinquante")
    tag("AC10", "2", ["declencheur"], "claire")
    coding.add_memo(store, "project", "", "Premier passage sur le sous-corpus", "alice")
    coding.add_memo(store, "transcript", "HV01", "Entretien fondateur, très riche", "bob")
    coding.add_memo(store, "code", "entraide", "Souvent lié au confinement", "alice", book)
    coding.add_memo(store, "coding", str(first), "Le déclencheur : la mort du voisin", "alice")
    store.close()
    return root


def second_store(backend: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """A store location for a second project on the same engine (None: a SQLite file)."""
    if backend != "postgresql":
        yield None
        return
    server = request.getfixturevalue("pg_server")
    from tests import pgserver

    assert isinstance(server, pgserver.PgServer)
    url = server.new_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def other_project(tmp_path: Path, backend: str, request: pytest.FixtureRequest
                  ) -> Iterator[Path]:
    """A second new, empty project, on the same engine as ``project_dir``."""
    for store in second_store(backend, request):
        init(tmp_path / "other", name="Other", store=store)
        yield tmp_path / "other"


@pytest.fixture
def empty_project(tmp_path: Path) -> Path:
    """A new project with a SQLite store (for what never reaches the store)."""
    init(tmp_path / "empty", name="Empty")
    return tmp_path / "empty"


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def project_xml(data: bytes) -> ET.Element:
    return ET.fromstring(members(data)["project.qde"])


def find(element: ET.Element, path: str) -> ET.Element:
    found = element.find(path, Q)
    assert found is not None, path
    return found


def listing(root: Path, *args: str) -> list[dict[str, Any]]:
    result = qcode(*args, "-f", "json", cwd=root)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def codings_of(root: Path) -> Counter[tuple[str, str, str, str]]:
    """(transcript, quote, code, coder) of every coding."""
    return Counter((r["transcript"], r["quote"], r["code"], r["coder"])
                   for r in listing(root, "codings", "list"))


def memos_of(root: Path) -> Counter[tuple[str, str, str, str]]:
    """(target type, target, coder, text) of every memo; a coding named by its passage."""
    codings = {str(r["id"]): f"{r['transcript']}|{r['quote']}|{r['code']}|{r['coder']}"
               for r in listing(root, "codings", "list")}
    return Counter((r["target_type"], codings.get(r["target_id"], r["target_id"])
                    if r["target_type"] == "coding" else r["target_id"], r["coder"], r["text"])
                   for r in listing(root, "memo", "list"))


def attributes_of(root: Path) -> dict[str, dict[str, str]]:
    return {r["id"]: r["attributes"] for r in listing(root, "transcripts", "list")}


def import_json(root: Path, path: Path) -> dict[str, Any]:
    result = qcode("import", "qdpx", str(path), "-f", "json", cwd=root)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


# --- export -----------------------------------------------------------------------------------


def test_export_follows_the_writer_rules(project_dir: Path, schema: Any) -> None:
    project, store, book = opened(study_subset(project_dir))
    result = export_qdpx(project, store, book)
    files = members(result.data)
    assert next(iter(files)) == "project.qde"
    schema.validate(files["project.qde"].decode("utf-8"))
    root = ET.fromstring(files["project.qde"])
    assert root.tag == f"{{{PROJECT_NS}}}Project"
    assert [child.tag.split("}")[1] for child in root] == [
        "Users", "CodeBook", "Variables", "Cases", "Sources", "Notes", "NoteRef"]
    users = {u.get("name"): u.get("guid") for u in root.iterfind("q:Users/q:User", Q)}
    assert users == {name: str(uuid.uuid5(QCODE_GUID_NAMESPACE, f"user\x1f{name}"))
                     for name in ("alice", "bob", "claire")}

    with store.read() as conn:
        from qcode.store.transcripts import load_many

        records = load_many(conn, ["AC02", "AC03", "AC10", "HV01"])
    coded = 0
    for source in root.iterfind("q:Sources/q:TextSource", Q):
        rec = records[source.get("name", "")]
        assert source.get("richTextPath") is None
        path = source.get("plainTextPath", "")
        assert path == f"internal://{source.get('guid')}.txt"
        raw = files[f"sources/{source.get('guid')}.txt"]
        assert raw == rec.text.encode("utf-8") and not raw.startswith(b"\xef\xbb\xbf")
        assert b"\r" not in raw
        for selection in source.iterfind("q:PlainTextSelection", Q):
            start = int(selection.get("startPosition", ""))
            end = int(selection.get("endPosition", ""))
            assert selection.get("name") == quote_name(rec.text, start, end)
            assert " ".join(rec.text[start:end].split()).startswith(
                selection.get("name", "").rstrip("…"))
            (coding_el,) = selection.iterfind("q:Coding", Q)
            assert coding_el.get("creatingUser") == selection.get("creatingUser")
            assert coding_el.get("creatingUser") in users.values()
            coded += 1
    assert coded == result.codings == 8

    # the codebook is the .qdc's: same codes, GUIDs, descriptions
    qdc = ET.fromstring(codebook_to_qdc(book, language=project.language))
    ns = {"c": "urn:QDA-XML:codebook:1.0"}
    assert [(c.get("guid"), c.get("name"), c.findtext("c:Description", namespaces=ns))
            for c in qdc.iter(f"{{{ns['c']}}}Code")] == [
        (c.get("guid"), c.get("name"), c.findtext("q:Description", namespaces=Q))
        for c in root.iter(f"{{{PROJECT_NS}}}Code")]
    entraide = root.find(f".//q:Code[@guid='{code_guid(book.codes['entraide'])}']", Q)
    assert entraide is not None and len(entraide.findall("q:NoteRef", Q)) == 1

    # attributes: variables declared once, one case per transcript with its source
    variables = {v.get("guid"): v.get("name") for v in root.iterfind("q:Variables/q:Variable", Q)}
    assert set(variables.values()) >= {"initiative", "role", "interviewer", "participant"}
    cases = root.findall("q:Cases/q:Case", Q)
    assert sorted(c.get("name", "") for c in cases) == sorted(records)
    for case in cases:
        rec = records[case.get("name", "")]
        (ref,) = case.iterfind("q:SourceRef", Q)
        assert find(root, f"q:Sources/q:TextSource[@guid='{ref.get('targetGUID')}']").get(
            "name") == rec.id
        values = {variables[find(v, "q:VariableRef").get("targetGUID")]:
                  v.findtext("q:TextValue", namespaces=Q)
                  for v in case.iterfind("q:VariableValue", Q)}
        assert values == {k: v for k, (v, _src) in rec.attributes.items()}

    notes = {n.findtext("q:PlainTextContent", namespaces=Q): n.get("guid")
             for n in root.iterfind("q:Notes/q:Note", Q)}
    assert set(notes) == {"Premier passage sur le sous-corpus", "Entretien fondateur, très riche",
                          "Souvent lié au confinement", "Le déclencheur : la mort du voisin"}
    assert find(root, "q:NoteRef").get("targetGUID") == notes[
        "Premier passage sur le sous-corpus"]
    hv01 = find(root, "q:Sources/q:TextSource[@name='HV01']")
    assert find(hv01, "q:NoteRef").get("targetGUID") == notes["Entretien fondateur, très riche"]
    on_coding = root.findall(".//q:Coding/q:NoteRef", Q)
    assert [n.get("targetGUID") for n in on_coding] == [notes["Le déclencheur : la mort du voisin"]]


def test_export_is_deterministic_and_filters(project_dir: Path) -> None:
    project, store, book = opened(study_subset(project_dir))
    first = export_qdpx(project, store, book)
    assert export_qdpx(project, store, book).data == first.data
    with zipfile.ZipFile(io.BytesIO(first.data)) as archive:
        assert {(i.date_time, i.compress_type) for i in archive.infolist()} == {
            ((1980, 1, 1, 0, 0, 0), zipfile.ZIP_DEFLATED)}
    only_bob = export_qdpx(project, store, book, coders=["bob"])
    assert only_bob.coders == ["alice", "bob"]  # alice wrote memos on the project and a code
    root = project_xml(only_bob.data)
    assert only_bob.codings == 3 == len(root.findall(".//q:Coding", Q))
    # the memo on alice's coding is not exported without the coding
    assert "1 memo on codings, transcripts or codes that are not exported left out" in \
        only_bob.notes
    lines = project_xml(export_qdpx(project, store, book, line_names=True).data)
    names = [s.get("name", "") for s in lines.iterfind(".//q:PlainTextSelection", Q)]
    assert all(n.startswith("line:") for n in names) and len(names) == 8


def test_export_leaves_out_unplaced_codings(project_dir: Path) -> None:
    from sqlalchemy import update

    from qcode.store import schema as s

    project, store, book = opened(study_subset(project_dir))
    with store.write() as conn:
        conn.execute(update(s.codings).where(s.codings.c.coder == "claire")
                     .values(flag="unplaced", flag_note="gone"))
    result = export_qdpx(project, store, book)
    assert result.codings == 7 and "claire" not in result.coders
    assert result.notes[0].startswith("1 coding flagged 'unplaced' left out")


def test_export_cli(project_dir: Path) -> None:
    study_subset(project_dir)
    result = qcode("export", "qdpx", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    path = project_dir / "exports" / "study.qdpx"
    assert result.stderr.splitlines()[-1] == (
        "wrote exports/study.qdpx (4 transcripts, 8 codings, 3 coders, 4 memos)")
    assert "note: a coding's origin (manual, keyword, import) is not carried" in result.stderr
    assert path.stat().st_mode & 0o777 == 0o600  # whole interviews: personal data
    env = {k: v for k, v in os.environ.items() if not k.startswith("QCODE_")}
    raw = subprocess.run([sys.executable, "-m", "qcode", "export", "qdpx", "-"], cwd=project_dir,
                         capture_output=True, env={**env, "PYTHONPATH": str(REPO)}, check=True)
    assert raw.stdout == path.read_bytes()  # the same bytes on stdout


# --- round trip -------------------------------------------------------------------------------


def test_round_trip_into_a_new_project(project_dir: Path, other_project: Path,
                                       schema: Any) -> None:
    """A coded project → .qdpx → a new project: the same codings (text, code, coder), coders,
    memos and attributes; then the same .qdpx again (but the project's name)."""
    source = study_subset(project_dir)
    out = qcode("export", "qdpx", str(source / "exports" / "p.qdpx"), cwd=source)
    assert out.returncode == 0, out.stderr
    path = source / "exports" / "p.qdpx"
    schema.validate(members(path.read_bytes())["project.qde"].decode("utf-8"))

    result = qcode("import", "qdpx", str(path), cwd=other_project)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"imported {path} (qcode 0.1.0): 4 transcripts added (AC02, AC03, AC10, HV01), 0 already "
        "in the project, 8 codings added (0 already there), 4 memos, 31 attribute values, "
        "coders: alice, bob, claire",
        "wrote the codebook codebooks/codebook.yaml (58 codes)"]
    assert codings_of(other_project) == codings_of(source)
    assert memos_of(other_project) == memos_of(source)
    assert attributes_of(other_project) == attributes_of(source)
    assert {r["coder"] for r in listing(other_project, "codings", "list")} == {
        "alice", "bob", "claire"}
    # the codebook: the study's codes with their ids, labels and GUIDs
    book = load_valid(other_project / "codebooks" / "codebook.yaml")
    study = load_valid(STUDY_CODEBOOK)
    assert [(c.id, c.label, c.parent, code_guid(c)) for c in book.walk()] == [
        (c.id, c.label, c.parent, code_guid(c)) for c in study.walk()]

    # the transcripts are files of the project: a later ingest finds them unchanged
    assert sorted(p.name for p in (other_project / "transcripts").iterdir()) == [
        "AC02.txt", "AC03.txt", "AC10.txt", "HV01.txt", "attributes.csv"]
    again = qcode("ingest", cwd=other_project)
    assert again.returncode == 0 and again.stderr.splitlines()[-1] == "ingest: 4 unchanged"

    # importing the same file again adds nothing
    report = import_json(other_project, path)
    assert (report["transcripts_added"], report["transcripts_matched"]) == (
        [], ["AC02", "AC03", "AC10", "HV01"])
    assert (report["codings_added"], report["codings_present"], report["memos_added"],
            report["attributes_set"], report["codebook"], report["codes_matched"]) == (
        0, 8, 0, 0, "existing", 58)

    # and the new project exports the same project (its name aside)
    back = qcode("export", "qdpx", "back.qdpx", cwd=other_project)
    assert back.returncode == 0, back.stderr
    first, second = members(path.read_bytes()), members((other_project / "back.qdpx").read_bytes())
    assert second.keys() == first.keys()
    for name in first:
        expected = first[name]
        if name == "project.qde":
            expected = expected.replace(b'name="Test study"', b'name="Other"', 1)
        assert second[name] == expected, name


# --- reading other tools' files ---------------------------------------------------------------

CRLF_CODINGS = Counter({
    ("Karim", "On s'est retrouvés pendant le confinement.", "entraide", "Claire Morel"): 1,
    ("Karim", "La mairie, on l'a vue après.", "mairie", "Claire Morel"): 1,
    ("Karim", "Au début c'était entre nous.", "entraide", "Claire Morel"): 1,
})


@pytest.mark.parametrize(("name", "note"), [
    ("crlf-two.qdpx", None),
    ("crlf-one.qdpx", "source 'Karim': counts \\r\\n as one character"),
])
def test_crlf_sources_land_on_the_same_characters(project_dir: Path, name: str,
                                                  note: str | None) -> None:
    """\\r\\n counted as two characters (the standard) or one (some tools), told apart by the
    selection names; Sources/, STORED members and another .qde name are read too."""
    report = import_json(project_dir, QDPX / name)
    assert report["notes"] == ([note] if note else [])
    assert report["transcripts_added"] == ["Karim"]
    assert codings_of(project_dir) == CRLF_CODINGS
    text = (project_dir / "transcripts" / "Karim.txt").read_bytes()
    assert b"\r" not in text
    assert listing(project_dir, "transcripts", "list")[0]["speakers"] == 2


def test_other_tool_project(project_dir: Path, schema: Any) -> None:
    """A BOM, duplicate names, NFD text, values on cases and on sources, comments, notes on
    everything, unknown users and codes, and what qcode does not carry."""
    with zipfile.ZipFile(QDPX / "other-tool.qdpx") as archive:
        schema.validate(archive.read("project.qde").decode("utf-8"))
    report = import_json(project_dir, QDPX / "other-tool.qdpx")
    assert report["transcripts_added"] == ["Entretien", "Entretien-2"]
    assert report["coders"] == ["Claire Morel", "MB", "unknown"]
    assert report["notes"] == [
        "other-tool.qdpx/project.qde:30: case 'Personne' refers to no source: its 1 value left "
        "out",
        "1 coding of codes the file does not define left out",
        "1 coding(s) of whole sources left out (qcode codes passages)",
        "1 PDF source(s) left out (qcode reads text sources only)",
        "1 link(s) left out (qcode has no links)",
        "1 set(s) left out (qcode has no sets)",
        "the project's description left out",
        "rich text formatting of 1 source(s) dropped (their plain text is read)",
        "1 coding(s) by a user the file does not name: coder 'unknown'",
        "1 selection(s) without a code (comments) left out",
    ]
    assert codings_of(project_dir) == Counter({
        ("Entretien", "On s'est retrouvés pendant le confinement.", "entraide", "MB"): 1,
        ("Entretien", "On s'est retrouvés pendant le confinement.", "mairie", "unknown"): 1,
        ("Entretien-2", "Le café du coin", "entraide", "Claire Morel"): 1,  # NFC now
        ("Entretien-2", "L'été, on sort les tables.", "mairie", "MB"): 1,
    })
    first = (project_dir / "transcripts" / "Entretien.txt").read_text(encoding="utf-8")
    assert first.startswith("Enquêtrice") and "\ufeff" not in first
    assert memos_of(project_dir) == Counter({
        ("project", "", "Claire Morel", "Journal de terrain : deux visites."): 1,
        ("transcript", "Entretien", "Claire Morel", "Entretien court, à compléter."): 1,
        ("transcript", "Entretien", "Claire Morel",
         "[99:116] « Les voisins du 12 »\nVérifier le numéro de la rue."): 1,
        ("code", "entraide", "Claire Morel", "Code à scinder ?"): 1,
        ("coding", "Entretien|On s'est retrouvés pendant le confinement.|entraide|MB", "MB",
         "Le confinement comme déclencheur."): 1,
    })
    assert attributes_of(project_dir) == {"Entretien": {"Rôle": "membre", "Âge": "34"},
                                          "Entretien-2": {}}
    assert (project_dir / "transcripts" / "attributes.csv").read_text(encoding="utf-8") == (
        "id,Rôle,Âge\nEntretien,membre,34\n")
    book = load_valid(project_dir / "codebooks" / "codebook.yaml")
    assert [(c.id, c.label, c.codable, c.color) for c in book.walk()] == [
        ("thèmes", "Thèmes", False, None), ("entraide", "Entraide", True, "#FF0000"),
        ("mairie", "Mairie", True, None)]
    assert book.codes["mairie"].guid == "7c1f2a8b-3d4e-4f60-9b1c-2d3e4f5a6b7c"


def test_nvivo_project_shipped_with_qc(empty_project: Path) -> None:
    """A real NVivo for Mac export (qc's test fixture): empty sources, rich text, a codebook
    with duplicate names."""
    try:
        from importlib.resources import files

        nvivo = Path(str(files("qualitative_coding") / "refi_qda" / "nvivo_project.qdpx"))
    except ModuleNotFoundError:
        pytest.skip("qualitative-coding is not installed")
    if not nvivo.is_file():
        pytest.skip("qc's NVivo fixture is not there")
    result = qcode("import", "qdpx", str(nvivo), cwd=empty_project)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(nvivo) as archive:
        codes = ET.fromstring(archive.read("project.qde")).iter(f"{{{PROJECT_NS}}}Code")
        count = sum(1 for _ in codes)
    book = load_valid(empty_project / "codebooks" / "codebook.yaml")
    assert len(book.codes) == count == 262
    assert "note: 'programming' gets" not in result.stderr
    assert ("note: project.qde line 1: 'programming' gets the id 'programming-2' "
            "('programming' is taken)") in result.stderr
    assert "note: source '66653866-6334-3535-3435-366637306566' has no text: left out" in \
        result.stderr
    assert "written by NVivo for Mac 15.0.0" in (
        empty_project / "codebooks" / "codebook.yaml").read_text(encoding="utf-8")


def test_a_source_without_speaker_labels(empty_project: Path, tmp_path: Path) -> None:
    """Stored as it is, one turn per paragraph; a later ingest finds its file unchanged."""
    text = ("Le quartier a changé depuis 2020.\n\nLes voisins se parlent plus.\n"
            "Surtout dans la cour.\n")
    start = text.index("Les voisins")
    qde = (f'<?xml version="1.0" encoding="utf-8"?>\n<Project xmlns="{PROJECT_NS}" name="x">'
           '<Users><User guid="aaaaaaaa-0000-4000-8000-000000000001" name="Léa"/></Users>'
           '<CodeBook><Codes><Code guid="aaaaaaaa-0000-4000-8000-000000000002" name="Liens" '
           'isCodable="true"/></Codes></CodeBook><Sources>'
           '<TextSource guid="aaaaaaaa-0000-4000-8000-000000000003" name="Notes de terrain.txt" '
           'plainTextPath="internal://aaaaaaaa-0000-4000-8000-000000000003.txt">'
           f'<PlainTextSelection guid="aaaaaaaa-0000-4000-8000-000000000004" '
           f'startPosition="{start}" endPosition="{start + 27}" '
           'creatingUser="aaaaaaaa-0000-4000-8000-000000000001"><Coding '
           'guid="aaaaaaaa-0000-4000-8000-000000000005" creatingUser="aaaaaaaa-0000-4000-8000-'
           '000000000001"><CodeRef targetGUID="aaaaaaaa-0000-4000-8000-000000000002"/></Coding>'
           '</PlainTextSelection></TextSource></Sources></Project>\n')
    path = tmp_path / "terrain.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", qde)
        archive.writestr("sources/aaaaaaaa-0000-4000-8000-000000000003.txt", text)
    report = import_json(empty_project, path)
    assert report["transcripts_added"] == ["Notes-de-terrain"]
    assert report["notes"] == [
        "1 source ('Notes-de-terrain') read as one turn per paragraph, without speaker: no "
        "speaker labels found at the start of paragraphs"]
    assert codings_of(empty_project) == Counter({
        ("Notes-de-terrain", "Les voisins se parlent plus", "liens", "Léa"): 1})
    (row,) = listing(empty_project, "transcripts", "list")
    assert (row["turns"], row["speakers"]) == (3, 1)
    again = qcode("ingest", cwd=empty_project)
    assert again.returncode == 0 and again.stderr.splitlines()[-1] == "ingest: 1 unchanged"
    summary = qcode("import", "qdpx", str(path), "-f", "csv", cwd=empty_project)
    assert summary.returncode == 0
    assert summary.stdout.splitlines() == [
        "transcripts_added,transcripts_matched,codings_added,codings_present,memos_added,"
        "attributes_set,coders,codebook,codes_matched,codes_unmatched",
        "0,1,0,1,0,0,Léa,existing,1,0"]


# --- hostile and broken files -----------------------------------------------------------------


@pytest.mark.parametrize(("name", "message"), [
    ("billion-laughs.qdpx", "billion-laughs.qdpx/project.qde:3: refused: the file declares the "
     "XML entity 'a' (a project never needs them: they are refused to stop entity-expansion and "
     "external-entity attacks)"),
    ("external-entity.qdpx", "external-entity.qdpx/project.qde:3: refused: the file declares the "
     "XML external entity 'secret'"),
    ("traversal.qdpx", "traversal.qdpx: refused REFI-QDA project: the member "
     "'sources/../../outside.txt' points outside the archive (path traversal)"),
    ("zip-bomb.qdpx", "zip-bomb.qdpx: refused REFI-QDA project: member 'sources/big.txt' expands "
     "3145728 bytes from"),
    ("no-namespace.qdpx", "no-namespace.qdpx/project.qde:2: not a REFI-QDA project: the root "
     "element <Project> has no namespace, not urn:QDA-XML:project:1.0"),
    ("not-a-zip.qdpx", "not-a-zip.qdpx: not a readable REFI-QDA project (ZIP) file: File is not "
     "a zip file (a .qdpx is a ZIP archive; this file is not one, whatever its extension says)"),
    ("no-project.qdpx", "no-project.qdpx: not a REFI-QDA project: no .qde file in the archive"),
])
def test_hostile_and_broken_files_are_refused(empty_project: Path, name: str,
                                              message: str) -> None:
    shutil.copy(QDPX / name, empty_project / name)
    result = qcode("import", "qdpx", name, cwd=empty_project)
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {message}")
    assert sorted(p.name for p in (empty_project / "transcripts").iterdir()) == []
    assert not (empty_project / "codebooks" / "codebook.yaml").exists()
    assert listing(empty_project, "transcripts", "list") == []
    assert not (empty_project.parent / "outside.txt").exists()


def test_size_limits_of_the_project(empty_project: Path) -> None:
    config = empty_project / "qcode.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("max_unzipped_mb: 200", "max_unzipped_mb: 0.001"),
                      encoding="utf-8")
    result = qcode("import", "qdpx", str(QDPX / "other-tool.qdpx"), cwd=empty_project)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {QDPX / 'other-tool.qdpx'}: refused REFI-QDA "
                                    "project: ")
    assert "bytes once unzipped, the limit is 1048" in result.stderr
    config.write_text(text.replace("max_file_mb: 50", "max_file_mb: 0.001"), encoding="utf-8")
    result = qcode("import", "qdpx", str(QDPX / "other-tool.qdpx"), cwd=empty_project)
    assert result.returncode == 1 and "file too large (2354 bytes, the limit is 1048)" in \
        result.stderr


def test_a_missing_file(empty_project: Path) -> None:
    result = qcode("import", "qdpx", "nowhere.qdpx", cwd=empty_project)
    assert (result.returncode, result.stderr) == (1, "error: nowhere.qdpx: no such file\n")


# --- into a project that has a codebook, and atomicity ----------------------------------------


def test_into_an_existing_codebook(project_dir: Path) -> None:
    """Codes matched by qcode-id, GUID, then name; codings of other codes left out and
    reported; after adding the code, importing again adds only what was missing."""
    (project_dir / "codebooks" / "codebook.yaml").write_text(
        "themes:\n  - id: liens\n    label: Liens\n    codes:\n"
        "      - id: entraide-voisins\n        label: ENTRAIDE\n", encoding="utf-8")
    report = import_json(project_dir, QDPX / "crlf-two.qdpx")
    assert (report["codebook"], report["codes_matched"], report["codes_unmatched"]) == (
        "existing", 1, ["Thèmes", "Mairie"])
    assert report["notes"] == [
        "2 codes of the file are not in the project's codebook: 'Thèmes', 'Mairie'",
        "1 coding of code 'Mairie', which is not in the project's codebook, left out (add it "
        "with 'qcode codebook add', then import again)"]
    assert sorted(c[2] for c in codings_of(project_dir)) == ["entraide-voisins"] * 2
    added = qcode("codebook", "add", "mairie", "--label", "Mairie", "--parent", "liens",
                  cwd=project_dir)
    assert added.returncode == 0, added.stderr
    report = import_json(project_dir, QDPX / "crlf-two.qdpx")
    assert (report["codings_added"], report["codings_present"]) == (1, 2)
    assert report["transcripts_matched"] == ["Karim"]
    assert sorted(c[2] for c in codings_of(project_dir)) == [
        "entraide-voisins", "entraide-voisins", "mairie"]
    # by GUID: a code with another name but the file's GUID
    guid_book = project_dir / "codebooks" / "codebook.yaml"
    guid_book.write_text(guid_book.read_text(encoding="utf-8").replace(
        "label: Mairie", "label: Ville\n        guid: 7c1f2a8b-3d4e-4f60-9b1c-2d3e4f5a6b7c"),
        encoding="utf-8")
    report = import_json(project_dir, QDPX / "crlf-two.qdpx")
    assert report["codes_unmatched"] == ["Thèmes"] and report["codings_present"] == 3


def test_attribute_sheet_keeps_its_form(project_dir: Path) -> None:
    sheet = project_dir / "transcripts" / "attributes.csv"
    sheet.write_bytes("\ufeffid;Rôle;ville\r\nEntretien;porteur;\r\n".encode())
    report = import_json(project_dir, QDPX / "other-tool.qdpx")
    assert "transcript 'Entretien': Rôle is 'porteur' in the project and 'membre' in the file: " \
        "the project's kept" in report["notes"]
    assert sheet.read_bytes() == (
        b"\xef\xbb\xbfid;R\xc3\xb4le;ville;\xc3\x82ge\r\nEntretien;porteur;;34\r\n")
    assert attributes_of(project_dir)["Entretien"] == {"Rôle": "porteur", "Âge": "34"}


@pytest.mark.sqlite_only  # a lock held on the SQLite file
def test_a_failed_import_leaves_nothing(empty_project: Path) -> None:
    """The store cannot be written: the files written for the import are removed again."""
    project = load_project(empty_project)
    store = Store.open(project.store_location, busy_timeout_s=0.2)
    holder = sqlite3.connect(project.store_location, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="the store is busy"):
            import_qdpx(project, store, QDPX / "other-tool.qdpx")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert sorted(p.name for p in (empty_project / "transcripts").iterdir()) == []
    assert sorted(p.name for p in (empty_project / "codebooks").iterdir()) == []
    with store.read() as conn:
        from qcode.store.transcripts import transcript_ids

        assert transcript_ids(conn) == []
    store.close()
    report = import_qdpx(project, Store.open(project.store_location), QDPX / "other-tool.qdpx")
    assert report.transcripts_added == ["Entretien", "Entretien-2"]


def test_read_project_reports_the_place_of_malformed_xml(tmp_path: Path) -> None:
    path = tmp_path / "bad.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", f'<Project xmlns="{PROJECT_NS}" name="x">\n  <Users>\n'
                                        "</Project>\n")
    from qcode.errors import InputError
    from qcode.ingest.limits import Limits

    with pytest.raises(InputError) as caught:
        read_project(path.read_bytes(), path, Limits())
    assert str(caught.value) == f"{path}/project.qde:3:3: malformed XML: mismatched tag"


# --- a real peer: qc (qualitative-coding) -----------------------------------------------------


def qc_available() -> None:
    if shutil.which("qc") is None:
        pytest.skip("qc (qualitative-coding) is not installed")


def run_qc(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The qc command, non-interactive: its importer calls breakpoint(), which is disabled."""
    env = {**os.environ, "PYTHONBREAKPOINT": "0"}
    return subprocess.run(["qc", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120, check=False)


def qc_python(code: str, cwd: Path) -> Any:
    """Run ``code`` with qc's own API in ``cwd``; it prints one JSON document."""
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


COUNT_QC = """
import json
from qualitative_coding.corpus import QCCorpus
corpus = QCCorpus("settings.yaml")
with corpus.session():
    lines = [list(r) for r in corpus.get_coded_lines()]
    print(json.dumps({"counts": corpus.count_codes(), "lines": lines}))
"""


def test_qcode_export_imports_into_qc(project_dir: Path, tmp_path: Path) -> None:
    """The same number of coded passages per code in qc as in qcode."""
    qc_available()
    root = study_subset(project_dir)
    _project, store, book = opened(root)
    # two passages of one code by one coder in one transcript, on different lines
    coding.tag(store, book, coding.resolve(store, "HV01", "8"), ["isolement"], "alice")
    result = qcode("export", "qdpx", "--line-names", "for-qc.qdpx", cwd=root)
    assert result.returncode == 0, result.stderr
    qc_dir = tmp_path / "qc"
    qc_dir.mkdir()
    imported = run_qc(["init", "--import", str(root / "for-qc.qdpx")], qc_dir)
    assert imported.returncode == 0, imported.stderr + imported.stdout
    found = qc_python(COUNT_QC, qc_dir)
    ours = Counter(book.codes[r["code"]].label for r in listing(root, "codings", "list"))
    assert found["counts"] == dict(ours)
    assert sum(ours.values()) == 9
    # and on the lines of the passages (qc counts lines from 0)
    with store.read() as conn:
        from qcode.store.qdpx import texts

        text = texts(conn)
    expected = sorted((book.codes[r["code"]].label, r["coder"],
                       text[r["transcript"]].count("\n", 0, r["start"]), f"{r['transcript']}.txt")
                      for r in listing(root, "codings", "list"))
    assert sorted(map(tuple, found["lines"])) == expected


MAKE_QC_PROJECT = """
import json
from pathlib import Path
from qualitative_coding.corpus import QCCorpus
QCCorpus.initialize("settings.yaml")
Path("interview.txt").write_bytes(
    "Interviewer: Bonjour.\\r\\n\\r\\nKarim: On s’entraide beaucoup ici.\\r\\nVraiment, "
    "tout le temps.\\r\\n\\r\\nInterviewer: Et la mairie ?\\r\\n\\r\\nKarim: Rien du tout, "
    "la mairie.\\r\\n".encode("utf-8"))
corpus = QCCorpus("settings.yaml")
with corpus.session():
    corpus.import_media(Path("interview.txt"), importer="verbatim")
    corpus.update_coded_lines("interview.txt", "alice", [
        {"line": 2, "code_id": "entraide"}, {"line": 3, "code_id": "entraide"},
        {"line": 7, "code_id": "mairie"}])
    corpus.update_coded_lines("interview.txt", "bob", [{"line": 2, "code_id": "entraide"}])
    print(json.dumps([list(r) for r in corpus.get_coded_lines()]))
"""


def test_qc_export_imports_into_qcode(tmp_path: Path, project_dir: Path) -> None:
    """A qc project with coded text (CRLF lines; qc counts \\r\\n as one character) → qc's own
    .qdpx → qcode: every coded line, by its coder, with its code."""
    qc_available()
    qc_dir = tmp_path / "qc"
    qc_dir.mkdir()
    coded = qc_python(MAKE_QC_PROJECT, qc_dir)
    exported = run_qc(["export", "out.qdpx"], qc_dir)
    assert exported.returncode == 0, exported.stderr
    lines = (qc_dir / "corpus" / "interview.txt").read_bytes().decode("utf-8").split("\r\n")
    report = import_json(project_dir, qc_dir / "out.qdpx")
    assert report["origin"].startswith("qc ")
    assert report["notes"] == ["source 'interview.txt': counts \\r\\n as one character"]
    assert report["codebook"] == "written" and report["coders"] == ["alice", "bob"]
    assert Counter((r["code"], r["coder"], r["quote"]) for r in listing(
        project_dir, "codings", "list")) == Counter(
        (code, coder, lines[line] + "\n") for code, coder, line, _doc in coded)
