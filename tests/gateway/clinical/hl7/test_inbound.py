"""Handling one message without the socket: a failure unrelated to the content is answered AR (send it again)
and not recorded as handled, so the resend is taken; every dead letter is handed to the callback."""

from pathlib import Path

import sqlalchemy as sa

from contract import DeadLetter
from gateway.clinical.hl7.inbound import Hl7Inbound
from gateway.clinical.hl7.mapping import load_mapping
from gateway.composition.stores import Stores
from gateway.storage.clinical_tables import hl7_messages, hl7_orders
from gateway.storage.tables import events
from tests.clock import SteppedClock
from tests.gateway.clinical.hl7.rig import FIXTURE_NOW, ack_code, err, text


async def count(store: Stores, table: sa.Table) -> int:
    async with store.db.engine.connect() as connection:
        return (await connection.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()


async def test_a_storage_failure_is_answered_ar_and_the_resend_is_taken(store: Stores, hl7_mapping: Path) -> None:
    letters: list[DeadLetter] = []

    async def keep(letter: DeadLetter) -> None:
        letters.append(letter)

    inbound = Hl7Inbound(
        store.events,
        store.db,
        load_mapping(hl7_mapping),
        site="general-hospital",
        on_dead_letter=keep,
        clock=SteppedClock(FIXTURE_NOW),
    )
    async with store.db.engine.begin() as connection:
        await connection.run_sync(hl7_orders.drop)  # the orders table is gone: the message cannot be recorded

    failed = await inbound.handle(text("oml_o21_collected").encode())

    assert (ack_code(failed), err(failed)["code"]) == ("AR", "207")
    assert err(failed)["message"].startswith("internal error (")
    assert await count(store, hl7_messages) == 0  # not handled: a resend is processed again
    [letter] = letters
    assert (letter.topic, letter.reason) == ("hl7v2/LIS^GHH", err(failed)["message"])
    assert letter.original().startswith(b"MSH|^~\\&|LIS|GHH|")
    [kept] = await inbound.records.dead_letters()
    assert (kept.sender, kept.control_id, kept.ack_code, kept.reason) == ("LIS^GHH", "OML-0001", "AR", letter.reason)
    assert kept.message == letter.original().decode()

    async with store.db.engine.begin() as connection:
        await connection.run_sync(hl7_orders.create)
    again = await inbound.handle(text("oml_o21_collected").encode())

    assert ack_code(again) == "AA"
    assert await count(store, events) == 1  # the events of the first try, stored once
    assert await count(store, hl7_messages) == 1
    assert await count(store, hl7_orders) == 1


async def test_segments_ended_by_line_feeds_are_taken_like_carriage_returns(store: Stores, hl7_mapping: Path) -> None:
    inbound = Hl7Inbound(store.events, store.db, load_mapping(hl7_mapping), site="general-hospital")

    reply = await inbound.handle(text("oml_o21_collected").replace("\r", "\r\n").encode())

    assert ack_code(reply) == "AA"
    assert await count(store, events) == 1


async def test_a_latin_1_message_is_read(store: Stores, hl7_mapping: Path) -> None:
    inbound = Hl7Inbound(store.events, store.db, load_mapping(hl7_mapping), site="general-hospital")
    latin = text("oml_o21_collected").replace("Testpatient", "Testpätient").encode("latin-1")

    assert ack_code(await inbound.handle(latin)) == "AA"


async def test_blank_lines_between_segments_are_no_segments(store: Stores, hl7_mapping: Path) -> None:
    inbound = Hl7Inbound(store.events, store.db, load_mapping(hl7_mapping), site="general-hospital")

    reply = await inbound.handle(text("oml_o21_collected").replace("\r", "\n\n \r").encode())

    assert ack_code(reply) == "AA"
    assert await count(store, events) == 1
