"""The wire contract v1: topics, the event envelope and event types shared by edge, gateway and simulators.

Nothing else is shared between edge and gateway. Everything here validates itself so that a bad id
or payload is rejected at the boundary with a reason, never deep inside a consumer.
"""

from contract.ack import Ack
from contract.deadletter import DeadLetter
from contract.envelope import (
    SCHEMA_VERSION,
    Event,
    EventType,
    Subject,
    SubjectKind,
    event_adapter,
    new_event,
    parse_event,
)
from contract.ids import Barcode, Identifier, InvalidIdentifierError, check_identifier
from contract.state import EdgeState
from contract.topics import Topics, parse_edge_topic

__all__ = [
    "SCHEMA_VERSION",
    "Ack",
    "Barcode",
    "DeadLetter",
    "EdgeState",
    "Event",
    "EventType",
    "Identifier",
    "InvalidIdentifierError",
    "Subject",
    "SubjectKind",
    "Topics",
    "check_identifier",
    "event_adapter",
    "new_event",
    "parse_edge_topic",
    "parse_event",
]
