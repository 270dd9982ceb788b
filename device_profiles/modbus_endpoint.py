"""Where a Modbus device is reached: a TCP host (Modbus TCP or RTU over TCP) or a serial line (RTU), and its unit.

Devices whose endpoints name the same link (one host and port, or one serial port) share it: the edge opens one
connection for all of them and puts their requests in line. `link_problems` checks that such devices agree on how
the link is spoken and that no two of them have the same unit.
"""

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Framing = Literal["tcp", "rtu-over-tcp"]
Parity = Literal["none", "even", "odd"]

RTU_UNITS = range(1, 248)
"""Unit ids a device on an RTU line can have: 0 is broadcast (nobody answers), 248-255 are reserved."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SerialLine(_Strict):
    """An RS-485 / RS-232 line the edge drives itself with Modbus RTU; the defaults are the Modbus spec's 19200 8E1."""

    port: str = Field(min_length=1, description="Device path (/dev/ttyUSB0, /dev/serial/by-id/...) or a pyserial URL.")
    baudrate: int = Field(default=19200, ge=300, le=921600, description="Bits per second, as set on every device.")
    parity: Parity = "even"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[8] = Field(default=8, description="Data bits; Modbus RTU always uses 8.")

    @property
    def settings(self) -> str:
        """`19200 8E1`: how installers write a line's character format."""
        return f"{self.baudrate} {self.bytesize}{self.parity[0].upper()}{self.stopbits}"


class ModbusEndpoint(_Strict):
    """Exactly one of `host` (with `port` and `framing`) or `serial`; `unit` is the device's id on that link."""

    host: str | None = Field(default=None, min_length=1, description="TCP device or gateway (IP or DNS name).")
    port: int = Field(default=502, ge=1, le=65535)
    framing: Framing = Field(default="tcp", description="tcp (MBAP) or rtu-over-tcp (RTU frames in a TCP stream).")
    serial: SerialLine | None = None
    unit: int = Field(default=1, ge=0, le=255, description="Modbus unit (device) id.")
    max_in_flight: int = Field(
        default=1, ge=1, le=16, description="Requests on the link at once; most gateways take one at a time."
    )

    @model_validator(mode="after")
    def _one_link(self) -> "ModbusEndpoint":
        if (self.host is None) == (self.serial is None):
            raise ValueError(
                "give either 'host' (Modbus TCP or RTU over TCP: host, port, framing) "
                "or 'serial' (an RTU line: port, baudrate, parity, stopbits, bytesize)"
            )
        if self.serial is not None and {"port", "framing"} & self.model_fields_set:
            raise ValueError(
                "'port' and 'framing' belong to a host endpoint: a serial line's device path is serial.port, "
                "and a serial line always speaks RTU"
            )
        if self.rtu and self.unit not in RTU_UNITS:
            raise ValueError(f"unit {self.unit}: devices on an RTU line have units 1-247 (0 is broadcast)")
        if self.rtu and self.max_in_flight != 1:
            raise ValueError("max_in_flight: RTU frames carry no transaction id, so only 1 request can be on the line")
        return self

    @property
    def rtu(self) -> bool:
        """True when frames are RTU (a serial line, or RTU over TCP)."""
        return self.serial is not None or self.framing == "rtu-over-tcp"

    @property
    def link(self) -> str:
        """What the device shares with others at the same place: `tcp://host:port`, `serial:/dev/ttyUSB0`."""
        if self.serial is not None:
            return f"serial:{self.serial.port}"
        return f"tcp://{self.host}:{self.port}"

    @property
    def source(self) -> str:
        """The device as a URL, for dead letters: `modbus://host:port/unit`, `modbus+rtu://...`, `modbus+serial:...`."""
        if self.serial is not None:
            return f"modbus+serial:{self.serial.port}/{self.unit}"
        scheme = "modbus+rtu" if self.framing == "rtu-over-tcp" else "modbus"
        return f"{scheme}://{self.host}:{self.port}/{self.unit}"

    @property
    def speaks(self) -> str:
        """How the link is spoken, which every device on it must agree on."""
        if self.serial is not None:
            return f"RTU at {self.serial.settings}"
        return f"{self.framing} framing, max_in_flight {self.max_in_flight}"


def link_problems(endpoints: Sequence[tuple[int, ModbusEndpoint]]) -> list[tuple[str, str]]:
    """(field, reason) for devices (by index in the site) that share a link but disagree on it or share a unit."""
    out: list[tuple[str, str]] = []
    first: dict[str, tuple[int, ModbusEndpoint]] = {}
    units: dict[tuple[str, int], int] = {}
    for i, endpoint in endpoints:
        field = f"devices[{i}].modbus"
        j, other = first.setdefault(endpoint.link, (i, endpoint))
        if endpoint.speaks != other.speaks:
            out.append(
                (
                    field,
                    f"shares {endpoint.link} with devices[{j}], which speaks it with {other.speaks}, "
                    f"not {endpoint.speaks}: devices on one link must agree",
                )
            )
        key = (endpoint.link, endpoint.unit)
        if key in units:
            where = "host, port" if endpoint.serial is None else "serial port"
            out.append((f"{field}.unit", f"same {where} and unit as devices[{units[key]}]"))
        units.setdefault(key, i)
    return out
