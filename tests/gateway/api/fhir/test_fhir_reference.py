"""Location, Practitioner, Medication and Device over FHIR: names from the reference data, state from the devices."""

import json
from typing import Any

import pytest

from gateway.reference.fhir_import import read_bundle
from gateway.service import Gateway
from tests.gateway.api.fhir.fhir_client import FhirClient, fhir_client, ids
from tests.pharmacy_events import PARACETAMOL


async def test_reference_resources_read_with_the_names_people_know(fhir: FhirClient) -> None:
    ward = await fhir.get("Location/ward-3a")
    assert (ward["name"], ward["description"], ward["type"][0]["text"]) == (
        "Ward 3A (Cardiology)",
        "building Main, floor 3",
        "ward",
    )
    cabinet = await fhir.get("Location/cabinet-1")
    assert cabinet["partOf"] == {"reference": "Location/ward-3a", "display": "Ward 3A (Cardiology)"}
    nurse = await fhir.get("Practitioner/rn-0421")
    assert nurse["name"] == [{"text": "K. Okafor"}]
    assert nurse["extension"] == [
        {"url": "https://wardlink.dev/fhir/StructureDefinition/staff-role", "valueString": "nurse"}
    ]
    assert nurse["qualification"] == [{"code": {"text": "nurse"}}]
    assert set(nurse) <= {"resourceType", "id", "meta", "extension", "identifier", "active", "name", "qualification"}
    medication = await fhir.get(f"Medication/{PARACETAMOL}")
    assert medication["code"]["coding"][0] == {
        "system": "https://www.gs1.org/gtin",
        "code": PARACETAMOL,
        "display": "Paracetamol",
    }
    assert (medication["code"]["text"], medication["form"]) == ("Paracetamol", {"text": "tablet"})
    strength = "https://wardlink.dev/fhir/StructureDefinition/medication-strength"
    assert {"url": strength, "valueString": "500 mg"} in medication["extension"]
    assert ward["meta"]["lastUpdated"] == "2026-11-22T08:00:00Z"  # when the version in force was imported


async def test_a_device_joins_its_reference_name_and_its_state(fhir: FhirClient) -> None:
    sorter = await fhir.get("Device/sorter-1")
    assert sorter["status"] == "active"  # online
    assert sorter["deviceName"] == [{"name": "Lab sorter (main lab)", "type": "user-friendly-name"}]
    assert sorter["location"] == {"reference": "Location/lab-main", "display": "Main laboratory"}
    heard_only = await fhir.get("Device/pharmacy-system")  # reports events, not in the reference data
    assert "deviceName" not in heard_only
    assert heard_only["status"] == "unknown"


@pytest.mark.parametrize(
    ("path", "params", "found"),
    [
        ("Location", {}, ["cabinet-1", "lab-main", "ward-3a", "ward-4b"]),
        ("Location", {"name": "ward"}, ["cabinet-1", "ward-3a", "ward-4b"]),  # "Ward 3A medication cabinet"
        ("Location", {"name:contains": "cardio"}, ["ward-3a"]),
        ("Location", {"name:exact": "Main laboratory"}, ["lab-main"]),
        ("Location", {"identifier": "ward-4b"}, ["ward-4b"]),
        ("Location", {"_lastUpdated": "2026-11-22"}, ["cabinet-1", "lab-main", "ward-3a", "ward-4b"]),
        ("Location", {"_lastUpdated": "gt2026-11-22"}, []),
        ("Practitioner", {"name": "l."}, ["bms-0113"]),
        ("Practitioner", {"identifier": "https://wardlink.dev/fhir/sid/staff-badge|rn-0421"}, ["rn-0421"]),
        ("Medication", {"code": PARACETAMOL}, [PARACETAMOL]),
        ("Medication", {"identifier": "https://www.gs1.org/gtin|00000000000000"}, []),
        ("Device", {"status": "active"}, ["sorter-1"]),
        ("Device", {"status": "http://hl7.org/fhir/device-status|active"}, ["sorter-1"]),
        ("Device", {"device-name": "delivery"}, ["robot-1"]),
        ("Device", {"_id": "robot-1,sorter-1", "status": "unknown"}, ["robot-1"]),
    ],
)
async def test_search_reference_resources(
    fhir: FhirClient, path: str, params: dict[str, Any], found: list[str]
) -> None:
    bundle = await fhir.search(path, params)
    assert (ids(bundle), bundle["total"]) == (found, len(found))


async def test_reference_data_serves_every_staff_role_but_not_integrations(hospital: Gateway) -> None:
    for role in ("lab", "pharmacy", "engineer"):
        async with fhir_client(hospital, role, ("ward-3a",)) as client:
            assert (await client.search("Location"))["total"] == 4  # places serve every ward
    async with fhir_client(hospital, "integration") as integration:
        await integration.error("Practitioner", 403)


async def test_what_the_server_serves_imports_back_as_the_same_reference_data(
    hospital: Gateway, fhir: FhirClient
) -> None:
    """One FHIR shape per record: a hospital can load wardlink's Location, Practitioner, Medication and Device
    resources into another wardlink (or back) with `wardlink reference import`."""
    entries = [
        {"fullUrl": f"{resource['resourceType']}/{resource['id']}", "resource": resource}
        for path in ("Location", "Practitioner", "Medication")
        for resource in [entry["resource"] for entry in (await fhir.search(path, {"_count": "100"}))["entry"]]
    ]
    read, problems = read_bundle(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}), "f")
    assert problems == []
    assert hospital.store is not None
    in_force = await hospital.store.reference.current()
    for kind in ("locations", "staff", "medications"):
        assert {sourced.record for sourced in read[kind]} == set(getattr(in_force, kind).values()), kind
