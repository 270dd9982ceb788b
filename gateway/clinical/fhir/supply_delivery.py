"""SupplyDelivery: a pharmacy delivery (identifier = delivery id), its items by GTIN, where and to whom it went.

R4's SupplyDelivery holds one `suppliedItem`; a delivery with several lines carries each in the `delivery-item`
extension (GTIN as a Medication reference, quantity), and `suppliedItem` too when there is exactly one.
"""

from collections.abc import Iterable
from typing import Any

from gateway.clinical.fhir.datatypes import (
    DELIVERY_ID,
    ORDER_ID,
    extension_url,
    identifier,
    identifier_reference,
    instant,
    logical_id,
    meta,
    reference,
)
from gateway.reference.model import ReferenceData
from gateway.tracking.deliveries.fold import DeliveryLine, DeliveryRow, DeliveryStatus

FHIR_STATUS_SYSTEM = "http://hl7.org/fhir/supplydelivery-status"
STATUS: dict[DeliveryStatus, str] = {
    "created": "in-progress",
    "assigned": "in-progress",
    "loaded": "in-progress",
    "departed": "in-progress",
    "arrived": "in-progress",
    "handed_over": "completed",
    "stocked": "completed",
    "failed": "abandoned",
}
DELIVERY_ITEM = extension_url("delivery-item")
TRACKING_STATUS = extension_url("tracking-status")
SUPPLY_TYPE = "http://terminology.hl7.org/CodeSystem/supply-item-type"


def tracked_statuses(codes: Iterable[str]) -> list[DeliveryStatus]:
    """The wardlink statuses whose SupplyDelivery.status is one of `codes`."""
    wanted = set(codes)
    return [s for s, code in STATUS.items() if code in wanted]


def _item(line: DeliveryLine, ref: ReferenceData) -> dict[str, Any]:
    return {
        "quantity": {"value": line.quantity},
        "itemReference": reference("Medication", line.gtin, ref.medication_name(line.gtin)),
    }


def supply_delivery_resource(row: DeliveryRow, ref: ReferenceData) -> dict[str, Any]:
    extensions: list[dict[str, Any]] = [{"url": TRACKING_STATUS, "valueCode": row.status}]
    for line in row.items:
        item = _item(line, ref)
        extensions.append(
            {
                "url": DELIVERY_ITEM,
                "extension": [
                    {"url": "item", "valueReference": item["itemReference"]},
                    {"url": "quantity", "valueQuantity": item["quantity"]},
                ],
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "SupplyDelivery",
        "id": logical_id(row.delivery),
        "meta": meta(row.last_event_at),
        "extension": extensions,
        "identifier": [identifier(DELIVERY_ID, row.delivery)],
        "status": STATUS[row.status],
        "type": {"coding": [{"system": SUPPLY_TYPE, "code": "medication", "display": "Medication"}]},
    }
    if row.order_id:
        resource["basedOn"] = [identifier_reference("SupplyRequest", ORDER_ID, row.order_id)]
    if len(row.items) == 1:
        resource["suppliedItem"] = _item(row.items[0], ref)
    delivered = row.handed_over_at or row.stocked_at
    start = row.created_at or row.assigned_at or row.loaded_at
    if delivered and start:
        resource["occurrencePeriod"] = {"start": instant(start), "end": instant(delivered)}
    elif delivered:
        resource["occurrenceDateTime"] = instant(delivered)
    elif start:
        resource["occurrencePeriod"] = {"start": instant(start)}
    destination = row.destination or row.ward
    if destination:
        resource["destination"] = reference("Location", destination, ref.location_name(destination))
    if row.handed_over_by:
        resource["receiver"] = [reference("Practitioner", row.handed_over_by, ref.staff_name(row.handed_over_by))]
    return resource
