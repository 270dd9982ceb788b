"""Robots that speak VDA 5050 2.1 over MQTT: the device model (profile), its topics and message headers.

The robot's instance in a site file gives `mqtt.topic_id` = the robot's VDA `serialNumber` and `mqtt.url`
(None: the edge's broker). The profile's `manufacturer` is the VDA topic level, so it must be topic-safe.
"""

import itertools
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from contract.ids import Identifier, InvalidIdentifierError, check_identifier
from device_profiles.maps import MAPS_DIR, map_names
from device_profiles.profile import COLLECT_PROBLEMS, ProfileBase

VDA_VERSION = "2.1.0"

Channel = Literal["order", "instantActions", "state", "visualization", "connection", "factsheet"]

HANDOVER_ACTION = "handOverLoad"
"""Custom node action on the destination: the drawer stays locked until a PIN or badge releases it there."""
RELEASE_ACTION = "releaseDrawer"
"""Custom instant action: release a drawer with `pin` and/or `badge` (what the robot's keypad/reader does)."""
RELEASED_INFO = "drawerReleased"
"""Information entry in `state` naming the order, action, drawer and badge of a release."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Battery(_Strict):
    capacity_wh: float = Field(gt=0, description="Nominal capacity, for the factsheet.")
    drain_pct_per_m: float = Field(gt=0, le=10, description="Charge used per metre driven, in percent.")
    charge_pct_per_min: float = Field(gt=0, le=100, description="Charge gained per minute on a charger.")
    low_pct: float = Field(default=20, gt=0, lt=100, description="Below this the robot reports batteryLow.")


class Vda5050Profile(ProfileBase):
    """A VDA 5050 robot model: topic naming, drawers, battery, speed and the map it drives on."""

    endpoint: ClassVar[Literal["modbus", "mqtt"]] = "mqtt"

    protocol: Literal["vda5050"] = "vda5050"
    interface_name: Identifier = Field(default="uagv", description="First topic level (VDA interfaceName).")
    major_version: str = Field(default="v2", pattern=r"^v[0-9]+$")
    map: Identifier = Field(description="Name of the node graph in device_profiles/maps the robot drives on.")
    drawers: list[Identifier] = Field(min_length=1, max_length=32, description="Lockable drawers (load positions).")
    battery: Battery
    max_speed: float = Field(gt=0, le=5, description="m/s")
    length: float = Field(default=0.9, gt=0, description="m, for the factsheet")
    width: float = Field(default=0.6, gt=0, description="m")
    height: float = Field(default=1.3, gt=0, description="m")
    max_load_kg: float = Field(default=40, gt=0)
    patience_s: float = Field(
        default=120,
        gt=0,
        description="How long master control waits on a blocked path or an unconfirmed order before it cancels "
        "the order and reports the delivery failed.",
    )

    @model_validator(mode="after")
    def _cross_checked(self, info: ValidationInfo) -> "Vda5050Profile":
        if info.context and info.context.get(COLLECT_PROBLEMS):
            return self
        if problems := self.problems():
            raise ValueError("; ".join(f"{field}: {reason}" for field, reason in problems))
        return self

    def problems(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        try:
            check_identifier(self.manufacturer, what="VDA 5050 manufacturer")
        except InvalidIdentifierError as exc:
            out.append(("manufacturer", f"{exc} (it is a topic level of every VDA 5050 topic)"))
        seen: set[str] = set()
        for i, drawer in enumerate(self.drawers):
            if drawer in seen:
                out.append((f"drawers[{i}]", f"{drawer!r} is listed twice"))
            seen.add(drawer)
        if self.map not in map_names():
            known = ", ".join(map_names()) or "none"
            out.append(("map", f"no map named {self.map!r} in {MAPS_DIR} (known: {known})"))
        return out

    def topic(self, serial: str, channel: Channel) -> str:
        """`{interface}/{major}/{manufacturer}/{serial}/{channel}`; the serial number is checked to be topic-safe."""
        check_identifier(serial, what="VDA 5050 serialNumber")
        return f"{self.interface_name}/{self.major_version}/{self.manufacturer}/{serial}/{channel}"


def vda_timestamp(at: datetime | None = None) -> str:
    """ISO 8601 UTC as VDA 5050 writes it: `YYYY-MM-DDTHH:mm:ss.ffZ`."""
    at = (at or datetime.now(UTC)).astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 10_000:02d}Z"


def parse_timestamp(text: str) -> datetime:
    """A VDA 5050 timestamp as an aware UTC datetime (ValueError when it is not one)."""
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if at.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no zone")
    try:
        return at.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"timestamp {text!r} is outside the calendar once converted to UTC") from None


class Headers:
    """The header of each message: `headerId` counts per topic, as VDA 5050 asks."""

    def __init__(self, manufacturer: str, serial: str) -> None:
        self.manufacturer = manufacturer
        self.serial = serial
        self._counters: defaultdict[str, Iterator[int]] = defaultdict(lambda: itertools.count(0))

    def __call__(self, channel: Channel, at: datetime | None = None) -> dict[str, object]:
        return {
            "headerId": next(self._counters[channel]),
            "timestamp": vda_timestamp(at),
            "version": VDA_VERSION,
            "manufacturer": self.manufacturer,
            "serialNumber": self.serial,
        }
