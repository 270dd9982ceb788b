"""A site file: which devices an edge serves, where they are, and which profile each one follows."""

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from contract.ids import Identifier
from device_profiles.modbus_endpoint import ModbusEndpoint, link_problems
from device_profiles.profile import COLLECT_PROBLEMS
from device_profiles.vda5050 import VdaVersion


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MqttEndpoint(_Strict):
    """A device that speaks MQTT: which broker (None: the edge's own) and the id it uses in its topics."""

    url: str | None = Field(default=None, description="mqtt://host:port of the devices' broker; None: the edge's.")
    topic_id: Identifier = Field(description="The device's id in its vendor topics (serial number, cabinet key).")


class DeviceInstance(_Strict):
    """One device at an address, following a profile (EdgeX: a device); exactly one endpoint is given."""

    id: Identifier
    profile: Identifier = Field(description="Name of a profile in the profiles folder.")
    location: Identifier
    modbus: ModbusEndpoint | None = None
    mqtt: MqttEndpoint | None = None
    poll_interval_s: float = Field(default=0.5, gt=0, le=3600)
    timeout_s: float = Field(default=2.0, gt=0, le=300)
    vda_version: VdaVersion | None = Field(
        default=None, description="A VDA 5050 robot's protocol version, where it differs from its profile's."
    )

    @model_validator(mode="after")
    def _one_endpoint(self) -> "DeviceInstance":
        if (self.modbus is None) == (self.mqtt is None):
            raise ValueError("give exactly one endpoint: 'modbus' (host, port, unit) or 'mqtt' (url, topic_id)")
        return self


class Site(_Strict):
    site: Identifier
    edge: Identifier
    description: str = ""
    devices: list[DeviceInstance] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self, info: ValidationInfo) -> "Site":
        if info.context and info.context.get(COLLECT_PROBLEMS):
            return self
        if problems := self.problems():
            raise ValueError("; ".join(f"{field}: {reason}" for field, reason in problems))
        return self

    def problems(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        ids: dict[str, int] = {}
        for i, device in enumerate(self.devices):
            if device.id in ids:
                out.append((f"devices[{i}].id", f"{device.id!r} is already the id of devices[{ids[device.id]}]"))
            ids.setdefault(device.id, i)
        # Devices on one link (a host and port, or a serial port) share it: one unit each, spoken the same way.
        return out + link_problems([(i, d.modbus) for i, d in enumerate(self.devices) if d.modbus is not None])
