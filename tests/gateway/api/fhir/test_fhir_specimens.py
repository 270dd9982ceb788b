"""Specimen over FHIR: read by id, search by identifier, status, type and _lastUpdated, paging, ward scoping."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.service import Gateway
from tests.gateway.api.fhir.fhir_client import FhirClient, fhir_client, ids, link
from tests.gateway.api.fhir.hospital import ALL_SPECIMENS, WARD_3A_SPECIMENS

BARCODES = "https://wardlink.dev/fhir/sid/specimen-barcode"
EXT = "https://wardlink.dev/fhir/StructureDefinition/"


def extension(resource: dict[str, Any], name: str) -> Any:
    return next(e for e in resource["extension"] if e["url"] == EXT + name)


async def test_a_specimen_reads_as_fhir_with_its_collection_receipt_order_and_place(fhir: FhirClient) -> None:
    specimen = await fhir.get("Specimen/S-1001")
    assert specimen["id"] == "S-1001"
    assert specimen["identifier"] == [{"system": BARCODES, "value": "S-1001"}]
    assert specimen["status"] == "available"
    assert specimen["type"]["coding"][0]["code"] == "cbc"
    assert specimen["collection"] == {
        "collector": {"reference": "Practitioner/rn-0421", "display": "K. Okafor"},
        "collectedDateTime": "2026-11-23T08:00:00Z",
    }
    assert specimen["receivedTime"] == "2026-11-23T08:20:00Z"
    assert specimen["request"] == [
        {"type": "ServiceRequest", "identifier": {"system": "https://wardlink.dev/fhir/sid/order-id", "value": "O-1"}}
    ]
    assert specimen["container"] == [{"identifier": [{"system": BARCODES, "value": "S-1001"}]}]
    assert extension(specimen, "tracking-status")["valueCode"] == "resulted"
    assert extension(specimen, "current-location")["valueReference"] == {
        "reference": "Location/lab-main",
        "display": "Main laboratory",
    }
    assert specimen["meta"]["lastUpdated"] == "2026-11-23T08:40:00Z"
    assert "subject" not in specimen  # no patient, ever


async def test_a_rejected_tube_is_unsatisfactory_and_a_sorted_one_says_where_it_sits(fhir: FhirClient) -> None:
    rejected = await fhir.get("Specimen/S-1004")
    assert rejected["status"] == "unsatisfactory"
    assert extension(rejected, "current-location")["valueReference"] == {
        "reference": "Device/sorter-1",
        "display": "Lab sorter (main lab)",
    }
    sorted_ = await fhir.get("Specimen/S-1005")
    assert sorted_["container"][0]["description"] == "at sorter-1: lane 4, rack 2, position 7"
    assert "collector" not in sorted_["collection"]  # collected without a badge


@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({"identifier": "S-1002"}, ["S-1002"]),
        ({"identifier": f"{BARCODES}|S-1002"}, ["S-1002"]),
        ({"identifier": "https://other.example/barcodes|S-1002"}, []),
        ({"identifier": "S-1002,S-1003"}, ["S-1003", "S-1002"]),
        ({"_id": "S-1003"}, ["S-1003"]),
        ({"status": "unsatisfactory"}, ["S-1004"]),
        ({"status": "http://hl7.org/fhir/specimen-status|unsatisfactory"}, ["S-1004"]),
        ({"type": "blood-gas"}, ["S-1002"]),
        ({"_lastUpdated": "ge2026-11-23T08:30:00Z"}, ["S-1001", "S-1004"]),
        ({"_lastUpdated": "gt2026-11-23T08:30"}, ["S-1001"]),  # a minute's range: 08:30 itself is not after it
        ({"_lastUpdated": "lt2026-11-23T08:10:00Z"}, ["S-1002"]),
        ({"_lastUpdated": "le2026-11-23T08:10:00Z"}, ["S-1003", "S-1002"]),
        ({"_lastUpdated": "eq2026-11-23T08:15:00Z"}, ["S-1005"]),
        ({"_lastUpdated": ["ge2026-11-23T08:10:00Z", "lt2026-11-23T08:31:00Z"]}, ["S-1004", "S-1005", "S-1003"]),
        ({"_lastUpdated": "2026-11-23"}, ["S-1001", "S-1004", "S-1005", "S-1003", "S-1002"]),
        ({"_lastUpdated": "2026-11-24"}, []),
        ({"_lastUpdated": "2026-11"}, ["S-1001", "S-1004", "S-1005", "S-1003", "S-1002"]),
    ],
)
async def test_search_specimens(fhir: FhirClient, params: dict[str, Any], found: list[str]) -> None:
    bundle = await fhir.search("Specimen", params)
    assert ids(bundle) == found  # the most recently active first
    assert bundle["total"] == len(found)


async def test_paging_through_every_specimen_two_at_a_time(fhir: FhirClient) -> None:
    first = await fhir.search("Specimen", {"_count": 2})
    assert first["total"] == 5
    assert link(first, "previous") is None
    pages, bundle = [ids(first)], first
    while (following := link(bundle, "next")) is not None:
        bundle = await fhir.search(following)
        pages.append(ids(bundle))
        assert bundle["total"] == 5
    assert pages == [["S-1001", "S-1004"], ["S-1005", "S-1003"], ["S-1002"]]
    back = link(bundle, "previous")
    assert back is not None
    assert ids(await fhir.search(back)) == ["S-1005", "S-1003"]
    assert first["entry"][0]["fullUrl"].endswith("/fhir/r4/Specimen/S-1001")
    assert first["entry"][0]["search"] == {"mode": "match"}


async def test_the_cursor_keeps_the_search_and_is_refused_for_another(fhir: FhirClient) -> None:
    first = await fhir.search("Specimen", {"status": "available", "_count": 1})
    following = link(first, "next")
    assert following is not None
    query = parse_qs(urlsplit(following).query)
    assert query["status"] == ["available"]
    assert ids(await fhir.search(following)) == ["S-1005"]  # after S-1001 (S-1004 is unsatisfactory)
    says = await fhir.error("Specimen", 400, {"status": "unsatisfactory", "_cursor": query["_cursor"][0]})
    assert "_cursor is not a cursor this server made for this search" in says


async def test_count_zero_answers_the_total_only(fhir: FhirClient) -> None:
    bundle = await fhir.search("Specimen", {"_count": 0})
    assert bundle["total"] == 5
    assert "entry" not in bundle


async def test_a_ward_scoped_lab_user_sees_only_their_wards_specimens(hospital: Gateway) -> None:
    async with fhir_client(hospital, "lab", ("ward-3a",)) as ward_3a:
        bundle = await ward_3a.search("Specimen")
        assert sorted(ids(bundle)) == WARD_3A_SPECIMENS
        assert (await ward_3a.search("Specimen", {"identifier": "S-1003"}))["total"] == 0
        says = await ward_3a.error("Specimen/S-1003", 404)  # another ward's: as if unknown
        assert "Specimen/S-1003 is not known here" in says
        assert (await ward_3a.search("Task", {"identifier": "S-1003"}))["total"] == 0
        await ward_3a.error("Task/specimen-S-1003", 404)
    async with fhir_client(hospital, "lab") as everyone:
        assert sorted(ids(await everyone.search("Specimen"))) == ALL_SPECIMENS
