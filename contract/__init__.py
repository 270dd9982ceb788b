"""The wire contract v1: topics, the event envelope and event types shared by edge, gateway and simulators.

Nothing else is shared between edge and gateway. Everything here validates itself so that a bad id
or payload is rejected at the boundary with a reason, never deep inside a consumer.
"""

from contract.ack import Ack
from contract.command import Command, command_adapter
from contract.deadletter import DeadLetter
from contract.edge_status import EdgeStatus
from contract.envelope import (
    EVENT_TYPES,
    SCHEMA_VERSION,
    Event,
    EventType,
    Subject,
    SubjectKind,
    event_adapter,
    new_event,
    parse_event,
)
from contract.ids import Barcode, Gtin, Identifier, InvalidIdentifierError, check_identifier
from contract.state import EdgeState
from contract.telemetry import Reading, Telemetry
from contract.topics import Topics, parse_edge_topic

__all__ = [
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "Ack",
    "Barcode",
    "Command",
    "DeadLetter",
    "EdgeState",
    "EdgeStatus",
    "Event",
    "EventType",
    "Gtin",
    "Identifier",
    "InvalidIdentifierError",
    "Reading",
    "Subject",
    "SubjectKind",
    "Telemetry",
    "Topics",
    "check_identifier",
    "command_adapter",
    "event_adapter",
    "new_event",
    "parse_edge_topic",
    "parse_event",
]
