"""Otter.ai text exports: detection and turns pointing into the file's own text."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcode.errors import InputError
from qcode.ingest.encoding import decode_text
from qcode.ingest.model import ParsedTranscript, normalise_text
from qcode.ingest.otter import looks_like_otter, parse_otter
from tests.ingest.invariants import assert_transcript_invariants

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "otter"


def check_invariants(result: ParsedTranscript) -> None:
    assert_transcript_invariants(result)
    assert all(turn.speaker for turn in result.turns)


def turns_of(result: ParsedTranscript) -> list[tuple[str, int | None, int | None, str]]:
    return [(t.speaker, t.start_ms, t.end_ms, result.text[t.start : t.end]) for t in result.turns]


def load(name: str) -> tuple[str, Path]:
    path = FIXTURES / name
    return normalise_text(decode_text(path.read_bytes(), path)), path


def test_otter_export_turns_point_into_the_file_text() -> None:
    text, path = load("entretien.txt")
    assert looks_like_otter(text)
    result = parse_otter(text, path)
    check_invariants(result)
    assert result.format == "otter"
    assert result.text == text  # the file's own text, unchanged
    assert turns_of(result) == [
        ("Marie Dupont", 0, None,
         "Bonjour Karim, merci de me recevoir. On peut commencer par\n"
         "l'histoire de l'association ?"),
        ("Karim Benali", 7_000, None,
         "Oui. Tout a commencé en mars 2020, pendant le premier confinement.\n"
         "Remarque : on ne s'appelait pas encore « Voisins solidaires »."),
        ("Marie Dupont", 3_723_000, None, "Et aujourd'hui ?"),  # 1:02:03
        ("Karim Benali", 3_729_000, None, "Aujourd'hui on est cent vingt. 🎉"),
    ]
    assert result.turns[0].start == len("Marie Dupont  0:00\n")
    # the footer is not speech
    assert result.metadata == {"transcribed_by": "Transcribed by https://otter.ai"}
    assert result.warnings == []


def test_ordinary_transcript_is_not_otter() -> None:
    text, _ = load("ordinaire.txt")
    assert not looks_like_otter(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "E : Bonjour.\n\nP : Bonjour.\n",
        # one header only: not enough
        "Marie Dupont  0:00\nBonjour.\n",
        # labels with a colon are ordinary labels, even with times
        "E :  0:00\nBonjour.\n\nP :  0:05\nBonjour.\n",
        # a single space before the time is not Otter's layout
        "Marie 0:00\nBonjour.\n\nKarim 0:05\nSalut.\n",
        # times going backwards
        "Marie  0:10\nBonjour.\n\nKarim  0:05\nSalut.\n",
        # headers without a body line
        "Marie  0:00\n\nKarim  0:05\n\n",
        # most blocks are ordinary paragraphs
        "Marie  0:00\nBonjour.\n\nKarim  0:05\nSalut.\n\nE : un\n\nP : deux\n\nE : trois\n\n"
        "P : quatre\n\nE : cinq\n",
        # a time with 61 seconds is not a time
        "Marie  0:61\nBonjour.\n\nKarim  1:75\nSalut.\n",
    ],
)
def test_looks_like_otter_rejects(text: str) -> None:
    assert not looks_like_otter(text)


def test_two_headers_suffice_and_crlf_input_is_normalised_first() -> None:
    raw = "Marie  0:00\r\nBonjour.\r\n\r\nKarim  0:05\r\nSalut.\r\n"
    text = normalise_text(raw)
    assert looks_like_otter(text)
    result = parse_otter(text, Path("o.txt"))
    check_invariants(result)
    assert turns_of(result) == [("Marie", 0, None, "Bonjour."), ("Karim", 5000, None, "Salut.")]


def test_preamble_is_metadata_and_a_tab_separates_time_too() -> None:
    text = ("Réunion de l'amicale — 12 mars\n\nAnne-Sophie Léger\t0:00\nOn commence ?\n\n"
            "Speaker 2  10:05\n  Oui, allons-y.  \n")
    assert looks_like_otter(text)
    result = parse_otter(text, Path("o.txt"))
    check_invariants(result)
    assert result.metadata == {"header": "Réunion de l'amicale — 12 mars"}
    assert turns_of(result) == [
        ("Anne-Sophie Léger", 0, None, "On commence ?"),
        ("Speaker 2", 605_000, None, "Oui, allons-y."),
    ]


def test_blank_line_inside_a_body_keeps_one_turn() -> None:
    text = "Marie  0:00\nPremier paragraphe.\n\nSecond paragraphe.\n\nKarim  0:30\nOui.\n"
    result = parse_otter(text, Path("o.txt"))
    check_invariants(result)
    assert turns_of(result) == [
        ("Marie", 0, None, "Premier paragraphe.\n\nSecond paragraphe."),
        ("Karim", 30_000, None, "Oui."),
    ]


def test_turn_with_only_the_footer_is_dropped_with_a_warning() -> None:
    text = "Marie  0:00\nBonjour.\n\nKarim  0:05\nTranscribed by https://otter.ai\n"
    result = parse_otter(text, Path("o.txt"))
    check_invariants(result)
    assert turns_of(result) == [("Marie", 0, None, "Bonjour.")]
    assert result.warnings == ["line 4: turn of Karim has no text"]


def test_time_going_backwards_is_kept_with_a_warning() -> None:
    text = "Marie  0:10\nBonjour.\n\nKarim  0:05\nSalut.\n"
    result = parse_otter(text, Path("o.txt"))
    assert [t.start_ms for t in result.turns] == [10_000, 5_000]
    assert result.warnings == ["line 4: time 0:05 is earlier than the previous turn's"]


def test_parse_otter_on_other_text_is_an_input_error() -> None:
    with pytest.raises(InputError) as info:
        parse_otter("E : Bonjour.\n", Path("entretien.txt"))
    assert "entretien.txt" in str(info.value)
    with pytest.raises(InputError) as info:
        parse_otter("Marie  0:00\nTranscribed by https://otter.ai\n", Path("vide.txt"))
    assert info.value.line == 1


def test_text_reader_hands_otter_exports_to_this_reader() -> None:
    text_module = pytest.importorskip("qcode.ingest.text")
    path = FIXTURES / "entretien.txt"
    result = text_module.read_text(codecs.BOM_UTF8 + path.read_bytes(), path)
    assert result.format == "otter"
    assert [t.speaker for t in result.turns] == ["Marie Dupont", "Karim Benali"] * 2


# --- property test ----------------------------------------------------------------------------

_name = st.sampled_from(["Marie Dupont", "Karim", "Speaker 1", "Zoë Lefèvre", "Unknown Speaker",
                         "Jean-Pierre 🎤"])
_body = st.text(alphabet=st.sampled_from([*list("aàbcçeéèfilmnoôrstu œ’'.,?!:;-\n"), "🎉", "\t"]),
                min_size=0, max_size=60)


@st.composite
def otter_files(draw: st.DrawFn) -> str:
    turns = draw(st.lists(st.tuples(_name, _body, st.integers(0, 4000)), max_size=6))
    clock = 0
    parts = []
    for name, body, step in turns:
        clock += step
        h, rest = divmod(clock, 3600)
        stamp = f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"
        parts.append(f"{name}  {stamp}\n{body}\n\n")
    if draw(st.booleans()):
        parts.append("Transcribed by https://otter.ai\n")
    raw = "".join(parts)
    if draw(st.booleans()):
        raw = raw.replace("\n", "\r\n")
    if draw(st.booleans()):
        raw = "\ufeff" + raw
    return normalise_text(raw)


@settings(max_examples=300, deadline=None)
@given(otter_files())
def test_property_otter_parses_or_raises_input_error(text: str) -> None:
    detected = looks_like_otter(text)
    try:
        result = parse_otter(text, Path("o.txt"))
    except InputError:
        assert not detected  # a detected export always has speech
        return
    check_invariants(result)
    assert result.text == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_property_arbitrary_text(text: str) -> None:
    text = normalise_text(text)
    looks_like_otter(text)
    try:
        result = parse_otter(text, Path("o.txt"))
    except InputError:
        return
    check_invariants(result)
