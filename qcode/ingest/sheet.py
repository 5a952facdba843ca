"""The attribute sheet: one row per transcript id, one column per attribute (CSV)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from qcode.errors import InputError
from qcode.ingest.encoding import decode_text
from qcode.ingest.model import excerpt, normalise_text

ID_COLUMNS = ("id", "transcript", "transcript_id", "entretien", "fichier")


@dataclass(slots=True)
class Sheet:
    path: Path
    rows: dict[str, dict[str, str]] = field(default_factory=dict)  # id → attributes
    lines: dict[str, int] = field(default_factory=dict)  # id → line number in the file
    errors: list[InputError] = field(default_factory=list)
    readable: bool = True  # False: the sheet could not be read at all, so it applies to nothing

    def row(self, tid: str, previous: dict[str, tuple[str, str]]) -> dict[str, str]:
        """The sheet's attributes for ``tid``; an unreadable sheet keeps the ones stored."""
        if not self.readable:
            return {k: v for k, (v, src) in previous.items() if src == "sheet"}
        return self.rows.get(tid, {})

    def check_ids(self, known: set[str]) -> None:
        """Report rows whose id names no transcript (they are not applied)."""
        for tid in list(self.rows):
            if tid not in known:
                self.errors.append(InputError(
                    f"unknown transcript id {excerpt(tid)} in the attribute sheet",
                    path=self.path, line=self.lines[tid],
                    hint="fix the id or remove the row; ids are transcript file names "
                         "without extension",
                ))
                del self.rows[tid]
        self.errors.sort(key=lambda e: e.line or 0)


def read_sheet(path: Path) -> Sheet:
    """Read the sheet; rows with problems are reported in ``errors`` and left out."""
    sheet = Sheet(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        sheet.errors.append(InputError(f"cannot read the attribute sheet: {exc.strerror}",
                                       path=path))
        sheet.readable = False
        return sheet
    try:
        text = normalise_text(decode_text(data, path))
    except InputError as exc:
        sheet.errors.append(exc)
        sheet.readable = False
        return sheet
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        sheet.errors.append(InputError("the attribute sheet has no header row", path=path,
                                       line=1))
        sheet.readable = False
        return sheet
    names = [h.strip() for h in header]
    lowered = [n.casefold() for n in names]
    id_col = next((lowered.index(c) for c in ID_COLUMNS if c in lowered), None)
    if id_col is None:
        sheet.errors.append(InputError(
            "the attribute sheet has no 'id' column", path=path, line=1,
            hint="name the first column 'id' and put transcript ids in it"))
        sheet.readable = False
        return sheet
    for i, name in enumerate(names):
        if not name:
            sheet.errors.append(InputError(f"column {i + 1} has no name", path=path, line=1))
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(names):
                sheet.errors.append(InputError(
                    f"{len(row)} cells but the header has {len(names)} columns",
                    path=path, line=line))
                continue
            tid = row[id_col].strip() if id_col < len(row) else ""
            if not tid:
                sheet.errors.append(InputError("row without a transcript id", path=path,
                                               line=line))
                continue
            if tid in sheet.rows:
                sheet.errors.append(InputError(
                    f"duplicate row for transcript {excerpt(tid)} "
                    f"(first at line {sheet.lines[tid]})",
                    path=path, line=line, hint="keep one row per transcript"))
                continue
            sheet.rows[tid] = {
                names[i]: cell.strip()
                for i, cell in enumerate(row)
                if i != id_col and names[i] and cell.strip()
            }
            sheet.lines[tid] = line
    except csv.Error as exc:
        # the rows after the damage are lost: apply none, rather than drop their attributes
        sheet.errors.append(InputError(f"malformed CSV: {exc}", path=path,
                                       line=reader.line_num,
                                       hint="nothing in the sheet is applied until it is fixed"))
        sheet.readable = False
    return sheet
