"""Keep the store's codes in step with the codebook YAML (the source of truth).

The store remembers the digest of the codebook it last synced; when the file changes, its
codes replace the stored ones. Removing a code that codings still use is refused with the list
of those codings, unless forced: then the code is kept as an *orphan* with its codings, listed,
never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qcode.codebook import Codebook, load_valid
from qcode.errors import ValidationError
from qcode.project import Project
from qcode.store import Store
from qcode.store import codes as q


@dataclass(slots=True)
class SyncReport:
    changed: bool = False
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    orphan_codings: list[dict[str, Any]] = field(default_factory=list)


def code_rows(book: Codebook) -> list[dict[str, Any]]:
    return [
        {"id": c.id, "parent_id": c.parent, "label": c.label, "depth": c.depth,
         "position": i, "codable": c.codable, "color": c.color, "key": c.key,
         "description": c.description, "status": "active"}
        for i, c in enumerate(book.walk())
    ]


def describe_codings(rows: list[dict[str, Any]]) -> list[str]:
    """One line per coding: code, transcript, span, coder, the start of the quote."""
    out = []
    for r in rows:
        quote = r["snapshot"].replace("\n", " ")
        if len(quote) > 60:
            quote = quote[:57] + "…"
        out.append(f"{r['code_id']}: {r['transcript_id']} [{r['start']}:{r['end']}] "
                   f"by {r['coder']} ({r['origin']}): « {quote} »")
    return out


def sync(store: Store, book: Codebook, *, force: bool = False) -> SyncReport:
    """Bring the store's codes in line with ``book`` (a no-op when it has not changed)."""
    report = SyncReport()
    with store.write() as conn:
        state = q.state(conn)
        if state.get("digest") == book.digest and state.get("path") == str(book.path):
            return report
        existing = q.stored(conn)
        counts = q.coding_counts(conn)
        gone = [cid for cid in existing if cid not in book.codes]
        used = [cid for cid in gone if counts.get(cid)]
        if used and not force:
            affected = q.codings_of(conn, used)
            raise ValidationError(
                f"the codebook no longer has {', '.join(repr(c) for c in used)}, which "
                f"{len(affected)} coding(s) still use",
                problems=describe_codings(affected), path=book.path,
                hint="put the code back, merge it into another ('qcode codebook merge'), or "
                     "run 'qcode codebook sync --force' to keep those codings as orphans")
        rows = code_rows(book)
        orphans = [{**existing[cid], "status": "orphan", "position": len(rows) + i}
                   for i, cid in enumerate(used)]
        q.replace_codes(conn, rows + orphans)
        q.set_state(conn, digest=book.digest, path=str(book.path))
        report.changed = True
        report.added = [cid for cid in book.codes if cid not in existing]
        report.removed = [cid for cid in gone if cid not in used]
        report.orphaned = used
        report.orphan_codings = q.codings_of(conn, used)
    return report


def mark_synced(conn: Any, book: Codebook) -> None:
    """After an edit that updated the store itself: record the new file as synced."""
    q.replace_codes(conn, code_rows(book) + [
        r for r in q.stored(conn).values() if r["status"] == "orphan" and r["id"] not in
        book.codes])
    q.set_state(conn, digest=book.digest, path=str(book.path))


def open_synced(project: Project, store: Store, *, force: bool = False
                ) -> tuple[Codebook, SyncReport]:
    """The project's codebook, validated (exit 3 on errors) and synced into the store."""
    book = load_valid(project.root / project.codebook)
    return book, sync(store, book, force=force)


def overview(store: Store, book: Codebook) -> list[dict[str, Any]]:
    """One row per theme or code, in tree order, then any orphan code kept for its codings."""
    with store.read() as conn:
        counts = q.coding_counts(conn)
        orphans = [r for r in q.stored(conn).values() if r["status"] == "orphan"]
    rows = []
    for code in book.walk():
        subtree = [code.id, *book.descendants(code.id)]
        rows.append({
            "id": code.id, "label": code.label, "depth": code.depth, "parent": code.parent,
            "theme": book.theme_of(code.id), "codable": code.codable, "key": code.key,
            "color": code.color, "unit": code.unit, "keywords": len(code.keywords),
            "codings": counts.get(code.id, 0),
            "codings_with_subcodes": sum(counts.get(c, 0) for c in subtree),
            "status": "active",
        })
    for r in orphans:
        rows.append({"id": r["id"], "label": r["label"], "depth": r["depth"],
                     "parent": r["parent_id"], "theme": None, "codable": r["codable"],
                     "key": r["key"], "color": r["color"], "unit": None, "keywords": 0,
                     "codings": counts.get(r["id"], 0),
                     "codings_with_subcodes": counts.get(r["id"], 0), "status": "orphan"})
    return rows
