"""Task and SupplyDelivery over FHIR: the transports of specimens and deliveries, by role and ward."""

from typing import Any

import pytest

from gateway.service import Gateway
from tests.gateway.api.fhir.fhir_client import FhirClient, fhir_client, ids
from tests.gateway.api.fhir.hospital import event
from tests.pharmacy_events import IBUPROFEN, PARACETAMOL

EXT = "https://wardlink.dev/fhir/StructureDefinition/"


async def test_a_specimen_task_says_where_the_transport_got_and_who_has_it(fhir: FhirClient) -> None:
    done = await fhir.get("Task/specimen-S-1001")
    assert (done["status"], done["businessStatus"]["text"], done["priority"]) == ("completed", "resulted", "stat")
    assert done["focus"] == {"reference": "Specimen/S-1001"}
    assert done["executionPeriod"] == {"start": "2026-11-23T08:00:00Z", "end": "2026-11-23T08:20:00Z"}
    assert done["owner"] == {"reference": "Practitioner/bms-0113", "display": "L. Brandt"}
    assert done["location"] == {"reference": "Location/lab-main", "display": "Main laboratory"}
    waiting = await fhir.get("Task/specimen-S-1002")
    assert (waiting["status"], waiting["businessStatus"]["text"]) == ("ready", "collected")
    assert waiting["executionPeriod"] == {"start": "2026-11-23T08:05:00Z"}
    assert waiting["owner"] == {"reference": "Practitioner/rn-0421", "display": "K. Okafor"}
    assert waiting["location"] == {"reference": "Location/ward-3a", "display": "Ward 3A (Cardiology)"}
    held = await fhir.get("Task/specimen-S-1004")
    assert (held["status"], held["statusReason"]) == ("on-hold", {"text": "no_read"})
    assert held["owner"] == {"reference": "Device/sorter-1", "display": "Lab sorter (main lab)"}
    assert "location" not in held  # in the sorter: a Device, which Task.location cannot name


async def test_a_delivery_task_follows_the_robot_then_the_nurse(fhir: FhirClient) -> None:
    loaded = await fhir.get("Task/delivery-D-002")
    assert (loaded["status"], loaded["businessStatus"]["text"]) == ("in-progress", "loaded")
    assert loaded["owner"] == {"reference": "Device/robot-1", "display": "Delivery robot 1"}
    assert loaded["focus"] == {"reference": "SupplyDelivery/D-002"}
    stocked = await fhir.get("Task/delivery-D-001")
    assert (stocked["status"], stocked["owner"]) == ("completed", {"reference": "Practitioner/N-40217"})
    assert stocked["executionPeriod"] == {"start": "2026-11-23T08:00:00Z", "end": "2026-11-23T08:25:00Z"}


@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({"status": "in-progress"}, ["delivery-D-002"]),
        ({"status": "completed"}, ["specimen-S-1001", "specimen-S-1005", "delivery-D-001"]),
        (
            {"status": "ready,on-hold", "code": "specimen-transport"},
            ["specimen-S-1004", "specimen-S-1003", "specimen-S-1002"],
        ),
        ({"code": "delivery-transport"}, ["delivery-D-001", "delivery-D-002", "delivery-D-003"]),
        ({"identifier": "D-003"}, ["delivery-D-003"]),
        ({"_id": "specimen-S-1005,delivery-D-002"}, ["specimen-S-1005", "delivery-D-002"]),
        ({"_lastUpdated": "ge2026-11-23T08:25:00Z"}, ["specimen-S-1001", "specimen-S-1004", "delivery-D-001"]),
    ],
)
async def test_search_tasks(fhir: FhirClient, params: dict[str, Any], found: list[str]) -> None:
    bundle = await fhir.search("Task", params)
    assert (ids(bundle), bundle["total"]) == (found, len(found))


async def test_paging_tasks_runs_from_specimens_into_deliveries(fhir: FhirClient) -> None:
    seen, bundle = [], await fhir.search("Task", {"_count": 3})
    while True:
        seen += ids(bundle)
        following = next((item["url"] for item in bundle["link"] if item["relation"] == "next"), None)
        if following is None:
            break
        bundle = await fhir.search(following)
    assert len(seen) == len(set(seen)) == bundle["total"] == 8
    assert seen[5:] == ["delivery-D-001", "delivery-D-002", "delivery-D-003"]


async def test_the_lab_sees_specimen_tasks_and_the_pharmacy_delivery_tasks(hospital: Gateway) -> None:
    async with fhir_client(hospital, "lab") as lab, fhir_client(hospital, "pharmacy", ("ward-3a",)) as pharmacy:
        assert all(i.startswith("specimen-") for i in ids(await lab.search("Task")))
        assert ids(await pharmacy.search("Task")) == ["delivery-D-001", "delivery-D-002"]  # not ward 4b's D-003
        await lab.error("Task/delivery-D-001", 404)
        await pharmacy.error("Task/delivery-D-003", 404)
        await pharmacy.error("Specimen/S-1001", 403)
        await lab.error("SupplyDelivery/D-001", 403)


async def test_a_supply_delivery_lists_its_items_its_order_and_where_it_went(fhir: FhirClient) -> None:
    stocked = await fhir.get("SupplyDelivery/D-001")
    assert stocked["status"] == "completed"
    assert stocked["suppliedItem"] == {
        "quantity": {"value": 20},
        "itemReference": {"reference": f"Medication/{PARACETAMOL}", "display": "Paracetamol"},
    }
    assert stocked["occurrencePeriod"] == {"start": "2026-11-23T08:00:00Z", "end": "2026-11-23T08:20:00Z"}
    assert stocked["destination"] == {"reference": "Location/ward-3a", "display": "Ward 3A (Cardiology)"}
    assert stocked["receiver"] == [{"reference": "Practitioner/N-40217"}]
    assert stocked["basedOn"][0]["identifier"]["value"] == "PO-77"
    two_lines = await fhir.get("SupplyDelivery/D-003")
    assert "suppliedItem" not in two_lines  # R4 holds one: both lines are in the delivery-item extension
    items = [e["extension"] for e in two_lines["extension"] if e["url"] == EXT + "delivery-item"]
    assert [(i[0]["valueReference"]["reference"], i[1]["valueQuantity"]["value"]) for i in items] == [
        (f"Medication/{PARACETAMOL}", 10),
        (f"Medication/{IBUPROFEN}", 5),
    ]


@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({}, ["D-001", "D-002", "D-003"]),
        ({"status": "in-progress"}, ["D-002", "D-003"]),
        ({"status": "completed"}, ["D-001"]),
        ({"status": "abandoned"}, []),
        ({"identifier": "https://wardlink.dev/fhir/sid/delivery-id|D-002"}, ["D-002"]),
        ({"_lastUpdated": "lt2026-11-23T08:05:00Z"}, ["D-002", "D-003"]),
    ],
)
async def test_search_supply_deliveries(fhir: FhirClient, params: dict[str, Any], found: list[str]) -> None:
    bundle = await fhir.search("SupplyDelivery", params)
    assert (ids(bundle), bundle["total"]) == (found, len(found))


async def test_a_ward_scoped_pharmacist_sees_only_their_wards_deliveries(hospital: Gateway) -> None:
    async with fhir_client(hospital, "pharmacy", ("ward-3a",)) as ward_3a:
        assert ids(await ward_3a.search("SupplyDelivery")) == ["D-001", "D-002"]
        await ward_3a.error("SupplyDelivery/D-003", 404)


async def test_a_specimen_in_the_tube_is_with_its_carrier(hospital: Gateway, fhir: FhirClient) -> None:
    store = hospital.store
    assert store is not None
    collected = event("specimen.collected", "specimen", "S-1006", 50, 100, "lis", ward="ward-3a", category="cbc")
    dispatched = event(
        "carrier.dispatched",
        "carrier",
        "carrier-7",
        52,
        101,
        "tube-system",
        transaction=9,
        from_station="station-3a",
        to_station="station-lab",
        specimens=["S-1006"],
    )
    await store.events.commit_batch([collected, dispatched])
    specimen = await fhir.get("Specimen/S-1006")
    place = next(e for e in specimen["extension"] if e["url"] == EXT + "current-location")
    assert place["valueReference"] == {"reference": "Device/carrier-7"}
    transport = await fhir.get("Task/specimen-S-1006")
    assert (transport["status"], transport["businessStatus"]["text"]) == ("in-progress", "in_transit")
    assert transport["owner"] == {"reference": "Device/carrier-7"}
    assert "location" not in transport
    (record,) = (await fhir.search("Provenance", {"target": "Device/carrier-7"}))["entry"]
    assert record["resource"]["activity"]["coding"][0]["code"] == "carrier.dispatched"
