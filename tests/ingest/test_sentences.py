"""Sentence spans inside turns."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from qcode.ingest.sentences import split_sentences


def sents(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text, 0, len(text))]


def test_french_punctuation_and_abbreviations() -> None:
    text = ("Bonjour ! Alors, euh… on a vu M. Dupont et Mme Durand. Ils ont dit « Oui. » "
            "Puis voilà… et après ? 2020 était dur.\nNouvelle ligne. M. D. est venu.")
    assert sents(text) == [
        "Bonjour !",
        "Alors, euh… on a vu M. Dupont et Mme Durand.",
        "Ils ont dit « Oui. »",
        "Puis voilà… et après ?",
        "2020 était dur.",
        "Nouvelle ligne.",
        "M. D. est venu.",
    ]


def test_span_inside_a_larger_text() -> None:
    text = "E : Bonjour. Ça va ?"
    assert split_sentences(text, 4, len(text)) == [(4, 12), (13, 20)]


@given(st.text(alphabet=st.sampled_from(list("ab .!?…\n«» É")), max_size=60))
def test_property_sentences_are_ordered_trimmed_and_inside(text: str) -> None:
    previous = 0
    for s, e in split_sentences(text, 0, len(text)):
        assert previous <= s < e <= len(text)
        assert text[s:e] == text[s:e].strip()
        previous = e


def test_a_transcription_mark_after_the_end_stays_with_its_sentence() -> None:
    text = "Comment c’est né… [rires] Alors, il y a deux versions. C’était dur (silence) Oui."
    assert sents(text) == ["Comment c’est né… [rires]", "Alors, il y a deux versions.",
                           "C’était dur (silence) Oui."]
