"""Run every hostile or broken input of ``tests/hostile_cases.py`` and print the table.

For each input: the reader, the input, what qcode answered (the one error line, or what it
said when the input is legitimate and read), the exit code, the time, and whether the answer is
the expected one (exit code, one error line naming the file, store and project files unchanged).
The same table is asserted by ``tests/test_hostile.py``; here it is printed as Markdown, for the
issue's note and the README.

Usage::

    python -m bench.hostile_table [--only ID,ID…] [--skip-slow]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from tests.conftest import qcode  # noqa: E402
from tests.hostile_cases import CASES, judge, make_template, run_case  # noqa: E402


def _cell(text: str, width: int = 150) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated case ids")
    parser.add_argument("--skip-slow", action="store_true", help="leave out the slow cases")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    cases = [c for c in CASES if (only is None or c.id in only)
             and not (args.skip_slow and c.slow)]

    failed = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qcode-hostile-") as tmp:
        template = make_template(Path(tmp), qcode)
        print("| reader | input | what qcode answered | exit | time | as expected |")
        print("|---|---|---|---|---|---|")
        for case in cases:
            outcome = run_case(case, template, Path(tmp), qcode)
            verdict = judge(case, outcome)
            failed += not verdict.ok
            mark = "yes" if verdict.ok else "**NO**: " + "; ".join(verdict.problems)
            print(f"| {case.reader} | {_cell(case.input)} | {_cell(outcome.answer(case))} | "
                  f"{outcome.exit_code} | {outcome.seconds:.1f} s | {_cell(mark, 300)} |",
                  flush=True)
    print(f"\n{len(cases)} inputs, {len(cases) - failed} answered as expected, "
          f"in {time.perf_counter() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
