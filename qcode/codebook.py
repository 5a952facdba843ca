"""The codebook: themes → codes → sub-codes in YAML, loaded with line numbers and validated.

The YAML file is the source of truth (format: ``codebooks/README.md``). :func:`load` reads it
and returns a :class:`Codebook` with every problem found, each naming its place as
``file:line:column: YAML path: what is wrong: how to fix``; :func:`load_valid` raises a
:class:`ValidationError` (exit code 3) when any is an error.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qcode.errors import NotFoundError, ValidationError
from qcode.yamlutil import Marks, YamlPath, load_yaml, render_path

UNITS = ("sentence", "turn")
MAX_FUZZY = 2
ENTRY_FIELDS = (
    "id", "label", "description", "include", "exclude", "examples", "keywords", "unit",
    "color", "key", "codable", "guid", "codes", "fuzzy", "exact", "not", "parent",
)
KEYWORD_FIELDS = ("term", "regex", "exact", "fuzzy", "not")
TOP_FIELDS = ("name", "language", "description", "themes", "codes", "version")

ID_RE = re.compile(r"^[^\W_][\w.\-]*$")
COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
KEY_RE = re.compile(r"^[^\W\d_]{1,2}$")
GUID_RE = re.compile(
    r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")


def fold(text: str) -> str:
    """Case-, accent- and apostrophe-insensitive form of a keyword, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    out = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    out = re.sub(r"['’`ʼ]", "' ", out)
    out = re.sub(r"[^\w' -]+", " ", out)
    return re.sub(r"\s+", " ", out).strip(" -'")


@dataclass(slots=True)
class Keyword:
    """A keyword of a code: a word or phrase (``term``) or a regular expression."""

    term: str | None = None
    regex: str | None = None
    exact: bool = False
    fuzzy: int = 0
    vetoes: list[str] = field(default_factory=list)
    line: int = 0
    column: int = 0
    yaml_path: str = ""

    @property
    def text(self) -> str:
        return self.term if self.term is not None else f"/{self.regex}/"


@dataclass(slots=True)
class Code:
    """A theme (depth 0) or a code at any depth below it."""

    id: str
    label: str
    parent: str | None = None
    depth: int = 0
    description: str = ""
    include: str = ""
    exclude: str = ""
    examples: list[str] = field(default_factory=list)
    keywords: list[Keyword] = field(default_factory=list)
    unit: str = "sentence"
    color: str | None = None
    key: str | None = None
    codable: bool = True
    guid: str | None = None
    children: list[str] = field(default_factory=list)
    line: int = 0
    column: int = 0
    yaml_path: str = ""


@dataclass(slots=True)
class Problem:
    path: str
    line: int
    column: int
    yaml_path: str
    message: str
    fix: str
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}:{self.column}: {self.yaml_path}: {self.message}"
        if self.fix:
            text += f": {self.fix}"
        return text


@dataclass(slots=True)
class Codebook:
    path: Path
    name: str = ""
    language: str | None = None
    codes: dict[str, Code] = field(default_factory=dict)  # in tree order
    roots: list[str] = field(default_factory=list)
    digest: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def walk(self) -> Iterator[Code]:
        """Every entry, parents before children, in the file's order."""

        def visit(cid: str) -> Iterator[Code]:
            code = self.codes[cid]
            yield code
            for child in code.children:
                yield from visit(child)

        for root in self.roots:
            yield from visit(root)

    def lineage(self, code_id: str) -> list[str]:
        """Ids from the theme down to ``code_id``."""
        out: list[str] = []
        current: str | None = code_id
        while current is not None:
            out.append(current)
            current = self.codes[current].parent
        return out[::-1]

    def theme_of(self, code_id: str) -> str:
        return self.lineage(code_id)[0]

    def descendants(self, code_id: str) -> list[str]:
        out: list[str] = []
        stack = list(reversed(self.codes[code_id].children))
        while stack:
            cid = stack.pop()
            out.append(cid)
            stack.extend(reversed(self.codes[cid].children))
        return out

    def resolve(self, name: str) -> Code:
        """A code named by id, label or key (case- and accent-insensitive)."""
        if name in self.codes:
            return self.codes[name]
        wanted = fold(name)
        for code in self.codes.values():
            if wanted in {fold(code.id), fold(code.label)} or (
                    code.key is not None and wanted == fold(code.key)):
                return code
        from rapidfuzz import process, utils

        choices = {c.id: c.label for c in self.codes.values()}
        best = process.extractOne(name, choices, processor=utils.default_process,
                                  score_cutoff=60)
        hint = f"did you mean {best[2]!r} ({best[0]})?" if best else \
            "'qcode codebook show' lists the codes"
        raise NotFoundError(f"no code {name!r} in the codebook", path=self.path, hint=hint)


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- loading and validation ------------------------------------------------------------------


class _Loader:
    def __init__(self, path: Path, marks: Marks) -> None:
        self.path = path
        self.marks = marks
        self.book = Codebook(path)
        self.flat: list[tuple[YamlPath, dict[str, Any]]] = []

    def problem(self, where: YamlPath, message: str, fix: str = "", *, key: bool = False,
                warning: bool = False) -> None:
        line, column = self.marks.key(where) if key else self.marks.value(where)
        self.book.problems.append(Problem(str(self.path), line, column, render_path(where),
                                          message, fix, "warning" if warning else "error"))

    def text_field(self, entry: dict[str, Any], name: str, where: YamlPath) -> str:
        value = entry.get(name)
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem((*where, name), f"{name} must be text", "write it as a string")
            return ""
        return str(value).strip()

    def entry(self, entry: Any, where: YamlPath, parent: str | None, depth: int) -> None:
        if not isinstance(entry, dict):
            self.problem(where, "an entry must be a mapping",
                         "write it as 'id: …' and 'label: …' lines")
            return
        for name in entry:
            if name not in ENTRY_FIELDS:
                from rapidfuzz import process

                best = process.extractOne(str(name), ENTRY_FIELDS, score_cutoff=70)
                fix = f"did you mean '{best[0]}'?" if best else \
                    f"known fields: {', '.join(ENTRY_FIELDS)}"
                self.problem((*where, name), f"unknown field {name!r}", fix, key=True)
        raw_id = entry.get("id")
        if raw_id is None or isinstance(raw_id, bool) or str(raw_id).strip() == "":
            self.problem(where, "entry without an id", "add 'id: some-id' (unique)")
            return
        cid = str(raw_id).strip()
        if not ID_RE.match(cid):
            self.problem((*where, "id"), f"invalid id {cid!r}",
                         "use letters (accents allowed), digits, '-', '_' or '.'")
        if cid in self.book.codes:
            first = self.book.codes[cid]
            self.problem((*where, "id"), f"duplicate id {cid!r} (first at line {first.line})",
                         "give each entry its own id")
            return
        label = self.text_field(entry, "label", where)
        if not label:
            self.problem((*where, "label") if "label" in entry else where, "empty label",
                         "give the entry a label people can read")
        line, column = self.marks.value(where)
        code = Code(id=cid, label=label or cid, parent=parent, depth=depth, line=line,
                    column=column, codable=depth > 0, yaml_path=render_path(where))
        code.description = self.text_field(entry, "description", where)
        code.include = self.text_field(entry, "include", where)
        code.exclude = self.text_field(entry, "exclude", where)
        examples = entry.get("examples")
        if examples is not None:
            if not isinstance(examples, list):
                self.problem((*where, "examples"), "examples must be a list",
                             "write one quote per '- ' line")
            else:
                code.examples = [str(x) for x in examples if x is not None]
        unit = entry.get("unit")
        if unit is not None:
            if unit not in UNITS:
                self.problem((*where, "unit"), f"invalid unit {unit!r}",
                             f"use one of {', '.join(UNITS)}")
            else:
                code.unit = unit
        color = entry.get("color")
        if color is not None:
            if not isinstance(color, str) or not COLOR_RE.match(color):
                self.problem((*where, "color"), f"invalid colour {color!r}",
                             'write it as "#RRGGBB" (quoted), e.g. "#4E79A7"')
            else:
                code.color = color.upper()
        key = entry.get("key")
        if key is not None:
            if not isinstance(key, str) or not KEY_RE.match(key):
                self.problem((*where, "key"), f"invalid key {key!r}",
                             "use one or two letters, e.g. 'gb'")
            else:
                code.key = key
        codable = entry.get("codable")
        if codable is not None:
            if not isinstance(codable, bool):
                self.problem((*where, "codable"), "codable must be true or false", "")
            else:
                code.codable = codable
        guid = entry.get("guid")
        if guid is not None:
            if not isinstance(guid, str) or not GUID_RE.match(guid):
                self.problem((*where, "guid"), f"invalid GUID {guid!r}",
                             "use the 8-4-4-4-12 hexadecimal form, or remove it")
            else:
                code.guid = guid.strip("{}").lower()
        defaults = self.keyword_defaults(entry, where)
        code.keywords = self.keywords(entry.get("keywords"), (*where, "keywords"), defaults)
        self.book.codes[cid] = code
        if parent is not None:
            self.book.codes[parent].children.append(cid)
        else:
            self.book.roots.append(cid)
        children = entry.get("codes")
        if children is not None:
            if not isinstance(children, list):
                self.problem((*where, "codes"), "codes must be a list of entries",
                             "write each sub-code as a '- id: …' item")
            else:
                for i, child in enumerate(children):
                    self.entry(child, (*where, "codes", i), cid, depth + 1)

    def keyword_defaults(self, entry: dict[str, Any], where: YamlPath
                         ) -> tuple[bool, int, list[str]]:
        exact = entry.get("exact", False)
        if not isinstance(exact, bool):
            self.problem((*where, "exact"), "exact must be true or false", "")
            exact = False
        fuzzy = self.fuzzy(entry.get("fuzzy", 0), (*where, "fuzzy"))
        vetoes = self.vetoes(entry.get("not"), (*where, "not"))
        return exact, fuzzy, vetoes

    def fuzzy(self, value: Any, where: YamlPath) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FUZZY:
            self.problem(where, f"invalid fuzzy tolerance {value!r}",
                         f"use a number of typing errors from 0 to {MAX_FUZZY}")
            return 0
        return value

    def vetoes(self, value: Any, where: YamlPath) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.problem(where, "not must be a list of phrases", "e.g. not: [bureau de poste]")
            return []
        out = []
        for i, phrase in enumerate(value):
            if not isinstance(phrase, str | int) or not fold(str(phrase)):
                self.problem((*where, i), f"veto {phrase!r} normalises to nothing",
                             "write words, not only punctuation")
                continue
            out.append(str(phrase))
        return out

    def keywords(self, value: Any, where: YamlPath,
                 defaults: tuple[bool, int, list[str]]) -> list[Keyword]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(where, "keywords must be a list", "write one keyword per '- ' line")
            return []
        exact, fuzzy, vetoes = defaults
        out: list[Keyword] = []
        for i, item in enumerate(value):
            here = (*where, i)
            line, column = self.marks.value(here)
            kw = Keyword(exact=exact, fuzzy=fuzzy, vetoes=list(vetoes), line=line,
                         column=column, yaml_path=render_path(here))
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                kw.term = str(item)
            elif isinstance(item, dict):
                for name in item:
                    if name not in KEYWORD_FIELDS:
                        self.problem((*here, name), f"unknown keyword option {name!r}",
                                     f"use {', '.join(KEYWORD_FIELDS)}", key=True)
                if ("term" in item) == ("regex" in item):
                    self.problem(here, "a keyword needs exactly one of 'term' or 'regex'",
                                 "e.g. { term: bureau } or { regex: 'co-?présiden\\w*' }")
                    continue
                if "term" in item:
                    kw.term = str(item["term"])
                else:
                    kw.regex = str(item["regex"])
                    self.check_regex(kw.regex, (*here, "regex"))
                if "exact" in item:
                    if not isinstance(item["exact"], bool):
                        self.problem((*here, "exact"), "exact must be true or false", "")
                    else:
                        kw.exact = item["exact"]
                if "fuzzy" in item:
                    kw.fuzzy = self.fuzzy(item["fuzzy"], (*here, "fuzzy"))
                if "not" in item:
                    kw.vetoes = [*kw.vetoes, *self.vetoes(item["not"], (*here, "not"))]
            else:
                self.problem(here, "a keyword must be a word, a phrase or a mapping",
                             "e.g. - solidarité or - { term: AG, exact: true }")
                continue
            if kw.term is not None and not fold(kw.term):
                self.problem((*here, "term") if isinstance(item, dict) else here,
                             f"keyword {kw.term!r} normalises to nothing",
                             "write a word or phrase, not only punctuation or spaces")
                continue
            out.append(kw)
        return out

    def check_regex(self, pattern: str, where: YamlPath) -> None:
        try:
            re.compile(pattern)
        except re.error as exc:
            self.problem(where, f"invalid regular expression: {exc}", "fix the pattern")
            return
        danger = catastrophic(pattern)
        if danger:
            self.problem(where, f"regular expression prone to catastrophic backtracking "
                         f"({danger})", "avoid a repeated group that itself repeats, e.g. "
                         "write (ab)+ instead of (a+b?)+")

    def flat_codes(self, value: Any) -> None:
        if not isinstance(value, list):
            self.problem(("codes",), "codes must be a list of entries with a parent", "")
            return
        pending = [(("codes", i), item) for i, item in enumerate(value)]
        # place entries whose parent exists, repeatedly, so the order in the file is free
        while pending:
            progress = False
            rest = []
            for where, item in pending:
                parent = item.get("parent") if isinstance(item, dict) else None
                if parent is None or str(parent) in self.book.codes:
                    self.entry(item, where, str(parent) if parent is not None else None,
                               0 if parent is None else
                               self.book.codes[str(parent)].depth + 1)
                    progress = True
                else:
                    rest.append((where, item))
            if not progress:
                for where, item in rest:
                    self.problem((*where, "parent"), f"unknown parent {item.get('parent')!r}",
                                 "use the id of a theme or code defined in this codebook")
                break
            pending = rest

    def cross_checks(self) -> None:
        keys: dict[str, Code] = {}
        seen: dict[str, tuple[Code, Keyword]] = {}
        for code in self.book.walk():
            if code.key is not None:
                folded = code.key.casefold()
                if folded in keys:
                    line, column = self.marks.value((*_parse_path(code.yaml_path), "key"))
                    self.book.problems.append(Problem(
                        str(self.path), line, column, f"{code.yaml_path}.key",
                        f"key {code.key!r} is also the key of {keys[folded].id!r}",
                        "give each code its own key"))
                else:
                    keys[folded] = code
            for kw in code.keywords:
                if kw.term is None:
                    continue
                norm = fold(kw.term)
                if norm in seen and seen[norm][0].id != code.id:
                    other = seen[norm][0]
                    self.book.problems.append(Problem(
                        str(self.path), kw.line, kw.column, kw.yaml_path,
                        f"keyword {kw.term!r} is also a keyword of {other.id!r} (line "
                        f"{seen[norm][1].line})",
                        "keep it on one code, or add 'not:' phrases to tell them apart",
                        "warning"))
                else:
                    seen.setdefault(norm, (code, kw))


def _parse_path(rendered: str) -> YamlPath:
    """``themes[1].codes[0]`` → ``("themes", 1, "codes", 0)``."""
    out: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", rendered):
        out.append(int(index) if index else name)
    return tuple(out)


def catastrophic(pattern: str) -> str | None:
    """Why ``pattern`` may backtrack exponentially (a repeat inside an unbounded repeat)."""
    import importlib

    # the standard library's own regex parser (private, but stable across 3.11–3.13)
    c: Any = importlib.import_module("re._constants")
    p: Any = importlib.import_module("re._parser")

    try:
        tree = p.parse(pattern)
    except re.error:
        return None

    def repeats(items: Any, inside_unbounded: bool) -> str | None:
        for op, av in items:
            if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
                _low, high, sub = av
                unbounded = high == c.MAXREPEAT
                if inside_unbounded and high > 1 and op != c.POSSESSIVE_REPEAT:
                    return "a repeated group contains another repeat"
                found = repeats(sub, inside_unbounded or (unbounded and op != c.POSSESSIVE_REPEAT))
                if found:
                    return found
                if unbounded and _overlapping_branches(sub):
                    return "a repeated alternation whose branches can match the same text"
            elif op == c.SUBPATTERN:
                found = repeats(av[-1], inside_unbounded)
                if found:
                    return found
            elif op == c.BRANCH:
                for branch in av[1]:
                    found = repeats(branch, inside_unbounded)
                    if found:
                        return found
            elif op in (c.ASSERT, c.ASSERT_NOT, c.ATOMIC_GROUP):
                sub = av[-1] if isinstance(av, tuple) else av
                found = repeats(sub, inside_unbounded)
                if found:
                    return found
        return None

    def _overlapping_branches(items: Any) -> bool:
        for op, av in items:
            if op == c.SUBPATTERN:
                return _overlapping_branches(av[-1])
            if op == c.BRANCH:
                firsts = [str(b[0]) if len(b) else "" for b in av[1]]
                return len(firsts) != len(set(firsts))
        return False

    return repeats(tree, False)


def load(path: Path) -> Codebook:
    """Read and check a codebook; problems are in ``codebook.problems`` (nothing raised)."""
    try:
        data_bytes = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError("codebook not found", path=path,
                            hint="create it, or set 'codebook:' in qcode.yaml") from None
    except OSError as exc:
        raise NotFoundError(f"cannot read the codebook: {exc.strerror}", path=path) from None
    try:
        text = data_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError("the codebook is not UTF-8 text", path=path,
                              line=data_bytes[: exc.start].count(b"\n") + 1) from None
    data, marks = load_yaml(text, path)
    loader = _Loader(path, marks)
    book = loader.book
    book.digest = digest_of(data_bytes)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        loader.problem((), "the codebook must be a mapping with a 'themes:' list",
                       "start the file with 'themes:'")
        return book
    for name in data:
        if name not in TOP_FIELDS:
            loader.problem((name,), f"unknown top-level field {name!r}",
                           f"known fields: {', '.join(TOP_FIELDS)}", key=True)
    book.name = str(data.get("name") or path.stem)
    language = data.get("language")
    book.language = str(language) if language else None
    themes = data.get("themes")
    if themes is None and "codes" not in data:
        loader.problem((), "no themes", "add a 'themes:' list of entries")
    elif themes is not None:
        if not isinstance(themes, list):
            loader.problem(("themes",), "themes must be a list of entries",
                           "write each theme as a '- id: …' item")
        else:
            for i, theme in enumerate(themes):
                loader.entry(theme, ("themes", i), None, 0)
    if "codes" in data:
        loader.flat_codes(data["codes"])
    loader.cross_checks()
    book.problems.sort(key=lambda p: (p.line, p.column))
    return book


def load_valid(path: Path) -> Codebook:
    """Load a codebook and raise :class:`ValidationError` (exit 3) if it has errors."""
    book = load(path)
    if book.errors:
        raise ValidationError(
            f"{len(book.errors)} error(s) in the codebook",
            problems=[str(p) if p.severity == "error" else f"warning: {p}"
                      for p in book.problems], path=path)
    return book
