"""Edit the codebook YAML in place: add, rename, merge and move codes.

Each edit is one step. The current YAML is synced into the store; the new YAML text is computed
with ruamel.yaml in round-trip mode, so comments, key order, quoting, flow style and
indentation are kept; the new text is checked by loading it like any codebook (nothing changes
when it has errors). Then, in one store transaction, the codings follow the edit (rename,
merge), the file is replaced atomically and recorded as synced. If the file cannot be written,
the transaction rolls back: the store and the YAML never disagree.

Lines the edit does not touch are kept byte for byte: ruamel re-emits some constructs in its own
way (``{ term: AG }`` becomes ``{term: AG}``), so the new text is reconciled line by line with
the file as it was (:func:`_reconcile`), and checked to mean the same as ruamel's output.
"""

from __future__ import annotations

import codecs
import difflib
import io
import os
import re
import stat
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    ScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.tokens import CommentToken
from sqlalchemy import Connection

from qcode.codebook import (  # the codebook's own rules for ids, colours and keys
    COLOR_RE,
    ID_RE,
    KEY_RE,
    UNITS,
    Code,
    Codebook,
    digest_of,
    fold,
    load,
    load_valid,
)
from qcode.codebook_sync import SyncReport, mark_synced, open_synced
from qcode.errors import QcodeError, UsageError, ValidationError
from qcode.project import Project
from qcode.store import Store
from qcode.store import codes as q


class EditError(QcodeError):
    """A codebook edit that cannot be done: an id already used, a cycle, a non-codable target."""


@dataclass(slots=True)
class EditResult:
    """What an edit did (or, with ``dry_run``, would do)."""

    action: str  # add | rename | merge | move
    message: str  # one line for the user, e.g. "renamed 'a' to 'b': 12 codings moved"
    path: Path
    old_text: str
    new_text: str
    dry_run: bool = False
    codings_moved: int = 0
    duplicates_dropped: int = 0
    sync: SyncReport | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text

    @property
    def diff(self) -> str:
        """The change to the YAML file as a unified diff (empty when nothing changes)."""
        return "".join(difflib.unified_diff(
            self.old_text.splitlines(keepends=True), self.new_text.splitlines(keepends=True),
            fromfile=f"{self.path}", tofile=f"{self.path} (edited)"))


# --- the round-trip document -----------------------------------------------------------------

_BLOCK_KEY = re.compile(r"^( *)((?:- +)*)([^\s#\-\[{][^#]*?|-[^\s][^#]*?):[ \t]*(?:#.*)?$")


def detect_indent(text: str) -> tuple[int, int, int]:
    """The file's (mapping, sequence, offset) indentation, as ruamel's ``YAML.indent`` wants.

    ``sequence`` is where an item's content starts and ``offset`` where its dash is, both
    counted from the column of the key that owns the list.
    """
    lines = text.split("\n")
    mappings: Counter[int] = Counter()
    sequences: Counter[tuple[int, int]] = Counter()
    for n, line in enumerate(lines):
        m = _BLOCK_KEY.match(line)
        if m is None:
            continue
        key_col = len(m.group(1)) + len(m.group(2))
        for following in lines[n + 1:]:
            stripped = following.lstrip(" ")
            if not stripped or stripped.startswith("#"):
                continue
            col = len(following) - len(stripped)
            if col < key_col or (col == key_col and not stripped.startswith("- ")):
                break
            if stripped.startswith("- "):
                content = len(stripped) - len(stripped[1:].lstrip(" ")) + col
                sequences[(content - key_col, col - key_col)] += 1
            else:
                mappings[col - key_col] += 1
            break
    mapping = mappings.most_common(1)[0][0] if mappings else 2
    sequence, offset = sequences.most_common(1)[0][0] if sequences else (mapping + 2, mapping)
    return mapping, max(sequence, offset + 2), offset


def _new_yaml(text: str) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1_000_000  # never re-wrap a line
    yaml.brace_single_entry_mapping_in_flow_sequence = True
    mapping, sequence, offset = detect_indent(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    first = next((ln for ln in text.split("\n") if ln.strip() and not ln.startswith("#")), "")
    yaml.explicit_start = first.rstrip() == "---" or first.startswith("--- ")
    return yaml


class _Doc:
    """A codebook file loaded for editing; :meth:`render` gives the edited text."""

    def __init__(self, raw: bytes) -> None:
        self.bom = raw.startswith(codecs.BOM_UTF8)
        text = raw.decode("utf-8-sig")
        self.crlf = "\r\n" in text
        self.text = text.replace("\r\n", "\n")
        self.yaml = _new_yaml(self.text)
        self.root: Any = self.yaml.load(self.text)
        _gather(self.root)
        self.canonical = self._dump(self.root)  # the file as ruamel writes it, before the edit

    def _dump(self, data: Any) -> str:
        out = io.StringIO()
        self.yaml.dump(data, out)
        return out.getvalue()

    def render(self) -> str:
        """The edited document (with ``\\n`` line ends), the lines the edit did not touch kept
        as they were."""
        canonical_new = self._dump(self.root)
        padded = len(re.findall(r"\{ \S", self.text)) > len(re.findall(r"\{[^\s}]", self.text))
        return _reconcile(self.text, self.canonical, canonical_new, pad_braces=padded)

    def encode(self, text: str) -> bytes:
        if self.crlf:
            text = text.replace("\n", "\r\n")
        return (codecs.BOM_UTF8 if self.bom else b"") + text.encode("utf-8")


def _reconcile(original: str, old: str, new: str, *, pad_braces: bool = False) -> str:
    """``new`` (ruamel's output after the edit), with lines taken from ``original`` wherever
    ruamel's output before the edit (``old``) and after it agree.

    ruamel's output keeps one line per line of the file, so line ``i`` of ``old`` is line ``i``
    of ``original`` as ruamel writes it. Changed lines are patched into the original line when
    the change falls on text both share (a renamed id in a ``{ id: …, parent: … }`` line), and
    moved lines are found again by their content. If anything does not line up, or the result
    does not mean the same as ``new``, ``new`` is returned as it is. With ``pad_braces``, new
    lines write flow mappings as ``{ a: 1 }``, like the rest of the file.
    """
    o_lines = original.splitlines(keepends=True)
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    if len(o_lines) != len(a):
        return new
    if o_lines and not o_lines[-1].endswith("\n"):
        o_lines[-1] += "\n"
    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    pool: dict[str, list[int]] = {}
    for tag, i1, i2, _j1, _j2 in opcodes:
        if tag != "equal":
            for i in range(i1, i2):
                pool.setdefault(a[i].strip(), []).append(i)
    used: set[int] = set()
    out: list[str] = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            out.extend(o_lines[i1:i2])
            continue
        for j in range(j1, j2):
            partner = None
            for i in pool.get(b[j].strip(), []):
                if i not in used:
                    partner = i
                    break
            if partner is None and tag == "replace" and i2 - i1 == j2 - j1:
                candidate = i1 + (j - j1)
                if candidate not in used:
                    partner = candidate
            if partner is None:
                out.append(_pad_braces(b[j]) if pad_braces else b[j])
                continue
            used.add(partner)
            out.append(_splice(a[partner], b[j], o_lines[partner]))
    result = "".join(out)
    if result == new:
        return new
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when there
    try:
        same = yaml.load(result, Loader=loader) == yaml.load(new, Loader=loader)
    except yaml.YAMLError:
        same = False
    if not same and pad_braces:
        return _reconcile(original, old, new)
    return result if same else new


def _pad_braces(line: str) -> str:
    """``{a: 1}`` → ``{ a: 1 }`` outside quoted text and comments (checked by the caller)."""
    out: list[str] = []
    quote = ""
    for n, ch in enumerate(line):
        if quote:
            if ch == quote and not (quote == '"' and line[n - 1] == "\\"):
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (n == 0 or line[n - 1] in " \t"):
            out.append(line[n:])
            break
        elif ch == "}" and out and out[-1] not in " {":
            out.append(" ")
        out.append(ch)
        if not quote and ch == "{" and line[n + 1:n + 2] not in (" ", "}"):
            out.append(" ")
    return "".join(out)


def _splice(a: str, b: str, o: str) -> str:
    """Apply the change ``a`` → ``b`` to ``o`` (``a`` as ruamel writes the original line ``o``)."""
    if a == o:
        return b
    blocks = difflib.SequenceMatcher(None, a, o, autojunk=False).get_matching_blocks()

    def where(i: int) -> int | None:  # the position in o of a's character i, if matched
        for x, y, n in blocks:
            if x <= i < x + n:
                return y + i - x
        return None

    edits: list[tuple[int, int, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if i1 > 0 and not a[i1:i2].strip() and not b[j1:j2].strip():
            continue  # padding before an end-of-line comment: o has its own
        if i1 == i2:
            before = where(i1 - 1) if i1 > 0 else None
            at = before + 1 if before is not None else where(i1)
            if at is None:
                return b
            edits.append((at, at, b[j1:j2]))
            continue
        start, last = where(i1), where(i2 - 1)
        if start is None or last is None or last - start != i2 - 1 - i1:
            return b
        edits.append((start, last + 1, b[j1:j2]))
    for start, end, text in sorted(edits, reverse=True):
        o = o[:start] + text + o[end:]
    return o


# --- comments around entries -----------------------------------------------------------------
#
# ruamel keeps a comment (and blank lines) with the node that precedes it: the lines between
# two entries of a list hang on the last value of the first entry; the lines between a key
# ('codes:') and the first item of its list are "pre" comments of that key. (It also keeps some
# at the end of a collection or before an item: _gather moves those to the first place when
# the file is loaded, which writes the same text.) Moving or removing an entry must move those
# lines to where they still mean the same thing.

Slot = tuple[dict[Any, Any], Any, int]  # (ca.items, key or index, position in the row)


def _is_block(node: Any) -> bool:
    return isinstance(node, CommentedMap | CommentedSeq) and len(node) > 0 and \
        not node.fa.flow_style()


def _trail_slot(node: Any) -> Slot:
    """Where the lines after ``node`` (a non-empty block mapping or list) are kept."""
    while True:
        if isinstance(node, CommentedMap):
            key = list(node)[-1]
            if _is_block(node[key]):
                node = node[key]
                continue
            return node.ca.items, key, 2
        index = len(node) - 1
        if _is_block(node[index]):
            node = node[index]
            continue
        return node.ca.items, index, 0


def _slot_text(slot: Slot) -> str:
    items, key, pos = slot
    row = items.get(key)
    token = row[pos] if row is not None and len(row) > pos else None
    return token.value if isinstance(token, CommentToken) else ""


def _set_slot_text(slot: Slot, text: str) -> None:
    items, key, pos = slot
    row = items.setdefault(key, [None, None, None, None])
    if text in ("", "\n"):
        row[pos] = None
        return
    token = row[pos]
    if isinstance(token, CommentToken):
        token.value = text
    else:
        row[pos] = CommentToken(text, CommentMark(0), None)


def _split(text: str) -> tuple[str, str]:
    """A trailing comment's text → (its end-of-line part, the whole lines after it)."""
    if not text:
        return "", ""
    cut = text.find("\n") + 1 if "\n" in text else len(text)
    return text[:cut], text[cut:]


def _item_slot(seq: Any, index: int) -> Slot:
    """Where the lines after item ``index`` of a block list are kept."""
    item = seq[index]
    return _trail_slot(item) if _is_block(item) else (seq.ca.items, index, 0)


def _take(slot: Slot) -> str:
    """Remove and return the whole lines (blank or comment) kept in ``slot``."""
    eol, rest = _split(_slot_text(slot))
    _set_slot_text(slot, eol)
    return rest


def _give(slot: Slot, rest: str) -> None:
    """Append whole lines to ``slot``."""
    if rest:
        eol, old_rest = _split(_slot_text(slot))
        _set_slot_text(slot, (eol or "\n") + old_rest + rest)


def _take_rest(node: Any) -> str:
    """Remove and return the whole lines that follow ``node`` (a block mapping or list)."""
    return _take(_trail_slot(node)) if _is_block(node) else ""


def _add_rest(node: Any, rest: str) -> None:
    if rest:
        _give(_trail_slot(node), rest)


def _tokens_text(tokens: list[Any]) -> str:
    """Whole-line comment tokens (their column apart) as text."""
    out = []
    for token in tokens:
        value = token.value
        out.append(value if value.startswith("\n") or not value.strip()
                   else " " * token.start_mark.column + value)
    return "".join(out)


def _gather(node: Any) -> None:
    """Keep the lines between entries in one place: ruamel keeps some at the end of a
    collection (after a last value such as ``codes: []``) or before a list item; move them to
    the trailing slot of the value before them, where the edits look for them."""
    if not isinstance(node, CommentedMap | CommentedSeq):
        return
    for child in node.values() if isinstance(node, CommentedMap) else node:
        _gather(child)
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            row = value.ca.items.get(0) if _is_block(value) and \
                isinstance(value, CommentedSeq) else None
            if row is not None and len(row) > 1 and row[1]:
                text = _tokens_text(row[1])
                row[1] = None
                _set_pre_text(node, key, _pre_text(node, key) + text)
    elif _is_block(node):
        for index in range(1, len(node)):
            row = node.ca.items.get(index)
            if row is not None and len(row) > 1 and row[1]:
                text = _tokens_text(row[1])
                row[1] = None
                _give(_item_slot(node, index - 1), text)
    if node.ca.end and _is_block(node):
        text = _tokens_text(node.ca.end)
        node.ca.end = []
        _add_rest(node, text)


def _pre_text(owner: Any, key: Any) -> str:
    """The lines between ``key:`` and the first item of its list, as text."""
    row = owner.ca.items.get(key)
    return _tokens_text(row[3] if row is not None and len(row) > 3 and row[3] else [])


def _set_pre_text(owner: Any, key: Any, text: str) -> None:
    row = owner.ca.items.setdefault(key, [None, None, None, None])
    while len(row) < 4:
        row.append(None)
    tokens = []
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip(" ")
        if stripped.strip():
            tokens.append(CommentToken(stripped, CommentMark(len(line) - len(stripped)), None))
        else:
            tokens.append(CommentToken("\n", CommentMark(0), None))
    if isinstance(row[3], list):
        row[3][:] = tokens  # the list may also be the sequence's own start comment
    if not tokens:
        row[3] = None  # an empty list would still count as a comment when writing
        seq = owner.get(key)
        if isinstance(seq, CommentedSeq) and seq.ca.comment:
            seq.ca.comment[1] = None
    elif not isinstance(row[3], list):
        row[3] = tokens


def _split_leading(gap: str) -> tuple[str, str]:
    """The lines before an entry → (lines that stay, the comment lines right above it)."""
    lines = gap.splitlines(keepends=True)
    n = len(lines)
    while n > 0 and lines[n - 1].strip().startswith("#"):
        n -= 1
    return "".join(lines[:n]), "".join(lines[n:])


def _join_gaps(first: str, second: str) -> str:
    """Two runs of blank and comment lines made adjacent: one blank line between, not two."""
    if second.startswith("\n") or not second:
        first = first.rstrip("\n") + "\n" if first.strip() else ""
    return first + second


def _shift(text: str, delta: int) -> str:
    if delta == 0:
        return text
    out = []
    for line in text.splitlines(keepends=True):
        if line.strip():
            stripped = line.lstrip(" ")
            line = " " * max(0, len(line) - len(stripped) + delta) + stripped
        out.append(line)
    return "".join(out)


def _shift_comments(node: Any, delta: int) -> None:
    """Re-indent the comments inside a moved entry by ``delta`` columns."""
    if delta == 0:
        return
    seen: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if not isinstance(current, CommentedMap | CommentedSeq):
            continue
        rows = list(current.ca.items.values())
        if current.ca.comment:
            rows.append(current.ca.comment)
        for row in rows:
            for cell in row:
                for token in cell if isinstance(cell, list) else [cell]:
                    if not isinstance(token, CommentToken) or id(token) in seen:
                        continue
                    seen.add(id(token))
                    value = token.value
                    if value.startswith("#"):
                        column = getattr(token.start_mark, "column", 0)
                        token.start_mark = CommentMark(  # type: ignore[assignment]
                            max(0, column + delta))
                    eol, rest = _split(value)
                    token.value = eol + _shift(rest, delta)
        stack.extend(current.values() if isinstance(current, CommentedMap) else current)


# --- entries in the document -----------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    node: CommentedMap
    owner: Any  # the mapping whose key holds the list the entry is in
    key: str  # 'themes' or 'codes'
    flat: bool  # an item of the top-level flat 'codes:' list

    @property
    def seq(self) -> Any:
        return self.owner[self.key]

    @property
    def index(self) -> int:
        return next(i for i, item in enumerate(self.seq) if item is self.node)


def _entries(root: Any) -> dict[str, _Entry]:
    """Every entry of the document by id (the document is a valid codebook)."""
    out: dict[str, _Entry] = {}

    def visit(owner: Any, key: str, flat: bool) -> None:
        items = owner.get(key)
        if not isinstance(items, CommentedSeq):
            return
        for item in items:
            if isinstance(item, CommentedMap) and item.get("id") is not None:
                out[str(item["id"]).strip()] = _Entry(item, owner, key, flat)
                visit(item, "codes", False)

    if isinstance(root, CommentedMap):
        visit(root, "themes", False)
        visit(root, "codes", True)
    return out


class _Editor:
    """The edits, on the ruamel tree, keeping comments where they belong."""

    def __init__(self, doc: _Doc, book: Codebook) -> None:
        self.doc = doc
        self.book = book
        self.root: Any = doc.root
        self.entries = _entries(self.root)
        self.sequence = doc.yaml.sequence_indent or 4  # an item's keys, from its list's key

    def entry(self, code_id: str) -> _Entry:
        return self.entries[code_id]

    def column(self, node: Any) -> int:
        """Column of a mapping's keys (0 for the top level)."""
        if node is self.root:
            return 0
        lc = getattr(node, "lc", None)
        return int(lc.col) if lc is not None and lc.col is not None else 0

    def detach(self, entry: _Entry, *, keep_leading: bool) -> _Carried:
        """Take ``entry`` out of its list, with the comment lines right above it when kept.

        The lines that were between it and its neighbours stay where they were.
        """
        seq, index, owner, key = entry.seq, entry.index, entry.owner, entry.key
        carried = _Carried(column=self.column(entry.node))
        after = _take(_item_slot(seq, index))
        if not _is_block(entry.node):  # '- { id: … }   # comment': the comment goes along
            row = seq.ca.items.get(index)
            carried.eol = row[0] if row is not None and isinstance(row[0], CommentToken) \
                else None
        before = _take(_item_slot(seq, index - 1)) if index > 0 else _pre_text(owner, key)
        stay, carried.leading = _split_leading(before) if keep_leading else (before, "")
        gap = _join_gaps(stay, after) if after else stay
        del seq[index]
        if index > 0:
            _give(_item_slot(seq, index - 1), gap)
        elif len(seq):
            _set_pre_text(owner, key, gap.lstrip("\n"))  # no blank line right after 'key:'
        else:
            _set_pre_text(owner, key, "")
            position = list(owner).index(key)
            del owner[key]
            if position > 0:
                previous = list(owner)[position - 1]
                _give(_trail_slot(owner[previous]) if _is_block(owner[previous])
                      else (owner.ca.items, previous, 2), gap)
            elif len(owner):
                _add_rest(owner, gap)
        return carried

    def attach(self, node: CommentedMap, owner: Any, key: str,
               carried: _Carried | None = None) -> None:
        """Append ``node`` to the list ``owner[key]`` (created when missing)."""
        carried = carried or _Carried()
        leading = carried.leading
        if carried.column is not None:
            delta = self.column(owner) + self.sequence - carried.column
            _shift_comments(node, delta)
            leading = _shift(leading, delta)
            if carried.eol is not None:
                column = getattr(carried.eol.start_mark, "column", 0)
                carried.eol.start_mark = CommentMark(  # type: ignore[assignment]
                    max(0, column + delta))
        # the lines after the owner follow its new last entry
        at_end = owner is not self.root and (key not in owner or list(owner)[-1] == key)
        owner_rest = _take_rest(owner) if at_end else ""
        seq = owner.get(key)
        if not isinstance(seq, CommentedSeq):
            seq = CommentedSeq()
            owner[key] = seq
        if seq.fa.flow_style():
            seq.fa.set_block_style()
        last = len(seq) - 1
        rest = _take(_item_slot(seq, last)) if last >= 0 else ""
        blank = any(_split(_slot_text(_item_slot(seq, i)))[1].startswith("\n")
                    for i in range(last))
        seq.append(node)
        if carried.eol is not None:
            seq.ca.items[last + 1] = [carried.eol, None, None, None]
        if last >= 0:  # siblings apart by a blank line: this one too
            _give(_item_slot(seq, last), ("\n" if blank else "") + leading)
            _give(_item_slot(seq, last + 1), rest)
        else:
            _set_pre_text(owner, key, leading)
        if at_end:
            _add_rest(owner, owner_rest)

    def place(self, node: CommentedMap, parent: str | None,
              carried: _Carried | None = None) -> None:
        """Put ``node`` under ``parent`` (a theme at the top level when ``None``)."""
        if parent is None:
            node.pop("parent", None)
            if "themes" in self.root or "codes" not in self.root:
                self.attach(node, self.root, "themes", carried)
            else:
                self.attach(node, self.root, "codes", carried)
            return
        target = self.entries[parent]
        if isinstance(target.node.get("codes"), CommentedSeq) or not target.flat:
            node.pop("parent", None)
            self.attach(node, target.node, "codes", carried)
        else:
            _set_key(node, "parent", parent, after=("label", "id"))
            self.attach(node, self.root, "codes", carried)


@dataclass(slots=True)
class _Carried:
    """What goes along with an entry that moves: the comment lines right above it, its
    end-of-line comment when it is written on one line, and its old column."""

    leading: str = ""
    eol: CommentToken | None = None
    column: int | None = None


def _text(value: str) -> str:
    """``value`` as a scalar that reads back as this text, also for PyYAML (YAML 1.1, which
    qcode loads with): ``on``, ``no`` or ``1_000`` are quoted."""
    import yaml

    if isinstance(value, ScalarString):
        return value
    try:
        plain = yaml.safe_load(f"k: {value}")
    except yaml.YAMLError:
        return value  # not writable plain: ruamel quotes it
    if isinstance(plain, dict) and isinstance(plain.get("k"), str) and plain["k"] == value:
        return value
    quoted: str = SingleQuotedScalarString(value)
    return quoted


def _set_key(node: CommentedMap, key: str, value: Any, *, after: tuple[str, ...] = (),
             before: str | None = None) -> None:
    """Set ``node[key]``, keeping the scalar's quoting. A new key goes after the first of
    ``after`` that the entry has, or else before ``before``, or else last."""
    if isinstance(value, str):
        value = _text(value)
    if key in node:
        old = node[key]
        if isinstance(old, ScalarString) and isinstance(value, str) and \
                not isinstance(value, ScalarString):
            value = type(old)(value)
        node[key] = value
        return
    keys = list(node)
    position = len(keys)
    for name in after:
        if name in keys:
            position = keys.index(name) + 1
            break
    else:
        if before in keys:
            position = keys.index(before)
    node.insert(position, key, value)


@contextmanager
def _keeping_trail(node: Any) -> Iterator[None]:
    """Mutate ``node``; the lines that followed it still follow it afterwards."""
    rest = _take_rest(node)
    yield
    _add_rest(node, rest)


def _style_of(root: Any) -> tuple[bool, type[str]]:
    """(keyword lists in flow style?, the colour's quoting) as most entries of the file have."""
    flow = block = 0
    quotes: Counter[type[str]] = Counter()
    for entry in _entries(root).values():
        keywords = entry.node.get("keywords")
        if isinstance(keywords, CommentedSeq) and len(keywords):
            if keywords.fa.flow_style():
                flow += 1
            else:
                block += 1
        color = entry.node.get("color")
        if isinstance(color, str):
            quotes[type(color)] += 1
    quote = quotes.most_common(1)[0][0] if quotes else DoubleQuotedScalarString
    if not issubclass(quote, ScalarString):  # plain colours would start a comment
        quote = DoubleQuotedScalarString
    return flow > block, quote


# --- the edits -------------------------------------------------------------------------------

Counts = dict[str, int]


@dataclass(slots=True)
class _Plan:
    """An edit made on the tree: what the store must do, what the result must look like."""

    describe: Callable[[Counts, bool], str]  # (counts, dry_run) → the message
    store: Callable[[Connection], Counts] = lambda _conn: {}
    check: Callable[[Codebook], bool] = lambda _book: True
    noop: str | None = None  # the message when there is nothing to do


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _check_id(code_id: str) -> None:
    if not ID_RE.match(code_id):
        raise UsageError(f"invalid id {code_id!r}",
                         hint="use letters (accents allowed), digits, '-', '_' or '.'")


def _unused_id(book: Codebook, code_id: str) -> None:
    if code_id in book.codes:
        other = book.codes[code_id]
        raise EditError(f"id {code_id!r} is already used by {other.label!r} (line {other.line})",
                        path=book.path, hint="choose another id")


def _stray_codings(store: Store, book: Codebook, code_id: str) -> int:
    """Codings that use ``code_id`` although the codebook has no such code (orphans)."""
    if code_id in book.codes:
        return 0
    with store.read() as conn:
        return q.coding_counts(conn).get(code_id, 0)


def add_code(project: Project, store: Store, code_id: str, label: str, *,
             parent: str | None = None, description: str | None = None,
             key: str | None = None, color: str | None = None,
             keywords: list[str] | None = None, unit: str | None = None,
             dry_run: bool = False) -> EditResult:
    """Add a code under ``parent`` (named by id, label or key), or a theme without one."""
    code_id = code_id.strip()
    _check_id(code_id)
    if not label.strip():
        raise UsageError("the label is empty", hint="give the code a label people can read")
    if color is not None and not COLOR_RE.match(color):
        raise UsageError(f"invalid colour {color!r}", hint="write it as #RRGGBB, e.g. #4E79A7")
    if key is not None and not KEY_RE.match(key):
        raise UsageError(f"invalid key {key!r}", hint="use one or two letters, e.g. 'gb'")
    if unit is not None and unit not in UNITS:
        raise UsageError(f"invalid unit {unit!r}", hint=f"use one of {', '.join(UNITS)}")
    for word in keywords or []:
        if not fold(word):
            raise UsageError(f"keyword {word!r} normalises to nothing",
                             hint="write a word or phrase, not only punctuation or spaces")

    def edit(ed: _Editor) -> _Plan:
        book = ed.book
        _unused_id(book, code_id)
        if key is not None:
            for other in book.codes.values():
                if other.key is not None and other.key.casefold() == key.casefold():
                    raise EditError(f"key {key!r} is already the key of {other.id!r}",
                                    path=book.path, hint="choose another key")
        parent_id = book.resolve(parent).id if parent is not None else None
        flow, quote = _style_of(ed.root)
        node = CommentedMap()
        node["id"] = _text(code_id)
        node["label"] = _text(label.strip())
        if description:
            node["description"] = _text(description.strip())
        if color is not None:
            node["color"] = quote(color.upper())
        if key is not None:
            node["key"] = _text(key)
        if unit is not None:
            node["unit"] = unit
        if keywords:
            seq = CommentedSeq([_text(word) for word in keywords])
            if flow:
                seq.fa.set_flow_style()
            node["keywords"] = seq
        ed.place(node, parent_id)
        adopted = _stray_codings(store, book, code_id)
        where = f"under {parent_id!r}" if parent_id is not None else "as a theme"
        note = (f" (it takes back the {_plural(adopted, 'coding')} kept from the removed "
                f"code {code_id!r})") if adopted else ""
        return _Plan(
            describe=lambda _c, dry: f"{'would add' if dry else 'added'} {code_id!r} "
                                     f"{where}{note}",
            check=lambda new: code_id in new.codes and new.codes[code_id].parent == parent_id)

    return _run(project, store, "add", edit, dry_run)


def rename_code(project: Project, store: Store, old: str, new: str, *,
                label: str | None = None, dry_run: bool = False) -> EditResult:
    """Change a code's id (and label): the entry, the flat ``parent:`` references, the codings."""
    new = new.strip()
    _check_id(new)
    if label is not None and not label.strip():
        raise UsageError("the label is empty", hint="give the code a label people can read")

    def edit(ed: _Editor) -> _Plan:
        book = ed.book
        code = book.resolve(old)
        source = code.id
        if new == source and (label is None or label.strip() == code.label):
            return _Plan(describe=lambda _c, _d: "", noop=f"{source!r} already has that id"
                         + (" and label" if label is not None else ""))
        if new != source:
            _unused_id(book, new)
            stray = _stray_codings(store, book, new)
            if stray:
                raise EditError(
                    f"{_plural(stray, 'coding')} still {'uses' if stray == 1 else 'use'} the id "
                    f"{new!r} (of a code no longer in the codebook)", path=book.path,
                    hint="choose another id, or put that code back and merge into it")
        entry = ed.entry(source)
        _set_key(entry.node, "id", new)
        if label is not None:
            _set_key(entry.node, "label", label.strip())
        for other in ed.entries.values():
            if str(other.node.get("parent", "")).strip() == source:
                _set_key(other.node, "parent", new)
        children = list(code.children)

        def store_step(conn: Connection) -> Counts:
            return {"moved": q.recode(conn, source, new) if new != source else 0}

        def describe(counts: Counts, dry: bool) -> str:
            relabel = f" (label {label.strip()!r})" if label is not None else ""
            if new == source:  # only the label changes
                return (f"{'would relabel' if dry else 'relabelled'} {source!r}: "
                        f"{code.label!r} → {str(label).strip()!r}")
            return (f"{'would rename' if dry else 'renamed'} {source!r} to {new!r}{relabel}: "
                    f"{_plural(counts['moved'], 'coding')} {'would move' if dry else 'moved'}")

        return _Plan(
            describe=describe, store=store_step,
            check=lambda nb: new in nb.codes and (new == source or source not in nb.codes)
            and nb.codes[new].parent == code.parent and nb.codes[new].children == children)

    return _run(project, store, "rename", edit, dry_run)


def _keyword_identity(item: Any) -> tuple[str, str] | None:
    if isinstance(item, dict):
        if "regex" in item:
            return ("regex", str(item["regex"]))
        return ("term", fold(str(item.get("term", ""))))
    if isinstance(item, str | int | float) and not isinstance(item, bool):
        return ("term", fold(str(item)))
    return None


def _vetoes(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


def _merge_keywords(ed: _Editor, source: Code, target: Code) -> tuple[int, int]:
    """Append the source's keywords to the target's, skipping ones it has; (added, skipped).

    A keyword keeps its meaning: when the two entries' defaults (``exact``, ``fuzzy``,
    ``not``) differ, the moved keyword is written as a mapping with its own options.
    """
    src = ed.entry(source.id).node
    dst = ed.entry(target.id).node
    items = src.get("keywords")
    if not isinstance(items, CommentedSeq) or not len(items):
        return 0, 0
    have = {_keyword_identity(item) for item in dst.get("keywords") or []}
    t_exact = dst.get("exact", False)
    t_fuzzy = dst.get("fuzzy", 0)
    t_not = _vetoes(dst.get("not"))
    moved: list[Any] = []
    skipped = 0
    for n, item in enumerate(list(items)):
        identity = _keyword_identity(item)
        if identity is None or identity in have:
            skipped += 1
            continue
        have.add(identity)
        kw = source.keywords[n] if n < len(source.keywords) else None
        own: Any = item if isinstance(item, dict) else {}
        exact = own.get("exact", t_exact)  # what the keyword would mean under the target
        fuzzy = own.get("fuzzy", t_fuzzy)
        vetoes = [*t_not, *_vetoes(own.get("not"))]
        extra = [v for v in kw.vetoes if v not in vetoes] if kw is not None else []
        if kw is not None and kw.regex is not None:  # exact and fuzzy apply to terms only
            exact, fuzzy = kw.exact, kw.fuzzy
        if kw is None or (exact == kw.exact and fuzzy == kw.fuzzy and not extra):
            moved.append(item)
            continue
        mapping = item if isinstance(item, CommentedMap) else CommentedMap(term=item)
        if not isinstance(item, CommentedMap):
            mapping.fa.set_flow_style()
        if exact != kw.exact:
            mapping["exact"] = kw.exact
        if fuzzy != kw.fuzzy:
            mapping["fuzzy"] = kw.fuzzy
        if extra:
            seq = CommentedSeq([*_vetoes(own.get("not")), *extra])
            seq.fa.set_flow_style()
            mapping["not"] = seq
        moved.append(mapping)
    if moved:
        with _keeping_trail(dst):
            target_list = dst.get("keywords")
            if not isinstance(target_list, CommentedSeq):
                target_list = CommentedSeq()
                if items.fa.flow_style():
                    target_list.fa.set_flow_style()
                _set_key(dst, "keywords", target_list, before="codes")
            with _keeping_trail(target_list):
                target_list.extend(moved)
    return len(moved), skipped


def merge_codes(project: Project, store: Store, source: str, target: str, *,
                dry_run: bool = False) -> EditResult:
    """Merge ``source`` into ``target``: its codings (deduplicated), sub-codes and keywords."""

    def edit(ed: _Editor) -> _Plan:
        book = ed.book
        src, dst = book.resolve(source), book.resolve(target)
        if src.id == dst.id:
            raise EditError(f"cannot merge {src.id!r} into itself", path=book.path)
        if dst.id in book.descendants(src.id):
            raise EditError(f"cannot merge {src.id!r} into {dst.id!r}, one of its own sub-codes",
                            path=book.path, hint=f"move {dst.id!r} out of it first")
        with store.read() as conn:
            counts = q.coding_counts(conn)
        if counts.get(src.id) and not dst.codable:
            raise EditError(
                f"cannot merge {src.id!r} into {dst.id!r}: {dst.id!r} cannot be coded (a theme) "
                f"and {_plural(counts[src.id], 'coding')} would move to it", path=book.path,
                hint=f"merge into one of its codes, or set 'codable: true' on {dst.id!r}")
        added, _skipped = _merge_keywords(ed, src, dst)
        entry = ed.entry(src.id)
        children = entry.node.get("codes")
        nested = list(children) if isinstance(children, CommentedSeq) else []
        for child in nested:
            carried = ed.detach(_Entry(child, entry.node, "codes", False), keep_leading=True)
            ed.place(child, dst.id, carried)
        for other in ed.entries.values():
            if other.flat and str(other.node.get("parent", "")).strip() == src.id:
                _set_key(other.node, "parent", dst.id)
        ed.detach(entry, keep_leading=False)
        sub_codes = list(src.children)

        def store_step(conn: Connection) -> Counts:
            before = q.coding_counts(conn).get(dst.id, 0)
            moved = q.recode(conn, src.id, dst.id)
            after = q.coding_counts(conn).get(dst.id, 0)
            return {"moved": moved, "dropped": moved - (after - before)}

        def describe(c: Counts, dry: bool) -> str:
            parts = [f"{_plural(c['moved'], 'coding')} {'would move' if dry else 'moved'}"
                     + (f" ({_plural(c['dropped'], 'duplicate')} dropped)" if c["dropped"]
                        else "")]
            if sub_codes:
                parts.append(f"{_plural(len(sub_codes), 'sub-code')} "
                             f"{'would move' if dry else 'moved'}")
            if added:
                parts.append(f"{_plural(added, 'keyword')} {'would be added' if dry else 'added'}")
            return (f"{'would merge' if dry else 'merged'} {src.id!r} into {dst.id!r}: "
                    + ", ".join(parts))

        return _Plan(
            describe=describe, store=store_step,
            check=lambda nb: src.id not in nb.codes and dst.id in nb.codes
            and all(nb.codes[c].parent == dst.id for c in sub_codes if c in nb.codes)
            and all(c in nb.codes for c in sub_codes))

    return _run(project, store, "merge", edit, dry_run)


def move_code(project: Project, store: Store, code: str, to: str | None, *,
              dry_run: bool = False) -> EditResult:
    """Move a code and its sub-codes under ``to`` (named by id, label or key), or to the top
    level as a theme when ``to`` is ``None``. Whether it can be coded does not change."""
    return _run(project, store, "move", _move(code, to), dry_run)


def _move(code: str, to: str | None) -> Callable[[_Editor], _Plan]:
    """The move on the tree (it needs no store)."""

    def edit(ed: _Editor) -> _Plan:
        book = ed.book
        moving = book.resolve(code)
        parent = book.resolve(to).id if to is not None else None
        if parent == moving.id:
            raise EditError(f"cannot move {moving.id!r} under itself", path=book.path)
        if parent is not None and parent in book.descendants(moving.id):
            raise EditError(f"cannot move {moving.id!r} under {parent!r}, one of its own "
                            "sub-codes", path=book.path, hint=f"move {parent!r} out of it first")
        where = f"under {parent!r}" if parent is not None else "to the top level (a theme)"
        if moving.parent == parent:
            return _Plan(describe=lambda _c, _d: "", noop=f"{moving.id!r} is already "
                         + (f"under {parent!r}" if parent is not None else "a theme"))
        entry = ed.entry(moving.id)
        node = entry.node
        note = ""
        if "codable" not in node and (moving.depth > 0) != (parent is not None):
            # themes default to 'codable: false', codes to 'true': a move keeps it as it was
            with _keeping_trail(node):
                _set_key(node, "codable", moving.codable,
                         after=("color", "description", "label", "id"))
            note = f" (kept 'codable: {str(moving.codable).lower()}')"
        if entry.flat:  # an item of the flat list: only its 'parent:' changes
            with _keeping_trail(node):
                if parent is None:
                    node.pop("parent", None)
                else:
                    _set_key(node, "parent", parent, after=("label", "id"))
        else:
            ed.place(node, parent, ed.detach(entry, keep_leading=True))
        return _Plan(
            describe=lambda _c, dry: f"{'would move' if dry else 'moved'} {moving.id!r} "
                                     f"{where}{note}",
            check=lambda nb: moving.id in nb.codes and nb.codes[moving.id].parent == parent)

    return edit


# --- one step: check, then store and file together -------------------------------------------


class _Rollback(Exception):
    """Raised inside a dry run's transaction so that it rolls back."""


def _run(project: Project, store: Store, action: str, edit: Callable[[_Editor], _Plan],
         dry_run: bool) -> EditResult:
    path = project.root / project.codebook
    report: SyncReport | None = None
    if dry_run:
        book = load_valid(path)  # a dry run changes nothing, not even the synced state
    else:
        book, report = open_synced(project, store)
    raw = path.read_bytes()
    if digest_of(raw) != book.digest:
        raise EditError("the codebook changed while qcode was reading it", path=path,
                        hint="run the command again")
    try:
        doc = _Doc(raw)
    except YAMLError as exc:  # PyYAML let it through (a repeated key, say); ruamel does not
        mark = getattr(exc, "problem_mark", None)
        raise ValidationError(
            f"cannot edit the codebook: {getattr(exc, 'problem', None) or exc}", path=path,
            line=mark.line + 1 if mark is not None else None,
            column=mark.column + 1 if mark is not None else None) from None
    plan = edit(_Editor(doc, book))
    if plan.noop is not None:
        return EditResult(action, f"nothing to do: {plan.noop}", path, doc.text, doc.text,
                          dry_run, sync=report)
    new_text = doc.render()
    new_raw = doc.encode(new_text)
    result = EditResult(action, "", path, doc.text, new_text, dry_run, sync=report)
    tmp = _write_temp(path, new_raw)
    try:
        new_book = load(tmp)
        new_book.path = path
        for problem in new_book.problems:
            problem.path = f"{path} (after the edit)"
        if new_book.errors:
            raise ValidationError(
                f"the edit would leave {_plural(len(new_book.errors), 'error')} in the "
                "codebook; nothing was changed",
                problems=[str(p) for p in new_book.errors], path=path)
        if not plan.check(new_book):
            raise EditError(f"the {action} did not give the expected codebook (a bug in qcode); "
                            "nothing was changed", path=path)
        old_warnings = {_unlined(p.message) for p in book.warnings}
        result.warnings = [str(p) for p in new_book.warnings
                           if _unlined(p.message) not in old_warnings]
        counts = _apply(store, path, raw, tmp, new_book, plan, dry_run)
    finally:
        tmp.unlink(missing_ok=True)
    result.codings_moved = counts.get("moved", 0)
    result.duplicates_dropped = counts.get("dropped", 0)
    result.message = plan.describe(counts, dry_run)
    return result


def _unlined(message: str) -> str:
    return re.sub(r"\(line \d+\)", "", message)


def _write_temp(path: Path, data: bytes) -> Path:
    """``data`` in a new file next to ``path``, with ``path``'s permissions."""
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise EditError(f"cannot write next to the codebook: {exc.strerror}", path=path) from None
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EditError(f"cannot write next to the codebook: {exc.strerror}", path=path) from None
    return tmp


def _apply(store: Store, path: Path, raw: bytes, tmp: Path, new_book: Codebook, plan: _Plan,
           dry_run: bool) -> Counts:
    """Update the store and replace the file in one transaction (rolled back on a dry run)."""
    counts: Counts = {}
    replaced = False
    try:
        with store.write() as conn:
            counts = plan.store(conn)
            mark_synced(conn, new_book)
            if dry_run:
                raise _Rollback
            try:
                if path.read_bytes() != raw:
                    raise EditError("the codebook changed while qcode was editing it; nothing "
                                    "was changed", path=path, hint="run the command again")
                os.replace(tmp, path)
            except OSError as exc:
                raise EditError(f"cannot write the codebook: {exc.strerror}; nothing was "
                                "changed", path=path) from None
            replaced = True
    except _Rollback:
        pass
    except BaseException:
        if replaced:  # the commit failed after the file was replaced: put the file back
            _restore(path, raw)
        raise
    return counts


def _restore(path: Path, raw: bytes) -> None:
    try:
        back = _write_temp(path, raw)
        os.replace(back, path)
    except (OSError, QcodeError):
        pass
