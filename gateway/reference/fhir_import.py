"""Reading reference data from a FHIR R4 Bundle (JSON) of Location, Practitioner, Medication and Device entries.

Each entry's resource is validated with `fhir.resources` (R4B: FHIR 4.3, the same as R4 for these four) and then
mapped as `gateway.reference.fhir_mapping` documents. A Patient or RelatedPerson entry is refused and nothing of
it is kept or echoed: reference data holds staff, never patients. Problems name the file, the entry index, the
element path and the reason, all of them at once (`ReferenceImportError`).
"""

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.location import Location as FhirLocation
from fhir.resources.R4B.medication import Medication as FhirMedication
from fhir.resources.R4B.practitioner import Practitioner
from pydantic import ValidationError

from gateway.reference.checks import BUILDERS, Collector, Sourced
from gateway.reference.fhir_mapping import (
    EXT_BUILDING,
    EXT_CONTROLLED,
    EXT_FLOOR,
    EXT_LOCATION_KIND,
    EXT_REFRIGERATED,
    EXT_STAFF_ROLE,
    EXT_STRENGTH,
    EXT_ZONE,
    GTIN_SYSTEM,
    PHYSICAL_CODES,
    TYPE_CODES,
    IdentifierSystems,
)
from gateway.reference.problems import ImportProblem, ReferenceImportError

RESOURCES: dict[str, tuple[str, Any]] = {
    "Location": ("locations", FhirLocation),
    "Practitioner": ("staff", Practitioner),
    "Medication": ("medications", FhirMedication),
    "Device": ("devices", Device),
}
PEOPLE_NOT_STAFF = ("Patient", "RelatedPerson", "Person")
MEASURED = frozenset({"ml", "l", "g", "mg", "kg"})
"""Denominator units a strength keeps even when 1 (per 1 ml); per 1 tablet or 1 dose it goes without saying."""
Report = Callable[[str, str], None]


def _path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(resource)"


def _extension(resource: Any, url: str) -> Any:
    for extension in resource.extension or ():
        if extension.url == url:
            for name in ("valueString", "valueCode", "valueBoolean"):
                value = getattr(extension, name, None)
                if value is not None:
                    return value
    return None


def _number(value: Any) -> str:
    text = f"{Decimal(str(value)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _quantity(quantity: Any) -> str | None:
    if quantity is None or quantity.value is None:
        return None
    unit = quantity.unit or quantity.code
    return f"{_number(quantity.value)} {unit}" if unit else _number(quantity.value)


class _Entry:
    """One entry's resource read into a record's values, with the element path each value came from."""

    def __init__(self, resource: Any, systems: IdentifierSystems, refs: Mapping[str, str], report: Report) -> None:
        self.resource = resource
        self.systems = systems
        self.refs = refs
        self.report = report
        self.labels: dict[str, str] = {}

    def identifier(self, name: str, system: str | None, *, fallback_id: bool) -> str | None:
        for n, identifier in enumerate(self.resource.identifier or ()):
            if identifier.value and (system is None or identifier.system == system):
                self.labels[name] = f"identifier[{n}].value"
                return str(identifier.value)
        self.labels[name] = "identifier"
        if fallback_id and system is None and self.resource.id:
            self.labels[name] = "id"
            return str(self.resource.id)
        wanted = f"with system {system}" if system else "with a value"
        self.report(name, f"no identifier {wanted}: the wardlink id comes from it")
        return None

    def reference(self, name: str, label: str, reference: Any) -> str | None:
        self.labels[name] = label
        if reference is None:
            return None
        if reference.reference and reference.reference in self.refs:
            return self.refs[reference.reference]
        if reference.identifier is not None and reference.identifier.value:
            return str(reference.identifier.value)
        if reference.reference and reference.reference.startswith("Location/"):
            return str(reference.reference).removeprefix("Location/")
        self.report(name, f"{reference.reference or 'the reference'} is no Location entry of this bundle")
        return None

    def location(self) -> dict[str, Any]:
        r = self.resource
        kind = _extension(r, EXT_LOCATION_KIND)
        self.labels |= {"kind": "extension(location-kind)", "name": "name", "part_of": "partOf"}
        if kind is None:
            codes = [c.code for t in r.type or () for c in t.coding or ()]
            physical = [c.code for c in (r.physicalType.coding or ())] if r.physicalType else []
            kind = next((TYPE_CODES[c] for c in codes if c in TYPE_CODES), None)
            kind = kind or next((PHYSICAL_CODES[c] for c in physical if c in PHYSICAL_CODES), None)
        for name, url in (("building", EXT_BUILDING), ("floor", EXT_FLOOR), ("zone", EXT_ZONE)):
            self.labels[name] = f"extension({url.rsplit('/', 1)[-1]})"
        return {
            "id": self.identifier("id", self.systems.location, fallback_id=True),
            "name": r.name,
            "kind": kind,
            "building": _extension(r, EXT_BUILDING),
            "floor": _extension(r, EXT_FLOOR),
            "zone": _extension(r, EXT_ZONE),
            "part_of": self.reference("part_of", "partOf", r.partOf),
        }

    def staff(self) -> dict[str, Any]:
        r = self.resource
        name = None
        if r.name:
            first = r.name[0]
            given = next((g for g in first.given or () if g), None)
            name = first.text or (f"{given[0]}. {first.family}" if given and first.family else first.family)
        role = _extension(r, EXT_STAFF_ROLE)
        self.labels |= {"name": "name[0]", "role": "extension(staff-role)"}
        if role is None and r.qualification:
            code = r.qualification[0].code
            coding = code.coding[0] if code.coding else None
            role = code.text or (coding.display or coding.code if coding else None)
            self.labels["role"] = "qualification[0].code"
        return {"badge": self.identifier("badge", self.systems.badge, fallback_id=False), "name": name, "role": role}

    def medication(self) -> dict[str, Any]:
        r = self.resource
        codings = list(r.code.coding or ()) if r.code else []
        gtin = next(((n, c) for n, c in enumerate(codings) if c.system == GTIN_SYSTEM), None)
        self.labels |= {"gtin": f"code.coding[{gtin[0]}].code" if gtin else "code.coding", "name": "code.text"}
        if gtin is None:
            self.report("gtin", f"no code.coding with system {GTIN_SYSTEM}: the GTIN identifies the medication")
        strength = _extension(r, EXT_STRENGTH)
        self.labels["strength"] = "extension(medication-strength)"
        if strength is None and r.ingredient and r.ingredient[0].strength is not None:
            ratio = r.ingredient[0].strength
            strength = _quantity(ratio.numerator)
            per = ratio.denominator
            per_unit = ((per.unit or per.code or "") if per is not None else "").lower()
            if strength and per is not None and (per.value != 1 or per_unit in MEASURED):
                strength += f"/{_quantity(per)}"  # "10 mg/1 ml"; "500 mg" per tablet needs no "/1 tablet"
            self.labels["strength"] = "ingredient[0].strength"
        form = None
        if r.form is not None:
            first = r.form.coding[0] if r.form.coding else None
            form = r.form.text or (first.display or first.code if first else None)
        self.labels |= {"form": "form", "refrigerated": "extension(medication-refrigerated)"}
        self.labels["controlled"] = "extension(medication-controlled)"
        name = r.code.text if r.code else None
        return {
            "gtin": gtin[1].code if gtin else None,
            "name": name or (gtin[1].display if gtin else None),
            "strength": strength,
            "form": form,
            "refrigerated": _extension(r, EXT_REFRIGERATED),
            "controlled": _extension(r, EXT_CONTROLLED),
        }

    def device(self) -> dict[str, Any]:
        r = self.resource
        names = list(r.deviceName or ())
        chosen = next(((n, d) for n, d in enumerate(names) if d.type == "user-friendly-name"), None)
        chosen = chosen or (next(iter(enumerate(names))) if names else None)
        self.labels["name"] = f"deviceName[{chosen[0]}].name" if chosen else "deviceName"
        name = chosen[1].name if chosen else (r.type.text if r.type else None)
        return {
            "id": self.identifier("id", self.systems.device, fallback_id=True),
            "name": name,
            "location": self.reference("location", "location", r.location),
        }


READERS: dict[str, Callable[[_Entry], dict[str, Any]]] = {
    "locations": _Entry.location,
    "staff": _Entry.staff,
    "medications": _Entry.medication,
    "devices": _Entry.device,
}


def _load(text: str | bytes, file: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReferenceImportError([ImportProblem(file, "(file)", f"not JSON: {exc}")]) from None
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        found = body.get("resourceType") if isinstance(body, dict) else type(body).__name__
        raise ReferenceImportError([ImportProblem(file, "resourceType", f"{found!r}: a Bundle is expected")])
    return body


def parse_bundle(
    text: str | bytes, file: str, systems: IdentifierSystems | None = None
) -> dict[str, list[Sourced[Any]]]:
    """Every record of a Bundle by kind, or `ReferenceImportError` naming each entry, element and reason."""
    read, problems = read_bundle(text, file, systems)
    if problems:
        raise ReferenceImportError(problems)
    return read


def read_bundle(
    text: str | bytes, file: str, systems: IdentifierSystems | None = None
) -> tuple[dict[str, list[Sourced[Any]]], list[ImportProblem]]:
    """The good records of a Bundle by kind, and the problems with the other entries."""
    systems = systems or IdentifierSystems()
    try:
        body = _load(text, file)
    except ReferenceImportError as exc:
        return {}, exc.problems
    problems: list[ImportProblem] = []
    try:
        Bundle.model_validate({k: v for k, v in body.items() if k != "entry"})
    except ValidationError as exc:
        problems += [ImportProblem(file, _path(e["loc"]), e["msg"]) for e in exc.errors()]
    entries = body.get("entry") or []
    if not isinstance(entries, list):
        return {}, [*problems, ImportProblem(file, "entry", "must be a list of entries")]
    valid: list[tuple[int, str, str | None, Any]] = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            problems.append(ImportProblem(file, "resource", "the entry has no resource", entry=index))
            continue
        kind_of = resource.get("resourceType")
        if kind_of in PEOPLE_NOT_STAFF:
            reason = f"a {kind_of}: reference data holds staff only, never patients; remove the entry"
            problems.append(ImportProblem(file, "resourceType", reason, entry=index))
            continue
        if kind_of not in RESOURCES:
            reason = f"{kind_of!r} is not reference data: use {', '.join(RESOURCES)}"
            problems.append(ImportProblem(file, "resourceType", reason, entry=index))
            continue
        kind, model = RESOURCES[kind_of]
        try:
            parsed = model.model_validate(resource)
        except ValidationError as exc:
            problems += [ImportProblem(file, _path(e["loc"]), e["msg"], entry=index) for e in exc.errors()]
            continue
        valid.append((index, kind, entry.get("fullUrl"), parsed))
    refs = _location_refs(valid, systems)
    read: dict[str, list[Sourced[Any]]] = {}
    for index, kind, _, parsed in valid:
        found = Collector()
        mapped = _Entry(parsed, systems, refs, found)
        values = READERS[kind](mapped)
        record = BUILDERS[kind](values, found)
        problems += [ImportProblem(file, mapped.labels.get(n, n), r, entry=index) for n, r in found]
        if record is not None and not found:
            read.setdefault(kind, []).append(Sourced(record, file, entry=index, labels=mapped.labels))
    return read, problems


def _location_refs(valid: list[tuple[int, str, str | None, Any]], systems: IdentifierSystems) -> dict[str, str]:
    """How entries refer to a Location (its fullUrl, `Location/<id>`) -> its wardlink id."""
    refs: dict[str, str] = {}
    for _, kind, full_url, parsed in valid:
        if kind != "locations":
            continue
        wardlink_id = _Entry(parsed, systems, {}, lambda *_: None).identifier("id", systems.location, fallback_id=True)
        if wardlink_id is None:
            continue
        if full_url:
            refs[full_url] = wardlink_id
        if parsed.id:
            refs[f"Location/{parsed.id}"] = wardlink_id
    return refs
