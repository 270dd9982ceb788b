"""The hospital's clinical systems as seen by wardlink: the laboratory information system and the pharmacy system.

Each reports what only it knows (a specimen collected for an order, taken in and resulted by the lab; a pharmacy
delivery created, loaded into a robot, stocked into the ward's cabinet) as canonical events, publishing as its
own edge (`Topics(site, edge="lab-system" | "pharmacy-system")`) at QoS 1 with its own contiguous `seq`, the way
an integration engine would. Like the edge's outbox, it keeps every event until the gateway acknowledges it and
publishes it again after `resend_after_s` or a reconnect (in memory: a simulator does not survive a restart).

    async with ClinicalSystem("mqtt://127.0.0.1:1883", edge="lab-system", device="lis", clock=clock) as lis:
        lis.report("specimen.collected", "specimen", "S123456789", {"category": "cbc", "ward": "icu"})
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol
from uuid import UUID

import aiomqtt
from pydantic import ValidationError

from contract import Ack, EdgeState, Event, Subject, SubjectKind, Topics, new_event
from mqttlink import BrokerAddress, MqttLink, Subscription

log = logging.getLogger(__name__)

LAB_SYSTEM, PHARMACY_SYSTEM = "lab-system", "pharmacy-system"


def _wall_now() -> datetime:
    return datetime.now(UTC)


class ReportingSystem(Protocol):
    """What the demo hospital needs of a clinical system, whatever it speaks: this MQTT one or HL7 over MLLP
    (`simulators.clinical.hl7_system`)."""

    def report(
        self,
        type: str,
        subject_kind: SubjectKind,
        subject_id: str,
        data: dict[str, Any] | None = None,
        occurred_at: datetime | None = None,
    ) -> object: ...

    @property
    def pending(self) -> int: ...

    async def acknowledged(self, timeout_s: float = 30) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ClinicalSystem:
    """One clinical system's link to wardlink: `report(...)` queues an event; it is published until acknowledged."""

    def __init__(
        self,
        broker_url: str,
        *,
        site: str = "general-hospital",
        edge: str = LAB_SYSTEM,
        device: str = "lis",
        topic_root: str = "wardlink",
        clock: Callable[[], datetime] = _wall_now,
        resend_after_s: float = 10.0,
        first_seq: int = 1,
    ) -> None:
        self.broker = BrokerAddress.parse(broker_url)
        self.topics = Topics(site=site, edge=edge, root=topic_root)
        self.device = device
        self.clock = clock
        self.resend_after_s = resend_after_s
        self.reported: list[Event] = []
        """Every event reported, in `seq` order (tests read it)."""
        self.acked = 0
        self._since = _wall_now()
        """When the current connection began: its birth, its Last Will and its goodbye say so."""
        self._link = MqttLink(
            self.broker,
            identifier=f"wardlink-sim-{site}-{edge}",
            subscriptions=[Subscription(self.topics.ack, qos=1)],
            will=self._will,
            label=f"{edge} link to {self.broker}",
            on_connect=self._born,
            while_connected=self._serve,
            on_stop=self._say_goodbye,
        )
        self.connected = self._link.connected
        self._next_seq = first_seq
        self._unacked: dict[UUID, Event] = {}
        self._sent_at: dict[UUID, float] = {}
        self._wake = asyncio.Event()
        self._all_acked = asyncio.Event()
        self._all_acked.set()
        self._task: asyncio.Task[None] | None = None

    # -- what the clinical system says -------------------------------------------------------------------------
    def report(
        self,
        type: str,
        subject_kind: SubjectKind,
        subject_id: str,
        data: dict[str, Any] | None = None,
        occurred_at: datetime | None = None,
    ) -> Event:
        """Validate and queue one event (`occurred_at`: now on the system's clock unless given)."""
        event = new_event(
            type,
            seq=self._next_seq,
            site=self.topics.site,
            edge=self.topics.edge,
            device=self.device,
            subject=Subject(kind=subject_kind, id=subject_id),
            occurred_at=occurred_at or self.clock(),
            data=data,
        )
        self._next_seq += 1
        self.reported.append(event)
        self._unacked[event.id] = event
        self._all_acked.clear()
        self._wake.set()
        return event

    @property
    def pending(self) -> int:
        """Events the gateway has not acknowledged yet."""
        return len(self._unacked)

    async def acknowledged(self, timeout_s: float = 30) -> None:
        """Wait until the gateway acknowledged every event reported so far."""
        async with asyncio.timeout(timeout_s):
            await self._all_acked.wait()

    # -- lifecycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._link.run(), name=f"clinical-system:{self.topics.edge}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def __aenter__(self) -> "ClinicalSystem":
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- the MQTT link -----------------------------------------------------------------------------------------
    def _state(self, state: str, since: datetime) -> bytes:
        body = EdgeState(state=state, site=self.topics.site, edge=self.topics.edge, since=since, version="sim")
        return body.model_dump_json().encode()

    def _will(self) -> aiomqtt.Will:
        self._since = _wall_now()  # birth and death are the connection's, on the wall clock like an edge's
        return aiomqtt.Will(self.topics.state, self._state("offline", self._since), qos=1, retain=True)

    async def _born(self, link: MqttLink) -> None:
        await link.publish(self.topics.state, self._state("online", self._since), qos=1, retain=True)
        self._sent_at.clear()  # everything unacknowledged is due again after a reconnect

    async def _serve(self, link: MqttLink) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._pump(link))
            tasks.create_task(self._take_acks(link))

    async def _say_goodbye(self, link: MqttLink) -> None:
        """A clean stop sends no Last Will, so publish the offline state ourselves."""
        await link.publish(self.topics.state, self._state("offline", self._since), qos=1, retain=True)

    async def _pump(self, link: MqttLink) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            due = [
                e for e in list(self._unacked.values()) if now - self._sent_at.get(e.id, -1e18) >= self.resend_after_s
            ]
            for event in due:
                await link.publish(self.topics.events, event.model_dump_json().encode(), qos=1)
                self._sent_at[event.id] = loop.time()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._wake.wait()

    async def _take_acks(self, link: MqttLink) -> None:
        async for message in link.messages:
            if str(message.topic) != self.topics.ack:
                continue
            try:
                ack = Ack.model_validate_json(message.payload)
            except ValidationError:
                log.warning("%s: ignoring a malformed ack", self.topics.edge)
                continue
            for event_id in ack.ids:
                if self._unacked.pop(event_id, None) is not None:
                    self._sent_at.pop(event_id, None)
                    self.acked += 1
            if not self._unacked:
                self._all_acked.set()
