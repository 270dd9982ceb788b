"""Provenance: one record of the hash-chained custody log (who did what to which subject, when, and the chain).

The chain is carried in the `custody-chain` extension (site and place in the site's chain, position in the log,
previous hash, hash, SHA-256 of the event body)
rather than in `signature`: the log is tamper-evident by chaining, not signed, and a Signature would claim more
than that. Anyone holding the chain's head can recompute each hash from these values (docs/integration.md).
"""

from typing import Any

from gateway.clinical.fhir.datatypes import (
    EVENT_TYPE,
    PARTICIPANT_TYPE,
    concept,
    extension_url,
    instant,
    reference,
)
from gateway.custody.log import CustodyRecord
from gateway.reference.model import ReferenceData

CUSTODY_CHAIN = extension_url("custody-chain")
TARGET_TYPES: dict[str, str] = {
    "specimen": "Specimen",
    "delivery": "SupplyDelivery",
    "carrier": "Device",
    "cabinet": "Device",
}
"""The resource each custody subject kind is served as."""


def _agent(code: str, who: dict[str, Any]) -> dict[str, Any]:
    return {"type": concept(PARTICIPANT_TYPE, code), "who": who}


def provenance_resource(record: CustodyRecord, ref: ReferenceData) -> dict[str, Any]:
    """The Provenance of one custody record (its id is the record's position in the log)."""
    badge = record.data.get("badge")
    agents = []
    if isinstance(badge, str) and badge:
        agents.append(_agent("performer", reference("Practitioner", badge, ref.staff_name(badge))))
    if record.device:
        role = "informant" if agents else "performer"  # the device saw a person do it, or did it itself
        agents.append(_agent(role, reference("Device", record.device, ref.device_name(record.device))))
    if not agents:  # the event is missing from the store (the verifier reports it): the log itself vouches
        agents.append(_agent("custodian", {"display": "wardlink custody log"}))
    # A record of a site's chain (migration 0013) is hashed with its site and its place in that chain.
    in_site = [
        {"url": "site", "valueString": record.site},
        {"url": "sitePosition", "valueInteger": record.site_position},
    ]
    chain = [
        *(in_site if record.site is not None else []),
        {"url": "position", "valueInteger": record.position},
        {"url": "previousHash", "valueString": record.prev_hash},
        {"url": "hash", "valueString": record.hash},
        {"url": "eventSha256", "valueString": record.body_sha256},
        {"url": "eventId", "valueString": str(record.event_id)},
    ]
    target_type = TARGET_TYPES[record.subject_kind]
    target_name = ref.device_name(record.subject_id) if target_type == "Device" else None
    return {
        "resourceType": "Provenance",
        "id": str(record.position),
        "meta": {"lastUpdated": instant(record.recorded_at)},
        "extension": [{"url": CUSTODY_CHAIN, "extension": chain}],
        "target": [reference(target_type, record.subject_id, target_name)],
        "occurredDateTime": instant(record.occurred_at),
        "recorded": instant(record.recorded_at),
        "activity": concept(EVENT_TYPE, record.type, text=record.type),
        "agent": agents,
    }
