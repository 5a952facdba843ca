"""Benchmark the REFI-QDA project exchange: ``qcode export qdpx`` and ``qcode import qdpx``.

The bundled study — ``qcode.yaml``, ``transcripts/`` and ``codebooks/`` — is copied to a
temporary folder (the repository's own store is never touched) and ``qcode run`` runs there
once: it ingests the 40 interviews and accepts the keyword codings as ``qcode-keywords`` (not
timed). Then, each timed in this process, median of ``--runs`` (the first run pays for lazy
imports):

1. **export**: :func:`qcode.qdpx.write_qdpx` of the whole coded study (every transcript, the
   codebook, every coding, the attributes) — target under 3 s;
2. **import**: :func:`qcode.qdpx.import_qdpx` of that file into a new, empty project
   (:func:`qcode.project.init`, a new one for each run): 40 transcripts written and read by the
   text reader, the codebook written, every coding and attribute stored — target under 3 s.

Both are also run once as whole processes (``qcode export qdpx``, ``qcode import qdpx``,
start-up included), for reference. Timings are printed, never asserted.

Usage::

    python -m bench.bench_qdpx              # 5 runs of each
    python -m bench.bench_qdpx --runs 3 --keep

The figures are printed as a table and written to ``bench/out/qdpx.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from bench.bench_ingest import Figure, _machine, _print_table, qcode_argv, run
from bench.common import copy_study, status
from qcode.codebook_sync import open_synced
from qcode.project import init as init_project
from qcode.project import load as load_project
from qcode.qdpx import import_qdpx, write_qdpx
from qcode.store import Store
from qcode.store import codings as cq

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = Path(__file__).resolve().parent / "out"
TARGET_S = 3.0


def coded_study(work: Path) -> tuple[Path, float]:
    """A copy of the study after ``qcode run``; the seconds the main job took."""
    root = copy_study(work / "study")
    print("study: qcode run (ingest, lemmatise, suggest, accept) …", file=sys.stderr)
    job = run([*qcode_argv(), "run"], root)
    if job.returncode != 0:
        raise SystemExit(f"qcode run failed in {root} (exit {job.returncode}):\n"
                         + "\n".join(job.stderr.splitlines()[-10:]))
    return root, job.wall_s


def time_export(root: Path, runs: int) -> tuple[list[float], Path, dict[str, object]]:
    project = load_project(root)
    store = Store.open(project.store_location)
    try:
        book, _ = open_synced(project, store)
        target = root / "exports" / "study.qdpx"
        walls = []
        for _ in range(runs):
            start = time.perf_counter()
            result = write_qdpx(project, store, book, target)
            walls.append(time.perf_counter() - start)
        with store.read() as conn:
            codings = len(cq.query(conn))
    finally:
        store.close()
    detail: dict[str, object] = {
        "transcripts": result.transcripts, "codings": result.codings, "all_codings": codings,
        "coders": result.coders, "memos": result.memos,
        "megabytes": round(target.stat().st_size / 1e6, 3)}
    return walls, target, detail


def time_import(work: Path, qdpx: Path, runs: int) -> tuple[list[float], dict[str, object]]:
    walls = []
    detail: dict[str, object] = {}
    for i in range(runs):
        root = work / f"import-{i}"
        init_project(root, name="Import")
        project = load_project(root)
        store = Store.open(project.store_location)
        try:
            start = time.perf_counter()
            report = import_qdpx(project, store, qdpx)
            walls.append(time.perf_counter() - start)
        finally:
            store.close()
        detail = {"transcripts_added": len(report.transcripts_added),
                  "codings_added": report.codings_added,
                  "attribute_values": report.attributes_set, "codebook": report.codebook,
                  "codes": report.codes_matched, "notes": report.notes}
    return walls, detail


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_qdpx",
                                     description="Time qcode's .qdpx export and import.")
    parser.add_argument("--runs", type=int, default=5, help="runs of each (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="qcode-bench-qdpx-"))
    try:
        root, job_s = coded_study(work)
        print(f"study: export × {args.runs} in-process …", file=sys.stderr)
        export_walls, qdpx, export_detail = time_export(root, args.runs)
        print(f"study: import × {args.runs} into new projects …", file=sys.stderr)
        import_walls, import_detail = time_import(work, qdpx, args.runs)
        print("study: export and import as whole processes …", file=sys.stderr)
        whole_export = run([*qcode_argv(), "export", "qdpx", "again.qdpx"], root)
        fresh = work / "import-cli"
        init_project(fresh, name="Import")
        whole_import = run([*qcode_argv(), "import", "qdpx", str(qdpx)], fresh)
        export_s = statistics.median(export_walls)
        import_s = statistics.median(import_walls)
        figures = [
            Figure("study: qcode run (not timed as an exchange)", round(job_s, 3), "s"),
            Figure(f"study: export .qdpx (median of {args.runs})", round(export_s, 3), "s",
                   f"< {TARGET_S:g} s", status(export_s, TARGET_S),
                   {"runs": [round(w, 4) for w in export_walls], **export_detail}),
            Figure(f"study: import .qdpx into a new project (median of {args.runs})",
                   round(import_s, 3), "s", f"< {TARGET_S:g} s", status(import_s, TARGET_S),
                   {"runs": [round(w, 4) for w in import_walls], **import_detail}),
            Figure("study: `qcode export qdpx` (process, once)", round(whole_export.wall_s, 3),
                   "s", "", "", {"exit_code": whole_export.returncode,
                                 "peak_memory_mb": round(whole_export.maxrss_mb, 1)}),
            Figure("study: `qcode import qdpx` (process, once)", round(whole_import.wall_s, 3),
                   "s", "", "", {"exit_code": whole_import.returncode,
                                 "peak_memory_mb": round(whole_import.maxrss_mb, 1),
                                 "stderr": whole_import.stderr.strip().splitlines()[-2:]}),
        ]
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    _print_table(figures)
    OUT_DIR.mkdir(exist_ok=True)
    out = OUT_DIR / "qdpx.json"
    out.write_text(json.dumps({"machine": _machine(), "figures": [asdict(f) for f in figures]},
                              ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
