"""The event envelope and the event types, in the past tense.

Every observation becomes one `Event`: a globally unique `id` and a per-edge `seq` given at the edge when
it is observed (retries reuse both), `occurred_at` from the device or edge clock, `received_at` stamped by
the gateway, and typed `data` chosen by `type` (a pydantic discriminated union over `contract.events`).
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from pydantic import Field, TypeAdapter

from contract.base import SCHEMA_VERSION, Envelope, NoData, Subject, SubjectKind, UtcDatetime
from contract.events.cabinet import CABINET_EVENTS, CabinetEvent
from contract.events.carrier import CARRIER_EVENTS, CarrierEvent
from contract.events.delivery import DELIVERY_EVENTS, DeliveryEvent
from contract.events.device import DEVICE_EVENTS, DeviceEvent
from contract.events.specimen import SPECIMEN_EVENTS, RejectReason, SpecimenEvent

MAX_EVENT_BYTES = 64 * 1024
"""Largest envelope a gateway accepts; anything larger is dead-lettered."""
MAX_EVENTS_PER_MESSAGE = 500
"""Most envelopes one message on the `events` topic may carry as a JSON array (an edge's `events_per_message`)."""
MAX_EVENTS_MESSAGE_BYTES = 2 * 1024 * 1024
"""Largest JSON array of envelopes a gateway accepts on the `events` topic; each envelope in it is held to
`MAX_EVENT_BYTES` too."""

EVENT_CLASSES: tuple[type[Envelope], ...] = (
    *SPECIMEN_EVENTS,
    *CARRIER_EVENTS,
    *DELIVERY_EVENTS,
    *CABINET_EVENTS,
    *DEVICE_EVENTS,
)
EVENT_TYPES: frozenset[str] = frozenset(cls.model_fields["type"].default for cls in EVENT_CLASSES)

# Written out (not built from EVENT_CLASSES) so that type checkers see the union too; the family unions are
# where a new event type is added, and EVENT_CLASSES is read from them.
Event = Annotated[
    SpecimenEvent | CarrierEvent | DeliveryEvent | CabinetEvent | DeviceEvent,
    Field(discriminator="type"),
]
EventType = str
"""One of `EVENT_TYPES`; checked when the event is built."""

event_adapter: TypeAdapter[Event] = TypeAdapter(Event)


def envelope_array(envelopes: Sequence[bytes]) -> bytes:
    """Encoded envelopes as one message on the `events` topic: a JSON array (at most `MAX_EVENTS_PER_MESSAGE`)."""
    return b"[" + b",".join(envelopes) + b"]"


def envelope_messages(envelopes: Sequence[bytes], per_message: int) -> list[bytes]:
    """Encoded envelopes, in order, as messages on the `events` topic: JSON arrays of up to `per_message` of them
    and at most `MAX_EVENTS_MESSAGE_BYTES`, and an envelope alone as itself (so `per_message` 1 sends no arrays)."""
    per_message = min(per_message, MAX_EVENTS_PER_MESSAGE)
    chunks: list[list[bytes]] = []
    size = 0
    for envelope in envelopes:
        # An array's bytes: "[", each envelope and the comma (or "]") after it.
        if not chunks or len(chunks[-1]) == per_message or size + len(envelope) + 1 > MAX_EVENTS_MESSAGE_BYTES:
            chunks.append([])
            size = 1
        chunks[-1].append(envelope)
        size += len(envelope) + 1
    return [chunk[0] if len(chunk) == 1 else envelope_array(chunk) for chunk in chunks]


def parse_event(payload: bytes | str) -> Event:
    """Validate one JSON envelope; raises `pydantic.ValidationError` with the reason."""
    return event_adapter.validate_json(payload)


def new_event(
    type: EventType,
    *,
    seq: int,
    site: str,
    edge: str,
    device: str,
    subject: Subject,
    occurred_at: datetime,
    data: dict[str, Any] | None = None,
    id: UUID | None = None,
) -> Event:
    """Build and validate an event as the edge observes it; a fresh globally unique id unless one is given."""
    return event_adapter.validate_python(
        {
            "type": type,
            "id": id or uuid4(),
            "seq": seq,
            "site": site,
            "edge": edge,
            "device": device,
            "subject": subject,
            "occurred_at": occurred_at,
            "data": data or {},
        }
    )


__all__ = [
    "EVENT_CLASSES",
    "EVENT_TYPES",
    "MAX_EVENT_BYTES",
    "SCHEMA_VERSION",
    "Event",
    "EventType",
    "NoData",
    "RejectReason",
    "Subject",
    "SubjectKind",
    "UtcDatetime",
    "event_adapter",
    "new_event",
    "parse_event",
]
