"""Ingest: read transcript files into the store, one transaction per file.

A file whose bytes (and reader) have not changed since the last ingest is not read again; a
changed file replaces the transcript and the store keeps the earlier text as a version. Every
file is independent: a bad file is reported and the others still ingest. A process killed in
the middle leaves every finished file committed and nothing half-written; the next run
completes the rest.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qcode.errors import InputError, QcodeError
from qcode.ingest.limits import DEFAULT_LIMITS, MAX_TIME_MS, Limits
from qcode.ingest.model import ParsedTranscript
from qcode.ingest.roles import SpeakerStats, resolve_roles, roles_key
from qcode.ingest.sentences import split_sentences
from qcode.ingest.sheet import Sheet, read_sheet
from qcode.project import Project
from qcode.store import Store
from qcode.store import transcripts as q
from qcode.store.records import Fingerprint, SentenceRecord, TranscriptRecord, TurnRecord

# Bump when a reader's output changes, so that unchanged files are read again.
READER_VERSION = 2

# extension → (module, function, format name)
READERS: dict[str, tuple[str, str]] = {
    ".txt": ("qcode.ingest.text", "read_text"),
    ".md": ("qcode.ingest.text", "read_text"),
    ".markdown": ("qcode.ingest.text", "read_text"),
    ".docx": ("qcode.ingest.wordproc", "read_docx"),
    ".odt": ("qcode.ingest.wordproc", "read_odt"),
    ".vtt": ("qcode.ingest.captions", "read_vtt"),
    ".srt": ("qcode.ingest.captions", "read_srt"),
    ".trs": ("qcode.ingest.trs", "read_trs"),
    ".csv": ("qcode.ingest.csvturns", "read_csv"),
}
SUPPORTED = tuple(sorted(READERS))

_WORD_RE = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")

Progress = Callable[[str, int, int, str], None]  # stage, done, total, current item


@dataclass(slots=True)
class FileOutcome:
    path: str
    transcript_id: str | None
    status: str  # added | updated | refreshed | unchanged | failed | skipped
    message: str = ""
    turns: int = 0
    words: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line each: file[:line]: reason
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


def read_file(path: Path, data: bytes, known_labels: set[str] | None = None,
              limits: Limits = DEFAULT_LIMITS) -> ParsedTranscript:
    """Parse ``data`` (the bytes of ``path``) with the reader for its extension."""
    ext = path.suffix.lower()
    if ext not in READERS:
        raise InputError(f"unsupported file type {ext or '(none)'}", path=path,
                         hint=f"supported: {', '.join(SUPPORTED)}")
    module_name, function_name = READERS[ext]
    reader = getattr(importlib.import_module(module_name), function_name)
    if module_name == "qcode.ingest.wordproc":
        parsed: ParsedTranscript = reader(data, path, known_labels or (), limits=limits)
    elif module_name == "qcode.ingest.text":
        parsed = reader(data, path, known_labels or ())
    elif module_name == "qcode.ingest.trs":
        parsed = reader(data, path, limits=limits)
    else:
        parsed = reader(data, path)
    _check_invariants(parsed, path, limits)
    return parsed


def _check_invariants(parsed: ParsedTranscript, path: Path,
                      limits: Limits = DEFAULT_LIMITS) -> None:
    """The turns a reader gives: within the limits, and spans and times the store can keep."""
    if len(parsed.turns) > limits.max_turns:
        raise InputError(f"refused: {len(parsed.turns)} turns, the limit is {limits.max_turns}",
                         path=path, hint="a transcript this long is a damaged or generated "
                         "file; split it if it is genuine")
    previous_end = 0
    for i, turn in enumerate(parsed.turns, 1):
        if not (previous_end <= turn.start < turn.end <= len(parsed.text)):
            raise QcodeError(f"internal error: turn {i} has an invalid span "
                             f"[{turn.start}, {turn.end})", path=path,
                             hint="please report this file to the qcode developers")
        for time_ms in (turn.start_ms, turn.end_ms):
            if time_ms is not None and not 0 <= time_ms <= MAX_TIME_MS:
                raise InputError(f"turn {i}: time {time_ms} ms is outside 0 to "
                                 f"{MAX_TIME_MS // 3_600_000} hours", path=path,
                                 hint="the file's times are damaged")
        previous_end = turn.end


def transcript_id(path: Path) -> str:
    """A transcript's id: its file name without the extension."""
    return path.stem


def collect_files(project: Project, paths: list[Path] | None,
                  report: IngestReport) -> list[Path]:
    """The files to ingest, in a stable order; ignored and unsupported files are skipped."""
    sheet = (project.root / project.attributes_path).resolve()
    explicit = paths is not None and len(paths) > 0
    roots = paths if explicit else [project.root / project.transcripts_dir]
    files: list[Path] = []
    for root in roots or []:
        if root.is_dir():
            for candidate in sorted(p for p in root.rglob("*") if p.is_file()):
                rel_parts = candidate.relative_to(root).parts
                if any(fnmatch.fnmatch(part, pat) for part in rel_parts
                       for pat in project.ignore):
                    continue
                if candidate.resolve() == sheet:
                    continue
                if candidate.suffix.lower() not in READERS:
                    report.warnings.append(f"{candidate}: skipped (not a transcript format: "
                                           f"{', '.join(SUPPORTED)})")
                    report.outcomes.append(FileOutcome(str(candidate), None, "skipped"))
                    continue
                files.append(candidate)
        elif root.exists():
            files.append(root)
        else:
            message = f"{root}: no such file or folder"
            report.errors.append(message)
            report.outcomes.append(FileOutcome(str(root), None, "failed", message))
    return files


def _relative(project: Project, path: Path) -> str:
    try:
        return path.resolve().relative_to(project.root.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _speaker_stats(parsed_text: str, turns: list[tuple[str, int, int]]) -> list[SpeakerStats]:
    stats: dict[str, SpeakerStats] = {}
    for speaker, start, end in turns:
        st = stats.setdefault(speaker, SpeakerStats(speaker, 0, 0))
        st.turns += 1
        if parsed_text[start:end].rstrip(" »\"”)]").endswith("?"):
            st.questions += 1
    return list(stats.values())


def build_record(
    project: Project,
    tid: str,
    path: Path,
    data: bytes,
    parsed: ParsedTranscript,
    sheet_row: dict[str, str] | None,
) -> TranscriptRecord:
    """Turn a parsed file into the record the store keeps: roles, sentences, attributes."""
    attributes: dict[str, tuple[str, str]] = {
        k: (v, "front-matter") for k, v in parsed.attributes.items() if v != ""
    }
    for k, v in (sheet_row or {}).items():
        attributes[k] = (v, "sheet")
    interviewer = attributes.get("interviewer", (None, ""))[0]
    spans = [(t.speaker, t.start, t.end) for t in parsed.turns]
    roles, role_warnings = resolve_roles(_speaker_stats(parsed.text, spans), tid,
                                         project.speakers, interviewer)
    turns = []
    sentences = []
    words = 0
    for i, t in enumerate(parsed.turns, 1):
        turns.append(TurnRecord(i, t.speaker, roles[t.speaker], t.start, t.end,
                                t.start_ms, t.end_ms))
        for j, (s, e) in enumerate(split_sentences(parsed.text, t.start, t.end), 1):
            sentences.append(SentenceRecord(i, j, s, e))
        words += len(_WORD_RE.findall(parsed.text, t.start, t.end))
    record = TranscriptRecord(
        id=tid,
        source_path=_relative(project, path),
        format=parsed.format,
        file_hash=_sha256(data),
        text_hash=_sha256(parsed.text.encode("utf-8")),
        reader_version=READER_VERSION,
        text=parsed.text,
        words=words,
        metadata=parsed.metadata,
        warnings=[*parsed.warnings, *role_warnings],
        attributes=attributes,
        turns=turns,
        sentences=sentences,
    )
    return record


def ingest(
    project: Project,
    store: Store,
    paths: list[Path] | None = None,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest ``paths`` (files or folders; default: the project's transcripts folder)."""
    report = IngestReport()
    files = collect_files(project, paths, report)

    # ids must be unique across the files of this run
    by_id: dict[str, Path] = {}
    unique: list[Path] = []
    for path in files:
        tid = transcript_id(path)
        if tid in by_id:
            message = (f"{path}: transcript id {tid!r} is already used by {by_id[tid]} "
                       "(rename one of the files)")
            report.errors.append(message)
            report.outcomes.append(FileOutcome(str(path), tid, "failed", message))
            continue
        by_id[tid] = path
        unique.append(path)

    with store.read() as conn:
        known = q.fingerprints(conn)

    sheet_path = project.root / project.attributes_path
    sheet = read_sheet(sheet_path) if sheet_path.is_file() else Sheet(sheet_path)
    sheet.check_ids(set(known) | set(by_id))
    report.errors.extend(str(e) for e in sheet.errors)

    total = len(unique)
    for n, path in enumerate(unique, 1):
        if progress is not None:
            progress("ingest", n - 1, total, path.name)
        outcome = _ingest_one(project, store, path, known, sheet, force)
        report.outcomes.append(outcome)
        if outcome.status == "failed":
            report.errors.append(outcome.message)
    if progress is not None:
        progress("ingest", total, total, "")

    # transcripts ingested earlier whose sheet row changed are kept in step too
    _refresh_attributes(store, {k: v for k, v in known.items() if k not in by_id}, sheet)
    return report


def _ingest_one(
    project: Project,
    store: Store,
    path: Path,
    known: dict[str, Fingerprint],
    sheet: Sheet,
    force: bool,
) -> FileOutcome:
    tid = transcript_id(path)
    try:
        size = path.stat().st_size
        if size > project.limits.max_file_bytes:
            raise InputError(
                f"file too large ({size // (1024 * 1024)} MB; limit "
                f"{project.limits.max_file_bytes // (1024 * 1024)} MB)", path=path,
                hint="raise limits.max_file_mb in qcode.yaml if this file is genuine")
        data = path.read_bytes()
        file_hash = _sha256(data)
        previous = known.get(tid)
        source = _relative(project, path)
        if previous is not None and previous.source_path != source:
            earlier = project.root / previous.source_path
            if earlier.exists() and earlier.resolve() != path.resolve():
                raise InputError(
                    f"transcript id {tid!r} is already used by {previous.source_path}",
                    path=path, hint="rename one of the files, or remove the other transcript "
                    f"with 'qcode transcripts remove {tid}'")
        row = sheet.row(tid, previous.attributes if previous is not None else {})
        if (
            previous is not None
            and not force
            and previous.file_hash == file_hash
            and previous.reader_version == READER_VERSION
            and Path(previous.source_path).suffix.lower() == path.suffix.lower()
        ):
            return _unchanged(project, store, path, tid, previous, row)
        parsed = read_file(path, data, project.speakers.known_labels(tid), project.limits)
        record = build_record(project, tid, path, data, parsed, row)
        interviewer = record.attributes.get("interviewer", (None, ""))[0]
        anchored = None
        with store.write() as conn:
            old_text = q.text_of(conn, tid)
            status = q.save(conn, record)
            q.set_roles_key(conn, tid, roles_key(project.speakers, tid, interviewer))
            if status == "updated" and old_text is not None:
                from qcode.anchor import reanchor

                anchored = reanchor(conn, tid, old_text, record.text, record.version)
        outcome = FileOutcome(str(path), tid, status, "", len(record.turns), record.words,
                              record.warnings)
        if anchored is not None and anchored.counts:
            outcome.message = f"codings re-anchored: {anchored.summary()}"
            outcome.warnings.extend(anchored.flagged)
        return outcome
    except QcodeError as exc:
        return FileOutcome(str(path), tid, "failed", str(exc))
    except OSError as exc:
        return FileOutcome(str(path), tid, "failed", f"{path}: cannot read: {exc.strerror}")


def _unchanged(project: Project, store: Store, path: Path, tid: str, previous: Fingerprint,
               row: dict[str, str] | None) -> FileOutcome:
    """An unchanged file: keep its attributes and speaker roles in step with the project.

    Nothing is written when nothing changed, so re-ingesting an unchanged corpus is cheap.
    """
    attributes = {k: v for k, v in previous.attributes.items() if v[1] != "sheet"}
    for k, v in (row or {}).items():
        attributes[k] = (v, "sheet")
    interviewer = attributes.get("interviewer", (None, ""))[0]
    key = roles_key(project.speakers, tid, interviewer)
    source = _relative(project, path)
    if (attributes == previous.attributes and key == previous.roles_key
            and source == previous.source_path):
        return FileOutcome(str(path), tid, "unchanged", "unchanged")
    with store.write() as conn:
        changed = q.set_attributes(conn, tid, attributes)
        if key != previous.roles_key:
            record = q.load(conn, tid)
            assert record is not None
            spans = [(t.speaker, t.start, t.end) for t in record.turns]
            roles, _ = resolve_roles(_speaker_stats(record.text, spans), tid,
                                     project.speakers, interviewer)
            changed = q.update_roles(conn, tid, roles) or changed
            q.set_roles_key(conn, tid, key)
        q.set_source_path(conn, tid, source)
    message = "unchanged" + (" (attributes or speaker roles updated)" if changed else "")
    return FileOutcome(str(path), tid, "unchanged", message)


def _refresh_attributes(store: Store, known: dict[str, Fingerprint], sheet: Sheet) -> None:
    """Keep the sheet's attributes in step for transcripts not read in this run."""
    updates: dict[str, dict[str, tuple[str, str]]] = {}
    for tid, previous in known.items():
        attributes = {k: v for k, v in previous.attributes.items() if v[1] != "sheet"}
        for k, v in sheet.row(tid, previous.attributes).items():
            attributes[k] = (v, "sheet")
        if attributes != previous.attributes:
            updates[tid] = attributes
    if not updates:
        return
    with store.write() as conn:
        for tid, attributes in sorted(updates.items()):
            q.set_attributes(conn, tid, attributes)
