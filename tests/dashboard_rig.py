"""What the dashboard tests share: events as the edges publish them (a specimen's journey, a robot delivery), a
publisher that sends them over the test's real MQTT broker, and robot telemetry."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt

from contract import Event, Subject, Topics, new_event
from contract.telemetry import Reading, Telemetry
from mqttlink.url import BrokerAddress
from tests.infra import Infra

SITE, EDGE, LIS, PHARMACY = "general-hospital", "hospital-edge", "lab-system", "pharmacy-system"


class Events:
    """Events about one subject as its edges report them, each edge with its own sequence numbers."""

    def __init__(
        self, kind: str, subject: str, *, start: datetime | None = None, seqs: dict[str, int] | None = None
    ) -> None:
        self.kind = kind
        self.subject = subject
        self.start = start or datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
        self._seq = seqs if seqs is not None else {}
        """The last seq per edge; share one dict between subjects that the same edges report."""

    def event(
        self, type_: str, minute: float, *, edge: str, device: str, about: tuple[str, str] | None = None, **data: Any
    ) -> Event:
        self._seq[edge] = self._seq.get(edge, 0) + 1
        kind, subject = about or (self.kind, self.subject)
        event = new_event(
            type_,  # type: ignore[arg-type]
            seq=self._seq[edge],
            site=SITE,
            edge=edge,
            device=device,
            subject=Subject(kind=kind, id=subject),  # type: ignore[arg-type]
            occurred_at=self.start + timedelta(minutes=minute),
            data=data,
        )
        # Stored directly (not through MQTT) it needs the stamp the gateway gives on receipt; MQTT ignores it.
        return event.model_copy(update={"received_at": event.occurred_at + timedelta(seconds=1)})


class Journey(Events):
    """A STAT troponin collected on `ward`, sent by tube to the lab and sorted."""

    def __init__(
        self, barcode: str, *, ward: str = "ward-3a", carrier: str = "C-77", seqs: dict[str, int] | None = None
    ) -> None:
        super().__init__("specimen", barcode, seqs=seqs)
        self.ward = ward
        self.carrier = carrier

    def collected(self) -> Event:
        data = {"priority": "stat", "category": "troponin", "ward": self.ward, "badge": "rn-1001"}
        return self.event("specimen.collected", 0, edge=LIS, device="lis", **data)

    def dispatched(self) -> Event:
        data = {"transaction": 5, "from_station": "ST-3A", "to_station": "LAB-1", "specimens": [self.subject]}
        return self.event("carrier.dispatched", 2, edge=EDGE, device="tubes-1", about=("carrier", self.carrier), **data)

    def arrived(self) -> Event:
        data = {"transaction": 5, "station": "LAB-1"}
        return self.event("carrier.arrived", 6, edge=EDGE, device="tubes-1", about=("carrier", self.carrier), **data)

    def sorted(self) -> Event:
        return self.event("specimen.sorted", 8, edge=EDGE, device="sorter-1", lane=3, rack=1, position=4)


class Delivery(Events):
    """A robot delivery from the pharmacy to ward 3A, step by step."""

    def __init__(self, delivery: str, *, robot: str = "robot-1") -> None:
        super().__init__("delivery", delivery)
        self.robot = robot

    def created(self) -> Event:
        data = {"order_id": "PO-7", "ward": "ward-3a", "destination": "ward-3a", "cabinet": "cabinet-1"}
        return self.event("delivery.created", 0, edge=PHARMACY, device="pharmacy", priority="stat", items=[], **data)

    def accepted(self) -> Event:
        data = {"robot": self.robot, "order_id": "vda-7", "destination": "ward-3a", "drawer": "A"}
        return self.event("delivery.accepted", 1, edge=EDGE, device=self.robot, **data)

    def loaded(self) -> Event:
        return self.event("delivery.loaded", 2, edge=PHARMACY, device="pharmacy", robot=self.robot, drawer="A")

    def departed(self) -> Event:
        return self.event("delivery.departed", 3, edge=EDGE, device=self.robot, robot=self.robot, node="pharmacy")

    def arrived(self) -> Event:
        return self.event("delivery.arrived", 9, edge=EDGE, device=self.robot, robot=self.robot, node="ward-3a")


@asynccontextmanager
async def publisher(infra: Infra) -> AsyncIterator["Publisher"]:
    broker = BrokerAddress.parse(infra.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        yield Publisher(client, infra.topic_root)


class Publisher:
    """Publishes events on their edge's topic at QoS 1, as an edge agent does."""

    def __init__(self, client: aiomqtt.Client, topic_root: str) -> None:
        self.client = client
        self.topic_root = topic_root

    async def send(self, *events: Event) -> None:
        for event in events:
            topic = Topics(event.site, event.edge, self.topic_root).events
            payload = event.model_dump_json(exclude_none=True, exclude={"received_at"})
            await self.client.publish(topic, payload.encode(), qos=1)


def robot_telemetry(robot: str, *, battery: float, x: float, y: float, at: datetime | None = None) -> Telemetry:
    return Telemetry(
        site=SITE,
        edge=EDGE,
        device=robot,
        at=at or datetime.now(UTC),
        readings=[
            Reading(metric="battery_charge", value=battery, unit="%"),
            Reading(metric="position_x", value=x, unit="m"),
            Reading(metric="position_y", value=y, unit="m"),
        ],
    )
