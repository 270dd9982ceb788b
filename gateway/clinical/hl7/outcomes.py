"""What a message changes: the events it reports and the orders it keeps, from what it says and what earlier
messages said of the same barcodes.

An order with a collection time is `specimen.collected`; one without waits in `hl7_orders` until a status update
(ORC-1 SC, a later order message, an SSU^U03 with SPM-17) brings the time. A container in a "received" state is
`specimen.received`; a final or corrected result is `specimen.resulted`; any other state is kept, not an event.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from gateway.clinical.hl7.mapping import Hl7Mapping
from gateway.clinical.hl7.messages import ContainerSeen, Header, Known, OrderSeen, ResultSeen, Seen
from gateway.clinical.hl7.problems import REQUIRED_FIELD_MISSING, content_error
from gateway.clinical.hl7.records import OrderRow
from gateway.clinical.reports import ReportedEvent


@dataclass
class Outcome:
    events: list[ReportedEvent] = field(default_factory=list)
    orders: dict[str, OrderRow] = field(default_factory=dict)


def _merged(stored: OrderRow | None, known: Known, base: OrderRow) -> OrderRow:
    """The order as stored, with what this message says laid over it (a value the message leaves out stays)."""
    row = stored or base
    said: dict[str, Any] = {
        "order_id": known.order_id,
        "priority": known.priority,
        "category": known.category,
        "ward": known.ward,
        "collector": known.collector,
        "collected_at": known.collected_at,
    }
    return replace(row, **{k: v for k, v in said.items() if v is not None}, updated_at=base.updated_at)


def _collected(order: OrderRow) -> ReportedEvent:
    assert order.collected_at is not None
    data = {
        "priority": order.priority or "routine",
        "category": order.category,
        "ward": order.ward,
        "badge": order.collector,
        "order_id": order.order_id,
    }
    return ReportedEvent(
        type="specimen.collected",
        subject_id=order.barcode,
        occurred_at=order.collected_at,
        data={k: v for k, v in data.items() if v is not None},
    )


def _require_order_fields(order: OrderRow, known: Known) -> None:
    """A collected specimen needs its test category and ward, from this message or an earlier order."""
    for name, at in (("category", known.category_at), ("ward", known.ward_at)):
        if getattr(order, name) is None:
            raise content_error(
                REQUIRED_FIELD_MISSING,
                f"no {'test category' if name == 'category' else 'ward'} for collected specimen {order.barcode}, "
                "in this message or an earlier order",
                at,
            )


def decide(
    seen: Sequence[Seen],
    stored: Mapping[str, OrderRow],
    header: Header,
    mapping: Hl7Mapping,
    *,
    site: str,
    received_at: datetime,
) -> Outcome:
    """The events and order rows for what the message says; AE (`Hl7MessageError`) when a collection lacks a field."""
    outcome = Outcome()
    for item in seen:
        barcode = item.known.barcode
        before = outcome.orders.get(barcode) or stored.get(barcode)
        base = OrderRow(barcode=barcode, site=site, sender=header.sender, status="seen", updated_at=received_at)
        order = _merged(before, item.known, base)
        when = header.sent_at or received_at
        if isinstance(item, OrderSeen):
            if order.status != "collected":
                order = replace(order, status="ordered")
            if item.control in mapping.cancelled and order.status != "collected":
                order = replace(order, status="cancelled")
        elif isinstance(item, ContainerSeen):
            at = item.at or when
            order = replace(order, container_status=item.status, container_status_at=at)
            if item.status in mapping.container.received:
                data = {"location": item.location} if item.location else {}
                outcome.events.append(ReportedEvent("specimen.received", barcode, at, data))
        elif isinstance(item, ResultSeen):
            at = item.at or when
            order = replace(order, result_status=item.status, result_status_at=at)
            if item.status in mapping.result.final:
                data = {"badge": item.badge} if item.badge else {}
                outcome.events.append(ReportedEvent("specimen.resulted", barcode, at, data))
        collecting = order.collected_at is not None and order.status in ("ordered", "seen")
        if collecting and isinstance(item, OrderSeen):
            _require_order_fields(order, item.known)
        if collecting and order.category is not None and order.ward is not None:
            outcome.events.insert(0, _collected(order))
            order = replace(order, status="collected")
        outcome.orders[barcode] = order
    return outcome
