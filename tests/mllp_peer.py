"""A real MLLP receiver for tests (python-hl7's `start_hl7_server` on a loopback port): it keeps what arrives and
answers each message as the test's `answer` says (an ACK code, or None to stay silent)."""

import asyncio
import socket
from collections.abc import Callable
from types import TracebackType

import hl7
from hl7.mllp import HL7StreamReader, HL7StreamWriter, start_hl7_server

Answer = Callable[[hl7.Message, int], str | tuple[str, str] | None]
"""(message, how many times its control id arrived so far) -> MSA-1 to answer (with an ERR-8 reason if a pair), or
None for no answer."""


def always(code: str) -> Answer:
    return lambda _message, _times: code


ACCEPT = always("AA")


def control_id(message: hl7.Message) -> str:
    return str(message["MSH.10"])


class MllpPeer:
    """Receives HL7 over MLLP on 127.0.0.1 (port 0 picks a free one)."""

    def __init__(self, answer: Answer = ACCEPT, port: int = 0) -> None:
        self.answer = answer
        self.port = port
        self.received: list[hl7.Message] = []
        """Every message that arrived, resends included, in arrival order."""
        self.arrived = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self._writers: set[HL7StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"mllp://127.0.0.1:{self.port}"

    def times(self, message_id: str) -> int:
        return sum(1 for m in self.received if control_id(m) == message_id)

    def unique(self) -> list[hl7.Message]:
        """Messages that arrived, each control id once, in first-arrival order."""
        seen: dict[str, hl7.Message] = {}
        for message in self.received:
            seen.setdefault(control_id(message), message)
        return list(seen.values())

    async def wait_for(self, count: int, timeout_s: float = 30) -> None:
        """Until `count` messages (resends included) arrived."""
        async with asyncio.timeout(timeout_s), self.arrived:
            await self.arrived.wait_for(lambda: len(self.received) >= count)

    async def start(self) -> None:
        self._server = await start_hl7_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every connection (as a receiver that goes down)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.close()
        await server.wait_closed()

    async def __aenter__(self) -> "MllpPeer":
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _serve(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                message = await reader.readmessage()
                async with self.arrived:
                    self.received.append(message)
                    self.arrived.notify_all()
                answer = self.answer(message, self.times(control_id(message)))
                if answer is not None:
                    writer.writemessage(acknowledgement(message, answer))
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


def acknowledgement(message: hl7.Message, answer: str | tuple[str, str]) -> hl7.Message:
    """python-hl7's ACK for `message`, with an ERR segment carrying the reason when one is given."""
    code, reason = (answer, None) if isinstance(answer, str) else answer
    ack = message.create_ack(code, application="TEST-RECEIVER", facility="TEST")
    if reason is None:
        return ack
    err = "ERR|||207^Application internal error^HL70357|E||||" + str(ack.escape(reason))
    return hl7.parse(str(ack) + err)


def free_port() -> int:
    """A loopback port nobody listens on right now (for a receiver that comes up later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
