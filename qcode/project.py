"""The qcode project: find its root, load and validate ``qcode.yaml``, create a new one.

A project is a folder with a ``qcode.yaml``. Commands find it by walking up from the current
folder (like git), unless ``--project DIR`` or the ``QCODE_PROJECT`` variable names it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qcode.errors import ProjectError, ValidationError
from qcode.ingest.limits import Limits
from qcode.yamlutil import YamlPath, load_yaml, render_path

CONFIG_NAME = "qcode.yaml"
ROLES = ("interviewer", "participant", "other")
UNITS = ("sentence", "turn")

DEFAULT_INTERVIEWER_LABELS = [
    "E", "Enq", "Enq.", "Enquêteur", "Enquêtrice", "Enquêteurs", "Enquêtrices",
    "Interviewer", "Intervieweur", "Intervieweuse", "Q", "I", "Chercheur", "Chercheuse",
]

CONFIG_TEMPLATE = """\
# qcode project settings. Paths are relative to this file.
name: {name}
language: {language}            # picks the language model for keyword suggestions
codebook: codebooks/codebook.yaml
transcripts: transcripts        # folder read by 'qcode ingest' with no arguments
attributes: transcripts/attributes.csv   # one row per transcript id: initiative, role, …
exports: exports
store: .qcode/qcode.db          # a SQLite file in the project
coding_unit: sentence           # default unit of a coding: sentence or turn

# Speaker labels (as written in transcripts, compared without case or accents) and their role.
# Labels not listed are participants, except the transcript's interviewer (attribute sheet).
speakers:
  interviewer: [E, Enq., Enquêteur, Enquêtrice, Interviewer, Q, I]
  other: []
  # per transcript, when a label means something else there:
  # transcripts:
  #   T07: {{SPEAKER_00: interviewer}}

# Files in the transcripts folder that are not transcripts (besides the attribute sheet).
ignore: ["README*", ".*"]

limits:
  max_file_mb: 50           # bigger files are refused
  max_unzipped_mb: 200      # .docx/.odt/.qdpx: total uncompressed size
  max_zip_members: 10000    # files inside one .docx/.odt/.qdpx
  max_zip_ratio: 200        # a member that expands more than this (a ZIP bomb) is refused
  max_turns: 100000         # turns in one transcript
"""

_KNOWN_KEYS = {
    "name", "language", "codebook", "transcripts", "attributes", "exports", "store",
    "coding_unit", "coder", "speakers", "ignore", "limits", "export", "suggest",
}


def fold_label(label: str) -> str:
    from qcode.ingest.text import fold_label as _fold

    return _fold(label)


@dataclass(slots=True)
class SpeakerMap:
    """Speaker label → role, globally and per transcript."""

    labels: dict[str, str] = field(default_factory=dict)  # folded label → role
    by_transcript: dict[str, dict[str, str]] = field(default_factory=dict)

    def role_of(self, label: str, transcript_id: str) -> str | None:
        folded = fold_label(label)
        specific = self.by_transcript.get(transcript_id, {})
        if folded in specific:
            return specific[folded]
        return self.labels.get(folded)

    def known_labels(self, transcript_id: str) -> set[str]:
        return set(self.labels) | set(self.by_transcript.get(transcript_id, {}))


@dataclass(slots=True)
class Project:
    root: Path
    name: str = "qcode project"
    language: str = "fr"
    codebook: Path = Path("codebooks/codebook.yaml")
    transcripts_dir: Path = Path("transcripts")
    attributes_path: Path = Path("transcripts/attributes.csv")
    exports_dir: Path = Path("exports")
    store: str = ".qcode/qcode.db"
    coding_unit: str = "sentence"
    coder: str | None = None
    speakers: SpeakerMap = field(default_factory=SpeakerMap)
    ignore: list[str] = field(default_factory=lambda: ["README*", ".*"])
    limits: Limits = field(default_factory=Limits)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def store_location(self) -> str:
        """A database URL (``QCODE_DB`` or ``store:`` with ``://``) or the SQLite file path."""
        env = os.environ.get("QCODE_DB")
        if env:
            return env
        if "://" in self.store:
            return self.store
        return str(self.root / self.store)


def find_root(start: Path | None = None, explicit: str | Path | None = None) -> Path:
    """The project folder: ``explicit``, else ``QCODE_PROJECT``, else walk up from ``start``."""
    chosen = explicit or os.environ.get("QCODE_PROJECT")
    if chosen:
        root = Path(chosen).expanduser().resolve()
        if not (root / CONFIG_NAME).is_file():
            raise ProjectError(f"no {CONFIG_NAME} in {root}",
                               hint=f"run 'qcode init {chosen}' to create a project there")
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise ProjectError(
        f"not inside a qcode project (no {CONFIG_NAME} here or in any parent folder)",
        hint="run 'qcode init' to create one, or pass --project DIR",
    )


def load(root: Path) -> Project:
    """Load and validate ``root/qcode.yaml``; every problem is reported at once (exit 3)."""
    path = root / CONFIG_NAME
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ProjectError(f"cannot read {CONFIG_NAME}: {exc.strerror}", path=path) from None
    except UnicodeDecodeError:
        raise ValidationError(f"{CONFIG_NAME} is not UTF-8 text", path=path) from None
    data, marks = load_yaml(text, path)
    if data is None:
        data = {}
    problems: list[str] = []

    def problem(where: YamlPath, message: str, at_key: bool = False) -> None:
        line, column = marks.key(where) if at_key else marks.value(where)
        problems.append(f"{path}:{line}:{column}: {render_path(where)}: {message}")

    if not isinstance(data, dict):
        raise ValidationError(f"{CONFIG_NAME} must be a mapping of settings", path=path, line=1)
    project = Project(root=root, raw=data)
    for key in data:
        if key not in _KNOWN_KEYS:
            problem((key,), f"unknown setting (known: {', '.join(sorted(_KNOWN_KEYS))})",
                    at_key=True)

    def text_setting(key: str, default: str) -> str:
        value = data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            problem((key,), "must be a text value")
            return default
        return str(value)

    project.name = text_setting("name", root.name)
    project.language = text_setting("language", "fr")
    if not re.fullmatch(r"[a-z]{2,3}", project.language):
        problem(("language",), "must be a language code such as fr, en, de")
    project.codebook = Path(text_setting("codebook", str(project.codebook)))
    project.transcripts_dir = Path(text_setting("transcripts", str(project.transcripts_dir)))
    project.attributes_path = Path(text_setting("attributes", str(project.attributes_path)))
    project.exports_dir = Path(text_setting("exports", str(project.exports_dir)))
    project.store = text_setting("store", project.store)
    project.coding_unit = text_setting("coding_unit", "sentence")
    if project.coding_unit not in UNITS:
        problem(("coding_unit",), f"must be one of {', '.join(UNITS)}")
    coder = data.get("coder")
    project.coder = str(coder) if coder else None

    ignore = data.get("ignore", project.ignore)
    if not isinstance(ignore, list) or not all(isinstance(x, str) for x in ignore):
        problem(("ignore",), "must be a list of file name patterns, e.g. [\"README*\"]")
    else:
        project.ignore = ignore

    project.speakers = _speaker_map(data.get("speakers"), problem)
    project.limits = _limits(data.get("limits"), problem)
    if problems:
        raise ValidationError(f"{len(problems)} problem(s) in {CONFIG_NAME}", problems=problems,
                              path=path)
    return project


def _speaker_map(raw: Any, problem: Any) -> SpeakerMap:
    smap = SpeakerMap()
    if raw is None:
        for label in DEFAULT_INTERVIEWER_LABELS:
            smap.labels[fold_label(label)] = "interviewer"
        return smap
    if not isinstance(raw, dict):
        problem(("speakers",), "must map roles (interviewer, other) to lists of labels")
        return smap
    for key, value in raw.items():
        if key == "transcripts":
            if not isinstance(value, dict):
                problem(("speakers", key), "must map transcript ids to {label: role}")
                continue
            for tid, mapping in value.items():
                if not isinstance(mapping, dict):
                    problem(("speakers", key, tid), "must map labels to roles")
                    continue
                for label, role in mapping.items():
                    if role not in ROLES:
                        problem(("speakers", key, tid, label),
                                f"unknown role {role!r} (use {', '.join(ROLES)})")
                        continue
                    smap.by_transcript.setdefault(str(tid), {})[fold_label(str(label))] = role
        elif key in ROLES:
            if not isinstance(value, list):
                problem(("speakers", key), "must be a list of speaker labels")
                continue
            for i, label in enumerate(value):
                if not isinstance(label, str | int) or not str(label).strip():
                    problem(("speakers", key, i), "must be a non-empty label")
                    continue
                smap.labels[fold_label(str(label))] = key
        else:
            problem(("speakers", key),
                    f"unknown key (use {', '.join(ROLES)} or transcripts)", True)
    return smap


def _limits(raw: Any, problem: Any) -> Limits:
    if raw is None:
        return Limits()
    if not isinstance(raw, dict):
        problem(("limits",), "must be a mapping such as {max_file_mb: 50}")
        return Limits()
    mb = 1024 * 1024
    values: dict[str, int] = {}
    sizes = {"max_file_mb": "max_file_bytes", "max_unzipped_mb": "max_unzipped_bytes"}
    counts = ("max_zip_members", "max_zip_ratio", "max_turns")  # whole numbers, as they are
    known = [*sizes, *counts]
    for key, value in raw.items():
        if key not in known:
            problem(("limits", key), f"unknown limit (known: {', '.join(known)})", True)
        elif key in sizes:
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                problem(("limits", key), "must be a positive number of megabytes")
            else:
                values[sizes[key]] = int(value * mb)
        elif not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            problem(("limits", key), "must be a positive whole number")
        else:
            values[key] = value
    return Limits(**values)


def init(folder: Path, name: str | None = None, language: str = "fr",
         store: str | None = None) -> Path:
    """Create a project in ``folder``: qcode.yaml and the folders. Refuses to overwrite.

    ``store`` is a database URL (``postgresql://…``) for a store shared by a team; by default
    the store is a SQLite file inside the project.
    """
    folder = folder.resolve()
    config = folder / CONFIG_NAME
    if config.exists():
        raise ProjectError(f"{config} already exists", hint="this folder is already a project")
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("codebooks", "transcripts", "exports"):
        (folder / sub).mkdir(exist_ok=True)
    project_name = name or folder.name
    text = CONFIG_TEMPLATE.format(name=_yaml_scalar(project_name), language=language)
    if store is not None:
        text = text.replace(
            "store: .qcode/qcode.db          # a SQLite file in the project\n",
            f"store: {_yaml_scalar(store)}   # a database shared by the team\n", 1)
    tmp = config.with_suffix(".yaml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(config)
    gitignore = folder / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text(".qcode/\n", encoding="utf-8")
    return config


def _yaml_scalar(value: str) -> str:
    import yaml

    dumped: str = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True)
    return dumped.strip().removesuffix("...").strip()


def open_project(explicit: str | Path | None = None, start: Path | None = None) -> Project:
    return load(find_root(start, explicit))
