"""Simulation control: simulators announce what they can do, the gateway asks them to start a scenario or a fault.

Three messages on `SimulationTopics` (`{root}/v1/simulation/{simulator}/...`):

- `presence` (simulator -> gateway, retained, QoS 1): what the simulator is, the scenarios it can start, the faults it
  can inject (with their targets and parameters) and what runs now. Published on connect and on every change; the
  MQTT Last Will is the same message with `online: false`, and a clean stop clears the retained message (empty payload).
- `control` (gateway -> simulator, QoS 1): one `ControlRequest` with a `request_id`.
- `result` (simulator -> gateway, QoS 1): one `ControlResult` per request, `accepted` or `refused` with the reason.

A simulator never trusts a request: it validates it (`parse_control_request`) and answers a bad one with a refusal
naming what was wrong, never with silence or a crash.
"""

import json
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, TypeAdapter, ValidationError

from contract.base import Strict, UtcDatetime
from contract.ids import Identifier

MAX_FAULT_MINUTES = 24 * 60
"""A fault lasts at most a (simulated) day, as in a scenario file."""

ParamValue = str | float | int | bool


class FaultParameter(Strict):
    """An optional parameter of a fault (e.g. the tube zone to block); `choices` lists the allowed values if finite."""

    name: Identifier
    description: str = ""
    default: ParamValue | None = None
    choices: list[ParamValue] | None = None
    minimum: float | None = None
    maximum: float | None = None


class FaultOffer(Strict):
    """A fault a simulator can inject: on which targets (device ids), with which parameters."""

    fault: Identifier
    description: str
    targets: list[Identifier]
    parameters: list[FaultParameter] = Field(default_factory=list)
    clearable: bool = True
    """False: the fault cannot be ended early (e.g. a power loss runs its course); it ends by itself."""


class ActiveFault(Strict):
    """A fault in force now: injected by a request (`id` is the request's id) or struck by the running scenario."""

    id: Identifier
    fault: Identifier
    target: Identifier
    minutes: float
    params: dict[str, ParamValue] = Field(default_factory=dict)
    source: Literal["request", "scenario"]
    started_at: UtcDatetime
    """On the simulator's (simulated) clock, as the devices stamp their records."""
    ends_at: UtcDatetime
    clearable: bool = True


class RunningScenario(Strict):
    name: Identifier
    started_at: UtcDatetime
    speed: float
    """Simulated seconds per real second."""


class SimulatorPresence(Strict):
    """What a simulator announces (retained): `online: false` is its Last Will."""

    simulator: Identifier
    online: bool
    kind: Identifier = "hospital"
    description: str = ""
    site: Identifier | None = None
    edge: Identifier | None = None
    """The edge its devices are served by, so a caller can find their events."""
    scenario: RunningScenario | None = None
    scenarios: list[Identifier] = Field(default_factory=list)
    """Scenarios it can start."""
    faults: list[FaultOffer] = Field(default_factory=list)
    active_faults: list[ActiveFault] = Field(default_factory=list)
    updated_at: UtcDatetime
    """Wall clock of the message."""


class _Request(Strict):
    request_id: UUID
    requested_by: str | None = Field(default=None, max_length=200)
    """Who asked (the caller's name on the gateway), for the simulator's log."""
    requested_at: UtcDatetime


class StartScenario(_Request):
    action: Literal["start_scenario"] = "start_scenario"
    scenario: Identifier


class InjectFault(_Request):
    action: Literal["inject_fault"] = "inject_fault"
    fault: Identifier
    target: Identifier
    minutes: float = Field(gt=0, le=MAX_FAULT_MINUTES)
    params: dict[Identifier, ParamValue] = Field(default_factory=dict)


class ClearFault(_Request):
    action: Literal["clear_fault"] = "clear_fault"
    fault_id: Identifier


ControlRequest = Annotated[StartScenario | InjectFault | ClearFault, Field(discriminator="action")]
control_request_adapter: TypeAdapter[StartScenario | InjectFault | ClearFault] = TypeAdapter(ControlRequest)


class ControlResult(Strict):
    request_id: UUID | None
    """None only when the request was too malformed to carry a readable id."""
    simulator: Identifier
    outcome: Literal["accepted", "refused"]
    reason: str | None = None
    """Why it was refused, or a note on an accepted request (e.g. faults of a scenario it had to skip)."""
    fault_id: Identifier | None = None
    """The active fault an accepted `inject_fault` created (its request id)."""
    answered_at: UtcDatetime


class BadControlRequestError(ValueError):
    """A control request that does not validate; `request_id` is set when the payload named a readable one."""

    def __init__(self, reason: str, request_id: UUID | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id


def parse_control_request(payload: bytes) -> StartScenario | InjectFault | ClearFault:
    """The request in `payload`, or `BadControlRequestError` whose reason names each field and what is wrong."""
    try:
        return control_request_adapter.validate_json(payload)
    except ValidationError as exc:
        parts = []
        for error in exc.errors():
            loc = [str(p) for p in error["loc"] if p not in ("start_scenario", "inject_fault", "clear_fault")]
            parts.append(f"{'.'.join(loc) or '(request)'}: {error['msg']}")
        raise BadControlRequestError("; ".join(parts), _readable_id(payload)) from None


def _readable_id(payload: bytes) -> UUID | None:
    try:
        body = json.loads(payload)
        return UUID(str(body["request_id"])) if isinstance(body, dict) else None
    except (ValueError, KeyError, TypeError):
        return None


def offline(simulator: str, at: datetime) -> SimulatorPresence:
    """The Last Will: the simulator is gone and nothing it ran is in force any more."""
    return SimulatorPresence(simulator=simulator, online=False, updated_at=at)


__all__ = [
    "MAX_FAULT_MINUTES",
    "ActiveFault",
    "BadControlRequestError",
    "ClearFault",
    "ControlRequest",
    "ControlResult",
    "FaultOffer",
    "FaultParameter",
    "InjectFault",
    "RunningScenario",
    "SimulatorPresence",
    "StartScenario",
    "control_request_adapter",
    "offline",
    "parse_control_request",
]
