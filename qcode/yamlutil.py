"""YAML loading that keeps line and column numbers, so problems can name their place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from qcode.errors import ValidationError

YamlPath = tuple[str | int, ...]

# LibYAML's parser when PyYAML was built with it (15× faster on a large codebook); the nodes
# carry the same line and column marks.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        raise ValidationError(f"invalid YAML: {problem}", path=path, line=line,
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
