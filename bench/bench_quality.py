"""How good are keyword suggestions? Precision and recall against the hand-coded gold standard.

The gold standard (``tests/fixtures/gold/``) is six interviews of the bundled study coded by
hand before any suggestion existed. This benchmark ingests a copy of the study, computes the
suggestions, and compares, sentence by sentence in the participants' turns of those six
interviews, which top-level themes the gold standard and the suggestions scoring at least a
threshold give to each sentence (a sentence carries a theme when a passage coded with one of the
theme's codes overlaps it). It prints precision, recall and F1 per theme and overall for a range
of thresholds, and the threshold the main job uses (``qcode.mainjob.ACCEPT_SCORE``).

Usage::

    python -m bench.bench_quality [--thresholds 0.3,0.4,0.5,0.6,0.7]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOLD = REPO / "tests" / "fixtures" / "gold"


def gold_spans(store: object) -> dict[str, list[tuple[int, int, str]]]:
    """(start, end, code) of every gold passage, by transcript, located in its turn."""
    from qcode.store import Store
    from qcode.store import transcripts as tq

    assert isinstance(store, Store)
    out: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    with store.read() as conn:
        for path in sorted(GOLD.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                rec = tq.load(conn, row["transcript"])
                assert rec is not None
                turn = next(t for t in rec.turns if t.idx == row["turn"])
                pos = rec.text.find(row["quote"], turn.start, turn.end)
                if pos < 0:
                    raise SystemExit(f"{path.name}: quote not found in turn {row['turn']}")
                out[row["transcript"]].append((pos, pos + len(row["quote"]), row["code"]))
    return out


def evaluate(thresholds: list[float]) -> dict[str, object]:
    from qcode.codebook_sync import open_synced
    from qcode.ingest.pipeline import ingest
    from qcode.project import load
    from qcode.store import Store
    from qcode.store import transcripts as tq
    from qcode.suggest import list_suggestions, suggest

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "study"
        root.mkdir()
        shutil.copy(REPO / "qcode.yaml", root)
        for folder in ("transcripts", "codebooks"):
            shutil.copytree(REPO / folder, root / folder)
        project = load(root)
        store = Store.open(project.store_location)
        ingest(project, store)
        book, _ = open_synced(project, store)
        gold = gold_spans(store)
        ids = sorted(gold)
        suggest(project, store, book, transcripts=ids)
        suggestions = list_suggestions(store, transcripts=ids)
        units: list[tuple[str, int, int]] = []
        with store.read() as conn:
            for tid in ids:
                rec = tq.load(conn, tid)
                assert rec is not None
                roles = {t.idx: t.role for t in rec.turns}
                units += [(tid, se.start, se.end) for se in rec.sentences
                          if roles[se.turn_idx] == "participant"]
        store.close()

    def themes_of(spans: list[tuple[str, int, int, str]]) -> dict[tuple[str, int], set[str]]:
        by_unit: dict[tuple[str, int], set[str]] = defaultdict(set)
        for tid, start, end, code in spans:
            for i, (utid, us, ue) in enumerate(units):
                if utid == tid and us < end and start < ue:
                    by_unit[(tid, i)].add(book.theme_of(code))
        return by_unit

    truth = themes_of([(tid, s, e, c) for tid, rows in gold.items() for s, e, c in rows])
    results: dict[str, object] = {"units": len(units), "thresholds": {}}
    for threshold in thresholds:
        predicted = themes_of([(s["transcript"], s["start"], s["end"], s["code"])
                               for s in suggestions if s["score"] >= threshold])
        table: dict[str, dict[str, float]] = {}
        totals = [0, 0, 0]
        for theme in book.roots:
            tp = fp = fn = 0
            for i, (tid, _, _) in enumerate(units):
                g = theme in truth.get((tid, i), set())
                p = theme in predicted.get((tid, i), set())
                tp += g and p
                fp += p and not g
                fn += g and not p
            totals = [totals[0] + tp, totals[1] + fp, totals[2] + fn]
            table[theme] = _prf(tp, fp, fn)
        table["all themes (micro)"] = _prf(*totals)
        results["thresholds"][str(threshold)] = table  # type: ignore[index]
    return results


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
            "gold": tp + fn}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", default="0.3,0.4,0.5,0.6,0.7,0.8")
    args = parser.parse_args(argv)
    from qcode.mainjob import ACCEPT_SCORE

    thresholds = [float(x) for x in args.thresholds.split(",")]
    if ACCEPT_SCORE not in thresholds:
        thresholds.append(ACCEPT_SCORE)
    results = evaluate(sorted(thresholds))
    print(f"{results['units']} participant sentences in {len(list(GOLD.glob('*.jsonl')))} "
          f"hand-coded interviews; theme-level precision / recall / F1 of suggestions scoring "
          f"at least the threshold (the main job accepts ≥ {ACCEPT_SCORE})")
    for threshold, table in results["thresholds"].items():  # type: ignore[attr-defined]
        print(f"\nthreshold {threshold}")
        print(f"  {'theme':28} {'precision':>9} {'recall':>7} {'F1':>6} {'gold':>5}")
        for theme, m in table.items():
            print(f"  {theme:28} {m['precision']:9.3f} {m['recall']:7.3f} {m['f1']:6.3f} "
                  f"{int(m['gold']):5d}")
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "quality.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
