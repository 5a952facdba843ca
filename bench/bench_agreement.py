"""Benchmark ``qcode agreement`` on the bundled study with two coders, for every unit kind.

Setup (not timed): ``qcode.yaml``, ``transcripts/`` and ``codebooks/`` are copied to a temporary
folder (the repository's own store is never touched) and the main job runs there once
(:func:`qcode.mainjob.run`, as ``qcode run``): it ingests the 40 interviews and accepts the
keyword codings as the coder ``qcode-keywords``. The hand-coded gold standard
(``tests/fixtures/gold/*.jsonl``, six interviews) is then tagged as the coder ``gold``, each
quote located in its turn (:func:`bench.bench_quality.gold_spans`).

Measured, with the target printed beside each figure (reported, never asserted):

- for each unit kind (``char``, ``sentence``, ``turn``, ``segment:0.9``, ``document``), the
  in-process time of :func:`qcode.agreement.compare` for ``qcode-keywords`` and ``gold`` over the
  whole study, per code (median of ``--runs``), and with ``--disagreements``; target < 1 s;
- ``qcode agreement --coders qcode-keywords,gold --format json`` as a whole process (start-up
  included), once per unit kind, for reference;
- the overall figures themselves (agreement, κ, π, α, κ_n), so that the keyword coder's
  agreement with the hand coding is on record.

Usage::

    python -m bench.bench_agreement [--runs 5] [--keep]

The figures are printed and written to ``bench/out/agreement.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = Path(__file__).resolve().parent / "out"
UNITS = ("char", "sentence", "turn", "segment:0.9", "document")
CODERS = ("qcode-keywords", "gold")
TARGET_S = 1.0


def build_study(root: Path) -> dict[str, int]:
    """A copy of the study with the keyword coder (main job) and the gold coder."""
    from bench.bench_quality import gold_spans
    from bench.common import copy_study, run_main_job
    from qcode import coding
    from qcode.codebook_sync import open_synced
    from qcode.project import load
    from qcode.store import Store

    accepted = run_main_job(copy_study(root))
    project = load(root)
    store = Store.open(project.store_location)
    book, _ = open_synced(project, store)
    gold = 0
    for tid, spans in gold_spans(store).items():
        rec = coding.load_transcript(store, tid)
        for start, end, code in spans:
            passage = coding.Passage(tid, start, end, rec.text[start:end],
                                     coding.turn_at(rec, start))
            gold += len(coding.tag(store, book, passage, [code], "gold").created)
    store.close()
    return {"keyword_codings": accepted, "gold_codings": gold}


def time_compare(root: Path, unit: str, runs: int, disagreements: bool
                 ) -> tuple[list[float], Any]:
    from qcode.agreement import compare, disagreement_rows, rows
    from qcode.codebook_sync import open_synced
    from qcode.project import load
    from qcode.store import Store

    project = load(root)
    store = Store.open(project.store_location)
    book, _ = open_synced(project, store)
    walls = []
    report = None
    for _ in range(runs):
        start = time.perf_counter()
        report = compare(store, book, list(CODERS), unit=unit, disagreements=disagreements)
        rows(report)
        disagreement_rows(report)
        walls.append(time.perf_counter() - start)
    store.close()
    return walls, report


def time_process(root: Path, unit: str) -> float:
    from bench.bench_ingest import qcode_argv, run

    result = run([*qcode_argv(), "agreement", "--coders", ",".join(CODERS), "--unit", unit,
                  "--format", "json"], root)
    if result.returncode != 0:
        raise SystemExit(f"qcode agreement --unit {unit} failed: {result.stderr}")
    return result.wall_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args(argv)
    from qcode.agreement import FIGURES

    tmp = Path(tempfile.mkdtemp(prefix="qcode-bench-agreement-"))
    root = tmp / "study"
    try:
        start = time.perf_counter()
        setup = build_study(root)
        setup_s = time.perf_counter() - start
        print(f"setup (main job + gold codings, not timed below): {setup_s:.1f} s; "
              f"{setup['keyword_codings']} keyword codings, {setup['gold_codings']} gold "
              "codings")
        results: dict[str, Any] = {"setup": setup, "target_s": TARGET_S, "units": {}}
        head = (f"{'unit':12} {'compare':>8} {'+disagr.':>8} {'process':>8} {'status':>6} "
                f"{'units':>8} {'disagr.':>7}  " + " ".join(f"{f[:9]:>9}" for f in FIGURES))
        print(head)
        for unit in UNITS:
            walls, report = time_compare(root, unit, args.runs, False)
            walls_d, report_d = time_compare(root, unit, args.runs, True)
            process = time_process(root, unit)
            median, median_d = statistics.median(walls), statistics.median(walls_d)
            overall = report.overall.stats
            figures = {f: getattr(overall, f).value for f in FIGURES}
            results["units"][unit] = {
                "compare_s": round(median, 4), "compare_runs": [round(w, 4) for w in walls],
                "with_disagreements_s": round(median_d, 4), "process_s": round(process, 3),
                "status": "ok" if max(median, median_d) < TARGET_S else "over",
                "overall_units": overall.units, "disagreements": len(report_d.disagreements),
                "compared_transcripts": report.compared, "overall": figures}
            shown = " ".join("undefined" if v is None else f"{v:9.4f}"
                             for v in figures.values())
            print(f"{unit:12} {median:8.3f} {median_d:8.3f} {process:8.3f} "
                  f"{results['units'][unit]['status']:>6} {overall.units:8d} "
                  f"{len(report_d.disagreements):7d}  {shown}")
        print(f"(seconds; compare and +disagreements: median of {args.runs} in-process runs, "
              f"target < {TARGET_S:g} s; process: one 'qcode agreement -f json', start-up "
              "included)")
        OUT_DIR.mkdir(exist_ok=True)
        (OUT_DIR / "agreement.json").write_text(json.dumps(results, indent=2),
                                                encoding="utf-8")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
