"""YAML loading that keeps line and column numbers, so problems can name their place.

Every YAML document qcode reads (``qcode.yaml``, codebooks, a transcript's front matter) is
parsed safely — no Python tags — and checked, event by event before anything is built, against
fixed bounds that no real document comes near: nesting deeper than :data:`MAX_DEPTH` levels
(LibYAML's composer would overflow the C stack), more than :data:`MAX_ALIASES` aliases, aliases
that expand to more than :data:`MAX_ALIAS_NODES` nodes (a "billion laughs" document: PyYAML
shares, but every reader of the data walks the expansion), and an alias used inside its own
anchor (a recursive document). Such a document is refused with one error naming the line and
column. The bounds are not settings: ``qcode.yaml`` itself is read with them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from qcode.errors import ValidationError

YamlPath = tuple[str | int, ...]

# LibYAML's parser when PyYAML was built with it (15× faster on a large codebook); the nodes
# carry the same line and column marks.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_DEPTH = 200  # nested mappings and sequences (a codebook of 50 levels of codes needs ~100)
MAX_ALIASES = 10_000  # alias references (``*name``) in one document
MAX_ALIAS_NODES = 100_000  # nodes the aliases add once expanded


class YamlLimitError(yaml.MarkedYAMLError):
    """A document refused for its shape (too deep, too many aliases, recursive), not its syntax."""


def _refuse(problem: str, event: yaml.Event) -> YamlLimitError:
    mark = event.start_mark  # LibYAML's marks have the same line and column
    return YamlLimitError(problem=problem, problem_mark=mark)  # type: ignore[arg-type]


def check_limits(text: str, loader: type[yaml.SafeLoader] = _LOADER) -> None:
    """Raise :class:`YamlLimitError` for a document past the bounds in the module doc (and
    ``yaml.YAMLError`` for a syntax error, as composing it would), before it is composed."""
    stack: list[list[Any]] = []  # [expanded size so far, anchor] of each open collection
    sizes: dict[str, int] = {}  # anchor → expanded size of its node
    aliases = added = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append([1, event.anchor])
            if len(stack) > MAX_DEPTH:
                raise _refuse(f"nested more than {MAX_DEPTH} levels deep", event)
        elif isinstance(event, yaml.CollectionEndEvent):
            size, anchor = stack.pop()
            if anchor is not None:
                sizes[anchor] = size
            if stack:
                stack[-1][0] += size
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                sizes[event.anchor] = 1
            if stack:
                stack[-1][0] += 1
        elif isinstance(event, yaml.AliasEvent):
            anchor = event.anchor
            if any(entry[1] == anchor for entry in stack):
                raise _refuse(f"recursive alias *{anchor}: it is used inside its own anchor",
                              event)
            if anchor not in sizes:
                continue  # composing reports the undefined alias
            aliases += 1
            added += sizes[anchor]
            if aliases > MAX_ALIASES:
                raise _refuse(f"more than {MAX_ALIASES} aliases", event)
            if added > MAX_ALIAS_NODES:
                raise _refuse(f"its aliases expand to more than {MAX_ALIAS_NODES} nodes "
                              "(a 'billion laughs' document?)", event)
            if stack:
                stack[-1][0] += sizes[anchor]


def compose(text: str, loader: type[yaml.SafeLoader] = _LOADER) -> yaml.Node | None:
    """The node graph of ``text`` after :func:`check_limits` (``yaml.YAMLError`` if refused)."""
    check_limits(text, loader)
    node: yaml.Node | None = yaml.compose(text, Loader=loader)
    return node


def safe_load(text: str) -> Any:
    """Like :func:`yaml.safe_load` (the pure-Python parser, for small documents such as front
    matter), with the bounds of :func:`check_limits`."""
    node = compose(text, yaml.SafeLoader)
    if node is None:
        return None
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def render_path(path: YamlPath) -> str:
    """``("speakers", "interviewer", 2)`` → ``speakers.interviewer[2]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


class Marks:
    """1-based (line, column) of every value and every mapping key of a YAML document."""

    def __init__(self) -> None:
        self.values: dict[YamlPath, tuple[int, int]] = {}
        self.keys: dict[YamlPath, tuple[int, int]] = {}

    def value(self, path: YamlPath) -> tuple[int, int]:
        """Where the value at ``path`` starts (or the nearest enclosing node)."""
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, (1, 1))

    def key(self, path: YamlPath) -> tuple[int, int]:
        """Where the key of ``path`` is written (for unknown or misplaced keys)."""
        return self.keys.get(path) or self.value(path)


def load_yaml(text: str, path: str | Path) -> tuple[Any, Marks]:
    """Parse ``text`` safely; return the data and the position of every node."""
    try:
        node = compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        kind = "refused" if isinstance(exc, YamlLimitError) else "invalid"
        raise ValidationError(f"{kind} YAML: {problem}", path=path, line=line,
                              column=column) from None
    marks = Marks()
    if node is None:
        return None, marks
    _collect_marks(node, (), marks)
    loader = yaml.SafeLoader("")
    try:
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ValidationError(f"invalid YAML: {getattr(exc, 'problem', exc)}", path=path,
                              line=mark.line + 1 if mark else None,
                              column=mark.column + 1 if mark else None) from None
    finally:
        loader.dispose()
    return data, marks


def _collect_marks(node: yaml.Node, path: YamlPath, marks: Marks) -> None:
    marks.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            marks.keys[(*path, key)] = (key_node.start_mark.line + 1,
                                        key_node.start_mark.column + 1)
            _collect_marks(value_node, (*path, key), marks)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _collect_marks(item, (*path, i), marks)
