"""The MLLP listener: TCP (or TLS), one task per connection, each connection's messages answered in order.

python-hl7's asyncio streams frame the blocks (`<VT> message <FS><CR>`). A block that does not begin with `<VT>`,
or is larger than `MAX_MESSAGE_BYTES`, is answered with an AR and the connection goes on; so are bytes that are
not HL7 inside a good block (`gateway.clinical.hl7.inbound`).
"""

import asyncio
import contextlib
import logging
import ssl
from pathlib import Path

import hl7
from hl7.mllp import HL7StreamReader, HL7StreamWriter, InvalidBlockError, start_hl7_server

from gateway.clinical.hl7.acks import ack_unparsed
from gateway.clinical.hl7.inbound import Hl7Inbound
from gateway.clinical.hl7.problems import APPLICATION_INTERNAL_ERROR, rejected

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 1024 * 1024
"""A block larger than this is refused (AR) and skipped; laboratory orders and results are a few kilobytes."""


class Hl7ListenError(RuntimeError):
    """The listener could not start; the message says what to check."""


def server_tls(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """A TLS server context (TLS 1.2 at least); with `client_ca`, clients must present a certificate it signed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
        if client_ca is not None:
            context.load_verify_locations(cafile=client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise Hl7ListenError(f"cannot use the HL7 TLS files ({cert}, {key}, {client_ca}): {exc}") from None
    return context


class Hl7Listener:
    """`async with Hl7Listener(inbound, host, port) as listener:` serves until the block ends; `url` says where."""

    def __init__(self, inbound: Hl7Inbound, host: str, port: int, *, tls: ssl.SSLContext | None = None) -> None:
        self.inbound = inbound
        """What handles each message (and counts them)."""
        self._host = host
        self._port = port
        self._tls = tls
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """`mllp://HOST:PORT` with the port bound (port 0 asks for a free one)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the HL7 listener is not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"mllp://{f'[{host}]' if ':' in host else host}:{port}"

    async def start(self) -> None:
        try:
            self._server = await start_hl7_server(
                self._serve, self._host, self._port, ssl=self._tls, limit=MAX_MESSAGE_BYTES
            )
        except OSError as exc:
            raise Hl7ListenError(
                f"cannot listen for HL7 on {self._host}:{self._port} ({exc.strerror}); "
                "set WARDLINK_HL7_PORT to a free port, or 0"
            ) from None
        log.info("HL7 v2 listener on %s%s", self.url, " (TLS)" if self._tls is not None else "")

    async def stop(self) -> None:
        """Stop accepting, end open connections (a message being handled is finished or not acknowledged)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> "Hl7Listener":
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _answer(self, block: bytes) -> hl7.Message:
        try:
            return await self.inbound.handle(block)
        except Exception:  # the inbound answers every failure it knows of; a bug still gets a reply
            log.exception("HL7 listener: could not handle a message of %d bytes", len(block))
            return ack_unparsed(rejected(APPLICATION_INTERNAL_ERROR, "internal error: send the message again"))

    async def _serve(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        peer = writer.get_extra_info("peername")
        try:
            while True:
                try:
                    block = await reader.readblock()
                except asyncio.IncompleteReadError as exc:
                    if exc.partial.strip():
                        log.warning("HL7 connection from %s closed in the middle of a message", peer)
                    return
                except InvalidBlockError:
                    reply = ack_unparsed(rejected("100", "an MLLP block must begin with <VT> (0x0B)"))
                except ValueError:
                    reply = ack_unparsed(rejected("100", f"message larger than {MAX_MESSAGE_BYTES} bytes"))
                else:
                    reply = await self._answer(bytes(block))
                writer.writeblock(str(reply).encode("utf-8"))
                await writer.drain()
        except (ConnectionError, ssl.SSLError) as exc:
            log.info("HL7 connection from %s ended: %s", peer, type(exc).__name__)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
