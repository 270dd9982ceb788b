"""Modbus TCP with several requests on one connection at once, each answer matched to its request by transaction id.

pymodbus 3.16's client has one request at a time on a connection. Gateways that queue requests (an endpoint's
`max_in_flight` above 1) get this client instead: it keeps pymodbus's request and response classes
(`ModbusClientMixin` builds the requests) and its MBAP framer, and owns only the part pymodbus serialises:
sending and matching. An answer whose request has already given up (timed out) finds nobody waiting and is dropped,
so it can never be taken for the answer to a later request.
"""

import asyncio
import logging
from collections.abc import Awaitable

from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.framer import FramerSocket
from pymodbus.pdu import DecodePDU, ModbusPDU

log = logging.getLogger(__name__)

_MBAP = 7
"""Bytes of the MBAP header: transaction id, protocol id, length, unit id."""


class PipelinedTcpClient(ModbusClientMixin[Awaitable[ModbusPDU]]):
    """`await client.connect()`, then `await client.read_input_registers(..., device_id=n)` from several tasks."""

    def __init__(self, host: str, port: int, *, timeout: float) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # pymodbus leaves it unannotated
        self.host, self.port, self.timeout = host, port, timeout
        self._framer = FramerSocket(DecodePDU(False))
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._waiting: dict[int, tuple[int, asyncio.Future[ModbusPDU]]] = {}
        self._last_tid = 0

    @property
    def connected(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    async def connect(self) -> bool:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                transport, _ = await loop.create_connection(lambda: _Stream(self), self.host, self.port)
        except (OSError, TimeoutError) as exc:
            log.debug("connecting to %s:%d failed: %s", self.host, self.port, exc)
            return False
        assert isinstance(transport, asyncio.Transport)
        self._transport, self._buffer = transport, b""
        return True

    def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        self._fail_all(ConnectionException(f"connection to {self.host}:{self.port} closed"))

    def execute(self, no_response_expected: bool, request: ModbusPDU) -> Awaitable[ModbusPDU]:
        return self._execute(request)

    async def _execute(self, request: ModbusPDU) -> ModbusPDU:
        transport = self._transport
        if transport is None or transport.is_closing():
            raise ConnectionException(f"not connected to {self.host}:{self.port}")
        request.transaction_id = tid = self._next_tid()
        future: asyncio.Future[ModbusPDU] = asyncio.get_running_loop().create_future()
        self._waiting[tid] = (request.dev_id, future)
        try:
            transport.write(self._framer.buildFrame(request))
            return await future
        finally:
            self._waiting.pop(tid, None)  # answered, failed or given up: a late answer finds nobody

    def _next_tid(self) -> int:
        """1..65535 in turn, skipping ids still waiting for their answer."""
        while True:
            self._last_tid = self._last_tid % 0xFFFF + 1
            if self._last_tid not in self._waiting:
                return self._last_tid

    def _received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= _MBAP:
            if self._buffer[2:4] != b"\x00\x00":  # not Modbus: the stream cannot be trusted from here on
                self._lost(ModbusIOException(f"{self.host}:{self.port} sent a frame with a protocol id other than 0"))
                return
            used, pdu = self._framer.handleFrame(self._buffer, 0, 0)
            self._buffer = self._buffer[used:]
            if pdu is None:
                return  # the rest of the frame is still on its way
            tid = pdu.transaction_id
            dev_id, future = self._waiting.get(tid, (0, None))
            if future is None or future.done():
                log.debug("%s:%d: answer to transaction %d came after it gave up", self.host, self.port, tid)
            elif pdu.dev_id != dev_id:
                future.set_exception(ModbusIOException(f"asked unit {dev_id}, unit {pdu.dev_id} answered"))
            else:
                future.set_result(pdu)

    def _lost(self, exc: Exception, transport: asyncio.BaseTransport | None = None) -> None:
        """The stream broke (or, from `_received`, cannot be trusted): every waiting request fails at once."""
        if transport is not None and transport is not self._transport:
            return  # an earlier connection's end, reported late
        current, self._transport = self._transport, None
        if current is not None:
            current.close()
        self._fail_all(exc)

    def _fail_all(self, exc: Exception) -> None:
        for _, future in self._waiting.values():
            if not future.done():
                future.set_exception(exc)


class _Stream(asyncio.Protocol):
    """The asyncio side of one connection: bytes in go to the client, and so does the end of the connection."""

    def __init__(self, client: PipelinedTcpClient) -> None:
        self.client = client
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.client._received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        client = self.client
        client._lost(ConnectionException(f"connection to {client.host}:{client.port} lost: {exc}"), self.transport)
