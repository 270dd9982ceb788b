"""A real MLLP receiver for tests (python-hl7's `start_hl7_server` on a loopback port, UTF-8): it keeps what
arrives and answers each message as the test's `answer` says (an ACK code, a `Refusal`, or None to stay silent).

Its port is bound when the peer is made and kept until it stops, listening only between `start` and `stop`: a
client connecting before `start` is refused, as by a receiver that is down, and no other test can take the port
meanwhile (a port found free and let go could be, by any test binding port 0)."""

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import hl7
from hl7.mllp import HL7StreamReader, HL7StreamWriter, start_hl7_server


@dataclass(frozen=True)
class Refusal:
    """An AE or AR with its ERR segment: ERR-3 the HL7 table 0357 code (None: no ERR at all), ERR-2 the place
    (`("SAC", 1, 3)`), ERR-8 the text (and MSA-3, as receivers before v2.5 write it)."""

    code: str
    text: str | None = None
    error: str | None = "207"
    where: tuple[str, int, int] | None = None


Answer = Callable[[hl7.Message, int], str | tuple[str, str] | Refusal | None]
"""(message, how many times its control id arrived so far) -> MSA-1 to answer (a pair: with an ERR-8 text and ERR-3
207), a `Refusal`, or None for no answer."""


def always(code: str) -> Answer:
    return lambda _message, _times: code


ACCEPT = always("AA")


def control_id(message: hl7.Message) -> str:
    return str(message["MSH.10"])


class MllpPeer:
    """Receives HL7 over MLLP on 127.0.0.1, on a free port bound at once (`url` is known before `start`)."""

    def __init__(self, answer: Answer = ACCEPT) -> None:
        self.answer = answer
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
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
        self._server = await start_hl7_server(self._serve, sock=self._socket, encoding="utf-8")

    def drop_connections(self) -> None:
        """Close every open connection (the link drops); new ones are still accepted."""
        for writer in list(self._writers):
            writer.close()

    async def stop(self) -> None:
        """Stop listening and drop every connection (as a receiver that goes down); the port is let go."""
        server, self._server = self._server, None
        if server is None:
            self._socket.close()
            return
        server.close()
        self.drop_connections()
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


def acknowledgement(message: hl7.Message, answer: str | tuple[str, str] | Refusal) -> hl7.Message:
    """python-hl7's ACK for `message`, with an ERR segment when the answer is a refusal with an error or text."""
    refusal = Refusal(*answer) if isinstance(answer, tuple) else answer
    code = refusal if isinstance(refusal, str) else refusal.code
    ack = message.create_ack(code, application="TEST-RECEIVER", facility="TEST")
    if isinstance(refusal, str) or (refusal.error is None and refusal.text is None):
        return ack
    where = "^".join(str(part) for part in refusal.where) if refusal.where else ""
    error = f"{refusal.error}^Error^HL70357" if refusal.error else ""
    text = "".join(_ESCAPES.get(c, c) for c in refusal.text or "")
    msh, msa = str(ack).rstrip("\r").split("\r")
    return hl7.parse(f"{msh}\r{msa}|{text}\rERR||{where}|{error}|E||||{text}")


_ESCAPES = {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\"}
"""HL7's escapes for the separators only: python-hl7's `escape` also writes non-ASCII as `\\X..\\`, and a
receiver's text here is sent as it is, in UTF-8."""
