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
from tests.gateway.clinical.hl7.rig import PATIENT_DATA, ack_code, exchange, message, mllp
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
    ("orm_o01_ordered", {"MSH_F10": "ORM-BAD", "OBR_F4": "0000-0^Unknown^LN"}, "AE"),
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
