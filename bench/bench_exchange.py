"""Benchmark ``qcode export codings`` and ``qcode import codings`` (coders working apart).

Measured, figures printed (never asserted):

1. **The bundled study** — ``qcode.yaml``, ``transcripts/`` and ``codebooks/`` are copied to a
   temporary project A (the repository's own store is never touched); ``qcode run`` codes it
   with the keyword coder (not timed), and the hand coding of ``tests/fixtures/gold`` is added
   as the coder ``gold``. Project B holds the same transcripts under other names
   (``entretien-hv01.txt`` …, the attribute sheet renamed to match). Timed, in-process (median
   of ``--runs``): the export of all of A's codings; B's first import of that file, a second
   import (idempotent: everything already present) and a dry run; ``qcode export codings`` and
   ``qcode import codings`` (the second, idempotent) as whole processes, start-up included.
   Then the import is undone, ``--corrected`` transcripts of B are corrected (a sentence
   inserted at the start of a participant's turn, a word changed in another) and re-ingested,
   and the import runs again: the codings of those transcripts are re-anchored through the
   diff of their earlier and current texts.
2. **A generated archive** of ``--count`` transcripts (``bench.generate``) with about
   ``--codings`` seeded codings per transcript (no spaCy, as in ``bench_exports``), exported;
   a second project ingests the same files renamed, and imports the file (first import, then
   the idempotent second one).

Usage::

    python -m bench.bench_exchange                 # study + archive of 1,000
    python -m bench.bench_exchange --count 4000    # a larger archive
    python -m bench.bench_exchange --no-archive    # the study only
    python -m bench.bench_exchange --keep          # keep the temporary projects

The figures are printed as a table and written to ``bench/out/exchange.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TypeVar

from bench.bench_exports import count_codings, seed_codings
from bench.bench_ingest import Figure, _machine, _print_table, qcode_argv, run
from bench.generate import generate_corpus
from qcode import coding
from qcode.codebook import Codebook
from qcode.codebook_sync import open_synced
from qcode.exchange import ImportReport, import_codings, write_codings
from qcode.ingest.pipeline import ingest
from qcode.project import Project
from qcode.project import init as init_project
from qcode.project import load as load_project
from qcode.store import Store
from qcode.store import codings as cq
from qcode.store import transcripts as tq

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = Path(__file__).resolve().parent / "out"
CODEBOOK = REPO / "codebooks" / "voisinage-resilience.yaml"
GOLD = REPO / "tests" / "fixtures" / "gold"
IMPORTER = "bench-importer"
TARGET_STUDY_S = 1.0  # each of export and import of the study, in-process

T = TypeVar("T")


def timed(fn: Callable[[], T], runs: int = 1) -> tuple[T, list[float]]:
    """``fn`` run ``runs`` times; its last result and every wall time."""
    walls: list[float] = []
    result: T | None = None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - start)
    assert result is not None
    return result, walls


def _figure(name: str, walls: list[float], target: float | None = None,
            **detail: object) -> Figure:
    value = statistics.median(walls)
    shown = name + (f" (median of {len(walls)})" if len(walls) > 1 else "")
    status = "" if target is None else ("ok" if value < target else "over")
    return Figure(shown, round(value, 3), "s", f"< {target:g} s" if target else "", status,
                  {"runs": [round(w, 4) for w in walls], **detail})


def _open(root: Path) -> tuple[Project, Store, Codebook]:
    project = load_project(root)
    store = Store.open(project.store_location)
    book, _ = open_synced(project, store)
    return project, store, book


def _summary(report: ImportReport) -> dict[str, object]:
    return {k: v for k, v in report.counts().items() if v}


# --------------------------------------------------------------------------------------------
# 1. The study


def _study_copy(root: Path, rename: Callable[[str], str]) -> None:
    root.mkdir()
    shutil.copy2(REPO / "qcode.yaml", root / "qcode.yaml")
    shutil.copytree(REPO / "codebooks", root / "codebooks")
    folder = root / "transcripts"
    folder.mkdir()
    for path in sorted((REPO / "transcripts").iterdir()):
        if path.name == "attributes.csv":
            lines = path.read_text("utf-8").splitlines()
            body = [rename(line.split(",", 1)[0]) + "," + line.split(",", 1)[1]
                    for line in lines[1:] if "," in line]
            (folder / path.name).write_text("\n".join([lines[0], *body]) + "\n", "utf-8")
        elif path.is_file() and not path.name.startswith(("README", ".")):
            shutil.copy2(path, folder / f"{rename(path.stem)}{path.suffix}")


def _code_gold(store: Store) -> int:
    """The hand coding of six interviews as the coder ``gold``."""
    added = 0
    with store.write() as conn:
        for path in sorted(GOLD.glob("*.jsonl")):
            rec = tq.load(conn, path.stem)
            assert rec is not None
            turns = {t.idx: t for t in rec.turns}
            for raw in path.read_text("utf-8").splitlines():
                row = json.loads(raw)
                start = rec.text.index(row["quote"], turns[row["turn"]].start)
                end = start + len(row["quote"])
                added += cq.add(conn, transcript_id=rec.id, start=start, end=end,
                                code_id=row["code"], coder="gold", origin="manual",
                                snapshot=rec.text[start:end], memo=row["note"])[1]
    return added


def _correct(root: Path, project: Project, store: Store, count: int) -> list[str]:
    """Correct ``count`` transcripts of B (text files): a sentence inserted at the start of a
    participant's turn, a word changed in another; returns their ids."""
    corrected = []
    with store.read() as conn:
        ids = tq.transcript_ids(conn)
    for tid in ids:
        if len(corrected) >= count:
            break
        path = next((p for p in (root / project.transcripts_dir).glob(f"{tid}.*")
                     if p.suffix in (".txt", ".md")), None)
        if path is None:
            continue
        with store.read() as conn:
            rec = tq.load(conn, tid)
        assert rec is not None
        turns = [t for t in rec.turns if t.role == "participant" and t.end - t.start > 200]
        if len(turns) < 4:
            continue
        raw = path.read_text("utf-8")
        first = rec.text[turns[1].start:turns[1].start + 40]
        later = rec.text[turns[3].start:turns[3].end].split()
        word = next((w for w in later if len(w) > 6 and raw.count(w) == 1), None)
        if raw.count(first) != 1 or word is None:
            continue
        raw = raw.replace(first, "Alors, pour vous répondre franchement. " + first)
        raw = raw.replace(word, word.upper())
        path.write_text(raw, "utf-8")
        corrected.append(tid)
    return corrected


def study(work: Path, runs: int, corrected_count: int) -> list[Figure]:
    a, b = work / "study-A", work / "study-B"
    _study_copy(a, lambda tid: tid)
    _study_copy(b, lambda tid: f"entretien-{tid.lower()}")
    print("study: qcode run in A (ingest, lemmatise, suggest, accept) …", file=sys.stderr)
    main_job = run([*qcode_argv(), "run"], a)
    if main_job.returncode != 0:
        raise SystemExit(f"qcode run failed in {a} (exit {main_job.returncode}):\n"
                         + "\n".join(main_job.stderr.splitlines()[-10:]))
    proj_a, store_a, book_a = _open(a)
    proj_b, store_b, book_b = _open(b)
    try:
        gold = _code_gold(store_a)
        report_b = ingest(proj_b, store_b)
        codings_a = count_codings(store_a)
        print("study: export and imports in-process …", file=sys.stderr)
        exported, export_walls = timed(lambda: write_codings(proj_a, store_a, book_a), runs)
        assert exported.path is not None
        path = exported.path

        def do_import(dry: bool = False) -> ImportReport:
            return import_codings(proj_b, store_b, book_b, path, coder=IMPORTER, dry_run=dry)

        dry, dry_walls = timed(lambda: do_import(True), runs)
        first, first_walls = timed(do_import)
        again, again_walls = timed(do_import, runs)
        print("study: as whole processes …", file=sys.stderr)
        export_proc = run([*qcode_argv(), "export", "codings", "--out", str(work / "a.jsonl")],
                          a)
        import_proc = run([*qcode_argv(), "import", "codings", str(path), "--coder", IMPORTER],
                          b)
        print(f"study: correcting {corrected_count} transcripts of B, importing again …",
              file=sys.stderr)
        coding.undo(store_b, IMPORTER)
        fixed = _correct(b, proj_b, store_b, corrected_count)
        reingest = ingest(proj_b, store_b)
        anchored, anchored_walls = timed(do_import)
    finally:
        store_a.close()
        store_b.close()
    size = path.stat().st_size
    return [
        Figure("study: qcode run in A (not timed as an exchange)", round(main_job.wall_s, 3),
               "s", "", "", {"codings": codings_a, "gold_codings_added": gold}),
        _figure("study: export all codings of A", export_walls, TARGET_STUDY_S,
                codings=exported.count, megabytes=round(size / 1e6, 3)),
        _figure("study: dry run into B (renamed transcripts)", dry_walls, TARGET_STUDY_S,
                summary=_summary(dry), ingest_ok=report_b.ok),
        _figure("study: first import into B", first_walls, TARGET_STUDY_S,
                summary=_summary(first)),
        _figure("study: second import (idempotent)", again_walls, TARGET_STUDY_S,
                summary=_summary(again)),
        _figure("study: `qcode export codings` (process)", [export_proc.wall_s],
                exit_code=export_proc.returncode,
                peak_memory_mb=round(export_proc.maxrss_mb, 1)),
        _figure("study: `qcode import codings`, idempotent (process)", [import_proc.wall_s],
                exit_code=import_proc.returncode,
                peak_memory_mb=round(import_proc.maxrss_mb, 1)),
        _figure(f"study: import after correcting {len(fixed)} transcripts of B",
                anchored_walls, TARGET_STUDY_S, summary=_summary(anchored), corrected=fixed,
                reingest_ok=reingest.ok),
    ]


# --------------------------------------------------------------------------------------------
# 2. A generated archive


def archive(work: Path, count: int, seed: int, per_transcript: int) -> list[Figure]:
    a, b = work / "archive-A", work / "archive-B"
    figures: list[Figure] = []
    for root in (a, b):
        init_project(root, name=f"archive of {count}")
        project = load_project(root)
        shutil.copy2(CODEBOOK, root / project.codebook)
        print(f"archive: generating {count:,} transcripts into {root.name} …", file=sys.stderr)
        folder = root / project.transcripts_dir
        generate_corpus(folder, count, seed)
        if root == b:  # other names, same texts
            for path in sorted(folder.iterdir()):
                if path.name != "attributes.csv":
                    path.rename(folder / f"b-{path.name}")
            (folder / "attributes.csv").unlink()
        store = Store.open(project.store_location)
        try:
            print(f"archive: ingesting {root.name} …", file=sys.stderr)
            ingest(project, store)
        finally:
            store.close()
    proj_a, store_a, book_a = _open(a)
    proj_b, store_b, book_b = _open(b)
    try:
        print("archive: seeding codings in A …", file=sys.stderr)
        seed_codings(store_a, book_a, per_transcript, seed)
        codings_a = count_codings(store_a)
        print("archive: export, import, import again …", file=sys.stderr)
        exported, export_walls = timed(lambda: write_codings(proj_a, store_a, book_a))
        assert exported.path is not None
        path = exported.path

        def do_import() -> ImportReport:
            return import_codings(proj_b, store_b, book_b, path, coder=IMPORTER)

        first, first_walls = timed(do_import)
        again, again_walls = timed(do_import)
    finally:
        store_a.close()
        store_b.close()
    figures += [
        _figure(f"archive: export ({count:,} transcripts)", export_walls,
                codings=codings_a, megabytes=round(path.stat().st_size / 1e6, 2)),
        _figure("archive: first import (renamed transcripts)", first_walls,
                summary=_summary(first)),
        _figure("archive: second import (idempotent)", again_walls, summary=_summary(again)),
    ]
    return figures


# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_exchange",
                                     description="Time the export and import of codings.")
    parser.add_argument("--count", type=int, default=1000,
                        help="transcripts in the generated archive (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the archive")
    parser.add_argument("--codings", type=int, default=10,
                        help="codings per transcript of the archive, on average (default 10)")
    parser.add_argument("--runs", type=int, default=3,
                        help="runs of each study measure (median reported)")
    parser.add_argument("--corrected", type=int, default=5,
                        help="transcripts of the study corrected before the last import")
    parser.add_argument("--no-study", action="store_true", help="skip the bundled study")
    parser.add_argument("--no-archive", action="store_true", help="skip the generated archive")
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    parser.add_argument("--json", type=Path, default=OUT_DIR / "exchange.json",
                        help="where to write the figures (default bench/out/exchange.json)")
    args = parser.parse_args(argv)
    if args.count < 1 or args.runs < 1 or args.codings < 1:
        parser.error("--count, --runs and --codings must be at least 1")

    work = Path(tempfile.mkdtemp(prefix="qcode-bench-exchange-"))
    figures: list[Figure] = []
    try:
        if not args.no_study:
            figures += study(work, args.runs, args.corrected)
        if not args.no_archive:
            figures += archive(work, args.count, args.seed, args.codings)
    finally:
        if args.keep:
            print(f"kept the temporary projects in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    machine = _machine()
    print(f"\nqcode {machine['qcode']} · Python {machine['python']} · {machine['cpus']} CPUs · "
          f"{machine['date']}\n")
    _print_table(figures)
    for f in figures:
        if "summary" in f.detail:
            print(f"  {f.name}: {f.detail['summary']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine, "count": args.count, "seed": args.seed,
               "codings_per_transcript": args.codings, "runs": args.runs,
               "figures": [asdict(f) for f in figures]}
    args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n",
                         encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
