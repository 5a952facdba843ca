"""Transcriber (.trs) reader: turns, speakers, times, events, overlaps, encodings, bad input."""

from __future__ import annotations

import codecs
import re
import socket
import xml.etree.ElementTree as StdET
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcode.errors import InputError
from qcode.ingest.model import ParsedTranscript, normalise_text
from qcode.ingest.trs import read_trs
from tests.ingest.invariants import assert_transcript_invariants

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "trs"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "eslo-trs"
PATH = Path("entretien.trs")


def check_invariants(parsed: ParsedTranscript) -> None:
    assert_transcript_invariants(parsed, "trs")
    for turn in parsed.turns:
        if turn.speaker:  # the label is written before the speech
            assert parsed.text[: turn.start].endswith(f"{turn.speaker}: "), turn


def speeches(parsed: ParsedTranscript) -> list[tuple[str, str, int | None, int | None]]:
    return [
        (t.speaker, parsed.text[t.start : t.end], t.start_ms, t.end_ms) for t in parsed.turns
    ]


def trs(
    episode: str,
    *,
    speakers: str = '<Speaker id="spk1" name="Enquêtrice"/><Speaker id="spk2" name="Hélène"/>',
    encoding: str = "UTF-8",
    prolog: str | None = None,
    root_attrs: str = "",
) -> bytes:
    """A small Transcriber document around ``episode`` (the content of one Section)."""
    head = prolog if prolog is not None else f'<?xml version="1.0" encoding="{encoding}"?>\n'
    doc = (
        f'{head}<!DOCTYPE Trans SYSTEM "trans-14.dtd">\n<Trans{root_attrs}>\n'
        f"<Speakers>{speakers}</Speakers>\n<Episode>\n"
        f'<Section type="report" startTime="0" endTime="100">\n{episode}\n</Section>\n'
        "</Episode>\n</Trans>\n"
    )
    return doc.encode(encoding if prolog is None else "utf-8")


# --- the fixture file --------------------------------------------------------------------------


def test_fixture_turns_speakers_times_and_marks() -> None:
    path = FIXTURES / "entretien_latin1.trs"
    parsed = read_trs(path.read_bytes(), path)
    check_invariants(parsed)
    assert speeches(parsed) == [
        ("Enquêtrice", "alors vous êtes arrivée à Orléans en quelle année ?", 1200, 6750),
        (
            "Hélène",
            "en soixante-huit [rires] c'était [bruit-] l'année où [-bruit] tout a changé",
            6750,
            12001,
        ),
        ("Enquêtrice", "ah bon ?", 12001, 14300),  # overlap split, shared times
        ("Hélène", "oui oui", 12001, 14300),
        ("", "{coupure bande}", 15000, 16000),  # no speaker attribute; comment kept
        ("spk3", "c'est ça +[pi] mémé [en anglais]+ darling", 16000, 20500),  # empty name → id
        ("Hélène", "le quartier {hésite} Saint-Marceau", 22000, 30000),
    ]
    assert parsed.text == (
        "Enquêtrice: alors vous êtes arrivée à Orléans en quelle année ?\n\n"
        "Hélène: en soixante-huit [rires] c'était [bruit-] l'année où [-bruit] tout a changé\n\n"
        "Enquêtrice: ah bon ?\n\n"
        "Hélène: oui oui\n\n"
        "{coupure bande}\n\n"
        "spk3: c'est ça +[pi] mémé [en anglais]+ darling\n\n"
        "Hélène: le quartier {hésite} Saint-Marceau\n"
    )
    assert parsed.metadata == {
        "scribe": "Léa Martin",
        "audio_filename": "entretien_07",
        "version": "3",
        "version_date": "240312",
    }
    assert parsed.warnings == []


def test_doctype_is_accepted_and_never_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the reader tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    data = trs('<Turn speaker="spk1" startTime="0" endTime="1">bonjour</Turn>').replace(
        b'"trans-14.dtd"', b'"http://127.0.0.1:9/trans-14.dtd"'
    )
    assert speeches(read_trs(data, PATH)) == [("Enquêtrice", "bonjour", 0, 1000)]


def test_external_dtd_on_disk_is_not_loaded(tmp_path: Path) -> None:
    dtd = tmp_path / "trans-14.dtd"
    dtd.write_text('<!ENTITY secret "from the DTD">', encoding="utf-8")
    data = trs('<Turn speaker="spk1" startTime="0" endTime="1">&secret;</Turn>').replace(
        b"trans-14.dtd", dtd.as_uri().encode()
    )
    with pytest.raises(InputError, match="malformed XML: undefined entity") as err:
        read_trs(data, PATH)
    assert err.value.line == 7


def test_entity_declarations_are_refused() -> None:
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE Trans [\n<!ENTITY a "aaaaaaaaaa">\n'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n]>\n'
        '<Trans><Speakers/><Episode><Section><Turn>&b;</Turn></Section></Episode></Trans>'
    )
    with pytest.raises(InputError, match="refused XML") as err:
        read_trs(bomb.encode(), PATH)
    assert "entity" in str(err.value)


def test_external_entity_is_refused() -> None:
    xxe = (
        '<?xml version="1.0"?>\n<!DOCTYPE Trans [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        '<Trans><Speakers/><Episode><Section><Turn>&x;</Turn></Section></Episode></Trans>'
    )
    with pytest.raises(InputError, match="refused XML"):
        read_trs(xxe.encode(), PATH)


# --- structure ---------------------------------------------------------------------------------


def test_overlap_with_alternating_who_gives_one_turn_per_segment_in_order() -> None:
    data = trs(
        '<Turn speaker="spk1 spk2" startTime="3.5" endTime="5.25">\n<Sync time="3.5"/>\n'
        '<Who nb="1"/>\nquel mot employer\n<Who nb="2"/>\nmon père avant moi\n'
        '<Sync time="4.1"/>\n<Who nb="1"/>\nfaisait ce métier\n<Who nb="2"/>\nhm hm\n</Turn>'
    )
    assert speeches(read_trs(data, PATH)) == [
        ("Enquêtrice", "quel mot employer", 3500, 5250),
        ("Hélène", "mon père avant moi", 3500, 5250),
        ("Enquêtrice", "faisait ce métier", 3500, 5250),
        ("Hélène", "hm hm", 3500, 5250),
    ]


def test_overlap_segment_with_no_speech_is_skipped() -> None:
    data = trs(
        '<Turn speaker="spk2 spk1" startTime="1" endTime="2"><Who nb="1"/>\n'
        'très impressionnant\n<Who nb="2"/>\n<Sync time="1.5"/>\n</Turn>'
    )
    assert speeches(read_trs(data, PATH)) == [("Hélène", "très impressionnant", 1000, 2000)]


def test_who_number_out_of_range_is_an_error_with_its_line() -> None:
    data = trs('<Turn speaker="spk1 spk2" startTime="0" endTime="1">\n<Who nb="3"/>\noui\n</Turn>')
    with pytest.raises(InputError, match=r"<Who nb='3'> in a <Turn> of 2 speaker") as err:
        read_trs(data, PATH)
    assert err.value.line == 8


def test_overlap_without_who_goes_to_first_speaker_with_a_warning() -> None:
    data = trs('<Turn speaker="spk2 spk1" startTime="0" endTime="1">\nensemble\n</Turn>')
    parsed = read_trs(data, PATH)
    assert speeches(parsed) == [("Hélène", "ensemble", 0, 1000)]
    assert parsed.warnings == [
        "line 7: a <Turn> of 2 speakers without <Who>: its speech is given to 'Hélène'"
    ]


def test_turn_without_start_time_takes_its_first_sync() -> None:
    data = trs('<Turn speaker="spk1"><Sync time="7.5"/>oui</Turn>')
    assert speeches(read_trs(data, PATH)) == [("Enquêtrice", "oui", 7500, None)]


def test_whitespace_is_collapsed_but_non_breaking_spaces_are_kept() -> None:
    data = trs(
        '<Turn speaker="spk1" startTime="0" endTime="1">\r\n\t  ah\n\n  bon\t\tça\u00a0?  '
        "\n</Turn>"
    )
    parsed = read_trs(data, PATH)
    assert speeches(parsed) == [("Enquêtrice", "ah bon ça\u00a0?", 0, 1000)]


def test_crlf_file_reads_like_lf() -> None:
    path = FIXTURES / "entretien_latin1.trs"
    lf = read_trs(path.read_bytes(), path)
    crlf = read_trs(path.read_bytes().replace(b"\n", b"\r\n"), path)
    assert crlf.text == lf.text
    assert crlf.turns == lf.turns


def test_escaped_characters_and_nfc() -> None:
    data = trs('<Turn speaker="spk1" startTime="0" endTime="1">a &lt; b &amp; cafe\u0301</Turn>')
    parsed = read_trs(data, PATH)
    assert speeches(parsed) == [("Enquêtrice", "a < b & café", 0, 1000)]
    check_invariants(parsed)


def test_events_without_description_use_type_or_vanish() -> None:
    data = trs(
        '<Turn speaker="spk1" startTime="0" endTime="1">a<Event type="noise" desc=""/>b'
        '<Event desc=""/>c<Background time="0.5" type="music" level="high"/>d</Turn>'
    )
    assert speeches(read_trs(data, PATH))[0][1] == "a [noise] b c d"


def test_metadata_from_trans_and_episode() -> None:
    data = trs(
        '<Turn speaker="spk1" startTime="0" endTime="1">oui</Turn>',
        root_attrs=' scribe="Léa" audio_filename="e7.wav" version="2" version_date="240101" '
        'xml:lang="fre"',
    ).replace(b"<Episode>", b'<Episode program="ESLO" air_date="1969">')
    assert read_trs(data, PATH).metadata == {
        "scribe": "Léa",
        "audio_filename": "e7.wav",
        "version": "2",
        "version_date": "240101",
        "lang": "fre",
        "program": "ESLO",
        "air_date": "1969",
    }


# --- encodings ---------------------------------------------------------------------------------

EPISODE = '<Turn speaker="spk2" startTime="0" endTime="1">ça coûte 5 € à Noël</Turn>'


@pytest.mark.parametrize(
    ("data", "warning"),
    [
        (trs(EPISODE, encoding="UTF-8"), None),
        (trs(EPISODE, encoding="windows-1252"), None),
        (codecs.BOM_UTF8 + trs(EPISODE, encoding="UTF-8"), None),
        (trs(EPISODE, encoding="UTF-16"), None),  # Python writes a BOM
        (trs(EPISODE, prolog=""), None),  # no declaration: UTF-8
        (trs(EPISODE, prolog='<?xml version="1.0"?>\n'), None),
        (
            trs(EPISODE, encoding="UTF-8").replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"'),
            "declared ISO-8859-1 but the file is UTF-8: read as UTF-8",
        ),
        (
            trs(EPISODE, encoding="cp1252").replace(b'<?xml version="1.0" encoding="cp1252"?>',
                                                    b""),
            "no encoding declared and not UTF-8: read as a legacy 8-bit encoding",
        ),
    ],
    ids=["utf8", "cp1252", "utf8-bom", "utf16", "no-prolog", "no-encoding", "mislabelled",
         "legacy-undeclared"],
)
def test_encodings(data: bytes, warning: str | None) -> None:
    parsed = read_trs(data, PATH)
    assert speeches(parsed) == [("Hélène", "ça coûte 5 € à Noël", 0, 1000)]
    assert parsed.warnings == ([warning] if warning else [])


def test_declared_latin1_is_honoured() -> None:
    data = trs('<Turn speaker="spk2" startTime="0" endTime="1">été</Turn>',
               encoding="ISO-8859-1")
    assert b"\xe9t\xe9" in data
    parsed = read_trs(data, PATH)
    assert speeches(parsed) == [("Hélène", "été", 0, 1000)]
    assert "Ã" not in parsed.text


@pytest.mark.parametrize("name", ["klingon-8", "rot13", "base64", "zlib"])
def test_unknown_or_non_text_declared_encoding(name: str) -> None:
    data = trs(EPISODE).replace(b'encoding="UTF-8"', f'encoding="{name}"'.encode())
    with pytest.raises(InputError, match=f"unknown encoding '{name}'"):
        read_trs(data, PATH)


def test_declared_codec_that_refuses_the_bytes() -> None:
    data = trs(EPISODE).replace(b'encoding="UTF-8"', b'encoding="idna"')
    with pytest.raises(InputError, match="not valid idna as the XML prolog declares"):
        read_trs(data, PATH)


def test_bytes_invalid_in_declared_encoding_name_their_line() -> None:
    data = trs(EPISODE).replace("é".encode(), b"\xe9")  # Latin-1 é in a file declared UTF-8
    data = data.replace(b"\xe2\x82\xac", b"EUR")
    with pytest.raises(InputError, match="not valid UTF-8 as the XML prolog declares") as err:
        read_trs(data, PATH)
    assert err.value.line == 4  # the <Speakers> line, with "Hélène"


# --- malformed input ---------------------------------------------------------------------------


def test_truncated_file_names_line_and_column() -> None:
    data = (FIXTURES / "entretien_latin1.trs").read_bytes()
    half = data[: len(data) // 2]
    with pytest.raises(InputError, match="malformed XML: ") as err:
        read_trs(half, PATH)
    assert err.value.line == half.count(b"\n") + 1
    assert err.value.column is not None
    assert str(err.value).startswith(f"entretien.trs:{err.value.line}:{err.value.column}: ")


def test_mismatched_tag() -> None:
    data = trs('<Turn speaker="spk1" startTime="0" endTime="1">oui</Tur>')
    with pytest.raises(InputError, match="malformed XML: mismatched tag") as err:
        read_trs(data, PATH)
    assert (err.value.line, err.value.column) == (7, 53)


def test_wrong_root_element() -> None:
    data = b'<?xml version="1.0"?>\n<html><body>bonjour</body></html>'
    with pytest.raises(InputError, match="not a Transcriber file: the root element is <html>"):
        read_trs(data, PATH)


def test_no_episode() -> None:
    with pytest.raises(InputError, match="no <Episode>"):
        read_trs(b"<Trans><Speakers/></Trans>", PATH)


def test_unknown_speaker_names_the_turn_line() -> None:
    data = trs('<Turn speaker="spk1" startTime="0" endTime="1">oui</Turn>\n'
               '<Turn speaker="spk9" startTime="1" endTime="2">non</Turn>')
    with pytest.raises(InputError, match="speaker 'spk9', which <Speakers> does not declare") as e:
        read_trs(data, PATH)
    assert e.value.line == 8


@pytest.mark.parametrize(
    ("episode", "message", "line"),
    [
        ('<Turn speaker="spk1" startTime="abc" endTime="1">oui</Turn>',
         "startTime='abc' is not a time in seconds", 7),
        ('<Turn speaker="spk1" startTime="0" endTime="nan">oui</Turn>',
         "endTime='nan' is not a time in seconds", 7),
        ('<Turn speaker="spk1" startTime="-1" endTime="1">oui</Turn>',
         "startTime='-1' is not a time in seconds", 7),
        ('<Turn speaker="spk1" startTime="0" endTime="1">\n<Turn>oui</Turn></Turn>',
         "<Turn> inside another <Turn>", 8),
    ],
)
def test_bad_turns(episode: str, message: str, line: int) -> None:
    with pytest.raises(InputError, match=re.escape(message)) as err:
        read_trs(trs(episode), PATH)
    assert err.value.line == line


def test_turn_outside_a_section() -> None:
    data = b"<Trans><Speakers/><Episode>\n<Turn>oui</Turn></Episode></Trans>"
    with pytest.raises(InputError, match="<Turn> inside <Episode>, not in <Episode><Section>"):
        read_trs(data, PATH)


@pytest.mark.parametrize(
    ("speakers", "message"),
    [
        ('<Speaker name="sans id"/>', "<Speaker> without an id"),
        ('<Speaker id="spk1" name="A"/><Speaker id="spk1" name="B"/>', "declared twice"),
    ],
)
def test_bad_speakers(speakers: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_trs(trs('<Turn startTime="0" endTime="1">oui</Turn>', speakers=speakers), PATH)


def test_only_empty_turns() -> None:
    data = trs('<Turn speaker="spk1" startTime="0" endTime="1"><Sync time="0"/>\n\n</Turn>')
    with pytest.raises(InputError, match="no speech"):
        read_trs(data, PATH)


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n", b"\x00\x01\x02\x03" * 20, b"PK\x03\x04" + bytes(range(256)), b"bonjour"],
    ids=["empty", "blank", "binary", "zip", "plain-text"],
)
def test_not_xml(data: bytes) -> None:
    with pytest.raises(InputError):
        read_trs(data, PATH)


# --- the real corpus ---------------------------------------------------------------------------


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(CORPUS.glob("*.trs"))


def _independent_reading(path: Path) -> tuple[int, set[str]]:
    """Count the non-empty speaker segments and the speaker names, straight from the XML."""
    root = StdET.parse(path).getroot()  # trusted test file: the stdlib parser is enough
    names = {s.get("id"): (s.get("name") or s.get("id")) for s in root.iter("Speaker")}
    count = 0
    used: set[str] = set()
    for turn in root.iter("Turn"):
        ids = (turn.get("speaker") or "").split()
        segments: list[tuple[int, bool]] = [(0, bool((turn.text or "").strip()))]
        for child in turn:
            if child.tag == "Who":
                segments.append((int(child.get("nb", "1")) - 1, False))
            elif child.tag in ("Event", "Comment"):
                segments[-1] = (segments[-1][0], True)
            if (child.tail or "").strip():
                segments[-1] = (segments[-1][0], True)
        for index, non_empty in segments:
            if non_empty:
                count += 1
                used.add(str(names[ids[index]]) if ids else "")
    return count, used


@pytest.fixture(params=[p.name for p in _corpus_files()] or ["absent"])
def corpus_file(request: pytest.FixtureRequest) -> Path:
    if request.param == "absent":
        pytest.skip(f"real corpora not present ({CORPUS})")
    return CORPUS / str(request.param)


def test_real_corpus_matches_an_independent_reading(corpus_file: Path) -> None:
    parsed = read_trs(corpus_file.read_bytes(), corpus_file)
    check_invariants(parsed)
    count, speakers = _independent_reading(corpus_file)
    assert len(parsed.turns) == count
    assert {t.speaker for t in parsed.turns} == speakers
    assert "é" in parsed.text
    assert "Ã" not in parsed.text and "\ufffd" not in parsed.text
    starts = [t.start_ms for t in parsed.turns]
    assert all(s is not None for s in starts)
    assert starts == sorted(starts)  # type: ignore[type-var]
    assert all(t.end_ms is not None and t.start_ms is not None and t.end_ms > t.start_ms
               for t in parsed.turns)
    assert parsed.metadata["audio_filename"]
    assert parsed.warnings == []


def test_real_corpus_overlap_and_events() -> None:
    path = CORPUS / "ESLO1_ENT_002_C.trs"
    if not path.is_file():
        pytest.skip(f"real corpora not present ({CORPUS})")
    parsed = read_trs(path.read_bytes(), path)
    assert speeches(parsed)[:3] == [
        ("DE744", "très impressionnant", 1860, 2671),
        ("JR", "je voudrais vérifier", 1860, 2671),
        ("JR", "au niveau du son parce que donc la petit petite aiguille [pi] sort de la machine "
               "ça veut dire que c'est cassé", 2671, 9701),
    ]


# --- property: generated Transcriber files -----------------------------------------------------

_XML_CHARS = st.characters(
    blacklist_categories=["Cs"],
    blacklist_characters="\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12"
    "\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\ufffe\uffff",
)
_WORDS = st.text(
    alphabet=st.one_of(st.sampled_from(list("aeéèàçôœ ’'\n\r\t😀?!<>&\"")), _XML_CHARS),
    max_size=30,
)
_PIECE = st.one_of(
    _WORDS.map(lambda s: ("text", s)),
    st.just(("sync", "")),
    st.sampled_from(["rires", "toux", "bruit"]).map(lambda s: ("event", s)),
)


@st.composite
def _documents(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, str]]]:
    names = draw(st.lists(_WORDS.filter(lambda s: s.strip()), min_size=1, max_size=3))
    speakers = "".join(
        f"<Speaker id={quoteattr(f'spk{i}')} name={quoteattr(n)}/>" for i, n in enumerate(names)
    )
    turns: list[str] = []
    expected: list[tuple[str, str]] = []
    t = 0.0
    for _ in range(draw(st.integers(0, 5))):
        who = draw(st.integers(-1, len(names) - 1))
        pieces = draw(st.lists(_PIECE, max_size=5))
        body = ""
        speech = ""
        for kind, value in pieces:
            if kind == "text":
                body += escape(value)
                speech += value
            elif kind == "sync":
                body += f'<Sync time="{t}"/>'
                speech += " "
            else:
                body += f'<Event desc="{value}" type="noise" extent="instantaneous"/>'
                speech += f" [{value}] "
        attr = f' speaker="spk{who}"' if who >= 0 else ""
        turns.append(f'<Turn{attr} startTime="{t}" endTime="{t + 1.5}">{body}</Turn>')
        speech = normalise_text(re.sub(r"[ \t\r\n]+", " ", speech).strip(" ")).strip()
        if speech:
            label = normalise_text(names[who]).replace("\ufeff", "").strip() or f"spk{who}"
            expected.append((label if who >= 0 else "", speech))
        t += 1.5
    doc = (
        f"<Trans><Speakers>{speakers}</Speakers><Episode><Section>{''.join(turns)}"
        "</Section></Episode></Trans>"
    )
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "iso-8859-1", "none"]))
    if draw(st.booleans()):
        doc = doc.replace("\n", "\r\n")
    if encoding == "none":
        return doc.encode("utf-8"), expected
    declared = "UTF-8" if encoding == "utf-8-sig" else encoding.upper()
    doc = f'<?xml version="1.0" encoding="{declared}"?>\n<!DOCTYPE Trans SYSTEM "t.dtd">\n{doc}'
    return doc.encode(encoding, errors="xmlcharrefreplace"), expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents())
def test_property_generated_documents(document: tuple[bytes, list[tuple[str, str]]]) -> None:
    data, expected = document
    try:
        parsed = read_trs(data, PATH)
    except InputError:
        assert not expected  # only a document without speech is refused
        return
    check_invariants(parsed)
    assert [(t.speaker, parsed.text[t.start : t.end]) for t in parsed.turns] == [
        (speaker, speech) for speaker, speech in expected if speech.strip()
    ]


@settings(max_examples=200, deadline=None)
@given(_documents(), st.data())
def test_property_damaged_documents(
    document: tuple[bytes, list[tuple[str, str]]], data: st.DataObject
) -> None:
    raw = bytearray(document[0])
    if raw:
        cut = data.draw(st.integers(0, len(raw)))
        raw = raw[:cut]
        for _ in range(data.draw(st.integers(0, 3))):
            if raw:
                raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        parsed = read_trs(bytes(raw), PATH)
    except InputError:
        return
    check_invariants(parsed)
