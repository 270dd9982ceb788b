"""Provenance over FHIR: the custody log's records, with a hash chain anyone can recompute from the resources."""

from datetime import datetime
from typing import Any
from uuid import UUID

from gateway.custody.log import CustodyFields, record_hash
from gateway.service import Gateway
from tests.gateway.api.fhir.fhir_client import FhirClient, fhir_client, ids

CHAIN = "https://wardlink.dev/fhir/StructureDefinition/custody-chain"


def chain(provenance: dict[str, Any]) -> dict[str, Any]:
    (extension,) = [e for e in provenance["extension"] if e["url"] == CHAIN]
    return {part["url"]: next(v for k, v in part.items() if k.startswith("value")) for part in extension["extension"]}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_specimens_custody_is_its_provenance_in_log_order(fhir: FhirClient) -> None:
    bundle = await fhir.search("Provenance", {"target": "Specimen/S-1001"})
    records = [entry["resource"] for entry in bundle["entry"]]
    assert bundle["total"] == 3
    assert [r["activity"]["coding"][0]["code"] for r in records] == [
        "specimen.collected",
        "specimen.received",
        "specimen.resulted",
    ]
    collected = records[0]
    assert collected["target"] == [{"reference": "Specimen/S-1001"}]
    assert collected["occurredDateTime"] == "2026-11-23T08:00:00Z"
    assert [(a["type"]["coding"][0]["code"], a["who"]["reference"]) for a in collected["agent"]] == [
        ("performer", "Practitioner/rn-0421"),
        ("informant", "Device/lis"),
    ]
    assert collected["agent"][0]["who"]["display"] == "K. Okafor"
    positions = [chain(r)["position"] for r in records]
    assert positions == sorted(positions)
    assert [r["id"] for r in records] == [str(p) for p in positions]


async def test_the_chain_hash_is_recomputed_from_the_provenance_alone(fhir: FhirClient) -> None:
    for target in ("Specimen/S-1005", "SupplyDelivery/D-001"):
        kind = "specimen" if target.startswith("Specimen") else "delivery"
        for entry in (await fhir.search("Provenance", {"target": target}))["entry"]:
            provenance = entry["resource"]
            link = chain(provenance)
            fields = CustodyFields(
                site=link.get("site"),
                position=link["sitePosition"] if "site" in link else link["position"],
                event_id=UUID(link["eventId"]),
                subject_kind=kind,
                subject_id=target.split("/")[1],
                type=provenance["activity"]["coding"][0]["code"],
                occurred_at=instant(provenance["occurredDateTime"]),
                recorded_at=instant(provenance["recorded"]),
                body_sha256=link["eventSha256"],
            )
            assert record_hash(link["previousHash"], fields) == link["hash"]


async def test_one_record_reads_by_its_position_and_pages_follow_the_log(fhir: FhirClient) -> None:
    first = await fhir.search("Provenance", {"target": "SupplyDelivery/D-001", "_count": 2})
    assert first["total"] == 7  # created ... stocked
    following = next(item["url"] for item in first["link"] if item["relation"] == "next")
    second = await fhir.search(following)
    assert len(set(ids(first)) | set(ids(second))) == 4
    record = await fhir.get(f"Provenance/{ids(second)[0]}")
    assert record == second["entry"][0]["resource"]
    await fhir.error("Provenance/999999", 404)
    await fhir.error("Provenance/not-a-number", 404)


async def test_custody_follows_role_and_ward(hospital: Gateway) -> None:
    async with fhir_client(hospital, "admin") as admin:
        (theirs,) = ids(await admin.search("Provenance", {"target": "Specimen/S-1003"}))
    async with (
        fhir_client(hospital, "lab", ("ward-3a",)) as lab,
        fhir_client(hospital, "pharmacy") as pharmacy,
    ):
        assert (await lab.search("Provenance", {"target": "Specimen/S-1003"}))["total"] == 0  # ward 4b's
        await lab.error(f"Provenance/{theirs}", 404)
        assert (await lab.search("Provenance", {"target": "Specimen/S-1002"}))["total"] == 1
        assert (await pharmacy.search("Provenance", {"target": "Specimen/S-1002"}))["total"] == 0
        await pharmacy.error(f"Provenance/{theirs}", 404)  # another role's custody: not even that it exists
        assert (await pharmacy.search("Provenance", {"target": "SupplyDelivery/D-003"}))["total"] == 1


async def test_a_provenance_search_names_one_target(fhir: FhirClient) -> None:
    says = await fhir.error("Provenance", 400)
    assert "Provenance search needs exactly one target=Type/id" in says
    await fhir.error("Provenance", 400, {"target": "Patient/p1"})
    await fhir.error("Provenance", 400, {"target": "Specimen/S-1001,Specimen/S-1002"})
