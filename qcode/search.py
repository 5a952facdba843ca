"""Keyword in context: where a word or phrase occurs in the corpus, with the codes already there.

A search term is matched the way keyword suggestions match a codebook keyword
(:mod:`qcode.suggest`), on the tokens and lemmas cached in the store (:mod:`qcode.nlp`):

- a word of the term meets a word of the text when their folded forms or lemmas are equal —
  case, accents and apostrophe styles ignored, so « voisins » finds « voisin » and « Voisins »,
  « evenement » finds « événements », « l’AG » finds « l'AG »; or when their *family* keys are
  equal (« solidaires » finds « solidarité », :func:`qcode.suggest.family`); with ``exact``,
  only the folded forms;
- a term of several words is a phrase: its words in a row, within a turn, punctuation breaking
  it; elided clitics (``l'``, ``d'``…) are skipped on both sides, and transcription marks and
  fillers (``[rires]``, ``euh``) never match and never break a phrase.

Each hit gives its transcript, turn, speaker, role, the turn's time, about :data:`CONTEXT`
characters of context on each side (inside the turn, on one line, ``…`` where cut), the match
(exactly ``text[start:end]``), how it matched (``form``, ``lemma``, ``family``), and the codes of
the codings that overlap it. Transcripts whose lemmas are not cached yet are lemmatised first
(once: suggestions reuse them) — ``notify`` is told before that starts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qcode import nlp
from qcode.codebook import Code, Keyword
from qcode.errors import UsageError
from qcode.ingest.pipeline import Progress
from qcode.project import ROLES
from qcode.reports.tables import Where, select_transcripts
from qcode.store import Store
from qcode.store import analysis as aq
from qcode.store import suggestions as sq
from qcode.store import transcripts as tq
from qcode.suggest import (  # the suggestions' matcher and lemma cache, reused as they are
    KIND_NAMES,
    Lemmas,
    Matcher,
    decode_tokens,
    ensure_lemmas,
    keyword_tokens,
    lemmatise,
    skipped_tokens,
)
from qcode.transcripts import format_ms

CONTEXT = 60  # characters of context on each side
_SPACES = re.compile(r"\s+")


@dataclass(slots=True)
class SearchResult:
    term: str
    hits: list[dict[str, Any]] = field(default_factory=list)
    transcripts: int = 0  # transcripts searched
    lemmatised: int = 0  # transcripts whose lemmas had to be computed
    model: str = ""
    notes: list[str] = field(default_factory=list)


def _left(text: str, lo: int, start: int, width: int) -> str:
    cut = max(lo, start - width)
    piece = text[cut:start]
    if cut > lo:
        if not text[cut - 1].isspace():  # do not start inside a word
            m = re.search(r"\s", piece)
            piece = piece[m.start():] if m else ""
        return "…" + _SPACES.sub(" ", piece).lstrip()
    return _SPACES.sub(" ", piece).lstrip()


def _right(text: str, end: int, hi: int, width: int) -> str:
    cut = min(hi, end + width)
    piece = text[end:cut]
    if cut < hi:
        if not text[cut].isspace():  # do not end inside a word
            m = re.search(r"\s\S*\Z", piece)
            piece = piece[:m.start()] if m else ""
        return _SPACES.sub(" ", piece).rstrip() + "…"
    return _SPACES.sub(" ", piece).rstrip()


def search(store: Store, term: str, *, language: str = "fr", model: str | None = None,
           transcripts: Sequence[str] | None = None, where: Where | None = None,
           roles: Sequence[str] | None = None, exact: bool = False, context: int = CONTEXT,
           code_order: Sequence[str] | None = None,
           notify: Callable[[str], None] | None = None,
           progress: Progress | None = None) -> SearchResult:
    """Every occurrence of ``term`` in the transcripts selected (see the module's
    documentation), by transcript id and position. ``code_order`` orders each hit's codes
    (codebook order; others after, by id)."""
    term = term.strip()
    if not term:
        raise UsageError("empty search term")
    for role in roles or ():
        if role not in ROLES:
            raise UsageError(f"invalid role {role!r}", hint=f"use {', '.join(ROLES)}")
    choice = nlp.choose(language, model)
    result = SearchResult(term, model=choice.label)
    if choice.notice:
        result.notes.append(choice.notice)
    with store.read() as conn:
        ids, _, _ = select_transcripts(conn, transcripts, where)
        targets = sq.transcript_hashes(conn, ids)
        cached = sq.cached_hashes(conn, choice.key, [h for _, h in targets])
    result.transcripts = len(targets)
    todo = len({h for _, h in targets if h not in cached})
    if todo and notify is not None:
        notify(f"computing the lemmas of {todo} transcript(s) not analysed yet (once: later "
               "searches and suggestions reuse them)")
    lemmas = Lemmas(choice)
    result.lemmatised = ensure_lemmas(store, lemmas, targets, progress)
    phrases = keyword_tokens(store, lemmas, [term])
    probe = Code(id="search", label=term, keywords=[Keyword(term=term, exact=exact)])
    matcher = Matcher([probe], phrases)
    if not matcher.patterns:
        raise UsageError(f"nothing to search for in {term!r}: elided articles and fillers "
                         "(euh, ben…) are skipped", hint="search for a word")
    rank = {c: i for i, c in enumerate(code_order or ())}
    wanted_roles = set(roles) if roles else None
    for tid, _ in targets:
        with store.read() as conn:
            rec = tq.load(conn, tid)
            raw = sq.cache_get(conn, rec.text_hash, choice.key) if rec is not None else None
            codings = aq.codings(conn, transcripts=[tid])
        if rec is None:  # removed meanwhile
            continue
        turns = decode_tokens(raw, rec) if raw is not None else None
        if turns is None:  # cached for other turn boundaries: analyse it again
            data = lemmatise(lemmas.pipeline, [rec])[0]
            with store.write() as conn:
                sq.cache_put(conn, [(rec.text_hash, choice.key, data)])
            result.lemmatised += 1
            turns = decode_tokens(data, rec)
            assert turns is not None
        text = rec.text
        for turn, tokens in zip(rec.turns, turns, strict=True):
            if wanted_roles is not None and turn.role not in wanted_roles:
                continue
            skip = skipped_tokens(text, turn.start, turn.end, tokens)
            hits, _, _ = matcher.scan(tokens.forms, tokens.lemmas, tokens.starts, tokens.ends,
                                      skip)
            reach = -1
            for h in sorted(hits, key=lambda h: (h.start, -h.end)):
                if h.end <= reach:  # inside a longer hit
                    continue
                reach = h.end
                codes = sorted({c["code_id"] for c in codings
                                if c["start"] < h.end and h.start < c["end"]},
                               key=lambda c: (rank.get(c, len(rank)), c))
                result.hits.append({
                    "transcript": tid, "turn": turn.idx, "speaker": turn.speaker,
                    "role": turn.role, "time": format_ms(turn.start_ms),
                    "left": _left(text, turn.start, h.start, context),
                    "match": text[h.start:h.end],
                    "right": _right(text, h.end, turn.end, context),
                    "codes": codes, "start": h.start, "end": h.end,
                    "how": KIND_NAMES[h.kind],
                })
    return result
