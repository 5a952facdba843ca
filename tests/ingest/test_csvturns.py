"""CSV turn tables: header detection, header note, sparse times, delimiters, merging."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcode.errors import InputError
from qcode.ingest.csvturns import read_csv
from qcode.ingest.model import ParsedTranscript
from tests.ingest.invariants import assert_transcript_invariants

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "csv"
CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"


def check_invariants(result: ParsedTranscript) -> None:
    assert_transcript_invariants(result)


def turns_of(result: ParsedTranscript) -> list[tuple[str, int | None, str]]:
    return [(t.speaker, t.start_ms, result.text[t.start : t.end]) for t in result.turns]


def read(source: str | bytes, name: str = "table.csv") -> ParsedTranscript:
    data = source.encode("utf-8") if isinstance(source, str) else source
    result = read_csv(data, Path(name))
    check_invariants(result)
    return result


def fixture(name: str) -> ParsedTranscript:
    path = FIXTURES / name
    result = read_csv(path.read_bytes(), path)
    check_invariants(result)
    return result


def test_archive_table_note_sparse_times_and_merged_rows() -> None:
    result = fixture("entretien.csv")
    assert result.format == "csv"
    assert result.metadata == {
        "note": "ENTRETIEN N° 7 – 12 mars 2021 – Mme Hélène Roux, rue des Plantes, Paris 14e",
        "notes": "line 5: photo montrée",
    }
    assert turns_of(result) == [
        ("A", 36_000, "Vous habitez le quartier depuis quand ?"),  # 0.36 = 0 min 36 s
        # two rows of B merged; the first had no time, so the turn's start is unknown
        ("B", None, "Depuis 1987.\nOn était arrivés, mon mari et moi, avec les enfants."),
        # a row with an empty speaker continues the current speaker
        ("A", None, "Et l'association ?\nElle existait déjà ?"),
        ("B", 125_000, 'Non, « Voisins solidaires » est née en 2020, "pendant le confinement".'),
    ]
    assert result.text.startswith("A: Vous habitez le quartier depuis quand ?\n\nB: Depuis 1987.")
    assert result.warnings == []
    assert all(t.end_ms is None for t in result.turns)


def test_excel_french_semicolon_cp1252_crlf_columns_in_any_order() -> None:
    raw = (FIXTURES / "excel_fr.csv").read_bytes()
    assert b"\r\n" in raw and "Enquêtrice".encode("cp1252") in raw
    result = fixture("excel_fr.csv")
    assert turns_of(result) == [
        ("Enquêtrice", 5_000, "Qu'est-ce que l'épicerie solidaire a changé ?"),  # 0,05
        ("Bénévole", None,
         "Beaucoup de choses, les gens se parlent.\nOn se connaît; on s'entraide."),
        ("Enquêtrice", None, "Très bien."),
    ]
    assert result.metadata == {"notes": "line 4: rires"}


def test_table_without_header_reads_time_speaker_text_in_seconds() -> None:
    result = fixture("sans_entete.csv")
    assert turns_of(result) == [
        ("E", 12_500, "Première question : où habitez-vous ?"),
        ("P", 20_000, "À Belleville, près du métro."),
        ("E", 75_250, "Depuis longtemps ?"),
        ("P", None, "Trente ans."),
    ]
    assert result.warnings == ["no header row: columns read as time, speaker, text"]


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        # every decimal has two digits ≤ 59: minutes.seconds
        (["0.36", "1.19", "12.05"], [36_000, 79_000, 725_000]),
        (["0,36", "1,19", "3"], [36_000, 79_000, 180_000]),
        # a fraction above .59, or not two digits: seconds
        (["0.36", "1.75"], [360, 1_750]),
        (["12.5", "13.25"], [12_500, 13_250]),
        (["12", "75"], [12_000, 75_000]),
        # clock times are read as such, whatever the rest
        (["00:01:19", "1:02:03", "[12:34]", "(00:12:34.5)"], [79_000, 3_723_000, 754_000,
                                                               754_500]),
    ],
)
def test_time_readings(times: list[str], expected: list[int]) -> None:
    body = "".join(f'{t};{"AB"[i % 2]};tour {i}\n' for i, t in enumerate(times))
    result = read("time;speaker;text\n" + body)
    assert [t.start_ms for t in result.turns] == expected


def test_unreadable_and_backward_times_are_warned() -> None:
    result = read("time,speaker,text\nvers 5 min,A,un\n10.00,B,deux\n0.30,A,trois\n")
    assert [t.start_ms for t in result.turns] == [None, 600_000, 30_000]
    assert result.warnings == [
        "line 2: time 'vers 5 min' not understood; left empty",
        "line 4: time 0.30 is earlier than the one before (a new tape or file?); kept as written",
    ]


@pytest.mark.parametrize(
    "header",
    [
        "texte,locuteur,temps",
        "Texte,Intervenant,Heure",
        "TEXT,Speaker,Timestamp",
        "Transcription,Locutrice,Début",
    ],
)
def test_header_names_in_any_order_and_in_french(header: str) -> None:
    result = read(f"{header}\nBonjour à tous,Élise,1:05\nMerci,Léo,1:09\n")
    assert turns_of(result) == [("Élise", 65_000, "Bonjour à tous"), ("Léo", 69_000, "Merci")]


def test_end_column_gives_end_times() -> None:
    result = read("début;fin;locuteur;texte\n0:01;0:04;A;un\n0:04;0:06;A;deux\n0:07;0:09;B;trois\n")
    assert [(t.start_ms, t.end_ms) for t in result.turns] == [(1_000, 6_000), (7_000, 9_000)]


def test_tab_delimiter_and_text_only_column() -> None:
    result = read("locuteur\ttexte\nA\tun, deux\nB\ttrois; quatre\n")
    assert turns_of(result) == [("A", None, "un, deux"), ("B", None, "trois; quatre")]
    only_text = read("texte\nPremière ligne.\nDeuxième ligne.\n")
    # no speaker column: rows stay separate turns
    assert turns_of(only_text) == [("", None, "Première ligne."), ("", None, "Deuxième ligne.")]


def test_delimiter_is_the_one_that_reads_the_table_even_when_the_sniffer_guesses_wrong() -> None:
    source = 'time,speaker,text\n,A,";"\n,B,";"\n'
    assert csv.Sniffer().sniff(source, delimiters=",;\t").delimiter == ";"  # the trap
    assert turns_of(read(source)) == [("A", None, ";"), ("B", None, ";")]


def test_quoted_fields_with_newlines_keep_line_numbers_right() -> None:
    result = read('time,speaker,text,notes\n,A,"deux\nlignes",\n,B,trois,remarque\n')
    assert turns_of(result) == [("A", None, "deux\nlignes"), ("B", None, "trois")]
    assert result.metadata == {"notes": "line 4: remarque"}


def test_trailing_empty_fields_are_allowed() -> None:
    result = read("temps;locuteur;texte\n;A;un;;\n")
    assert turns_of(result) == [("A", None, "un")]


def test_bom_utf16_and_crlf() -> None:
    source = "temps;locuteur;texte\r\n0.05;Enquêtrice;Ça va ?\r\n;Zoë;Oui 🎉\r\n"
    for data in (codecs.BOM_UTF8 + source.encode("utf-8"), source.encode("utf-16")):
        result = read(data)
        assert turns_of(result) == [("Enquêtrice", 5_000, "Ça va ?"), ("Zoë", None, "Oui 🎉")]


# --- malformed tables -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("time,speaker,notes\n1,A,x\n", 1, "no text column"),
        ("locuteur;remarques\nA;x\n", 1, "no text column"),
        ('time,speaker,text\n,A,un\n,B,"deux\n,A,trois\n', 3, "unbalanced quote"),
        ('time,speaker,text\n,A,"un" et deux\n', 2, "malformed CSV"),
        ("time,speaker,text\n,A,un, deux\n", 2, "3 columns"),
        ("time,speaker,text\n", None, "no text"),
        ('time,speaker,text,notes\n"","","","une note"\n', None, "no text"),
        ("\n\n", None, "empty file"),
    ],
)
def test_malformed_tables(source: str, line: int | None, words: str) -> None:
    with pytest.raises(InputError) as info:
        read_csv(source.encode("utf-8"), Path("tableau.csv"))
    assert words in info.value.message
    if line is not None:
        assert info.value.line == line
        assert str(info.value).startswith(f"tableau.csv:{line}:")
    else:
        assert "tableau.csv" in str(info.value)


# --- property test ----------------------------------------------------------------------------

_cell = st.text(alphabet=st.sampled_from([*list("aàbcçeéèilnoôrstu œ’'.,;:?!\"\t\n-"), "🎉"]),
                max_size=25)
_time = st.one_of(st.just(""), st.sampled_from(["0.36", "1.19", "12.5", "00:01:02", "x", "7"]))
_who = st.sampled_from(["", "A", "B", "Enquêtrice", "Zoë"])


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    rows = draw(st.lists(st.tuples(_time, _who, _cell, _cell), max_size=8))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n",
                                                                                       "\r\n"])))
    if draw(st.booleans()):
        writer.writerow(draw(st.sampled_from([["time", "speaker", "text", "notes"],
                                              ["temps", "locuteur", "texte", "remarques"]])))
    writer.writerows(rows)
    source = out.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    return source.encode(encoding)


@settings(max_examples=300, deadline=None)
@given(csv_files())
def test_property_generated_tables_read_or_raise_input_error(data: bytes) -> None:
    try:
        result = read_csv(data, Path("généré.csv"))
    except InputError:
        return
    check_invariants(result)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from([*list('ab,;\t"\n\r é'), "🎉"]), max_size=120))
def test_property_arbitrary_text(source: str) -> None:
    try:
        result = read_csv(source.encode("utf-8"), Path("bruit.csv"))
    except InputError:
        return
    check_invariants(result)


# --- real corpus ------------------------------------------------------------------------------


def farms_files() -> list[Path]:
    folder = CORPORA / "farms-to-freeways-csv"
    if not folder.is_dir():
        pytest.skip("shared corpora not available")
    return sorted(folder.glob("*.csv"))


def test_farms_to_freeways_interviews() -> None:
    files = farms_files()
    assert len(files) == 2
    for path in files:
        result = read_csv(path.read_bytes(), path)
        check_invariants(result)
        assert result.metadata["note"].startswith("INTERVIEW NO. ")
        assert "DATE OF INTERVIEW" in result.metadata["note"]
        assert {t.speaker for t in result.turns} == {"A", "B"}
        assert len(result.turns) > 100
        # consecutive rows of a speaker are merged: speakers alternate
        assert all(a.speaker != b.speaker for a, b in zip(result.turns, result.turns[1:],
                                                           strict=False))
        assert all(result.text[t.start : t.end].strip() for t in result.turns)
        # the tape's second side starts again from 0: kept, and warned
        assert any("earlier than the one before" in w for w in result.warnings)
        assert sum(t.start_ms is not None for t in result.turns) > 40


def test_farms_to_freeways_first_turns_and_minutes_seconds() -> None:
    path = next(p for p in farms_files() if p.name.startswith("original_0437"))
    result = read_csv(path.read_bytes(), path)
    first, second, _third, fourth = result.turns[:4]
    assert (first.speaker, first.start_ms) == ("B", 36_000)  # "0.36"
    assert result.text[first.start : first.end].startswith("My name is Sheila Nottley")
    assert (second.speaker, result.text[second.start : second.end]) == ("A",
                                                                        "Oh, up Kempsey way?")
    assert (fourth.speaker, fourth.start_ms) == ("A", 87_000)  # "1.27" = 1 min 27 s
    assert result.text.startswith("B: My name is Sheila Nottley")
