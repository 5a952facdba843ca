"""Benchmark ``qcode check`` and ``qcode backup``.

Measured, with the target printed beside each figure (reported, never asserted):

1. **The bundled study** — ``qcode.yaml``, ``transcripts/`` and ``codebooks/`` are copied to a
   temporary folder (the repository's own store is never touched) and the main job runs there
   once (:func:`qcode.mainjob.run`, as ``qcode run``; not timed): 40 interviews, ~4,000 keyword
   codings, ~4,200 suggestions. Then:

   - :func:`qcode.check.check` in this process, median of ``--runs`` (target < 1 s: "well under
     a few seconds"), with what it looked at (transcripts, turns, sentences, codings,
     suggestions, source files hashed);
   - ``qcode check`` as a whole process (start-up included), median of ``--runs``;
   - :func:`qcode.check.backup` in this process (online backup + ``PRAGMA integrity_check`` of
     the copy), median of ``--runs``, and ``qcode backup`` as a whole process.

2. **A generated archive** of ``--count`` transcripts (1,000 by default; ``--count 0`` skips
   it) — ``bench.generate`` writes the files, :func:`qcode.ingest.pipeline.ingest` ingests them
   and about ``--codings`` keyword codings per transcript are seeded without spaCy
   (:func:`bench.bench_exports.seed_codings`); none of this is timed. Then ``check`` and
   ``backup`` once each, in-process (target for check: < 10 s), to show how they scale.

3. With ``--postgresql``, the study again with its store in a throw-away PostgreSQL server
   (``tests/pgserver.py``; needs the PostgreSQL binaries): ``check`` in-process (median) and
   ``backup`` through ``pg_dump`` (once).

Usage::

    python -m bench.bench_check                   # study + archive of 1,000
    python -m bench.bench_check --count 0         # the study only
    python -m bench.bench_check --postgresql      # also on a PostgreSQL server

The figures are printed as a table and written to ``bench/out/check.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.bench_ingest import Figure, _machine, _print_table, qcode_argv, run
from bench.common import copy_study, run_main_job, status

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = Path(__file__).resolve().parent / "out"
CODEBOOK = REPO / "codebooks" / "voisinage-resilience.yaml"
TARGET_STUDY_S = 1.0
TARGET_ARCHIVE_S = 10.0


def _median(function: Callable[[], Any], runs: int) -> tuple[float, list[float], Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), sorted(times), result


def _check_figures(label: str, root: Path, runs: int, target: float) -> list[Figure]:
    from qcode.check import backup, check
    from qcode.project import load

    project = load(root)
    median, times, report = _median(lambda: check(project), runs)
    detail: dict[str, object] = {"runs": runs, "min": round(times[0], 3),
                                 "max": round(times[-1], 3), **dict(report.checked),
                                 "errors": report.count("error"),
                                 "warnings": report.count("warning")}
    figures = [Figure(f"{label}: check in-process ({report.engine})", round(median, 3), "s",
                      f"< {target:g} s", status(median, target), detail)]
    backups = root / "bench-backups"
    backups.mkdir()
    median, times, result = _median(lambda: backup(project, backups), runs)
    figures.append(Figure(f"{label}: backup in-process ({result.engine})", round(median, 3),
                          "s", "", "", {"runs": runs, "min": round(times[0], 3),
                                        "max": round(times[-1], 3),
                                        "megabytes": round(result.size / 1e6, 1)}))
    shutil.rmtree(backups)
    return figures


def _process_figures(label: str, root: Path, runs: int, env: dict[str, str]) -> list[Figure]:
    figures = []
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        for name, args in (("check", ["check"]), ("backup", ["backup"])):
            results = [run([*qcode_argv(), *args], root) for _ in range(runs)]
            if any(r.returncode not in (0, 1) for r in results):
                raise SystemExit(f"qcode {name} failed:\n{results[0].stderr}")
            walls = sorted(r.wall_s for r in results)
            figures.append(Figure(f"{label}: qcode {name} (process, start-up included)",
                                  round(statistics.median(walls), 3), "s", "", "",
                                  {"runs": runs, "min": round(walls[0], 3),
                                   "max": round(walls[-1], 3),
                                   "exit": results[0].returncode,
                                   "summary": results[0].stderr.strip().splitlines()[-1]}))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return figures


def study(work: Path, runs: int) -> list[Figure]:
    root = copy_study(work / "study")
    print("study: running the main job once (not timed) …", file=sys.stderr)
    accepted = run_main_job(root)
    print(f"study: {accepted} keyword codings; timing check and backup …", file=sys.stderr)
    return (_check_figures("study", root, runs, TARGET_STUDY_S)
            + _process_figures("study", root, runs, {}))


def archive(work: Path, count: int, seed: int, per_transcript: int) -> list[Figure]:
    from bench.bench_exports import seed_codings
    from bench.generate import generate_corpus
    from qcode.codebook_sync import open_synced
    from qcode.ingest.pipeline import ingest
    from qcode.project import init, load
    from qcode.store import Store

    root = work / "archive"
    init(root, name=f"archive of {count}")
    project = load(root)
    shutil.copy2(CODEBOOK, root / project.codebook)
    print(f"archive: generating and ingesting {count:,} transcripts (not timed) …",
          file=sys.stderr)
    generate_corpus(root / project.transcripts_dir, count, seed)
    store = Store.open(project.store_location)
    try:
        report = ingest(project, store)
        book, _ = open_synced(project, store)
        added, _ = seed_codings(store, book, per_transcript, seed)
    finally:
        store.close()
    print(f"archive: {report.count('added')} transcripts, {added} codings; timing …",
          file=sys.stderr)
    return _check_figures(f"archive of {count:,}", root, 1, TARGET_ARCHIVE_S)


def postgresql(work: Path, runs: int) -> list[Figure]:
    from tests import pgserver

    try:
        server = pgserver.start()
    except pgserver.PgUnavailable as exc:
        print(f"postgresql: skipped ({exc})", file=sys.stderr)
        return []
    try:
        url = server.new_database("qcode_bench_check")
        root = copy_study(work / "study-postgresql")
        config = root / "qcode.yaml"
        config.write_text(config.read_text(encoding="utf-8").replace(
            "store: .qcode/qcode.db", f"store: {url}"), encoding="utf-8")
        print("postgresql: running the main job once (not timed) …", file=sys.stderr)
        run_main_job(root)
        return _check_figures("study on PostgreSQL", root, runs, TARGET_STUDY_S)
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_check",
                                     description="Time qcode check and qcode backup.")
    parser.add_argument("--runs", type=int, default=5, help="runs of each study figure "
                        "(median reported)")
    parser.add_argument("--count", type=int, default=1000,
                        help="transcripts in the generated archive (0: no archive)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated archive")
    parser.add_argument("--codings", type=int, default=10,
                        help="codings per transcript of the archive, on average")
    parser.add_argument("--postgresql", action="store_true",
                        help="also time the study on a throw-away PostgreSQL server")
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    parser.add_argument("--json", type=Path, default=OUT_DIR / "check.json",
                        help="where to write the figures (default bench/out/check.json)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.count < 0 or args.codings < 1:
        parser.error("--runs and --codings must be at least 1, --count at least 0")

    work = Path(tempfile.mkdtemp(prefix="qcode-bench-check-"))
    figures: list[Figure] = []
    try:
        figures += study(work, args.runs)
        if args.count:
            figures += archive(work, args.count, args.seed, args.codings)
        if args.postgresql:
            figures += postgresql(work, args.runs)
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
        if "check in-process" in f.name:
            shown = {k: v for k, v in f.detail.items() if k not in ("runs", "min", "max")}
            print(f"\n{f.name}: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine, "runs": args.runs, "count": args.count,
               "figures": [asdict(f) for f in figures]}
    args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n",
                         encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
