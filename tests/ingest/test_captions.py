"""WebVTT and SRT readers: speakers from Zoom, Teams, noScribe, WhisperX; plain Whisper."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcode.errors import InputError
from qcode.ingest.captions import is_short_name, read_srt, read_vtt
from qcode.ingest.model import ParsedTranscript
from tests.ingest.invariants import assert_transcript_invariants

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "captions"
CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"


def check_invariants(result: ParsedTranscript) -> None:
    assert_transcript_invariants(result)


def turns_of(result: ParsedTranscript) -> list[tuple[str, int | None, int | None, str]]:
    return [(t.speaker, t.start_ms, t.end_ms, result.text[t.start : t.end]) for t in result.turns]


def vtt(source: str, name: str = "test.vtt") -> ParsedTranscript:
    result = read_vtt(source.encode("utf-8"), Path(name))
    check_invariants(result)
    return result


def srt(source: str, name: str = "test.srt") -> ParsedTranscript:
    result = read_srt(source.encode("utf-8"), Path(name))
    check_invariants(result)
    return result


def fixture(name: str) -> ParsedTranscript:
    path = FIXTURES / name
    reader = read_vtt if path.suffix == ".vtt" else read_srt
    result = reader(path.read_bytes(), path)
    check_invariants(result)
    return result


# --- speakers ---------------------------------------------------------------------------------


def test_zoom_labels_merge_consecutive_cues() -> None:
    result = fixture("zoom.vtt")
    assert result.format == "vtt"
    assert turns_of(result) == [
        ("Marie Dupont", 1250, 7100, "Bonjour, merci d'avoir accepté cet entretien. "
         "On commence par l'historique de l'association ?"),
        ("Karim Benali", 7900, 15000, "Oui, bien sûr. L'association est née pendant le premier "
         "confinement. Remarque : au début, on était cinq voisins."),
        ("Marie Dupont", 15500, 17000, "Cinq seulement ?"),
    ]
    assert result.text.startswith("Marie Dupont: Bonjour, merci")
    assert "\n\nKarim Benali: Oui, bien sûr." in result.text
    assert result.text.endswith("Marie Dupont: Cinq seulement ?\n")


def test_teams_voice_tags_notes_styles_regions_and_inline_tags() -> None:
    result = fixture("teams.vtt")
    assert turns_of(result) == [
        ("Élodie Martin", 3120, 9000,
         "Alors, comment décririez-vous le quartier ? Avant la crise, je veux dire."),
        ("Jean-Pierre Lefèvre", 9500, 14250, "C'est un quartier très vivant, & solidaire."),
        ("Élodie Martin", 62000, 65000, "Merci."),
        ("Jean-Pierre Lefèvre", 62000, 65000, "Avec plaisir !"),
    ]
    assert result.metadata == {"title": "Réunion Teams", "kind": "captions", "language": "fr"}
    for absent in ("généré", "lime", "width", "d5a1b7e0", "align", "position", "-->", "<", ">"):
        assert absent not in result.text


def test_noscribe_voice_tags_without_closing_tag() -> None:
    result = fixture("noscribe.vtt")
    assert turns_of(result) == [
        ("S00", 0, 5000, "Bonjour à vous deux. Vous êtes voisines ?"),
        ("S01", 5200, 9800,
         "Oui, depuis vingt ans — on s'est rencontrées à la fête de l'immeuble."),
        ("S02", 10000, 11000, "Vingt-deux ans !"),
    ]


def test_whisperx_bracket_labels() -> None:
    result = fixture("whisperx.srt")
    assert result.format == "srt"
    assert turns_of(result) == [
        ("SPEAKER_00", 500, 2750, "Vous habitez le quartier depuis longtemps ?"),
        ("SPEAKER_01", 3100, 10400,
         "Depuis 1998. J'ai vu arriver le tram. Et la médiathèque, ça a tout changé."),
        ("SPEAKER_00", 11000, 12000, "D'accord."),
    ]
    assert result.text.startswith("SPEAKER_00: Vous habitez")


def test_whisper_vtt_without_hours_is_one_unnamed_speaker_split_at_pauses_and_long_turns() -> None:
    result = fixture("whisper.vtt")
    assert turns_of(result) == [
        # "Note:" occurs twice among eight cues: not a speaker
        ("", 0, 12500, "Nous avons créé l'association en 2020, pendant le confinement. "
         "Note: c'était une période très difficile pour tout le monde. "
         "Les voisins se sont mis à s'entraider, c'était beau à voir."),
        # 2.5 s pause before; the 62 s cue ending in "mais" does not end the turn, the
        # sentence that ends at 80 s (the turn then lasts 65 s) does
        ("", 15000, 80000, "Ensuite, on a monté une épicerie solidaire avec la mairie, les "
         "bailleurs, la régie de quartier, mais surtout avec les habitants."),
        ("", 80000, 85000, "Note: la mairie a payé le local. Voilà."),
    ]
    assert result.text.startswith("Nous avons créé")  # no label for the unnamed speaker


def test_whisper_srt_comma_decimals_strip_italics_and_ass_tags() -> None:
    result = fixture("whisper.srt")
    assert turns_of(result) == [
        ("", 0, 7020, "Bonjour, je m'appelle Inès. Je suis bénévole à l'épicerie depuis deux ans."),
        ("", 9500, 12000, "On se retrouve tous les mardis."),
    ]


def test_pause_just_under_two_seconds_keeps_the_turn() -> None:
    result = vtt("WEBVTT\n\n00:00.000 --> 00:01.000\nun\n\n00:02.999 --> 00:04.000\ndeux\n\n"
                 "00:06.000 --> 00:07.000\ntrois\n")
    assert turns_of(result) == [("", 0, 4000, "un deux"), ("", 6000, 7000, "trois")]


def test_named_speakers_are_not_split_at_pauses() -> None:
    result = vtt("WEBVTT\n\n00:00.000 --> 00:01.000\n<v Ana>un\n\n"
                 "00:30.000 --> 00:31.000\n<v Ana>deux\n")
    assert turns_of(result) == [("Ana", 0, 31000, "un deux")]


def test_zoom_label_must_recur_somewhere_in_the_file() -> None:
    result = vtt("WEBVTT\n\n00:00.000 --> 00:01.000\nMarie: Bonjour.\n\n"
                 "00:01.000 --> 00:02.000\nKarim: Salut.\n")
    assert turns_of(result) == [("", 0, 2000, "Marie: Bonjour. Karim: Salut.")]


def test_zoom_file_accepts_a_name_that_speaks_once_and_leaves_unlabelled_cues_unnamed() -> None:
    result = vtt(
        "WEBVTT\n\n"
        "00:00.000 --> 00:01.000\nMarie: Bonjour.\n\n"
        "00:01.000 --> 00:02.000\nKarim: Salut.\n\n"
        "00:02.000 --> 00:03.000\nMarie: Ça va ?\n\n"
        "00:03.000 --> 00:04.000\n(bruit de fond)\n\n"
        "00:04.000 --> 00:05.000\nMarie: Reprenons.\n"
    )
    assert turns_of(result) == [
        ("Marie", 0, 1000, "Bonjour."),
        ("Karim", 1000, 2000, "Salut."),
        ("Marie", 2000, 3000, "Ça va ?"),
        ("", 3000, 4000, "(bruit de fond)"),
        ("Marie", 4000, 5000, "Reprenons."),
    ]


def test_sentences_with_colons_are_not_labels() -> None:
    cues = [
        "Alors je lui ai dit ceci: non.",  # six words
        "Bon, voilà: ça suffit.",  # comma
        "Vous savez quoi ? Voilà: rien.",  # question mark
        "À 10:30 on part.",  # time
        "Voir https://exemple.fr pour tout.",  # URL
    ]
    body = "".join(f"00:0{i}.000 --> 00:0{i}.900\n{c}\n\n" for i, c in enumerate(cues * 2))
    result = vtt("WEBVTT\n\n" + body)
    assert {t.speaker for t in result.turns} == {""}
    assert "Alors je lui ai dit ceci: non." in result.text


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Marie Dupont", True),
        ("M. Dupont", True),
        ("Dr. J.-P. Lefèvre", True),
        ("SPEAKER_00", True),
        ("Et puis il a dit", True),
        ("Alors je lui ai dit que", False),
        ("Bon, alors", False),
        ("Vraiment ?", False),
        ("Il est parti. Puis", False),
        ("x" * 41, False),
        ("", False),
        ("« Marie »", False),
    ],
)
def test_short_name(name: str, expected: bool) -> None:
    assert is_short_name(name) is expected


def test_several_voices_in_one_cue_and_text_before_the_first_voice() -> None:
    result = vtt("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n"
                 "- <v Ana>Oui ?</v> <v.first.loud Bruno Lévy>Non.</v>\n")
    assert turns_of(result) == [
        ("", 1000, 2000, "-"),
        ("Ana", 1000, 2000, "Oui ?"),
        ("Bruno Lévy", 1000, 2000, "Non."),
    ]


def test_inline_timestamps_classes_ruby_and_entities() -> None:
    result = vtt("WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n"
                 "<c.red.bg_blue>Très</c> <00:00:02.000><u>bien</u> &lt;ok&gt; &nbsp;5 &lt; 6\n")
    assert turns_of(result) == [("", 1000, 4000, "Très bien <ok> 5 < 6")]


def test_cue_lines_are_joined_with_spaces() -> None:
    result = srt("1\n00:00:01,000 --> 00:00:02,500\nPremière ligne\n  deuxième ligne \n")
    assert turns_of(result) == [("", 1000, 2500, "Première ligne deuxième ligne")]


def test_timing_line_without_blank_line_before_starts_a_new_cue() -> None:
    result = vtt("WEBVTT\n00:00.000 --> 00:01.000\nun.\n00:05.000 --> 00:06.000\ndeux.\n")
    assert turns_of(result) == [("", 0, 1000, "un."), ("", 5000, 6000, "deux.")]


def test_srt_cue_number_without_blank_line_before_goes_with_its_cue() -> None:
    result = srt("1\n00:00:01,000 --> 00:00:02,000\nun.\n2\n00:00:09,000 --> 00:00:10,000\n"
                 "deux.\n")
    assert turns_of(result) == [("", 1000, 2000, "un."), ("", 9000, 10000, "deux.")]


def test_header_without_blank_line_and_odd_header_lines() -> None:
    result = vtt("WEBVTT\tFichier\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000\n"
                 "Language: fr-FR\n00:01.000 --> 00:02.000\nmot\n")
    assert result.metadata == {"title": "Fichier", "language": "fr-FR"}
    assert turns_of(result) == [("", 1000, 2000, "mot")]


def test_empty_cue_in_the_middle_is_skipped() -> None:
    result = vtt("WEBVTT\n\n00:00.000 --> 00:01.000\n\n00:01.000 --> 00:02.000\nmot\n")
    assert turns_of(result) == [("", 1000, 2000, "mot")]


def test_srt_without_cue_numbers_and_with_dot_decimals() -> None:
    result = srt("00:00:01.000 --> 00:00:02.000\nun\n\n00:00:02.000 --> 00:00:03.000\ndeux\n")
    assert turns_of(result) == [("", 1000, 3000, "un deux")]


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s.replace("\n", "\r\n").encode("utf-8"),
        lambda s: codecs.BOM_UTF8 + s.encode("utf-8"),
        lambda s: s.encode("utf-16"),
        lambda s: s.replace("\n", "\r\n").encode("cp1252"),
    ],
    ids=["crlf", "bom", "utf16", "cp1252-crlf"],
)
def test_encodings_and_line_ends_give_the_same_turns(encode: object) -> None:
    path = FIXTURES / "zoom.vtt"
    source = path.read_text(encoding="utf-8")
    expected = read_vtt(path.read_bytes(), path)
    result = read_vtt(encode(source), path)  # type: ignore[operator]
    check_invariants(result)
    assert result.text == expected.text
    assert turns_of(result) == turns_of(expected)


# --- malformed files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("00:00.000 --> 00:01.000\nbonjour\n", 1, "missing WEBVTT header"),
        ("WEB VTT\n", 1, "missing WEBVTT header"),
        ("WEBVTTX\n\n00:00.000 --> 00:01.000\nun\n", 1, "missing WEBVTT header"),
        ("WEBVTT\n\n00:00.000 -> 00:01.000\nbonjour\n", 3, "expected a cue timing line"),
        ("WEBVTT\n\n1\n00:00.000 --> 00:01\nbonjour\n", 4, "bad cue timing line"),
        ("WEBVTT\n\n00:02.000 --> 00:01.000\nbonjour\n", 3, "ends before it starts"),
        ("WEBVTT\n\n00:00.000 --> 00:61.000\nbonjour\n", 3, "below 60"),
        ("WEBVTT\n\n00:00.000 --> 00:01.000\nun\n\n00:01.000 --> 00:02.000\n", 6, "truncated"),
        ("WEBVTT\n\n00:00.000 --> 00:01.000\nun\n\ndeux\n", 6, "expected a cue timing line"),
        ("WEBVTT\nKind: captions\n\nNOTE rien\n", 4, "no cues"),
        ("WEBVTT\n", 1, "no cues"),
        ("WEBVTT\n\n00:00.000 --> 00:01.000\n<i></i>\n", None, "no text"),
    ],
)
def test_malformed_vtt(source: str, line: int | None, words: str) -> None:
    with pytest.raises(InputError) as info:
        read_vtt(source.encode("utf-8"), Path("atelier.vtt"))
    assert info.value.line == line
    assert words in info.value.message
    assert str(info.value).startswith("atelier.vtt" + (f":{line}:" if line else ":"))


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("1\n00:00:01,000 --> 00:00:02,000\nun\n\n2\n", 5, "truncated"),
        ("1\n00:00:01,000 --> 00:00:02,000\n", 2, "truncated"),
        ("1\n00:00:01,000 --> 00:00:02,000\nun\n\n2\n00:00:03,000\ndeux\n", 6,
         "expected a cue timing line"),
        ("1\n00:00:05,000 --> 00:00:02,000\nun\n", 2, "ends before it starts"),
        ("un\n00:00:01,000 --> 00:00:02,000\ndeux\n", 1, "bad cue number"),
        ("1\n00:00:01,000 --> 00:00:02,000\nun\n\n\ndeux\ntrois\n", 7,
         "expected a cue timing line"),
        ("WEBVTT\n\n00:00.000 --> 00:01.000\nun\n", 1, "WebVTT file, not SRT"),
        ("\n\n", None, "empty file"),
    ],
)
def test_malformed_srt(source: str, line: int | None, words: str) -> None:
    with pytest.raises(InputError) as info:
        read_srt(source.encode("utf-8"), Path("atelier.srt"))
    assert info.value.line == line
    assert words in info.value.message
    assert "atelier.srt" in str(info.value)


def test_binary_file_is_an_input_error() -> None:
    with pytest.raises(InputError):
        read_vtt(b"\x00\x01\x02WEBVTT\x00\x00\xff" * 20, Path("x.vtt"))


# --- property tests ---------------------------------------------------------------------------

_words = st.text(
    alphabet=st.sampled_from([*list("aàbcçdeéèêfilmnoôrstuœ ’'.,?!:;-<>&"), "🎉", "😀", "\xa0"]),
    min_size=0,
    max_size=30,
)
_speaker = st.one_of(
    st.just(""),
    st.sampled_from(["Élodie", "Jean-Pierre Lefèvre", "S00", "SPEAKER_01", "M. Dupont", "Zoë 🎤"]),
)
_style = st.sampled_from(["plain", "voice", "zoom", "bracket"])


def _ts(ms: int, *, srt_style: bool, hours: bool) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, frac = divmod(rest, 1000)
    sep = "," if srt_style else "."
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{frac:03d}" if hours else f"{m:02d}:{s:02d}{sep}{frac:03d}"


@st.composite
def caption_files(draw: st.DrawFn) -> tuple[bytes, bool]:
    is_srt = draw(st.booleans())
    hours = is_srt or draw(st.booleans())
    cues = draw(st.lists(st.tuples(_speaker, _style, _words, st.integers(0, 5000),
                                   st.integers(0, 70_000)), min_size=0, max_size=8))
    parts = [] if is_srt else ["WEBVTT\n\n"]
    clock = draw(st.integers(0, 3_000_000))
    for number, (speaker, style, words, gap, length) in enumerate(cues, 1):
        start, end = clock + gap, clock + gap + length
        clock = end
        if style == "voice" and speaker:
            payload = f"<v {speaker}>{words}</v>"
        elif style == "zoom" and speaker:
            payload = f"{speaker}: {words}"
        elif style == "bracket" and speaker:
            payload = f"[{speaker}]: {words}"
        else:
            payload = words
        timing = f"{_ts(start, srt_style=is_srt, hours=hours)} --> " \
                 f"{_ts(end, srt_style=is_srt, hours=hours)}"
        parts.append(f"{number}\n{timing}\n{payload}\n\n")
    source = "".join(parts)
    if draw(st.booleans()):
        source = source.replace("\n", "\r\n")
    data = source.encode("utf-8")
    if draw(st.booleans()):
        data = codecs.BOM_UTF8 + data
    return data, is_srt


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(caption_files())
def test_property_generated_captions_read_or_raise_input_error(case: tuple[bytes, bool]) -> None:
    data, is_srt = case
    reader = read_srt if is_srt else read_vtt
    try:
        result = reader(data, Path("généré.srt" if is_srt else "généré.vtt"))
    except InputError:
        return
    check_invariants(result)
    times = [t.start_ms for t in result.turns]
    assert all(t is not None for t in times)


_noise = st.text(alphabet=st.sampled_from(list("WEBVTNOSLRG0123456789:., ->\n\r\t<>v/[]_é😀Ab")),
                 max_size=200)


@settings(max_examples=300, deadline=None)
@given(_noise, st.booleans())
def test_property_arbitrary_text_never_raises_anything_but_input_error(
    noise: str, with_header: bool
) -> None:
    source = ("WEBVTT\n\n" if with_header else "") + noise
    for reader in (read_vtt, read_srt):
        try:
            result = reader(source.encode("utf-8"), Path("bruit.vtt"))
        except InputError:
            continue
        check_invariants(result)


# --- real corpus ------------------------------------------------------------------------------


def test_talkpython_vtt_is_one_unnamed_speaker_with_times() -> None:
    folder = CORPORA / "talkpython-vtt"
    if not folder.is_dir():
        pytest.skip("shared corpora not available")
    path = folder / "061_free_software_free_people.vtt"
    result = read_vtt(path.read_bytes(), path)
    check_invariants(result)
    assert result.format == "vtt"
    assert {t.speaker for t in result.turns} == {""}
    assert len(result.turns) > 20
    starts = [t.start_ms for t in result.turns]
    ends = [t.end_ms for t in result.turns]
    assert all(s is not None for s in starts) and all(e is not None for e in ends)
    assert starts == sorted(starts)  # type: ignore[type-var]
    # the intro runs to 52.08 s, then a 5.76 s pause before "Welcome to Talk Python To Me"
    first, second = result.turns[0], result.turns[1]
    assert (first.start_ms, first.end_ms) == (1, 52080)
    assert result.text[first.start : first.end].startswith("How often do you read some news")
    assert result.text[first.start : first.end].endswith("recorded May 12, 2016.")
    assert second.start_ms == 57840
    assert result.text[second.start : second.end].startswith("Welcome to Talk Python To Me")
    assert "-->" not in result.text
    # no turn runs on for long without a reason to end it: a pause or a sentence end
    assert all((t.end_ms or 0) - (t.start_ms or 0) < 180_000 for t in result.turns)
