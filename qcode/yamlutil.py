"""YAML loading that keeps line and column numbers, so problems can name their place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from qcode.errors import ValidationError

YamlPath = tuple[str | int, ...]


def render_path(path: YamlPath) -> str:
    """``("speakers", "interviewer", 2)`` → ``speakers.interviewer[2]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_yaml(text: str, path: str | Path) -> tuple[Any, dict[YamlPath, tuple[int, int]]]:
    """Parse ``text`` safely; return the data and the 1-based (line, column) of every node."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        raise ValidationError(f"invalid YAML: {problem}", path=path, line=line,
                              column=column) from None
    marks: dict[YamlPath, tuple[int, int]] = {}
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


def _collect_marks(node: yaml.Node, path: YamlPath,
                   marks: dict[YamlPath, tuple[int, int]]) -> None:
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            marks[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _collect_marks(value_node, (*path, key), marks)
            # the key's own position is more useful than the value's for "unknown key"
            marks[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _collect_marks(item, (*path, i), marks)
