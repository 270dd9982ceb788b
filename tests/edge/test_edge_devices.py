"""The edge and a misbehaving sorter: unusable records, a device that drops off and one that reboots."""

import asyncio
from datetime import UTC, datetime

import aiomqtt
import pytest

from contract import DeadLetter
from contract.topics import deadletter_topic
from device_profiles import MailboxRecord
from mqttlink.url import BrokerAddress
from simulators.clinical.barcode import lab_barcode
from simulators.sorter.device import SorterSimulator
from simulators.sorter.tube import Rejected, Sorted, Tube
from tests.auth import authorised
from tests.polling import eventually
from wardlink.stack import Stack


@pytest.fixture
def stack(sorter_stack: Stack) -> Stack:
    return sorter_stack


async def _status(stack: Stack, barcode: str) -> str | None:
    async with authorised(stack) as api:
        response = await api.get(f"/api/v1/specimens/{barcode}")
    return response.json()["status"] if response.status_code == 200 else None


async def _mailbox_acks(sorter: SorterSimulator | None) -> int:
    assert sorter is not None
    return sorter.mailbox.acks


async def test_an_unusable_record_goes_to_the_dead_letter_topic_and_the_sorter_keeps_flowing(stack: Stack) -> None:
    assert stack.sorter is not None
    broker = BrokerAddress.parse(stack.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as watcher:
        await watcher.subscribe(deadletter_topic(stack.config.topic_root), qos=1)
        # A firmware bug: a barcode with a '/' that would break topics and URLs.
        bad = MailboxRecord(0, "specimen.scanned", "specimen", "S12/45", datetime.now(UTC), {})
        await stack.sorter.mailbox.put([bad])
        good = Tube(lab_barcode(4242), Sorted(lane=2, rack=1, position=1))
        await stack.sorter.induct(good)

        message = await asyncio.wait_for(anext(aiter(watcher.messages)), 30)
        letter = DeadLetter.model_validate_json(message.payload)  # type: ignore[arg-type]
        assert "contains '/'" in letter.reason
        assert letter.topic.startswith("modbus://")
        assert '"registers"' in letter.payload

    await eventually(lambda: _status(stack, good.barcode), lambda s: s == "sorted")
    assert stack.sorter.mailbox.head is None  # the bad record was acknowledged, not re-read forever


async def test_a_device_that_drops_off_goes_offline_and_comes_back_by_itself(stack: Stack) -> None:
    assert stack.sorter is not None
    assert stack.edge is not None
    device = stack.edge.devices[0].ctx
    port, profile = stack.sorter.port, stack.sorter.profile

    async def online() -> bool | None:
        return device.online

    await eventually(online, lambda value: value is True)
    # An unreadable tube makes one record, number 1, which the edge stores and acknowledges.
    await stack.sorter.induct(Tube(lab_barcode(8999), Rejected("no_read")))
    await eventually(lambda: _mailbox_acks(stack.sorter), lambda acks: acks == 1)
    await stack.sorter.stop()
    await eventually(online, lambda value: value is False)

    # The sorter reboots: same address, record numbers start again from 1.
    rebooted = SorterSimulator(profile, host="127.0.0.1", port=port)
    await rebooted.start()
    stack.sorter = rebooted
    await eventually(online, lambda value: value is True)
    # The first tube's scan is record 1 again: the edge must not take it for the record it already has.
    tubes = [Tube(lab_barcode(9000 + i), Sorted(lane=1, rack=1, position=2 + i)) for i in range(3)]
    for tube in tubes:
        await rebooted.induct(tube)
    for tube in tubes:
        await eventually(lambda t=tube: _status(stack, t.barcode), lambda s: s == "sorted")
        async with authorised(stack) as api:
            timeline = (await api.get(f"/api/v1/specimens/{tube.barcode}")).json()["timeline"]
        assert [step["type"] for step in timeline] == ["specimen.scanned", "specimen.sorted"]
