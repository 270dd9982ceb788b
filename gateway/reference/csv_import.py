"""Reading reference data from CSV: one file per kind, the kind told by its header row.

Columns (header names, any order, any case; `*` required):

    locations    id*, name*, kind, building, floor, zone, part_of
    staff        badge*, name*, role*
    medications  gtin*, name*, strength, form, refrigerated, controlled
    devices      id*, name*, location

Booleans are yes/no, true/false or 1/0 (empty: no). A header of only `id,name` fits both locations and devices:
the file name (`locations.csv`, `devices.csv`) or an explicit kind decides. Every problem in every row is collected
(`ReferenceImportError`), with the line number as a spreadsheet shows it (the header is line 1).
"""

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from gateway.reference.checks import BUILDERS, Collector, Sourced
from gateway.reference.model import KINDS
from gateway.reference.problems import ImportProblem, ReferenceImportError

COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "locations": (("id", "name"), ("kind", "building", "floor", "zone", "part_of")),
    "staff": (("badge", "name", "role"), ()),
    "medications": (("gtin", "name"), ("strength", "form", "refrigerated", "controlled")),
    "devices": (("id", "name"), ("location",)),
}
"""Per kind: the required columns, then the optional ones (the order export writes them in)."""
BOOLEAN = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}
MAX_ROWS = 200_000


@dataclass(frozen=True, slots=True)
class CsvFile:
    """One file's records of one kind, each with its line number."""

    kind: str | None
    records: list[Sourced[Any]] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)


def columns(kind: str) -> tuple[str, ...]:
    required, optional = COLUMNS[kind]
    return required + optional


def _kind(header: list[str], file: str, hint: str | None) -> tuple[str | None, list[ImportProblem]]:
    """The kind the header fits (the hint or the file name breaks a tie), or the problems saying why none."""
    if hint is not None and hint not in KINDS:
        return None, [ImportProblem(file, "kind", f"unknown kind {hint!r}: use one of {', '.join(KINDS)}", row=1)]
    names = set(header)
    fits = [k for k in KINDS if set(COLUMNS[k][0]) <= names <= set(columns(k))]
    stem = PurePath(file).stem.lower()
    named = [k for k in fits if k in stem or (k == "staff" and "practitioner" in stem)]
    if hint is not None:
        if hint in fits:
            return hint, []
        return None, _mismatch(header, file, hint)
    if len(fits) == 1:
        return fits[0], []
    if len(named) == 1:
        return named[0], []
    if fits:
        reason = f"the columns fit {' and '.join(fits)}: name the file {fits[0]}.csv or {fits[1]}.csv, or give the kind"
        return None, [ImportProblem(file, "(header)", reason, row=1)]
    closest = max(KINDS, key=lambda k: len(names & set(columns(k))) * 10 + (k in stem))
    return None, _mismatch(header, file, closest)


def _mismatch(header: list[str], file: str, kind: str) -> list[ImportProblem]:
    problems = []
    for name in COLUMNS[kind][0]:
        if name not in header:
            problems.append(ImportProblem(file, name, f"required column for {kind} is missing", row=1))
    for name in header:
        if name not in columns(kind):
            reason = f"unknown column for {kind} (columns: {', '.join(columns(kind))})"
            problems.append(ImportProblem(file, name or "(empty)", reason, row=1))
    return problems or [ImportProblem(file, "(header)", f"not a {kind} header", row=1)]


def _value(column: str, text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    if column in ("refrigerated", "controlled"):
        return BOOLEAN.get(text.lower(), text)  # an unknown word stays text: the record check names it
    return text


def parse_csv(text: str, file: str, *, kind: str | None = None) -> CsvFile:
    """Every record of one CSV file, or `ReferenceImportError` with every problem in it."""
    read = read_csv(text, file, kind=kind)
    if read.problems:
        raise ReferenceImportError(read.problems)
    return read


def read_csv(text: str, file: str, *, kind: str | None = None) -> CsvFile:
    """The good records of one CSV file and the problems with the others (the header's, when it fits no kind)."""
    text = text.removeprefix("\ufeff")  # a byte order mark, as spreadsheets save "CSV UTF-8"
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[ImportProblem] = []
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as exc:
        return CsvFile(None, problems=[ImportProblem(file, "(header)", f"not CSV: {exc}", row=1)])
    if not any(header):
        return CsvFile(
            None, problems=[ImportProblem(file, "(header)", "no header row: the first line names the columns")]
        )
    found, problems = _kind(header, file, kind)
    duplicates = sorted({h for h in header if header.count(h) > 1})
    problems += [ImportProblem(file, name, "column appears more than once", row=1) for name in duplicates]
    if found is None or problems:
        return CsvFile(None, problems=problems)
    result = CsvFile(found, problems=problems)
    build = BUILDERS[found]
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(ImportProblem(file, "(row)", f"not CSV: {exc}", row=line))
            break
        if not any(c.strip() for c in cells):
            continue  # blank lines between blocks, as spreadsheets leave them
        if len(result.records) >= MAX_ROWS:
            problems.append(ImportProblem(file, "(row)", f"more than {MAX_ROWS} rows: split the file", row=line))
            break
        if len(cells) != len(header):
            reason = f"has {len(cells)} cells, the header {len(header)}: quote values that contain commas"
            problems.append(ImportProblem(file, "(row)", reason, row=line))
            continue
        values: Mapping[str, Any] = {h: _value(h, c) for h, c in zip(header, cells, strict=True)}
        collected = Collector()
        record = build(values, collected)
        problems += [ImportProblem(file, name, reason, row=line) for name, reason in collected]
        if record is not None:
            result.records.append(Sourced(record, file, row=line))
    return result
