"""The chaos suite's TCP fault proxy, over real sockets: an echo server, a recording server and the sorter
simulator behind it, each toxic added and removed while connections are open."""

import asyncio
import struct
import time
from collections.abc import AsyncIterator

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException as PymodbusException

from device_profiles import load_profiles
from simulators.sorter.device import SorterSimulator
from tests.chaos.proxy import FaultProxy, Link
from tests.chaos.toxics import (
    Bandwidth,
    Latency,
    MbapFramer,
    ModbusException,
    ModbusLateWrongTid,
    ResetPeer,
    Slicer,
    Timeout,
)


class Recorder:
    """A TCP server that echoes what it gets and remembers the size of every read."""

    def __init__(self) -> None:
        self.reads: list[int] = []
        self.received = bytearray()
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                self.reads.append(len(data))
                self.received += data
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])


@pytest.fixture
async def echo() -> AsyncIterator[tuple[Recorder, Link]]:
    recorder = Recorder()
    port = await recorder.start()
    proxy = FaultProxy(seed=1)
    link = await proxy.add_link("test", ("127.0.0.1", port))
    yield recorder, link
    await proxy.stop()
    assert recorder.server is not None
    recorder.server.close()


async def _connect(link: Link) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", link.port)


async def _round_trip(link: Link, payload: bytes) -> bytes:
    reader, writer = await _connect(link)
    writer.write(payload)
    await writer.drain()
    echoed = await asyncio.wait_for(reader.readexactly(len(payload)), 10)
    writer.close()
    return echoed


async def _closed(reader: asyncio.StreamReader) -> bool:
    """The peer closed the connection: FIN (end of stream) or, with bytes still unread on its side, RST."""
    try:
        return await asyncio.wait_for(reader.read(10), 5) == b""
    except ConnectionResetError:
        return True


async def test_without_toxics_bytes_pass_both_ways_unchanged(echo: tuple[Recorder, Link]) -> None:
    recorder, link = echo
    payload = bytes(range(256)) * 40
    assert await _round_trip(link, payload) == payload
    assert bytes(recorder.received) == payload
    assert link.stats.bytes_upstream == link.stats.bytes_downstream == len(payload)


async def test_latency_holds_every_chunk_and_changes_no_byte(echo: tuple[Recorder, Link]) -> None:
    _, link = echo
    link.add(Latency(latency_ms=150, jitter_ms=10))
    started = time.monotonic()
    assert await _round_trip(link, b"ping") == b"ping"
    assert time.monotonic() - started >= 2 * 0.14  # held on the way there and on the way back


async def test_bandwidth_limits_the_rate_and_changes_no_byte(echo: tuple[Recorder, Link]) -> None:
    _, link = echo
    link.add(Bandwidth(rate_kb_s=20, stream="upstream"))
    payload = b"x" * 4000
    started = time.monotonic()
    assert await _round_trip(link, payload) == payload
    assert time.monotonic() - started >= 4000 / 20_000 * 0.9


async def test_slicer_delivers_the_stream_in_small_pieces(echo: tuple[Recorder, Link]) -> None:
    recorder, link = echo
    link.add(Slicer(average_size=4, size_variation=1, delay_ms=2, stream="upstream"))
    payload = bytes(range(200))
    assert await _round_trip(link, payload) == payload
    assert bytes(recorder.received) == payload
    assert len(recorder.reads) > 20
    assert max(recorder.reads) <= 5 * 4  # the server may read a few pieces at once, never the whole stream


async def test_timeout_swallows_bytes_keeps_the_socket_and_closes_it_on_healing(echo: tuple[Recorder, Link]) -> None:
    recorder, link = echo
    reader, writer = await _connect(link)
    writer.write(b"before")
    await writer.drain()
    assert await asyncio.wait_for(reader.readexactly(6), 5) == b"before"

    link.add(Timeout())
    writer.write(b"lost")
    await writer.drain()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(10), 0.3)
    assert not reader.at_eof()  # a cut cable: no FIN, no RST, just silence
    cut_reader, cut_writer = await _connect(link)  # new connections are accepted but reach nobody
    cut_writer.write(b"nobody hears this")
    await cut_writer.drain()

    link.remove("timeout")
    assert await _closed(reader)  # a stream with a hole in it is closed
    assert await _closed(cut_reader)
    assert bytes(recorder.received) == b"before"
    assert link.stats.dropped_bytes >= len(b"lost")
    assert await _round_trip(link, b"after") == b"after"


async def test_reset_peer_resets_open_and_new_connections_until_removed(echo: tuple[Recorder, Link]) -> None:
    _, link = echo
    reader, writer = await _connect(link)
    writer.write(b"hello")
    await writer.drain()
    assert await asyncio.wait_for(reader.readexactly(5), 5) == b"hello"

    link.add(ResetPeer())
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(10), 5)
    new_reader, _ = await _connect(link)
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(new_reader.read(10), 5)
    assert link.stats.resets == 2

    link.remove("reset_peer")
    assert await _round_trip(link, b"back") == b"back"


async def test_an_upstream_that_is_down_closes_the_client_connection() -> None:
    recorder = Recorder()
    port = await recorder.start()
    assert recorder.server is not None
    recorder.server.close()
    await recorder.server.wait_closed()
    proxy = FaultProxy()
    link = await proxy.add_link("dead", ("127.0.0.1", port))
    reader, _ = await _connect(link)
    assert await asyncio.wait_for(reader.read(10), 5) == b""
    await proxy.stop()


# -- Modbus TCP ------------------------------------------------------------------------------------------------
def test_the_framer_reassembles_frames_however_the_bytes_arrive() -> None:
    frame_a = struct.pack(">HHHBB", 1, 0, 6, 1, 4) + struct.pack(">HH", 100, 10)
    frame_b = struct.pack(">HHHBB", 2, 0, 6, 1, 3) + struct.pack(">HH", 0, 2)
    stream = frame_a + frame_b
    framer = MbapFramer()
    frames = []
    for i in range(0, len(stream), 5):
        frames += framer.feed(stream[i : i + 5])
    assert frames == [frame_a, frame_b]


@pytest.fixture
async def sorter_link() -> AsyncIterator[tuple[SorterSimulator, Link]]:
    async with SorterSimulator(load_profiles()["acme-sorter-s100"]) as sim:
        proxy = FaultProxy()
        link = await proxy.add_link("device", ("127.0.0.1", sim.port), modbus=True)
        yield sim, link
        await proxy.stop()


async def _client(link: Link) -> AsyncModbusTcpClient:
    client = AsyncModbusTcpClient("127.0.0.1", port=link.port, timeout=0.5, retries=0, reconnect_delay=0)
    assert await client.connect()
    return client


async def test_a_modbus_link_passes_requests_and_answers(sorter_link: tuple[SorterSimulator, Link]) -> None:
    _, link = sorter_link
    client = await _client(link)
    response = await client.read_input_registers(0, count=4, device_id=1)
    assert not response.isError()
    assert len(response.registers) == 4
    client.close()


async def test_the_exception_toxic_answers_instead_of_the_device(sorter_link: tuple[SorterSimulator, Link]) -> None:
    _, link = sorter_link
    client = await _client(link)
    link.add(ModbusException(code=6))
    response = await client.read_input_registers(0, count=4, device_id=1)
    assert response.isError()
    assert response.exception_code == 6
    assert link.stats.modbus_answers == 1
    link.remove("modbus_exception")
    assert not (await client.read_input_registers(0, count=4, device_id=1)).isError()
    client.close()


async def test_the_late_wrong_tid_toxic_leaves_the_client_without_its_answer(
    sorter_link: tuple[SorterSimulator, Link],
) -> None:
    _, link = sorter_link
    client = await _client(link)
    link.add(ModbusLateWrongTid(delay_s=0.2))
    with pytest.raises(PymodbusException):
        await client.read_input_registers(0, count=4, device_id=1)
    assert link.stats.modbus_answers >= 1
    client.close()
