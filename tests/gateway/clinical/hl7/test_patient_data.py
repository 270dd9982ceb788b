"""No patient data, ever: a made-up patient's name, birth date, address and record number, sent in every kind of
message (accepted, wrong, unsupported), reach neither the database, nor the logs, nor the dead-letter topic."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiomqtt
import pytest
import sqlalchemy as sa

from contract import DeadLetter
from contract.topics import deadletter_topic
from gateway.service import Gateway
from mqttlink.url import BrokerAddress
from tests.gateway.clinical.hl7.rig import PATIENT_DATA, ack_code, exchange, message, mllp, text
from tests.infra import Infra
from tests.polling import eventually

SENT = [
    ("oml_o21_collected", {}, "AA"),
    ("orm_o01_ordered", {}, "AA"),
    ("orm_o01_collected", {}, "AA"),
    ("ssu_u03_received", {}, "AA"),
    ("oul_r22_preliminary", {}, "AA"),
    ("oru_r01_final", {}, "AA"),
    ("oml_o21_collected", {"MSH_F10": "OML-BAD", "SPM_F2": ""}, "AE"),
    ("orm_o01_ordered", {"MSH_F10": "ORM-BAD", "OBR_F27": "^^^^^X"}, "AE"),
    ("adt_a01", {}, "AR"),
    ("oru_r01_final", {"MSH_F12": "2.7"}, "AR"),
]


@contextlib.asynccontextmanager
async def dead_letters(infra: Infra) -> AsyncIterator[list[DeadLetter]]:
    """Everything published on the dead-letter topic while the block runs."""
    seen: list[DeadLetter] = []
    topic = deadletter_topic(infra.topic_root)
    async with aiomqtt.Client(**BrokerAddress.parse(infra.mqtt_url).client_kwargs()) as client:
        await client.subscribe(topic, qos=1)

        async def read() -> None:
            async for received in client.messages:
                assert isinstance(received.payload, bytes)
                seen.append(DeadLetter.model_validate_json(received.payload))

        reader = asyncio.create_task(read())
        try:
            yield seen
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def every_stored_value(gateway: Gateway) -> str:
    """Every row of every table, every column, as text."""
    assert gateway.store is not None
    dumped: list[str] = []
    async with gateway.store.db.engine.connect() as connection:
        names = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        assert "clinical_dead_letters" in names
        for name in names:
            table = sa.Table(name, sa.MetaData())
            await connection.run_sync(lambda sync, t=table: sa.inspect(sync).reflect_table(t, None))
            for row in await connection.execute(sa.select(table)):
                dumped.append(f"{name}: {tuple(row)!r}")
    return "\n".join(dumped)


def leaks(text: str) -> list[str]:
    return [detail for detail in PATIENT_DATA if detail.lower() in text.lower()]


async def test_no_patient_data_reaches_the_database_the_logs_or_the_dead_letter_topic(
    hl7_gateway: Gateway, infra: Infra, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert hl7_gateway.hl7_url is not None
    async with dead_letters(infra) as letters, mllp(hl7_gateway.hl7_url) as (reader, writer):
        answers = [ack_code(await exchange(reader, writer, message(name, **fields))) for name, fields, _ in SENT]
        assert answers == [expected for _, _, expected in SENT]
        await eventually(lambda: asyncio.sleep(0, letters), lambda seen: len(seen) == 4, what="four dead letters")

    stored = await every_stored_value(hl7_gateway)
    assert "BC-100231" in stored  # the test would see the data if it were there
    assert "PID|<redacted>" in stored
    assert leaks(stored) == []
    logged = "\n".join(f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records)
    assert "OML-BAD" in logged
    assert leaks(logged) == []
    published = "\n".join(letter.model_dump_json() for letter in letters)
    assert {letter.topic for letter in letters} == {"hl7v2/LIS^GHH", "hl7v2/ADT^GHH", "hl7v2/GHH LAB^ELAB-3"}
    assert leaks(published) == []


BROKEN = {
    "1 Nowhere Lane^^Springfield": "1 Nowhere Lane{br}Springfield^^^^12345",  # PID-11
    "Testpatient^Fictitia": "Testpatient{br}Fictitia",  # PID-5 (and NK1-2)
    "Testpatient Fictitia": "Testpatient{br}Fictitia",  # NTE-3
}
"""Line breaks inside patient fields: a sender that does not escape them makes the rest of the field look like a
segment of its own, named after its text."""
BROKEN_SENT = [
    ("oml_o21_collected", {"MSH_F10": "OML-BREAK"}, "AA"),
    ("oru_r01_final", {"MSH_F10": "ORU-BREAK"}, "AA"),
    ("oml_o21_collected", {"MSH_F10": "OML-BREAK-AE", "SPM_F2": ""}, "AE"),
    ("orm_o01_ordered", {"MSH_F10": "ORM-BREAK-AE", "OBR_F27": "^^^^^X"}, "AE"),
    ("adt_a01", {"MSH_F10": "ADT-BREAK"}, "AR"),
    ("oru_r01_final", {"MSH_F10": "ORU-BREAK-AR", "MSH_F12": "2.7"}, "AR"),
]


def broken(name: str, fields: dict[str, str], line_break: str) -> bytes:
    sent = str(message(name, **fields)) if fields else text(name)
    for whole, split in BROKEN.items():
        sent = sent.replace(whole, split.format(br=line_break))
    assert line_break + "Springfield" in sent or line_break + "Fictitia" in sent
    return sent.encode()


@pytest.mark.parametrize("line_break", ["\n", "\r"], ids=["LF", "CR"])
async def test_a_line_break_inside_a_patient_field_keeps_nothing_of_the_field(
    hl7_gateway: Gateway, infra: Infra, caplog: pytest.LogCaptureFixture, line_break: str
) -> None:
    caplog.set_level(logging.DEBUG)
    assert hl7_gateway.hl7_url is not None
    async with dead_letters(infra) as letters, mllp(hl7_gateway.hl7_url) as (reader, writer):
        answers = [
            ack_code(await exchange(reader, writer, broken(name, fields, line_break)))
            for name, fields, _ in BROKEN_SENT
        ]
        assert answers == [expected for _, _, expected in BROKEN_SENT]
        await eventually(lambda: asyncio.sleep(0, letters), lambda seen: len(seen) == 4, what="four dead letters")

    stored = await every_stored_value(hl7_gateway)
    assert "OML-BREAK-AE" in stored
    assert "\\r<redacted>\\r" in stored  # the fake segment, as a whole
    assert leaks(stored) == []
    assert leaks("\n".join(f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records)) == []
    assert leaks("\n".join(letter.model_dump_json() for letter in letters)) == []
    assert all("12345" not in letter.model_dump_json() for letter in letters)


@pytest.mark.parametrize("line_break", ["\n", "\r"], ids=["LF", "CR"])
async def test_a_segment_made_up_by_a_line_break_is_never_read(hl7_gateway: Gateway, line_break: str) -> None:
    """`SPM~1` is no segment name: the text after a break in a note names no specimen, even if it looks like one."""
    assert hl7_gateway.hl7_url is not None
    sent = text("oml_o21_collected").replace("is anxious about needles", f"is{line_break}SPM~1|1|BC-999666")
    async with mllp(hl7_gateway.hl7_url) as (reader, writer):
        assert ack_code(await exchange(reader, writer, sent.encode())) == "AA"

    stored = await every_stored_value(hl7_gateway)
    assert "BC-100231" in stored
    assert "BC-999666" not in stored
