"""Integrity: ``qcode check`` verifies the store and the project; ``qcode backup`` copies the store.

:func:`check` reads the store in one snapshot (it never writes, never migrates) and lists every
problem it finds as a :class:`Finding` — what, where, and the command or manual step that fixes
it:

- the schema: a known version, not newer than this qcode, no migration pending, every table and
  column there;
- the database: SQLite's ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check``, and on
  both engines a query per foreign key for rows that refer to nothing;
- every transcript: its text matches its digest; its turns and sentences lie inside the text, in
  order, numbered 1, 2, 3…; its source file is there and unchanged since ingest; files of the
  transcripts folder not ingested yet;
- every coding and suggestion: its span inside its transcript and the text there equal to its
  quote snapshot (codings that re-anchoring flagged ``ambiguous`` or ``unplaced`` are known, and
  listed as notes);
- the codebook YAML: valid, synced into the store, and holding every code that codings and
  pending suggestions use;
- memos whose coding, transcript or code is gone; journal entries that ``qcode undo`` could not
  revert (warnings);
- the SQLite store and its backups readable by their owner only.

Severities: ``error`` (a problem: ``qcode check`` exits 1), ``warning`` (worth a look, the store
is sound), ``note`` (a known state, e.g. flagged codings waiting for the coder).

:func:`backup` makes a consistent copy while others work: SQLite's online backup
(:meth:`qcode.store.Store.backup`), or ``pg_dump`` for a PostgreSQL store; the copy is checked
before it takes its name, and is readable by its owner only.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import stat
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from qcode.codebook import Codebook
from qcode.errors import QcodeError, StoreError
from qcode.project import Project
from qcode.store import Store, migrations, redacted
from qcode.store import check as q

SEVERITIES = ("error", "warning", "note")
FLAGS = ("ambiguous", "unplaced")
ACTIONS = ("tag", "untag", "memo", "accept", "reject")
MEMO_TARGETS = ("project", "transcript", "code", "coding")
LISTED = 8  # items named in one finding before "… and N more"


@dataclass(slots=True)
class Finding:
    severity: str  # error | warning | note
    check: str  # schema | database | foreign-keys | transcripts | turns | sentences | sources |
    #            codings | suggestions | codebook | codes | memos | journal | permissions
    where: str
    problem: str
    fix: str

    def as_row(self) -> dict[str, str]:
        return {"severity": self.severity, "check": self.check, "where": self.where,
                "problem": self.problem, "fix": self.fix}


@dataclass(slots=True)
class CheckReport:
    store: str  # the store's location (a password in a URL hidden)
    engine: str  # sqlite | postgresql
    findings: list[Finding] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)  # what was looked at, by kind
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def rows(self) -> list[dict[str, str]]:
        return [f.as_row() for f in self.findings]


def _listing(items: Iterable[Any], limit: int = LISTED) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" … and {len(items) - limit} more" if len(items) > limit else "")


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _cmd(*parts: object) -> str:
    return shlex.join(str(p) for p in parts)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Checker:
    def __init__(self, project: Project, store: Store) -> None:
        self.project = project
        self.store = store
        self.location = store.location
        self.report = CheckReport(
            self.shown(store.location) if store.is_sqlite else redacted(store.location),
            store.engine.dialect.name)
        self.book: Codebook | None = None
        self.known_codes: set[str] | None = None  # the codebook's, or else the store's

    # -- helpers ----------------------------------------------------------------------------

    def add(self, severity: str, check: str, where: str, problem: str, fix: str) -> None:
        self.report.findings.append(Finding(severity, check, where, problem, fix))

    def shown(self, path: Path | str) -> str:
        """A path as the user knows it: relative to the project when inside it."""
        path = Path(path)
        try:
            return path.resolve().relative_to(self.project.root.resolve()).as_posix()
        except ValueError:
            return str(path)

    def run_sql(self, sql: str) -> str:
        """The shell command that runs ``sql`` on this store (for a manual fix)."""
        if self.store.is_sqlite:  # (the sqlite3 shell leaves foreign keys off: cascade)
            statement = f"PRAGMA foreign_keys=ON; {sql}"
            return f"qcode backup, then: {_cmd('sqlite3', self.shown(self.location), statement)}"
        url = redacted(self.location).replace("postgresql+psycopg://", "postgresql://", 1)
        return f"qcode backup, then: {_cmd('psql', url, '-c', sql)}"

    # -- the checks -------------------------------------------------------------------------

    def run(self) -> None:
        ids: list[str] | None = None
        try:
            with self.store.read() as conn:  # one snapshot for every check of the store
                ids = self.store_checks(conn)
        except DBAPIError as exc:  # a damaged file, a broken server: stop here, say so
            message = str(exc.orig).strip().splitlines()
            self.add("error", "database", self.report.store,
                     f"the store could not be read: {message[0] if message else exc}",
                     "restore the latest backup (.qcode/backups/), then run 'qcode check' "
                     "again")
        if self.store.is_sqlite:  # last: the files SQLite made beside the store are there
            self.permissions()
        if ids is not None:
            self.new_files(set(ids))

    def store_checks(self, conn: Connection) -> list[str] | None:
        """Every check of the store's content; the transcripts' ids, or None if the schema
        does not let the checks run."""
        if self.store.is_sqlite:
            self.sqlite_integrity(conn)
        if not self.schema(conn):
            return None
        seen = self.dangling(conn)
        if self.store.is_sqlite:
            self.sqlite_foreign_keys(conn, seen)
        self.codebook(conn)
        ids = q.transcript_ids(conn)
        self.transcripts(conn, ids)
        self.codes(conn)
        self.memos(conn, set(ids))
        self.journal(conn, set(ids))
        return ids

    def sqlite_integrity(self, conn: Connection) -> None:
        problems = [line.strip() for row in q.sqlite_integrity(conn)
                    for line in row.splitlines() if line.strip()]
        if problems:
            self.add("error", "database", self.shown(self.location),
                     f"PRAGMA integrity_check: {_listing(problems, 5)}",
                     "the file is damaged: restore the latest backup (.qcode/backups/), or "
                     f"salvage it: {_cmd('sqlite3', self.shown(self.location), '.recover')} "
                     "| sqlite3 recovered.db")

    def schema(self, conn: Connection) -> bool:
        """The schema's version and shape; False when the other checks cannot run."""
        where = self.report.store
        versions = q.schema_versions(conn)
        if versions is None or not versions:
            self.add("error", "schema", where, "the store has no schema version: it is not a "
                     "qcode store, or was never set up",
                     "point 'store:' in qcode.yaml (or QCODE_DB) at the project's store, or "
                     "run 'qcode ingest' to set up a new one")
            return False
        current = versions[-1]
        self.report.checked["schema version"] = current
        if current > migrations.LATEST:
            self.add("error", "schema", where,
                     f"schema version {current} is newer than this qcode knows "
                     f"({migrations.LATEST})",
                     "upgrade qcode (pip install -U qcode) before using this store")
            return False
        known = {m[0] for m in migrations.MIGRATIONS}
        unknown = [v for v in versions if v not in known]
        if unknown:
            self.add("error", "schema", where,
                     f"unknown schema version(s) {_listing(unknown)} in schema_version",
                     "restore the latest backup (.qcode/backups/)")
        if current < migrations.LATEST:
            todo = [f"{v} ({d})" for v, d, _ in migrations.MIGRATIONS if v > current]
            self.add("error", "schema", where,
                     f"schema version {current}: {len(todo)} migration(s) pending: "
                     f"{_listing(todo)}",
                     "run any qcode command on the project, e.g. 'qcode transcripts list': it "
                     "backs the store up to .qcode/backups/ then migrates it")
            return False
        missing = q.missing_schema(conn)
        if missing:
            self.add("error", "schema", where,
                     f"missing from the store although its version is {current}: "
                     f"{_listing(missing)}",
                     "restore the latest backup (.qcode/backups/)")
            return False
        return True

    def dangling(self, conn: Connection) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for d in q.dangling_rows(conn):
            found.add((d.table, d.parent))
            refs = _listing("/".join(str(v) for v in value) for value in d.values)
            problem = (f"{d.count} row(s) of {d.table} refer to {d.parent} that do not exist "
                       f"({'/'.join(d.columns)} {refs})")
            remove = f"delete them: {self.run_sql(d.delete_sql)}"
            if d.table in ("codings", "suggestions") and d.parent == "transcripts":
                fix = ("restore the transcript's file and run 'qcode ingest': the rows attach "
                       f"to it again; or {remove}")
            else:
                fix = f"these rows are left from a removed transcript: {remove}"
            self.add("error", "foreign-keys", d.table, problem, fix)
        return found

    def sqlite_foreign_keys(self, conn: Connection, seen: set[tuple[str, str]]) -> None:
        """What SQLite's own check finds beyond the declared keys queried above."""
        for (table, parent), n in sorted(q.sqlite_foreign_key_violations(conn).items()):
            if (table, parent) in seen:
                continue
            self.add("error", "foreign-keys", table,
                     f"PRAGMA foreign_key_check: {n} row(s) of {table} refer to missing rows "
                     f"of {parent}",
                     "restore the latest backup (.qcode/backups/)")

    # -- codebook ---------------------------------------------------------------------------

    def codebook(self, conn: Connection) -> None:
        from qcode.codebook import load

        path = self.project.root / self.project.codebook
        shown = self.shown(path)
        state = q.codebook_state(conn)
        try:
            book = load(path)
        except QcodeError as exc:
            used = q.code_usage(conn)[0]
            severity = "error" if used else "warning"
            self.add(severity, "codebook", shown, exc.message,
                     exc.hint or "create it (see codebooks/README.md) or set 'codebook:' in "
                     "qcode.yaml")
        else:
            self.report.checked["codebook codes"] = len(book.codes)
            for p in book.errors:
                self.add("error", "codebook", f"{shown}:{p.line}:{p.column}",
                         f"{p.yaml_path}: {p.message}",
                         p.fix or "edit the codebook; 'qcode codebook validate' lists every "
                         "problem")
            if not book.errors:
                self.book = book
                self.known_codes = set(book.codes)
                if state.get("digest") != book.digest:
                    self.add("warning", "codebook", shown,
                             "the store's codes are not in step with the codebook (it changed "
                             "since the last sync)" if state.get("digest") else
                             "the codebook has never been synced into the store",
                             "qcode codebook sync")
        if self.known_codes is None:  # no usable codebook: judge codes by the store's copy
            statuses = q.code_statuses(conn)
            self.known_codes = {cid for cid, status in statuses.items() if status == "active"}

    # -- transcripts, their units and spans ------------------------------------------------

    def transcripts(self, conn: Connection, ids: list[str]) -> None:
        flagged: dict[str, Counter[str]] = defaultdict(Counter)
        for rec in q.transcripts_with_rows(conn, ids):
            self.report.checked["transcripts"] += 1
            self.text(rec)
            self.source(rec)
            self.turns(rec)
            self.sentences(rec)
            for row in rec.codings:
                self.report.checked["codings"] += 1
                self.span(rec, row, "coding", flagged)
            for row in rec.suggestions:
                self.report.checked["suggestions"] += 1
                self.span(rec, row, "suggestion", flagged)
        for key, counts in sorted(flagged.items()):
            tid, kind = key.split("\0")
            parts = ", ".join(f"{counts[f]} {f}" for f in FLAGS if counts[f])
            total = sum(counts.values())
            if kind == "coding":
                listing = _cmd("qcode", "codings", "list", "--flagged", "--transcript", tid)
                self.add("note", "codings", tid,
                         f"{total} coding(s) flagged by re-anchoring after a correction "
                         f"({parts}): kept, waiting for a coder",
                         f"see them: {listing}; re-tag each where it belongs and untag the "
                         "flagged one")
            else:
                self.add("note", "suggestions", tid,
                         f"{total} suggestion(s) flagged by re-anchoring ({parts})",
                         "qcode suggest (computes them again on the corrected text)")

    def reingest(self, rec: q.TranscriptRows) -> str:
        return _cmd("qcode", "ingest", "--force", rec.source_path)

    def text(self, rec: q.TranscriptRows) -> None:
        if _sha256(rec.text.encode("utf-8")) != rec.text_hash:
            self.add("error", "transcripts", rec.id,
                     "the stored text does not match its digest: it was altered outside qcode",
                     f"read the file again: {self.reingest(rec)}")

    def source(self, rec: q.TranscriptRows) -> None:
        path = Path(rec.source_path)
        if not path.is_absolute():
            path = self.project.root / path
        self.report.checked["source files"] += 1
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self.add("error", "sources", rec.id,
                     f"its source file {rec.source_path} is missing (the store keeps the "
                     "text, but it can no longer be re-read or compared)",
                     f"put the file back at {rec.source_path}; or, if the interview was "
                     f"withdrawn: {_cmd('qcode', 'transcripts', 'remove', rec.id)} (its "
                     "codings go with it)")
            return
        except OSError as exc:
            self.add("error", "sources", rec.id,
                     f"cannot read its source file {rec.source_path}: {exc.strerror}",
                     f"make it readable: {_cmd('chmod', 'u+r', rec.source_path)}")
            return
        if _sha256(data) != rec.file_hash:
            self.add("warning", "sources", rec.id,
                     f"{rec.source_path} changed since it was ingested",
                     "qcode ingest (reads it again; codings follow the corrected text)")

    def turns(self, rec: q.TranscriptRows) -> None:
        problems: list[str] = []
        previous_end = 0
        for n, turn in enumerate(rec.turns, 1):
            self.report.checked["turns"] += 1
            if turn.idx != n:
                problems.append(f"turn {turn.idx} where turn {n} was expected")
            if not 0 <= turn.start < turn.end <= len(rec.text):
                problems.append(f"turn {turn.idx} [{turn.start}:{turn.end}] is outside the "
                                f"text (0:{len(rec.text)}) or empty")
                continue
            if turn.start < previous_end:
                problems.append(f"turn {turn.idx} [{turn.start}:{turn.end}] overlaps the "
                                f"turn before it (which ends at {previous_end})")
            previous_end = max(previous_end, turn.end)
        if problems:
            self.add("error", "turns", rec.id, _listing(problems, 4),
                     f"rebuild its turns and sentences: {self.reingest(rec)}")

    def sentences(self, rec: q.TranscriptRows) -> None:
        spans = {t.idx: (t.start, t.end) for t in rec.turns}
        problems: list[str] = []
        expected: Counter[int] = Counter()
        previous: dict[int, int] = {}
        for se in rec.sentences:
            self.report.checked["sentences"] += 1
            name = f"sentence {se.turn_idx}.{se.idx}"
            expected[se.turn_idx] += 1
            if se.idx != expected[se.turn_idx]:
                problems.append(f"{name} where {se.turn_idx}.{expected[se.turn_idx]} was "
                                "expected")
            turn = spans.get(se.turn_idx)
            if turn is None:
                continue  # its turn is missing: a dangling row, reported with foreign keys
            if not turn[0] <= se.start < se.end <= turn[1]:
                problems.append(f"{name} [{se.start}:{se.end}] is outside its turn "
                                f"[{turn[0]}:{turn[1]}] or empty")
                continue
            if se.start < previous.get(se.turn_idx, turn[0]):
                problems.append(f"{name} [{se.start}:{se.end}] overlaps the sentence before it")
            previous[se.turn_idx] = max(previous.get(se.turn_idx, 0), se.end)
        if problems:
            self.add("error", "sentences", rec.id, _listing(problems, 4),
                     f"rebuild its turns and sentences: {self.reingest(rec)}")

    def span(self, rec: q.TranscriptRows, row: q.SpanRow, kind: str,
             flagged: dict[str, Counter[str]]) -> None:
        where = f"{rec.id} {kind} {row.id}"
        text = rec.text
        if row.flag and row.flag not in FLAGS:
            self.add("error", f"{kind}s", where, f"unknown flag {row.flag!r}",
                     self.span_fix(rec, row, kind))
        inside = 0 <= row.start < row.end <= len(text)
        if row.flag in FLAGS and inside:
            flagged[f"{rec.id}\0{kind}"][row.flag] += 1
            return
        if not inside:
            self.add("error", f"{kind}s", where,
                     f"{self.describe(row, kind)}: span {row.start}:{row.end} is outside the "
                     f"text (0:{len(text)}) or empty",
                     self.span_fix(rec, row, kind))
        elif text[row.start:row.end] != row.snapshot:
            self.add("error", f"{kind}s", where,
                     f"{self.describe(row, kind)}: the text at {row.start}:{row.end} "
                     f"« {_short(text[row.start:row.end])} » is not its quote "
                     f"« {_short(row.snapshot)} »",
                     self.span_fix(rec, row, kind))

    def describe(self, row: q.SpanRow, kind: str) -> str:
        who = f"by {row.who}" if kind == "coding" else row.who
        return f"code {row.code_id}, {who}"

    def span_fix(self, rec: q.TranscriptRows, row: q.SpanRow, kind: str) -> str:
        if kind == "suggestion":
            return "qcode suggest (computes the suggestions again and puts them in place)"
        text = rec.text
        found: list[int] = []
        pos = text.find(row.snapshot) if row.snapshot.strip() else -1
        while pos != -1 and len(found) < 2:
            found.append(pos)
            pos = text.find(row.snapshot, pos + 1)
        if len(found) == 1:
            start = found[0]
            retag = _cmd("qcode", "tag", rec.id, "--span", f"{start}:{start + len(row.snapshot)}",
                         row.code_id, "--coder", row.who)
            retag = f"its quote is at {start}:{start + len(row.snapshot)}: {retag}"
        else:
            retag = ("find the passage with "
                     f"{_cmd('qcode', 'codings', 'list', '--transcript', rec.id)} and re-tag it")
        sql = q.delete_by_id_sql("codings", [row.id], self.store.engine.dialect)
        return f"{retag}; then remove coding {row.id}: {self.run_sql(sql)}"

    # -- codes --------------------------------------------------------------------------------

    def codes(self, conn: Connection) -> None:
        known = self.known_codes or set()
        codings, pending = q.code_usage(conn)
        statuses = q.code_statuses(conn)
        unknown = sorted(cid for cid in codings if cid not in known)
        where_used = q.coding_transcripts(conn, unknown)
        source = "the codebook" if self.book is not None else "the store's codes (the " \
            "codebook could not be read)"
        for cid in unknown:
            n = codings[cid]
            in_ = f"in {_listing(where_used.get(cid, []))}"
            add = _cmd("qcode", "codebook", "add", cid, "--label", cid)
            if statuses.get(cid) == "orphan":
                self.add("warning", "codes", cid,
                         f"{n} coding(s) {in_} use {cid!r}, kept as an orphan: no longer in "
                         f"{source}",
                         f"put it back: {add}; or move its codings: {add}, then "
                         f"{_cmd('qcode', 'codebook', 'merge', cid, 'TARGET')}")
            else:
                self.add("error", "codes", cid,
                         f"{n} coding(s) {in_} use {cid!r}, which is not in {source}",
                         f"put it back: {add}; or move its codings: {add}, then "
                         f"{_cmd('qcode', 'codebook', 'merge', cid, 'TARGET')}; or keep them "
                         "as orphans: qcode codebook sync --force")
        stale = sorted(cid for cid in pending if cid not in known)
        if stale:
            self.add("warning", "suggestions", _listing(stale),
                     f"{sum(pending[c] for c in stale)} pending suggestion(s) for code(s) not "
                     f"in {source}",
                     "qcode suggest (drops the suggestions of codes that are gone)")

    # -- memos and the journal ----------------------------------------------------------------

    def memos(self, conn: Connection, transcripts: set[str]) -> None:
        rows = q.memos(conn)
        self.report.checked["memos"] = len(rows)
        coding_ids = [int(m.target_id) for m in rows
                      if m.target_type == "coding" and m.target_id.isdigit()]
        codings = q.existing_ids(conn, "codings", coding_ids)
        known = self.known_codes or set()
        for m in rows:
            where = f"memo {m.id}"
            show = f"read it: qcode memo show {m.id}"
            about = f"« {_short(m.text, 40)} » by {m.coder}"
            if m.target_type not in MEMO_TARGETS:
                self.add("error", "memos", where,
                         f"memo {about} is on an unknown kind of target {m.target_type!r}",
                         f"{show}, then add it again with 'qcode memo add'")
            elif m.target_type == "coding" and (not m.target_id.isdigit()
                                                or int(m.target_id) not in codings):
                self.add("error", "memos", where,
                         f"memo {about} is on coding {m.target_id}, which no longer exists",
                         f"{show}; attach it to the passage's transcript: qcode memo add "
                         f"--transcript TRANSCRIPT '…' (or 'qcode undo' if the coding was just "
                         "untagged)")
            elif m.target_type == "transcript" and m.target_id not in transcripts:
                self.add("error", "memos", where,
                         f"memo {about} is on transcript {m.target_id}, which is not in the "
                         "store",
                         f"ingest the transcript again (qcode ingest), or {show} and keep it "
                         "as a project memo: qcode memo add --on-project '…'")
            elif m.target_type == "code" and m.target_id not in known:
                add = _cmd("qcode", "codebook", "add", m.target_id, "--label", m.target_id)
                self.add("warning", "memos", where,
                         f"memo {about} is on code {m.target_id!r}, which is not in the "
                         "codebook",
                         f"put the code back: {add}; or {show} and add it to the code that "
                         "replaced it")

    def journal(self, conn: Connection, transcripts: set[str]) -> None:
        broken, last = q.journal(conn)
        for entry in broken:
            self.add("warning", "journal", f"journal entry {entry.id}",
                     f"the {entry.action!r} of {entry.coder} at {entry.created_at} has an "
                     "unreadable payload: 'qcode undo' cannot revert it",
                     "none needed, unless you want to undo it: then restore a backup")
        for entry in last:
            if not isinstance(entry.payload, dict):
                continue
            nothing = self.reverts_nothing(conn, entry, transcripts)
            if nothing:
                undo = _cmd("qcode", "undo", "--coder", entry.coder)
                self.add("warning", "journal", f"journal entry {entry.id}",
                         f"the last {entry.action!r} of {entry.coder} ({entry.created_at}) "
                         f"refers to nothing: {nothing}",
                         f"none needed: '{undo}' would revert nothing and mark it undone")

    def reverts_nothing(self, conn: Connection, entry: q.JournalRow,
                        transcripts: set[str]) -> str:
        """Why undoing ``entry`` would change nothing ('' when it would change something)."""
        payload = entry.payload
        if entry.action not in ACTIONS:
            return f"qcode does not know the action {entry.action!r}"
        if entry.action == "tag":
            ids = [i for i in payload.get("codings", []) if isinstance(i, int)]
            if not q.existing_ids(conn, "codings", ids):
                return "the codings it made no longer exist"
        elif entry.action == "untag":
            rows = [r for r in payload.get("rows", []) if isinstance(r, dict)]
            if not any(r.get("transcript_id") in transcripts for r in rows):
                return "the transcripts of the codings it removed are gone"
        elif entry.action == "memo":
            memo = payload.get("memo")
            if not isinstance(memo, int) or not q.existing_ids(conn, "memos", [memo]):
                return "its memo no longer exists"
        else:
            ids = [i for i in payload.get("suggestions", []) if isinstance(i, int)]
            if not q.existing_ids(conn, "suggestions", ids):
                return "its suggestions no longer exist"
        return ""

    # -- files ---------------------------------------------------------------------------------

    def new_files(self, known: set[str]) -> None:
        from qcode.ingest.pipeline import IngestReport, collect_files, transcript_id

        folder = self.project.root / self.project.transcripts_dir
        if not folder.is_dir():
            return
        waiting = [self.shown(p) for p in collect_files(self.project, None, IngestReport())
                   if transcript_id(p) not in known]
        if waiting:
            self.add("warning", "sources", self.shown(folder),
                     f"{len(waiting)} file(s) not ingested yet: {_listing(waiting)}",
                     "qcode ingest (or move them out of the folder if they were removed on "
                     "purpose)")

    def permissions(self) -> None:
        if os.name != "posix":
            return
        path = Path(self.location)
        # the store file only: SQLite gives its -wal and -shm files the store's own mode, and
        # they vanish when the last process closes the store
        loose = [path] if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077 else []
        if loose:
            modes = ", ".join(f"{self.shown(p)} {stat.S_IMODE(p.stat().st_mode):o}"
                              for p in loose)
            self.add("error", "permissions", self.shown(path),
                     f"the store is readable by others ({modes}); transcripts are personal "
                     "data",
                     _cmd("chmod", "600", *(self.shown(p) for p in loose)))
        folder = path.parent
        inside = folder.resolve() != self.project.root.resolve() and self.shown(folder) != \
            str(folder)
        if inside and stat.S_IMODE(folder.stat().st_mode) & 0o077:
            self.add("warning", "permissions", self.shown(folder),
                     f"the store's folder is open to others "
                     f"({stat.S_IMODE(folder.stat().st_mode):o})",
                     _cmd("chmod", "700", self.shown(folder)))
        backups = folder / "backups"
        if backups.is_dir():
            loose = sorted(p for p in backups.iterdir()
                           if p.is_file() and stat.S_IMODE(p.stat().st_mode) & 0o077)
            if loose:
                self.add("error", "permissions", self.shown(backups),
                         f"{len(loose)} backup(s) readable by others: "
                         f"{_listing(p.name for p in loose)}",
                         _cmd("chmod", "600", *(self.shown(p) for p in loose)))


def check(project: Project) -> CheckReport:
    """Check the project's store and files; never writes to the store, never migrates it."""
    began = time.perf_counter()
    store = q.open_as_is(project.store_location)
    try:
        checker = _Checker(project, store)
        checker.run()
    finally:
        store.close()
    report = checker.report
    order = {s: i for i, s in enumerate(SEVERITIES)}
    report.findings.sort(key=lambda f: order[f.severity])  # stable: in check order within
    report.seconds = time.perf_counter() - began
    return report


# --- backup ------------------------------------------------------------------------------------


@dataclass(slots=True)
class BackupResult:
    path: Path
    engine: str
    size: int  # bytes
    schema_version: int | None
    seconds: float


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def default_backup_path(project: Project, folder: Path | None = None) -> Path:
    """``.qcode/backups/qcode-<UTC time>.db`` beside a SQLite store (``.dump`` for a server),
    or that name in ``folder``."""
    location = project.store_location
    if "://" in location:
        default, suffix = project.root / ".qcode" / "backups", ".dump"
    else:
        default, suffix = Path(location).parent / "backups", ".db"
    folder = folder or default
    stem = f"qcode-{_stamp()}"
    path = folder / f"{stem}{suffix}"
    n = 1
    while path.exists():  # two backups in one second
        n += 1
        path = folder / f"{stem}-{n}{suffix}"
    return path


def backup(project: Project, target: Path | None = None, *, force: bool = False
           ) -> BackupResult:
    """A consistent copy of the store, taken while others may be working on it.

    SQLite: the online backup API; the copy must open and pass ``PRAGMA integrity_check``.
    PostgreSQL: ``pg_dump --format=custom``; the copy must be listed by ``pg_restore``. The
    copy is written beside ``target`` and takes its name only once verified; an existing
    ``target`` is replaced only with ``force``. A folder as ``target`` receives the default
    file name. The copy is readable by its owner only.
    """
    began = time.perf_counter()
    location = project.store_location
    if target is None:
        path = default_backup_path(project)
    elif target.is_dir():
        path = default_backup_path(project, target)
    else:
        path = target
    if path.exists() and not force:
        raise StoreError(f"{path} already exists", hint="choose another file, or add --force "
                         "to replace it")
    if "://" not in location:
        store_path = Path(location).resolve()
        if path.resolve() in {store_path, Path(f"{store_path}-wal"), Path(f"{store_path}-shm")}:
            raise StoreError(f"{path} is the store itself", hint="choose another file")
    pg_dump = _pg_tool("pg_dump") if "://" in location else ""
    _private_folder(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if pg_dump:
            version = _pg_dump(pg_dump, location, tmp)
            engine = "postgresql"
        else:
            version = _sqlite_backup(location, tmp)
            engine = "sqlite"
        _put_in_place(tmp, path, force)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".part")):
            leftover.unlink(missing_ok=True)
    return BackupResult(path, engine, path.stat().st_size, version,
                        time.perf_counter() - began)


def _private_folder(folder: Path) -> None:
    if not folder.exists():
        folder.mkdir(parents=True)
        if folder.name in ("backups", ".qcode"):
            os.chmod(folder, 0o700)
            if folder.parent.name == ".qcode":
                os.chmod(folder.parent, 0o700)


def _owner_only(path: Path) -> None:
    """Create ``path`` empty, readable by its owner only (before anything is written in it)."""
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))


def _sqlite_backup(location: str, tmp: Path) -> int | None:
    store = q.open_as_is(location)
    try:
        store.backup(tmp)  # owner-only from its first byte
    finally:
        store.close()
    problems, version = q.verify_sqlite_copy(tmp)
    if problems:
        raise StoreError(f"the copy failed its integrity check: {_listing(problems, 3)}",
                         path=location, hint="run 'qcode check' on the store")
    return version


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise StoreError(
            f"{name} is not on PATH: backing up a PostgreSQL store needs PostgreSQL's client "
            f"tools ({name})",
            hint="install them (Debian/Ubuntu: apt install postgresql-client; macOS: brew "
                 "install libpq) and run 'qcode backup' again")
    return found


def _pg_dump(pg_dump: str, location: str, tmp: Path) -> int | None:
    from sqlalchemy.engine import make_url

    url = make_url(location)
    env = dict(os.environ)
    if url.password is not None:  # through the environment, never on a command line
        env["PGPASSWORD"] = str(url.password)
    dbname = url.set(drivername="postgresql", password=None).render_as_string(
        hide_password=False)
    _owner_only(tmp)
    with open(tmp, "wb") as out:
        done = subprocess.run([pg_dump, "--format=custom", "--no-password", "--dbname", dbname],
                              stdout=out, stderr=subprocess.PIPE, env=env, check=False)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise StoreError(f"pg_dump failed: {message[-1] if message else done.returncode}",
                         path=redacted(location))
    _verify_dump(tmp, pg_dump, location)
    store = q.open_as_is(location)
    try:
        with store.read() as conn:
            versions = q.schema_versions(conn)
    finally:
        store.close()
    return versions[-1] if versions else None


def _verify_dump(tmp: Path, pg_dump: str, location: str) -> None:
    """The dump is a custom-format archive that ``pg_restore`` can list, with table data."""
    with open(tmp, "rb") as handle:
        if handle.read(5) != b"PGDMP":
            raise StoreError("pg_dump wrote something that is not a custom-format dump",
                             path=redacted(location))
    sibling = Path(pg_dump).with_name("pg_restore")
    pg_restore = shutil.which("pg_restore") or (str(sibling) if sibling.exists() else None)
    if pg_restore is None:
        return
    listed = subprocess.run([pg_restore, "--list", str(tmp)], capture_output=True, check=False)
    if listed.returncode != 0 or b"TABLE DATA" not in listed.stdout:
        raise StoreError("the dump pg_dump wrote cannot be read back by pg_restore",
                         path=redacted(location))


def _put_in_place(tmp: Path, path: Path, force: bool) -> None:
    """Give the verified copy its name: never over an existing file unless ``force``."""
    if force:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if the name was taken meanwhile
    except FileExistsError:
        raise StoreError(f"{path} already exists", hint="choose another file, or add --force "
                         "to replace it") from None
    except OSError:  # a file system without hard links
        if path.exists():
            raise StoreError(f"{path} already exists",
                             hint="choose another file, or add --force to replace it") from None
        os.replace(tmp, path)
