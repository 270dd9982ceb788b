"""CSV import: the header tells the kind, every row is checked, every problem is named, nothing stored on any."""

from datetime import UTC, datetime

import pytest

from gateway.composition.stores import Stores
from gateway.reference.csv_import import parse_csv
from gateway.reference.importer import Source, import_sources, read_sources
from gateway.reference.model import DeviceInfo, Location, Medication, ReferenceData, StaffMember
from gateway.reference.problems import ImportProblem, ReferenceImportError

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
LOCATIONS = """id,name,kind,building,floor,zone,part_of
ward-3a,Ward 3A (Cardiology),ward,Main,3,zone-d,
cabinet-1,"Medication cabinet 1, Ward 3A",cabinet,Main,3,,ward-3a
"""
STAFF = "badge,name,role\nrn-0421,K. Okafor,nurse\nbms-0113,L. Brandt,scientist\n"
MEDICATIONS = """GTIN,Name,Strength,Form,Refrigerated,Controlled
00614141001934,Insulin aspart 100 units/ml pen,100 units/ml,pen,Yes,no
614141001583,Morphine sulfate 10 mg/1 ml injection,10 mg/1 ml,ampoule,0,TRUE
"""
DEVICES = "id,name,location\nsorter-1,Specimen sorter 1,ward-3a\nrobot-1,Delivery robot 1,\n"


def problems(*sources: Source, in_force: ReferenceData | None = None) -> list[str]:
    with pytest.raises(ReferenceImportError) as caught:
        read_sources(sources, in_force or ReferenceData())
    return [str(p) for p in caught.value.problems]


def test_each_kind_reads_from_its_documented_columns_in_any_case_and_order() -> None:
    read = read_sources(
        [
            Source("locations.csv", LOCATIONS),
            Source("staff.csv", STAFF),
            Source("formulary.csv", MEDICATIONS),
            Source("devices.csv", DEVICES),
        ],
        ReferenceData(),
    )

    assert read["locations"] == [
        Location("ward-3a", "Ward 3A (Cardiology)", "ward", "Main", "3", "zone-d", None),
        Location("cabinet-1", "Medication cabinet 1, Ward 3A", "cabinet", "Main", "3", None, "ward-3a"),
    ]
    assert read["staff"] == [
        StaffMember("rn-0421", "K. Okafor", "nurse"),
        StaffMember("bms-0113", "L. Brandt", "scientist"),
    ]
    assert read["medications"] == [
        Medication("00614141001934", "Insulin aspart 100 units/ml pen", "100 units/ml", "pen", True, False),
        # a GTIN-12 is kept as the 14 digits events carry
        Medication("00614141001583", "Morphine sulfate 10 mg/1 ml injection", "10 mg/1 ml", "ampoule", False, True),
    ]
    assert read["devices"] == [
        DeviceInfo("sorter-1", "Specimen sorter 1", "ward-3a"),
        DeviceInfo("robot-1", "Delivery robot 1", None),
    ]


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("export.csv", "badge,name,role\nrn-1,A. B,nurse\n", "staff"),
        ("places.csv", "id,name,kind\nicu,ICU,ward\n", "locations"),
        ("devices.csv", "id,name\nsorter-1,Sorter\n", "devices"),
        ("locations.csv", "id,name\nicu,ICU\n", "locations"),
        ("\ufeffbom.csv", "\ufeffgtin,name\n00614141001019,Paracetamol\n", "medications"),
    ],
)
def test_the_header_tells_the_kind_and_the_file_name_breaks_a_tie(name: str, text: str, kind: str) -> None:
    assert parse_csv(text, name).kind == kind


def test_a_header_that_fits_two_kinds_needs_the_file_name_or_the_kind() -> None:
    assert problems(Source("upload.csv", "id,name\nicu,ICU\n")) == [
        "upload.csv: row 1: (header): the columns fit locations and devices: name the file locations.csv or "
        "devices.csv, or give the kind"
    ]
    read = read_sources([Source("upload.csv", "id,name\nicu,ICU\n", kind="locations")], ReferenceData())
    assert read == {"locations": [Location("icu", "ICU")]}


def test_unknown_and_missing_columns_are_named_on_the_header_row() -> None:
    assert problems(Source("staff.csv", "badge,name,rôle,ward\nrn-1,A. B,nurse,icu\n")) == [
        "staff.csv: row 1: role: required column for staff is missing",
        "staff.csv: row 1: rôle: unknown column for staff (columns: badge, name, role)",
        "staff.csv: row 1: ward: unknown column for staff (columns: badge, name, role)",
    ]


def test_every_problem_in_every_file_is_named_with_file_row_field_and_reason() -> None:
    staff = (
        "badge,name,role\nrn 0421,K. Okafor,nurse\nrn-0422,,nurse\nrn-0423,J. Doe,patient\nrn-0424,A. B\n"
        'rn-0425,"=HYPERLINK(""http://x"")",nurse\n'
        "rn-0426,-1+cmd|' /C calc'!A0,nurse\n"
        "rn-0427,-2+3,nurse\n"
        "rn-0428,-12.5,nurse\n"
    )
    medications = (
        "gtin,name,refrigerated\n00614141001935,Insulin,yes\n12345,Saline,no\n00614141001019,Paracetamol,maybe\n"
    )
    devices = "id,name,location\nsorter-1,Sorter,lab-nowhere\nsorter-1,Sorter again,\n"

    assert problems(Source("staff.csv", staff), Source("meds.csv", medications), Source("devices.csv", devices)) == [
        "staff.csv: row 2: badge: badge 'rn 0421' contains ' ': use letters, digits and . _ : - only, "
        "starting with a letter or digit",
        "staff.csv: row 3: name: is required and empty",
        "staff.csv: row 4: role: 'patient': reference data holds staff only, never patients or their relatives",
        "staff.csv: row 5: (row): has 2 cells, the header 3: quote values that contain commas",
        "staff.csv: row 6: name: starts with '=', which a spreadsheet opening the export would run as a formula",
        "staff.csv: row 7: name: starts with '-', which a spreadsheet opening the export would run as a formula",
        "staff.csv: row 8: name: starts with '-', which a spreadsheet opening the export would run as a formula",
        "meds.csv: row 2: gtin: GTIN '00614141001935' has a wrong check digit",
        "meds.csv: row 3: gtin: GTIN '12345' must be 8, 12, 13 or 14 digits",
        "meds.csv: row 4: refrigerated: 'maybe' is not yes or no",
        "devices.csv: row 3: id: sorter-1 is also in devices.csv row 2: each one once",
        "devices.csv: row 2: location: no location lab-nowhere in this import or in force: add it first",
    ]


def test_ids_point_to_locations_in_the_import_or_in_force() -> None:
    in_force = ReferenceData.of(version=3, locations=[Location("core-lab", "Core lab", "lab")])
    devices = read_sources([Source("devices.csv", "id,name,location\nsorter-1,Sorter,core-lab\n")], in_force)
    assert devices["devices"] == [DeviceInfo("sorter-1", "Sorter", "core-lab")]

    loops = "id,name,part_of\na,A,b\nb,B,a\nc,C,nowhere\nd,D,d\n"
    assert problems(Source("locations.csv", loops), in_force=in_force) == [
        "locations.csv: row 5: part_of: location d cannot be part of itself",
        "locations.csv: row 4: part_of: no location nowhere in this import: add it, or leave it empty",
        "locations.csv: row 2: part_of: locations contain each other: a -> b -> a",
        "locations.csv: row 3: part_of: locations contain each other: b -> a -> b",
    ]


def test_new_locations_may_not_strand_the_devices_in_force() -> None:
    in_force = ReferenceData.of(
        version=1, locations=[Location("core-lab", "Core lab")], devices=[DeviceInfo("sorter-1", "Sorter", "core-lab")]
    )
    assert problems(Source("locations.csv", "id,name\nicu,ICU\n"), in_force=in_force) == [
        "locations.csv: (file): id: device sorter-1 (in force) is at location core-lab, which this import drops: "
        "keep it or import devices too"
    ]


async def test_nothing_is_stored_when_any_file_has_a_problem(store: Stores) -> None:
    good = Source("staff.csv", STAFF)
    bad = Source("devices.csv", "id,name,location\nsorter-1,Sorter,nowhere\n")

    with pytest.raises(ReferenceImportError) as caught:
        await import_sources(store.reference, [good, bad], by="admin", comment="", now=NOW)

    assert caught.value.problems == [
        ImportProblem("devices.csv", "location", "no location nowhere in this import or in force: add it first", row=2)
    ]
    assert await store.reference.versions() == []
    assert (await store.reference.current()).staff_name("rn-0421") is None


async def test_several_files_make_one_version_and_files_of_one_kind_add_up(store: Stores) -> None:
    nurses = Source("nurses.csv", "badge,name,role\nrn-0421,K. Okafor,nurse\n")
    lab = Source("lab-staff.csv", "badge,name,role\nbms-0113,L. Brandt,scientist\n")

    data = await import_sources(
        store.reference, [Source("locations.csv", LOCATIONS), nurses, lab], by="u1", comment="rota", now=NOW
    )

    assert data.version == 1
    assert data.counts() == {"locations": 2, "staff": 2, "medications": 0, "devices": 0}
    (version,) = await store.reference.versions()
    assert (version.imported_by, version.source, version.comment) == (
        "u1",
        "locations.csv, nurses.csv, lab-staff.csv",
        "rota",
    )
    assert (await store.reference.current()).staff_name("bms-0113") == "L. Brandt"
