"""The main job of a project (``qcode run``): everything the study needs, in order.

Ingest the transcripts folder, then load, check and sync the codebook, and summarise the
study: transcripts by format, initiative and role, and the codebook's themes. Later stages
(keyword suggestions, exports) are added here as they exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qcode import transcripts as transcripts_lib
from qcode.ingest.pipeline import IngestReport, Progress, ingest
from qcode.project import Project
from qcode.store import Store


@dataclass(slots=True)
class MainJobResult:
    ingest: IngestReport
    summary: dict[str, Any] = field(default_factory=dict)
    codebook: list[dict[str, Any]] = field(default_factory=list)  # one row per theme
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.ingest.ok


def run(project: Project, store: Store, progress: Progress | None = None) -> MainJobResult:
    result = MainJobResult(ingest(project, store, None, progress=progress))
    result.summary = summarise(transcripts_lib.list_transcripts(store))
    path = project.root / project.codebook
    if path.is_file():
        from qcode.codebook_sync import open_synced, overview

        book, _ = open_synced(project, store)
        rows = overview(store, book)
        for theme in book.roots:
            codes = [r for r in rows if r["theme"] == theme and r["id"] != theme]
            result.codebook.append({
                "theme": theme, "label": book.codes[theme].label, "codes": len(codes),
                "keywords": sum(r["keywords"] for r in codes),
                "codings": sum(r["codings"] for r in rows if r["theme"] == theme),
            })
    else:
        result.notes.append(f"no codebook yet at {path}")
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
