"""Outbound SSU^U03 to the LIS: a specimen scanned or sorted in the lab is told to a real MLLP receiver, from a
durable outbox, in order, until the LIS answers; nothing is lost while the LIS is away or the sender restarts."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import hl7
import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from contract import Event, Subject, new_event
from gateway.clinical.hl7_outbound import Hl7OutboundSender
from gateway.clinical.retention import prune
from gateway.composition.stores import Stores
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.storage.tables import metadata
from tests.mllp_peer import MllpPeer, Refusal, acknowledgement, control_id
from tests.polling import eventually

SITE = "general-hospital"
SORTED = {"lane": 3, "rack": 7, "position": 12}


def specimen(kind: str, barcode: str, seq: int, at: datetime | None = None, **data: object) -> Event:
    """A sorter's event as ingest stores it: received when it happened (now unless given)."""
    at = at or datetime.now(UTC)
    event = new_event(
        kind,
        seq=seq,
        site=SITE,
        edge="core-lab-edge",
        device="sorter-1",
        subject=Subject(kind="specimen", id=barcode),
        occurred_at=at,
        data={**(SORTED if kind == "specimen.sorted" else {}), **data},
    )
    return event.model_copy(update={"received_at": at})


def outbound(settings: GatewaySettings, url: str, **more: object) -> GatewaySettings:
    # An answering peer's ACK gets 5 s, so a loaded machine never turns an answer into a resend the counts miss.
    quick = {"hl7_outbound_retry_max_s": 0.2, "hl7_outbound_ack_timeout_s": 5.0, **more}
    return settings.model_copy(update={"hl7_outbound_url": url, **quick})


@contextlib.asynccontextmanager
async def sending(store: Stores, settings: GatewaySettings) -> AsyncIterator[Hl7OutboundSender]:
    """A sender over the test's store, looking for stored events every 50 ms."""
    sender = Hl7OutboundSender(store.db, settings, poll_s=0.05)
    await sender.outbox.begin()  # as the service does before it ingests
    task = asyncio.create_task(sender.run())
    try:
        yield sender
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def barcodes(messages: list[hl7.Message]) -> list[str]:
    return [str(m["SAC.3"]) for m in messages]


async def test_scanned_and_sorted_specimens_reach_the_lis_as_ssu_u03(gateway_settings: GatewaySettings) -> None:
    async with MllpPeer() as lis, Gateway(outbound(gateway_settings, lis.url)) as gateway:
        assert gateway.store is not None
        assert gateway.hl7_outbound is not None
        scanned, placed = specimen("specimen.scanned", "S123456789", 1), specimen("specimen.sorted", "S123456789", 2)
        collected = {"category": "cbc", "ward": "icu"}
        await gateway.store.events.commit_batch([specimen("specimen.collected", "S123456789", 3, **collected)])
        await gateway.store.events.commit_batch([scanned, placed])
        await lis.wait_for(2)
        await eventually(gateway.hl7_outbound.outbox.counts, lambda c: c["sent"] == 2, what="both sent")
    first, second = lis.received
    for message in (first, second):
        assert str(message.segment("MSH")(9)) == "SSU^U03^SSU_U03"
        assert (message["MSH.3"], message["MSH.4"], message["MSH.5"], message["MSH.12"]) == (
            "WARDLINK",
            SITE,
            "LIS",
            "2.5.1",
        )
        assert message["EQU.1"] == "sorter-1"
        assert message["SAC.3"] == "S123456789"
        assert message["MSH.18"] == "UNICODE UTF-8"
        with pytest.raises(KeyError):
            message.segments("PID")  # no patient, ever
    assert hl7.parse_datetime(first["EQU.2"]) == scanned.occurred_at.replace(
        microsecond=scanned.occurred_at.microsecond // 100 * 100
    )
    assert first["SAC.8.1.1"] == "I"  # identified: the lab's sorter read it
    assert (second["SAC.8.1.1"], second["SAC.10"], second["SAC.11"], second["SAC.15.1.1"]) == ("R", "7", "12", "3")


async def test_a_tube_is_told_scanned_before_sorted_even_when_both_carry_one_time(
    store: Stores, gateway_settings: GatewaySettings
) -> None:
    at = datetime.now(UTC)
    told = [f"S1234567{n}9" for n in range(4)]
    batch = [
        specimen(kind, barcode, seq=2 * n + k, at=at)
        for n, barcode in enumerate(told)
        for k, kind in enumerate(("specimen.scanned", "specimen.sorted"), start=1)
    ]
    async with MllpPeer() as lis, sending(store, outbound(gateway_settings, lis.url)) as sender:
        await store.events.commit_batch(batch)
        await eventually(sender.outbox.counts, lambda c: c["sent"] == 8, what="all sent")
    assert [(str(m["SAC.3"]), str(m["SAC.8.1.1"])) for m in lis.received] == [
        (barcode, status) for barcode in told for status in ("I", "R")
    ]


async def test_a_lis_away_at_first_gets_everything_in_order_when_it_comes_up(
    gateway_settings: GatewaySettings,
) -> None:
    lis = MllpPeer()  # its port is held, but nothing listens yet: the LIS is away
    async with Gateway(outbound(gateway_settings, lis.url)) as gateway:
        assert gateway.store is not None
        assert gateway.hl7_outbound is not None
        told = [f"S1234567{n}9" for n in range(5)]
        for seq, barcode in enumerate(told, start=1):
            await gateway.store.events.commit_batch([specimen("specimen.scanned", barcode, seq)])
        sender = gateway.hl7_outbound
        await eventually(sender.outbox.counts, lambda c: c["pending"] == 5, what="five messages in the outbox")
        await eventually(lambda: asyncio.sleep(0, sender.counters.retries), what="an attempt while the LIS is away")
        async with lis:
            await eventually(sender.outbox.counts, lambda c: c["sent"] == 5, what="all five sent")
        rows = await sender.outbox.rows()
    assert barcodes(lis.unique()) == told
    assert [control_id(m) for m in lis.unique()] == [row.control_id for row in rows]


async def test_a_restarted_sender_resumes_from_the_outbox(store: Stores, gateway_settings: GatewaySettings) -> None:
    lis = MllpPeer()  # not listening until the second sender
    settings = outbound(gateway_settings, lis.url)
    told = ["S123456709", "S123456719", "S123456729"]
    async with sending(store, settings) as before:
        await store.events.commit_batch([specimen("specimen.scanned", b, n) for n, b in enumerate(told, start=1)])
        written = await eventually(before.outbox.rows, lambda rows: len(rows) == 3, what="the outbox written")
    # The sender stopped with nothing sent; the LIS comes up, and a new sender picks up where the outbox stands.
    async with lis, sending(store, settings) as after:
        await eventually(after.outbox.counts, lambda c: c["sent"] == 3, what="the outbox sent")
        await store.events.commit_batch([specimen("specimen.sorted", told[0], 4)])
        await eventually(after.outbox.counts, lambda c: c["sent"] == 4, what="a later event sent after them")
    assert [control_id(m) for m in lis.unique()[:3]] == [row.control_id for row in written]
    assert barcodes(lis.unique()) == [*told, told[0]]
    assert len(lis.received) == 4  # nothing sent twice


async def test_an_unanswered_message_is_sent_again_until_the_lis_accepts_it(
    store: Stores, gateway_settings: GatewaySettings
) -> None:
    async with MllpPeer(lambda _m, times: "AA" if times >= 2 else None) as lis:
        settings = outbound(gateway_settings, lis.url, hl7_outbound_ack_timeout_s=2.0)
        async with sending(store, settings) as sender:
            await store.events.commit_batch([specimen("specimen.scanned", "S123456789", 1)])
            await eventually(sender.outbox.counts, lambda c: c["sent"] == 1, what="accepted at last")
    [row] = await sender.outbox.rows()
    # A loaded machine can miss an answer in time and send once more: every attempt is counted and arrived.
    assert row.answer == "AA"
    assert row.attempts == lis.times(row.control_id) == sender.counters.retries + 1 >= 2


async def test_a_refused_message_is_kept_failed_with_its_error_code_and_the_next_one_goes(
    store: Stores, gateway_settings: GatewaySettings
) -> None:
    def answer(message: hl7.Message, _times: int) -> str | Refusal:
        refusal = Refusal("AE", "unknown container", error="103", where=("SAC", 1, 3))
        return refusal if message["SAC.3"] == "S123456789" else "AA"

    async with MllpPeer(answer) as lis, sending(store, outbound(gateway_settings, lis.url)) as sender:
        batch = [specimen("specimen.scanned", "S123456789", 1), specimen("specimen.scanned", "S987654321", 2)]
        await store.events.commit_batch(batch)
        await eventually(sender.outbox.counts, lambda c: c == {"pending": 0, "sent": 1, "failed": 1}, what="done")
    refused, accepted = await sender.outbox.rows()
    assert (refused.state, refused.answer, refused.attempts) == ("failed", "AE", 1)
    assert refused.reason == "103 Table value not found at SAC-3"
    assert (accepted.state, accepted.barcode) == ("sent", "S987654321")
    assert len(lis.received) == 2  # the refused one was not sent again
    assert (sender.counters.refused, sender.counters.sent) == (1, 1)


async def test_an_answer_in_utf_8_with_an_umlaut_settles_its_message(
    store: Stores, gateway_settings: GatewaySettings
) -> None:
    def answer(message: hl7.Message, _times: int) -> str | Refusal:
        return Refusal("AE", "Behälter unbekannt", error="103") if message["SAC.3"] == "S123456789" else "AA"

    async with MllpPeer(answer) as lis, sending(store, outbound(gateway_settings, lis.url)) as sender:
        batch = [specimen("specimen.scanned", "S123456789", 1), specimen("specimen.scanned", "S987654321", 2)]
        await store.events.commit_batch(batch)
        done = {"pending": 0, "sent": 1, "failed": 1}
        await eventually(sender.outbox.counts, lambda c: c == done, what="both answered", timeout_s=20)
    assert [lis.times(control_id(m)) for m in lis.unique()] == [1, 1]


async def test_a_refusal_leaves_no_trace_of_the_lis_text_in_the_database_or_the_logs(
    store: Stores, gateway_settings: GatewaySettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    quoted = "Patient MÜLLER-FICTIONAL, Hans MRN 4711-0815-FICTIONAL"
    refusal = Refusal("AE", f"no order for {quoted}", error="103", where=("SAC", 1, 3))
    async with MllpPeer(lambda _m, _t: refusal) as lis, sending(store, outbound(gateway_settings, lis.url)) as sender:
        await store.events.commit_batch([specimen("specimen.scanned", "S123456789", 1)])
        await eventually(sender.outbox.counts, lambda c: c["failed"] == 1, what="refused")
    assert quoted in str(acknowledgement(lis.received[0], refusal))  # what the LIS wrote back
    stored = []
    async with store.db.engine.connect() as connection:
        for table in metadata.sorted_tables:
            stored += [str(value) for row in await connection.execute(sa.select(table)) for value in row]
    for trace in ("MÜLLER", "Hans", "4711-0815", "no order"):
        assert not [value for value in stored if trace in value], trace
        assert trace not in caplog.text
    assert "103 Table value not found at SAC-3" in caplog.text  # what is logged instead


@pytest.mark.parametrize(
    "asked_again",
    [Refusal("AR", "database away", error="207"), Refusal("AR", error=None), Refusal("AR", "try later", error=None)],
    ids=["AR-207", "AR-without-ERR", "AR-without-code"],
)
async def test_ar_for_an_internal_error_is_sent_again_not_refused(
    asked_again: Refusal, store: Stores, gateway_settings: GatewaySettings
) -> None:
    lis = MllpPeer(lambda _m, times: asked_again if times == 1 else "AA")
    async with lis, sending(store, outbound(gateway_settings, lis.url)) as sender:
        await store.events.commit_batch([specimen("specimen.scanned", "S123456789", 1)])
        await eventually(sender.outbox.counts, lambda c: c["sent"] == 1, what="accepted when sent again")
    [row] = await sender.outbox.rows()
    assert (row.state, row.answer, row.reason, row.attempts) == ("sent", "AA", None, 2)
    assert lis.times(row.control_id) == 2
    assert (sender.counters.refused, sender.counters.retries, sender.counters.sent) == (0, 1, 1)


@pytest.mark.parametrize(
    ("refusal", "reason"),
    [
        (Refusal("AR", error="200"), "200 Unsupported message type"),
        (Refusal("AR", error="X17"), "a code outside HL7 table 0357"),
        (Refusal("AE", error="207"), "207 Application internal error"),
        (Refusal("AE", error=None), None),
    ],
    ids=["AR-200", "AR-local-code", "AE-207", "AE"],
)
async def test_ae_and_ar_for_the_message_itself_are_final(
    refusal: Refusal, reason: str | None, store: Stores, gateway_settings: GatewaySettings
) -> None:
    async with MllpPeer(lambda _m, _t: refusal) as lis, sending(store, outbound(gateway_settings, lis.url)) as sender:
        await store.events.commit_batch([specimen("specimen.scanned", "S123456789", 1)])
        await eventually(sender.outbox.counts, lambda c: c["failed"] == 1, what="refused")
    [row] = await sender.outbox.rows()
    assert (row.answer, row.reason, row.attempts, lis.times(row.control_id)) == (refusal.code, reason, 1, 1)
    assert (sender.counters.refused, sender.counters.retries) == (1, 0)


async def test_answered_rows_are_kept_while_the_scan_still_looks_back_over_their_events(
    store: Stores, gateway_settings: GatewaySettings
) -> None:
    at = datetime.now(UTC)
    async with MllpPeer() as lis, sending(store, outbound(gateway_settings, lis.url)) as sender:
        await store.events.commit_batch([specimen("specimen.scanned", "S123456789", 1, at=at)])
        await eventually(sender.outbox.counts, lambda c: c["sent"] == 1, what="sent")
        # Long after, nothing newer was stored: the scan's look-back still covers the event, so its row stays.
        deleted = await prune(store.db, now=at + timedelta(days=400), keep_for=timedelta(days=90))
        assert deleted["hl7_outbox"] == 0
        later = at + timedelta(minutes=10)
        await store.events.commit_batch([specimen("specimen.sorted", "S123456789", 2, at=later)])
        await eventually(sender.outbox.counts, lambda c: c["sent"] == 2, what="the later one sent")
        # Now the first event is behind the look-back: its row can go, and it is never found again.
        deleted = await prune(store.db, now=at + timedelta(days=400), keep_for=timedelta(days=90))
        assert deleted["hl7_outbox"] == 1
        await store.events.commit_batch([specimen("specimen.sorted", "S987654321", 3, at=later)])
        await eventually(sender.outbox.counts, lambda c: c["sent"] == 2, what="the last one sent")
    assert barcodes(lis.received) == ["S123456789", "S123456789", "S987654321"]  # each once


async def test_events_stored_before_outbound_was_configured_are_not_sent(
    store: Stores, gateway_settings: GatewaySettings
) -> None:
    await store.events.commit_batch([specimen("specimen.scanned", "S111111116", 1)])
    async with MllpPeer() as lis, sending(store, outbound(gateway_settings, lis.url)) as sender:
        await store.events.commit_batch([specimen("specimen.scanned", "S222222224", 2)])
        await eventually(sender.outbox.counts, lambda c: c["sent"] == 1, what="the new one sent")
    assert barcodes(lis.received) == ["S222222224"]


@pytest.mark.parametrize("url", ["http://lis:2575", "mllp://lis", "lis:2575"])
def test_the_destination_must_be_an_mllp_address(url: str) -> None:
    with pytest.raises(ValidationError, match="mllp://host:port"):
        GatewaySettings(hl7_outbound_url=url)


async def test_two_gateways_on_postgresql_send_each_message_once(
    store: Stores, gateway_settings: GatewaySettings
) -> None:
    if store.db.dialect != "postgresql":
        pytest.skip("SQLite has one gateway process: there is no other sender to keep out")
    told = [f"S1234567{n}9" for n in range(6)]
    async with MllpPeer() as lis:
        settings = outbound(gateway_settings, lis.url)
        async with sending(store, settings) as one, sending(store, settings) as other:
            for seq, barcode in enumerate(told, start=1):
                await store.events.commit_batch([specimen("specimen.scanned", barcode, seq)])
            await eventually(one.outbox.counts, lambda c: c["sent"] == 6, what="all sent")
    assert barcodes(lis.received) == told  # each once, in order
    assert sorted([one.counters.sent, other.counters.sent]) == [0, 6]


async def lock_holder(store: Stores) -> int | None:
    """The server process id of the session holding this schema's send lock (`sender._LEAD_LOCK`), if any."""
    query = sa.text(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND classid = CAST(CAST(:key AS integer) AS oid) AND objid = CAST(hashtext(current_schema()) AS oid)"
    )
    async with store.db.engine.connect() as connection:
        return (await connection.execute(query, {"key": 0x57_4C_48_37})).scalar()


async def test_a_sender_whose_lock_session_ended_stops_sending_until_it_leads_again(
    store: Stores, gateway_settings: GatewaySettings
) -> None:
    if store.db.dialect != "postgresql":
        pytest.skip("SQLite has one gateway process: there is no other sender to keep out")
    told = [f"S1234567{n}9" for n in range(5)]
    async with MllpPeer() as lis, contextlib.AsyncExitStack() as first, contextlib.AsyncExitStack() as second:
        settings = outbound(gateway_settings, lis.url)
        senders = [await first.enter_async_context(sending(store, settings))]
        senders.append(await second.enter_async_context(sending(store, settings)))
        await store.events.commit_batch([specimen("specimen.scanned", told[0], 1)])
        await eventually(senders[0].outbox.counts, lambda c: c["sent"] == 1, what="the first sent")
        leader, other = senders if senders[0].counters.sent else senders[::-1]
        stack = {id(senders[0]): first, id(senders[1]): second}
        # The server ends the leader's lock session (a restart, a network cut, an administrator): the lock goes.
        ended = await lock_holder(store)
        assert ended is not None
        async with store.db.engine.connect() as connection:
            await connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": ended})
        await eventually(lambda: lock_holder(store), lambda pid: pid not in (None, ended), what="the other leads")
        for seq, barcode in enumerate(told[1:4], start=2):
            await store.events.commit_batch([specimen("specimen.scanned", barcode, seq)])
        await eventually(other.outbox.counts, lambda c: c["sent"] == 4, what="sent by the other")
        assert (leader.counters.sent, other.counters.sent) == (1, 3)
        # The other stops: the first leads again, on a new session, and sends again.
        await stack[id(other)].aclose()
        await store.events.commit_batch([specimen("specimen.scanned", told[4], 5)])
        await eventually(leader.outbox.counts, lambda c: c["sent"] == 5, what="sent by the first again")
    assert barcodes(lis.received) == told  # each once, in order
    assert (leader.counters.sent, other.counters.sent) == (2, 3)
