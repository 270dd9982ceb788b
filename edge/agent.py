"""The edge agent: one task per device, one uplink, one outbox."""

import asyncio
import logging
from types import TracebackType

from contract import Command, Topics
from device_profiles import DeviceProfile, Site
from edge.clock import Clock, utc_now
from edge.device_context import DeviceContext
from edge.drivers import driver_for
from edge.outbox import Outbox
from edge.settings import EdgeSettings
from edge.uplink import Uplink

log = logging.getLogger(__name__)


class EdgeAgent:
    """`async with EdgeAgent(settings, site, profiles) as agent:` runs until the block ends.

    `clock` stamps what the edge observes itself (online/offline, watch events, birth/death, dead letters): the
    wall clock unless a simulation passes its own (see `edge.clock`).
    """

    def __init__(
        self, settings: EdgeSettings, site: Site, profiles: dict[str, DeviceProfile], *, clock: Clock = utc_now
    ) -> None:
        self.settings = settings
        self.site = site
        self.clock = clock
        self.topics = Topics(site=site.site, edge=site.edge, root=settings.topic_root)
        self.outbox = Outbox(settings.outbox_path(site.edge), site=site.site, edge=site.edge)
        self.uplink = Uplink(settings, self.topics, self.outbox, clock=clock)
        self.devices = [
            driver_for(DeviceContext(device, profiles[device.profile], self.outbox, self.uplink, settings, clock=clock))
            for device in site.devices
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self.uplink.route_command = self._route_command

    def _route_command(self, device: str, command: Command) -> bool:
        driver = next((d for d in self.devices if d.ctx.id == device), None)
        if driver is None or not getattr(driver, "takes_commands", False):
            return False
        try:
            driver.ctx.commands.put_nowait(command)
        except asyncio.QueueFull:
            log.warning("device %s has 100 commands waiting; refusing %s", device, command.type)
            return False
        return True

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self.uplink.run(), name="uplink"))
        for device in self.devices:
            self._tasks.append(asyncio.create_task(device.run(), name=f"device:{device.ctx.id}"))
        log.info(
            "edge %s/%s serving %d device(s), outbox %s (next seq %d)",
            self.site.site,
            self.site.edge,
            len(self.devices),
            self.outbox.path,
            self.outbox.next_seq(),
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self.outbox.close()

    async def __aenter__(self) -> "EdgeAgent":
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


async def run_edge(
    settings: EdgeSettings, site: Site, profiles: dict[str, DeviceProfile], *, clock: Clock = utc_now
) -> None:
    """Run until cancelled."""
    async with EdgeAgent(settings, site, profiles, clock=clock):
        await asyncio.Event().wait()
