"""FHIR R4 Bundle import: Location, Practitioner, Medication and Device entries, validated, mapped, never patients."""

import json
from typing import Any

import pytest

from gateway.reference.fhir_import import parse_bundle
from gateway.reference.fhir_mapping import (
    EXT_CONTROLLED,
    EXT_REFRIGERATED,
    GTIN_SYSTEM,
    IdentifierSystems,
)
from gateway.reference.importer import Source, read_sources
from gateway.reference.model import DeviceInfo, Location, Medication, ReferenceData, StaffMember
from gateway.reference.problems import ReferenceImportError

# Modelled on the FHIR R4 examples (location-example, practitioner-example, medicationexample, device-example).
WING = {
    "fullUrl": "urn:uuid:7f9a0e6c-0b5e-4ad1-9d3e-3d3c7f0b1a01",
    "resource": {
        "resourceType": "Location",
        "id": "1",
        "identifier": [{"value": "B1-S.F2"}],
        "status": "active",
        "name": "South Wing, second floor",
        "mode": "instance",
        "physicalType": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "wi"}]
        },
    },
}
WARD = {
    "fullUrl": "urn:uuid:7f9a0e6c-0b5e-4ad1-9d3e-3d3c7f0b1a02",
    "resource": {
        "resourceType": "Location",
        "identifier": [{"system": "http://hospital.example/wards", "value": "ward-2s"}],
        "name": "Ward 2S",
        "physicalType": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "wa"}]
        },
        "partOf": {"reference": "urn:uuid:7f9a0e6c-0b5e-4ad1-9d3e-3d3c7f0b1a01"},
    },
}
PHARMACY = {
    "resource": {
        "resourceType": "Location",
        "id": "rx",
        "name": "Inpatient pharmacy",
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "PHARM"}]}],
    }
}
CAREFUL = {
    "resource": {
        "resourceType": "Practitioner",
        "id": "example",
        "identifier": [
            {"system": "http://www.acme.org/practitioners", "value": "23"},
            {"system": "http://hospital.example/badges", "value": "rn-0421"},
        ],
        "active": True,
        "name": [{"family": "Careful", "given": ["Adam"], "prefix": ["Dr"]}],
        "qualification": [
            {
                "code": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0360/2.7", "code": "RN"}],
                    "text": "Registered Nurse",
                }
            }
        ],
    }
}
INSULIN = {
    "resource": {
        "resourceType": "Medication",
        "code": {
            "coding": [
                {"system": "http://snomed.info/sct", "code": "325072002"},
                {"system": GTIN_SYSTEM, "code": "00614141001934"},
            ],
            "text": "Insulin aspart 100 units/ml pen",
        },
        "form": {"coding": [{"system": "http://snomed.info/sct", "code": "385219001", "display": "pre-filled pen"}]},
        "ingredient": [
            {
                "itemCodeableConcept": {"text": "insulin aspart"},
                "strength": {"numerator": {"value": 100, "unit": "units"}, "denominator": {"value": 1, "unit": "ml"}},
            }
        ],
        "extension": [
            {"url": EXT_REFRIGERATED, "valueBoolean": True},
            {"url": EXT_CONTROLLED, "valueBoolean": False},
        ],
    }
}
PUMP = {
    "resource": {
        "resourceType": "Device",
        "identifier": [{"system": "http://hospital.example/devices", "value": "pump-0042"}],
        "deviceName": [
            {"name": "Volumat MC Agilia", "type": "model-name"},
            {"name": "Infusion pump 42", "type": "user-friendly-name"},
        ],
        "location": {"reference": "urn:uuid:7f9a0e6c-0b5e-4ad1-9d3e-3d3c7f0b1a02"},
    }
}


def bundle(*entries: dict[str, Any], type: str = "collection") -> str:
    return json.dumps({"resourceType": "Bundle", "type": type, "entry": list(entries)})


def problems(text: str, systems: IdentifierSystems | None = None) -> list[str]:
    with pytest.raises(ReferenceImportError) as caught:
        parse_bundle(text, "hospital.json", systems)
    return [str(p) for p in caught.value.problems]


def records(text: str, systems: IdentifierSystems | None = None) -> dict[str, list[Any]]:
    return {kind: [s.record for s in items] for kind, items in parse_bundle(text, "hospital.json", systems).items()}


def test_each_resource_maps_to_its_kind_as_documented() -> None:
    systems = IdentifierSystems(badge="http://hospital.example/badges")

    read = records(bundle(WING, WARD, PHARMACY, CAREFUL, INSULIN, PUMP, type="transaction"), systems)

    assert read == {
        "locations": [
            Location("B1-S.F2", "South Wing, second floor", "other"),
            Location("ward-2s", "Ward 2S", "ward", part_of="B1-S.F2"),
            Location("rx", "Inpatient pharmacy", "pharmacy"),
        ],
        "staff": [StaffMember("rn-0421", "A. Careful", "Registered Nurse")],
        "medications": [
            Medication("00614141001934", "Insulin aspart 100 units/ml pen", "100 units/1 ml", "pre-filled pen", True)
        ],
        "devices": [DeviceInfo("pump-0042", "Infusion pump 42", "ward-2s")],
    }


def test_without_a_configured_system_the_first_identifier_is_the_id() -> None:
    assert records(bundle(CAREFUL))["staff"] == [StaffMember("23", "A. Careful", "Registered Nurse")]
    assert problems(bundle(CAREFUL), IdentifierSystems(badge="urn:other")) == [
        "hospital.json: entry 0: identifier: no identifier with system urn:other: the wardlink id comes from it"
    ]


def test_a_patient_or_relative_is_refused_and_nothing_of_them_is_repeated() -> None:
    patient = {
        "resource": {
            "resourceType": "Patient",
            "name": [{"family": "Shelby", "given": ["Ada"]}],
            "birthDate": "1961-04-02",
            "address": [{"line": ["12 Orchard Lane"]}],
        }
    }
    relative = {"resource": {"resourceType": "RelatedPerson", "name": [{"text": "Tom Shelby"}]}}

    found = problems(bundle(CAREFUL, patient, relative))

    assert found == [
        "hospital.json: entry 1: resourceType: a Patient: reference data holds staff only, never patients; "
        "remove the entry",
        "hospital.json: entry 2: resourceType: a RelatedPerson: reference data holds staff only, never patients; "
        "remove the entry",
    ]
    assert not any(word in line for line in found for word in ("Shelby", "1961", "Orchard"))


def test_resources_that_do_not_validate_as_r4_are_named_by_entry_and_element() -> None:
    broken = {"resource": {"resourceType": "Location", "name": ["Ward 9"], "colour": "blue"}}
    no_gtin = {"resource": {"resourceType": "Medication", "code": {"text": "Saline"}}}
    bad_gtin = {
        "resource": {"resourceType": "Medication", "code": {"coding": [{"system": GTIN_SYSTEM, "code": "123"}]}}
    }
    nameless = {"resource": {"resourceType": "Device", "identifier": [{"value": "pump-1"}]}}
    other = {"resource": {"resourceType": "Organization", "name": "Acme"}}

    assert problems(bundle(broken, no_gtin, bad_gtin, nameless, other, {"fullUrl": "x"})) == [
        "hospital.json: entry 0: name: Input should be a valid string",
        "hospital.json: entry 0: colour: Extra inputs are not permitted",
        "hospital.json: entry 4: resourceType: 'Organization' is not reference data: use Location, Practitioner, "
        "Medication, Device",
        "hospital.json: entry 5: resource: the entry has no resource",
        "hospital.json: entry 1: code.coding: no code.coding with system https://www.gs1.org/gtin: the GTIN "
        "identifies the medication",
        "hospital.json: entry 2: code.coding[0].code: GTIN '123' must be 8, 12, 13 or 14 digits",
        "hospital.json: entry 2: code.text: is required and empty",
        "hospital.json: entry 3: deviceName: is required and empty",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "hospital.json: (file): (file): not JSON: Expecting property name enclosed in double quotes"),
        (json.dumps(PUMP["resource"]), "hospital.json: (file): resourceType: 'Device': a Bundle is expected"),
        (
            json.dumps({"resourceType": "Bundle", "type": "collection", "timestamp": "now"}),
            "hospital.json: (file): timestamp:",
        ),
    ],
)
def test_a_file_that_is_no_bundle_says_so(text: str, expected: str) -> None:
    assert problems(text)[0].startswith(expected)


def test_a_device_may_point_to_a_location_in_force_by_identifier() -> None:
    in_force = ReferenceData.of(version=2, locations=[Location("core-lab", "Core laboratory", "lab")])
    sorter = {
        "resource": {
            "resourceType": "Device",
            "identifier": [{"value": "sorter-1"}],
            "type": {"text": "Specimen sorter"},
            "location": {"identifier": {"value": "core-lab"}},
        }
    }
    read = read_sources([Source("devices.json", bundle(sorter), media_type="application/fhir+json")], in_force)
    assert read == {"devices": [DeviceInfo("sorter-1", "Specimen sorter", "core-lab")]}

    lost = {**sorter, "resource": {**sorter["resource"], "location": {"reference": "Location/nowhere"}}}
    with pytest.raises(ReferenceImportError) as caught:
        read_sources([Source("devices.json", bundle(lost))], in_force)
    assert [str(p) for p in caught.value.problems] == [
        "devices.json: entry 0: location: no location nowhere in this import or in force: add it first"
    ]
