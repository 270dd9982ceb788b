"""Names beside ids in every family's API answers: the reference data's name when it knows the id, null when not.

One hospital's worth of events goes in (a specimen from a known ward and one from a ward the reference data does
not know, a delivery by a known robot and one by an unknown robot, a cabinet, devices, robot telemetry), with
reference data that names some ids and not others; the answers are read back over real HTTP.
"""

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from gateway.reference.model import DeviceInfo, Location, Medication, StaffMember
from gateway.service import Gateway
from tests.dashboard_rig import EDGE, LIS, Events, Journey, robot_telemetry
from tests.pharmacy_events import IBUPROFEN, PARACETAMOL, Seq, cabinet_event, delivery_event, item, journey
from tests.polling import eventually

KNOWN = {
    "locations": [
        Location("ward-3a", "Ward 3A (Cardiology)", "ward", building="Main", floor="3"),
        Location("ST-3A", "Ward 3A tube station", "station", part_of="ward-3a"),
        Location("LAB-1", "Lab reception station", "station"),
        Location("cabinet-1", "Ward 3A medication cabinet", "cabinet", part_of="ward-3a"),
        Location("lab-main", "Main laboratory", "lab"),
    ],
    "staff": [
        StaffMember("rn-1001", "K. Okafor", "nurse"),
        StaffMember("N-40217", "J. Alvarez", "nurse"),
        StaffMember("P-1001", "M. Chen", "pharmacist"),
    ],
    "medications": [Medication(PARACETAMOL, "Paracetamol", "500 mg", "tablet")],
    "devices": [
        DeviceInfo("sorter-1", "Lab sorter", location="lab-main"),
        DeviceInfo("tubes-1", "Pneumatic tube system"),
        DeviceInfo("robot-1", "Robot Ada"),
    ],
}
"""Not known: ward-9z, robot-2, cabinet-2, badge X-999, ibuprofen's GTIN, the LIS and the pharmacy system."""


@pytest.fixture
async def hospital(gateway: Gateway, api: httpx.AsyncClient) -> Gateway:
    """The gateway with the reference data in force and every family's events projected."""
    store = gateway.store
    assert store is not None
    now = datetime.now(UTC)
    await store.reference.adopt(KNOWN, by="test", source="test", comment="", now=now)  # type: ignore[arg-type]
    seqs: dict[str, int] = {}
    known, unknown = Journey("S-KNOWN", seqs=seqs), Journey("S-UNKNOWN", ward="ward-9z", carrier="C-78", seqs=seqs)
    specimens = [
        e
        for j in (known, unknown)
        for e in (
            j.collected(),
            j.dispatched(),
            j.arrived(),
            j.sorted(),
            j.event("specimen.resulted", 12, edge=LIS, device="lis"),
        )
    ]
    n = Seq()
    n.last = 1000  # the pharmacy's events come from the same edge as the tube system's
    elsewhere = {"ward": "ward-9z", "destination": "ward-9z", "cabinet": "cabinet-2"}
    pharmacy = [
        *journey("D-KNOWN", seq=n),
        delivery_event(
            "delivery.created", "D-UNKNOWN", 0, n(), device="pharmacy-system", order_id="PO-9",
            items=[{"gtin": IBUPROFEN, "quantity": 4}], **elsewhere,
        ),
        delivery_event(
            "delivery.accepted", "D-UNKNOWN", 1, n(), device="robot-2", robot="robot-2", order_id="vda-9",
            destination="ward-9z", drawer="B",
        ),
        cabinet_event(
            "cabinet.inventory_reported", "cabinet-1", 30, n(),
            bins=[item("D1-01", PARACETAMOL, 30), item("D1-02", IBUPROFEN, 2)],
        ),
        cabinet_event("cabinet.door_opened", "cabinet-1", 31, n(), badge="N-40217"),
        cabinet_event("cabinet.door_opened", "cabinet-2", 31, n(), badge="X-999"),
    ]  # fmt: skip
    sorter = Events("device", "sorter-1", seqs=seqs)
    devices = [sorter.event("device.offline", 10, edge=EDGE, device="sorter-1", reason="no Modbus reply")]
    await store.events.commit_batch([*specimens, *pharmacy, *devices])
    await store.telemetry.commit(
        [robot_telemetry("robot-1", battery=80, x=0, y=0), robot_telemetry("robot-2", battery=60, x=1, y=1)]
    )
    await eventually(
        lambda: api.get("/api/v1/events", params={"limit": 1}),
        lambda r: r.json()["count"] == len(specimens) + len(pharmacy) + len(devices),
        what="every event stored",
    )
    for path, count in (("/api/v1/specimens", 2), ("/api/v1/deliveries", 2), ("/api/v1/cabinets", 2)):
        await eventually(lambda p=path: api.get(p), lambda r, c=count: r.json()["count"] == c, what=path)  # type: ignore[misc]
    await eventually(
        lambda: api.get("/api/v1/specimens/S-UNKNOWN"), lambda r: r.json().get("status") == "resulted", what="results"
    )
    return gateway


async def get(api: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def by(key: str, items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


async def test_specimens_name_their_ward_place_holder_device_and_each_custody_step(
    hospital: Gateway, api: httpx.AsyncClient
) -> None:
    listed = by("barcode", (await get(api, "/api/v1/specimens"))["data"])
    assert (listed["S-KNOWN"]["ward"], listed["S-KNOWN"]["ward_name"]) == ("ward-3a", "Ward 3A (Cardiology)")
    assert (listed["S-UNKNOWN"]["ward"], listed["S-UNKNOWN"]["ward_name"]) == ("ward-9z", None)

    body = await get(api, "/api/v1/specimens/S-KNOWN")
    assert (body["place"], body["place_name"]) == ("sorter-1", "Lab sorter")
    assert (body["custodian"], body["custodian_name"]) == ("sorter-1", "Lab sorter")
    assert body["location"]["device_name"] == "Lab sorter"
    assert [(c["handler"]["id"], c["handler"]["name"]) for c in body["custodians"]] == [
        ("rn-1001", "K. Okafor"),
        ("C-77", None),  # carriers are not in the reference data
        ("sorter-1", "Lab sorter"),
    ]
    steps = body["timeline"]
    assert [(s["place"] or {}).get("name") for s in steps] == [
        "Ward 3A (Cardiology)",
        "Ward 3A tube station",
        "Lab reception station",
        "Lab sorter",
        None,  # a result moves nothing
    ]
    assert (steps[0]["device"], steps[0]["device_name"]) == ("lis", None)
    assert steps[0]["data_names"] == {"badge": "K. Okafor", "ward": "Ward 3A (Cardiology)"}
    assert steps[1]["data_names"] == {"from_station": "Ward 3A tube station", "to_station": "Lab reception station"}


async def test_carrier_trips_name_their_stations_and_tube_system(hospital: Gateway, api: httpx.AsyncClient) -> None:
    trip = (await get(api, "/api/v1/carriers/C-77"))["data"][0]
    assert (trip["from_station_name"], trip["to_station_name"], trip["station_name"]) == (
        "Ward 3A tube station",
        "Lab reception station",
        "Lab reception station",
    )
    assert (trip["device"], trip["device_name"], trip["released_by_name"]) == ("tubes-1", "Pneumatic tube system", None)


async def test_custody_records_and_events_name_the_custodian_and_places(
    hospital: Gateway, api: httpx.AsyncClient
) -> None:
    records = (await get(api, "/api/v1/custody/specimen/S-KNOWN"))["data"]
    collected = next(r for r in records if r["type"] == "specimen.collected")
    assert collected["data_names"] == {"badge": "K. Okafor", "ward": "Ward 3A (Cardiology)"}
    unknown = (await get(api, "/api/v1/custody/specimen/S-UNKNOWN"))["data"]
    assert next(r for r in unknown if r["type"] == "specimen.collected")["data_names"]["ward"] is None
    sorted_ = (await get(api, "/api/v1/events", subject_id="S-KNOWN", type="specimen.sorted"))["data"][0]
    assert (sorted_["device"], sorted_["device_name"]) == ("sorter-1", "Lab sorter")


async def test_deliveries_name_ward_robot_cabinet_handler_and_each_drug(
    hospital: Gateway, api: httpx.AsyncClient
) -> None:
    listed = by("delivery", (await get(api, "/api/v1/deliveries"))["data"])
    known, unknown = listed["D-KNOWN"], listed["D-UNKNOWN"]
    assert (known["ward_name"], known["robot_name"], known["cabinet_name"], known["location_name"]) == (
        "Ward 3A (Cardiology)",
        "Robot Ada",
        "Ward 3A medication cabinet",
        "Ward 3A medication cabinet",  # stocked: it is in the cabinet
    )
    assert (unknown["ward_name"], unknown["robot_name"], unknown["cabinet_name"]) == (None, None, None)
    assert known["items"] == [
        {"gtin": PARACETAMOL, "medication_name": "Paracetamol", "medication_strength": "500 mg", "quantity": 20}
    ]
    assert unknown["items"][0]["medication_name"] is None
    body = await get(api, "/api/v1/deliveries/D-KNOWN")
    assert body["handed_over_by_name"] == "J. Alvarez"
    assert [(s["badge"], s["badge_name"]) for s in body["steps"] if s["badge"]] == [
        ("P-1001", "M. Chen"),
        ("N-40217", "J. Alvarez"),
    ]


async def test_cabinets_name_the_cabinet_ward_drugs_and_badges_and_so_does_the_pick_list(
    hospital: Gateway, api: httpx.AsyncClient
) -> None:
    listed = by("cabinet", (await get(api, "/api/v1/cabinets"))["data"])
    assert (listed["cabinet-1"]["cabinet_name"], listed["cabinet-1"]["ward_name"]) == (
        "Ward 3A medication cabinet",
        "Ward 3A (Cardiology)",
    )
    assert listed["cabinet-1"]["last_access_by_name"] == "J. Alvarez"
    assert (listed["cabinet-2"]["cabinet_name"], listed["cabinet-2"]["ward_name"]) == (None, None)
    assert listed["cabinet-2"]["last_access_by_name"] is None
    cabinet = await get(api, "/api/v1/cabinets/cabinet-1")
    assert [(s["gtin"], s["medication_name"], s["medication_strength"]) for s in cabinet["inventory"]] == [
        (PARACETAMOL, "Paracetamol", "500 mg"),
        (IBUPROFEN, None, None),
    ]
    access = await get(api, "/api/v1/cabinets/cabinet-1/access")
    assert (access["cabinet_name"], [e["badge_name"] for e in access["data"]]) == (
        "Ward 3A medication cabinet",
        ["J. Alvarez"],
    )
    picks = by("gtin", (await get(api, "/api/v1/replenishment", ward="ward-3a", limit=100))["data"])
    assert [
        (p["cabinet_name"], p["ward_name"], p["medication_name"]) for p in (picks[PARACETAMOL], picks[IBUPROFEN])
    ] == [
        ("Ward 3A medication cabinet", "Ward 3A (Cardiology)", "Paracetamol"),
        ("Ward 3A medication cabinet", "Ward 3A (Cardiology)", None),
    ]


async def test_devices_and_robots_carry_their_names_and_where_the_reference_data_places_them(
    hospital: Gateway, api: httpx.AsyncClient
) -> None:
    devices = by("device", (await get(api, "/api/v1/devices"))["data"])
    sorter = devices["sorter-1"]
    assert (sorter["device_name"], sorter["location"], sorter["location_name"]) == (
        "Lab sorter",
        "lab-main",
        "Main laboratory",
    )
    assert (devices["robot-2"]["device_name"], devices["robot-2"]["location_name"]) == (None, None)
    assert (await get(api, "/api/v1/devices/sorter-1/telemetry"))["device_name"] == "Lab sorter"
    robots = by("robot", (await get(api, "/api/v1/robots"))["data"])
    assert (robots["robot-1"]["robot_name"], robots["robot-2"]["robot_name"]) == ("Robot Ada", None)


async def test_alerts_name_their_ward_and_the_cabinet_or_device_they_are_about(
    hospital: Gateway, api: httpx.AsyncClient
) -> None:
    assert hospital.alerts is not None
    await hospital.alerts.evaluate()  # the doors have been open for days: ajar; the sorter is offline
    alerts = (await get(api, "/api/v1/alerts", state="open", limit=100))["data"]
    about = {(a["kind"], a["subject"]["id"]): a for a in alerts}
    ajar, other = about[("cabinet.door_ajar", "cabinet-1")], about[("cabinet.door_ajar", "cabinet-2")]
    assert (ajar["ward_name"], ajar["subject"]["name"]) == ("Ward 3A (Cardiology)", "Ward 3A medication cabinet")
    assert (other["ward"], other["ward_name"], other["subject"]["name"]) == ("ward-4b", None, None)
    offline = next(a for a in alerts if a["subject"]["kind"] == "device" and a["subject"]["id"] == "sorter-1")
    assert offline["subject"]["name"] == "Lab sorter"
    # the ids inside the details, named by id, for a screen that writes the alert's text in its own language
    assert ajar["details_names"]["cabinet-1"] == "Ward 3A medication cabinet"
    assert other["details_names"] == {}  # cabinet-2 and ward-4b are unknown to the reference data
    one = await get(api, f"/api/v1/alerts/{ajar['id']}")
    assert one["subject"]["name"] == "Ward 3A medication cabinet"


async def test_turnaround_by_ward_names_each_ward(hospital: Gateway, api: httpx.AsyncClient) -> None:
    report = await get(api, "/api/v1/turnaround", group_by="ward")
    assert {g["key"]: g["ward_name"] for g in report["groups"]} == {
        "ward-3a": "Ward 3A (Cardiology)",
        "ward-9z": None,
    }
    assert report["overall"]["ward_name"] is None
    by_priority = await get(api, "/api/v1/turnaround", group_by="priority")
    assert [g["ward_name"] for g in by_priority["groups"]] == [None]  # a priority is not a ward


async def test_without_reference_data_every_name_is_null_and_every_id_stays(
    gateway: Gateway, api: httpx.AsyncClient
) -> None:
    assert gateway.store is not None
    await gateway.store.events.commit_batch([Journey("S-BARE").collected()])
    body = await eventually(lambda: api.get("/api/v1/specimens/S-BARE"), lambda r: r.status_code == 200)
    specimen = body.json()
    assert (specimen["ward"], specimen["ward_name"], specimen["custodian"], specimen["custodian_name"]) == (
        "ward-3a",
        None,
        "rn-1001",
        None,
    )
