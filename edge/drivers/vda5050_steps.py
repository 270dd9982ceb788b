"""What master control hands the driver (`Reaction`: events to record, messages to send) and what it keeps of the
delivery in hand (`Delivery`: the steps recorded, which travel in the driver's cursor)."""

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from contract.base import SubjectKind
from device_profiles.vda5050 import HANDOVER_ACTION, Channel


@dataclass(frozen=True, slots=True)
class Happened:
    """An event to record: type, subject and data (the driver turns it into an observation)."""

    type: str
    subject_kind: SubjectKind
    subject_id: str
    data: dict[str, Any]
    occurred_at: datetime | None = None


@dataclass
class Reaction:
    events: list[Happened] = field(default_factory=list)
    messages: list[tuple[Channel, dict[str, Any]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.events or self.messages)


@dataclass
class Delivery:
    delivery: str
    order_id: str
    destination: str
    drawer: str
    start: str
    steps: list[str] = field(default_factory=list)
    # Not kept in the cursor: the order (with its PIN) and the timers live only in memory.
    order: dict[str, Any] | None = field(default=None, repr=False)
    sent_at: float | None = None
    first_sent_at: float | None = None
    blocked_since: float | None = None
    handover: str = HANDOVER_ACTION

    @property
    def finished(self) -> bool:
        return "handed_over" in self.steps or "failed" in self.steps

    def saved(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in asdict(self).items()
            if k in ("delivery", "order_id", "destination", "drawer", "start", "steps", "handover")
        }


def save_cursor(current: Delivery | None, faults: Iterable[str], status: str | None) -> str:
    """The driver's cursor: the delivery's steps, the active faults and the task state, stored with the events."""
    saved = {"delivery": current.saved() if current else None, "faults": sorted(faults), "status": status}
    return json.dumps(saved, separators=(",", ":"))


def restore_cursor(cursor: str) -> tuple[Delivery | None, list[str], str | None]:
    """What `save_cursor` saved; nothing for a cursor of another format (start afresh)."""
    try:
        saved = json.loads(cursor)
        current = Delivery(**saved["delivery"]) if saved.get("delivery") else None
        return current, list(saved.get("faults", [])), saved.get("status")
    except (ValueError, TypeError, AttributeError, KeyError):
        return None, [], None
