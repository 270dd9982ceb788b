"""Export gives back what import takes: CSV per kind and a FHIR R4 Bundle that validate and round-trip exactly."""

import json
from datetime import UTC, datetime
from pathlib import Path

from fhir.resources.R4B.bundle import Bundle

from gateway.composition.stores import Stores
from gateway.reference.export import to_bundle, to_csv, write_csv
from gateway.reference.importer import Source, import_sources, read_sources
from gateway.reference.model import KINDS, DeviceInfo, Location, Medication, ReferenceData, StaffMember

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
DATA = ReferenceData.of(
    version=4,
    locations=[
        Location("main", "Main building", "other", building="Main", floor="0"),
        Location("ward-3a", "Ward 3A (Cardiology), east", "ward", "Main", "3", "zone-d", "main"),
        Location("lab:core_1", 'Core lab "A"', "lab", floor="-1", part_of="main"),  # not a FHIR id: ':' and '_'
        Location("cabinet-1", "Cabinet 1", "cabinet", part_of="ward-3a"),
    ],
    staff=[StaffMember("rn-0421", "K. Okafor", "nurse"), StaffMember("N-10001", "Zoë Łukasiewicz", "nurse")],
    medications=[
        Medication("00614141001934", "Insulin aspart", "100 units/ml", "pen", refrigerated=True),
        Medication("00614141001583", "Morphine", "10 mg/1 ml", "ampoule", controlled=True),
        Medication("00614141001897", "Sodium chloride 0.9 %", "0.9 %", None),
        Medication("00614141001019", "Paracetamol", None, "tablet"),
    ],
    devices=[DeviceInfo("sorter-1", "Sorter, lab", "lab:core_1"), DeviceInfo("robot-1", "Robot 1")],
)


def test_csv_export_imports_back_to_the_same_data() -> None:
    sources = [Source(f"{kind}.csv", to_csv(DATA, kind)) for kind in KINDS]

    again = ReferenceData.of(version=4, **read_sources(sources, ReferenceData()))

    assert again == DATA
    assert to_csv(DATA, "medications").splitlines()[:2] == [
        "gtin,name,strength,form,refrigerated,controlled",
        "00614141001019,Paracetamol,,tablet,no,no",
    ]


def test_the_fhir_bundle_validates_as_r4_and_imports_back_to_the_same_data() -> None:
    bundle = to_bundle(DATA)

    Bundle.model_validate(bundle)  # raises if any resource is not valid FHIR
    again = ReferenceData.of(version=4, **read_sources([Source("export.json", json.dumps(bundle))], ReferenceData()))

    assert again == DATA
    by_type = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert by_type == ["Location"] * 4 + ["Practitioner"] * 2 + ["Medication"] * 4 + ["Device"] * 2
    morphine = next(e["resource"] for e in bundle["entry"] if e["resource"].get("id") == "00614141001583")
    assert morphine["ingredient"][0]["strength"] == {
        "numerator": {"value": 10.0, "unit": "mg"},
        "denominator": {"value": 1.0, "unit": "ml"},
    }


async def test_an_export_of_a_stored_version_is_a_backup_that_restores_it(store: Stores, tmp_path: Path) -> None:
    kinds = {kind: list(getattr(DATA, kind).values()) for kind in KINDS}
    first = await store.reference.adopt(kinds, by="a", source="s", comment="", now=NOW)
    await store.reference.adopt({"staff": []}, by="a", source="oops.csv", comment="emptied by mistake", now=NOW)

    paths = write_csv(first, tmp_path / "backup")
    restored = await import_sources(
        store.reference, [Source(p.name, p.read_text()) for p in paths], by="a", comment="restore", now=NOW
    )

    assert restored.version == 3
    assert ReferenceData.of(version=1, **{k: list(getattr(restored, k).values()) for k in KINDS}) == first
