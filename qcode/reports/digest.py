"""Theme digests for team leads: per theme, what was coded, where, by whom, and the best quotes.

:func:`write_digest` writes ``exports/digest.md`` or ``exports/digest.html`` (atomically);
:func:`render_digest` returns the text; :func:`build_context` returns the data the templates
render. Per theme of the codebook (in codebook order) a digest gives:

- its definition (the theme's ``description``) and colour;
- how many codings, transcripts and speakers it has (speakers: distinct ``(transcript, speaker
  label)`` pairs of the turns a coding overlaps, interviewer turns left out unless the coding
  lies in interviewer turns only);
- one table per ``by`` attribute (default ``initiative`` and ``role``; set by
  ``export: {digest_by: [...]}`` in ``qcode.yaml`` or ``--by``): the theme's codes (rows, tree
  order) by the attribute's values (columns, sorted), cells = number of codings, counted by
  :func:`qcode.reports.tables.crosstab`;
- the codes of other themes that co-occur with it most: same turn (a coding belongs to every
  turn it overlaps), top :data:`TOP_COOCCURRING`, ranked by the coefficient
  ``n12 / (n1 + n2 - n12)`` where ``n1`` is the number of turns with a coding of any of the
  theme's codes, ``n2`` the number with the other code and ``n12`` the number with both (ties:
  more shared turns, then codebook order). This is theme × code, which
  :func:`qcode.reports.tables.cooccurrence` (code × code or theme × theme) does not give;
- representative quotes per code (:func:`choose_quotes`);
- the memos on the theme and its codes, and on their codings (the ``memos`` table and the
  codings' own ``memo`` field).

Codings come from :func:`qcode.reports.quotes.select_quotes`, filtered by coder and origin
(``all``, ``manual``, ``keyword``, ``import``); tables and co-occurrences use the same
filtered codings. Quotes are verbatim, ``text[start:end]``, attributed like the quote export:
« … » then the ``export: {attribution: …}`` template of ``qcode.yaml`` (default, the study's
style: ``(role, initiative) — transcript, tour N, H:MM:SS``).

Templates (``qcode/reports/templates/digest.md.j2`` and ``digest.html.j2``) are jinja2 with
``StrictUndefined``, ``trim_blocks`` and ``lstrip_blocks``; HTML is autoescaped. A user
template (``template=``) replaces the bundled one and receives the same context; templates
next to it, then the bundled ones (e.g. ``_digest.css.j2``), can be included by name.

Template context
----------------
``format``
    ``"md"`` or ``"html"``.
``project``
    ``{name, language}``.
``codebook``
    ``{name, path}`` (path relative to the project root when inside it).
``labels``
    Interface words in the project's language (``fr``, else English): ``title``, ``contents``,
    ``definition``, ``codings``, ``transcripts``, ``speakers``, ``codes_by``, ``code``,
    ``theme``, ``total``, ``cooccurring``, ``shared_turns``, ``coefficient``, ``quotes``,
    ``memos``, ``turn``, ``no_codings``, ``no_quotes``, ``no_cooccurring``, ``no_memos``,
    ``on_code``, ``on_coding``, ``filters``, ``origin``, ``coders``, ``all_coders``,
    ``singular`` (``codings``, ``transcripts``, ``speakers`` in the singular),
    ``quotes_per_code``, ``origins`` (a mapping origin → name), ``heatmap_note``, ``by``,
    ``colon`` (``" :"`` in French, ``":"`` in English).
``filters``
    ``{themes: [ids] | None, coders: [names] | None, origin: "all" | "manual" | …}``.
``by``
    The attribute names of the tables, e.g. ``["initiative", "role"]``.
``quotes_per_code``
    How many quotes are chosen per code.
``totals``
    ``{codings, transcripts, speakers, themes}`` over the themes shown.
``themes``
    A list, one per theme shown, in codebook order, each with:

    - ``id``, ``label``, ``description``, ``color`` (``#RRGGBB``; a grey when the codebook has
      none), ``text_color`` (black or white, readable on ``color``), ``anchor`` (an HTML id);
    - ``codings``, ``transcripts``, ``speakers`` (counts);
    - ``codes``: one per code of the theme (tree order; the theme itself first when it has
      codings), each with ``id``, ``label``, ``depth`` (1 for the theme's codes),
      ``description``, ``color``, ``codings``, ``transcripts``, ``speakers`` and ``quotes``;
    - ``tables``: one per ``by`` attribute: ``attribute``, ``values`` (column headings),
      ``rows`` (``id``, ``label``, ``depth``, ``total``, ``cells``: ``value``, ``count``,
      ``bg``, ``fg`` — background shaded by count from white to the theme's colour (darkened
      if it is light) and a readable text colour), ``totals`` (per column), ``total``, ``max``;
    - ``cooccurring``: ``id``, ``label``, ``theme``, ``theme_label``, ``color``, ``n1``,
      ``n2``, ``n12``, ``coefficient`` (a float) and ``coefficient_text`` (two decimals);
    - ``memos``: ``kind`` (``"code"`` or ``"coding"``), ``code``, ``code_label``, ``coder``,
      ``text``, ``quote`` (the coding's quote, for a memo on a coding; else ``None``).

    A quote has ``text`` (verbatim), ``transcript``, ``turn``, ``time`` (``H:MM:SS`` or
    ``None``), ``start``, ``end``, ``code``, ``coder``, ``origin``, ``attributes`` (the
    transcript's attributes, by name), ``attribution`` (``"(membre, amis-de-la-cour) — AC03,
    tour 12, 0:04:31"``), ``source`` (``"AC03, tour 12, 0:04:31"``: where it is) and
    ``citation`` (``« … »`` and the attribution).

Filters available in templates: ``md`` (Markdown escaping, as in the quote export: the text
reads exactly as written), ``md_cell`` (the same for a table cell, line breaks as spaces),
``blockquote`` (every line prefixed with ``> ``), ``noun`` (``n | noun("codings")``: the
label of ``codings`` in the singular or plural that ``n`` takes).
"""

from __future__ import annotations

import re
import traceback
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import pass_context

from qcode.codebook import Codebook
from qcode.coding import list_memos
from qcode.errors import NotFoundError, QcodeError, UsageError, ValidationError
from qcode.project import CONFIG_NAME, Project
from qcode.reports.quotes import Attributor, QuoteRow, blockquote, md_escape, select_quotes
from qcode.store import Store
from qcode.store import analysis as aq
from qcode.store import transcripts as tq
from qcode.store.records import TurnRecord

FORMATS = ("md", "html")
ORIGINS = ("all", "manual", "keyword", "import")
DEFAULT_BY = ("initiative", "role")
DEFAULT_QUOTES = 3
QUOTE_MIN_CHARS = 40  # a representative quote is preferably this long …
QUOTE_MAX_CHARS = 400  # … and no longer than this
TOP_COOCCURRING = 5
DEFAULT_COLOR = "#5B6770"
HEAT_MAX_LUMINANCE = 0.25  # the darkest heat-map cell is at most this light
ORIGIN_RANK = {"manual": 0, "import": 1, "keyword": 2}  # ties between quotes: manual first

LABELS: dict[str, dict[str, Any]] = {
    "fr": {
        "title": "Synthèse par thème", "contents": "Sommaire", "definition": "Définition",
        "codings": "codages", "transcripts": "entretiens", "speakers": "locuteurs",
        "codes_by": "Codes par", "code": "Code", "theme": "Thème", "total": "Total",
        "cooccurring": "Codes les plus souvent associés (même tour de parole)",
        "shared_turns": "Tours en commun", "coefficient": "Coefficient",
        "quotes": "Citations représentatives", "memos": "Mémos", "turn": "tour",
        "no_codings": "Aucun codage pour ce thème.", "no_quotes": "Aucun codage.",
        "no_cooccurring": "Aucun code associé.", "no_memos": "Aucun mémo.",
        "on_code": "sur le code", "on_coding": "sur un codage de", "filters": "Codages",
        "origin": "origine", "coders": "codeurs", "all_coders": "tous les codeurs",
        "quotes_per_code": "citations par code", "by": "par",
        "origins": {"all": "toutes origines", "manual": "manuels", "keyword": "par mots-clés",
                    "import": "importés"},
        "heatmap_note": "Nombre de codages ; plus la case est foncée, plus il y en a.",
        "colon": " :",
        "singular": {"codings": "codage", "transcripts": "entretien", "speakers": "locuteur"},
    },
    "en": {
        "title": "Theme digest", "contents": "Contents", "definition": "Definition",
        "codings": "codings", "transcripts": "transcripts", "speakers": "speakers",
        "codes_by": "Codes by", "code": "Code", "theme": "Theme", "total": "Total",
        "cooccurring": "Codes that co-occur most (same turn)",
        "shared_turns": "Shared turns", "coefficient": "Coefficient",
        "quotes": "Representative quotes", "memos": "Memos", "turn": "turn",
        "no_codings": "No codings for this theme.", "no_quotes": "No codings.",
        "no_cooccurring": "No co-occurring code.", "no_memos": "No memos.",
        "on_code": "on the code", "on_coding": "on a coding of", "filters": "Codings",
        "origin": "origin", "coders": "coders", "all_coders": "all coders",
        "quotes_per_code": "quotes per code", "by": "by",
        "origins": {"all": "all origins", "manual": "manual", "keyword": "keyword",
                    "import": "imported"},
        "heatmap_note": "Number of codings; the darker the cell, the more codings.",
        "colon": ":",
        "singular": {"codings": "coding", "transcripts": "transcript", "speakers": "speaker"},
    },
}


@dataclass(slots=True)
class DigestOptions:
    """What to put in a digest; the defaults give every theme, every coding."""

    themes: list[str] | None = None  # ids, labels or keys of themes
    coders: list[str] | None = None
    origin: str = "all"
    by: list[str] | None = None  # None: qcode.yaml's export.digest_by, else DEFAULT_BY
    quotes: int = DEFAULT_QUOTES
    template: Path | None = None


# --- public API ------------------------------------------------------------------------------


def default_path(project: Project, fmt: str) -> Path:
    """``exports/digest.md`` or ``exports/digest.html`` of the project."""
    return project.root / project.exports_dir / f"digest.{fmt}"


def write_digest(project: Project, store: Store, book: Codebook, fmt: str,
                 path: Path | None = None, options: DigestOptions | None = None) -> Path:
    """Render the digest and write it atomically to ``path`` (default: the exports folder)."""
    from qcode.fileutil import write_atomic

    text = render_digest(project, store, book, fmt, options)
    target = path if path is not None else default_path(project, fmt)
    if target.is_dir():
        target = target / f"digest.{fmt}"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, text)
    return target


def render_digest(project: Project, store: Store, book: Codebook, fmt: str,
                  options: DigestOptions | None = None) -> str:
    """The digest as Markdown or HTML text."""
    options = options or DigestOptions()
    context = build_context(project, store, book, fmt, options)
    return render_template(context, fmt, options.template)


def build_context(project: Project, store: Store, book: Codebook, fmt: str,
                  options: DigestOptions | None = None) -> dict[str, Any]:
    """Everything the templates show (documented in the module docstring)."""
    options = options or DigestOptions()
    if fmt not in FORMATS:
        raise UsageError(f"unknown digest format {fmt!r}", hint="use md or html")
    if options.origin not in ORIGINS:
        raise UsageError(f"unknown origin {options.origin!r}",
                         hint=f"use one of {', '.join(ORIGINS)}")
    if options.quotes < 0:
        raise UsageError("--quotes must be 0 or more")
    theme_ids = resolve_themes(book, options.themes)
    labels = LABELS.get(project.language, LABELS["en"])

    selection = select_quotes(project, store, book, coders=options.coders or (),
                              origins=[options.origin])
    with store.read() as conn:
        attributes = tq.all_attributes(conn)
        turns = aq.turns(conn, selection.transcripts)
    memos_on_codes = list_memos(store, "code")
    by = resolve_by(project, attributes, options.by)
    attribute = Attributor(project, selection)
    ends = {tid: [t.end for t in ts] for tid, ts in turns.items()}
    codings = [_enrich(row, turns[row.transcript], ends[row.transcript], attribute(row),
                       labels) for row in selection.rows]

    by_code: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in codings:
        by_code[c["code"]].append(c)
    tables = _crosstabs(store, book, by, options) if codings else {}
    units = {code: set().union(*(c["units"] for c in cs)) for code, cs in by_code.items()}
    order = {cid: i for i, cid in enumerate(book.codes)}
    themes: list[dict[str, Any]] = []
    for i, theme_id in enumerate(theme_ids):
        theme = book.codes[theme_id]
        subtree = [theme_id, *book.descendants(theme_id)]
        code_ids = [cid for cid in subtree if cid != theme_id or by_code.get(cid)]
        theme_codings = [c for cid in subtree for c in by_code.get(cid, [])]
        color = theme.color or DEFAULT_COLOR
        themes.append({
            "id": theme.id, "label": theme.label, "description": theme.description,
            "color": color, "text_color": text_color(color),
            "anchor": _anchor(theme.id, i),
            **_counts(theme_codings),
            "codes": [_code_entry(book, cid, by_code.get(cid, []), by, options.quotes)
                      for cid in code_ids],
            "tables": [_table(book, code_ids, attr, *tables[attr], color)
                       for attr in by if attr in tables],
            "cooccurring": _cooccurring(book, set(subtree), units, order),
            "memos": _memos(book, subtree, memos_on_codes, theme_codings),
        })
    shown = [c for t in themes for cid in (x["id"] for x in t["codes"])
             for c in by_code.get(cid, [])]
    return {
        "format": fmt,
        "project": {"name": project.name, "language": project.language},
        "codebook": {"name": book.name, "path": _relative(book.path, project.root)},
        "labels": labels,
        "filters": {"themes": theme_ids if options.themes else None,
                    "coders": options.coders or None,
                    "origin": options.origin},
        "by": by,
        "quotes_per_code": options.quotes,
        "totals": {**_counts(shown), "themes": len(themes)},
        "themes": themes,
    }


def resolve_themes(book: Codebook, names: Sequence[str] | None) -> list[str]:
    """The themes asked for (ids, labels or keys), in codebook order; all when none."""
    if not names:
        return list(book.roots)
    wanted = set()
    for name in names:
        code = book.resolve(name)
        if code.parent is not None:
            theme = book.codes[book.theme_of(code.id)]
            raise UsageError(f"{code.id!r} is a code of the theme {theme.id!r}, not a theme",
                             hint=f"use --theme {theme.id}")
        wanted.add(code.id)
    return [t for t in book.roots if t in wanted]


def resolve_by(project: Project, attributes: dict[str, dict[str, str]],
               explicit: Sequence[str] | None) -> list[str]:
    """The attributes of the tables: ``explicit`` (names, or comma-separated lists of names),
    else ``export.digest_by`` in ``qcode.yaml``, else the defaults.

    Names are matched as :func:`qcode.reports.tables.resolve_attribute` does (exactly, else
    ignoring case and accents). A name no transcript has is an error when it was asked for,
    and is left out when it is a default (a project without an attribute sheet still gets a
    digest).
    """
    from qcode.reports.tables import resolve_attribute

    known = sorted({name for attrs in attributes.values() for name in attrs})
    if explicit:
        names = [n.strip() for item in explicit for n in item.split(",") if n.strip()]
        return list(dict.fromkeys(resolve_attribute(n, known) for n in names))
    setting = project.raw.get("export")
    configured = setting.get("digest_by") if isinstance(setting, dict) else None
    if configured is not None:
        path = project.root / CONFIG_NAME
        if isinstance(configured, str):
            configured = [configured]
        if not isinstance(configured, list) or not all(isinstance(n, str) for n in configured):
            raise ValidationError("export.digest_by must be a list of attribute names, e.g. "
                                  "[initiative, role]", path=path)
        out = []
        for name in configured:
            try:
                out.append(resolve_attribute(name, known))
            except NotFoundError as exc:
                raise ValidationError(f"export.digest_by: {exc}", path=path) from None
        return list(dict.fromkeys(out))
    return [name for name in DEFAULT_BY if name in known]


def choose_quotes(candidates: Sequence[dict[str, Any]], n: int,
                  by: Sequence[str]) -> list[dict[str, Any]]:
    """Pick ``n`` representative passages among a code's codings: a deterministic greedy choice.

    ``candidates`` are codings in position order (transcript id, start), each with
    ``transcript``, ``start``, ``end``, ``origin``, ``quote`` and ``attributes`` (values of the
    ``by`` attributes). One passage coded by several coders is one candidate (its best origin).
    Each round takes the candidate that maximises, in this order:

    1. a reasonable length: :data:`QUOTE_MIN_CHARS` to :data:`QUOTE_MAX_CHARS` characters;
    2. a value of the first ``by`` attribute (the initiative) not taken yet;
    3. a transcript not taken yet;
    4. the number of other ``by`` attributes (the role) whose value is not taken yet;
    5. origin: manual, then import, then keyword;
    6. the length nearest the reasonable range (for passages outside it);
    7. position: the earliest.

    The chosen passages are returned in position order.
    """
    unique: dict[tuple[str, int, int], dict[str, Any]] = {}
    for c in candidates:
        where = (c["transcript"], c["start"], c["end"])
        best = unique.get(where)
        if best is None or ORIGIN_RANK.get(c["origin"], 3) < ORIGIN_RANK.get(best["origin"], 3):
            unique[where] = c
    pool = list(unique.values())
    chosen: list[dict[str, Any]] = []
    seen_transcripts: set[str] = set()
    seen_values: list[set[str | None]] = [set() for _ in by]
    while pool and len(chosen) < n:
        best_i, best_key = 0, None
        for i, c in enumerate(pool):
            length = len(c["quote"])
            values = [c["attributes"].get(name) for name in by]
            key = (
                QUOTE_MIN_CHARS <= length <= QUOTE_MAX_CHARS,
                bool(by) and values[0] not in seen_values[0],
                c["transcript"] not in seen_transcripts,
                sum(v not in seen for v, seen in zip(values[1:], seen_values[1:], strict=True)),
                -ORIGIN_RANK.get(c["origin"], 3),
                -max(QUOTE_MIN_CHARS - length, length - QUOTE_MAX_CHARS, 0),
            )
            if best_key is None or key > best_key:
                best_i, best_key = i, key
        pick = pool.pop(best_i)
        chosen.append(pick)
        seen_transcripts.add(pick["transcript"])
        for seen, name in zip(seen_values, by, strict=True):
            seen.add(pick["attributes"].get(name))
    return sorted(chosen, key=lambda c: (c["transcript"], c["start"], c["end"]))


def render_template(context: dict[str, Any], fmt: str, template: Path | None = None) -> str:
    """Render the bundled template of ``fmt``, or the user's ``template`` file."""
    import jinja2

    from qcode.reports import environment

    base = environment()
    assert base.loader is not None
    loader: jinja2.BaseLoader = base.loader
    if template is not None:
        template = template.expanduser().resolve()
        if not template.is_file():
            raise NotFoundError(f"no template file {template}",
                                hint="give the path of a jinja2 template (.j2)")
        loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(template.parent)), loader])
        name = template.name
    else:
        name = f"digest.{fmt}.j2"
    env = base.overlay(loader=loader, autoescape=fmt == "html")
    env.filters = {**base.filters, "blockquote": blockquote, "md": md_escape,
                   "md_cell": md_cell, "noun": noun}
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise QcodeError(f"template syntax error: {exc.message}",
                         path=exc.filename or name, line=exc.lineno) from None
    except UnicodeDecodeError:
        raise QcodeError("the template is not UTF-8 text", path=template or name) from None
    except Exception as exc:  # a user's template may fail in any way; ours must not
        if template is None and not isinstance(exc, jinja2.TemplateError):
            raise
        line = None
        where = str(template) if template is not None else name
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename == where or frame.filename.endswith(name):
                line = frame.lineno
                break
        raise QcodeError(f"template error: {exc}", path=where, line=line,
                         hint="the context variables are listed in the docstring of "
                              "qcode/reports/digest.py") from None


# --- template helpers --------------------------------------------------------------------------


@pass_context
def noun(context: Any, count: int, key: str) -> str:
    """``labels[key]`` (a plural) or its singular for ``count``: French takes the singular for
    0 and 1, English for 1 only."""
    labels = context["labels"]
    singular = count == 1 or (count == 0 and context["project"]["language"] == "fr")
    return str(labels["singular"].get(key, labels[key]) if singular else labels[key])


def md_cell(value: Any) -> str:
    """A value fit for a Markdown table cell: escaped, line breaks as spaces."""
    return md_escape(re.sub(r"\s*\n\s*", " ", str(value)))


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _luminance(color: str) -> float:
    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#RRGGBB`` colours."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_color(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (always 4.5:1 or more)."""
    dark, light = "#000000", "#FFFFFF"
    return dark if contrast(dark, background) >= contrast(light, background) else light


def heat_color(color: str) -> str:
    """The darkest shade of a heat-map: ``color``, darkened until it stands out from white
    (a light theme colour such as a pale yellow would leave too little range)."""
    r, g, b = _rgb(color)
    while _luminance(f"#{r:02X}{g:02X}{b:02X}") > HEAT_MAX_LUMINANCE:
        r, g, b = (int(v * 0.9) for v in (r, g, b))
    return f"#{r:02X}{g:02X}{b:02X}"


def shade(color: str, share: float) -> str:
    """``color`` mixed with white: ``share`` 0 → white, 1 → the colour itself."""
    return "#" + "".join(f"{round(255 + (v - 255) * share):02X}" for v in _rgb(color))


# --- building blocks ----------------------------------------------------------------------------


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _anchor(theme_id: str, index: int) -> str:
    slug = re.sub(r"[^\w-]+", "-", theme_id).strip("-") or "theme"
    return f"theme-{index + 1}-{slug}"


def _turns_of(turns: list[TurnRecord], ends: list[int], start: int, end: int
              ) -> list[TurnRecord]:
    """The turns that ``[start, end)`` overlaps."""
    out = []
    i = bisect_right(ends, start)
    while i < len(turns) and turns[i].start < end:
        out.append(turns[i])
        i += 1
    return out


def _enrich(row: QuoteRow, turns: list[TurnRecord], ends: list[int], attribution: str,
            labels: dict[str, Any]) -> dict[str, Any]:
    """A coding with its turns (units of co-occurrence), speakers and citation."""
    overlapped = _turns_of(turns, ends, row.start, row.end)
    talking = [t for t in overlapped if t.role != "interviewer"] or overlapped
    source = f"{row.transcript}, {labels['turn']} {row.turn}" + (
        f", {row.time}" if row.time else "")
    return {
        "id": row.coding_id, "transcript": row.transcript, "start": row.start,
        "end": row.end, "quote": row.quote, "code": row.code, "label": row.label,
        "coder": row.coder, "origin": row.origin, "turn": row.turn, "time": row.time,
        "attributes": row.attributes, "memos": row.memos, "attribution": attribution,
        "source": source,
        "citation": f"« {row.quote} »" + (f" {attribution}" if attribution else ""),
        "units": {(row.transcript, t.idx) for t in overlapped} or {(row.transcript, row.turn)},
        "speakers": {(row.transcript, t.speaker) for t in talking}
        or {(row.transcript, row.speaker)},
    }


def _counts(codings: Iterable[dict[str, Any]]) -> dict[str, int]:
    codings = list(codings)
    return {
        "codings": len(codings),
        "transcripts": len({c["transcript"] for c in codings}),
        "speakers": len(set().union(*(c["speakers"] for c in codings))) if codings else 0,
    }


def _quote(c: dict[str, Any]) -> dict[str, Any]:
    keys = ("transcript", "turn", "time", "start", "end", "code", "coder", "origin",
            "attributes", "attribution", "source", "citation")
    return {"text": c["quote"], **{k: c[k] for k in keys}}


def _code_entry(book: Codebook, code_id: str, codings: list[dict[str, Any]], by: list[str],
                quotes: int) -> dict[str, Any]:
    code = book.codes[code_id]
    theme_color = book.codes[book.theme_of(code_id)].color
    return {
        "id": code.id, "label": code.label, "depth": code.depth,
        "description": code.description, "color": code.color or theme_color or DEFAULT_COLOR,
        **_counts(codings),
        "quotes": [_quote(c) for c in choose_quotes(codings, quotes, by)],
    }


def _crosstabs(store: Store, book: Codebook, by: list[str], options: DigestOptions
               ) -> dict[str, tuple[list[str | None], dict[tuple[str, str | None], int]]]:
    """Per attribute: its values (``None`` for transcripts without it, last) and the number of
    codings per (code, value), from :func:`qcode.reports.tables.crosstab`."""
    from qcode.reports.tables import NONE_VALUE, crosstab

    out: dict[str, tuple[list[str | None], dict[tuple[str, str | None], int]]] = {}
    origins = None if options.origin == "all" else [options.origin]
    for attr in by:
        rows = crosstab(store, book, attr, level="code", coders=options.coders or None,
                        origins=origins)
        values: dict[str | None, None] = {}
        counts: dict[tuple[str, str | None], int] = {}
        for r in rows:
            value = None if r["value"] == NONE_VALUE else r["value"]
            values[value] = None
            counts[(r["code"], value)] = r["codings"]
        out[attr] = (list(values), counts)
    return out


def _table(book: Codebook, code_ids: list[str], attr: str, values: list[str | None],
           counts: dict[tuple[str, str | None], int], color: str) -> dict[str, Any]:
    """A heat-map: the theme's codes × the values of ``attr``, cells shaded by count."""
    rows_of = [cid for cid in code_ids
               if book.codes[cid].codable or any(counts.get((cid, v)) for v in values)]
    top = max((counts.get((cid, v), 0) for cid in rows_of for v in values), default=0)
    heat = heat_color(color)
    rows = []
    for cid in rows_of:
        cells: list[dict[str, Any]] = []
        for v in values:
            n = counts.get((cid, v), 0)
            bg = shade(heat, 0.1 + 0.9 * n / top) if n and top else "#FFFFFF"
            cells.append({"value": v, "count": n, "bg": bg,
                          "fg": text_color(bg) if n else "#595959"})
        code = book.codes[cid]
        rows.append({"id": cid, "label": code.label, "depth": code.depth, "cells": cells,
                     "total": sum(c["count"] for c in cells)})
    return {
        "attribute": attr, "values": values, "rows": rows,
        "totals": [sum(counts.get((cid, v), 0) for cid in rows_of) for v in values],
        "total": sum(r["total"] for r in rows), "max": top,
    }


def _cooccurring(book: Codebook, subtree: set[str], units: dict[str, set[tuple[str, int]]],
                 order: dict[str, int]) -> list[dict[str, Any]]:
    mine: set[tuple[str, int]] = set().union(*(units.get(cid, set()) for cid in subtree))
    if not mine:
        return []
    ranked = []
    for cid, theirs in units.items():
        if cid in subtree:
            continue
        n12 = len(mine & theirs)
        if n12 == 0:
            continue
        coefficient = n12 / (len(mine) + len(theirs) - n12)
        ranked.append((-coefficient, -n12, order[cid], cid, n12, len(theirs), coefficient))
    ranked.sort()
    out = []
    for *_, cid, n12, n2, coefficient in ranked[:TOP_COOCCURRING]:
        code = book.codes[cid]
        theme = book.codes[book.theme_of(cid)]
        out.append({"id": cid, "label": code.label, "theme": theme.id,
                    "theme_label": theme.label,
                    "color": code.color or theme.color or DEFAULT_COLOR,
                    "n1": len(mine), "n2": n2, "n12": n12, "coefficient": coefficient,
                    "coefficient_text": f"{coefficient:.2f}"})
    return out


def _memos(book: Codebook, subtree: list[str], on_codes: list[dict[str, Any]],
           codings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Memos on the theme and its codes (codebook order), then on its codings (position
    order): the coding's own memo first, then memos written on it."""
    out = []
    position = {cid: i for i, cid in enumerate(subtree)}
    for m in sorted((m for m in on_codes if m["target_id"] in position),
                    key=lambda m: (position[m["target_id"]], m["id"])):
        out.append({"kind": "code", "code": m["target_id"],
                    "code_label": book.codes[m["target_id"]].label, "coder": m["coder"],
                    "text": m["text"], "quote": None})
    for c in sorted(codings, key=lambda c: (c["transcript"], c["start"], c["end"], c["coder"],
                                            c["id"])):
        for m in c["memos"]:
            out.append({"kind": "coding", "code": c["code"], "code_label": c["label"],
                        "coder": m.coder or c["coder"], "text": m.text, "quote": _quote(c)})
    return out


__all__ = [
    "DEFAULT_BY", "DEFAULT_QUOTES", "FORMATS", "ORIGINS", "DigestOptions", "build_context",
    "choose_quotes", "default_path", "render_digest", "render_template", "resolve_by",
    "resolve_themes", "write_digest",
]
