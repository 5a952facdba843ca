"""What every input to a reader must satisfy: the fuzz targets, without atheris.

A target takes the bytes of a file and reads them the way qcode does (every reader is imported
at the top, so that the harness instruments it for coverage). The only exception it may
let out is the reader's own :class:`~qcode.errors.QcodeError` (one clear line for the user); an
"internal error" (a reader that built impossible turns), any other exception, or a result that
breaks the transcript invariants is a crash. ``tests/test_fuzz.py`` replays the files in
``tests/fuzz/regressions/<target>/`` through these functions, and runs the atheris harnesses
(``fuzz_<target>.py``) that call them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

# the readers read_file imports on first use: imported here, inside the harness's instrumentation
import qcode.ingest.captions
import qcode.ingest.otter
import qcode.ingest.text
import qcode.ingest.trs  # noqa: F401
from qcode.errors import QcodeError
from qcode.ingest.limits import MAX_TIME_MS
from qcode.ingest.pipeline import build_record, read_file
from qcode.project import Project
from qcode.refi import read_qdc
from qcode.yamlutil import load_yaml
from tests.ingest.invariants import assert_transcript_invariants

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
STUDY = REPO / "transcripts"
HERE = Path(__file__).resolve().parent

_PROJECT = Project(root=REPO)


def _reject_internal(exc: QcodeError) -> None:
    if "internal error" in str(exc):
        raise AssertionError(f"the reader built impossible turns: {exc}") from exc


def check_transcript(data: bytes, name: str) -> None:
    """Read ``data`` as the file ``name`` through the ingest pipeline, as ``qcode ingest`` does:
    the turns must be ordered spans of the normalised text with sane times, and the record
    (roles, sentences, word counts) must build."""
    path = Path(name)
    try:
        parsed = read_file(path, data)
    except QcodeError as exc:
        _reject_internal(exc)
        return
    assert_transcript_invariants(parsed)
    for turn in parsed.turns:
        for time_ms in (turn.start_ms, turn.end_ms):
            assert time_ms is None or 0 <= time_ms <= MAX_TIME_MS, turn
    record = build_record(_PROJECT, path.stem, path, data, parsed, None)
    for sentence in record.sentences:
        stored = record.turns[sentence.turn_idx - 1]
        assert stored.start <= sentence.start < sentence.end <= stored.end, (sentence, stored)


def check_text(data: bytes) -> None:
    """Plain text (with Otter.ai detection) and Markdown (with YAML front matter)."""
    check_transcript(data, "fuzz.txt")
    check_transcript(data, "fuzz.md")


def check_vtt(data: bytes) -> None:
    check_transcript(data, "fuzz.vtt")


def check_srt(data: bytes) -> None:
    check_transcript(data, "fuzz.srt")


def check_trs(data: bytes) -> None:
    check_transcript(data, "fuzz.trs")


def check_qdc(data: bytes) -> None:
    """A REFI-QDA codebook: read, or refused with an InputError; what is read must be YAML
    that qcode reads back."""
    try:
        result = read_qdc(data, Path("fuzz.qdc"), imported_on=dt.date(2024, 1, 1))
    except QcodeError as exc:
        _reject_internal(exc)
        return
    document, _ = load_yaml(result.yaml_text, "fuzz.yaml")
    assert isinstance(document, dict) and isinstance(document.get("themes"), list), document


TARGETS: dict[str, Callable[[bytes], None]] = {
    "text": check_text,
    "vtt": check_vtt,
    "srt": check_srt,
    "trs": check_trs,
    "qdc": check_qdc,
}


def _head(path: Path, size: int = 3000) -> bytes:
    """The start of a study transcript, cut at a line end: a realistic, small seed."""
    data = path.read_bytes()[:size]
    return data[: data.rfind(b"\n") + 1] or data


def seeds(target: str) -> dict[str, bytes]:
    """The seed corpus of a target: the fixtures of its format, the start of a few of the
    study's transcripts, and every regression input found so far."""
    out: dict[str, bytes] = {}
    if target == "text":
        for path in sorted((FIXTURES / "ingest" / "otter").glob("*.txt")):
            out[f"otter-{path.name}"] = path.read_bytes()
        for name in ("AC01.txt", "AC02.md", "AC04.txt"):
            if (STUDY / name).is_file():
                out[f"study-{name}"] = _head(STUDY / name)
        out["front-matter.md"] = (
            b"---\ninitiative: Les Ailes\nrole: porteur\n---\n# Entretien\n\nDate : 3 mars\n\n"
            b"**E :** Bonjour [00:00:01]\n\nKarim (42 ans) : On s'entraide. #00:00:05-2#\n"
        )
    elif target in ("vtt", "srt"):
        for path in sorted((FIXTURES / "ingest" / "captions").glob(f"*.{target}")):
            out[path.name] = path.read_bytes()
        for path in sorted(STUDY.glob(f"*.{target}"))[:2]:
            out[f"study-{path.name}"] = _head(path)
    elif target == "trs":
        for path in sorted((FIXTURES / "ingest" / "trs").glob("*.trs")):
            out[path.name] = path.read_bytes()
        for path in sorted(STUDY.glob("*.trs"))[:1]:
            out[f"study-{path.name}"] = path.read_bytes()[:8000]
    elif target == "qdc":
        for path in sorted((FIXTURES / "refi").glob("*.qdc")):
            out[path.name] = path.read_bytes()
    else:
        raise KeyError(target)
    for path in sorted((HERE / "regressions" / target).glob("*")):
        if path.is_file():
            out[f"regression-{path.name}"] = path.read_bytes()
    return out
