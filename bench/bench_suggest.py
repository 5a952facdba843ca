"""Benchmark keyword suggestions; every measurement runs ``qcode suggest`` in a fresh subprocess.

Measured (figures are printed beside their target and written to ``bench/out/suggest.json``;
nothing is asserted):

1. **Study, first run** — the bundled study (``qcode.yaml``, ``transcripts/``, ``codebooks/``)
   copied to a temporary folder and ingested; then ``qcode suggest`` on the empty lemma cache:
   it loads spaCy, lemmatises the 40 interviews and suggests (target < 20 s).
2. **Study, cached** — ``qcode suggest`` again: lemmas cached, suggestions refreshed
   (target < 2 s); and once more after emptying the suggestions table (every suggestion new).
3. **Generated archive** — ``bench.generate.generate_corpus`` writes ``--count`` transcripts
   (4,000 by default) once; projects of a few sizes (``--sizes``, by default 500, 1,000, 2,000
   and the count) take the first N files, with the study's codebook. For each size: ingest,
   then ``qcode suggest`` with lemmas cached — every suggestion new (``insert``) and a re-run
   (``refresh``) — wall time and peak memory (targets: linear growth, < 2 min, < 2 GB). The
   first run with an empty cache (``cold``: spaCy lemmatises everything) is measured for the
   sizes in ``--cold-sizes`` (default: the two smallest and the largest); the other sizes get
   their lemma cache copied from the largest store, whose texts include theirs.

Usage::

    python -m bench.bench_suggest                       # study + archive of 4,000
    python -m bench.bench_suggest --count 1000 --sizes 250,500,1000
    python -m bench.bench_suggest --no-archive          # the study only
    python -m bench.bench_suggest --keep                # keep the temporary projects

Peak memory is the child's own maximum resident set size (``os.wait4``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import platform
import re
import shutil
import sqlite3
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from bench.bench_ingest import Figure, Run, qcode_argv, run
from bench.generate import generate_corpus

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = Path(__file__).resolve().parent / "out"
CODEBOOK = REPO / "codebooks" / "voisinage-resilience.yaml"

TARGET_STUDY_COLD_S = 20.0
TARGET_STUDY_CACHED_S = 2.0
TARGET_ARCHIVE_S = 120.0
TARGET_ARCHIVE_MB = 2048.0


def _status(value: float, target: float) -> str:
    return "ok" if value < target else "over"


def _suggest(project: Path) -> tuple[Run, dict[str, object]]:
    result = run([*qcode_argv(), "suggest", "--format", "json"], project)
    if result.returncode != 0:
        raise SystemExit(f"qcode suggest failed in {project}:\n{result.stderr}")
    summary = json.loads(result.stdout)
    return result, {k: summary[k] for k in ("transcripts", "lemmatised", "lemmatise_seconds",
                                             "new", "refreshed", "kept", "removed", "seconds")}


def _ingest(project: Path) -> Run:
    result = run([*qcode_argv(), "ingest"], project)
    if result.returncode != 0:
        print(f"warning: ingest exited {result.returncode} in {project}:\n"
              + "\n".join(result.stderr.splitlines()[-5:]), file=sys.stderr)
    return result


def _clear_suggestions(project: Path) -> None:
    with sqlite3.connect(project / ".qcode" / "qcode.db") as db:
        db.execute("DELETE FROM suggestions")


def _words(project: Path) -> int:
    with sqlite3.connect(project / ".qcode" / "qcode.db") as db:
        return int(db.execute("SELECT COALESCE(SUM(words), 0) FROM transcripts").fetchone()[0])


def study(work: Path) -> list[Figure]:
    root = work / "study"
    root.mkdir()
    shutil.copy(REPO / "qcode.yaml", root / "qcode.yaml")
    shutil.copytree(REPO / "transcripts", root / "transcripts")
    shutil.copytree(REPO / "codebooks", root / "codebooks")
    _ingest(root)
    words = _words(root)
    cold, s1 = _suggest(root)
    cached, s2 = _suggest(root)
    _clear_suggestions(root)
    fresh, s3 = _suggest(root)
    return [
        Figure("study: first suggest (lemmatise 40 + suggest)", round(cold.wall_s, 2), "s",
               f"< {TARGET_STUDY_COLD_S:g} s", _status(cold.wall_s, TARGET_STUDY_COLD_S),
               {**s1, "words": words, "maxrss_mb": round(cold.maxrss_mb)}),
        Figure("study: lemmatisation inside it", float(str(s1["lemmatise_seconds"])), "s", "",
               "", {"words_per_s": round(words / max(float(str(s1["lemmatise_seconds"])),
                                                     1e-9))}),
        Figure("study: first suggest peak memory", round(cold.maxrss_mb), "MB"),
        Figure("study: suggest, lemmas cached (refresh)", round(cached.wall_s, 2), "s",
               f"< {TARGET_STUDY_CACHED_S:g} s", _status(cached.wall_s, TARGET_STUDY_CACHED_S),
               {**s2, "maxrss_mb": round(cached.maxrss_mb)}),
        Figure("study: suggest, lemmas cached (all new)", round(fresh.wall_s, 2), "s",
               f"< {TARGET_STUDY_CACHED_S:g} s", _status(fresh.wall_s, TARGET_STUDY_CACHED_S),
               {**s3, "maxrss_mb": round(fresh.maxrss_mb)}),
    ]


def _project(work: Path, name: str, pool: Path, ids: list[str]) -> Path:
    root = work / name
    init = run([*qcode_argv(), "init", str(root), "--name", name], work)
    if init.returncode != 0:
        raise SystemExit(init.stderr)
    shutil.copy(CODEBOOK, root / "codebooks" / "codebook.yaml")
    wanted = set(ids)
    for path in pool.iterdir():
        if path.stem in wanted and path.name != "attributes.csv":
            shutil.copy(path, root / "transcripts" / path.name)
    with (pool / "attributes.csv").open(encoding="utf-8", newline="") as src, \
            (root / "transcripts" / "attributes.csv").open("w", encoding="utf-8",
                                                           newline="") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=list(reader.fieldnames or []),
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(r for r in reader if r["id"] in wanted)
    return root


def _seed_cache(target: Path, source: Path) -> int:
    """Copy the lemma cache rows of ``target``'s texts from ``source``'s store."""
    with sqlite3.connect(target / ".qcode" / "qcode.db") as db:
        db.execute("ATTACH DATABASE ? AS src", (str(source / ".qcode" / "qcode.db"),))
        db.execute("INSERT OR REPLACE INTO lemma_cache SELECT * FROM src.lemma_cache "
                   "WHERE text_hash IN (SELECT text_hash FROM transcripts) "
                   "OR text_hash NOT IN (SELECT text_hash FROM src.transcripts)")
        db.commit()
        n = int(db.execute("SELECT COUNT(*) FROM lemma_cache").fetchone()[0])
        db.execute("DETACH DATABASE src")
    return n


def archive(work: Path, count: int, seed: int, sizes: list[int], cold_sizes: set[int]
            ) -> list[Figure]:
    pool = work / "pool"
    print(f"generating {count} transcripts…", file=sys.stderr)
    files = generate_corpus(pool, count=count, seed=seed)
    ids = [f.id for f in files]
    figures: list[Figure] = []
    largest: Path | None = None
    rows: list[dict[str, object]] = []
    for size in sorted(sizes, reverse=True):  # the largest first: it fills the lemma cache
        print(f"archive of {size}: ingest…", file=sys.stderr)
        root = _project(work, f"archive-{size}", pool, ids[:size])
        ingest = _ingest(root)
        words = _words(root)
        row: dict[str, object] = {"size": size, "words": words,
                                  "ingest_s": round(ingest.wall_s, 1)}
        if largest is None or size in cold_sizes:
            print(f"archive of {size}: suggest with an empty lemma cache…", file=sys.stderr)
            cold, summary = _suggest(root)
            row.update(cold_s=round(cold.wall_s, 1), cold_mb=round(cold.maxrss_mb),
                       lemmatise_s=summary["lemmatise_seconds"])
            _clear_suggestions(root)
        else:
            _seed_cache(root, largest)
        largest = largest or root
        print(f"archive of {size}: suggest with lemmas cached…", file=sys.stderr)
        insert, s_insert = _suggest(root)
        refresh, _ = _suggest(root)
        if s_insert["lemmatised"]:
            print(f"warning: {s_insert['lemmatised']} transcripts lemmatised in the cached "
                  "run", file=sys.stderr)
        row.update(insert_s=round(insert.wall_s, 2), insert_mb=round(insert.maxrss_mb),
                   suggestions=s_insert["new"], refresh_s=round(refresh.wall_s, 2),
                   refresh_mb=round(refresh.maxrss_mb))
        rows.append(row)
    rows.sort(key=lambda r: int(str(r["size"])))
    base = rows[0]
    for r in rows:
        size = int(str(r["size"]))
        scale = size / int(str(base["size"]))
        for key, label in (("insert_s", "all new"), ("refresh_s", "re-run")):
            value = float(str(r[key]))
            per = value / scale / float(str(base[key]))
            figures.append(Figure(
                f"archive {size}: suggest, lemmas cached ({label})", value, "s",
                f"< {TARGET_ARCHIVE_S:g} s", _status(value, TARGET_ARCHIVE_S),
                {"vs_linear": round(per, 2), **r}))
        mb = float(str(r["insert_mb"]))
        figures.append(Figure(f"archive {size}: peak memory (cached)", mb, "MB",
                              f"< {TARGET_ARCHIVE_MB:g} MB", _status(mb, TARGET_ARCHIVE_MB)))
        if "cold_s" in r:
            value = float(str(r["cold_s"]))
            figures.append(Figure(
                f"archive {size}: first suggest, empty cache (lemmatise + suggest)", value, "s",
                f"< {TARGET_ARCHIVE_S:g} s", _status(value, TARGET_ARCHIVE_S),
                {"lemmatise_s": r["lemmatise_s"], "maxrss_mb": r["cold_mb"],
                 "words_per_s": round(int(str(r["words"])) / max(
                     float(str(r["lemmatise_s"])), 1e-9))}))
            figures.append(Figure(f"archive {size}: peak memory (empty cache)",
                                  float(str(r["cold_mb"])), "MB", f"< {TARGET_ARCHIVE_MB:g} MB",
                                  _status(float(str(r["cold_mb"])), TARGET_ARCHIVE_MB)))
    print("\nsize  words       ingest  cold (lemmatise)   cached: all new   re-run   "
          "suggestions", file=sys.stderr)
    for r in rows:
        cold = (f"{r['cold_s']:>6} s ({r['lemmatise_s']} s)" if "cold_s" in r else
                "        (seeded)")
        print(f"{r['size']:>5} {r['words']:>10} {r['ingest_s']:>6} s  {cold:>18}   "
              f"{r['insert_s']:>6} s {r['insert_mb']:>5} MB  {r['refresh_s']:>6} s  "
              f"{r['suggestions']:>9}", file=sys.stderr)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=4000, help="transcripts to generate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sizes", default="", help="comma-separated archive sizes")
    parser.add_argument("--cold-sizes", default="",
                        help="sizes also measured with an empty lemma cache")
    parser.add_argument("--no-study", action="store_true")
    parser.add_argument("--no-archive", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in re.split(r"[ ,]+", args.sizes) if x] or sorted(
        {n for n in (500, 1000, 2000) if n < args.count} | {args.count})
    sizes = [n for n in sizes if 0 < n <= args.count]
    cold = {int(x) for x in re.split(r"[ ,]+", args.cold_sizes) if x} or {
        *sorted(sizes)[:2], max(sizes)}
    work = Path(tempfile.mkdtemp(prefix="qcode-bench-suggest-"))
    figures: list[Figure] = []
    try:
        if not args.no_study:
            figures += study(work)
        if not args.no_archive:
            figures += archive(work, args.count, args.seed, sizes, cold)
    finally:
        if args.keep:
            print(f"projects kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    width = max(len(f.name) for f in figures) if figures else 10
    print()
    for f in figures:
        print(f"{f.name:<{width}}  {f.value!s:>9} {f.unit:<3} {f.target:<12} {f.status}")
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "suggest.json").write_text(json.dumps({
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(), "python": platform.python_version(),
        "args": vars(args), "figures": [asdict(f) for f in figures],
    }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
