"""A small hospital's worth of tracked things for the FHIR tests: reference data, specimens on two wards, pharmacy
deliveries, a sorter that is online. Events are committed as the edges and the LIS report them (no patient data:
barcodes, badges and ids only).

    S-1001  ward-3a  stat cbc, collected 08:00 by rn-0421, received in lab-main 08:20 by bms-0113, resulted 08:40
    S-1002  ward-3a  routine blood-gas, collected 08:05 by rn-0421
    S-1003  ward-4b  routine cbc, collected 08:10
    S-1004  ward-3a  collected 08:01, rejected by sorter-1 at 08:30 (no read)
    S-1005  ward-3a  collected 08:02, sorted by sorter-1 at 08:15 to lane 4, rack 2, position 7
    D-001   ward-3a  stocked into cabinet-1 at 08:25;  D-002 ward-3a loaded on robot-1;  D-003 ward-4b created
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from contract import Event, Subject, new_event
from gateway.reference.model import DeviceInfo, Location, Medication, StaffMember
from gateway.service import Gateway
from tests.pharmacy_events import IBUPROFEN, PARACETAMOL, Seq, delivery_event, journey

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
SITE = "general-hospital"
ALL_SPECIMENS = ["S-1001", "S-1002", "S-1003", "S-1004", "S-1005"]
WARD_3A_SPECIMENS = ["S-1001", "S-1002", "S-1004", "S-1005"]

LOCATIONS = [
    Location("ward-3a", "Ward 3A (Cardiology)", "ward", building="Main", floor="3"),
    Location("ward-4b", "Ward 4B (Oncology)", "ward", building="Main", floor="4"),
    Location("lab-main", "Main laboratory", "lab", building="Main", floor="0"),
    Location("cabinet-1", "Ward 3A medication cabinet", "cabinet", part_of="ward-3a"),
]
STAFF = [StaffMember("rn-0421", "K. Okafor", "nurse"), StaffMember("bms-0113", "L. Brandt", "scientist")]
MEDICATIONS = [Medication(PARACETAMOL, "Paracetamol", "500 mg", "tablet")]
DEVICES = [
    DeviceInfo("sorter-1", "Lab sorter (main lab)", location="lab-main"),
    DeviceInfo("robot-1", "Delivery robot 1"),
]


def event(type_: str, kind: str, subject: str, minute: float, seq: int, device: str, **data: Any) -> Event:
    built = new_event(
        type_,  # type: ignore[arg-type]  # the tests name real event types
        seq=seq,
        site=SITE,
        edge="core-lab-edge" if device == "sorter-1" else "lis-edge",
        device=device,
        subject=Subject(kind=kind, id=subject),  # type: ignore[arg-type]
        occurred_at=T0 + timedelta(minutes=minute),
        data=data,
    )
    return built.model_copy(update={"received_at": built.occurred_at + timedelta(seconds=1)})


def specimen_events() -> list[Event]:
    n = Seq()

    def collected(barcode: str, minute: float, ward: str, category: str = "cbc", **data: Any) -> Event:
        return event(
            "specimen.collected", "specimen", barcode, minute, n(), "lis", ward=ward, category=category, **data
        )

    return [
        collected("S-1001", 0, "ward-3a", badge="rn-0421", order_id="O-1", priority="stat"),
        event("specimen.received", "specimen", "S-1001", 20, n(), "lis", badge="bms-0113", location="lab-main"),
        event("specimen.resulted", "specimen", "S-1001", 40, n(), "lis"),
        collected("S-1002", 5, "ward-3a", "blood-gas", badge="rn-0421"),
        collected("S-1003", 10, "ward-4b"),
        collected("S-1004", 1, "ward-3a"),
        event("specimen.rejected", "specimen", "S-1004", 30, 1, "sorter-1", reason="no_read", lane=9),
        collected("S-1005", 2, "ward-3a"),
        event("specimen.sorted", "specimen", "S-1005", 15, 2, "sorter-1", lane=4, rack=2, position=7),
        event("device.online", "device", "sorter-1", 0, 3, "sorter-1"),
    ]


def delivery_events() -> list[Event]:
    n = Seq()
    ours = [*journey("D-001", seq=n), *journey("D-002", priority="routine", seq=n)[:3]]
    items = [{"gtin": PARACETAMOL, "quantity": 10}, {"gtin": IBUPROFEN, "quantity": 5}]
    theirs = delivery_event(
        "delivery.created",
        "D-003",
        3,
        n(),
        device="pharmacy-system",
        ward="ward-4b",
        items=items,
        order_id="PO-88",
        destination="ward-4b",
    )
    return [*ours, theirs]


async def open_hospital(gateway: Gateway) -> None:
    """Reference data in force and every event above committed (and projected)."""
    store = gateway.store
    assert store is not None, "seed a running gateway"
    await store.reference.adopt(
        {"locations": LOCATIONS, "staff": STAFF, "medications": MEDICATIONS, "devices": DEVICES},
        by="admin",
        source="hospital.csv",
        comment="FHIR tests",
        now=T0 - timedelta(days=1),
    )
    await store.events.commit_batch(specimen_events())
    await store.events.commit_batch(delivery_events())
