"""Reference data versions: each import is the next version, kinds not imported carry over, any version reads back."""

from datetime import UTC, datetime

from gateway.composition.stores import Stores
from gateway.reference.model import DeviceInfo, Location, Medication, StaffMember

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
WARD = Location("ward-3a", "Ward 3A (Cardiology)", "ward", building="Main", floor="3")


async def test_nothing_imported_is_version_zero_and_knows_no_name(store: Stores) -> None:
    data = await store.reference.current()
    assert data.version == 0
    assert data.location_name("ward-3a") is None
    assert await store.reference.versions() == []


async def test_an_import_replaces_its_kinds_and_carries_the_others_over(store: Stores) -> None:
    first = await store.reference.adopt(
        {"locations": [WARD], "staff": [StaffMember("rn-0421", "K. Okafor", "nurse")]},
        by="admin",
        source="hospital.csv",
        comment="first",
        now=NOW,
    )
    assert first.version == 1
    second = await store.reference.adopt(
        {"staff": [StaffMember("bms-0113", "L. Brandt", "scientist")], "medications": [Medication("0061", "X")]},
        by="admin",
        source="staff.csv",
        comment="new staff list",
        now=NOW,
    )
    assert second.version == 2
    assert second.location_name("ward-3a") == "Ward 3A (Cardiology)"  # carried over
    assert second.staff_name("rn-0421") is None  # the staff list was replaced as a whole
    assert second.staff_name("bms-0113") == "L. Brandt"
    assert (await store.reference.current()).version == 2

    old = await store.reference.at(1)
    assert old is not None
    assert old.staff_name("rn-0421") == "K. Okafor"
    assert await store.reference.at(9) is None
    versions = await store.reference.versions()
    assert [(v.version, v.source, dict(v.counts)) for v in versions] == [
        (2, "staff.csv", {"locations": 1, "staff": 1, "medications": 1, "devices": 0}),
        (1, "hospital.csv", {"locations": 1, "staff": 1, "medications": 0, "devices": 0}),
    ]


async def test_a_version_reads_back_field_for_field(store: Stores) -> None:
    device = DeviceInfo("sorter-1", "Lab sorter (main lab)", location="lab-main")
    med = Medication("00614141001897", "Insulin glargine", "100 units/mL", "pen", refrigerated=True)
    await store.reference.adopt(
        {"locations": [WARD], "devices": [device], "medications": [med]}, by="a", source="s", comment="", now=NOW
    )
    again = await store.reference.at(1)
    assert again is not None
    assert again.locations["ward-3a"] == WARD
    assert again.devices["sorter-1"] == device
    assert again.medications["00614141001897"] == med
