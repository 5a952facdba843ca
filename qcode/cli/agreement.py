"""``qcode agreement``: intercoder agreement per code and overall, or the disagreements."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from qcode.cli.boundary import command
from qcode.cli.common import FormatOpt, ProjectOpt, open_project, open_store
from qcode.cli.output import Format, info, render, render_object, warn

if TYPE_CHECKING:
    from qcode.agreement import Report

QUOTE_WIDTH = 200  # characters of a quote shown in the table (JSON and CSV: all of it)
FIGURE_COLUMNS = ["agreement", "kappa", "pi", "alpha", "brennan_prediger"]
TABLE_NAMES = {"agreement": "agreement", "kappa": "κ", "pi": "π", "alpha": "α",
               "brennan_prediger": "κ_n"}


class Level(StrEnum):
    code = "code"
    theme = "theme"


def _coder_column(coder: str, taken: set[str], prefix: str) -> str:
    """A coder's column: ``prefix`` and their name (prefixed with ``coder:`` when it is
    already a column's name)."""
    name = prefix + coder
    return f"coder:{name}" if name in taken else name


def _flatten(rows: list[dict[str, Any]], key: str, coders: list[str], fixed: list[str],
             prefix: str = "") -> tuple[list[dict[str, Any]], list[str]]:
    """Rows with the per-coder dict ``key`` spread into one column per coder (table, CSV)."""
    names = {c: _coder_column(c, set(fixed), prefix) for c in coders}
    out = []
    for row in rows:
        flat = {k: v for k, v in row.items() if k != key}
        for coder, value in row[key].items():
            flat[names[coder]] = value
        out.append(flat)
    return out, [names[c] for c in coders]


def _figures_table(report: Report, rows: list[dict[str, Any]]) -> None:
    shown = []
    for row in rows:
        cells = dict(row)
        cells[report.level] = "(overall)" if row["level"] == "overall" else row[report.level]
        for name in FIGURE_COLUMNS:
            cells[TABLE_NAMES[name]] = "undefined" if row[name] is None else f"{row[name]:.4f}"
        shown.append(cells)
    flat, coder_cols = _flatten(shown, "coded", report.coders,
                                [report.level, "unit", "units", *TABLE_NAMES.values(),
                                 "note"], "coded:")
    title = f"Agreement of {', '.join(report.coders)} per {report.level} — unit: {report.unit}"
    render(flat, Format.table, [report.level, "unit", "units", *coder_cols,
                                *TABLE_NAMES.values(), "note"], title=title, wrap=("note",))


def _disagreements_out(report: Report, fmt: Format) -> None:
    from qcode.agreement import disagreement_rows

    rows = disagreement_rows(report)
    fixed = ["transcript", "turn", "where", "unit", report.level, "label", "start", "end",
             "quote"]
    if fmt is Format.json:
        render(rows, fmt, [*fixed, "coders"])
        return
    flat, coder_cols = _flatten(rows, "coders", report.coders, fixed)
    if fmt is Format.csv:
        render(flat, fmt, [*fixed, *coder_cols])
        return
    for row in flat:
        quote = " ".join((row["quote"] or "").split())
        row["quote"] = quote if len(quote) <= QUOTE_WIDTH else quote[:QUOTE_WIDTH - 1] + "…"
    render(flat, fmt, ["transcript", "turn", "where", report.level, "quote", *coder_cols],
           title=f"Disagreements of {', '.join(report.coders)} — unit: {report.unit}",
           wrap=("quote",))


def _summary(report: Report, figures: bool = True) -> None:
    """What was compared, on stderr."""
    info(f"unit: {report.unit} — {report.unit.description}")
    counts = ", ".join(f"{c} {len(report.coded[c])}" for c in report.coders)
    info(f"transcripts coded (at least one coding): {counts}; compared: {len(report.compared)} "
         f"coded by two coders or more"
         + (f" ({', '.join(report.compared)})" if 0 < len(report.compared) <= 12 else ""))
    if not report.compared:
        warn("no transcript was coded by two of these coders or more: nothing to compare")
    every = [t for t in report.compared if all(t in report.coded[c] for c in report.coders)]
    if len(every) < len(report.compared):
        info(f"{len(report.compared) - len(every)} transcript(s) missing for some coder: "
             "agreement, κ, π and κ_n use the units every coder coded; α uses every unit "
             "two coders or more coded")
    applied = sum(1 for r in report.results if r.applied)
    if figures:
        info(f"overall: pooled over every {report.level} × unit decision of the {applied} "
             f"{report.level}(s) some coder applied")
    for note in report.notes:
        info(f"note: {note}")


@command
def agreement(
    ctx: typer.Context,
    coders: Annotated[list[str], typer.Option(
        "--coders", help="The coders to compare, two or more: A,B[,C…] (or repeat the "
                         "option).", show_default=False)],
    unit: Annotated[str, typer.Option(
        "--unit", "-u", metavar="char|sentence|turn|segment[:0.9]|document",
        help="What one unit of agreement is: a character, a sentence, a speaker turn, a "
             "coder's passage (matched when |A∩B|/|A∪B| reaches the threshold), or a whole "
             "transcript.")] = "sentence",
    level: Annotated[Level, typer.Option(
        "--level", help="Rows per code, or per theme (a unit carries a theme when any of its "
                        "codes is coded there).")] = Level.code,
    theme: Annotated[list[str] | None, typer.Option(
        "--theme", help="A theme (id, label): its codes and sub-codes. Repeatable.",
        show_default=False)] = None,
    code: Annotated[list[str] | None, typer.Option(
        "--code", "-c", help="A code (id, label, key) with its sub-codes. Repeatable.",
        show_default=False)] = None,
    transcript: Annotated[list[str] | None, typer.Option(
        "--transcript", "-t", help="Only this transcript. Repeatable.", show_default=False)
    ] = None,
    disagreements: Annotated[bool, typer.Option(
        "--disagreements", help="List the passages where the coders differ (code, "
                                "transcript, turn, quote, who applied what) instead of the "
                                "figures.")] = False,
    all_codes: Annotated[bool, typer.Option(
        "--all-codes", help="Also list the codes (or themes) nobody applied in the "
                            "transcripts compared (their figures are undefined).")] = False,
    fmt: FormatOpt = Format.table,
    project: ProjectOpt = None,
) -> None:
    """Intercoder agreement: percent agreement, Cohen's κ, Scott's π, Krippendorff's α."""
    from qcode.agreement import compare, parse_coders, parse_unit, rows
    from qcode.cli.codebook import report_sync
    from qcode.codebook_sync import open_synced

    names = parse_coders(coders)  # usage errors before the project is opened
    the_unit = parse_unit(unit)
    proj = open_project(ctx, project)
    store = open_store(proj)
    book, sync = open_synced(proj, store)
    report_sync(sync)
    report = compare(store, book, names, unit=the_unit, level=level.value,
                     themes=theme or [], codes=code or [], transcripts=transcript or [],
                     disagreements=disagreements)
    _summary(report, figures=not disagreements)
    if disagreements:
        _disagreements_out(report, fmt)
        info(f"{len(report.disagreements)} disagreement(s)")
        return
    table = rows(report)
    if not all_codes:
        unused = sum(1 for r in report.results if not r.applied)
        if unused:
            keep = {id(row) for row, r in zip(table, [*report.results, report.overall],
                                              strict=True) if r.applied or r is report.overall}
            table = [row for row in table if id(row) in keep]
            info(f"{unused} {report.level}(s) nobody applied in the transcripts compared are "
                 "not listed (--all-codes lists them, undefined)")
    if fmt is Format.json:
        render_object(table)
    elif fmt is Format.csv:
        flat, coder_cols = _flatten(table, "coded", report.coders,
                                    ["level", "theme", "code", "label", "unit", "units",
                                     *FIGURE_COLUMNS, "note"], "coded:")
        render(flat, fmt, ["level", "theme", "code", "label", "unit", "units", *coder_cols,
                           *FIGURE_COLUMNS, "note"])
    else:
        _figures_table(report, table)


def register(app: typer.Typer) -> None:
    app.command()(agreement)
