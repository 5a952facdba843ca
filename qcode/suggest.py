"""Keyword-assisted suggestions: where a code's keywords occur, propose the passage.

How a run goes (:func:`suggest`)
    1. Lemmas. Every turn of every transcript is tokenised and lemmatised once by the project
       language's spaCy model (:mod:`qcode.nlp`) and cached in ``lemma_cache``, keyed by the
       text's hash and the model; later runs read the cache and never load spaCy. Keyword and
       veto phrases are lemmatised by the same pipeline, inside a carrier sentence (the small
       French model lemmatises isolated words badly), and cached in one row of their own.
    2. Matching. A keyword is a sequence of tokens; a keyword token meets a text token when the
       folded form or the folded lemma of one equals the folded form or lemma of the other
       (``exact: true``: folded forms only); when their *family* keys meet (below); or, with
       ``fuzzy: n``, when the text word is within ``n`` edits of the keyword (words of 5 letters
       or more; optimal string alignment, i.e. Levenshtein plus a swap of two neighbouring
       letters as one edit, so « subventoin » is one edit from « subvention »). Fuzzy candidates
       are found by comparing the keyword words with the corpus *vocabulary* — each distinct
       word once, with ``rapidfuzz.process.cdist`` — never with every token. Elided clitics
       (``l'``, ``d'``, ``s'``, ``qu'``…) and masked tokens (transcription marks and fillers,
       :func:`qcode.nlp.mark_spans`) are skipped: « l'AG » meets « AG », « s'entraider » meets
       « entraide » and « s'entraident »; a mark never matches nor counts inside a phrase.
       Punctuation breaks a phrase. Regex keywords run case-insensitively on the turn's text
       with the marks blanked out, and their match is widened to whole tokens.
    3. Vetoes. A ``not:`` phrase (matched like a keyword, on lemmas) vetoes a hit it overlaps or
       touches (the next or previous word, in the same sentence): ``bureau`` in « bureau de
       poste ».
    4. Units. A hit expands to its unit: the code's ``unit`` (sentence by default) or
       ``--unit``; sentences are those computed at ingest. Interviewer turns are skipped unless
       asked. Hits of one code in the same or adjacent units of a turn merge into one
       suggestion; a hit inside a longer hit of the same code is dropped. A passage already
       coded with the code (a coding covering it) is not suggested.

Family keys
    A light derivational rule set so that a noun in *-ité* meets its adjective: « solidarité »,
    « solidarités » and « solidaire » share the key ``solidar``. Plurals in -s/-x are removed
    from words of 6 letters or more, then the first matching suffix is replaced when 5 letters
    or more remain: -abilité/-able → abl, -ibilité/-ible → ibl, -arité/-aire → ar,
    -osité/-euse/-eux → os, -ivité/-ive/-if → iv, -alité/-ale/-al/-aux → al, -ilité/-ile → il,
    -ité → (nothing), -er/-e → (nothing) (« entraide »/« entraider »).

Score, in [0, 1]
    Each hit has a weight by how it matched: folded form 0.60, lemma 0.55, regex 0.50, family
    0.40, fuzzy 0.35 (one edit) or 0.25 (two); a phrase of n ≥ 2 words adds 0.10 per extra
    word, up to 0.85 (a phrase's weakest word sets its kind). A keyword counts once per
    suggestion, with its best weight w_k, and the K distinct keywords combine as
    ``score = min(1, 1 − Π_k (1 − w_k) + 0.05 × (K − 1))``, rounded to 3 decimals. One lemma
    hit scores 0.55; two distinct keywords matched by form 0.89; a lone fuzzy hit 0.35.

Storage
    A suggestion's ``text_key`` is a digest of (transcript, code, suggested text) — plus the
    occurrence number when the same text is suggested twice in a transcript. Re-running
    inserts new suggestions, refreshes the score and triggers of pending ones, keeps accepted
    and rejected ones as they are (a rejected text never comes back), and deletes the pending
    ones this run no longer produces, for the transcripts and codes it ran on. Each transcript
    is reconciled in one transaction, so a killed run leaves the store consistent.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from qcode import nlp
from qcode.codebook import Code, Codebook, Keyword
from qcode.errors import NotFoundError, UsageError
from qcode.ingest.pipeline import Progress  # (stage, done, total, current item)
from qcode.project import Project
from qcode.store import Store
from qcode.store import codings as coding_q
from qcode.store import suggestions as q
from qcode.store import transcripts as transcript_q
from qcode.store.records import TranscriptRecord

UNITS = ("sentence", "turn")
STATUSES = ("pending", "accepted", "rejected")

# match kinds, best first, and their weights
FORM, LEMMA, FAMILY, FUZZY1, FUZZY2, REGEX = 0, 1, 2, 3, 4, 5
KIND_NAMES = {FORM: "form", LEMMA: "lemma", FAMILY: "family", FUZZY1: "fuzzy",
              FUZZY2: "fuzzy", REGEX: "regex"}
WEIGHTS = {FORM: 0.60, LEMMA: 0.55, FAMILY: 0.40, FUZZY1: 0.35, FUZZY2: 0.25, REGEX: 0.50}
PHRASE_BONUS = 0.10
PHRASE_CAP = 0.85
DISTINCT_BONUS = 0.05
FUZZY_MIN_LETTERS = 5
FAMILY_MIN_STEM = 5

CACHE_FORMAT = 1
KEYWORD_ROW = hashlib.sha256(b"qcode:keyword-phrases").hexdigest()  # the keywords' cache row
LEMMATISE_CHUNK = 32  # transcripts lemmatised, then written, together


# --- results -----------------------------------------------------------------------------------


@dataclass(slots=True)
class SuggestReport:
    """What a run did; the CLI prints it on stderr (or as JSON)."""

    model: str = ""
    notes: list[str] = field(default_factory=list)  # e.g. the fallback to forms only
    transcripts: int = 0
    lemmatised: int = 0
    lemmatise_seconds: float = 0.0
    codes: int = 0  # codes with keywords that ran
    keywords: int = 0
    new: int = 0
    refreshed: int = 0
    kept: int = 0  # produced again, but already accepted or rejected
    removed: int = 0  # pending ones the run no longer produces
    already_coded: int = 0
    by_theme: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Proposal:
    code_id: str
    start: int
    end: int
    unit: str
    score: float
    triggers: list[dict[str, Any]]
    snapshot: str
    text_key: str = ""


# --- family keys -------------------------------------------------------------------------------

_FAMILY_RULES = (
    ("abilite", "abl"), ("ibilite", "ibl"), ("arite", "ar"), ("osite", "os"), ("ivite", "iv"),
    ("alite", "al"), ("ilite", "il"), ("able", "abl"), ("ible", "ibl"), ("aire", "ar"),
    ("euse", "os"), ("eux", "os"), ("ive", "iv"), ("ale", "al"), ("aux", "al"), ("ile", "il"),
    ("ite", ""), ("if", "iv"), ("al", "al"), ("er", ""), ("e", ""),
)


def family(word: str) -> str:
    """The derivational family key of a folded word (see the module's documentation)."""
    if len(word) >= 6 and word[-1] in "sx" and not word.endswith(("ss", "eux", "aux")):
        word = word[:-1]
    for suffix, replacement in _FAMILY_RULES:
        if word.endswith(suffix) and len(word) - len(suffix) >= FAMILY_MIN_STEM:
            return word[: len(word) - len(suffix)] + replacement
    return word


# elided articles, pronouns and conjunctions (folded): skipped when matching
CLITICS = frozenset({"c'", "d'", "j'", "l'", "m'", "n'", "s'", "t'", "qu'", "jusqu'",
                     "lorsqu'", "puisqu'", "quoiqu'"})


def _is_clitic(form: str) -> bool:
    return form in CLITICS


def _is_filler(form: str) -> bool:
    spans = nlp.mark_spans(form)
    return bool(spans) and spans[0] == (0, len(form))


# --- the matcher -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Spec:
    """One keyword word: how text tokens may meet it."""

    form: str
    lemma: str
    exact: bool
    fuzzy: int


@dataclass(slots=True)
class _Pattern:
    """A keyword (or a veto phrase) as a sequence of specs."""

    id: int
    specs: list[int]
    code_id: str = ""
    keyword: Keyword | None = None
    keyword_index: int = -1
    vetoes: list[int] = field(default_factory=list)  # pattern ids of its veto phrases
    is_veto: bool = False


@dataclass(slots=True)
class _Hit:
    pattern: _Pattern
    start: int  # characters
    end: int
    first: int  # positions in the turn's sequence of matchable tokens
    last: int
    kind: int


class Matcher:
    """Every keyword of the codes that run, indexed for a single pass over each turn."""

    def __init__(self, codes: Sequence[Code], phrases: dict[str, list[nlp.Token]]) -> None:
        self.specs: list[_Spec] = []
        self._spec_ids: dict[tuple[str, str, bool, int], int] = {}
        self.patterns: list[_Pattern] = []
        self._veto_ids: dict[str, int] = {}
        self.regexes: list[tuple[str, int, Keyword, re.Pattern[str], list[int]]] = []
        self.codes = list(codes)
        for code in self.codes:
            for index, kw in enumerate(code.keywords):
                vetoes = [self._veto(v, phrases) for v in kw.vetoes]
                vetoes = [v for v in vetoes if v >= 0]
                if kw.regex is not None:
                    self.regexes.append((code.id, index, kw,
                                         re.compile(kw.regex, re.IGNORECASE), vetoes))
                    continue
                assert kw.term is not None
                specs = self._specs(phrases.get(kw.term, []), kw.exact,
                                    0 if kw.exact else kw.fuzzy)
                if specs:
                    self.patterns.append(_Pattern(len(self.patterns), specs, code.id, kw,
                                                  index, vetoes))
        self._index()
        self._memo: dict[tuple[str, str], dict[int, int]] = {}
        self._fuzzy_seen: set[str] = set()
        self._fuzzy_words: dict[str, list[tuple[int, int]]] = {}

    @property
    def keyword_count(self) -> int:
        return sum(1 for p in self.patterns if not p.is_veto) + len(self.regexes)

    def _veto(self, phrase: str, phrases: dict[str, list[nlp.Token]]) -> int:
        if phrase in self._veto_ids:
            return self._veto_ids[phrase]
        specs = self._specs(phrases.get(phrase, []), False, 0)
        pid = -1
        if specs:
            pid = len(self.patterns)
            self.patterns.append(_Pattern(pid, specs, is_veto=True))
        self._veto_ids[phrase] = pid
        return pid

    def _specs(self, tokens: list[nlp.Token], exact: bool, fuzzy: int) -> list[int]:
        # clitics and fillers are skipped in the text, so in keywords too (a keyword of
        # nothing else never matches)
        words = [(f, lemma) for _, _, f, lemma in tokens
                 if not _is_clitic(f) and not _is_filler(f)]
        out = []
        for form, lemma in words:
            key = (form, form if exact else lemma, exact, fuzzy)
            if key not in self._spec_ids:
                self._spec_ids[key] = len(self.specs)
                self.specs.append(_Spec(*key))
            out.append(self._spec_ids[key])
        return out

    def _index(self) -> None:
        self.exact_index: dict[str, list[int]] = {}
        self.loose_index: dict[str, list[int]] = {}
        self.family_index: dict[str, list[int]] = {}
        self.fuzzy_specs: list[tuple[int, str, int]] = []  # spec, word, max distance
        for sid, spec in enumerate(self.specs):
            if spec.exact:
                self.exact_index.setdefault(spec.form, []).append(sid)
                continue
            for key in {spec.form, spec.lemma}:
                self.loose_index.setdefault(key, []).append(sid)
                if len(key) >= FUZZY_MIN_LETTERS:
                    fam = family(key)
                    if sid not in self.family_index.get(fam, []):
                        self.family_index.setdefault(fam, []).append(sid)
                if spec.fuzzy and len(key) >= FUZZY_MIN_LETTERS and key.isalpha():
                    self.fuzzy_specs.append((sid, key, spec.fuzzy))
        self.starts: dict[int, list[_Pattern]] = {}
        for pattern in self.patterns:
            self.starts.setdefault(pattern.specs[0], []).append(pattern)

    # -- fuzzy candidates from the vocabulary, each new word compared once
    def learn_vocabulary(self, words: set[str]) -> None:
        """Find fuzzy candidates among words not seen before (call it before scanning the
        turns those words come from: memoised candidates are not revised)."""
        if not self.fuzzy_specs:
            return
        new = [w for w in words - self._fuzzy_seen
               if len(w) >= FUZZY_MIN_LETTERS and w.isalpha()]
        self._fuzzy_seen.update(words)
        if not new:
            return
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        queries = [word for _, word, _ in self.fuzzy_specs]
        cutoff = max(n for _, _, n in self.fuzzy_specs)
        matrix = process.cdist(queries, new, scorer=OSA.distance, score_cutoff=cutoff,
                               dtype="int32")
        rows, cols = (matrix <= cutoff).nonzero()
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            sid, _, limit = self.fuzzy_specs[r]
            distance = int(matrix[r, c])
            if 0 < distance <= limit:
                self._fuzzy_words.setdefault(new[c], []).append((sid, distance))

    def candidates(self, form: str, lemma: str) -> dict[int, int]:
        """The specs a text token (folded form and lemma) meets, with the best kind of each."""
        key = (form, lemma)
        found = self._memo.get(key)
        if found is not None:
            return found
        out: dict[int, int] = {}

        def put(sid: int, kind: int) -> None:
            if kind < out.get(sid, 99):
                out[sid] = kind

        for sid in self.exact_index.get(form, ()):
            put(sid, FORM)
        for sid in self.loose_index.get(form, ()):
            put(sid, FORM if self.specs[sid].form == form else LEMMA)
        if lemma != form:
            for sid in self.loose_index.get(lemma, ()):
                put(sid, LEMMA)
        if self.family_index:
            for word in {form, lemma}:
                if len(word) >= FUZZY_MIN_LETTERS:
                    for sid in self.family_index.get(family(word), ()):
                        put(sid, FAMILY)
        for word in {form, lemma}:
            for sid, distance in self._fuzzy_words.get(word, ()):
                put(sid, FUZZY1 if distance == 1 else FUZZY2)
        self._memo[key] = out
        return out

    # -- one turn
    def scan(self, forms: list[str], lemmas: list[str], starts: list[int], ends: list[int],
             skip: list[bool]) -> tuple[list[_Hit], dict[int, list[tuple[int, int, int, int]]],
                                        list[int]]:
        """Keyword hits and veto matches in a turn; also the sequence of matchable tokens."""
        seq = [i for i, hidden in enumerate(skip) if not hidden]
        memo = self._memo.get
        cands: list[dict[int, int]] = []
        for i in seq:
            known = memo((forms[i], lemmas[i]))
            cands.append(self.candidates(forms[i], lemmas[i]) if known is None else known)
        hits: list[_Hit] = []
        vetoes: dict[int, list[tuple[int, int, int, int]]] = {}
        n = len(seq)
        for p in range(n):
            found = cands[p]
            if not found:
                continue
            for sid, kind in found.items():
                for pattern in self.starts.get(sid, ()):
                    length = len(pattern.specs)
                    if p + length > n:
                        continue
                    worst = kind
                    for j in range(1, length):
                        k = cands[p + j].get(pattern.specs[j])
                        if k is None:
                            worst = -1
                            break
                        worst = max(worst, k)
                    if worst < 0:
                        continue
                    first, last = seq[p], seq[p + length - 1]
                    if pattern.is_veto:
                        vetoes.setdefault(pattern.id, []).append(
                            (starts[first], ends[last], p, p + length - 1))
                    else:
                        hits.append(_Hit(pattern, starts[first], ends[last], p,
                                         p + length - 1, worst))
        return hits, vetoes, seq


# --- keyword phrases and lemma caches ----------------------------------------------------------


class Lemmas:
    """The pipeline, loaded at most once per run and only when something is not cached."""

    def __init__(self, choice: nlp.ModelChoice) -> None:
        self.choice = choice
        self._pipeline: nlp.Pipeline | None = None

    @property
    def pipeline(self) -> nlp.Pipeline:
        if self._pipeline is None:
            self._pipeline = self.choice.load()
        return self._pipeline


def _phrases_of(codes: Sequence[Code]) -> list[str]:
    out: dict[str, None] = {}
    for code in codes:
        for kw in code.keywords:
            if kw.term is not None:
                out[kw.term] = None
            for veto in kw.vetoes:
                out[veto] = None
    return list(out)


def keyword_tokens(store: Store, lemmas: Lemmas, phrases: list[str]
                    ) -> dict[str, list[nlp.Token]]:
    """Tokens of keyword and veto phrases, from their cache row or the pipeline."""
    key = lemmas.choice.key
    with store.read() as conn:
        raw = q.cache_get(conn, KEYWORD_ROW, key)
    cached: dict[str, list[nlp.Token]] = {}
    if raw:
        data = json.loads(raw)
        if data.get("v") == CACHE_FORMAT:
            cached = {p: [(t[0], t[1], t[2], t[3]) for t in toks]
                      for p, toks in data["phrases"].items()}
    missing = [p for p in phrases if p not in cached]
    if missing:
        cached.update(lemmas.pipeline.analyse_phrases(missing))
        data = {"v": CACHE_FORMAT, "phrases": {p: [list(t) for t in toks]
                                               for p, toks in cached.items()}}
        with store.write() as conn:
            q.cache_put(conn, [(KEYWORD_ROW, key, _dumps(data))])
    return {p: cached[p] for p in phrases}


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _encode(rec: TranscriptRecord, per_turn: list[list[nlp.Token]]) -> str:
    """A transcript's tokens, compactly: per turn its span, then relative starts and lengths,
    folded forms, and lemmas ("" when the lemma is the form)."""
    turns = []
    for turn, tokens in zip(rec.turns, per_turn, strict=True):
        offsets: list[int] = []
        forms: list[str] = []
        lemmas: list[str] = []
        for s, e, form, lemma in tokens:
            offsets.extend((s - turn.start, e - s))
            forms.append(form)
            lemmas.append("" if lemma == form else lemma)
        turns.append([turn.start, turn.end, offsets, forms, lemmas])
    return _dumps({"v": CACHE_FORMAT, "turns": turns})


@dataclass(slots=True)
class _TurnTokens:
    starts: list[int]
    ends: list[int]
    forms: list[str]
    lemmas: list[str]


def decode_tokens(raw: str, rec: TranscriptRecord) -> list[_TurnTokens] | None:
    """The cached tokens of each turn (absolute offsets), or None if they do not fit."""
    data = json.loads(raw)
    if data.get("v") != CACHE_FORMAT or len(data["turns"]) != len(rec.turns):
        return None
    out = []
    for turn, (ts, te, offsets, forms, lemmas) in zip(rec.turns, data["turns"], strict=True):
        if (ts, te) != (turn.start, turn.end):
            return None
        starts = [ts + x for x in offsets[0::2]]
        ends = [a + b for a, b in zip(starts, offsets[1::2], strict=True)]
        out.append(_TurnTokens(starts, ends, forms,
                               [lem or f for f, lem in zip(forms, lemmas, strict=True)]))
    return out


def lemmatise(pipeline: nlp.Pipeline, records: list[TranscriptRecord]) -> list[str]:
    texts = (rec.text[t.start:t.end] for rec in records for t in rec.turns)
    analysed = pipeline.analyse(texts)
    out = []
    for rec in records:
        per_turn = []
        for turn in rec.turns:
            tokens = next(analysed)
            per_turn.append([(s + turn.start, e + turn.start, f, lem)
                             for s, e, f, lem in tokens])
        out.append(_encode(rec, per_turn))
    return out


def ensure_lemmas(store: Store, lemmas: Lemmas, targets: list[tuple[str, str]],
                  progress: Progress | None = None) -> int:
    """Lemmatise the transcripts whose tokens are not cached; returns how many were."""
    key = lemmas.choice.key
    with store.read() as conn:
        cached = q.cached_hashes(conn, key, [h for _, h in targets])
    todo: dict[str, str] = {}
    for tid, text_hash in targets:
        if text_hash not in cached:
            todo.setdefault(text_hash, tid)  # identical texts are lemmatised once
    ids = list(todo.values())
    done = 0
    for i in range(0, len(ids), LEMMATISE_CHUNK):
        chunk = ids[i:i + LEMMATISE_CHUNK]
        with store.read() as conn:
            records = [r for r in (transcript_q.load(conn, tid) for tid in chunk)
                       if r is not None]
        encoded = lemmatise(lemmas.pipeline, records)
        with store.write() as conn:
            q.cache_put(conn, [(rec.text_hash, key, data)
                               for rec, data in zip(records, encoded, strict=True)])
        done += len(records)
        if progress is not None:
            progress("lemmatise", done, len(ids), records[-1].id if records else "")
    if ids:
        with store.write() as conn:
            q.cache_prune(conn, keep=[KEYWORD_ROW])
    return len(ids)


# --- one transcript ----------------------------------------------------------------------------


def _weight(hit: _Hit) -> float:
    w = WEIGHTS[hit.kind]
    extra = len(hit.pattern.specs) - 1 if hit.kind != REGEX else 0
    return min(PHRASE_CAP, w + PHRASE_BONUS * extra) if extra > 0 else w


def score(weights: dict[int, float]) -> float:
    """Combine the best weight of each distinct keyword (see the module's documentation)."""
    if not weights:
        return 0.0
    rest = 1.0
    for w in weights.values():
        rest *= 1.0 - w
    return round(min(1.0, 1.0 - rest + DISTINCT_BONUS * (len(weights) - 1)), 3)


def text_key(transcript_id: str, code_id: str, text: str, occurrence: int = 1) -> str:
    raw = f"{transcript_id}\x00{code_id}\x00{text}"
    if occurrence > 1:
        raw += f"\x00#{occurrence}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def skipped_tokens(text: str, turn_start: int, turn_end: int, tokens: _TurnTokens) -> list[bool]:
    """Per token, whether matching skips it: inside a mark or a filler, or a clitic."""
    skip = [form in CLITICS for form in tokens.forms]
    for ms, me in nlp.mark_spans(text, turn_start, turn_end):
        # the tokens that end after the mark starts and start before it ends
        for i in range(bisect.bisect_right(tokens.ends, ms), len(skip)):
            if tokens.starts[i] >= me:
                break
            skip[i] = True
    return skip


def propose(rec: TranscriptRecord, turns: list[_TurnTokens], matcher: Matcher,
            codes: dict[str, Code], *, unit: str | None = None,
            include_interviewer: bool = False) -> list[Proposal]:
    """Every suggestion for one transcript (before comparing with the store)."""
    vocabulary: set[str] = set()
    for tokens in turns:
        vocabulary.update(tokens.forms)
        vocabulary.update(tokens.lemmas)
    matcher.learn_vocabulary(vocabulary)
    sentences: dict[int, list[tuple[int, int]]] = {}
    for se in rec.sentences:
        sentences.setdefault(se.turn_idx, []).append((se.start, se.end))
    text = rec.text
    masked_text: str | None = None
    out: list[Proposal] = []
    for turn, tokens in zip(rec.turns, turns, strict=True):
        if turn.role == "interviewer" and not include_interviewer:
            continue
        skip = skipped_tokens(text, turn.start, turn.end, tokens)
        hits, vetoes, seq = matcher.scan(tokens.forms, tokens.lemmas, tokens.starts,
                                         tokens.ends, skip)
        if matcher.regexes:
            if masked_text is None:
                masked_text = nlp.masked(text)
            hits.extend(_regex_hits(matcher, masked_text, turn.start, turn.end, tokens, seq))
        if not hits:
            continue
        spans = sorted(sentences.get(turn.idx, [])) or [(turn.start, turn.end)]
        sentence_starts = [s for s, _ in spans]

        def sentence_of(pos: int, starts: list[int] = sentence_starts) -> int:
            return max(0, bisect.bisect_right(starts, pos) - 1)

        kept = [h for h in hits if not _vetoed(h, vetoes, sentence_of)]
        by_code: dict[str, list[_Hit]] = {}
        for h in kept:
            by_code.setdefault(h.pattern.code_id, []).append(h)
        for code_id, code_hits in by_code.items():
            code_unit = unit or codes[code_id].unit
            out.extend(_merge(rec, turn.start, turn.end, code_id, code_unit,
                              _outermost(code_hits), spans, sentence_of))
    return out


def _regex_hits(matcher: Matcher, masked_text: str, start: int, end: int,
                tokens: _TurnTokens, seq: list[int]) -> list[_Hit]:
    position = {i: p for p, i in enumerate(seq)}
    out = []
    for code_id, index, kw, pattern, vetoes in matcher.regexes:
        for m in pattern.finditer(masked_text, start, end):
            if m.end() <= m.start():
                continue
            lo = bisect.bisect_right(tokens.ends, m.start())
            hi = bisect.bisect_left(tokens.starts, m.end())
            inside = [position[i] for i in range(lo, hi) if i in position]
            if not inside:
                continue
            fake = _Pattern(-1, [0], code_id, kw, index, vetoes)
            out.append(_Hit(fake, tokens.starts[seq[inside[0]]], tokens.ends[seq[inside[-1]]],
                            inside[0], inside[-1], REGEX))
    return out


def _vetoed(hit: _Hit, vetoes: dict[int, list[tuple[int, int, int, int]]],
            sentence_of: Callable[[int], int]) -> bool:
    for vid in hit.pattern.vetoes:
        for vs, ve, vfirst, vlast in vetoes.get(vid, ()):
            if vs < hit.end and hit.start < ve:
                return True
            if (vlast + 1 == hit.first or hit.last + 1 == vfirst) and \
                    sentence_of(vs) == sentence_of(hit.start):
                return True
    return False


def _outermost(hits: list[_Hit]) -> list[_Hit]:
    """Drop a hit lying inside a longer hit of the same code."""
    hits.sort(key=lambda h: (h.start, -h.end, h.pattern.keyword_index))
    out: list[_Hit] = []
    reach = -1
    for h in hits:
        if h.end <= reach:
            continue
        out.append(h)
        reach = h.end
    return out


def _merge(rec: TranscriptRecord, turn_start: int, turn_end: int, code_id: str, unit: str,
           hits: list[_Hit], spans: list[tuple[int, int]],
           sentence_of: Callable[[int], int]) -> list[Proposal]:
    groups: list[tuple[int, int, list[_Hit]]] = []
    for h in sorted(hits, key=lambda h: h.start):
        a, b = (0, 0) if unit == "turn" else (sentence_of(h.start), sentence_of(h.end - 1))
        if groups and a <= groups[-1][1] + 1:
            first, last, members = groups[-1]
            groups[-1] = (first, max(last, b), [*members, h])
        else:
            groups.append((a, b, [h]))
    out = []
    for a, b, members in groups:
        start, end = (turn_start, turn_end) if unit == "turn" else (spans[a][0], spans[b][1])
        weights: dict[int, float] = {}
        triggers = []
        for h in members:
            kw = h.pattern.keyword
            assert kw is not None
            w = _weight(h)
            index = h.pattern.keyword_index
            weights[index] = max(weights.get(index, 0.0), w)
            triggers.append({"keyword": kw.text, "start": h.start, "end": h.end,
                             "form": rec.text[h.start:h.end], "match": KIND_NAMES[h.kind]})
        out.append(Proposal(code_id, start, end, unit, score(weights), triggers,
                            rec.text[start:end]))
    return out


# --- the run -----------------------------------------------------------------------------------


def select_codes(book: Codebook, names: Sequence[str] | None) -> list[Code]:
    """The codes a run covers: all, or the named ones with their sub-codes."""
    if not names:
        return list(book.walk())
    chosen: dict[str, Code] = {}
    for name in names:
        code = book.resolve(name)
        for cid in (code.id, *book.descendants(code.id)):
            chosen[cid] = book.codes[cid]
    return [c for c in book.walk() if c.id in chosen]


def _check_transcripts(store: Store, ids: Sequence[str] | None) -> list[tuple[str, str]]:
    with store.read() as conn:
        everything = q.transcript_hashes(conn)
    if not everything:
        raise NotFoundError("no transcripts in the store", hint="run 'qcode ingest' first")
    if not ids:
        return everything
    known = dict(everything)
    missing = [t for t in dict.fromkeys(ids) if t not in known]
    if missing:
        from rapidfuzz import process, utils

        best = process.extractOne(missing[0], list(known), processor=utils.default_process,
                                  score_cutoff=60)
        hint = f"did you mean {best[0]!r}?" if best else "'qcode transcripts list' lists them"
        raise NotFoundError(f"no transcript {missing[0]!r} in the store", hint=hint)
    return [(t, known[t]) for t in dict.fromkeys(ids)]


def suggest(project: Project, store: Store, book: Codebook, *,
            transcripts: Sequence[str] | None = None, codes: Sequence[str] | None = None,
            unit: str | None = None, include_interviewer: bool = False,
            progress: Progress | None = None, model: str | None = None) -> SuggestReport:
    """Compute keyword suggestions and reconcile them with the store (see the module doc)."""
    began = time.perf_counter()
    if unit is not None and unit not in UNITS:
        raise UsageError(f"invalid unit {unit!r}", hint=f"use {' or '.join(UNITS)}")
    choice = nlp.choose(book.language or project.language, model)
    report = SuggestReport(model=choice.label)
    if choice.notice:
        report.notes.append(choice.notice)
    scope = select_codes(book, codes)
    runnable = [c for c in scope if c.codable and c.keywords]
    if codes and not runnable:
        report.notes.append("none of the selected codes has keywords")
    targets = _check_transcripts(store, transcripts)
    report.transcripts = len(targets)
    lemmas = Lemmas(choice)
    phrases = keyword_tokens(store, lemmas, _phrases_of(runnable)) if runnable else {}
    matcher = Matcher(runnable, phrases)
    report.codes = len(runnable)
    report.keywords = matcher.keyword_count
    t0 = time.perf_counter()
    report.lemmatised = ensure_lemmas(store, lemmas, targets, progress)
    report.lemmatise_seconds = round(time.perf_counter() - t0, 3)
    by_id = {c.id: c for c in runnable}
    scope_ids = None if not codes else {c.id for c in scope}
    with store.read() as conn:
        pending = q.pending_keys(conn, [tid for tid, _ in targets] if transcripts else None)
    for n, (tid, _) in enumerate(targets, 1):
        _run_one(store, lemmas, tid, matcher, by_id, scope_ids, book, report,
                 pending.pop(tid, []), unit=unit, include_interviewer=include_interviewer)
        if progress is not None:
            progress("suggest", n, len(targets), tid)
    report.by_theme = {t: report.by_theme[t] for t in book.roots if t in report.by_theme}
    report.seconds = round(time.perf_counter() - began, 3)
    return report


def _run_one(store: Store, lemmas: Lemmas, tid: str, matcher: Matcher, codes: dict[str, Code],
             scope: set[str] | None, book: Codebook, report: SuggestReport,
             pending: list[tuple[int, str, str]], *, unit: str | None,
             include_interviewer: bool) -> None:
    """Suggest for one transcript and reconcile with the store in one transaction.

    ``pending`` lists the transcript's pending suggestions (id, text key, code) as they were
    when the run began: those this run does not produce again are deleted.
    """
    with store.read() as conn:
        rec = transcript_q.load(conn, tid)
        raw = q.cache_get(conn, rec.text_hash, lemmas.choice.key) if rec is not None else None
        coded = q.coded_spans(conn, tid)
    if rec is None:  # removed meanwhile
        return
    turns = decode_tokens(raw, rec) if raw is not None else None
    if turns is None:  # not cached, or cached for other turn boundaries: lemmatise it now
        data = lemmatise(lemmas.pipeline, [rec])[0]
        with store.write() as conn:
            q.cache_put(conn, [(rec.text_hash, lemmas.choice.key, data)])
        report.lemmatised += 1
        turns = decode_tokens(data, rec)
        assert turns is not None
    proposals = propose(rec, turns, matcher, codes, unit=unit,
                        include_interviewer=include_interviewer)
    occurrences: dict[tuple[str, str], int] = {}
    for p in proposals:
        n = occurrences[(p.code_id, p.snapshot)] = occurrences.get((p.code_id, p.snapshot), 0) + 1
        p.text_key = text_key(tid, p.code_id, p.snapshot, n)
    stamp = q.now()
    with store.write() as conn:
        existing = q.by_keys(conn, [p.text_key for p in proposals])
        produced: set[str] = set()
        new_rows = []
        for p in proposals:
            row = existing.get(p.text_key)
            if row is not None and row["status"] != "pending":
                produced.add(p.text_key)
                if (row["start"], row["end"]) != (p.start, p.end):
                    q.refresh(conn, row["id"], {"start": p.start, "end": p.end})
                report.kept += 1
                continue
            if any(s <= p.start and p.end <= e for s, e in coded.get(p.code_id, ())):
                report.already_coded += 1  # (a pending one for it is removed below)
                continue
            produced.add(p.text_key)
            theme = report.by_theme.setdefault(book.theme_of(p.code_id),
                                               {"pending": 0, "new": 0})
            triggers = _dumps(p.triggers)
            if row is None:
                new_rows.append({
                    "transcript_id": tid, "start": p.start, "end": p.end, "code_id": p.code_id,
                    "unit": p.unit, "score": p.score, "triggers_json": triggers,
                    "snapshot": p.snapshot, "text_key": p.text_key, "status": "pending",
                    "created_at": stamp, "flag": "", "flag_note": ""})
                report.new += 1
                theme["pending"] += 1
                theme["new"] += 1
            else:
                values = {"start": p.start, "end": p.end, "unit": p.unit, "score": p.score,
                          "triggers_json": triggers, "flag": ""}
                if any(row[k] != v for k, v in values.items()):  # else nothing to write
                    q.refresh(conn, row["id"], {**values, "flag_note": ""})
                report.refreshed += 1
                theme["pending"] += 1
        q.insert_many(conn, new_rows)
        stale = [sid for sid, key, code_id in pending
                 if key not in produced and (scope is None or code_id in scope)]
        report.removed += q.delete_pending(conn, stale)


# --- decisions ---------------------------------------------------------------------------------


def _select_pending(conn: Any, ids: Sequence[int] | None, codes: Sequence[str] | None,
                    transcripts: Sequence[str] | None, min_score: float
                    ) -> list[dict[str, Any]]:
    if ids is not None and not ids:
        return []
    return q.query(conn, ids=ids, statuses=["pending"], codes=codes, transcripts=transcripts,
                   min_score=min_score)


def accept_suggestions(store: Store, *, ids: Sequence[int] | None = None,
                       codes: Sequence[str] | None = None,
                       transcripts: Sequence[str] | None = None, min_score: float = 0.0,
                       coder: str, origin: str = "keyword") -> int:
    """Turn the pending suggestions selected (all filters apply) into codings.

    Each becomes a coding by ``coder`` with ``origin`` (an identical coding is reused), and is
    marked accepted with ``decided_by``, ``decided_at`` and ``coding_id``. One journal entry,
    action ``accept``, records ``{"suggestions": [ids], "codings": [the codings this action
    created], "linked": [the coding of each suggestion, same order as "suggestions"]}``:
    undoing it deletes the created codings only (an identical coding that existed before is
    left alone) and sets the suggestions back to pending. A suggestion whose text no longer is at
    its place (the transcript was corrected since) is not accepted but flagged ``stale`` until
    the next ``qcode suggest``. Returns the number accepted.
    """
    with store.write() as conn:
        rows = _select_pending(conn, ids, codes, transcripts, min_score)
        texts: dict[str, str | None] = {}
        stamp = q.now()
        accepted: list[int] = []
        linked: list[int] = []
        created: list[int] = []
        for r in rows:
            tid = r["transcript_id"]
            if tid not in texts:
                texts[tid] = q.transcript_text(conn, tid)
            text = texts[tid]
            if text is None or text[r["start"]:r["end"]] != r["snapshot"]:
                q.set_flag(conn, r["id"], "stale", "the transcript changed since this "
                           "suggestion; run 'qcode suggest' again")
                continue
            coding_id, is_new = coding_q.add(
                conn, transcript_id=tid, start=r["start"], end=r["end"], code_id=r["code_id"],
                coder=coder, origin=origin, snapshot=r["snapshot"])
            q.decide(conn, r["id"], status="accepted", decided_by=coder, decided_at=stamp,
                     coding_id=coding_id)
            accepted.append(r["id"])
            linked.append(coding_id)
            if is_new:
                created.append(coding_id)
        if accepted:
            coding_q.log(conn, coder, "accept", {"suggestions": accepted, "codings": created,
                                                 "linked": linked})
    return len(accepted)


def reject_suggestions(store: Store, *, ids: Sequence[int] | None = None,
                       codes: Sequence[str] | None = None,
                       transcripts: Sequence[str] | None = None, min_score: float = 0.0,
                       coder: str) -> int:
    """Mark the pending suggestions selected as rejected (they never come back for the same
    text). One journal entry, action ``reject``, records ``{"suggestions": [ids]}``; undoing
    it sets them back to pending. Returns the number rejected."""
    with store.write() as conn:
        rows = _select_pending(conn, ids, codes, transcripts, min_score)
        stamp = q.now()
        for r in rows:
            q.decide(conn, r["id"], status="rejected", decided_by=coder, decided_at=stamp)
        if rows:
            coding_q.log(conn, coder, "reject", {"suggestions": [r["id"] for r in rows]})
    return len(rows)


# --- listing -----------------------------------------------------------------------------------


def list_suggestions(store: Store, *, statuses: Sequence[str] | None = ("pending",),
                     codes: Sequence[str] | None = None,
                     transcripts: Sequence[str] | None = None, min_score: float = 0.0
                     ) -> list[dict[str, Any]]:
    """Suggestions as rows: id, transcript, start, end, turn, code, unit, score, triggers (a
    list of {keyword, start, end, form, match}), status, text, decided_by, decided_at,
    coding_id, flag."""
    for status in statuses or ():
        if status not in STATUSES:
            raise UsageError(f"invalid status {status!r}", hint=f"use {', '.join(STATUSES)}")
    with store.read() as conn:
        rows = q.query(conn, statuses=statuses, codes=codes, transcripts=transcripts,
                       min_score=min_score)
    return [{
        "id": r["id"], "transcript": r["transcript_id"], "start": r["start"], "end": r["end"],
        "turn": r["turn"], "code": r["code_id"], "unit": r["unit"], "score": r["score"],
        "triggers": json.loads(r["triggers_json"]), "status": r["status"],
        "text": r["snapshot"], "decided_by": r["decided_by"], "decided_at": r["decided_at"],
        "coding_id": r["coding_id"], "flag": r["flag"],
    } for r in rows]
