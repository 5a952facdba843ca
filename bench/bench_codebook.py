"""Benchmark loading and validating the study's codebook (target: under 0.2 s).

Two figures, printed (never asserted):

- in-process: :func:`qcode.codebook.load_valid` on the study's codebook, median of many runs
  (what every command that needs the codebook pays);
- the whole command ``qcode codebook validate`` in a fresh process, median of a few runs
  (start-up included).

Usage::

    python -m bench.bench_codebook [--runs 50]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CODEBOOK = REPO / "codebooks" / "voisinage-resilience.yaml"
TARGET_S = 0.2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args(argv)

    from qcode.codebook import load_valid

    book = load_valid(CODEBOOK)  # warm: imports and caches
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        load_valid(CODEBOOK)
        times.append(time.perf_counter() - t0)
    in_process = statistics.median(times)

    walls = []
    for _ in range(max(3, args.runs // 10)):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "qcode", "codebook", "validate", str(CODEBOOK)],
                       cwd=REPO, check=True, capture_output=True)
        walls.append(time.perf_counter() - t0)
    command = statistics.median(walls)

    codes = len(book.codes) - len(book.roots)
    keywords = sum(len(c.keywords) for c in book.codes.values())
    print(f"codebook: {CODEBOOK.relative_to(REPO)} ({len(book.roots)} themes, {codes} codes, "
          f"{keywords} keywords, {CODEBOOK.stat().st_size:,} bytes)")
    for name, value in (("load + validate (in-process)", in_process),
                        ("qcode codebook validate (process)", command)):
        verdict = "ok" if value < TARGET_S else "over"
        print(f"{name:36} {value * 1000:8.1f} ms   target < {TARGET_S * 1000:.0f} ms  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
