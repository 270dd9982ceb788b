"""Robots that speak VDA 5050 (2.0 or 2.1) over MQTT: the device model (profile), its topics and message headers.

The robot's instance in a site file gives `mqtt.topic_id` = the robot's VDA `serialNumber`, `mqtt.url`
(None: the edge's broker) and, optionally, `vda_version` (overrides the profile's). The profile's
`manufacturer` is the VDA topic level, so it must be topic-safe. How a delivery is handed over at its
destination is the profile's `handover`: a custom action of the maker's, a standard one, or none.
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

VdaVersion = Literal["2.0.0", "2.1.0"]
"""The VDA 5050 versions master control speaks; messages are shaped and validated per version."""
VDA_VERSIONS: tuple[VdaVersion, ...] = ("2.0.0", "2.1.0")
VDA_VERSION: VdaVersion = "2.1.0"

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


class NodeAction(_Strict):
    """A node action of an order: its type and the fixed parameters this model needs with it."""

    action: Identifier = Field(description="VDA 5050 actionType, e.g. pick, drop, waitForTrigger, handOverLoad.")
    parameters: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="actionParameters sent with it (key: value), e.g. stationType: floor."
    )


HandoverAction = Literal["handOverLoad", "drop", "waitForTrigger", "none"]


class Handover(_Strict):
    """What completes a delivery at its destination node.

    - `handOverLoad` (the default): the maker's custom action; the drawer stays locked until a PIN or badge
      releases it, and master control sends the drawer, load id and PIN with it.
    - `drop` or `waitForTrigger`: the standard VDA 5050 action, with `loadId` (drop) and `parameters`; the
      delivery is handed over when the robot reports it FINISHED (a trigger at the robot: a button, a badge).
    - `none`: no action; arrival and then the robot's `drawerReleased` information for the order (a badge
      or PIN at the robot) is the hand-over.
    """

    action: HandoverAction = "handOverLoad"
    parameters: dict[str, str | int | float | bool] = Field(default_factory=dict)


class Vda5050Profile(ProfileBase):
    """A VDA 5050 robot model: topic naming, drawers, battery, speed and the map it drives on."""

    endpoint: ClassVar[Literal["modbus", "mqtt"]] = "mqtt"

    protocol: Literal["vda5050"] = "vda5050"
    interface_name: Identifier = Field(default="uagv", description="First topic level (VDA interfaceName).")
    major_version: str = Field(default="v2", pattern=r"^v[0-9]+$")
    vda_version: VdaVersion = Field(
        default=VDA_VERSION, description="VDA 5050 version the model speaks; a site file may override it."
    )
    handover: Handover = Field(default_factory=Handover, description="What completes a delivery at its destination.")
    pickup: NodeAction | None = Field(
        default=None, description="A node action on the start node (the load is put on board there), e.g. pick."
    )
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
    lost_after_s: float = Field(
        default=300,
        gt=0,
        description="How long a delivery waits for a robot that lost its connection mid-route before it is failed.",
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
        if f"v{self.vda_version.split('.')[0]}" != self.major_version:
            out.append(("vda_version", f"{self.vda_version} does not belong to topic version {self.major_version}"))
        if self.handover.action in (HANDOVER_ACTION, "none") and self.handover.parameters:
            out.append(("handover.parameters", f"only a standard action takes parameters, not {self.handover.action}"))
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

    def __init__(self, manufacturer: str, serial: str, version: VdaVersion = VDA_VERSION) -> None:
        self.manufacturer = manufacturer
        self.serial = serial
        self.version = version
        self._counters: defaultdict[str, Iterator[int]] = defaultdict(lambda: itertools.count(0))

    def __call__(self, channel: Channel, at: datetime | None = None) -> dict[str, object]:
        return {
            "headerId": next(self._counters[channel]),
            "timestamp": vda_timestamp(at),
            "version": self.version,
            "manufacturer": self.manufacturer,
            "serialNumber": self.serial,
        }
