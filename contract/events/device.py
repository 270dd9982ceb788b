"""Device health: reachability, operating status and faults, for every family."""

from typing import ClassVar, Literal, get_args

from pydantic import Field

from contract.base import Envelope, NoData, Strict, SubjectKind
from contract.ids import Identifier

Severity = Literal["info", "warning", "critical"]


class DeviceOfflineData(Strict):
    reason: str = Field(max_length=200)


class DeviceStatusChangedData(Strict):
    status: str = Field(max_length=40, description="The device's own status word, as its profile maps it.")
    previous: str | None = Field(default=None, max_length=40)
    component: Identifier | None = Field(
        default=None, description="A part of the device (a tube station, a zone); null for the device itself."
    )


class DeviceFaultRaisedData(Strict):
    code: Identifier = Field(description="Stable fault code, e.g. jam, zone_blocked, path_blocked, battery_low.")
    severity: Severity = "warning"
    description: str = Field(default="", max_length=200)
    component: Identifier | None = None


class DeviceFaultClearedData(Strict):
    code: Identifier
    component: Identifier | None = None


class DeviceOnline(Envelope):
    """The edge reached the device (first contact or recovery)."""

    subject_kind: ClassVar[SubjectKind] = "device"
    type: Literal["device.online"] = "device.online"
    data: NoData = NoData()


class DeviceOffline(Envelope):
    """The edge lost the device; `reason` says how."""

    subject_kind: ClassVar[SubjectKind] = "device"
    type: Literal["device.offline"] = "device.offline"
    data: DeviceOfflineData


class DeviceStatusChanged(Envelope):
    """The device (or one of its components) changed its operating status."""

    subject_kind: ClassVar[SubjectKind] = "device"
    type: Literal["device.status_changed"] = "device.status_changed"
    data: DeviceStatusChangedData


class DeviceFaultRaised(Envelope):
    """The device reported a fault (a jam, a blocked zone, a blocked path, a low battery)."""

    subject_kind: ClassVar[SubjectKind] = "device"
    type: Literal["device.fault_raised"] = "device.fault_raised"
    data: DeviceFaultRaisedData


class DeviceFaultCleared(Envelope):
    """A fault the device reported is gone."""

    subject_kind: ClassVar[SubjectKind] = "device"
    type: Literal["device.fault_cleared"] = "device.fault_cleared"
    data: DeviceFaultClearedData


DeviceEvent = DeviceOnline | DeviceOffline | DeviceStatusChanged | DeviceFaultRaised | DeviceFaultCleared
"""Every device event type; `contract.envelope.Event` picks one by `type`."""
DEVICE_EVENTS: tuple[type[Envelope], ...] = get_args(DeviceEvent)
