"""The plain-text and Markdown segmenter: labels, header block, timestamps, continuations."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcode.errors import InputError
from qcode.ingest.model import Paragraph, ParsedTranscript
from qcode.ingest.text import parse_timestamp, read_text, segment_paragraphs

P = Path("t.txt")


def turns(parsed: ParsedTranscript) -> list[tuple[str, str]]:
    return [(t.speaker, parsed.text[t.start : t.end]) for t in parsed.turns]


def read(text: str, name: str = "t.txt") -> ParsedTranscript:
    return read_text(text.encode("utf-8"), Path(name))


@pytest.mark.parametrize(
    ("interviewer", "participant"),
    [
        ("E", "Karim"),
        ("Enquêteur", "Marie (42 ans)"),
        ("Enquêtrice", "M. D."),
        ("Enq.", "PP"),
        ("Q", "R"),
        ("I", "P1"),
        ("CM", "Mme Ferrand"),
        ("Claire Morel", "Jean-Pierre"),
    ],
)
@pytest.mark.parametrize("space", [" ", "\u00a0", "\u202f", ""])
def test_label_conventions(interviewer: str, participant: str, space: str) -> None:
    text = (
        f"{interviewer}{space}: Bonjour, vous pouvez vous présenter ?\n\n"
        f"{participant}{space}: Oui, j’habite ici depuis vingt ans.\n\n"
        f"{interviewer}{space}: Et l’association ?\n\n"
        f"{participant}{space}: On l’a créée en 2020.\n"
    )
    parsed = read(text)
    assert turns(parsed) == [
        (interviewer, "Bonjour, vous pouvez vous présenter ?"),
        (participant, "Oui, j’habite ici depuis vingt ans."),
        (interviewer, "Et l’association ?"),
        (participant, "On l’a créée en 2020."),
    ]


def test_bold_markdown_labels_both_styles() -> None:
    text = ("**E :** Première question ?\n\n**Agnès** : Réponse.\n\n"
            "**E :** Suite ?\n\n**Agnès** : Fin.\n")
    parsed = read(text, "t.md")
    assert parsed.format == "md"
    assert turns(parsed) == [("E", "Première question ?"), ("Agnès", "Réponse."),
                             ("E", "Suite ?"), ("Agnès", "Fin.")]


@pytest.mark.parametrize(
    ("line", "ms"),
    [
        ("[00:12:34] E : Bonjour", 754_000),
        ("(00:12:34) E : Bonjour", 754_000),
        ("00:12:34 E : Bonjour", 754_000),
        ("[12:34] E : Bonjour", 754_000),
        ("[00:12:34.5] E : Bonjour", 754_500),
        ("E : [00:12:34] Bonjour", 754_000),
        ("E : (00:12:34) Bonjour", 754_000),
        ("E (00:12:34) : Bonjour", 754_000),
        ("**E :** [12:34] Bonjour", 754_000),
    ],
)
def test_timestamps_next_to_labels(line: str, ms: int) -> None:
    parsed = read(f"{line}\nKarim : Oui.\nE : Encore ?\nKarim : Non.\n", "t.md")
    first = parsed.turns[0]
    assert (first.speaker, parsed.text[first.start : first.end], first.start_ms) == (
        "E", "Bonjour", ms)


def test_f4_timestamp_at_paragraph_end_is_the_end_time() -> None:
    parsed = read("E : Bonjour. #00:00:04-2#\nKarim : Oui. #00:00:09-0#\n"
                  "E : Et ? #00:00:12-5#\nKarim : Voilà. #00:00:15-1#\n")
    assert [(parsed.text[t.start:t.end], t.end_ms) for t in parsed.turns][:2] == [
        ("Bonjour.", 4200), ("Oui.", 9000)]


def test_header_block_is_metadata_not_a_turn() -> None:
    text = (
        "Entretien HV01 — La République des voisins (Paris 14e)\n"
        "Date : 12 mars 2021\n"
        "Lieu : local associatif\n"
        "Enquêtrice : Claire Morel\n"
        "Personne interviewée : Bernard (pseudonyme), porteur de projet\n"
        "Durée : 1 h 05\n"
        "\n"
        "Enquêtrice : Bonjour.\n\nBernard : Bonjour !\n\nEnquêtrice : On commence ?\n\n"
        "Bernard : Oui.\n"
    )
    parsed = read(text)
    assert parsed.metadata == {
        "title": "Entretien HV01 — La République des voisins (Paris 14e)",
        "date": "12 mars 2021",
        "lieu": "local associatif",
        "enqueteur": "Claire Morel",
        "interviewe": "Bernard (pseudonyme), porteur de projet",
        "duree": "1 h 05",
    }
    assert turns(parsed)[0] == ("Enquêtrice", "Bonjour.")
    assert len(parsed.turns) == 4


def test_markdown_heading_then_blank_then_header_keys() -> None:
    text = ("# Entretien GL07\n\nDate : 7 avril 2022\nLieu : mairie\n\n"
            "E : Bonjour.\nR : Oui.\nE : Et ?\nR : Non.\n")
    parsed = read(text, "t.md")
    assert parsed.metadata["title"] == "Entretien GL07"
    assert parsed.metadata["date"] == "7 avril 2022"
    assert turns(parsed)[0] == ("E", "Bonjour.")


def test_front_matter_becomes_attributes() -> None:
    text = ("---\ntitle: Entretien\ninitiative: les-ailes\nage: 42\n---\n\n"
            "E : Bonjour.\n\nA : Oui.\n\nE : Et ?\n\nA : Non.\n")
    parsed = read(text, "t.md")
    assert parsed.attributes == {"title": "Entretien", "initiative": "les-ailes", "age": "42"}
    assert turns(parsed)[0] == ("E", "Bonjour.")


def test_unclosed_front_matter_is_an_error_with_line() -> None:
    with pytest.raises(InputError, match=r"t\.md:1: front matter .* never closed"):
        read("---\ntitle: x\n\nE : Bonjour.\n", "t.md")


def test_invalid_front_matter_names_the_line() -> None:
    with pytest.raises(InputError, match=r"t\.md:4: front matter: expected"):
        read("---\ntitle: x\nbad: [unclosed\n---\nE : a\nR : b\nE : c\nR : d\n", "t.md")


def test_continuation_paragraphs_belong_to_the_turn() -> None:
    text = ("E : Question ?\n\nKarim : Première partie.\n\nDeuxième partie, sans étiquette."
            "\n\nE : Suite ?\n\nKarim : Fin.\n")
    parsed = read(text)
    assert turns(parsed)[1] == ("Karim", "Première partie.\n\nDeuxième partie, sans étiquette.")


def test_remark_inside_talk_is_not_a_speaker() -> None:
    text = ("E : Question ?\nKarim : Oui.\nRemarque : ceci est une note du transcripteur.\n"
            "Et puis il m'a dit : « viens ».\nE : Suite ?\nKarim : Fin.\n")
    parsed = read(text)
    assert [s for s, _ in turns(parsed)] == ["E", "Karim", "E", "Karim"]
    assert "Remarque : ceci" in turns(parsed)[1][1]
    assert "il m'a dit" in turns(parsed)[1][1]


def test_single_occurrence_label_is_a_speaker_when_in_the_speaker_map() -> None:
    text = "Enquêtrice : Une seule question ?\nKarim : Oui.\nEt encore.\nKarim : Voilà.\n"
    parsed = read_text(text.encode(), P, known_labels={"enquetrice"})
    assert [s for s, _ in turns(parsed)] == ["Enquêtrice", "Karim", "Karim"]


def test_urls_are_not_labels() -> None:
    text = "E : Le site ?\nR : C’est\nhttps://exemple.org/page : voilà.\nE : Ok.\nR : Oui.\n"
    parsed = read(text)
    assert [s for s, _ in turns(parsed)] == ["E", "R", "E", "R"]


def test_no_speakers_is_an_error() -> None:
    with pytest.raises(InputError, match=r"t\.txt: no speaker labels found"):
        read("Il était une fois un quartier.\nLes voisins se parlaient.\n")


def test_crlf_bom_and_nfd_are_normalised() -> None:
    raw = "\ufeffE : Cafe\u0301 ?\r\nKarim : Oui.\r\nE : Et ?\r\nKarim : Non.\r\n"
    parsed = read_text(raw.encode("utf-8"), P)
    assert "\r" not in parsed.text and not parsed.text.startswith("\ufeff")
    assert turns(parsed)[0] == ("E", "Café ?")


def test_word_paragraphs_bold_questions_without_labels() -> None:
    paras = [
        Paragraph("Entretien AI04"),
        Paragraph("Date : 20 mai 2021"),
        Paragraph(""),
        Paragraph("Comment est née l’association ?", bold=True),
        Paragraph("Tout a commencé en 2015."),
        Paragraph("Avec trois voisines."),
        Paragraph("Et aujourd’hui ?", bold=True),
        Paragraph("On est quarante."),
    ]
    parsed = segment_paragraphs(paras, Path("t.docx"), "docx")
    assert parsed.text.startswith("Entretien AI04\nDate : 20 mai 2021\n\nComment")
    assert turns(parsed) == [
        ("Interviewer", "Comment est née l’association ?"),
        ("Participant", "Tout a commencé en 2015.\nAvec trois voisines."),
        ("Interviewer", "Et aujourd’hui ?"),
        ("Participant", "On est quarante."),
    ]
    assert parsed.metadata == {"title": "Entretien AI04", "date": "20 mai 2021"}


def test_word_paragraphs_with_labels_ignore_bold() -> None:
    paras = [Paragraph("E : Bonjour ?", bold=True), Paragraph("Odile (74 ans) : Oui."),
             Paragraph("E : Et ?"), Paragraph("Odile (74 ans) : Non.")]
    parsed = segment_paragraphs(paras, Path("t.odt"), "odt")
    assert turns(parsed)[1] == ("Odile (74 ans)", "Oui.")


@pytest.mark.parametrize(("value", "ms"), [("00:12:34", 754_000), ("12:34", 754_000),
                                           ("1:02:03.5", 3_723_500), ("12:34,25", 754_250)])
def test_parse_timestamp(value: str, ms: int) -> None:
    assert parse_timestamp(value) == ms


# --- property: for any input, turns point into the text, ordered and disjoint ----------------

_speech = st.lists(
    st.sampled_from([*"abcdeéèàçœ ’'!?.,«»😀\t:", "\r\n", "\n", "\r", "\u00a0", "É", "e\u0301"]),
    max_size=80,
).map("".join)
_label = st.sampled_from(["E", "Enquêtrice", "Karim", "M. D.", "Marie (42 ans)", "P1", "**E**"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_label, _speech), min_size=0, max_size=12),
       st.booleans(), st.sampled_from(["\n", "\r\n", "\n\n"]))
def test_property_turns_are_exact_ordered_disjoint_spans(
    parts: list[tuple[str, str]], bom: bool, sep: str
) -> None:
    raw = ("\ufeff" if bom else "") + sep.join(f"{label} : {speech}" for label, speech in parts)
    try:
        parsed = read_text(raw.encode("utf-8"), P)
    except InputError:
        return
    text = parsed.text
    assert "\r" not in text and not text.startswith("\ufeff")
    previous = 0
    for turn in parsed.turns:
        assert previous <= turn.start < turn.end <= len(text)
        speech = text[turn.start : turn.end]
        assert speech == speech.strip()
        previous = turn.end


def test_headings_in_word_documents_belong_to_no_turn() -> None:
    paras = [
        Paragraph("Entretien AI04", heading=True),
        Paragraph("Date : 20 mai 2021"),
        Paragraph(""),
        Paragraph("Les débuts", heading=True),
        Paragraph("Comment est née l’association ?", bold=True),
        Paragraph("Tout a commencé en 2015."),
        Paragraph("Aujourd’hui", bold=True, heading=True),
        Paragraph("Et aujourd’hui ?", bold=True),
        Paragraph("On est quarante."),
    ]
    parsed = segment_paragraphs(paras, Path("t.docx"), "docx")
    assert turns(parsed) == [
        ("Interviewer", "Comment est née l’association ?"),
        ("Participant", "Tout a commencé en 2015."),
        ("Interviewer", "Et aujourd’hui ?"),
        ("Participant", "On est quarante."),
    ]
