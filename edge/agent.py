"""The edge agent: one task per device, one uplink, one outbox.

The agent supervises its tasks: one that ends with an unexpected error is logged with its traceback and started
again after a capped backoff (the count and the last error are in `health()` and on the `status` topic), so one
bug or an unforeseen storage failure never leaves the edge up but deaf. An edge that cannot open its outbox (a full
disk at start) says why and tries again (`run_edge`).
"""

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from contract import Command, Topics
from device_profiles import DeviceProfile, Site
from edge.clock import Clock, utc_now
from edge.device_context import DeviceContext
from edge.drivers import driver_for
from edge.drivers.modbus_link import ModbusLinks
from edge.outbox import Outbox, OutboxStorageError
from edge.settings import EdgeSettings
from edge.uplink import Uplink
from mqttlink.backoff import Backoff, FailureLog

log = logging.getLogger(__name__)

_HEALTHY_RUN_S = 60.0
"""A task that ran this long before it failed starts again at the shortest backoff."""


@dataclass
class TaskHealth:
    """One supervised task: how often it was restarted after an unexpected error, and the last such error."""

    restarts: int = 0
    last_error: str | None = None


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
        self.outbox = Outbox(
            settings.outbox_path(site.edge), site=site.site, edge=site.edge, max_bytes=settings.outbox_max_bytes
        )
        self.uplink = Uplink(settings, self.topics, self.outbox, clock=clock)
        self.modbus_links = ModbusLinks(reconnect_cap_s=settings.max_backoff_s)
        """Modbus devices at one host and port, or on one serial port, share one connection."""
        try:
            self.devices = [
                driver_for(
                    DeviceContext(device, profiles[device.profile], self.outbox, self.uplink, settings, clock=clock),
                    self.modbus_links,
                )
                for device in site.devices
            ]
        except BaseException:
            self.outbox.close()  # e.g. a cursor the full disk would not let us read: `run_edge` opens it again
            raise
        self._tasks: list[asyncio.Task[None]] = []
        self.tasks: dict[str, TaskHealth] = {}
        """Every supervised task by name (`uplink`, `device:<id>`)."""
        self.uplink.route_command = self._route_command
        self.uplink.health = self.health

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

    def health(self) -> tuple[int, str | None]:
        """(restarts of all tasks, the latest unexpected error as `task: error`) for the edge's status report."""
        restarts = sum(h.restarts for h in self.tasks.values())
        latest = [f"{name}: {h.last_error}" for name, h in self.tasks.items() if h.last_error is not None]
        return restarts, (latest[-1] if latest else None)

    def _spawn(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.tasks[name] = TaskHealth()
        self._tasks.append(asyncio.create_task(self._supervise(name, run), name=name))

    async def _supervise(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `run()` until cancelled, starting it again (with backoff) whenever it ends on its own."""
        health = self.tasks[name]
        backoff = Backoff(initial=0.5, cap=self.settings.max_backoff_s)
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            failure: BaseException | None = None
            try:
                # In a task of its own, so that this task's `cancelling()` counts only real stops: Python 3.11's
                # TaskGroup leaves its parent task `cancelling()` after a child failed (uplink, VDA 5050 driver).
                await asyncio.create_task(run(), name=f"{name}:run")
            except (Exception, asyncio.CancelledError) as exc:
                failure = exc
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError  # stopped (also when a library swallowed the stop): never restart
            if failure is None:
                error = "ended unexpectedly"
                log.error("edge task %s ended on its own; starting it again after a backoff", name)
            else:
                error = f"{type(failure).__name__}: {failure}"[:500]
                log.error("edge task %s died; starting it again after a backoff", name, exc_info=failure)
            if loop.time() - started >= _HEALTHY_RUN_S:
                backoff.reset()
            health.restarts += 1
            health.last_error = error
            await asyncio.sleep(backoff.next_delay())

    async def start(self) -> None:
        self._spawn("uplink", self.uplink.run)
        for device in self.devices:
            self._spawn(f"device:{device.ctx.id}", device.run)
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
    """Run until cancelled; an outbox that cannot be opened (a full disk) is logged and tried again with backoff."""
    backoff = Backoff(initial=0.5, cap=settings.max_backoff_s)
    failures = FailureLog(log, f"edge {site.site}/{site.edge} opening its outbox {settings.outbox_path(site.edge)}")
    while True:
        try:
            agent = EdgeAgent(settings, site, profiles, clock=clock)
        except OutboxStorageError as exc:
            failures.failed(str(exc))
            await asyncio.sleep(backoff.next_delay())
            continue
        failures.recovered()
        break
    async with agent:
        await asyncio.Event().wait()
