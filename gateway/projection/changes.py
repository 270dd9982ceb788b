"""A change notice: which event a projection pass folded (or which alert moved), about what; the API has the rest."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from contract import Event


@dataclass(frozen=True, slots=True)
class Change:
    """Something new was stored: which event, about what; the API has the rest."""

    event_id: UUID
    type: str
    subject_kind: str
    subject_id: str
    site: str
    occurred_at: datetime
    historical: bool = False
    """A replayed backlog event (see `gateway.ingest.historical`); only events carry it, alerts never."""

    @classmethod
    def of(cls, event: Event, historical: bool = False) -> "Change":
        return cls(
            event.id, event.type, event.subject.kind, event.subject.id, event.site, event.occurred_at, historical
        )

    def as_json(self) -> dict[str, str | bool]:
        frame: dict[str, str | bool] = {
            "event_id": str(self.event_id),
            "type": self.type,
            "subject_kind": self.subject_kind,
            "subject_id": self.subject_id,
            "site": self.site,
            "occurred_at": self.occurred_at.isoformat().replace("+00:00", "Z"),
        }
        if self.historical:
            frame["historical"] = True
        return frame
