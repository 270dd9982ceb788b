"""The gateway's side of simulation control: which simulators are attached, and requests sent to them.

`SimulationLink` keeps its own small MQTT client, apart from ingest (the event path never waits for it): it follows
every simulator's retained presence and their results, and publishes control requests. Each request becomes a
`ControlRecord` (who asked, when, what; pending until the simulator answers), logged and kept in memory for the
API (the newest `KEEP_RECORDS`); the API also writes each one to the access audit trail.
"""

import asyncio
import logging
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID, uuid4

import aiomqtt
from pydantic import BaseModel, Field, ValidationError

from contract.simulation import (
    ClearFault,
    ControlResult,
    InjectFault,
    ParamValue,
    SimulatorPresence,
    StartScenario,
)
from contract.topics import SimulationTopics, simulation_subscription
from gateway.settings import GatewaySettings
from mqttlink import Backoff, BrokerAddress, MqttLink, Subscription

log = logging.getLogger(__name__)

SIMULATION_LINK = "sim"
"""This link's user on a broker that binds client ids to users: `{gateway user}/sim` (wardlink.security.accounts)."""
KEEP_RECORDS = 500
"""Control requests kept for GET /api/v1/simulation (the access audit trail keeps every one)."""

Action = Literal["start_scenario", "inject_fault", "clear_fault"]
Status = Literal["pending", "accepted", "refused"]


class ControlRecord(BaseModel):
    """One control request and, once it came, the simulator's answer."""

    request_id: UUID
    simulator: str
    action: Action
    scenario: str | None = None
    fault: str | None = None
    target: str | None = None
    minutes: float | None = None
    params: dict[str, ParamValue] = Field(default_factory=dict)
    fault_id: str | None = Field(
        default=None, description="inject_fault: the active fault's id once accepted; clear_fault: the fault cleared"
    )
    requested_by: str | None = None
    requested_at: datetime
    status: Status = "pending"
    reason: str | None = Field(default=None, description="Why it was refused, or a note on an accepted request.")
    answered_at: datetime | None = None


class SimulatorGoneError(LookupError):
    """No attached simulator by that name."""


class SimulationUnavailableError(RuntimeError):
    """The gateway's simulation link is not connected to the broker."""


class SimulationLink:
    """`await link.run()` until cancelled; `simulators` are the attached (online) ones, by name."""

    def __init__(self, settings: GatewaySettings) -> None:
        self._settings = settings
        self._root = settings.topic_root
        # The gateway's second connection: its own user on a broker that binds client ids to users.
        broker = BrokerAddress.parse(settings.mqtt_url).for_link(SIMULATION_LINK)
        self._link = MqttLink(
            broker,
            identifier=f"{settings.client_id}-sim",
            subscriptions=[
                Subscription(simulation_subscription("presence", self._root), qos=1),
                Subscription(simulation_subscription("result", self._root), qos=1),
            ],
            backoff=Backoff(initial=0.2, cap=settings.mqtt_max_backoff_s),
            label=f"simulation link to {broker}",
            on_connect=self._forget_simulators,
        )
        self.simulators: dict[str, SimulatorPresence] = {}
        self.records: OrderedDict[UUID, ControlRecord] = OrderedDict()
        self.connected = self._link.connected
        self._answered: dict[UUID, asyncio.Event] = {}

    # -- what the API asks -------------------------------------------------------------------------------------
    def attached(self) -> list[SimulatorPresence]:
        return [self.simulators[name] for name in sorted(self.simulators)]

    def simulator_of_fault(self, fault_id: str) -> str | None:
        """The attached simulator that has `fault_id` active."""
        for name, presence in self.simulators.items():
            if any(f.id == fault_id for f in presence.active_faults):
                return name
        return None

    async def send(self, simulator: str, request: StartScenario | InjectFault | ClearFault) -> ControlRecord:
        """Publish `request` to `simulator`; the record stays pending until its result comes (`wait`)."""
        if simulator not in self.simulators:
            raise SimulatorGoneError(simulator)
        if not self._link.connected.is_set():
            raise SimulationUnavailableError("the gateway is not connected to the broker")
        record = ControlRecord(
            request_id=request.request_id,
            simulator=simulator,
            requested_by=request.requested_by,
            requested_at=request.requested_at,
            **_what(request),
        )
        self._keep(record)
        self._answered[record.request_id] = asyncio.Event()
        topic = SimulationTopics(simulator, self._root).control
        await self._link.publish(topic, request.model_dump_json().encode(), qos=1)
        log.info(
            "simulation control: %s asked %s to %s (request %s)",
            record.requested_by or "an unnamed caller",
            simulator,
            _describe(record),
            record.request_id,
        )
        return record

    async def wait(self, request_id: UUID, timeout_s: float) -> ControlRecord:
        """The record once answered, or as it stands (pending) after `timeout_s`."""
        answered = self._answered.get(request_id)
        if answered is not None and timeout_s > 0:
            try:
                async with asyncio.timeout(timeout_s):
                    await answered.wait()
            except TimeoutError:
                pass
        return self.records[request_id]

    # -- the broker link ---------------------------------------------------------------------------------------
    async def run(self) -> None:
        async with self._link as link:
            async for message in link.messages:
                self._take(message)

    async def _forget_simulators(self, _link: MqttLink) -> None:
        self.simulators.clear()  # the retained presences come again with the subscription

    def _take(self, message: aiomqtt.Message) -> None:
        payload = bytes(message.payload) if isinstance(message.payload, bytes | bytearray) else b""
        topic = str(message.topic)
        simulator = topic.split("/")[-2]
        try:
            if message.topic.matches(simulation_subscription("presence", self._root)):
                self._presence(simulator, payload)
            else:
                self._result(ControlResult.model_validate_json(payload))
        except ValidationError as exc:
            log.warning("simulation control: ignoring a malformed message on %s: %s", topic, exc.errors()[0]["msg"])

    def _presence(self, simulator: str, payload: bytes) -> None:
        if not payload:  # a clean stop withdraws the retained presence
            if self.simulators.pop(simulator, None) is not None:
                log.info("simulation control: simulator %s left", simulator)
            return
        presence = SimulatorPresence.model_validate_json(payload)
        if presence.simulator != simulator:
            log.warning("simulation control: presence on %s names %s; ignored", simulator, presence.simulator)
            return
        if not presence.online:
            if self.simulators.pop(simulator, None) is not None:
                log.warning("simulation control: simulator %s went offline (Last Will)", simulator)
            return
        if simulator not in self.simulators:
            log.info("simulation control: simulator %s attached", simulator)
        self.simulators[simulator] = presence

    def _result(self, result: ControlResult) -> None:
        record = self.records.get(result.request_id) if result.request_id is not None else None
        if record is None:
            log.info(
                "simulation control: %s answered %s to a request this gateway did not send",
                result.simulator,
                result.outcome,
            )
            return
        answered = record.model_copy(
            update={
                "status": result.outcome,
                "reason": result.reason,
                "fault_id": result.fault_id or record.fault_id,
                "answered_at": result.answered_at,
            }
        )
        self.records[record.request_id] = answered
        level = logging.INFO if result.outcome == "accepted" else logging.WARNING
        log.log(
            level,
            "simulation control: %s %s %s%s",
            result.simulator,
            result.outcome,
            _describe(answered),
            f": {result.reason}" if result.reason else "",
        )
        event = self._answered.pop(record.request_id, None)
        if event is not None:
            event.set()

    def _keep(self, record: ControlRecord) -> None:
        self.records[record.request_id] = record
        while len(self.records) > KEEP_RECORDS:
            dropped, _ = self.records.popitem(last=False)
            self._answered.pop(dropped, None)


def _what(request: StartScenario | InjectFault | ClearFault) -> dict[str, Any]:
    if isinstance(request, StartScenario):
        return {"action": "start_scenario", "scenario": request.scenario}
    if isinstance(request, InjectFault):
        return {
            "action": "inject_fault",
            "fault": request.fault,
            "target": request.target,
            "minutes": request.minutes,
            "params": request.params,
        }
    return {"action": "clear_fault", "fault_id": request.fault_id}


def _describe(record: ControlRecord) -> str:
    if record.action == "start_scenario":
        return f"start scenario {record.scenario}"
    if record.action == "inject_fault":
        return f"inject {record.fault} on {record.target} for {record.minutes:g} min"
    return f"clear fault {record.fault_id}"


def new_request_id() -> UUID:
    return uuid4()


def now() -> datetime:
    return datetime.now(UTC)


__all__ = [
    "ControlRecord",
    "SimulationLink",
    "SimulationUnavailableError",
    "SimulatorGoneError",
    "new_request_id",
    "now",
]
