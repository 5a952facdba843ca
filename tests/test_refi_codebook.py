"""REFI-QDA codebook exchange (.qdc): export, import, round trips, hostile files, the CLI."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qcode.codebook import Code, Codebook, load, load_valid
from qcode.errors import InputError, NotFoundError, ValidationError
from qcode.refi import (
    CODEBOOK_NS,
    QCODE_GUID_NAMESPACE,
    codebook_description,
    codebook_export_notes,
    codebook_to_qdc,
    parse_description,
    qdc_to_codebook_yaml,
    read_qdc,
    read_qdc_file,
    slugify,
)
from tests.conftest import FIXTURES, REPO, qcode

REFI = FIXTURES / "refi"
CODEBOOK = REFI / "codebook.yaml"
OTHER_TOOL = REFI / "other-tool.qdc"
SCHEMAS = Path(__file__).resolve().parents[1].parent / "shared" / "refi-qda"
STUDY_CODEBOOK = REPO / "codebooks" / "voisinage-resilience.yaml"
DAY = dt.date(2024, 5, 1)
NS = {"q": CODEBOOK_NS}

KEYWORD_NOTES = [
    "REFI-QDA has no field for keywords: those of 1 code(s) are not in the .qdc (they stay in "
    "the YAML)",
    "REFI-QDA has no field for quick-tagging keys: those of 1 code(s) are not in the .qdc (they "
    "stay in the YAML)",
]
OTHER_TOOL_NOTES = [
    "1 code set(s) not carried (qcode has no code sets): 'À revoir en équipe'",
    "line 17: 'Autre' gets the id 'autre-2' ('autre' is taken)",
]


@pytest.fixture(scope="module")
def schema() -> Any:
    xsd = SCHEMAS / "Codebook.xsd"
    if not xsd.is_file():
        pytest.skip(f"REFI-QDA schemas not present ({SCHEMAS})")
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(xsd)))


def assert_valid(schema: Any, data: bytes) -> None:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    if not schema.validate(etree.fromstring(data, parser)):
        raise AssertionError(str(schema.error_log))


def export(path: Path = CODEBOOK, language: str | None = None) -> bytes:
    return codebook_to_qdc(load_valid(path), language=language)


def codes_by_name(data: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(data)
    return {el.attrib["name"]: el for el in root.iter(f"{{{CODEBOOK_NS}}}Code")}


def description(element: ET.Element) -> str:
    found = element.find("q:Description", NS)
    assert found is not None and found.text is not None
    return found.text


def import_to(tmp_path: Path, data: bytes, name: str = "imported") -> tuple[Path, list[str]]:
    text, notes = qdc_to_codebook_yaml(data, tmp_path / f"{name}.qdc", imported_on=DAY)
    out = tmp_path / f"{name}.yaml"
    out.write_text(text, encoding="utf-8")
    return out, notes


def summary(book: Codebook) -> list[tuple[Any, ...]]:
    return [(c.id, c.label, c.parent, c.depth, c.description, c.include, c.exclude,
             [e.strip() for e in c.examples], c.color, c.codable) for c in book.walk()]


# --- export -----------------------------------------------------------------------------------


def test_export_validates_against_the_schema(schema: Any) -> None:
    assert_valid(schema, export())


def test_export_header_and_root() -> None:
    data = export()
    assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n'
                           b'<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="qcode 0.1.0">\n'
                           b"  <Codes>\n")
    assert data.endswith(b"</CodeBook>\n")


def test_guids_are_stable_across_exports_and_derived_from_the_ids() -> None:
    first, second = export(), export()
    assert first == second
    guids = {name: el.attrib["guid"] for name, el in codes_by_name(first).items()}
    assert guids["Gouvernance"] == str(uuid.uuid5(QCODE_GUID_NAMESPACE, "gouvernance"))
    assert guids["Élection des co-président·es"] == str(uuid.uuid5(QCODE_GUID_NAMESPACE,
                                                                    "élection"))
    assert len(set(guids.values())) == len(guids)


def test_a_guid_field_is_exported_as_is(tmp_path: Path) -> None:
    path = tmp_path / "cb.yaml"
    path.write_text("themes:\n  - id: a\n    label: A\n"
                    "    guid: '{6F9619FF-8B86-D011-B42D-00C04FC964FF}'\n", encoding="utf-8")
    assert codes_by_name(export(path))["A"].attrib["guid"] == \
        "6f9619ff-8b86-d011-b42d-00c04fc964ff"


def test_two_codes_with_one_guid_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "cb.yaml"
    guid = "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    path.write_text(f"themes:\n  - id: a\n    label: A\n    guid: {guid}\n"
                    f"  - id: b\n    label: B\n    guid: {guid}\n", encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        export(path)
    assert str(err.value) == (
        f"{path}:5: codes 'a' (line 2) and 'b' have the same GUID {guid} (remove the 'guid:' of "
        "one of them; a new one is derived from its id)")


def test_folders_are_not_codable() -> None:
    codable = {name: el.attrib["isCodable"] for name, el in codes_by_name(export()).items()}
    assert codable == {
        "Gouvernance": "false",  # a theme: a folder by default
        "Instances et prise de décision": "true",
        "Co-présidence": "true",
        "Élection des co-président·es": "true",
        "Conflits et médiation": "true",
        "Santé & soin": "true",  # a theme declared codable
        "Dossiers thématiques": "false",  # a code declared as a folder
        "Isolement des aînés": "true",
        "Relations avec la mairie": "true",
    }


def test_colours_are_rrggbb_and_optional() -> None:
    colours = {name: el.attrib.get("color") for name, el in codes_by_name(export()).items()}
    assert colours["Gouvernance"] == "#4E79A7"
    assert colours["Instances et prise de décision"] == "#F28E2B"  # '#f28e2b' in the YAML
    assert colours["Conflits et médiation"] is None
    assert all(c is None or re.fullmatch(r"#[0-9A-F]{6}", c) for c in colours.values())


def test_accents_are_intact_utf8_bytes() -> None:
    data = export()
    for text in ("Élection des co-président·es", "Santé &amp; soin", "« elle ne sortait plus »",
                 "les lieux où l’on décide", "Comment l'initiative décide &amp; qui décide "
                 "&lt;vraiment&gt;.", "(→ mairie)"):
        assert text.encode("utf-8") in data
    assert b"&#" not in data  # no character references: real UTF-8


def test_description_carries_criteria_examples_and_the_id() -> None:
    codes = codes_by_name(export())
    assert description(codes["Instances et prise de décision"]) == (
        "Bureau, AG, collectif : les lieux où l’on décide.\n\n"
        "Les décisions prises « en passant » comptent aussi.\n\n"
        "Inclure : Mentions des instances formelles ou informelles de décision.\n\n"
        "Exclure : Les réunions avec la mairie (→ mairie).\n\n"
        "Exemples :\n"
        "- « on a fait une AG en septembre, dans le square »\n"
        "- « le bureau, c'est nous trois »\n\n"
        "qcode-id: instances")
    assert description(codes["Élection des co-président·es"]) == (
        "Exemples :\n- « on a voté à main levée,\n  tout le monde était d'accord »\n\n"
        "qcode-id: élection")
    assert description(codes["Dossiers thématiques"]) == "qcode-id: dossiers"


def test_english_labels_for_another_language(tmp_path: Path) -> None:
    path = tmp_path / "cb.yaml"
    path.write_text("language: en\nthemes:\n  - id: ties\n    label: Ties\n    include: x\n"
                    "    exclude: y\n    examples: [z]\n", encoding="utf-8")
    assert description(codes_by_name(export(path))["Ties"]) == \
        "Include: x\n\nExclude: y\n\nExamples:\n- z\n\nqcode-id: ties"
    # the project's language is used when the codebook does not name one
    path.write_text("themes:\n  - id: ties\n    label: Ties\n    include: x\n", encoding="utf-8")
    assert description(codes_by_name(export(path, "en"))["Ties"]) == \
        "Include: x\n\nqcode-id: ties"


def test_characters_xml_cannot_hold_are_left_out(tmp_path: Path, schema: Any) -> None:
    path = tmp_path / "cb.yaml"
    path.write_text('themes:\n  - id: a\n    label: "A\\x0bB"\n    description: "x\\x01y"\n',
                    encoding="utf-8")
    data = export(path)
    assert_valid(schema, data)
    assert description(codes_by_name(data)["AB"]) == "xy\n\nqcode-id: a"


def test_export_notes_what_refi_cannot_carry() -> None:
    assert codebook_export_notes(load_valid(CODEBOOK)) == KEYWORD_NOTES


def test_a_codebook_without_codes_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("name: vide\nthemes: []\n", encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        export(path)
    assert str(err.value) == (f"{path}: the codebook has no codes: a .qdc file needs at least "
                              "one (add a theme under 'themes:')")


def test_the_study_codebook_exports_valid_refi(schema: Any, tmp_path: Path) -> None:
    if not STUDY_CODEBOOK.is_file():
        pytest.skip(f"the study's codebook is not there yet ({STUDY_CODEBOOK})")
    book = load_valid(STUDY_CODEBOOK)
    data = codebook_to_qdc(book)
    assert_valid(schema, data)
    assert len(ET.fromstring(data).findall(".//q:Code", NS)) == len(book.codes)
    out, notes = import_to(tmp_path, data)
    back = load(out)
    assert (notes, back.problems) == ([], [])
    assert summary(back) == summary(book)
    assert codebook_to_qdc(back) == data


# --- round trip -------------------------------------------------------------------------------


def test_yaml_qdc_yaml_round_trip_keeps_everything_refi_can_carry(tmp_path: Path) -> None:
    original = load_valid(CODEBOOK)
    first = codebook_to_qdc(original)
    out, notes = import_to(tmp_path, first)
    assert notes == []
    back = load(out)
    assert back.problems == []
    assert summary(back) == summary(original)
    assert back.language == "fr"
    # every code keeps the GUID it was exported with, so the next export is byte-identical
    assert all(c.guid == str(uuid.uuid5(QCODE_GUID_NAMESPACE, c.id)) for c in back.walk())
    assert codebook_to_qdc(back) == first


def test_round_trip_with_english_labels(tmp_path: Path) -> None:
    path = tmp_path / "cb.yaml"
    path.write_text("language: en\nthemes:\n  - id: ties\n    label: Ties\n"
                    "    description: Kinds of ties.\n    include: x\n    exclude: y\n"
                    "    examples: [z, w]\n    codes:\n      - { id: weak, label: Weak ties }\n",
                    encoding="utf-8")
    original = load_valid(path)
    first = codebook_to_qdc(original)
    out, _ = import_to(tmp_path, first)
    back = load_valid(out)
    assert summary(back) == summary(original)
    assert back.language == "en"
    assert codebook_to_qdc(back) == first


def test_imported_yaml_is_readable(tmp_path: Path) -> None:
    text, _ = qdc_to_codebook_yaml(export(), tmp_path / "cb.qdc", imported_on=DAY)
    assert text.startswith(
        "# Codebook imported by qcode 0.1.0 from cb.qdc (REFI-QDA, written by qcode 0.1.0) on "
        "2024-05-01.\n# Each code keeps its REFI-QDA GUID in 'guid:', so that exports back to the "
        "other tool stay in step.\n\nlanguage: fr\nthemes:\n  - id: gouvernance\n"
        "    label: Gouvernance\n")
    assert '    color: "#4E79A7"\n' in text
    assert ("        description: |-\n"
            "          Bureau, AG, collectif : les lieux où l’on décide.\n\n"
            "          Les décisions prises « en passant » comptent aussi.\n") in text
    assert "  - id: santé\n    label: Santé & soin\n" in text
    assert "\\u" not in text and "\\x" not in text  # unicode written as is
    assert max(len(line) for line in text.splitlines()) < 130  # no wrapping, no huge lines either


# --- import from other tools ------------------------------------------------------------------


def test_the_other_tool_fixture_is_valid_refi(schema: Any) -> None:
    data = OTHER_TOOL.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data and b"&#233;" in data
    assert_valid(schema, data)


def test_import_of_another_tools_codebook(tmp_path: Path) -> None:
    result = read_qdc_file(OTHER_TOOL, imported_on=DAY)
    assert result.notes == OTHER_TOOL_NOTES
    assert (result.themes, result.codes) == (3, 6)
    assert "\r" not in result.yaml_text
    assert result.yaml_text.startswith(
        "# Codebook imported by qcode 0.1.0 from other-tool.qdc (REFI-QDA, written by ATLAS.ti "
        "23.2.1) on 2024-05-01.\n")
    out = tmp_path / "other.yaml"
    out.write_text(result.yaml_text, encoding="utf-8")
    book = load(out)
    assert book.problems == []
    tree = [(c.id, c.label, c.parent, c.codable, c.color) for c in book.walk()]
    assert tree == [
        ("vie-de-quartier", "Vie de quartier", None, False, None),
        ("réseaux-d-entraide", "Réseaux d’entraide", "vie-de-quartier", False, None),
        ("entraide", "Entraide", "réseaux-d-entraide", True, None),
        ("autre", "Autre", "réseaux-d-entraide", True, None),
        ("santé", "Santé", "vie-de-quartier", True, None),
        ("institutions", "Institutions", None, False, None),
        ("autre-2", "Autre", "institutions", True, None),
        ("mairie-élus", "Mairie & élus", "institutions", True, None),
        ("citations-fortes", "Citations fortes", None, True, None),
    ]
    assert book.codes["entraide"].description == \
        "Gestes d’aide entre voisins\u00a0: courses, garde d’enfants.\nDeuxième ligne."
    assert book.codes["autre-2"].description == "Autres institutions (bailleurs, État)."
    assert book.codes["entraide"].guid == "1c2b3a4d-6e5f-4a7b-9c8d-0e1f2a3b4c5d"
    # the themes are folders by default: 'codable:' is written only where it differs
    assert "codable: false" not in result.yaml_text.split("- id: réseaux-d-entraide")[0]
    assert result.yaml_text.count("codable: true") == 1  # 'Citations fortes', a codable theme


def test_reexport_of_an_import_keeps_the_other_tools_guids(tmp_path: Path, schema: Any) -> None:
    out, _ = import_to(tmp_path, OTHER_TOOL.read_bytes())
    data = codebook_to_qdc(load_valid(out))
    assert_valid(schema, data)
    source = re.findall(r'<Code guid="\{([0-9A-F-]+)\}"', OTHER_TOOL.read_text("utf-8-sig"))
    exported = [el.attrib["guid"] for el in ET.fromstring(data).iter(f"{{{CODEBOOK_NS}}}Code")]
    assert exported == [g.lower() for g in source]
    assert codes_by_name(data)["Réseaux d’entraide"].attrib["isCodable"] == "false"


def _qdc(codes: str, root: str = f'<CodeBook xmlns="{CODEBOOK_NS}">', tail: str = "") -> bytes:
    return (f'<?xml version="1.0"?>\n{root}\n<Codes>\n{codes}\n</Codes>\n{tail}</CodeBook>\n'
            ).encode()


def test_a_root_without_the_namespace_is_read_with_a_note(tmp_path: Path) -> None:
    data = _qdc('<Code guid="9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d" name="A" isCodable="true"/>',
                root="<CodeBook>")
    out, notes = import_to(tmp_path, data)
    assert notes == [f"the root element has no namespace, not {CODEBOOK_NS}: read anyway (strict "
                     "importers refuse such files)"]
    assert list(load_valid(out).codes) == ["a"]


def test_what_cannot_be_kept_is_dropped_with_a_note(tmp_path: Path) -> None:
    g = "9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2"
    data = _qdc(
        f'<Code guid="{g}0" name="Court" isCodable="true" color="#abc"/>\n'
        f'<Code guid="{g}1" name="Rouge" isCodable="true" color="red"/>\n'
        f'<Code guid="{g}1" name="Même GUID" isCodable="true" color="#FF112233"/>\n'
        f'<Code guid="pas-un-guid" name="Vrai ?" isCodable="oui"/>\n'
        f'<Code guid="{g}2" name="Sans"><Memo>x</Memo></Code>\n'
        f'<Code guid="{g}3" name="  "><Description>qcode-id: court</Description></Code>\n'
        f'<Code guid="{g}4" name="Id"><Description>qcode-id: pas un id!</Description></Code>\n',
        tail="<Notes/>\n")
    out, notes = import_to(tmp_path, data)
    assert notes == [
        "line 5: 'Rouge': colour 'red' is not #RRGGBB: dropped",
        "line 6: 'Même GUID' has the GUID of the code at line 5: qcode derives a new one from "
        "its id",
        "line 6: 'Même GUID': colour '#FF112233' is not #RRGGBB: dropped",
        "line 7: 'Vrai ?' has isCodable='oui': read as codable",
        "line 7: 'Vrai ?' has an invalid GUID 'pas-un-guid': qcode derives one from its id",
        "line 8: 'Sans' has no isCodable: read as codable",
        "line 9: a code without a name has no isCodable: read as codable",
        "line 10: 'Id' has no isCodable: read as codable",
        "line 8: <Memo> ignored (not part of a REFI-QDA codebook)",
        "line 13: <Notes> ignored (not part of a REFI-QDA codebook)",
        "line 10: 'Id': qcode-id 'pas un id!' is not a valid id: a new one is made from the name",
        "line 4: 'Court' gets the id 'court-2' ('court' is taken)",
        "line 9: a code without a name: labelled with its id 'court'",
    ]
    book = load_valid(out)
    assert [(c.id, c.label, c.color, c.guid is None) for c in book.walk()] == [
        ("court-2", "Court", "#AABBCC", False),
        ("rouge", "Rouge", None, False),
        ("même-guid", "Même GUID", None, True),
        ("vrai", "Vrai ?", None, True),
        ("sans", "Sans", None, False),
        ("court", "court", None, False),  # a nameless code keeps its qcode-id, labelled by it
        ("id", "Id", None, False),
    ]


def test_qcode_ids_win_over_slugs_and_stay_unique(tmp_path: Path) -> None:
    g = "9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2"
    data = _qdc(
        f'<Code guid="{g}0" name="Santé" isCodable="true"/>\n'
        f'<Code guid="{g}1" name="Soin" isCodable="true">'
        "<Description>qcode-id: santé</Description></Code>\n"
        f'<Code guid="{g}2" name="Copie" isCodable="true">'
        "<Description>Copie.\n\nqcode-id: santé</Description></Code>\n")
    out, notes = import_to(tmp_path, data)
    assert notes == [
        "line 6: 'Copie': qcode-id 'santé' is also the id of the code at line 5: a new one is "
        "made from the name",
        "line 4: 'Santé' gets the id 'santé-2' ('santé' is taken)",
    ]
    assert [(c.id, c.label) for c in load_valid(out).walk()] == [
        ("santé-2", "Santé"), ("santé", "Soin"), ("copie", "Copie")]


@pytest.mark.parametrize(("name", "slug"), [
    ("Santé", "santé"), ("Santé & soin", "santé-soin"),
    ("Réseaux d’entraide", "réseaux-d-entraide"),
    ("  L'AG (assemblée générale) ", "l-ag-assemblée-générale"), ("1.2 Instances", "1-2-instances"),
    ("mot/clé_x", "mot-clé-x"), ("Œuvre ÉLUE", "œuvre-élue"), ("???", ""),
])
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_descriptions_from_other_tools_are_parsed_leniently() -> None:
    parsed = parse_description("Définition.\r\n\r\nInclure\u00a0: a\r\nsuite\r\n\r\n"
                               "Exemple : une seule citation\r\n\r\nExclude: b\r\n")
    assert (parsed.description, parsed.include, parsed.exclude, parsed.examples,
            parsed.qcode_id) == ("Définition.", "a\nsuite", "b", ["une seule citation"], None)
    assert parsed.labels == {"fr", "en"}
    # a label inside a paragraph is text, not a section
    parsed = parse_description("Il faut inclure : tout.\nExclure : rien.")
    assert parsed.description == "Il faut inclure : tout.\nExclure : rien."


def test_not_a_codebook(tmp_path: Path) -> None:
    path = tmp_path / "project.qde"
    with pytest.raises(InputError) as err:
        read_qdc(b'<?xml version="1.0"?>\n<Project xmlns="urn:QDA-XML:project:1.0"/>', path)
    assert str(err.value) == (f"{path}:2: not a REFI-QDA codebook: the root element is "
                              "<Project>, not <CodeBook> (it is a REFI-QDA project: export its "
                              "codebook as .qdc from the other tool)")
    with pytest.raises(InputError, match="a ZIP archive"):
        read_qdc(b"PK\x03\x04rest", tmp_path / "p.qdpx")
    with pytest.raises(InputError) as err:
        read_qdc(_qdc("").replace(b"<Codes>\n\n</Codes>", b"<Codes/>"), tmp_path / "e.qdc")
    assert str(err.value) == f"{tmp_path / 'e.qdc'}:2: no codes in the codebook: nothing to import"
    with pytest.raises(InputError) as err:
        read_qdc(b"", tmp_path / "empty.qdc")
    assert str(err.value) == f"{tmp_path / 'empty.qdc'}:1:1: malformed XML: no element found"
    with pytest.raises(NotFoundError):
        read_qdc_file(tmp_path / "missing.qdc")


def test_codes_nested_absurdly_deep_are_refused(tmp_path: Path) -> None:
    code = '<Code guid="9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d" name="x" isCodable="true">'
    data = _qdc(code * 500 + "</Code>" * 500)
    with pytest.raises(InputError, match="codes nested more than 100 levels deep"):
        read_qdc(data, tmp_path / "deep.qdc")


# --- hostile files ----------------------------------------------------------------------------

REFUSED_HINT = ("(a codebook never needs them: they are refused to stop entity-expansion and "
                "external-entity attacks)")


def test_billion_laughs_is_refused_quickly() -> None:
    path = REFI / "billion-laughs.qdc"
    start = time.perf_counter()
    with pytest.raises(InputError) as err:
        read_qdc_file(path)
    assert time.perf_counter() - start < 1
    assert str(err.value) == \
        f"{path}:3: refused: the file declares the XML entity 'lol' {REFUSED_HINT}"


def test_external_entities_are_refused() -> None:
    path = REFI / "external-entity.qdc"
    with pytest.raises(InputError) as err:
        read_qdc_file(path)
    assert str(err.value) == \
        f"{path}:3: refused: the file declares the XML external entity 'secret' {REFUSED_HINT}"


def test_a_truncated_file_gives_the_line() -> None:
    path = REFI / "truncated.qdc"
    with pytest.raises(InputError) as err:
        read_qdc_file(path)
    assert str(err.value) == f"{path}:7:5: malformed XML: unclosed token"


def test_an_undefined_entity_gives_the_line(tmp_path: Path) -> None:
    data = _qdc('<Code guid="9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d" name="Sant&eacute;" '
                'isCodable="true"/>')
    with pytest.raises(InputError) as err:
        read_qdc(data, tmp_path / "html.qdc")
    assert str(err.value) == f"{tmp_path / 'html.qdc'}:4:1: malformed XML: undefined entity"


# --- properties -------------------------------------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn"),
                              blacklist_characters="\u2028\u2029\x85") | st.just("\n"),
                max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(definition=_TEXT, include=_TEXT, exclude=_TEXT, examples=st.lists(_TEXT, max_size=3))
def test_description_fields_survive_the_round_trip(definition: str, include: str, exclude: str,
                                                   examples: list[str]) -> None:
    definition, include, exclude = definition.strip(), include.strip(), exclude.strip()
    for text in (definition, include, exclude, *examples):
        lines = text.split("\n")
        assume(not any(re.match(r"(?i)\s*(inclu|exclu|exem|examp|qcode-id)", line)
                       for line in lines))
    code = Code(id="x", label="X", description=definition, include=include, exclude=exclude,
                examples=examples)
    parsed = parse_description(codebook_description(code))
    assert (parsed.description, parsed.include, parsed.exclude, parsed.qcode_id) == \
        (definition, include, exclude, "x")
    assert parsed.examples == [e.strip() for e in examples if e.strip()]


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.tuples(_TEXT, _TEXT, st.integers(0, 2)), min_size=1, max_size=8))
def test_any_codebook_imports_to_a_valid_yaml(tmp_path: Path,
                                              names: list[tuple[str, str, int]]) -> None:
    root = ET.Element("CodeBook", {"xmlns": CODEBOOK_NS})
    codes = ET.SubElement(root, "Codes")
    stack = [codes]
    for i, (name, desc, depth) in enumerate(names):
        depth = min(depth, len(stack) - 1)
        del stack[depth + 1:]
        el = ET.SubElement(stack[-1], "Code", {"guid": str(uuid.uuid4()), "name": name,
                                               "isCodable": "true" if i % 2 else "false"})
        ET.SubElement(el, "Description").text = desc
        stack.append(el)
    out, _ = import_to(tmp_path, ET.tostring(root, encoding="utf-8"))
    book = load(out)
    assert [str(p) for p in book.errors] == []
    assert [re.sub(r"[ \t\r\n]+", " ", n).strip() or c.id for (n, _, _), c
            in zip(names, book.walk(), strict=True)] == [c.label for c in book.walk()]


# --- the command line -------------------------------------------------------------------------


@pytest.fixture
def study(project_dir: Path) -> Path:
    shutil.copy(CODEBOOK, project_dir / "codebooks" / "codebook.yaml")
    return project_dir


def _notes(notes: list[str]) -> str:
    return "".join(f"note: {n}\n" for n in notes)


def test_cli_export_writes_the_exports_folder(study: Path) -> None:
    result = qcode("codebook", "export", "--format", "qdc", cwd=study)
    dest = study / "exports" / "codebook.qdc"
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == _notes(KEYWORD_NOTES) + f"wrote {dest} (2 themes, 7 codes)\n"
    assert dest.read_bytes() == export(study / "codebooks" / "codebook.yaml")
    assert sorted(p.name for p in dest.parent.iterdir()) == ["codebook.qdc"]  # no temp file
    again = qcode("codebook", "export", cwd=study)  # qdc is the default; overwrites
    assert again.returncode == 0, again.stderr
    assert dest.read_bytes() == export(study / "codebooks" / "codebook.yaml")


def test_cli_export_to_stdout(study: Path) -> None:
    result = qcode("codebook", "export", "-f", "qdc", "-", cwd=study)
    assert result.returncode == 0
    assert result.stdout == export(study / "codebooks" / "codebook.yaml").decode("utf-8")
    assert result.stderr == _notes(KEYWORD_NOTES)
    assert list((study / "exports").iterdir()) == []


def test_cli_export_to_a_file_or_a_folder(study: Path, tmp_path: Path) -> None:
    result = qcode("codebook", "export", str(tmp_path / "out" / "mine.qdc"), cwd=study)
    assert result.returncode == 0, result.stderr
    assert result.stderr.endswith(f"wrote {tmp_path / 'out' / 'mine.qdc'} (2 themes, 7 codes)\n")
    result = qcode("codebook", "export", str(tmp_path / "out"), cwd=study)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "codebook.qdc").read_bytes() == \
        (tmp_path / "out" / "mine.qdc").read_bytes()


def test_cli_export_refuses_other_formats(study: Path) -> None:
    result = qcode("codebook", "export", "--format", "xml", cwd=study)
    assert result.returncode == 2
    assert "'xml' is not one of 'qdc'" in result.stderr
    assert result.stdout == ""


def test_cli_export_of_an_empty_or_invalid_codebook(study: Path) -> None:
    path = study / "codebooks" / "codebook.yaml"
    path.write_text("themes: []\n", encoding="utf-8")
    result = qcode("codebook", "export", cwd=study)
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == (f"error: {path}: the codebook has no codes: a .qdc file needs at "
                             "least one (add a theme under 'themes:')\n")
    path.write_text("themes:\n  - id: a\n    label: A\n    color: red\n", encoding="utf-8")
    result = qcode("codebook", "export", cwd=study)
    assert result.returncode == 3
    assert result.stderr.startswith(f"error: {path}:4:12: themes[0].color: invalid colour 'red'")
    assert not (study / "exports" / "codebook.qdc").exists()


def test_cli_import_writes_a_new_codebook_and_refuses_to_overwrite(study: Path,
                                                                   tmp_path: Path) -> None:
    source = tmp_path / "Entretiens NVivo.qdc"
    shutil.copy(OTHER_TOOL, source)
    dest = study / "codebooks" / "Entretiens NVivo.yaml"
    result = qcode("codebook", "import", str(source), cwd=study)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == _notes(OTHER_TOOL_NOTES) + (
        f"wrote {dest} (3 themes, 6 codes)\n"
        "qcode.yaml is unchanged: to use this codebook, set 'codebook: codebooks/Entretiens "
        "NVivo.yaml' in it\n")
    written = dest.read_text(encoding="utf-8")
    assert load(dest).problems == []
    assert "codebook: codebooks/codebook.yaml" in (study / "qcode.yaml").read_text("utf-8")

    again = qcode("codebook", "import", str(source), cwd=study)
    assert (again.returncode, again.stdout) == (1, "")
    assert again.stderr == (f"error: {dest} already exists (pass --force to overwrite it, or "
                            "--out to write another file)\n")
    assert dest.read_text(encoding="utf-8") == written

    forced = qcode("codebook", "import", str(source), "--force", cwd=study)
    assert forced.returncode == 0, forced.stderr
    assert sorted(p.name for p in dest.parent.iterdir()) == ["Entretiens NVivo.yaml",
                                                             "codebook.yaml"]


def test_cli_import_over_the_projects_codebook_says_to_sync(study: Path) -> None:
    result = qcode("codebook", "import", str(OTHER_TOOL), "--out", "codebooks/codebook.yaml",
                   "--force", cwd=study)
    assert result.returncode == 0, result.stderr
    assert result.stderr.endswith(
        "this is the project's codebook: 'qcode codebook sync' brings the store in line with "
        "it\n")


def test_cli_import_to_stdout(study: Path) -> None:
    result = qcode("codebook", "import", str(OTHER_TOOL), "--out", "-", cwd=study)
    assert result.returncode == 0
    assert result.stderr == _notes(OTHER_TOOL_NOTES)
    assert result.stdout.startswith("# Codebook imported by qcode 0.1.0 from other-tool.qdc")
    assert "  - id: autre-2\n" in result.stdout


def test_cli_import_outside_a_project_needs_out(tmp_path: Path) -> None:
    result = qcode("codebook", "import", str(OTHER_TOOL), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: not inside a qcode project")
    result = qcode("codebook", "import", str(OTHER_TOOL), "-o", "cb.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.endswith("wrote cb.yaml (3 themes, 6 codes)\nqcode.yaml is unchanged: "
                                  "to use this codebook, set 'codebook: cb.yaml' in it\n")
    assert load(tmp_path / "cb.yaml").problems == []


@pytest.mark.parametrize(("name", "message"), [
    ("billion-laughs.qdc", f":3: refused: the file declares the XML entity 'lol' {REFUSED_HINT}"),
    ("external-entity.qdc", ":3: refused: the file declares the XML external entity 'secret' "
     f"{REFUSED_HINT}"),
    ("truncated.qdc", ":7:5: malformed XML: unclosed token"),
    ("missing.qdc", ": no such file"),
])
def test_cli_import_of_a_bad_file_is_one_line(study: Path, name: str, message: str) -> None:
    result = qcode("codebook", "import", str(REFI / name), cwd=study)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"error: {REFI / name}{message}\n"
    assert sorted(p.name for p in (study / "codebooks").iterdir()) == ["codebook.yaml"]


def test_cli_round_trip_is_byte_identical(study: Path) -> None:
    first = qcode("codebook", "export", "first.qdc", cwd=study)
    assert first.returncode == 0, first.stderr
    imported = qcode("codebook", "import", "first.qdc", cwd=study)
    assert imported.returncode == 0, imported.stderr
    config = study / "qcode.yaml"
    config.write_text(config.read_text("utf-8").replace("codebooks/codebook.yaml",
                                                        "codebooks/first.yaml"), "utf-8")
    second = qcode("codebook", "export", "second.qdc", cwd=study)
    assert second.returncode == 0, second.stderr
    assert second.stderr == "wrote second.qdc (2 themes, 7 codes)\n"  # no keywords any more
    assert (study / "second.qdc").read_bytes() == (study / "first.qdc").read_bytes()
