"""HL7 test messages and a real MLLP client: `message("oml_o21_collected")`, `await send(url, msg)`.

The messages under `messages/` are modelled on the published HL7 v2.5.1 (chapters 4, 7, 13) and IHE LAW examples,
with one made-up patient (`PATIENT_DATA`) whose every detail must stay out of the gateway.
"""

import contextlib
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import hl7
from hl7.mllp import HL7StreamReader, HL7StreamWriter, open_hl7_connection

MESSAGES = Path(__file__).with_name("messages")
PATIENT_DATA = ("Testpatient", "Fictitia", "19700101", "1 Nowhere Lane", "Nowhere", "Springfield", "PATID1234")
"""The made-up patient's name, birth date, address and record number: found nowhere, ever."""
Connection = tuple[HL7StreamReader, HL7StreamWriter]
FIXTURE_NOW = datetime(2026, 12, 6, 10, 20, tzinfo=UTC)
"""A moment after the fixtures' collection times and before their results: the gateway's clock in these tests."""


def message(name: str, **fields: str) -> hl7.Message:
    """A fixture message (its lines joined with CR, as HL7 has them), with `fields` set, e.g. `MSH_F10="X-2"`."""
    parsed = hl7.parse("\r".join((MESSAGES / f"{name}.hl7").read_text().splitlines()))
    for key, value in fields.items():
        parsed[key.replace("_", ".")] = value
    return hl7.parse(str(parsed))  # parsed again, so that a value set with `^` in it has its components


def text(name: str) -> str:
    return str(message(name))


@contextlib.asynccontextmanager
async def mllp(
    url: str, *, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[HL7StreamReader, HL7StreamWriter]]:
    """A connection to `mllp://host:port`."""
    where = urlsplit(url)
    assert where.scheme == "mllp", url
    reader, writer = await open_hl7_connection(where.hostname, where.port, ssl=tls)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


async def exchange(reader: HL7StreamReader, writer: HL7StreamWriter, sent: hl7.Message | bytes) -> hl7.Message:
    """Send a message (or raw bytes for a block) and read the ACK."""
    if isinstance(sent, bytes):
        writer.writeblock(sent)
    else:
        writer.writemessage(sent)
    await writer.drain()
    return await reader.readmessage()


async def send(url: str, sent: hl7.Message | bytes, *, tls: ssl.SSLContext | None = None) -> hl7.Message:
    """One message on a connection of its own; the ACK."""
    async with mllp(url, tls=tls) as (reader, writer):
        return await exchange(reader, writer, sent)


def ack_code(reply: hl7.Message) -> str:
    return str(reply.extract_field("MSA", 1, 1))


def acked_id(reply: hl7.Message) -> str:
    return str(reply.extract_field("MSA", 1, 2))


def err(reply: hl7.Message) -> dict[str, str]:
    """The ERR segment's location (ERR-2), code (ERR-3.1), severity (ERR-4) and user message (ERR-8)."""
    segment = reply.segment("ERR")
    location = str(segment(2)) if len(segment) > 2 else ""
    return {
        "location": "^".join(location.split("^")[:3]),
        "code": str(segment.extract_field(1, 3, 1, 1)),
        "severity": str(segment.extract_field(1, 4)),
        "message": str(segment.extract_field(1, 8)),
    }
