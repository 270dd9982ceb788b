"""Stopping the edge never hangs, even when the stop lands together with a broker's PUBACK.

aiomqtt 2 waits for a PUBACK with `asyncio.wait_for`; on Python 3.11 a cancellation that arrives in the same loop
iteration as the PUBACK is dropped and the publish returns normally. The uplink's pump used to carry on (to the
`to_thread` of its dead-letter step, and round its loop for ever), so `EdgeAgent.stop` and `Stack.stop` hung.
Here the cancellation is made to land exactly with the PUBACK, on a real broker.
"""

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contract import DeadLetter, Topics
from edge.outbox import Outbox
from edge.settings import EdgeSettings
from edge.uplink import Uplink
from mqttlink import MqttLink
from tests.infra import Infra

SITE, EDGE = "general-hospital", "core-lab-edge"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
HANG_S = 10
"""Far longer than a stop takes: reaching it means the pump ignored its cancellation (a hang, not slowness)."""


async def test_the_pump_ends_when_its_cancellation_arrives_with_a_puback(infra: Infra, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "edge.sqlite", site=SITE, edge=EDGE)
    for n in range(3):
        letter = DeadLetter.of(reason=f"unreadable record {n}", topic="device/sorter-1", payload=b"{}", received_at=T0)
        outbox.set_aside(letter)
    settings = EdgeSettings(mqtt_url=infra.mqtt_url, topic_root=infra.topic_root, data_dir=tmp_path)
    uplink = Uplink(settings, Topics(site=SITE, edge=EDGE, root=infra.topic_root), outbox)
    async with MqttLink(infra.mqtt_url) as link:
        assert link._client is not None
        client = link._client
        pump = asyncio.create_task(uplink._pump(link))
        on_publish = client._client.on_publish

        def cancel_with_the_puback(*args: Any) -> None:
            on_publish(*args)  # the publish's PUBACK is in ...
            pump.cancel()  # ... and the stop lands in the same loop iteration

        client._client.on_publish = cancel_with_the_puback
        try:
            async with asyncio.timeout(HANG_S):  # a TimeoutError here is the hang
                await asyncio.wait([pump])
            assert pump.cancelled()
        finally:
            client._client.on_publish = on_publish
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
    assert len(outbox.deadletters(10)) >= 2  # it stopped at the first letter, the rest wait for the next start
    outbox.close()
