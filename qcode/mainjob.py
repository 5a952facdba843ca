"""The main job of a project (``qcode run``): everything the study needs, in order.

Ingest the transcripts folder; load, check and sync the codebook; compute keyword suggestions
and accept those scoring at least :data:`ACCEPT_SCORE` as the coder ``qcode-keywords``
(origin ``keyword``, never mistaken for a human coding); write the quotes per theme (Markdown
and CSV) and the theme digest (Markdown and HTML) into the exports folder; and summarise the
study: transcripts by format, initiative and role, and per theme its codes, suggestions and
codings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qcode import transcripts as transcripts_lib
from qcode.coders import KEYWORD_CODER
from qcode.ingest.pipeline import IngestReport, Progress, ingest
from qcode.project import Project
from qcode.store import Store

# Suggestions scoring at least this are accepted by the main job as the coder
# 'qcode-keywords' (origin 'keyword'); chosen from bench/bench_quality.py against the
# hand-coded gold standard (see the README).
ACCEPT_SCORE = 0.5


@dataclass(slots=True)
class MainJobResult:
    ingest: IngestReport
    summary: dict[str, Any] = field(default_factory=dict)
    codebook: list[dict[str, Any]] = field(default_factory=list)  # one row per theme
    notes: list[str] = field(default_factory=list)
    accepted: int = 0
    exports: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.ingest.ok


def run(project: Project, store: Store, progress: Progress | None = None) -> MainJobResult:
    result = MainJobResult(ingest(project, store, None, progress=progress))
    result.summary = summarise(transcripts_lib.list_transcripts(store))
    path = project.root / project.codebook
    if not path.is_file():
        result.notes.append(f"no codebook yet at {path}")
        return result
    from qcode.codebook_sync import open_synced, overview
    from qcode.suggest import accept_suggestions, list_suggestions, suggest

    book, _ = open_synced(project, store)
    report = suggest(project, store, book, progress=progress)
    result.notes.extend(report.notes)
    result.accepted = accept_suggestions(store, min_score=ACCEPT_SCORE, coder=KEYWORD_CODER,
                                         origin="keyword")
    from qcode.reports.digest import write_digest
    from qcode.reports.quotes import write_quotes

    for fmt in ("md", "csv"):
        exported = write_quotes(project, store, book, fmt=fmt)
        assert exported.path is not None
        result.exports.append(exported.path)
    for fmt in ("md", "html"):
        result.exports.append(write_digest(project, store, book, fmt))
    pending = list_suggestions(store, statuses=["pending"])
    rows = overview(store, book)
    for theme in book.roots:
        codes = [r for r in rows if r["theme"] == theme and r["id"] != theme]
        ids = {r["id"] for r in codes}
        result.codebook.append({
            "theme": theme, "label": book.codes[theme].label, "codes": len(codes),
            "keywords": sum(r["keywords"] for r in codes),
            "codings": sum(r["codings"] for r in rows if r["theme"] == theme),
            "pending_suggestions": sum(1 for s in pending if s["code"] in ids),
        })
    return result


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Transcripts, turns and words by format, by initiative and by role, and in total."""

    def group(name: str, key: Any) -> list[dict[str, Any]]:
        acc: dict[str, dict[str, Any]] = {}
        for r in rows:
            value = key(r) or "(none)"
            g = acc.setdefault(value, {"group": name, "value": value, "transcripts": 0,
                                       "turns": 0, "words": 0})
            g["transcripts"] += 1
            g["turns"] += r["turns"]
            g["words"] += r["words"]
        return [acc[k] for k in sorted(acc)]

    return {
        "by_format": group("format", lambda r: r["format"]),
        "by_attribute": group("initiative", lambda r: r["attributes"].get("initiative"))
        + group("role", lambda r: r["attributes"].get("role")),
        "totals": [{"group": "total", "value": "all", "transcripts": len(rows),
                    "turns": sum(r["turns"] for r in rows),
                    "words": sum(r["words"] for r in rows)}],
        "transcripts_without_interviewer": [r["id"] for r in rows if not r["interviewer"]],
    }
