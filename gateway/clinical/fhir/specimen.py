"""Specimen: a tracked tube as FHIR sees it (identifier = barcode; no patient, ever).

The status follows the tube's physical state: a tube the sorter rejected is `unsatisfactory` until handled (the
lab must look at it before it can be used); every other state is `available` (wardlink does not see a tube
discarded). wardlink's own state rides in the `tracking-status` extension, the current place in
`current-location`.
"""

from collections.abc import Iterable
from typing import Any

from gateway.clinical.fhir.datatypes import (
    ORDER_ID,
    SPECIMEN_BARCODE,
    TEST_CATEGORY,
    concept,
    extension_url,
    identifier,
    identifier_reference,
    instant,
    logical_id,
    meta,
    reference,
)
from gateway.clinical.fhir.holders import place_reference
from gateway.reference.model import ReferenceData
from gateway.tracking.specimens.fold import SPECIMEN_STATUSES, SpecimenRow, SpecimenStatus

FHIR_STATUS_SYSTEM = "http://hl7.org/fhir/specimen-status"
STATUS: dict[SpecimenStatus, str] = {s: "unsatisfactory" if s == "rejected" else "available" for s in SPECIMEN_STATUSES}
"""wardlink's specimen status -> Specimen.status."""
TRACKING_STATUS = extension_url("tracking-status")
CURRENT_LOCATION = extension_url("current-location")


def tracked_statuses(codes: Iterable[str]) -> list[SpecimenStatus]:
    """The wardlink statuses whose Specimen.status is one of `codes`."""
    wanted = set(codes)
    return [s for s in SPECIMEN_STATUSES if STATUS[s] in wanted]


def _container(row: SpecimenRow) -> dict[str, Any]:
    """The tube, labelled with the barcode; where it sits in the sorter's racks, when it does."""
    container: dict[str, Any] = {"identifier": [identifier(SPECIMEN_BARCODE, row.barcode)]}
    placed = [
        f"{name} {value}"
        for name, value in (("lane", row.lane), ("rack", row.rack), ("position", row.position))
        if value is not None
    ]
    if placed:
        container["description"] = f"at {row.device}: " + ", ".join(placed)
    return container


def specimen_resource(row: SpecimenRow, collector: str | None, ref: ReferenceData) -> dict[str, Any]:
    """The Specimen for a specimen row; `collector` is the badge on its collection, if any."""
    extensions: list[dict[str, Any]] = [{"url": TRACKING_STATUS, "valueCode": row.status}]
    if row.location:
        place = place_reference(row.location, ref, (row.carrier, row.device))
        extensions.append({"url": CURRENT_LOCATION, "valueReference": place})
    resource: dict[str, Any] = {
        "resourceType": "Specimen",
        "id": logical_id(row.barcode),
        "meta": meta(row.last_event_at),
        "extension": extensions,
        "identifier": [identifier(SPECIMEN_BARCODE, row.barcode)],
        "status": STATUS[row.status],
    }
    if row.category:
        resource["type"] = concept(TEST_CATEGORY, row.category, text=row.category)
    if row.lab_received_at:
        resource["receivedTime"] = instant(row.lab_received_at)
    if row.order_id:
        resource["request"] = [identifier_reference("ServiceRequest", ORDER_ID, row.order_id)]
    collection: dict[str, Any] = {}
    if collector:
        collection["collector"] = reference("Practitioner", collector, ref.staff_name(collector))
    if row.collected_at:
        collection["collectedDateTime"] = instant(row.collected_at)
    if collection:
        resource["collection"] = collection
    resource["container"] = [_container(row)]
    return resource
