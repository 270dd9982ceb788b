"""How a simulated cabinet says things in its vendor's JSON: one `Dialect` per cabinet model the simulator plays.

`CabinetSimulator` decides what happens (a nurse opens the door, the fridge warms, a command arrives) and asks its
dialect how that model writes it: on which of the profile's topics, in which JSON shape, stamped with which id and
timestamp, and how the model's commands read. The edge knows none of this: it has only the model's YAML profile,
and the simulator's dialect is the stand-in for the real firmware that profile was written from.

The simulator's own alarm identities are the MV-40's codes (`A-101` door ajar, `A-201`/`A-202` fridge above/below
range, `A-301` badge not enrolled); a dialect writes them as its model does.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from simulators.cabinets.stock import BinStock

Movement = Literal["removed", "returned", "restocked"]
Reply = Literal["granted", "denied", "ok", "error"]
Out = tuple[str, dict[str, Any]]
"""(name of a topic in the profile, JSON body before stamping)."""


@dataclass(frozen=True, slots=True)
class CabinetCommand:
    """A command the cabinet received, as the simulator understands it."""

    kind: Literal["unlock", "inventory", "unknown"]
    request_id: Any
    badge: str | None = None
    name: Any = None
    """The vendor's own name of the command, echoed in its reply."""


class Dialect(ABC):
    """One cabinet model's JSON."""

    profile: str
    """The profile (device_profiles/models/*.yaml) this dialect speaks."""
    key_prefix: str
    """How the model's cabinet keys (the `topic_id`) begin: MV40-0001."""
    client_prefix: str
    """How the model's MQTT client ids begin."""
    topics: tuple[str, ...]
    """The profile topics it publishes on or listens to; the profile must name them all."""
    status_topic = "status"
    commands_topic: str
    distinct_times = False
    """The model has no message id, so two real events must differ at least in their time: the simulated clock
    then never stamps two messages of a cabinet alike (a real cabinet cannot open, pick and close within its clock's
    resolution; the simulator can)."""

    @abstractmethod
    def stamp(self, topic_name: str, body: dict[str, Any], message_id: str, at: datetime) -> dict[str, Any]:
        """The body as published on `topic_name`: with the model's message id (if it has one) and timestamp."""

    @abstractmethod
    def status(self, online: bool, at: datetime, boot: int, cause: str | None = None) -> bytes: ...

    @abstractmethod
    def last_will(self) -> str: ...

    @abstractmethod
    def door(self, opened: bool, badge: str | None) -> Out: ...

    @abstractmethod
    def movement(
        self,
        kind: Movement,
        line: BinStock,
        quantity: int,
        badge: str | None,
        txn_id: str,
        *,
        order_ref: str | None = None,
        delivery_ref: str | None = None,
    ) -> Out: ...

    @abstractmethod
    def alarm(self, code: str, raised: bool, text: str | None = None, badge: str | None = None) -> Out: ...

    @abstractmethod
    def climate(self, temperature_c: float, setpoint_c: float, door_open: bool) -> Out: ...

    @abstractmethod
    def snapshot(self, stock: dict[str, BinStock], request_id: Any) -> Out: ...

    @abstractmethod
    def command(self, body: dict[str, Any]) -> CabinetCommand: ...

    @abstractmethod
    def reply(self, command: CabinetCommand, result: Reply, why: str | None = None) -> Out: ...

    @abstractmethod
    def malformed(self, kind: str, message_id: str, at: datetime) -> tuple[str, bytes]:
        """A frame the edge must set aside (one of `MALFORMED_KINDS`), and the topic it goes on."""


MALFORMED_KINDS = ("truncated", "not_json", "unknown_event", "bad_gtin")
ALARM_TEXT = {
    "A-101": "door open too long",
    "A-201": "fridge temperature above range",
    "A-202": "fridge temperature below range",
    "A-301": "badge not enrolled",
}


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
