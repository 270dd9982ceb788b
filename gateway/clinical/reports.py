"""Events reported by the hospital's clinical systems (the LIS, the pharmacy system) over HTTP.

What only those systems know — a specimen collected for an order, taken in and resulted by the lab; a pharmacy
delivery created, loaded into a robot, stocked into a cabinet — arrives as a short record (type, subject, when,
data). The gateway builds the full envelope: `edge` is `integration`, `device` is the reporting system
(`source`), `seq` comes from a gateway-side counter, and the batch is committed through `EventStore.commit_batch`, so
projectors, the custody log and the live stream see it like any event from an edge. The counter is increasing
but not contiguous per source, so the per-edge gap detection does not apply to integration events: retrying a
request is how a system makes sure its events are stored (ids make retries idempotent).

A system can publish the same events over MQTT instead, as its own edge on `{root}/v1/{site}/{edge}/events`
with its own contiguous `seq`; the ingest path treats it like any edge.
"""

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

from pydantic import ValidationError

from contract import Event, event_adapter
from contract.envelope import MAX_EVENT_BYTES
from gateway.ingest.event_store import EventStore
from gateway.projection.transaction import INTEGRATION_EDGE

MAX_EVENTS = 500
ALLOWED_TYPES: dict[str, str] = {
    "specimen.collected": "specimen",
    "specimen.received": "specimen",
    "specimen.resulted": "specimen",
    "delivery.created": "delivery",
    "delivery.loaded": "delivery",
    "delivery.stocked": "delivery",
}
_ID_NAMESPACE = UUID("6f0c9d3e-5a1b-4c7e-9f3a-2d8b7e6a1c40")


class IntegrationError(ValueError):
    """The reported events cannot be stored; `problems` names each event's index, the field and the reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


class IdConflictError(IntegrationError):
    """An event id already stored with another body (recorded as tampering): that event was not stored.

    `stored` counts the report's other events, which were stored (or were duplicates) as usual.
    """

    def __init__(self, problems: Sequence[str], stored: int) -> None:
        super().__init__(problems)
        self.stored = stored


@dataclass(frozen=True, slots=True)
class ReportedEvent:
    type: str
    subject_id: str
    occurred_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    id: UUID | None = None


@dataclass(frozen=True, slots=True)
class ReportResult:
    ids: list[UUID]
    """Every event's id, in the order reported."""
    duplicate_ids: list[UUID]
    """The ids that were already stored (or came twice in the report)."""

    @property
    def stored(self) -> int:
        return len(self.ids) - len(self.duplicate_ids)


class SequenceCounter:
    """The gateway's `seq` for integration events: strictly increasing, seeded from the wall clock in microseconds
    so that it keeps increasing across restarts (like an edge's seq, but with gaps)."""

    def __init__(self, start: int | None = None) -> None:
        self._next = start if start is not None else time.time_ns() // 1000

    def take(self, count: int) -> range:
        first = self._next
        self._next += count
        return range(first, first + count)


def content_id(site: str, source: str, event: ReportedEvent) -> UUID:
    """An id from the event's content: the very same event reported again gets the same id (a duplicate)."""
    data = json.dumps(event.data, sort_keys=True, separators=(",", ":"), default=str)
    at = event.occurred_at
    occurred = (at.astimezone(UTC) if at.tzinfo is not None else at).isoformat()  # one spelling per instant
    return uuid5(_ID_NAMESPACE, f"{site}|{source}|{event.type}|{event.subject_id}|{occurred}|{data}")


def _where(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        if loc and loc[0] in ALLOWED_TYPES:  # the discriminated union's tag
            loc = loc[1:]
        problems.append(f"{'.'.join(loc) or '(event)'}: {error['msg']}")
    return problems


def build_events(
    site: str, source: str, reported: Sequence[ReportedEvent], seq: SequenceCounter, received_at: datetime
) -> list[Event]:
    """Full envelopes for the reported events, or `IntegrationError` naming every event that is not valid."""
    if len(reported) > MAX_EVENTS:
        raise IntegrationError([f"events: {len(reported)} in one report, the limit is {MAX_EVENTS}; send several"])
    problems: list[str] = []
    built: list[Event] = []
    for index, (number, item) in enumerate(zip(seq.take(len(reported)), reported, strict=True)):
        kind = ALLOWED_TYPES.get(item.type)
        if kind is None:
            problems.append(
                f"events.{index}.type: {item.type!r} is not reported by clinical systems; "
                f"use one of {', '.join(ALLOWED_TYPES)} (devices report the others through an edge)"
            )
            continue
        try:
            event = event_adapter.validate_python(
                {
                    "type": item.type,
                    "id": item.id or content_id(site, source, item),
                    "seq": number,
                    "site": site,
                    "edge": INTEGRATION_EDGE,
                    "device": source,
                    "subject": {"kind": kind, "id": item.subject_id},
                    "occurred_at": item.occurred_at,
                    "received_at": received_at,
                    "data": dict(item.data),
                }
            )
        except ValidationError as exc:
            problems.extend(f"events.{index}.{where}" for where in _where(exc))
            continue
        size = len(event.model_dump_json(exclude_none=True))
        if size > MAX_EVENT_BYTES:
            problems.append(f"events.{index}: {size} bytes as an envelope, the limit is {MAX_EVENT_BYTES}")
            continue
        built.append(event)
    if problems:
        raise IntegrationError(problems)
    return built


async def report_events(
    store: EventStore,
    site: str,
    source: str,
    reported: Sequence[ReportedEvent],
    *,
    seq: SequenceCounter,
    received_at: datetime,
) -> ReportResult:
    """Validate every event, then commit them all in one batch (nothing is stored when one is invalid).

    An id that is already stored with another body (an edge's event, say) is not a duplicate: the event store
    records the attempt as tampering (the `event.tampered` alert) and stores nothing under it, and the caller hears
    `IdConflictError` naming the event's index, never "duplicate".
    """
    events = build_events(site, source, reported, seq, received_at)
    result = await store.commit_batch(events)
    if result.tampered:
        index_of: dict[UUID, int] = {}
        for index, event in enumerate(events):
            index_of.setdefault(event.id, index)
        refused = sorted({index_of[t.event.id] for t in result.tampered})
        raise IdConflictError(
            [
                f"events.{index}.id: {events[index].id} is already stored with another body; an event id names one "
                "event forever: give this event a new id, or leave `id` out"
                for index in refused
            ],
            stored=len(events) - len(refused),
        )
    new = {e.id for e in result.new}
    ids = [e.id for e in events]
    seen: set[UUID] = set()
    duplicates = []
    for event_id in ids:
        if event_id not in new or event_id in seen:
            duplicates.append(event_id)
        seen.add(event_id)
    return ReportResult(ids=ids, duplicate_ids=duplicates)
