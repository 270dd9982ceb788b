"""Building reference records from what a file says, and the checks across records, files and the data in force.

The CSV and FHIR readers hand each row or entry's values here by logical field name; a problem is reported under
the name the file uses for that field (a CSV column, a FHIR element path) through `Sourced`. The rules: ids are
wardlink identifiers (`contract.ids`), GTINs are GS1 numbers with a valid check digit (kept as 14 digits, as
events carry them), names are one line of at most 200 characters, staff are never patients, and every id a record
points to (a device's location, a location's parent) exists in the import or in the data in force.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, get_args

from pydantic import TypeAdapter, ValidationError

from contract.ids import Gtin, InvalidIdentifierError, check_identifier
from gateway.reference.model import (
    KINDS,
    DeviceInfo,
    Location,
    LocationKind,
    Medication,
    ReferenceData,
    StaffMember,
)
from gateway.reference.problems import ImportProblem

T = TypeVar("T")
Report = Callable[[str, str], None]
"""`report(field, reason)`: one problem with the record being built (field is the logical name)."""

LOCATION_KINDS: tuple[str, ...] = get_args(LocationKind)
KEYS = {"locations": "id", "staff": "badge", "medications": "gtin", "devices": "id"}
MAX_TEXT = 200
NOT_STAFF = frozenset({"patient", "relatedperson", "related person", "relative", "visitor", "next of kin"})
"""Roles that would put people other than staff into the reference data (never: no patient data)."""
_GTIN: TypeAdapter[str] = TypeAdapter(Gtin)


class Collector(list[tuple[str, str]]):
    """A `Report` that keeps (field, reason) pairs, for one record at a time: the first reason per field (a FHIR
    reader that found no identifier has said more than the record check's "required")."""

    def __call__(self, name: str, reason: str) -> None:
        if all(name != known for known, _ in self):
            self.append((name, reason))


@dataclass(frozen=True, slots=True)
class Sourced(Generic[T]):
    """A record and where it came from, so a later check can name the file, row or entry and the field."""

    record: T
    file: str
    row: int | None = None
    entry: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    """Logical field name -> the name the file uses (CSV column, FHIR element path)."""

    def problem(self, name: str, reason: str) -> ImportProblem:
        return ImportProblem(self.file, self.labels.get(name, name), reason, row=self.row, entry=self.entry)

    @property
    def where(self) -> str:
        return f"{self.file} {'row ' + str(self.row) if self.row is not None else 'entry ' + str(self.entry)}"


def _identifier(value: Any, what: str) -> str:
    try:
        return check_identifier(str(value).strip(), what=what)
    except InvalidIdentifierError as exc:
        raise ValueError(str(exc)) from None


def _gtin(value: Any) -> str:
    try:
        return _GTIN.validate_python(str(value).strip())
    except ValidationError as exc:
        raise ValueError(str(exc.errors()[0].get("ctx", {}).get("error", "not a GTIN"))) from None


_NUMBER = re.compile(r"-\d+(?:[.,]\d+)?")
"""The one text starting with `-` that a spreadsheet does not run as a formula: a plain negative number."""


def _text(value: Any, *, required: bool) -> str | None:
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            raise ValueError("is required and empty")
        return None
    if len(text) > MAX_TEXT:
        raise ValueError(f"is {len(text)} characters long, the limit is {MAX_TEXT}")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError("contains a line break or control character: keep it to one line")
    if text[0] in "=+@" or (text[0] == "-" and not _NUMBER.fullmatch(text)):
        raise ValueError(f"starts with {text[0]!r}, which a spreadsheet opening the export would run as a formula")
    return text


class _Fields:
    """Reads one record's values, collecting a problem per bad field instead of stopping at the first."""

    def __init__(self, values: Mapping[str, Any], report: Report) -> None:
        self.values = values
        self.report = report
        self.ok = True

    def _get(self, name: str, convert: Callable[[Any], Any]) -> Any:
        try:
            return convert(self.values.get(name))
        except ValueError as exc:
            self.report(name, str(exc))
            self.ok = False
            return None

    def id(self, name: str, what: str, *, required: bool = True) -> Any:
        def convert(value: Any) -> str | None:
            if value is None or not str(value).strip():
                if required:
                    raise ValueError("is required and empty")
                return None
            return _identifier(value, what)

        return self._get(name, convert)

    def text(self, name: str, *, required: bool = False) -> Any:
        return self._get(name, lambda v: _text(v, required=required))

    def gtin(self, name: str) -> Any:
        return self._get(name, lambda v: _gtin(v) if v is not None and str(v).strip() else _required())

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        self.report(name, f"{value!r} is not yes or no")
        self.ok = False
        return False

    def choice(self, name: str, choices: Sequence[str], default: str) -> Any:
        def convert(value: Any) -> str:
            text = _text(value, required=False)
            if text is None:
                return default
            if text.lower() not in choices:
                raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
            return text.lower()

        return self._get(name, convert)


def _required() -> None:
    raise ValueError("is required and empty")


def location(values: Mapping[str, Any], report: Report) -> Location | None:
    f = _Fields(values, report)
    built = Location(
        id=f.id("id", "location id"),
        name=f.text("name", required=True),
        kind=f.choice("kind", LOCATION_KINDS, "other"),
        building=f.text("building"),
        floor=f.text("floor"),
        zone=f.text("zone"),
        part_of=f.id("part_of", "part_of location id", required=False),
    )
    if f.ok and built.part_of == built.id:
        report("part_of", f"location {built.id} cannot be part of itself")
        return None
    return built if f.ok else None


def staff_member(values: Mapping[str, Any], report: Report) -> StaffMember | None:
    f = _Fields(values, report)
    built = StaffMember(
        badge=f.id("badge", "badge"), name=f.text("name", required=True), role=f.text("role", required=True)
    )
    if f.ok and built.role.lower() in NOT_STAFF:
        report("role", f"{built.role!r}: reference data holds staff only, never patients or their relatives")
        return None
    return built if f.ok else None


def medication(values: Mapping[str, Any], report: Report) -> Medication | None:
    f = _Fields(values, report)
    built = Medication(
        gtin=f.gtin("gtin"),
        name=f.text("name", required=True),
        strength=f.text("strength"),
        form=f.text("form"),
        refrigerated=f.flag("refrigerated"),
        controlled=f.flag("controlled"),
    )
    return built if f.ok else None


def device(values: Mapping[str, Any], report: Report) -> DeviceInfo | None:
    f = _Fields(values, report)
    built = DeviceInfo(
        id=f.id("id", "device id"),
        name=f.text("name", required=True),
        location=f.id("location", "location id", required=False),
    )
    return built if f.ok else None


BUILDERS: dict[str, Callable[[Mapping[str, Any], Report], Any]] = {
    "locations": location,
    "staff": staff_member,
    "medications": medication,
    "devices": device,
}


def check_together(read: Mapping[str, Sequence[Sourced[Any]]], in_force: ReferenceData) -> list[ImportProblem]:
    """Problems only visible across records: duplicates, and ids that point nowhere once the import is in force."""
    problems: list[ImportProblem] = []
    for kind in KINDS:
        seen: dict[str, Sourced[Any]] = {}
        for item in read.get(kind, ()):
            key = getattr(item.record, KEYS[kind])
            if key in seen:
                problems.append(item.problem(KEYS[kind], f"{key} is also in {seen[key].where}: each one once"))
            else:
                seen[key] = item
    imported_locations = {item.record.id: item for item in read.get("locations", ())}
    locations = set(imported_locations) if "locations" in read else set(in_force.locations)
    for item in read.get("locations", ()):
        parent = item.record.part_of
        if parent is not None and parent not in imported_locations:
            problems.append(item.problem("part_of", f"no location {parent} in this import: add it, or leave it empty"))
    problems += _cycles(imported_locations)
    for item in read.get("devices", ()):
        where = item.record.location
        if where is not None and where not in locations:
            problems.append(item.problem("location", f"no location {where} in this import or in force: add it first"))
    if "locations" in read and "devices" not in read:
        first = read["locations"][0] if read["locations"] else None
        for device_id, info in sorted(in_force.devices.items()):
            if info.location is not None and info.location not in locations:
                reason = f"device {device_id} (in force) is at location {info.location}, which this import drops"
                problems.append(
                    ImportProblem(first.file if first else "import", "id", reason + ": keep it or import devices too")
                )
    return problems


def _cycles(locations: Mapping[str, Sourced[Location]]) -> list[ImportProblem]:
    problems = []
    for start, item in locations.items():
        seen = [start]
        parent = item.record.part_of
        while parent is not None and parent in locations and parent not in seen:
            seen.append(parent)
            parent = locations[parent].record.part_of
        if parent == start:
            problems.append(item.problem("part_of", f"locations contain each other: {' -> '.join([*seen, start])}"))
    return problems
