"""Coders working apart: export codings as JSON Lines, import another coder's file.

**The file** (``qcode-codings``, version 1) is UTF-8 JSON Lines, ``\\n`` line ends. Line 1 is a
header::

    {"format": "qcode-codings", "version": 1, "qcode": "0.1.0", "project": "…",
     "exported_at": "…", "codebook": {"name": "…", "file": "….yaml", "digest": "<sha256>"},
     "filters": {"coders": ["claire"]}, "codings": 2}

then one line per coding::

    {"transcript": "HV01", "transcript_hash": "<sha256 of the normalised text>",
     "source": "HV01.txt", "start": 1520, "end": 1610, "quote": "…", "turn": 12,
     "code": "entraide", "label": "Entraide", "coder": "claire", "origin": "manual",
     "memo": "", "created_at": "2026-…", "flag": ""}

Offsets are code points into the normalised text, so ``quote`` is ``text[start:end]``. The order
is stable (transcript, start, end, code, coder, origin, creation time) and the file holds
nothing that changes between two exports of the same store: ``exported_at`` is the time of the
latest change among the exported codings, not the clock, so the same store gives the same
bytes. ``memo`` is the coding's memo field followed by the memos written on it (``coder:
text``), blank-line separated. ``codings`` in the header is the number of lines that follow:
a truncated file is detected.

**Import rules.**

- The whole file is read and checked first: a malformed line (bad JSON, a missing or mistyped
  field, a wrong header, fewer or more codings than the header announces) is a validation
  error naming ``file:line`` and nothing is imported (exit 3).
- Transcripts are matched by content, never by path: the transcript whose text has the line's
  ``transcript_hash`` (several: the one with the same id, else the same file name). Else, an
  earlier text of a corrected transcript (``transcript_versions``) with that hash: the span is
  re-anchored through a diff of that text and the current one (:mod:`qcode.anchor`). Else a
  transcript with the same id whose text differs: the quote is searched near its old offsets.
  A coding placed surely is imported and reported as ``reanchored``; one that cannot be placed
  surely (not found, or found several times) is reported as ``unplaced`` and not imported.
  No match at all: ``unknown_transcript``.
- A code that is not a codable code of the project's codebook: ``unknown_code`` (add it with
  ``qcode codebook add``, then import again).
- The same coding (same transcript, span, code and coder) already in the store:
  ``already_present``; nothing is changed, and a memo that differs is reported beside it.
- A **conflict** is reported and nothing is merged: the same coder has coded the same code in
  the same transcript on an overlapping but different span (one of the two copies was edited:
  untag the one you do not want, then import again); or the line contradicts the transcript it
  matches (its quote is not the text at its offsets, or its span lies outside the text).
- Everything else is imported in one transaction with its coder, creation time, memo and flag,
  origin ``import`` (the original origins are kept in the journal entry). The import is one
  journal entry of the importing coder (a ``tag``), so ``qcode undo`` removes what it added.
  Importing the same file again adds nothing.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from qcode.anchor import OffsetMap, place
from qcode.codebook import Codebook
from qcode.errors import ValidationError
from qcode.ingest.limits import DEFAULT_LIMITS, Limits, read_limited
from qcode.project import Project
from qcode.store import Store
from qcode.store import codes as codes_q
from qcode.store import codings as cq
from qcode.store import exchange as xq
from qcode.store import transcripts as tq

FORMAT_NAME = "qcode-codings"
FORMAT_VERSION = 1

# Per line of an import, in the order of the summary.
STATUSES = ("imported", "reanchored", "already_present", "unknown_transcript",
            "unknown_code", "unplaced", "conflict")
FAILED = frozenset({"unknown_transcript", "unknown_code", "unplaced", "conflict"})
FLAGS = ("", "ambiguous", "unplaced")
MAX_PROBLEMS = 20  # malformed lines listed before giving up

_HASH_RE = re.compile(r"[0-9a-f]{64}")

# How a line's transcript was found: its text, an earlier text of a corrected transcript, or
# only its id (a corrected transcript whose earlier text this store never had).
MATCHED_BY = {"same": "text", "version": "earlier text", "corrected": "id"}


# --- export ---------------------------------------------------------------------------------


@dataclass(slots=True)
class CodingsExport:
    data: str
    count: int
    path: Path | None = None
    notes: list[str] = field(default_factory=list)


def combined_memo(own: str, notes: Sequence[tuple[str, str, str]]) -> str:
    """A coding's memo field, then each memo written on it (coder, text, time) as
    ``coder: text``."""
    parts = [own] if own else []
    parts += [f"{coder}: {text}" for coder, text, _ in notes]
    return "\n\n".join(parts)


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _turn_at(bounds: tuple[list[int], list[int]] | None, offset: int) -> int | None:
    """The number of the turn that contains (or follows) ``offset``."""
    if not bounds or not bounds[0]:
        return None
    from bisect import bisect_right

    idxs, ends = bounds
    return idxs[min(bisect_right(ends, offset), len(idxs) - 1)]


def export_codings(project: Project, store: Store, book: Codebook, *,
                   coders: Sequence[str] = (), transcripts: Sequence[str] = (),
                   themes: Sequence[str] = (), codes: Sequence[str] = (),
                   origins: Sequence[str] = ()) -> CodingsExport:
    """The selected codings as a ``qcode-codings`` JSON Lines text (header first)."""
    from qcode import __version__
    from qcode.reports.quotes import check_origins, check_transcripts, code_scope

    scope = code_scope(book, themes, codes)
    origin_ids = check_origins(origins)
    coder_names = list(dict.fromkeys(c.strip() for c in coders if c.strip())) or None
    with store.read() as conn:
        transcript_ids = check_transcripts(transcripts, tq.transcript_ids(conn))
        rows = xq.export_rows(conn, transcripts=transcript_ids, codes=scope,
                              coders=coder_names, origins=origin_ids)
        bounds = xq.turn_bounds(conn, sorted({r["transcript_id"] for r in rows}))
        memos = xq.coding_memos(conn) if rows else {}
        stored_labels = {cid: r["label"] for cid, r in codes_q.stored(conn).items()}
    filters: dict[str, list[str]] = {}
    for name, values in (("coders", coder_names), ("transcripts", transcript_ids),
                         ("themes", [book.resolve(t).id for t in themes]),
                         ("codes", [book.resolve(c).id for c in codes]),
                         ("origins", origin_ids)):
        if values:
            filters[name] = list(values)
    header = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "qcode": __version__,
        "project": project.name,
        "exported_at": max((stamp for r in rows for stamp in
                            (r["updated_at"], *(m[2] for m in memos.get(r["id"], [])))),
                           default=None),
        "codebook": {"name": book.name, "file": book.path.name, "digest": book.digest},
        "filters": filters, "codings": len(rows),
    }
    lines = [_dumps(header)]
    for r in rows:
        code_id = r["code_id"]
        label = book.codes[code_id].label if code_id in book.codes \
            else stored_labels.get(code_id, "")
        lines.append(_dumps({
            "transcript": r["transcript_id"], "transcript_hash": r["text_hash"],
            "source": Path(r["source_path"]).name, "start": r["start"], "end": r["end"],
            "quote": r["snapshot"], "turn": _turn_at(bounds.get(r["transcript_id"]),
                                                     r["start"]),
            "code": code_id, "label": label, "coder": r["coder"], "origin": r["origin"],
            "memo": combined_memo(r["memo"], memos.get(r["id"], [])),
            "created_at": r["created_at"], "flag": r["flag"],
        }))
    notes = [] if rows else ["no coding matches the selection: the file has the header only"]
    return CodingsExport("\n".join(lines) + "\n", len(rows), notes=notes)


def default_path(project: Project, coders: Sequence[str] = ()) -> Path:
    """``<exports>/codings.jsonl``, or ``codings-<coder>.jsonl`` for one coder."""
    names = list(dict.fromkeys(c.strip() for c in coders if c.strip()))
    stem = "codings"
    if len(names) == 1:
        safe = re.sub(r"[^\w.-]+", "-", names[0]).strip("-.")
        stem += f"-{safe}" if safe else ""
    return project.root / project.exports_dir / f"{stem}.jsonl"


def write_codings(project: Project, store: Store, book: Codebook, path: Path | None = None,
                  **options: Any) -> CodingsExport:
    """:func:`export_codings`, written atomically (owner-only) to ``path`` or the default."""
    from qcode.reports.quotes import write_export

    result = export_codings(project, store, book, **options)
    target = path if path is not None else default_path(project, options.get("coders", ()))
    result.path = write_export(target, result.data)
    return result


# --- reading a file -------------------------------------------------------------------------


@dataclass(slots=True)
class CodingLine:
    """One coding of a file, checked."""

    line: int
    transcript: str
    transcript_hash: str
    start: int
    end: int
    quote: str
    code: str
    coder: str
    source: str = ""
    turn: int | None = None
    label: str = ""
    origin: str = ""
    memo: str = ""
    created_at: str | None = None
    flag: str = ""


@dataclass(slots=True)
class CodingsFile:
    path: Path
    header: dict[str, Any]
    codings: list[CodingLine]


class _Malformed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _reject_constant(name: str) -> Any:
    raise _Malformed(f"{name} is not allowed in JSON")


def _text(obj: dict[str, Any], name: str, *, required: bool = False, empty: bool = True,
          max_len: int | None = None) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise _Malformed(f"missing field {name!r}")
        return None
    if not isinstance(value, str):
        raise _Malformed(f"{name!r} must be text, not {type(value).__name__}")
    if not empty and not value.strip():
        raise _Malformed(f"{name!r} is empty")
    if max_len is not None and len(value) > max_len:
        raise _Malformed(f"{name!r} is longer than {max_len} characters")
    return value


def _integer(obj: dict[str, Any], name: str, *, required: bool = False) -> int | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise _Malformed(f"missing field {name!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Malformed(f"{name!r} must be a whole number, not {json.dumps(value)[:30]}")
    return value


def _coding_line(obj: dict[str, Any], line: int) -> CodingLine:
    transcript = _text(obj, "transcript", required=True, empty=False, max_len=200)
    digest = _text(obj, "transcript_hash", required=True)
    start = _integer(obj, "start", required=True)
    end = _integer(obj, "end", required=True)
    quote = _text(obj, "quote", required=True, empty=False)
    code = _text(obj, "code", required=True, empty=False, max_len=200)
    coder = _text(obj, "coder", required=True, empty=False, max_len=200)
    assert transcript and digest is not None and start is not None and end is not None
    assert quote and code and coder
    if not _HASH_RE.fullmatch(digest):
        raise _Malformed("'transcript_hash' must be 64 lowercase hexadecimal digits (sha256)")
    if not 0 <= start < end:
        raise _Malformed(f"invalid span {start}:{end} (0 ≤ start < end)")
    if "\n" in coder or coder != coder.strip():
        raise _Malformed("'coder' must be a name on one line, without surrounding spaces")
    created = _text(obj, "created_at", max_len=32)
    if created is not None:
        try:
            datetime.fromisoformat(created)
        except ValueError:
            raise _Malformed(f"'created_at' is not an ISO 8601 time: {created!r}") from None
    flag = _text(obj, "flag") or ""
    if flag not in FLAGS:
        raise _Malformed(f"unknown flag {flag!r} (expected '', 'ambiguous' or 'unplaced')")
    return CodingLine(
        line=line, transcript=transcript, transcript_hash=digest, start=start, end=end,
        quote=quote, code=code, coder=coder, source=_text(obj, "source") or "",
        turn=_integer(obj, "turn"), label=_text(obj, "label") or "",
        origin=_text(obj, "origin", max_len=50) or "", memo=_text(obj, "memo") or "",
        created_at=created, flag=flag)


def _check_header(obj: dict[str, Any]) -> None:
    if obj.get("format") != FORMAT_NAME:
        raise _Malformed(f"not a qcode codings file: the first line must be the header "
                         f'{{"format": "{FORMAT_NAME}", …}}')
    version = obj.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _Malformed("the header's 'version' must be a whole number")
    if version > FORMAT_VERSION:
        raise _Malformed(f"written by a newer qcode (format version {version}; this one "
                         f"reads up to {FORMAT_VERSION}): upgrade qcode")
    count = obj.get("codings")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise _Malformed("the header's 'codings' must be the number of codings that follow")


def parse_codings(data: bytes, path: Path) -> CodingsFile:
    """Check a whole file; every malformed line is reported at once (ValidationError)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    raw_lines = data.split(b"\n")
    complete = not raw_lines or raw_lines[-1] == b""  # the last line has its line end
    if complete and raw_lines:
        raw_lines.pop()
    problems: list[tuple[int, str]] = []
    header: dict[str, Any] | None = None
    codings: list[CodingLine] = []
    seen = 0  # coding lines, well-formed or not
    last = 0
    for number, raw in enumerate(raw_lines, 1):
        if not raw.strip():
            continue
        last = number
        if header is not None:
            seen += 1
        try:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _Malformed(f"not UTF-8 text (byte {exc.start + 1})") from None
            try:
                obj = json.loads(text, parse_constant=_reject_constant)
            except json.JSONDecodeError as exc:
                raise _Malformed(f"not valid JSON: {exc.msg} (column {exc.colno})") from None
            except RecursionError:
                raise _Malformed("not valid JSON: nested too deeply") from None
            if not isinstance(obj, dict):
                raise _Malformed(f"expected a JSON object {{…}}, not {type(obj).__name__}")
            if header is None:
                _check_header(obj)
                header = obj
            else:
                codings.append(_coding_line(obj, number))
        except _Malformed as exc:
            message = exc.message
            if number == len(raw_lines) and not complete:
                message += " (the file seems truncated)"
            if header is None:  # nothing after a bad header can be trusted
                raise _file_error(path, [(number, message)]) from None
            problems.append((number, message))
            if len(problems) >= MAX_PROBLEMS:
                break
    if header is None:
        raise _file_error(path, [(1, "empty file: expected the header line "
                                    f'{{"format": "{FORMAT_NAME}", …}}')])
    if not problems and seen != header["codings"]:
        problems.append((last, f"the header announces {header['codings']} coding(s) but the "
                               f"file has {seen}: it is truncated or was edited"))
    if problems:
        raise _file_error(path, problems)
    return CodingsFile(path, header, codings)


def _file_error(path: Path, problems: list[tuple[int, str]]) -> ValidationError:
    if len(problems) == 1:
        line, message = problems[0]
        return ValidationError(f"{message}; nothing imported", path=path, line=line)
    more = " (or more)" if len(problems) >= MAX_PROBLEMS else ""
    return ValidationError(f"{len(problems)}{more} malformed lines; nothing imported",
                           problems=[f"{path}:{line}: {message}" for line, message in problems],
                           path=path)


def read_codings(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> CodingsFile:
    """Read and check a ``qcode-codings`` file (size-limited like every outside file)."""
    data = read_limited(path, limits, "codings file")
    return parse_codings(data, path)


# --- import ---------------------------------------------------------------------------------


@dataclass(slots=True)
class LineResult:
    line: int
    status: str
    transcript: str  # as named in the file
    code: str
    coder: str
    start: int
    end: int
    target: str | None = None  # the store's transcript it matched
    matched_by: str = ""  # text | earlier text | id (see MATCHED_BY)
    placed_start: int | None = None
    placed_end: int | None = None
    coding_id: int | None = None
    detail: str = ""


@dataclass(slots=True)
class ImportReport:
    path: Path
    dry_run: bool
    header: dict[str, Any]
    results: list[LineResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    transcripts: list[dict[str, str]] = field(default_factory=list)  # file id → store id

    def counts(self) -> dict[str, int]:
        seen = Counter(r.status for r in self.results)
        return {status: seen[status] for status in STATUSES}

    @property
    def ok(self) -> bool:
        """Everything imported or already present."""
        return not any(r.status in FAILED for r in self.results)

    @property
    def added(self) -> int:
        counts = self.counts()
        return counts["imported"] + counts["reanchored"]

    def problems(self) -> list[LineResult]:
        """Lines that were not imported, or that have something to say."""
        return [r for r in self.results if r.status in FAILED or r.detail]

    def as_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), "dry_run": self.dry_run, "ok": self.ok,
                "summary": self.counts(), "problems": [asdict(r) for r in self.problems()],
                "transcripts": self.transcripts, "notes": self.notes}


class _NearOldPlace(OffsetMap):
    """No earlier text to diff with: the quote is searched near its old offsets."""

    def __init__(self, new: str) -> None:  # no diff: nothing is known to be unchanged
        self.old, self.new = "", new
        self.blocks = []
        self.starts = []

    def exact(self, offset: int) -> int | None:
        return None

    def approx(self, offset: int) -> int:
        return min(max(offset, 0), len(self.new))


@dataclass(slots=True)
class _Match:
    target: str
    how: str  # same | version | corrected
    mapping: OffsetMap | None = None
    old_length: int | None = None


class _Importer:
    """Classifies lines against one consistent view of the store (one transaction)."""

    def __init__(self, conn: Connection, book: Codebook) -> None:
        self.conn, self.book = conn, book
        self.stamp = cq.now()  # the import's time: every coding it adds is updated then
        self.by_hash: dict[str, list[tuple[str, str]]] = {}
        self.by_id: dict[str, str] = {}
        for tid, digest, source in xq.transcript_hashes(conn):
            self.by_hash.setdefault(digest, []).append((tid, Path(source).name))
            self.by_id[tid] = digest
        self.versions: dict[str, list[tuple[str, int]]] = {}
        for tid, version, digest in xq.version_hashes(conn):
            self.versions.setdefault(digest, []).append((tid, version))
        self.texts: dict[str, str] = {}
        self.maps: dict[tuple[str, int], OffsetMap] = {}
        self.exact: dict[tuple[str, int, int, str, str], tuple[int, str]] = {}
        self.spans: dict[tuple[str, str, str], list[tuple[int, int, int]]] = {}
        self.loaded: set[str] = set()
        self.memos: dict[int, list[tuple[str, str, str]]] | None = None
        self.added: set[tuple[str, int, int, str, str]] = set()

    def text(self, tid: str) -> str:
        if tid not in self.texts:
            self.texts.update(xq.texts(self.conn, [tid]))
        return self.texts[tid]

    def _load_codings(self, tid: str) -> None:
        if tid in self.loaded:
            return
        self.loaded.add(tid)
        for r in xq.codings_in(self.conn, [tid]):
            key = (tid, r["start"], r["end"], r["code_id"], r["coder"])
            self.exact.setdefault(key, (r["id"], r["memo"]))
            self.spans.setdefault((tid, r["code_id"], r["coder"]), []).append(
                (r["start"], r["end"], r["id"]))

    def _memo_of(self, coding_id: int, own: str) -> str:
        if self.memos is None:
            self.memos = xq.coding_memos(self.conn)
        return combined_memo(own, self.memos.get(coding_id, []))

    @staticmethod
    def _pick(candidates: list[tuple[str, Any]], line: CodingLine) -> tuple[str, Any] | None:
        """Among transcripts with the same text, the one with the line's id or file name."""
        if len(candidates) == 1:
            return candidates[0]
        for tid, extra in candidates:
            if tid == line.transcript:
                return tid, extra
        return None

    def match(self, line: CodingLine) -> _Match | str:
        """The store's transcript for the line, or why there is none."""
        same = self.by_hash.get(line.transcript_hash, [])
        if same:
            chosen = self._pick(same, line)
            if chosen is None:
                by_name = [c for c in same if line.source and c[1] == line.source]
                chosen = by_name[0] if len(by_name) == 1 else None
            if chosen is None:
                names = ", ".join(tid for tid, _ in same)
                return f"{len(same)} transcripts have this text ({names}): none is named " \
                       f"{line.transcript!r}"
            return _Match(chosen[0], "same")
        earlier = self.versions.get(line.transcript_hash, [])
        if earlier:
            picked = self._pick(earlier, line)
            if picked is None:
                names = ", ".join(f"{tid} (version {v})" for tid, v in earlier)
                return f"earlier texts of several transcripts have this text ({names})"
            tid, version = picked
            key = (tid, version)
            if key not in self.maps:
                old = xq.version_text(self.conn, tid, version) or ""
                self.maps[key] = OffsetMap(old, self.text(tid))
            return _Match(tid, "version", self.maps[key], len(self.maps[key].old))
        if line.transcript in self.by_id:
            key = (line.transcript, 0)
            if key not in self.maps:
                self.maps[key] = _NearOldPlace(self.text(line.transcript))
            return _Match(line.transcript, "corrected", self.maps[key])
        return f"no transcript has this text, and none is named {line.transcript!r}"

    def classify(self, line: CodingLine) -> tuple[LineResult, dict[str, Any] | None]:
        """The line's outcome, and the coding to insert when it is to be imported."""
        result = LineResult(line.line, "", line.transcript, line.code, line.coder,
                            line.start, line.end)
        code = self.book.codes.get(line.code)
        code_problem = None
        if code is None:
            code_problem = (f"no code {line.code!r} in the codebook (add it with 'qcode "
                            "codebook add', then import again)")
        elif not code.codable:
            code_problem = f"{line.code!r} is a theme used as a folder: it cannot be coded"
        found = self.match(line)
        if code_problem is not None:
            result.status = "unknown_code"
            result.detail = code_problem + (f"; also: {found}" if isinstance(found, str)
                                            else "")
            return result, None
        if isinstance(found, str):
            result.status, result.detail = "unknown_transcript", found
            return result, None
        result.target, result.matched_by = found.target, MATCHED_BY[found.how]
        text = self.text(found.target)
        flag, flag_note = line.flag, ""
        if found.how == "same":
            start, end = line.start, line.end
            if end > len(text):
                result.status = "conflict"
                result.detail = (f"span {start}:{end} is outside {found.target} "
                                 f"(0:{len(text)}) although the text is the same")
                return result, None
            snapshot = text[start:end]
            if line.flag == "unplaced":  # kept with its old quote, as in the exporting store
                snapshot = line.quote
                flag_note = "import: flagged unplaced in the exporting project"
            elif snapshot != line.quote:
                result.status = "conflict"
                result.detail = (f"the quote « {_short(line.quote)} » is not the text at "
                                 f"{start}:{end} of {found.target} (« {_short(snapshot)} »)")
                return result, None
            elif line.flag:
                flag_note = f"import: flagged {line.flag} in the exporting project"
        else:
            if found.old_length is not None and line.end > found.old_length:
                result.status = "conflict"
                result.detail = (f"span {line.start}:{line.end} is outside the earlier text "
                                 f"of {found.target} that has this hash")
                return result, None
            assert found.mapping is not None
            placed = place(found.mapping, line.start, line.end, line.quote)
            if placed.flag:
                result.status = "unplaced"
                result.detail = f"corrected since the export: {placed.note}; not imported"
                return result, None
            start, end = placed.start, placed.end
            if placed.how == "fuzzy":
                start, end = refine_edges(text, start, end, line.quote)
            snapshot, flag = text[start:end], ""
            where = "its earlier text" if found.how == "version" else "its old offsets"
            flag_note = (f"import: re-anchored on the corrected text ({placed.how}, from "
                         f"{where})" + (f": {placed.note}" if placed.note else ""))
            result.detail = (f"corrected since the export: placed at {start}:{end} "
                             f"({placed.how})" + (f"; {placed.note}" if placed.note else ""))
        result.placed_start, result.placed_end = start, end
        return self._against_store(line, result, found.target, start, end, snapshot, flag,
                                   flag_note, reanchored=found.how != "same")

    def _against_store(self, line: CodingLine, result: LineResult, tid: str, start: int,
                       end: int, snapshot: str, flag: str, flag_note: str, *,
                       reanchored: bool) -> tuple[LineResult, dict[str, Any] | None]:
        self._load_codings(tid)
        key = (tid, start, end, line.code, line.coder)
        if key in self.exact:
            coding_id, own = self.exact[key]
            result.status, result.coding_id = "already_present", coding_id
            memo = self._memo_of(coding_id, own)
            if line.memo and line.memo != memo:
                result.detail = (f"memo differs: the store's is kept (« {_short(memo)} »); "
                                 f"the file's: « {_short(line.memo)} »")
            else:
                result.detail = ""
            return result, None
        if key in self.added:
            result.status, result.detail = "already_present", "repeats an earlier line"
            return result, None
        for s_, e_, other in self.spans.get((tid, line.code, line.coder), []):
            if s_ < end and start < e_:
                result.status = "conflict"
                result.detail = (f"{line.coder} already coded {line.code} at {s_}:{e_} of "
                                 f"{tid} (coding {other}), overlapping {start}:{end}: untag "
                                 "the one you do not want, then import again")
                return result, None
        self.added.add(key)
        result.status = "reanchored" if reanchored else "imported"
        return result, {
            "transcript_id": tid, "start": start, "end": end, "code_id": line.code,
            "coder": line.coder, "origin": "import", "snapshot": snapshot, "memo": line.memo,
            "created_at": line.created_at or self.stamp, "updated_at": self.stamp, "flag": flag,
            "flag_note": flag_note,
        }


def refine_edges(text: str, start: int, end: int, quote: str) -> tuple[int, int]:
    """Snap the edges of a fuzzy placement to the quote's first and last characters.

    A fuzzy alignment may cut a few words off a long passage or take a few too many. A diff
    of the quote against the placed text and its surroundings (:class:`OffsetMap`) finds where
    the quote's first and last characters are, when they are unchanged; the new edges are
    kept only if the passage then reads at least as close to the quote.
    """
    from rapidfuzz import fuzz

    margin = max(40, len(quote) // 5)
    lo, hi = max(0, start - margin), min(len(text), end + margin)
    local = OffsetMap(quote, text[lo:hi])
    first, last = local.exact(0), local.exact(len(quote) - 1)
    new_start = lo + first if first is not None else start
    new_end = lo + last + 1 if last is not None else end
    if new_start >= new_end or (new_start, new_end) == (start, end):
        return start, end
    if fuzz.ratio(text[new_start:new_end], quote) < fuzz.ratio(text[start:end], quote):
        return start, end
    return new_start, new_end


def _short(text: str, width: int = 50) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _mapping_notes(report: ImportReport) -> None:
    """One note per transcript matched under another id, or corrected since the export."""
    pairs: dict[tuple[str, str, str], None] = {}
    for r in report.results:
        if r.target is not None and (r.target != r.transcript or r.matched_by != "text"):
            pairs[(r.transcript, r.target, r.matched_by)] = None
    report.transcripts = [{"file": a, "store": b, "matched_by": how}
                          for a, b, how in sorted(pairs)]
    renamed = [f"{a} → {b}" for a, b, how in sorted(pairs) if how == "text"]
    if renamed:
        shown = ", ".join(renamed[:5]) + (f", … ({len(renamed)} in all)" if len(renamed) > 5
                                          else "")
        report.notes.append(f"{len(renamed)} transcript(s) of the file found here by their "
                            f"text under another id: {shown}")
    for a, b, how in sorted(pairs):
        name = f"is {b} here" if a != b else "is here"
        if how == "text":
            continue
        if how == "earlier text":
            report.notes.append(f"transcript {a} of the file {name}, corrected since the "
                                "export: codings re-anchored through the diff of the two texts")
        else:
            report.notes.append(f"transcript {a} of the file {name}, with another text: "
                                "codings re-anchored by searching their quotes")


def import_codings(project: Project, store: Store, book: Codebook, path: Path, *,
                   coder: str, dry_run: bool = False) -> ImportReport:
    """Import a ``qcode-codings`` file: checked whole first, then one transaction.

    ``coder`` is who runs the import: the journal entry is theirs, so their ``qcode undo``
    removes what was added. With ``dry_run`` the store is only read.
    """
    parsed = read_codings(path, limits=project.limits)
    report = ImportReport(path, dry_run, parsed.header)
    codebook = parsed.header.get("codebook")
    if isinstance(codebook, dict) and codebook.get("digest") not in (None, book.digest):
        report.notes.append(f"the file was exported with another codebook "
                            f"({codebook.get('name') or codebook.get('file') or '?'}); codes "
                            "are matched by id")
    opener = store.read if dry_run else store.write
    with opener() as conn:
        importer = _Importer(conn, book)
        rows: list[dict[str, Any]] = []
        pending: list[LineResult] = []
        origins: list[str] = []
        for line in parsed.codings:
            result, row = importer.classify(line)
            report.results.append(result)
            if row is not None:
                rows.append(row)
                pending.append(result)
                origins.append(line.origin)
        if rows and not dry_run:
            ids = xq.insert_codings(conn, rows)
            for result, coding_id in zip(pending, ids, strict=True):
                result.coding_id = coding_id
            cq.log(conn, coder, "tag", {"codings": ids, "import": path.name,
                                        "origins": origins})
    _mapping_notes(report)
    return report
