"""Device drivers by profile protocol. Each takes a `DeviceContext` and runs until cancelled."""

from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from edge.device_context import DeviceContext
from edge.drivers.modbus import ModbusDevice
from edge.drivers.modbus_link import ModbusLinks
from edge.drivers.mqtt_json import MqttJsonDevice
from edge.drivers.vda5050 import Vda5050Device


class Driver(Protocol):
    ctx: DeviceContext

    def run(self) -> Coroutine[Any, Any, None]: ...


DRIVERS: dict[str, Callable[[DeviceContext, ModbusLinks], Driver]] = {
    # Modbus devices at one place (a gateway, a serial line) share its link; the other drivers own theirs.
    "modbus-tcp": lambda ctx, links: ModbusDevice(ctx, links.unit_for(ctx.device)),
    "mqtt-json": lambda ctx, _links: MqttJsonDevice(ctx),
    "vda5050": lambda ctx, _links: Vda5050Device(ctx),
}


def driver_for(ctx: DeviceContext, modbus_links: ModbusLinks) -> Driver:
    protocol = ctx.profile.protocol
    if protocol not in DRIVERS:
        raise ValueError(f"no edge driver for protocol {protocol!r} (known: {', '.join(sorted(DRIVERS))})")
    return DRIVERS[protocol](ctx, modbus_links)
