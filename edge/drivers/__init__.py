"""Device drivers by profile protocol. Each takes a `DeviceContext` and runs until cancelled."""

from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from edge.device_context import DeviceContext
from edge.drivers.modbus import ModbusDevice
from edge.drivers.mqtt_json import MqttJsonDevice
from edge.drivers.vda5050 import Vda5050Device


class Driver(Protocol):
    ctx: DeviceContext

    def run(self) -> Coroutine[Any, Any, None]: ...


DRIVERS: dict[str, Callable[[DeviceContext], Driver]] = {
    "modbus-tcp": ModbusDevice,
    "mqtt-json": MqttJsonDevice,
    "vda5050": Vda5050Device,
}


def driver_for(ctx: DeviceContext) -> Driver:
    protocol = ctx.profile.protocol
    if protocol not in DRIVERS:
        raise ValueError(f"no edge driver for protocol {protocol!r} (known: {', '.join(sorted(DRIVERS))})")
    return DRIVERS[protocol](ctx)
