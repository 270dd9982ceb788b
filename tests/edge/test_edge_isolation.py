"""One dead device never stalls the others: 20 sorters, one goes silent, the other 19 keep their poll rate.

Measured, not timed: each device's polls are counted over two windows of the same length, before and after
the failure, and compared with each other. No wall-clock limit is asserted.
"""

import asyncio
import statistics
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from device_profiles import DeviceInstance, ModbusEndpoint, Site, load_profiles
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from simulators.sorter.device import SorterSimulator
from tests.polling import eventually
from wardlink.broker import EmbeddedBroker
from wardlink.net import free_port

DEVICES = 20
WINDOW_S = 2.0


class MutableLink:
    """A TCP proxy in front of one sorter; `silence()` makes the device stop answering but keep connections open.

    That is the worst kind of dead device: requests go out and nothing ever comes back, so only timeouts tell.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.silent = False
        self._server: asyncio.Server | None = None

    def silence(self) -> None:
        self.silent = True

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answers: bool) -> None:
        try:
            while data := await reader.read(4096):
                if answers and self.silent:
                    continue  # swallow the device's answers
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        device_reader, device_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        await asyncio.gather(
            self._pipe(client_reader, device_writer, answers=False),
            self._pipe(device_reader, client_writer, answers=True),
        )

    async def __aenter__(self) -> "MutableLink":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[tuple[EdgeAgent, MutableLink]]:
    profile = load_profiles()["acme-sorter-s100"]
    async with AsyncExitStack() as stack:
        broker = await stack.enter_async_context(EmbeddedBroker())
        sims = [await stack.enter_async_context(SorterSimulator(profile, port=0)) for _ in range(DEVICES)]
        link = await stack.enter_async_context(MutableLink(sims[0].port))
        ports = [link.port] + [sim.port for sim in sims[1:]]
        site = Site(
            site="general-hospital",
            edge="isolation-edge",
            devices=[
                DeviceInstance(
                    id=f"sorter-{i}",
                    profile=profile.name,
                    location="core-lab",
                    modbus=ModbusEndpoint(host="127.0.0.1", port=port),
                    poll_interval_s=0.05,
                    timeout_s=1.0,
                )
                for i, port in enumerate(ports)
            ],
        )
        settings = EdgeSettings(mqtt_url=broker.url, data_dir=tmp_path, topic_root="isolation/wardlink")
        agent = await stack.enter_async_context(EdgeAgent(settings, site, {profile.name: profile}))
        yield agent, link


def _polls(agent: EdgeAgent) -> list[int]:
    return [device.polls for device in agent.devices]  # type: ignore[attr-defined]


async def _rates(agent: EdgeAgent) -> list[float]:
    before = _polls(agent)
    await asyncio.sleep(WINDOW_S)  # a measurement window, not a wait for a condition
    return [(after - b) / WINDOW_S for b, after in zip(before, _polls(agent), strict=True)]


async def test_one_silent_device_does_not_slow_the_other_nineteen(
    fleet: tuple[EdgeAgent, MutableLink],
) -> None:
    agent, link = fleet

    async def all_online() -> list[bool | None]:
        return [device.ctx.online for device in agent.devices]

    await eventually(all_online, lambda states: all(states), what="all 20 sorters online")
    healthy_before = await _rates(agent)

    link.silence()  # sorter-0 hangs: connections stay open, answers never come
    await eventually(all_online, lambda states: states[0] is False, what="sorter-0 offline")
    after = await _rates(agent)

    others_before, others_after = healthy_before[1:], after[1:]
    print(
        f"median polls/s of the 19 others: before {statistics.median(others_before):.1f}, "
        f"after {statistics.median(others_after):.1f}; sorter-0 after: {after[0]:.1f}"
    )
    assert min(others_after) > 0, "every healthy sorter kept being polled"
    assert statistics.median(others_after) >= 0.5 * statistics.median(others_before)
    assert after[0] < statistics.median(others_after) / 4, "the silent sorter is polled far less (backoff)"
