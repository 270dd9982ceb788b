"""Master control and a simulated robot body wired back to back without a network (a null modem).

Time is in robot seconds; every message crossing between them is checked against the official VDA 5050 schema
of the version the master speaks.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from contract.command import DispatchDelivery
from device_profiles import load_profiles
from device_profiles.maps import NodeGraph, load_map
from device_profiles.vda5050 import Headers, Vda5050Profile
from device_profiles.vda5050_schemas import schema_errors
from edge.drivers.vda5050_master import MasterControl
from edge.drivers.vda5050_steps import Happened, Reaction
from simulators.robots.body import RobotBody

SERIAL = "MC2-0001"


class NullModem:
    """A robot body and master control exchanging schema-checked messages, time in robot seconds."""

    def __init__(
        self, start: str = "charger-0", battery_pct: float = 100.0, patience_s: float = 120, **profile: Any
    ) -> None:
        base = load_profiles()["medicart-mc2"]
        assert isinstance(base, Vda5050Profile)
        self.profile = Vda5050Profile.model_validate({**base.model_dump(), "patience_s": patience_s, **profile})
        self.graph: NodeGraph = load_map(base.map)
        self.body = RobotBody(self.profile, self.graph, self.graph.node(start), battery_pct=battery_pct)
        self.headers = Headers(base.manufacturer, SERIAL, self.profile.vda_version)
        self.master = MasterControl("robot-1", self.profile, self.graph, SERIAL)
        self.master.online = True
        self.now = 0.0
        self.events: list[Happened] = []
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.lose_orders = False

    def state(self) -> dict[str, Any]:
        message = {**self.headers("state"), **self.body.state()}
        assert schema_errors("state", message) == []
        return message

    def deliver(self, reaction: Reaction) -> None:
        self.events += reaction.events
        for channel, message in reaction.messages:
            assert schema_errors(channel, message) == [], channel  # type: ignore[arg-type]
            self.sent.append((channel, message))
            if channel == "order" and not self.lose_orders:
                self.body.take_order(message)
            elif channel == "instantActions":
                for action in message.get("actions") or message.get("instantActions") or []:
                    self.body.instant(action)

    def run(self, seconds: float, dt: float = 1.0) -> None:
        for _ in range(int(seconds / dt)):
            self.body.step(dt)
            self.now += dt
            self.deliver(self.master.on_state(self.state(), self.now))
            self.deliver(self.master.tick(self.now))

    def dispatch(
        self, destination: str, pin: str | None = "4711", delivery: str = "D-1", drawer: str = "drawer-1"
    ) -> None:
        command = DispatchDelivery(
            id=uuid.uuid4(),
            requested_by="pharmacist-7",
            requested_at=datetime.now(UTC),
            delivery=delivery,
            destination=destination,
            drawer=drawer,
            release_pin=pin,
        )
        self.deliver(self.master.dispatch(command, self.now))

    def delivery_events(self) -> list[tuple[str, dict[str, Any]]]:
        return [(e.type, e.data) for e in self.events if e.subject_kind == "delivery"]

    def faults(self) -> list[tuple[str, str, str | None]]:
        return [(e.type, e.data["code"], e.data.get("component")) for e in self.events if "fault" in e.type]
