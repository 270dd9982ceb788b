"""One MLLP connection to the LIS: send a message, wait for the answer that names it. python-hl7 frames and parses.

The link connects when first needed and is closed after any failure (a dropped connection, no answer in time, a
frame that cannot be read), so the next attempt starts on a fresh connection: an answer that arrives late on the
old one can never be taken for the answer to another message. Answers naming another control id are skipped.
Both ways are UTF-8 (MSH-18 `UNICODE UTF-8`); a byte that is not UTF-8 in an answer is replaced, never an error,
so an answer with an odd character still settles its message.
"""

import asyncio
import contextlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import hl7
from hl7.mllp import HL7StreamReader, HL7StreamWriter, InvalidBlockError, open_hl7_connection

from gateway.clinical.hl7_outbound.answers import Answer, read_answer

LINK_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    TimeoutError,
    ValueError,
    InvalidBlockError,
    hl7.HL7Exception,
)
"""What a failed exchange raises: refused or dropped connection, no answer in time, an answer that cannot be read."""
ENCODING = "utf-8"


def describe(exc: BaseException) -> str:
    """What to log of a failed exchange: a connection error's text names only addresses; a parse error's could
    quote the answer, so only its kind is told."""
    if isinstance(exc, OSError | TimeoutError | EOFError) and str(exc):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


@dataclass(frozen=True)
class MllpAddress:
    """Where the LIS listens: `mllp://host:port`."""

    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> "MllpAddress":
        parts = urlsplit(url)
        if parts.scheme != "mllp" or not parts.hostname or parts.port is None:
            raise ValueError(f"an MLLP address looks like mllp://host:port, not {url!r}")
        return cls(parts.hostname, parts.port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"mllp://{host}:{self.port}"


class MllpLink:
    """A connection to `address`, opened on demand; `exchange` sends one message and returns its answer."""

    def __init__(self, address: MllpAddress, *, answer_timeout_s: float, connect_timeout_s: float = 10.0) -> None:
        self.address = address
        self.answer_timeout_s = answer_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._reader: HL7StreamReader | None = None
        self._writer: HL7StreamWriter | None = None

    async def exchange(self, message: str, control_id: str) -> Answer:
        """Send `message` (HL7 text whose MSH-10 is `control_id`) and wait for its answer; raises one of
        `LINK_ERRORS` on failure, after closing the connection."""
        try:
            reader, writer = await self._open()
            writer.writemessage(hl7.parse(message))
            await writer.drain()
            async with asyncio.timeout(self.answer_timeout_s):
                while True:
                    try:
                        named, answer = read_answer(await reader.readmessage())
                    except (KeyError, IndexError):
                        continue  # not an acknowledgement: nothing to match
                    if named == control_id:
                        return answer
        except LINK_ERRORS:
            await self.close()
            raise

    async def _open(self) -> tuple[HL7StreamReader, HL7StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            async with asyncio.timeout(self.connect_timeout_s):
                self._reader, self._writer = await open_hl7_connection(
                    self.address.host, self.address.port, encoding=ENCODING, encoding_errors="replace"
                )
        return self._reader, self._writer

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
