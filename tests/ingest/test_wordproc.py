"""Word (.docx) and OpenDocument (.odt) readers: paragraphs, bold/heading signals, ZIP safety.

The documents are built here, by the functions below, with python-docx and odfpy (both test
dependencies): a fixture is then a readable recipe next to the test that uses it, rather than an
opaque binary; a few constructs those libraries cannot write (text boxes, tracked changes,
content controls, fields) are added as raw XML. ``tests/fixtures/ingest/docx`` and ``…/odt``
therefore hold no files.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_BREAK
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from odf import draw as odraw
from odf import office as ooffice
from odf import table as otable
from odf import teletype
from odf import text as otext
from odf.opendocument import OpenDocumentText
from odf.style import Style, TextProperties

from qcode.errors import InputError
from qcode.ingest.limits import Limits
from qcode.ingest.model import Paragraph, ParsedTranscript
from qcode.ingest.wordproc import (
    _open_zip,
    docx_paragraphs,
    odt_paragraphs,
    read_docx,
    read_odt,
)
from tests.ingest.invariants import assert_transcript_invariants

DOCX = Path("entretien.docx")
ODT = Path("entretien.odt")

P = Paragraph


def check_invariants(parsed: ParsedTranscript, fmt: str) -> None:
    assert_transcript_invariants(parsed, fmt)


def turns_of(parsed: ParsedTranscript) -> list[tuple[str, str]]:
    return [(t.speaker, parsed.text[t.start : t.end]) for t in parsed.turns]


# --- building .docx --------------------------------------------------------------------------

_NS = nsdecls("w", "wp", "a") + (
    ' xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    ' xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"'
    ' xmlns:v="urn:schemas-microsoft-com:vml"'
)


def docx_bytes(build: Callable[[Any], None]) -> bytes:
    document = docx.Document()
    build(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def raw_paragraph(document: Any, inner: str) -> None:
    """Append a ``<w:p>`` with raw XML content just before the section properties."""
    p = parse_xml(f"<w:p {_NS}>{inner}</w:p>")
    document.element.body.sectPr.addprevious(p)


def raw_block(document: Any, xml: str) -> None:
    document.element.body.sectPr.addprevious(parse_xml(xml))


def rewrite_zip(data: bytes, replace: dict[str, bytes | None]) -> bytes:
    """A copy of the archive with some members replaced (or removed, with None)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(
        out, "w", zipfile.ZIP_DEFLATED
    ) as dst:
        for info in src.infolist():
            if info.filename in replace:
                content = replace[info.filename]
                if content is not None:
                    dst.writestr(info.filename, content)
            else:
                dst.writestr(info, src.read(info.filename))
    return out.getvalue()


def build_formatting(document: Any) -> None:
    styles = document.styles
    question = styles.add_style("Question", WD_STYLE_TYPE.PARAGRAPH)
    question.base_style = styles["Normal"]
    question.font.bold = True
    question_bis = styles.add_style("Question bis", WD_STYLE_TYPE.PARAGRAPH)
    question_bis.base_style = question

    document.add_paragraph("Entretien avec Hélène", style="Title")
    document.add_heading("Première partie", level=1)
    p = document.add_paragraph()
    p.add_run("Vous êtes née à Orléans ?").bold = True
    p = document.add_paragraph()
    p.add_run("Question").bold = True
    p.add_run(" suivie de texte normal")
    p = document.add_paragraph()
    p.add_run("Et vos parents ?").bold = True
    p.add_run("  ")  # a blank run does not count
    document.add_paragraph("Posée avec le style Question", style="Question")
    document.add_paragraph("Style hérité de Question", style="Question bis")
    p = document.add_paragraph(style="Question")
    p.add_run("gras par le style, ")
    p.add_run("sauf ici").bold = False
    p = document.add_paragraph()
    p.add_run("Tout en style de caractère Strong", style="Strong")
    document.add_paragraph("")
    p = document.add_paragraph()
    run = p.add_run("ligne un")
    run.add_break()
    run.add_text("ligne deux")
    run.add_tab()
    run.add_text("après tab")
    run.add_break(WD_BREAK.PAGE)
    p = document.add_paragraph("Réponse ordinaire, avec des accents : ça, œuvre, naïf.")
    raw_paragraph(
        document,
        '<w:pPr><w:outlineLvl w:val="1"/></w:pPr><w:r><w:t>Niveau de plan</w:t></w:r>',
    )
    raw_paragraph(
        document,
        "<w:r><w:t xml:space=\"preserve\">Nous avons </w:t></w:r>"
        '<w:ins w:id="1" w:author="L" w:date="2024-03-12T10:00:00Z"><w:r>'
        '<w:t xml:space="preserve">ajouté </w:t></w:r></w:ins>'
        '<w:del w:id="2" w:author="L" w:date="2024-03-12T10:00:00Z"><w:r>'
        '<w:delText xml:space="preserve">supprimé </w:delText></w:r></w:del>'
        '<w:hyperlink w:anchor="x"><w:r><w:t xml:space="preserve">un lien</w:t></w:r></w:hyperlink>'
        '<w:r><w:t xml:space="preserve">, page </w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        '<w:r><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>3</w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
        '<w:fldSimple w:instr="NUMPAGES"><w:r><w:t xml:space="preserve"> sur 9</w:t></w:r>'
        "</w:fldSimple>",
    )


FORMATTING = [
    P("Entretien avec Hélène", bold=False, heading=True),
    P("Première partie", bold=True, heading=True),
    P("Vous êtes née à Orléans ?", bold=True),
    P("Question suivie de texte normal", bold=False),
    P("Et vos parents ?  ", bold=True),
    P("Posée avec le style Question", bold=True),
    P("Style hérité de Question", bold=True),
    P("gras par le style, sauf ici", bold=False),
    P("Tout en style de caractère Strong", bold=True),
    P("", bold=False),
    P("ligne un\nligne deux\taprès tab", bold=False),
    P("Réponse ordinaire, avec des accents : ça, œuvre, naïf.", bold=False),
    P("Niveau de plan", bold=False, heading=True),
    P("Nous avons ajouté un lien, page 3 sur 9", bold=False),
]


def test_docx_paragraph_text_bold_and_headings() -> None:
    assert docx_paragraphs(docx_bytes(build_formatting), DOCX) == FORMATTING


def build_tables(document: Any) -> None:
    document.add_paragraph("Avant le tableau")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "A1 Enquêtrice"
    table.cell(0, 1).text = "B1 Hélène"
    table.cell(1, 0).text = "A2"
    table.cell(1, 0).add_paragraph("A2 suite")
    inner = table.cell(1, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "imbriqué 1"
    inner.cell(0, 1).text = "imbriqué 2"
    table.cell(1, 1).add_paragraph("B2 après")
    merged = document.add_table(rows=1, cols=3)
    merged.cell(0, 0).merge(merged.cell(0, 1)).text = "fusionnée"
    merged.cell(0, 2).text = "seule"
    document.add_paragraph("Après le tableau")
    raw_block(
        document,
        f"<w:sdt {_NS}><w:sdtPr><w:alias w:val=\"Bloc\"/></w:sdtPr><w:sdtContent>"
        "<w:p><w:r><w:t>Dans un contrôle de contenu</w:t></w:r></w:p>"
        "</w:sdtContent></w:sdt>",
    )
    raw_paragraph(
        document,
        "<w:r><w:t>Texte avec une zone de texte</w:t></w:r><w:r><mc:AlternateContent>"
        '<mc:Choice Requires="wps"><w:drawing><wp:anchor><a:graphic><a:graphicData>'
        "<wps:wsp><wps:txbx><w:txbxContent>"
        "<w:p><w:r><w:t>Note de l’enquêtrice : au café</w:t></w:r></w:p>"
        "</w:txbxContent></wps:txbx></wps:wsp></a:graphicData></a:graphic></wp:anchor>"
        "</w:drawing></mc:Choice><mc:Fallback><w:pict><v:shape><v:textbox><w:txbxContent>"
        "<w:p><w:r><w:t>COPIE VML</w:t></w:r></w:p>"
        "</w:txbxContent></v:textbox></v:shape></w:pict></mc:Fallback>"
        "</mc:AlternateContent></w:r>",
    )


def test_docx_tables_content_controls_and_text_boxes_in_document_order() -> None:
    texts = [p.text for p in docx_paragraphs(docx_bytes(build_tables), DOCX)]
    assert texts == [
        "Avant le tableau",
        "A1 Enquêtrice",
        "B1 Hélène",
        "A2",
        "A2 suite",
        "",  # a cell starts with an empty paragraph before the nested table
        "imbriqué 1",
        "imbriqué 2",
        "",  # python-docx, like Word, puts an empty paragraph after a nested table
        "B2 après",
        "fusionnée",  # a merged cell is read once
        "seule",
        "Après le tableau",
        "Dans un contrôle de contenu",
        "Texte avec une zone de texte",
        "Note de l’enquêtrice : au café",  # the text box, after its anchor; VML copy ignored
    ]


def test_docx_text_is_nfc() -> None:
    data = docx_bytes(lambda d: d.add_paragraph("cafe\u0301 et ma\u0308s"))
    assert docx_paragraphs(data, DOCX) == [P("café et mäs")]


# --- .docx end to end (segment_paragraphs) ---------------------------------------------------

LABELLED = [
    ("Entretien avec Hélène", "Title"),
    ("Date : 12 mars 2024", None),
    ("Lieu : Orléans", None),
    ("", None),
    ("Enquêtrice : Vous habitez ici depuis longtemps ?", None),
    ("Hélène : Depuis 1968. [rires] C’était l’année où tout a changé.", None),
    ("Enquêtrice : Et le quartier ?", None),
    ("Hélène : Saint-Marceau, près de la Loire.", None),
]


def build_labelled(document: Any) -> None:
    for text, style in LABELLED:
        document.add_paragraph(text, style=style)


EXPECTED_LABELLED = [
    ("Enquêtrice", "Vous habitez ici depuis longtemps ?"),
    ("Hélène", "Depuis 1968. [rires] C’était l’année où tout a changé."),
    ("Enquêtrice", "Et le quartier ?"),
    ("Hélène", "Saint-Marceau, près de la Loire."),
]


def test_read_docx_labelled_interview() -> None:
    parsed = read_docx(docx_bytes(build_labelled), DOCX)
    check_invariants(parsed, "docx")
    assert parsed.text == "\n".join(text for text, _ in LABELLED) + "\n"
    assert turns_of(parsed) == EXPECTED_LABELLED
    assert parsed.metadata["date"] == "12 mars 2024"
    assert parsed.metadata["lieu"] == "Orléans"


def build_bold_questions(document: Any) -> None:
    for question, answer in [
        ("Vous habitez ici depuis longtemps ?", "Depuis 1968, à Saint-Marceau."),
        ("Et vos parents ?", "Ils étaient maraîchers, près de la Loire."),
    ]:
        document.add_paragraph().add_run(question).bold = True
        document.add_paragraph(answer)


def test_read_docx_bold_questions_without_labels() -> None:
    parsed = read_docx(docx_bytes(build_bold_questions), DOCX)
    check_invariants(parsed, "docx")
    assert turns_of(parsed) == [
        ("Interviewer", "Vous habitez ici depuis longtemps ?"),
        ("Participant", "Depuis 1968, à Saint-Marceau."),
        ("Interviewer", "Et vos parents ?"),
        ("Participant", "Ils étaient maraîchers, près de la Loire."),
    ]


# --- bad .docx -------------------------------------------------------------------------------


def test_truncated_docx() -> None:
    data = docx_bytes(build_labelled)
    with pytest.raises(InputError, match=r"not a readable Word \(ZIP\) file") as err:
        read_docx(data[: len(data) // 2], DOCX)
    assert "truncated or damaged" in str(err.value)
    assert str(err.value).startswith("entretien.docx: ")


def test_docx_that_is_a_text_file() -> None:
    data = "Enquêtrice : bonjour\nHélène : bonjour\n".encode()
    with pytest.raises(InputError, match="not in Word format, whatever its extension says"):
        read_docx(data, DOCX)


def test_old_binary_doc() -> None:
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)
    with pytest.raises(InputError, match="old binary or password-protected document"):
        read_docx(data, DOCX)


def test_zip_without_word_document() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "bonjour")
    with pytest.raises(InputError, match=re.escape("no word/document.xml in the archive")):
        read_docx(out.getvalue(), DOCX)


def test_docx_main_part_found_through_relationships() -> None:
    data = docx_bytes(build_labelled)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        rels = archive.read("_rels/.rels")
        document_xml = archive.read("word/document.xml")
    # the main part is wherever _rels/.rels says; here it points to a missing part
    broken = rewrite_zip(data, {"_rels/.rels": rels.replace(b"word/document.xml",
                                                             b"word/document2.xml")})
    with pytest.raises(InputError, match=re.escape("no word/document2.xml in the archive")):
        read_docx(broken, DOCX)
    assert document_xml  # sanity: the original has its part


def test_malformed_xml_inside_docx() -> None:
    data = docx_bytes(build_labelled)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("word/document.xml")
    broken = rewrite_zip(data, {"word/document.xml": xml[: len(xml) // 2]})
    with pytest.raises(InputError, match=re.escape("malformed XML in word/document.xml")) as err:
        read_docx(broken, DOCX)
    assert err.value.line is not None and err.value.column is not None


def test_doctype_inside_docx_is_refused() -> None:
    data = docx_bytes(build_labelled)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("word/document.xml")
    evil = xml.replace(b"?>", b'?><!DOCTYPE w:document [<!ENTITY a "aaaa">]>', 1)
    with pytest.raises(InputError, match=re.escape("refused XML in word/document.xml")):
        read_docx(rewrite_zip(data, {"word/document.xml": evil}), DOCX)


def test_damaged_member_is_an_input_error() -> None:
    data = bytearray(docx_bytes(build_labelled))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("word/document.xml")
    # corrupt the compressed bytes of word/document.xml (after its local header)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 10, start + 40):
        data[i] ^= 0xFF
    with pytest.raises(InputError, match=re.escape("entretien.docx: ")):
        read_docx(bytes(data), DOCX)


def test_not_a_word_content_type() -> None:
    data = docx_bytes(build_labelled)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        types = archive.read("[Content_Types].xml")
    wrong = types.replace(
        b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        b"application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
    )
    with pytest.raises(InputError, match="cannot read as a Word document"):
        read_docx(rewrite_zip(data, {"[Content_Types].xml": wrong}), DOCX)


def test_empty_docx() -> None:
    data = docx_bytes(lambda d: d.add_paragraph("   "))
    assert docx_paragraphs(data, DOCX) == [P("   ")]
    with pytest.raises(InputError, match="empty Word document"):
        read_docx(data, DOCX)


def test_zip_bomb_ratio_is_refused() -> None:
    data = _append(docx_bytes(build_labelled), "word/media/blank.bin", bytes(3 * 1024 * 1024))
    with pytest.raises(InputError, match=r"member 'word/media/blank.bin' expands .* a ZIP bomb"):
        read_docx(data, DOCX)


def test_large_but_ordinary_member_is_accepted() -> None:
    noise = bytes((i * 7919 + i // 13) % 251 for i in range(2 * 1024 * 1024))
    data = _append(docx_bytes(build_labelled), "word/media/photo.bin", noise)
    assert turns_of(read_docx(data, DOCX)) == EXPECTED_LABELLED


def _append(data: bytes, name: str, content: bytes) -> bytes:
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


def test_zip_limits_members_and_total_size() -> None:
    data = docx_bytes(build_labelled)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = len(archive.infolist())
        total = sum(i.file_size for i in archive.infolist())
    with pytest.raises(InputError, match=f"{members} members in the archive, the limit is 3"):
        _open_zip(data, DOCX, "Word", Limits(max_zip_members=3))
    with pytest.raises(InputError, match=f"{total} bytes once unzipped, the limit is 1000"):
        _open_zip(data, DOCX, "Word", Limits(max_unzipped_bytes=1000))
    with pytest.raises(InputError, match="file too large"):
        _open_zip(data, DOCX, "Word", Limits(max_file_bytes=100))
    _open_zip(data, DOCX, "Word").close()  # the defaults accept a real document


def test_many_members_refused_with_default_limits() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for i in range(10_001):
            archive.writestr(f"m/{i}", b"")
    with pytest.raises(InputError, match="10001 members in the archive, the limit is 10000"):
        read_docx(out.getvalue(), DOCX)


# --- building .odt ---------------------------------------------------------------------------


def _style(doc: OpenDocumentText, name: str, family: str, *, automatic: bool = True,
           parent: str | None = None, display: str | None = None, **props: str) -> Style:
    attrs: dict[str, Any] = {"name": name, "family": family}
    if parent:
        attrs["parentstylename"] = parent
    if display:
        attrs["displayname"] = display
    style = Style(**attrs)
    if props:
        style.addElement(TextProperties(**props))
    (doc.automaticstyles if automatic else doc.styles).addElement(style)
    return style


def odt_bytes(build: Callable[[OpenDocumentText], None]) -> bytes:
    doc = OpenDocumentText()
    build(doc)
    out = io.BytesIO()
    doc.write(out)
    return out.getvalue()


def _p(text: str = "", **kw: Any) -> Any:
    p = otext.P(**kw)
    if text:
        p.addText(text)
    return p


def build_odt_formatting(doc: OpenDocumentText) -> None:
    heading = _style(doc, "Heading_20_1", "paragraph", automatic=False, display="Heading 1",
                     fontweight="bold")
    title = _style(doc, "Title", "paragraph", automatic=False)
    question = _style(doc, "Question", "paragraph", automatic=False, fontweight="bold")
    _style(doc, "P1", "paragraph", parent="Question")  # automatic, inherits bold from styles.xml
    p_bold = _style(doc, "PGras", "paragraph", fontweight="bold")
    t_bold = _style(doc, "TGras", "text", fontweight="bold")
    t_700 = _style(doc, "T700", "text", fontweight="700")
    t_normal = _style(doc, "TNormal", "text", fontweight="normal")
    body = doc.text

    body.addElement(_p("Entretien avec Hélène", stylename=title))
    h = otext.H(outlinelevel=1, stylename=heading)
    h.addText("Première partie")
    body.addElement(h)
    body.addElement(_p("Vous êtes née à Orléans ?", stylename=p_bold))
    p = _p()
    p.addElement(otext.Span(stylename=t_bold, text="Et vos parents ?"))
    p.addText("  ")
    body.addElement(p)
    p = _p()
    p.addElement(otext.Span(stylename=t_700, text="Gras en 700"))
    body.addElement(p)
    p = _p("Gras par le paragraphe, ", stylename=p_bold)
    p.addElement(otext.Span(stylename=t_normal, text="sauf ici"))
    body.addElement(p)
    p = _p()
    p.addElement(otext.Span(stylename=t_bold, text="Question"))
    p.addText(" suivie de texte normal")
    body.addElement(p)
    body.addElement(_p("Posée avec le style Question", stylename=question))
    body.addElement(_p("Style automatique hérité", stylename="P1"))
    body.addElement(_p())
    p = _p()
    p.addText("  espaces   \n repliés ")
    p.addElement(otext.S(c=3))
    p.addText("et trois")
    p.addElement(otext.Tab())
    p.addText("tab")
    p.addElement(otext.LineBreak())
    p.addText("ligne deux")
    p.addElement(otext.S())
    body.addElement(p)
    p = _p("Réponse avec note")
    note = otext.Note(id="n1", noteclass="footnote")
    note.addElement(otext.NoteCitation(text="1"))
    note_body = otext.NoteBody()
    note_body.addElement(_p("texte de la note"))
    note.addElement(note_body)
    p.addElement(note)
    annotation = ooffice.Annotation()
    annotation.addElement(_p("commentaire"))
    p.addElement(annotation)
    p.addText(" et suite")
    body.addElement(p)
    p = _p("Voir ")
    link = otext.A(href="https://example.org", type="simple")
    link.addText("le site")
    p.addElement(link)
    body.addElement(p)


ODT_FORMATTING = [
    P("Entretien avec Hélène", bold=False, heading=True),
    P("Première partie", bold=True, heading=True),
    P("Vous êtes née à Orléans ?", bold=True),
    P("Et vos parents ?", bold=True),
    P("Gras en 700", bold=True),
    P("Gras par le paragraphe, sauf ici", bold=False),
    P("Question suivie de texte normal", bold=False),
    P("Posée avec le style Question", bold=True),
    P("Style automatique hérité", bold=True),
    P("", bold=False),
    P("espaces repliés    et trois\ttab\nligne deux ", bold=False),
    P("Réponse avec note et suite", bold=False),
    P("Voir le site", bold=False),
]


def test_odt_paragraph_text_bold_and_headings() -> None:
    assert odt_paragraphs(odt_bytes(build_odt_formatting), ODT) == ODT_FORMATTING


def build_odt_structure(doc: OpenDocumentText) -> None:
    body = doc.text
    tracked = otext.TrackedChanges()
    region = otext.ChangedRegion(qattributes={("http://www.w3.org/XML/1998/namespace", "id"): "c1"})
    deletion = otext.Deletion()
    deletion.addElement(_p("texte supprimé"))
    region.addElement(deletion)
    tracked.addElement(region)
    body.addElement(tracked)
    body.addElement(_p("Avant la liste"))
    outer = otext.List()
    item = otext.ListItem()
    item.addElement(_p("premier"))
    inner = otext.List()
    inner_item = otext.ListItem()
    inner_item.addElement(_p("imbriqué"))
    inner.addElement(inner_item)
    item.addElement(inner)
    outer.addElement(item)
    item = otext.ListItem()
    item.addElement(_p("second"))
    outer.addElement(item)
    body.addElement(outer)
    table = otable.Table(name="T")
    table.addElement(otable.TableColumn(numbercolumnsrepeated=2))
    for row_texts in (["A1", "B1"], ["A2", "B2"]):
        row = otable.TableRow()
        for cell_text in row_texts:
            cell = otable.TableCell()
            cell.addElement(_p(cell_text))
            row.addElement(cell)
        table.addElement(row)
    body.addElement(table)
    body.addElement(otext.SoftPageBreak())
    p = _p("Ancre du cadre")
    frame = odraw.Frame(name="cadre", anchortype="as-char", width="3cm", height="1cm")
    box = odraw.TextBox()
    box.addElement(_p("dans la boîte"))
    frame.addElement(box)
    p.addElement(frame)
    body.addElement(p)
    section = otext.Section(name="S1")
    section.addElement(_p("dans une section"))
    body.addElement(section)


def test_odt_lists_tables_frames_sections_in_document_order() -> None:
    texts = [p.text for p in odt_paragraphs(odt_bytes(build_odt_structure), ODT)]
    assert texts == [
        "Avant la liste",
        "premier",
        "imbriqué",
        "second",
        "A1",
        "B1",
        "A2",
        "B2",
        "Ancre du cadre",
        "dans la boîte",
        "dans une section",
    ]


def test_odt_huge_space_count_is_clamped() -> None:
    def build(doc: OpenDocumentText) -> None:
        p = _p("a")
        p.addElement(otext.S(c=10**9))
        p.addText("b")
        doc.text.addElement(p)

    assert odt_paragraphs(odt_bytes(build), ODT) == [P("a" + " " * 1000 + "b")]


def build_odt_labelled(doc: OpenDocumentText) -> None:
    title = _style(doc, "Title", "paragraph", automatic=False)
    for text, style in LABELLED:
        doc.text.addElement(_p(text, stylename=title) if style else _p(text))


def test_read_odt_labelled_interview() -> None:
    parsed = read_odt(odt_bytes(build_odt_labelled), ODT)
    check_invariants(parsed, "odt")
    assert parsed.text == "\n".join(text for text, _ in LABELLED) + "\n"
    assert turns_of(parsed) == EXPECTED_LABELLED
    assert parsed.metadata["lieu"] == "Orléans"


def build_odt_bold_questions(doc: OpenDocumentText) -> None:
    bold = _style(doc, "TGras", "text", fontweight="bold")
    for question, answer in [
        ("Vous habitez ici depuis longtemps ?", "Depuis 1968, à Saint-Marceau."),
        ("Et vos parents ?", "Ils étaient maraîchers."),
    ]:
        p = _p()
        p.addElement(otext.Span(stylename=bold, text=question))
        doc.text.addElement(p)
        doc.text.addElement(_p(answer))


def test_read_odt_bold_questions_without_labels() -> None:
    parsed = read_odt(odt_bytes(build_odt_bold_questions), ODT)
    check_invariants(parsed, "odt")
    assert turns_of(parsed) == [
        ("Interviewer", "Vous habitez ici depuis longtemps ?"),
        ("Participant", "Depuis 1968, à Saint-Marceau."),
        ("Interviewer", "Et vos parents ?"),
        ("Participant", "Ils étaient maraîchers."),
    ]


# --- bad .odt --------------------------------------------------------------------------------


def test_truncated_odt() -> None:
    data = odt_bytes(build_odt_labelled)
    with pytest.raises(InputError, match=r"not a readable OpenDocument \(ZIP\) file"):
        read_odt(data[: len(data) // 2], ODT)


def test_odt_that_is_a_text_file() -> None:
    with pytest.raises(InputError, match="not in OpenDocument format, whatever its extension says"):
        read_odt("Enquêtrice : bonjour\n".encode(), ODT)


def test_odt_spreadsheet_mimetype() -> None:
    data = rewrite_zip(odt_bytes(build_odt_labelled),
                       {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"})
    with pytest.raises(InputError, match=re.escape(
        "not an OpenDocument text: its mimetype is 'application/vnd.oasis.opendocument.spreadsheet'"
    )):
        read_odt(data, ODT)


def test_odt_without_content_xml() -> None:
    data = rewrite_zip(odt_bytes(build_odt_labelled), {"content.xml": None})
    with pytest.raises(InputError, match=re.escape("no content.xml in the archive")):
        read_odt(data, ODT)


def test_odt_malformed_content_xml() -> None:
    data = odt_bytes(build_odt_labelled)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("content.xml")
    broken = rewrite_zip(data, {"content.xml": xml.replace(b"</office:text>", b"", 1)})
    message = re.escape("malformed XML in content.xml: mismatched tag")
    with pytest.raises(InputError, match=message) as err:
        read_odt(broken, ODT)
    assert err.value.line == 2 and err.value.column is not None


def test_odt_entities_refused() -> None:
    data = odt_bytes(build_odt_labelled)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("content.xml")
    evil = xml.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY a "aaaa">]>', 1)
    with pytest.raises(InputError, match=re.escape("refused XML in content.xml")):
        read_odt(rewrite_zip(data, {"content.xml": evil}), ODT)


def test_odt_without_text_body() -> None:
    content = (
        b'<?xml version="1.0"?><office:document-content '
        b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0">'
        b"<office:body><office:spreadsheet/></office:body></office:document-content>"
    )
    data = rewrite_zip(odt_bytes(build_odt_labelled), {"content.xml": content})
    with pytest.raises(InputError, match=re.escape("no <office:text> in content.xml")):
        read_odt(data, ODT)


def test_odt_wrong_root() -> None:
    data = rewrite_zip(odt_bytes(build_odt_labelled), {"content.xml": b"<html/>"})
    with pytest.raises(InputError, match=re.escape("content.xml has the root html")):
        read_odt(data, ODT)


def test_empty_odt() -> None:
    with pytest.raises(InputError, match="empty OpenDocument document"):
        read_odt(odt_bytes(lambda doc: doc.text.addElement(_p("  "))), ODT)


def test_odt_zip_bomb_ratio_is_refused() -> None:
    data = _append(odt_bytes(build_odt_labelled), "Thumbnails/blank.bin", bytes(3 * 1024 * 1024))
    with pytest.raises(InputError, match="ZIP bomb"):
        read_odt(data, ODT)


# --- properties ------------------------------------------------------------------------------

_XML_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("aeéèàçôœ ’'\n\r\t😀?:\ufeff")),
        st.characters(
            blacklist_categories=["Cs", "Cc"],
            blacklist_characters="\ufffe\uffff",
        ),
    ),
    max_size=40,
)
_PARAGRAPHS = st.lists(st.tuples(_XML_TEXT, st.booleans()), min_size=1, max_size=6)


def _squash(text: str) -> str:
    """Text compared modulo white space (ODF collapses it) and U+FEFF (dropped at starts)."""
    return " ".join(unicodedata.normalize("NFC", text.replace("\ufeff", "")).split())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_PARAGRAPHS, st.sampled_from(["docx", "odt"]))
def test_property_generated_documents(paragraphs: list[tuple[str, bool]], fmt: str) -> None:
    if fmt == "docx":

        def build_docx(document: Any) -> None:
            for text, bold in paragraphs:
                document.add_paragraph().add_run(text).bold = bold

        data = docx_bytes(build_docx)
        read, extract = read_docx, docx_paragraphs
    else:

        def build_odt(doc: OpenDocumentText) -> None:
            bold_style = _style(doc, "TGras", "text", fontweight="bold")
            for text, bold in paragraphs:
                p = _p()
                span = otext.Span(stylename=bold_style) if bold else p
                teletype.addTextToElement(span, text)
                if bold:
                    p.addElement(span)
                doc.text.addElement(p)

        data = odt_bytes(build_odt)
        read, extract = read_odt, odt_paragraphs
    path = Path(f"entretien.{fmt}")
    got = extract(data, path)
    assert [_squash(p.text) for p in got] == [_squash(text) for text, _ in paragraphs]
    assert [p.bold for p in got] == [bold and bool(text.strip()) for text, bold in paragraphs]
    try:
        parsed = read(data, path)
    except InputError:
        return
    check_invariants(parsed, fmt)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["docx", "odt"]), st.data())
def test_property_damaged_archives(fmt: str, data: st.DataObject) -> None:
    raw = bytearray(docx_bytes(build_labelled) if fmt == "docx" else odt_bytes(build_odt_labelled))
    cut = data.draw(st.integers(0, len(raw)))
    raw = raw[:cut]
    for _ in range(data.draw(st.integers(0, 4))):
        if raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path = Path(f"entretien.{fmt}")
    read = read_docx if fmt == "docx" else read_odt
    try:
        parsed = read(bytes(raw), path)
    except InputError as err:
        assert str(err).startswith(f"{path}")
        return
    check_invariants(parsed, fmt)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["docx", "odt"]), st.data())
def test_property_damaged_xml_inside_a_sound_archive(fmt: str, data: st.DataObject) -> None:
    original = docx_bytes(build_formatting) if fmt == "docx" else odt_bytes(build_odt_formatting)
    member = data.draw(st.sampled_from(
        ["word/document.xml", "word/styles.xml", "_rels/.rels", "[Content_Types].xml"]
        if fmt == "docx" else ["content.xml", "styles.xml", "mimetype"]
    ))
    with zipfile.ZipFile(io.BytesIO(original)) as archive:
        xml = bytearray(archive.read(member))
    for _ in range(data.draw(st.integers(1, 4))):
        if not xml:
            break
        position = data.draw(st.integers(0, len(xml) - 1))
        if data.draw(st.booleans()):
            xml[position] = data.draw(st.sampled_from(list(b"<>/\"'&=:x \x00\xff")))
        else:
            del xml[position : position + data.draw(st.integers(1, 50))]
    path = Path(f"entretien.{fmt}")
    read = read_docx if fmt == "docx" else read_odt
    try:
        parsed = read(rewrite_zip(original, {member: bytes(xml)}), path)
    except InputError as err:
        assert str(err).startswith(f"{path}")
        return
    check_invariants(parsed, fmt)


def build_labelled_lines(document: Any, lines: list[str]) -> None:
    for line in lines:
        if hasattr(document, "add_paragraph"):  # python-docx
            document.add_paragraph(line)
        else:  # odfpy
            document.text.addElement(_p(line))


@pytest.mark.parametrize("fmt", ["docx", "odt"])
def test_known_labels_are_passed_to_segmentation(fmt: str) -> None:
    lines = ["Enquêtrice : Vous venez d’où ?", "Hélène : De Saint-Marceau."]
    if fmt == "docx":
        data = docx_bytes(lambda d: build_labelled_lines(d, lines))
        read = read_docx
    else:
        data = odt_bytes(lambda doc: build_labelled_lines(doc, lines))
        read = read_odt
    path = Path(f"entretien.{fmt}")
    with pytest.raises(InputError, match="no speaker labels"):  # each label is seen once only
        read(data, path)
    parsed = read(data, path, {"Enquêtrice", "Hélène"})
    assert turns_of(parsed) == [("Enquêtrice", "Vous venez d’où ?"),
                                ("Hélène", "De Saint-Marceau.")]


def test_deeply_nested_odt_is_refused() -> None:
    data = odt_bytes(build_odt_labelled)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("content.xml")
    deep = xml.replace(
        b"<office:text>",
        b"<office:text><text:p>" + b"<text:span>" * 5000 + b"x" + b"</text:span>" * 5000
        + b"</text:p>",
        1,
    )
    with pytest.raises(InputError, match="nested too deeply"):
        read_odt(rewrite_zip(data, {"content.xml": deep}), ODT)


def test_deeply_nested_docx_is_refused() -> None:
    data = docx_bytes(build_labelled)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("word/document.xml")
    deep = xml.replace(
        b"<w:body>",
        b"<w:body>" + b"<w:sdt><w:sdtContent>" * 3000 + b"</w:sdtContent></w:sdt>" * 3000,
        1,
    )
    with pytest.raises(InputError, match=re.escape("entretien.docx: ")):
        read_docx(rewrite_zip(data, {"word/document.xml": deep}), DOCX)
