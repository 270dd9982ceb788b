"""What a driver saw, before the outbox gives it its id and sequence number."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contract import EventType, Subject


@dataclass(frozen=True, slots=True)
class Observation:
    type: EventType
    device: str
    subject: Subject
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
