"""What a fault-proxy link can do to the bytes it carries (toxiproxy's toxics, plus two that speak Modbus TCP).

A toxic applies to one direction: `upstream` is client to server (the edge's requests, a publisher's packets),
`downstream` is server to client (the device's answers, the broker's deliveries).
"""

import struct
from dataclasses import dataclass
from typing import Literal

Direction = Literal["upstream", "downstream", "both"]


@dataclass(frozen=True, slots=True)
class Latency:
    """Hold every chunk `latency_ms` (plus or minus up to `jitter_ms`) before passing it on."""

    latency_ms: float
    jitter_ms: float = 0.0
    stream: Direction = "both"
    name: str = "latency"


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """Pass at most `rate_kb_s` kilobytes per second."""

    rate_kb_s: float
    stream: Direction = "both"
    name: str = "bandwidth"


@dataclass(frozen=True, slots=True)
class Slicer:
    """Cut every chunk into pieces of about `average_size` bytes (+- `size_variation`), `delay_ms` apart."""

    average_size: int = 8
    size_variation: int = 4
    delay_ms: float = 1.0
    stream: Direction = "both"
    name: str = "slicer"


@dataclass(frozen=True, slots=True)
class Timeout:
    """A cut cable: nothing passes and nothing is refused; sockets stay open. New connections are accepted but
    never reach the server. When the toxic goes, every connection that lost bytes is closed (TCP never hands
    over a stream with a hole in it)."""

    stream: Direction = "both"
    name: str = "timeout"


@dataclass(frozen=True, slots=True)
class ResetPeer:
    """Every open connection is reset (RST) when the toxic is added; new ones are reset after `after_ms`."""

    after_ms: float = 0.0
    stream: Direction = "both"
    name: str = "reset_peer"


@dataclass(frozen=True, slots=True)
class ModbusLateWrongTid:
    """The device answers each request `delay_s` late and with a transaction id that is not the request's."""

    delay_s: float = 1.0
    stream: Direction = "downstream"
    name: str = "modbus_late_wrong_tid"


@dataclass(frozen=True, slots=True)
class ModbusException:
    """The device answers every request with Modbus exception `code` (4: server device failure, 6: busy)."""

    code: int = 6
    stream: Direction = "upstream"
    name: str = "modbus_exception"


Toxic = Latency | Bandwidth | Slicer | Timeout | ResetPeer | ModbusLateWrongTid | ModbusException

MBAP_HEADER = 7
"""Modbus TCP application header: transaction id, protocol id, length (unit + PDU), unit id."""


class MbapFramer:
    """Cuts a Modbus TCP byte stream into whole frames (header + PDU), however the bytes arrive."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= MBAP_HEADER:
            (length,) = struct.unpack_from(">H", self._buffer, 4)
            end = 6 + length
            if length < 2 or len(self._buffer) < end:
                if length < 2:  # not Modbus: pass the bytes on as they are and let the peer decide
                    frames.append(bytes(self._buffer))
                    self._buffer.clear()
                break
            frames.append(bytes(self._buffer[:end]))
            del self._buffer[:end]
        return frames


def with_wrong_tid(frame: bytes) -> bytes:
    """The same Modbus TCP frame under a transaction id that no outstanding request has."""
    (tid,) = struct.unpack_from(">H", frame, 0)
    return struct.pack(">H", (tid + 0x8000) & 0xFFFF) + frame[2:]


def exception_reply(request: bytes, code: int) -> bytes:
    """The exception response a device sends to `request`: function code with the high bit set, then `code`."""
    tid, protocol, _length, unit, function = struct.unpack_from(">HHHBB", request, 0)
    return struct.pack(">HHHBBB", tid, protocol, 3, unit, function | 0x80, code)
