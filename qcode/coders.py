"""Who is coding: ``--coder``, ``QCODE_CODER``, the project's or the user's settings, the OS user.

User settings live in ``$XDG_CONFIG_HOME/qcode/config.yaml`` (``~/.config/qcode/config.yaml``)
with a ``coder:`` line.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from qcode.errors import UsageError
from qcode.project import Project

KEYWORD_CODER = "qcode-keywords"  # the coder of suggestions accepted by the main job


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "qcode" / "config.yaml"


def _user_setting() -> str | None:
    path = user_config_path()
    if not path.is_file():
        return None
    import yaml

    from qcode.yamlutil import safe_load  # bounded: no alias bombs, no deep nesting

    try:
        data = safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    value = data.get("coder") if isinstance(data, dict) else None
    return str(value) if value else None


def resolve_coder(explicit: str | None, project: Project | None) -> str:
    """The coder's name, from the first place that gives one."""
    for candidate in (explicit, os.environ.get("QCODE_CODER"),
                      project.coder if project is not None else None, _user_setting()):
        if candidate is not None and candidate.strip():
            name = candidate.strip()
            if len(name) > 200 or "\n" in name:
                raise UsageError(f"invalid coder name {name[:40]!r}",
                                 hint="use a short name such as 'claire'")
            return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
