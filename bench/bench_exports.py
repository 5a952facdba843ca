"""Benchmark qcode's exports (quotes, digest, IRaMuTeQ corpus), in-process.

Measured, with the target printed beside each figure (timings are reported, never asserted):

1. **The bundled study** — ``qcode.yaml``, ``transcripts/`` and ``codebooks/`` are copied to a
   temporary folder (the repository's own store is never touched) and ``qcode run`` runs there
   once: it ingests, lemmatises, suggests and accepts the keyword codings (not timed as an
   export). Then every export of the study is timed in this process, median of ``--runs``:
   quotes as Markdown, CSV, JSON and CSV ``--excel``, the digest as Markdown and HTML, and the
   IRaMuTeQ corpus; and their total (target: all of them in under 1 s). ``qcode export quotes``
   is also timed once as a whole process (start-up included), for reference.
2. **A generated archive** of ``--count`` transcripts (4,000 by default) — a project made with
   :func:`qcode.project.init` and the study's codebook; ``bench.generate`` writes the files,
   :func:`qcode.ingest.pipeline.ingest` ingests them (neither timed as an export). Codings are
   then seeded without spaCy (lemmatising 4,000 transcripts takes minutes): about ``--codings``
   per transcript (± 2), each a random sentence of a participant's turn taken from the store,
   with a code drawn from the codebook's codable codes (a seeded :class:`random.Random`), origin
   ``keyword``, coder ``qcode-keywords``, one transaction per transcript
   (:func:`qcode.store.codings.add`). The same exports are timed once each, and their total
   (target: under 30 s). Peak memory is this process's maximum resident set size
   (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), read after each stage (generate, ingest,
   seed, exports); on Linux the peak is reset (``/proc/self/clear_refs``) just before the
   exports, so that the exports' own peak is measured, not the ingest's.

Usage::

    python -m bench.bench_exports                  # study + archive of 4,000
    python -m bench.bench_exports --count 400      # a smaller archive
    python -m bench.bench_exports --no-archive     # the study only
    python -m bench.bench_exports --keep           # keep the temporary projects

The figures are printed as a table and written to ``bench/out/exports.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from bench.bench_ingest import Figure, _machine, _print_table, qcode_argv, run
from bench.generate import generate_corpus
from qcode.codebook import Codebook
from qcode.codebook_sync import open_synced
from qcode.coders import KEYWORD_CODER
from qcode.ingest.pipeline import ingest
from qcode.project import Project
from qcode.project import init as init_project
from qcode.project import load as load_project
from qcode.reports.digest import write_digest
from qcode.reports.iramuteq import write_iramuteq
from qcode.reports.quotes import write_quotes
from qcode.store import Store, schema
from qcode.store import codings as cq
from qcode.store import transcripts as tq

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = Path(__file__).resolve().parent / "out"
CODEBOOK = REPO / "codebooks" / "voisinage-resilience.yaml"

TARGET_STUDY_S = 1.0
TARGET_ARCHIVE_S = 30.0


# --------------------------------------------------------------------------------------------
# The exports


@dataclass(slots=True)
class Output:
    """What one export wrote: the file and how many items (quotes, codings, texts) it holds."""

    path: Path
    items: int
    unit: str
    notes: list[str] = field(default_factory=list)


ExportFn = Callable[[Project, Store, Codebook], Output]


def _quotes(fmt: str, *, excel: bool = False) -> ExportFn:
    def export(project: Project, store: Store, book: Codebook) -> Output:
        # the Excel CSV gets its own file, so that it does not replace the plain CSV
        target = project.root / project.exports_dir / "quotes-excel.csv" if excel else None
        result = write_quotes(project, store, book, target, fmt=fmt, excel=excel)
        assert result.path is not None
        return Output(result.path, result.count, "quotes", list(result.notes))

    return export


def _digest(fmt: str) -> ExportFn:
    def export(project: Project, store: Store, book: Codebook) -> Output:
        return Output(write_digest(project, store, book, fmt), -1, "")

    return export


def _iramuteq(project: Project, store: Store, book: Codebook) -> Output:
    result = write_iramuteq(project, store)  # the corpus: one text per transcript
    assert result.path is not None
    return Output(result.path, result.texts, "texts", list(result.notes))


EXPORTS: tuple[tuple[str, ExportFn], ...] = (
    ("quotes md", _quotes("md")),
    ("quotes csv", _quotes("csv")),
    ("quotes json", _quotes("json")),
    ("quotes csv --excel", _quotes("csv", excel=True)),
    ("digest md", _digest("md")),
    ("digest html", _digest("html")),
    ("IRaMuTeQ corpus", _iramuteq),
)


@dataclass(slots=True)
class Timing:
    name: str
    walls: list[float]
    output: Output

    @property
    def median(self) -> float:
        return statistics.median(self.walls)


def time_exports(project: Project, store: Store, book: Codebook, runs: int) -> list[Timing]:
    """Every export ``runs`` times in a row (the first run pays for lazy imports)."""
    timings = []
    for name, export in EXPORTS:
        walls: list[float] = []
        output: Output | None = None
        for _ in range(runs):
            start = time.perf_counter()
            output = export(project, store, book)
            walls.append(time.perf_counter() - start)
        assert output is not None
        timings.append(Timing(name, walls, output))
    return timings


def _export_figures(label: str, timings: list[Timing], target_s: float,
                    store_size: dict[str, object]) -> list[Figure]:
    figures = []
    for t in timings:
        size = t.output.path.stat().st_size
        detail: dict[str, object] = {
            "runs": [round(w, 4) for w in t.walls], "file": t.output.path.name,
            "megabytes": round(size / 1e6, 3)}
        if t.output.items >= 0:
            detail[t.output.unit] = t.output.items
        if t.output.notes:
            detail["notes"] = t.output.notes
        shown = f"{label}: {t.name}"
        if len(t.walls) > 1:
            shown += f" (median of {len(t.walls)})"
        figures.append(Figure(shown, round(t.median, 3), "s", "", "", detail))
    total = sum(t.median for t in timings)
    figures.append(Figure(
        f"{label}: all {len(timings)} exports", round(total, 3), "s", f"< {target_s:g} s",
        "ok" if total < target_s else "over",
        {"sum_of": "medians" if any(len(t.walls) > 1 for t in timings) else "single runs",
         "first_runs_total": round(sum(t.walls[0] for t in timings), 3), **store_size}))
    return figures


# --------------------------------------------------------------------------------------------
# Helpers


def maxrss_mb() -> float:
    """This process's peak resident set size so far (``ru_maxrss``: KiB on Linux, bytes on
    macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def reset_peak() -> bool:
    """Reset this process's peak RSS (Linux: ``/proc/self/clear_refs``), so that ``ru_maxrss``
    measures what follows; False where that is not possible (the peak then stays the
    process's)."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def _memory_detail(reset: bool, before_mb: float) -> dict[str, object]:
    return {"measured": "ru_maxrss after resetting the peak (/proc/self/clear_refs)" if reset
            else "ru_maxrss of the whole process (the peak could not be reset)",
            "process_peak_before_mb": round(before_mb, 1)}


def count_codings(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.codings)).scalar_one())


def _open(root: Path) -> tuple[Project, Store, Codebook, float]:
    """The project, its store and its synced codebook; the seconds that took."""
    start = time.perf_counter()
    project = load_project(root)
    store = Store.open(project.store_location, create=False)
    book, _ = open_synced(project, store)
    return project, store, book, time.perf_counter() - start


def _progress(every: int) -> Callable[[str, int, int, str], None]:
    def show(stage: str, done: int, total: int, _item: str) -> None:
        if done and (done % every == 0 or done == total):
            print(f"  {stage}: {done:,}/{total:,}", file=sys.stderr)

    return show


# --------------------------------------------------------------------------------------------
# 1. The bundled study


def study(work: Path, runs: int) -> list[Figure]:
    root = work / "study"
    root.mkdir()
    shutil.copy2(REPO / "qcode.yaml", root / "qcode.yaml")
    shutil.copytree(REPO / "transcripts", root / "transcripts")
    shutil.copytree(REPO / "codebooks", root / "codebooks")
    print("study: qcode run (ingest, lemmatise, suggest, accept) …", file=sys.stderr)
    main_job = run([*qcode_argv(), "run"], root)
    if main_job.returncode != 0:
        raise SystemExit(f"qcode run failed in {root} (exit {main_job.returncode}):\n"
                         + "\n".join(main_job.stderr.splitlines()[-10:]))
    project, store, book, open_s = _open(root)
    try:
        codings = count_codings(store)
        with store.read() as conn:
            transcripts = len(tq.transcript_ids(conn))
        print(f"study: timing {len(EXPORTS)} exports × {runs} in-process …", file=sys.stderr)
        before_mb = maxrss_mb()
        reset = reset_peak()
        timings = time_exports(project, store, book, runs)
        exports_mb = maxrss_mb()
    finally:
        store.close()
    figures = [
        Figure("study: qcode run (not an export)", round(main_job.wall_s, 3), "s", "", "",
               {"transcripts": transcripts, "codings": codings,
                "peak_memory_mb": round(main_job.maxrss_mb, 1)}),
        Figure("study: open project, store, synced codebook", round(open_s, 3), "s"),
        *_export_figures("study", timings, TARGET_STUDY_S,
                         {"transcripts": transcripts, "codings": codings}),
    ]
    print("study: qcode export quotes as a whole process …", file=sys.stderr)
    whole = run([*qcode_argv(), "export", "quotes"], root)
    figures.append(Figure(
        "study: `qcode export quotes` (process, once)", round(whole.wall_s, 3), "s", "", "",
        {"exit_code": whole.returncode, "peak_memory_mb": round(whole.maxrss_mb, 1),
         "stderr": whole.stderr.strip().splitlines()[-1:]}))
    figures.append(Figure("study: peak memory during the exports", round(exports_mb, 1), "MB",
                          "", "", _memory_detail(reset, before_mb)))
    return figures


# --------------------------------------------------------------------------------------------
# 2. A generated archive


def seed_codings(store: Store, book: Codebook, per_transcript: int, seed: int
                 ) -> tuple[int, int]:
    """About ``per_transcript`` keyword codings per transcript, without spaCy: random sentences
    of participants' turns, random codable codes. Returns (codings added, transcripts)."""
    rng = random.Random(f"qcode-bench-exports/{seed}")
    codes = [code.id for code in book.walk() if code.codable]
    with store.read() as conn:
        ids = tq.transcript_ids(conn)
    added = 0
    for tid in ids:
        with store.write() as conn:  # one transaction per transcript
            rec = tq.load(conn, tid)
            assert rec is not None
            participant = {t.idx for t in rec.turns if t.role == "participant"}
            sentences = [s for s in rec.sentences
                         if s.turn_idx in participant and rec.text[s.start:s.end].strip()]
            wanted = rng.randint(max(1, per_transcript - 2), per_transcript + 2)
            for sentence in rng.sample(sentences, min(wanted, len(sentences))):
                _, created = cq.add(
                    conn, transcript_id=tid, start=sentence.start, end=sentence.end,
                    code_id=rng.choice(codes), coder=KEYWORD_CODER, origin="keyword",
                    snapshot=rec.text[sentence.start:sentence.end])
                added += created
    return added, len(ids)


def archive(work: Path, count: int, seed: int, per_transcript: int) -> list[Figure]:
    root = work / "archive"
    init_project(root, name=f"archive of {count}")
    checkpoints: dict[str, float] = {"start": round(maxrss_mb(), 1)}
    project = load_project(root)
    (root / project.codebook).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(CODEBOOK, root / project.codebook)

    print(f"archive: generating {count:,} transcripts (seed {seed}) …", file=sys.stderr)
    start = time.perf_counter()
    files = generate_corpus(root / project.transcripts_dir, count, seed)
    generate_s = time.perf_counter() - start
    checkpoints["generated"] = round(maxrss_mb(), 1)

    print("archive: ingesting …", file=sys.stderr)
    store = Store.open(project.store_location)
    try:
        start = time.perf_counter()
        report = ingest(project, store, progress=_progress(500))
        ingest_s = time.perf_counter() - start
        checkpoints["ingested"] = round(maxrss_mb(), 1)
        if report.errors:
            print(f"warning: {len(report.errors)} file(s) failed to ingest, e.g. "
                  f"{report.errors[0]}", file=sys.stderr)
        with store.read() as conn:
            words = sum(int(r["words"]) for r in tq.summaries(conn))

        start = time.perf_counter()
        book, _ = open_synced(project, store)
        open_s = time.perf_counter() - start
        print(f"archive: seeding ~{per_transcript} codings per transcript …", file=sys.stderr)
        start = time.perf_counter()
        added, transcripts = seed_codings(store, book, per_transcript, seed)
        seed_s = time.perf_counter() - start
        codings = count_codings(store)
        checkpoints["seeded"] = round(maxrss_mb(), 1)

        print(f"archive: timing {len(EXPORTS)} exports once each …", file=sys.stderr)
        reset = reset_peak()
        timings = time_exports(project, store, book, 1)
        exports_mb = maxrss_mb()
        checkpoints["exported"] = round(exports_mb, 1)
    finally:
        store.close()

    # the process's peak: the highest checkpoint (ru_maxrss is reset before the exports)
    peak = max(checkpoints.values())
    exports_detail = _memory_detail(reset, checkpoints["seeded"])
    figures = [
        Figure(f"archive: generate {count:,} files (not an export)", round(generate_s, 3), "s",
               "", "", {"megabytes": round(sum(f.path.stat().st_size for f in files) / 1e6, 1)}),
        Figure("archive: ingest in-process (not an export)", round(ingest_s, 3), "s", "", "",
               {"transcripts": transcripts, "words": words, "added": report.count("added"),
                "failed": report.count("failed"), "errors": report.errors[:5]}),
        Figure("archive: synced codebook (load, validate, sync)", round(open_s, 3), "s"),
        Figure(f"archive: seed codings (~{per_transcript} per transcript, no spaCy)",
               round(seed_s, 3), "s", "", "",
               {"added": added, "codings_in_store": codings,
                "per_transcript": round(codings / max(transcripts, 1), 2)}),
        *_export_figures("archive", timings, TARGET_ARCHIVE_S,
                         {"transcripts": transcripts, "codings": codings, "words": words}),
        Figure("archive: peak memory during the exports", round(exports_mb, 1), "MB", "", "",
               exports_detail),
        Figure("archive: peak memory of the whole process", round(peak, 1), "MB", "", "",
               {"checkpoints_mb": checkpoints}),
    ]
    return figures


# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_exports",
                                     description="Time qcode's exports, in-process.")
    parser.add_argument("--count", type=int, default=4000,
                        help="transcripts in the generated archive (default 4000)")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed of the generated archive and of its codings")
    parser.add_argument("--codings", type=int, default=10,
                        help="codings per transcript of the archive, on average (default 10)")
    parser.add_argument("--runs", type=int, default=3,
                        help="runs of each study export (median reported)")
    parser.add_argument("--no-study", action="store_true", help="skip the bundled study")
    parser.add_argument("--no-archive", action="store_true", help="skip the generated archive")
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    parser.add_argument("--json", type=Path, default=OUT_DIR / "exports.json",
                        help="where to write the figures (default bench/out/exports.json)")
    args = parser.parse_args(argv)
    if args.count < 1 or args.runs < 1 or args.codings < 1:
        parser.error("--count, --runs and --codings must be at least 1")

    work = Path(tempfile.mkdtemp(prefix="qcode-bench-exports-"))
    figures: list[Figure] = []
    try:
        if not args.no_study:
            figures += study(work, args.runs)
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
        checkpoints = f.detail.get("checkpoints_mb")
        if isinstance(checkpoints, dict):
            print("\npeak memory after each stage (MB): "
                  + ", ".join(f"{k} {v}" for k, v in checkpoints.items()))

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
