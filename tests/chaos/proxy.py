"""A toxiproxy-style TCP fault proxy on loopback, in asyncio, controlled from Python.

`proxy = FaultProxy(); link = await proxy.add_link("edge-broker", ("127.0.0.1", 1883))` listens on
`link.port` and forwards every connection to the upstream address; `link.add(Latency(200))`,
`link.remove("latency")` and `link.heal()` change what happens to the bytes, at once, for open and new
connections alike. Modbus links (`modbus=True`) forward whole Modbus TCP frames, so the Modbus toxics can answer
late, with a wrong transaction id, or with an exception instead of the device.
"""

import asyncio
import contextlib
import logging
import random
import socket
import struct
from dataclasses import dataclass, field

from tests.chaos.toxics import (
    Bandwidth,
    Latency,
    MbapFramer,
    ModbusException,
    ModbusLateWrongTid,
    ResetPeer,
    Slicer,
    Timeout,
    Toxic,
    exception_reply,
    with_wrong_tid,
)

log = logging.getLogger(__name__)

_READ_SIZE = 65536


@dataclass
class LinkStats:
    connections: int = 0
    bytes_upstream: int = 0
    bytes_downstream: int = 0
    dropped_bytes: int = 0
    resets: int = 0
    modbus_answers: int = 0
    """Frames the proxy answered or rewrote instead of the device (Modbus toxics)."""


@dataclass(eq=False)
class _Connection:
    client_reader: asyncio.StreamReader
    client_writer: asyncio.StreamWriter
    server_writer: asyncio.StreamWriter | None = None
    lost_bytes: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closed: bool = False

    def writers(self) -> list[asyncio.StreamWriter]:
        return [w for w in (self.client_writer, self.server_writer) if w is not None]

    def close(self, *, reset: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        for writer in self.writers():
            if reset:
                sock = writer.get_extra_info("socket")
                with contextlib.suppress(OSError, AttributeError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
            else:
                writer.close()
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()


def _applies(toxic: Toxic, direction: str) -> bool:
    return toxic.stream in ("both", direction)


class Link:
    """One proxied TCP path: listens on `host:port`, forwards to `upstream`, with the toxics currently added."""

    def __init__(
        self, name: str, upstream: tuple[str, int], *, host: str = "127.0.0.1", modbus: bool = False, seed: int = 0
    ) -> None:
        self.name = name
        self.upstream = upstream
        self.host = host
        self.modbus = modbus
        self.port = 0
        self.stats = LinkStats()
        self._toxics: dict[str, Toxic] = {}
        self._connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self._rng = random.Random(seed)

    # -- control -------------------------------------------------------------------------------------------------
    @property
    def toxics(self) -> list[Toxic]:
        return list(self._toxics.values())

    def add(self, toxic: Toxic) -> None:
        """Add (or replace, by name) a toxic; it acts on open connections at once."""
        self._toxics[toxic.name] = toxic
        if isinstance(toxic, ResetPeer):
            for conn in list(self._connections):
                self._reset(conn)

    def remove(self, name: str) -> None:
        toxic = self._toxics.pop(name, None)
        if isinstance(toxic, Timeout):
            for conn in list(self._connections):
                if conn.lost_bytes or conn.server_writer is None:
                    conn.close()

    def heal(self) -> None:
        """Remove every toxic."""
        for name in list(self._toxics):
            self.remove(name)

    def _has(self, kind: type) -> Toxic | None:
        return next((t for t in self._toxics.values() if isinstance(t, kind)), None)

    # -- lifecycle -----------------------------------------------------------------------------------------------
    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()
            self._server = None

    # -- forwarding ----------------------------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(reader, writer)
        self.stats.connections += 1
        self._connections.add(conn)
        try:
            if reset := self._has(ResetPeer):
                await asyncio.sleep(reset.after_ms / 1000)  # type: ignore[union-attr]
                self._reset(conn)
                return
            if self._has(Timeout) is None:
                try:
                    server_reader, conn.server_writer = await asyncio.open_connection(*self.upstream)
                except OSError:
                    conn.close()  # the server is down: the client sees its connection closed
                    return
                conn.tasks.append(asyncio.current_task())  # type: ignore[arg-type]
                down = asyncio.create_task(self._pump(conn, server_reader, writer, "downstream"))
                conn.tasks.append(down)
                await asyncio.gather(self._pump(conn, reader, conn.server_writer, "upstream"), down)
            else:
                await self._swallow(conn)
        except asyncio.CancelledError:
            pass
        finally:
            conn.close()
            self._connections.discard(conn)

    def _reset(self, conn: _Connection) -> None:
        self.stats.resets += 1
        conn.close(reset=True)

    async def _swallow(self, conn: _Connection) -> None:
        """A connection made while the cable is cut: read and drop until the cut heals, which closes it."""
        conn.tasks.append(asyncio.current_task())  # type: ignore[arg-type]
        while data := await conn.client_reader.read(_READ_SIZE):
            self.stats.dropped_bytes += len(data)
            conn.lost_bytes = True

    async def _pump(
        self, conn: _Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str
    ) -> None:
        framer = MbapFramer() if self.modbus else None
        try:
            while data := await reader.read(_READ_SIZE):
                for unit in framer.feed(data) if framer else [data]:
                    await self._forward(conn, unit, writer, direction)
        except (OSError, ConnectionError):
            pass
        finally:
            conn.close()

    async def _forward(self, conn: _Connection, data: bytes, writer: asyncio.StreamWriter, direction: str) -> None:
        toxics = [t for t in self._toxics.values() if _applies(t, direction)]
        if any(isinstance(t, Timeout) for t in toxics):
            self.stats.dropped_bytes += len(data)
            conn.lost_bytes = True
            return
        for toxic in toxics:
            if isinstance(toxic, ModbusException) and self.modbus and direction == "upstream":
                self.stats.modbus_answers += 1
                conn.client_writer.write(exception_reply(data, toxic.code))
                await conn.client_writer.drain()
                return
            if isinstance(toxic, ModbusLateWrongTid) and self.modbus and direction == "downstream":
                self.stats.modbus_answers += 1
                await asyncio.sleep(toxic.delay_s)
                data = with_wrong_tid(data)
            elif isinstance(toxic, Latency):
                jitter = self._rng.uniform(-toxic.jitter_ms, toxic.jitter_ms)
                await asyncio.sleep(max(0.0, toxic.latency_ms + jitter) / 1000)
            elif isinstance(toxic, Bandwidth):
                await asyncio.sleep(len(data) / (toxic.rate_kb_s * 1000))
        if direction == "upstream":
            self.stats.bytes_upstream += len(data)
        else:
            self.stats.bytes_downstream += len(data)
        slicer = next((t for t in toxics if isinstance(t, Slicer)), None)
        if slicer is None:
            writer.write(data)
            await writer.drain()
            return
        offset = 0
        while offset < len(data):
            size = max(1, slicer.average_size + self._rng.randint(-slicer.size_variation, slicer.size_variation))
            writer.write(data[offset : offset + size])
            await writer.drain()
            offset += size
            await asyncio.sleep(slicer.delay_ms / 1000)


class FaultProxy:
    """The links of one chaos run, by name."""

    def __init__(self, seed: int = 0) -> None:
        self.links: dict[str, Link] = {}
        self._seed = seed

    async def add_link(self, name: str, upstream: tuple[str, int], *, modbus: bool = False, port: int = 0) -> Link:
        link = Link(name, upstream, modbus=modbus, seed=self._seed + len(self.links))
        await link.start(port)
        self.links[name] = link
        return link

    def heal(self) -> None:
        for link in self.links.values():
            link.heal()

    async def stop(self) -> None:
        for link in self.links.values():
            await link.stop()
