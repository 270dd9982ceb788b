"""Checks at the gateway's door: what arrives on an edge topic is turned into a contract object or rejected.

A rejection carries a short `kind` (counted and logged once per kind) and a `reason` for the dead letter.
"""

from dataclasses import dataclass
from datetime import datetime

import pydantic_core
from pydantic import ValidationError

from contract import EdgeState, EdgeStatus, Event, Telemetry, parse_edge_topic, parse_event
from contract.envelope import MAX_EVENT_BYTES, MAX_EVENTS_MESSAGE_BYTES, MAX_EVENTS_PER_MESSAGE, event_adapter

_MAX_REASON = 300


class RejectedError(Exception):
    """The payload cannot be accepted; `kind` names the check that failed, `reason` says why."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


def short_reason(exc: ValidationError) -> str:
    """Pydantic's first error as `location: message`, and how many more there were."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    text = f"{where}: {first['msg']}" if where else first["msg"]
    if len(errors) > 1:
        text += f" (+{len(errors) - 1} more)"
    return text[:_MAX_REASON]


def _edge_of(topic: str, root: str) -> tuple[str, str]:
    try:
        topics, _channel = parse_edge_topic(topic, root)
    except ValueError as exc:
        raise RejectedError("bad_topic", str(exc)[:_MAX_REASON]) from exc
    return topics.site, topics.edge


def _check_size(payload: bytes) -> None:
    if len(payload) > MAX_EVENT_BYTES:
        raise RejectedError("too_large", f"payload is {len(payload)} bytes, the limit is {MAX_EVENT_BYTES}")


def _check_sender(topic_edge: tuple[str, str], claimed: tuple[str, str], what: str) -> None:
    if claimed != topic_edge:
        raise RejectedError(
            "wrong_edge",
            f"{what} names site/edge {'/'.join(claimed)} but arrived on the topic of {'/'.join(topic_edge)}; "
            "an edge publishes only on its own topics",
        )


@dataclass(frozen=True, slots=True)
class RejectedElement:
    """One envelope of an array that cannot be accepted: its own JSON (for the dead letter) and why."""

    payload: bytes
    rejected: RejectedError


def accept_events(
    topic: str, payload: bytes, root: str, received_at: datetime
) -> tuple[list[Event], list[RejectedElement]]:
    """A message on the `events` topic: one envelope (`accept_event`) or a JSON array of up to
    `MAX_EVENTS_PER_MESSAGE` of them. In an array each envelope stands alone: the valid ones are accepted, each
    invalid one comes back with its reason (and the others are not held back). A message that is not a JSON array
    of objects at all raises `RejectedError`, as a bad single envelope does."""
    if payload.lstrip()[:1] != b"[":
        return [accept_event(topic, payload, root, received_at)], []
    if len(payload) > MAX_EVENTS_MESSAGE_BYTES:
        raise RejectedError("too_large", f"an array of {len(payload)} bytes; the limit is {MAX_EVENTS_MESSAGE_BYTES}")
    sender = _edge_of(topic, root)
    try:
        elements = pydantic_core.from_json(payload)
    except ValueError as exc:
        raise RejectedError("malformed", f"not JSON: {exc}"[:_MAX_REASON]) from exc
    if not elements or len(elements) > MAX_EVENTS_PER_MESSAGE:
        raise RejectedError(
            "invalid", f"an array of {len(elements)} envelopes; send 1 to {MAX_EVENTS_PER_MESSAGE} per message"
        )
    accepted: list[Event] = []
    rejected: list[RejectedElement] = []
    for index, element in enumerate(elements):
        raw = pydantic_core.to_json(element)
        where = f"envelope {index + 1} of {len(elements)}"
        try:
            if len(raw) > MAX_EVENT_BYTES:
                raise RejectedError("too_large", f"{where} is {len(raw)} bytes, the limit is {MAX_EVENT_BYTES}")
            try:
                event = event_adapter.validate_python(element)
            except ValidationError as exc:
                raise RejectedError("invalid", f"{where}: {short_reason(exc)}"[:_MAX_REASON]) from exc
            _check_sender(sender, (event.site, event.edge), f"{where}")
        except RejectedError as problem:
            rejected.append(RejectedElement(raw, problem))
            continue
        accepted.append(event.model_copy(update={"received_at": received_at}))
    return accepted, rejected


def accept_event(topic: str, payload: bytes, root: str, received_at: datetime) -> Event:
    """The validated event stamped with `received_at`, or `RejectedError`."""
    _check_size(payload)
    sender = _edge_of(topic, root)
    try:
        event = parse_event(payload)
    except ValidationError as exc:
        kind = "malformed" if exc.errors()[0]["type"] == "json_invalid" else "invalid"
        raise RejectedError(kind, short_reason(exc)) from exc
    _check_sender(sender, (event.site, event.edge), "the event")
    return event.model_copy(update={"received_at": received_at})


def accept_state(topic: str, payload: bytes, root: str) -> EdgeState:
    """The validated birth or death certificate, or `RejectedError`."""
    _check_size(payload)
    sender = _edge_of(topic, root)
    try:
        state = EdgeState.model_validate_json(payload)
    except ValidationError as exc:
        raise RejectedError("invalid_state", short_reason(exc)) from exc
    _check_sender(sender, (state.site, state.edge), "the edge state")
    return state


def accept_telemetry(topic: str, payload: bytes, root: str) -> Telemetry:
    """The validated telemetry message (every reading a finite number), or `RejectedError`."""
    _check_size(payload)
    sender = _edge_of(topic, root)
    try:
        telemetry = Telemetry.model_validate_json(payload)
    except ValidationError as exc:
        kind = "malformed" if exc.errors()[0]["type"] == "json_invalid" else "invalid_telemetry"
        raise RejectedError(kind, short_reason(exc)) from exc
    _check_sender(sender, (telemetry.site, telemetry.edge), "the telemetry")
    return telemetry


def accept_status(topic: str, payload: bytes, root: str) -> EdgeStatus:
    """The validated outbox report, or `RejectedError`."""
    _check_size(payload)
    sender = _edge_of(topic, root)
    try:
        status = EdgeStatus.model_validate_json(payload)
    except ValidationError as exc:
        raise RejectedError("invalid_status", short_reason(exc)) from exc
    _check_sender(sender, (status.site, status.edge), "the outbox report")
    return status
