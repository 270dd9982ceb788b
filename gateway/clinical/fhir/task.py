"""Task: the transport of a specimen (ward to laboratory) or a pharmacy delivery (pharmacy to ward), as it stands.

One Task per specimen (`specimen-{id}`) and per delivery (`delivery-{id}`): status and businessStatus say how far
it got, owner who has it now (a badge, a carrier, a robot), location where it is, executionPeriod from collection
(or the delivery's creation) to receipt in the lab (or the hand-over). Each step of the way, with who and when,
is a Provenance (the custody log).
"""

from typing import Any, Literal

from gateway.clinical.fhir.datatypes import (
    DELIVERY_ID,
    DELIVERY_STATUS,
    ORDER_ID,
    SPECIMEN_BARCODE,
    SPECIMEN_STATUS,
    TASK_CODE,
    concept,
    identifier,
    identifier_reference,
    instant,
    logical_id,
    meta,
    reference,
    wardlink_id,
)
from gateway.clinical.fhir.holders import holder_reference, place_reference
from gateway.reference.model import ReferenceData
from gateway.tracking.deliveries.fold import DeliveryRow, DeliveryStatus
from gateway.tracking.specimens.fold import SpecimenRow, SpecimenStatus

FHIR_STATUS_SYSTEM = "http://hl7.org/fhir/task-status"
TaskKind = Literal["specimen", "delivery"]
CODES: dict[TaskKind, str] = {"specimen": "specimen-transport", "delivery": "delivery-transport"}

SPECIMEN_TASK_STATUS: dict[SpecimenStatus, str] = {
    "collected": "ready",  # waiting at the ward to be sent
    "in_transit": "in-progress",
    "arrived": "in-progress",
    "scanned": "in-progress",
    "rejected": "on-hold",  # in the sorter's error lane until someone handles it
    "sorted": "completed",
    "received": "completed",
    "resulted": "completed",
}
DELIVERY_TASK_STATUS: dict[DeliveryStatus, str] = {
    "created": "requested",
    "assigned": "accepted",
    "loaded": "in-progress",
    "departed": "in-progress",
    "arrived": "in-progress",
    "handed_over": "completed",
    "stocked": "completed",
    "failed": "failed",
}


def task_id(kind: TaskKind, subject: str) -> str:
    return f"{kind}-{logical_id(subject)}"


def task_subject(fhir_id: str) -> tuple[TaskKind, str] | None:
    """The (kind, wardlink id) a Task id stands for; None when it is not one of ours."""
    kind, dash, rest = fhir_id.partition("-")
    subject = wardlink_id(rest) if dash else None
    if kind not in CODES or subject is None:
        return None
    return kind, subject


def _priority(priority: str | None) -> str:
    return priority if priority in ("stat", "urgent") else "routine"


def _period(start: Any, end: Any) -> dict[str, str]:
    period = {"start": instant(start)} if start else {}
    if end:
        period["end"] = instant(end)
    return period


def _task(
    kind: TaskKind,
    subject: str,
    *,
    system: str,
    status: str,
    tracked: tuple[str, str],
    priority: str | None,
    title: str,
    focus: dict[str, Any],
    last_event_at: Any,
    based_on: dict[str, Any] | None,
    reason: str | None,
) -> dict[str, Any]:
    """What a specimen's and a delivery's Task share; `tracked` is (code system, wardlink's status)."""
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": task_id(kind, subject),
        "meta": meta(last_event_at),
        "identifier": [identifier(system, subject)],
        "status": status,
        "businessStatus": concept(tracked[0], tracked[1], text=tracked[1]),
        "intent": "order",
        "priority": _priority(priority),
        "code": concept(TASK_CODE, CODES[kind], title),
        "focus": focus,
        "lastModified": instant(last_event_at),
    }
    if based_on:
        task["basedOn"] = [based_on]
    if reason:
        task["statusReason"] = {"text": reason}
    return task


def specimen_task(row: SpecimenRow, ref: ReferenceData) -> dict[str, Any]:
    """The Task of taking the specimen to the laboratory."""
    status = SPECIMEN_TASK_STATUS[row.status]
    task = _task(
        "specimen",
        row.barcode,
        system=SPECIMEN_BARCODE,
        status=status,
        tracked=(SPECIMEN_STATUS, row.status),
        priority=row.priority,
        title="Take a specimen from the ward to the laboratory",
        focus=reference("Specimen", row.barcode),
        last_event_at=row.last_event_at,
        based_on=identifier_reference("ServiceRequest", ORDER_ID, row.order_id) if row.order_id else None,
        reason=row.reason,
    )
    if row.collected_at:
        task["authoredOn"] = instant(row.collected_at)
    done = row.lab_received_at or row.sorted_at or row.resulted_at if status == "completed" else None
    task["executionPeriod"] = _period(row.collected_at or row.first_seen_at, done)
    devices = (row.carrier, row.device)
    if row.custodian:
        task["owner"] = holder_reference(row.custodian, ref, devices)
    if row.location and (place := place_reference(row.location, ref, devices))["reference"].startswith("Location/"):
        task["location"] = place
    return task


def delivery_task(row: DeliveryRow, ref: ReferenceData) -> dict[str, Any]:
    """The Task of bringing the delivery from the pharmacy to its ward."""
    status = DELIVERY_TASK_STATUS[row.status]
    task = _task(
        "delivery",
        row.delivery,
        system=DELIVERY_ID,
        status=status,
        tracked=(DELIVERY_STATUS, row.status),
        priority=row.priority,
        title="Bring a pharmacy delivery to its ward",
        focus=reference("SupplyDelivery", row.delivery),
        last_event_at=row.last_event_at,
        based_on=identifier_reference("SupplyRequest", ORDER_ID, row.order_id) if row.order_id else None,
        reason=row.failure_reason,
    )
    if row.created_at:
        task["authoredOn"] = instant(row.created_at)
    done = row.stocked_at or row.handed_over_at or row.failed_at if status in ("completed", "failed") else None
    period = _period(row.created_at or row.assigned_at or row.loaded_at, done)
    if period:
        task["executionPeriod"] = period
    if row.handed_over_by:
        task["owner"] = holder_reference(row.handed_over_by, ref, ())
    elif row.robot:
        task["owner"] = holder_reference(row.robot, ref, (row.robot,))
    if row.location:
        task["location"] = reference("Location", row.location, ref.location_name(row.location))
    return task
