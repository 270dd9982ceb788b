"""The hospital simulator under remote control: announce what it offers, start scenarios and faults on request.

    control = SimulationControl(hospital, "mqtt://127.0.0.1:1883", topic_root="wardlink")
    await control.start()   # retained presence, Last Will `online: false`, listens on its control topic

Over `contract.simulation` on `SimulationTopics(simulator)`: every request is validated and answered with one
`ControlResult` (accepted, or refused with the reason); the presence is published again whenever what runs changes
(a fault starts or ends, a scenario starts). Faults are the ones a scenario file can name
(`simulators.hospital.fault_catalogue`) and run on the hospital's simulated clock; the scenario's own faults show up
as active faults too, and can be cleared the same way. Every request is logged with who asked.
"""

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType

import aiomqtt

from contract.simulation import (
    ActiveFault,
    BadControlRequestError,
    ClearFault,
    ControlResult,
    InjectFault,
    ParamValue,
    RunningScenario,
    SimulatorPresence,
    StartScenario,
    offline,
    parse_control_request,
)
from contract.topics import SimulationTopics
from mqttlink import BrokerAddress, MqttLink, Subscription
from simulators.hospital.fault_catalogue import FaultCatalogue, FaultRequestError
from simulators.hospital.hospital import Hospital
from simulators.hospital.scenario import Fault, ScenarioError, available, load_scenario

log = logging.getLogger(__name__)


def _wall_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Running:
    active: ActiveFault
    fault: Fault
    task: asyncio.Task[None]


class SimulationControl:
    """One hospital's control link; `handle(payload)` answers one request (what the link does per message)."""

    def __init__(
        self,
        hospital: Hospital,
        broker_url: str,
        *,
        simulator: str = "hospital",
        topic_root: str = "wardlink",
        description: str | None = None,
    ) -> None:
        self.hospital = hospital
        self.broker = BrokerAddress.parse(broker_url)
        self.topics = SimulationTopics(simulator, topic_root)
        self.description = description or (
            f"hospital simulator: {len(hospital.sorters)} sorter(s), {len(hospital.tube_systems)} tube system(s), "
            f"{len(hospital.robots)} robot(s), {len(hospital.cabinets)} cabinet(s)"
        )
        self.catalogue = FaultCatalogue(hospital.devices, hospital.faults)
        self._will_body = b""
        """The Last Will (`online: false` as of the start), one for every connection of a run."""
        self._link = MqttLink(
            self.broker,
            identifier=lambda: f"wardlink-sim-control-{self.topics.simulator}-{uuid.uuid4().hex[:8]}",
            subscriptions=[Subscription(self.topics.control, qos=1)],
            will=self._will,
            label=f"simulation control {self.topics.simulator} link to {self.broker}",
            on_connect=self._attached,
            while_connected=self._serve_link,
            on_stop=self._goodbye,
        )
        self.connected = self._link.connected
        self._faults: dict[str, _Running] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        hospital.on_fault = self._scenario_fault

    # -- lifecycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._will_body = offline(self.topics.simulator, _wall_now()).model_dump_json().encode()
            self._task = asyncio.create_task(self._link.run(), name=f"simulation-control:{self.topics.simulator}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        running = [r.task for r in self._faults.values()]
        for fault_task in running:
            fault_task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def crash(self) -> None:
        """Lose the broker link without a goodbye, as a killed process would: the broker publishes the Last Will."""
        task, self._task = self._task, None
        self._link.cut()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def __aenter__(self) -> "SimulationControl":
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- what it announces -------------------------------------------------------------------------------------
    def presence(self) -> SimulatorPresence:
        h = self.hospital
        return SimulatorPresence(
            simulator=self.topics.simulator,
            online=True,
            kind="hospital",
            description=self.description,
            site=h.topics.site,
            edge=h.topics.edge,
            scenario=RunningScenario(name=h.scenario.name, started_at=h.plan_started_at, speed=h.scenario.speed),
            scenarios=available(),
            faults=self.catalogue.offers(),
            active_faults=sorted((r.active for r in self._faults.values()), key=lambda a: a.started_at),
            updated_at=_wall_now(),
        )

    # -- requests ----------------------------------------------------------------------------------------------
    async def handle(self, payload: bytes) -> ControlResult:
        """Validate and carry out one request; never raises for a bad one, it is refused with the reason."""
        try:
            request = parse_control_request(payload)
        except BadControlRequestError as bad:
            log.warning("simulation control: refused a malformed request: %s", bad.reason)
            return self._result(bad.request_id, "refused", reason=bad.reason)
        who = request.requested_by or "an unnamed caller"
        try:
            if isinstance(request, StartScenario):
                return self._start_scenario(request, who)
            if isinstance(request, InjectFault):
                return self._inject(request, who)
            return await self._clear(request, who)
        except Exception as exc:  # a bug must not take the simulator down: the caller learns what happened
            log.exception("simulation control: request %s failed", request.request_id)
            return self._result(request.request_id, "refused", reason=f"the simulator failed: {exc!r}")

    def _start_scenario(self, request: StartScenario, who: str) -> ControlResult:
        try:
            scenario = load_scenario(request.scenario) if request.scenario in available() else None
        except ScenarioError as exc:
            return self._result(request.request_id, "refused", reason=str(exc))
        if scenario is None:
            choices = ", ".join(available())
            return self._result(
                request.request_id, "refused", reason=f"unknown scenario {request.scenario!r}: choose one of {choices}"
            )
        missing = self.hospital.missing_devices(scenario)
        self.hospital.play(scenario)
        log.info("simulation control: %s started scenario %s (request %s)", who, scenario.name, request.request_id)
        self._changed.set()
        note = f"skipped its faults on {', '.join(missing)}: this hospital does not run them" if missing else None
        return self._result(request.request_id, "accepted", reason=note)

    def _inject(self, request: InjectFault, who: str) -> ControlResult:
        try:
            params = self.catalogue.check(request.fault, request.target, request.params)
        except FaultRequestError as exc:
            return self._result(request.request_id, "refused", reason=str(exc))
        for running in self._faults.values():
            if running.active.fault == request.fault and running.active.target == request.target:
                return self._result(
                    request.request_id,
                    "refused",
                    reason=f"{request.fault} is already active on {request.target} (fault {running.active.id}); "
                    "clear it or wait until it ends",
                )
        fault_id = str(request.request_id)
        self._run(fault_id, request.fault, request.target, request.minutes, params, "request")
        log.info(
            "simulation control: %s injected %s on %s for %g min %s (fault %s)",
            who,
            request.fault,
            request.target,
            request.minutes,
            params,
            fault_id,
        )
        return self._result(request.request_id, "accepted", fault_id=fault_id)

    async def _clear(self, request: ClearFault, who: str) -> ControlResult:
        running = self._faults.get(request.fault_id)
        if running is None:
            return self._result(request.request_id, "refused", reason=f"no active fault {request.fault_id!r}")
        kind = running.active.fault
        faults = self.hospital.faults
        if not faults.clearable(kind):
            return self._result(
                request.request_id,
                "refused",
                reason=f"{kind} cannot be cleared early; it ends by itself at {running.active.ends_at:%H:%M:%S}Z",
            )
        running.task.cancel()
        await asyncio.gather(running.task, return_exceptions=True)
        await faults.clear(running.fault)
        log.info(
            "simulation control: %s cleared fault %s (%s on %s)",
            who,
            request.fault_id,
            kind,
            running.fault.device,
        )
        return self._result(request.request_id, "accepted", fault_id=request.fault_id)

    def _result(self, request_id: uuid.UUID | None, outcome: str, **fields: object) -> ControlResult:
        return ControlResult(
            request_id=request_id,
            simulator=self.topics.simulator,
            outcome=outcome,
            answered_at=_wall_now(),
            **fields,
        )

    # -- faults ------------------------------------------------------------------------------------------------
    async def _scenario_fault(self, fault: Fault) -> None:
        """The running scenario's fault strikes: tracked like a requested one, so it shows and can be cleared."""
        params = {k: v for k, v in fault.params.items() if isinstance(v, str | float | int | bool)}
        running = self._run(uuid.uuid4().hex, fault.kind, fault.device, fault.minutes, params, "scenario")
        await asyncio.gather(running.task, return_exceptions=True)

    def _run(
        self,
        fault_id: str,
        kind: str,
        target: str,
        minutes: float,
        params: dict[str, ParamValue],
        source: str,
    ) -> _Running:
        h = self.hospital
        now = h.clock.now()
        fault = Fault(at=h.clock.time_of_day(), device=target, kind=kind, minutes=minutes, params=params)
        active = ActiveFault(
            id=fault_id,
            fault=kind,
            target=target,
            minutes=minutes,
            params=params,
            source=source,
            started_at=now,
            ends_at=now + timedelta(minutes=minutes),
            clearable=h.faults.clearable(kind),
        )
        task = asyncio.create_task(self._fault_runs(fault_id, fault), name=f"fault:{kind}:{target}")
        running = _Running(active, fault, task)
        self._faults[fault_id] = running
        self._changed.set()
        return running

    async def _fault_runs(self, fault_id: str, fault: Fault) -> None:
        h = self.hospital
        try:
            await h.faults.strike(fault)  # some return at once and end by themselves (the fridge, the battery)
            running = self._faults.get(fault_id)
            if running is not None:
                await h.clock.sleep((running.active.ends_at - h.clock.now()).total_seconds())
        except Exception:
            log.exception("fault %s on %s failed", fault.kind, fault.device)
        finally:
            self._faults.pop(fault_id, None)
            self._changed.set()

    # -- the MQTT link -----------------------------------------------------------------------------------------
    def _will(self) -> aiomqtt.Will:
        return aiomqtt.Will(self.topics.presence, self._will_body, qos=1, retain=True)

    async def _attached(self, _link: MqttLink) -> None:
        self._changed.set()  # a new connection announces the presence afresh

    async def _serve_link(self, link: MqttLink) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._announce(link))
            tasks.create_task(self._serve(link))

    async def _goodbye(self, link: MqttLink) -> None:
        """On a clean stop, withdraw the retained presence (a crash `cut`s the link: the Last Will goes out)."""
        await link.publish(self.topics.presence, b"", qos=1, retain=True)

    async def _announce(self, link: MqttLink) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            await link.publish(self.topics.presence, self.presence().model_dump_json().encode(), qos=1, retain=True)

    async def _serve(self, link: MqttLink) -> None:
        async for message in link.messages:
            payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
            result = await self.handle(bytes(payload))
            await link.publish(self.topics.result, result.model_dump_json().encode(), qos=1)
            self._changed.set()


__all__ = ["SimulationControl"]
