"""The edge on a full disk: SQLite's "database or disk is full" is a reason to wait and retry, never to stop.

- A write the disk refuses raises `OutboxStorageError` and moves nothing (events, sequence, cursor); once there
  is room the next write continues the sequence without a gap.
- A Modbus sorter's records stay in its mailbox while the disk is full, and every one is recorded exactly once
  when it has room again; no edge task dies on the way.
- An edge that starts on a full disk says why, keeps trying, and serves once it can open its outbox.
- A task that dies with an unexpected error is logged with its traceback, started again, and reported.

The full disk is a real one (a small tmpfs, filled the way the chaos suite fills it); `PRAGMA max_page_count`
stands in where a mount is not allowed.
"""

import asyncio
import contextlib
import json
import logging
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest

from contract import Subject
from device_profiles import DeviceInstance, ModbusEndpoint, Site, load_profiles
from edge.agent import EdgeAgent, run_edge
from edge.observation import Observation
from edge.outbox import Outbox, OutboxStorageError
from edge.settings import EdgeSettings
from simulators.sorter.device import SorterSimulator
from simulators.sorter.tube import Sorted, Tube
from tests.chaos.faults import _fill, _truncate_wal
from tests.polling import eventually
from wardlink.net import free_port

SITE, EDGE = "general-hospital", "core-lab-edge"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
T = TypeVar("T")


def scan(barcode: str) -> Observation:
    return Observation("specimen.scanned", "sorter-1", Subject(kind="specimen", id=barcode), T0)


class SmallDisk:
    """A 4 MiB tmpfs: `fill()` takes every free block (after truncating the outbox's WAL), `free()` gives them back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._filler = path / "filler.bin"

    def fill(self) -> None:
        _truncate_wal(self.path)
        _fill(self._filler)

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    path = tmp_path / "edge-data"
    path.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)]
    mount = subprocess.run(command, check=False, capture_output=True, text=True)  # noqa: S603 (fixed argv)
    if mount.returncode != 0:
        pytest.skip(f"a real full disk needs a tmpfs mount (as in the chaos suite): {mount.stderr.strip()}")
    try:
        yield SmallDisk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)  # noqa: S603, S607 (fixed argv)


# -- the outbox --------------------------------------------------------------------------------------------------
def test_a_write_the_database_cannot_grow_for_moves_nothing_and_the_sequence_continues_later(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "edge.sqlite", site=SITE, edge=EDGE)
    outbox.append([scan("S000001")], cursor=("sorter-1", "r-1"))
    pages = outbox._db.execute("PRAGMA page_count").fetchone()[0]
    outbox._db.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: SQLITE_FULL
    many = [scan(f"S{n:06d}") for n in range(2, 400)]
    with pytest.raises(OutboxStorageError, match="database or disk is full"):
        outbox.append(many, cursor=("sorter-1", "r-2"))
    assert (outbox.depth(), outbox.next_seq(), outbox.cursor("sorter-1")) == (1, 2, "r-1")
    assert not outbox._db.in_transaction  # rolled back: the next write can begin

    outbox._db.execute("PRAGMA max_page_count = 1073741823")
    events = outbox.append(many, cursor=("sorter-1", "r-2"))
    assert [e.seq for e in events] == list(range(2, 400))
    assert (outbox.depth(), outbox.cursor("sorter-1")) == (399, "r-2")
    outbox.close()


def test_an_append_on_a_full_disk_raises_a_retryable_error_and_succeeds_once_there_is_room(
    small_disk: SmallDisk,
) -> None:
    outbox = Outbox(small_disk.path / "edge.outbox.sqlite", site=SITE, edge=EDGE)
    outbox.append([scan("S000001")])
    small_disk.fill()
    batch = [scan(f"S{n:06d}") for n in range(2, 200)]
    with pytest.raises(OutboxStorageError, match="database or disk is full"):
        outbox.append(batch, cursor=("sorter-1", "r-2"))
    assert (outbox.depth(), outbox.next_seq(), outbox.cursor("sorter-1")) == (1, 2, None)
    small_disk.free()
    assert [e.seq for e in outbox.append(batch, cursor=("sorter-1", "r-2"))] == list(range(2, 200))
    assert (outbox.depth(), outbox.cursor("sorter-1")) == (199, "r-2")
    outbox.close()


# -- the edge ----------------------------------------------------------------------------------------------------
def edge_settings(data_dir: Path) -> EdgeSettings:
    # No broker behind this port: the outbox keeps everything, which is what these tests look at.
    return EdgeSettings(mqtt_url=f"mqtt://127.0.0.1:{free_port()}", data_dir=data_dir, max_backoff_s=0.3)


def sorter_site(port: int) -> Site:
    endpoint = ModbusEndpoint(host="127.0.0.1", port=port)
    device = DeviceInstance(
        id="sorter-1", profile="acme-sorter-s100", location="core-lab", modbus=endpoint, poll_interval_s=0.05
    )
    return Site(site=SITE, edge=EDGE, devices=[device])


def specimen_events(outbox: Outbox) -> list[str]:
    found = []
    for pending in outbox.due(resend_after_s=0, limit=10_000):
        body = json.loads(pending.payload)
        if body["subject"]["kind"] == "specimen":
            found.append(f"{body['subject']['id']}/{body['type']}")
    return found


async def test_the_sorters_records_wait_on_the_device_while_the_disk_is_full_and_none_is_lost(
    small_disk: SmallDisk, sorter: SorterSimulator
) -> None:
    async def induct(barcodes: list[str]) -> None:
        for barcode in barcodes:
            await sorter.induct(Tube(barcode, Sorted(lane=2, rack=1, position=1), transit_s=0))

    before, during = [f"S{n:06d}" for n in range(1, 4)], [f"S{n:06d}" for n in range(4, 12)]
    async with EdgeAgent(edge_settings(small_disk.path), sorter_site(sorter.port), load_profiles()) as agent:
        await induct(before)
        await eventually(lambda: asyncio.to_thread(specimen_events, agent.outbox), lambda e: len(e) == 6)
        await asyncio.to_thread(small_disk.fill)
        await induct(during)
        driver = agent.devices[0]
        await eventually(lambda: _value(driver.held_back), lambda n: n >= 3, what="the sorter held back")
        assert sorter.mailbox  # the records are still on the device
        small_disk.free()
        await eventually(lambda: _value(len(sorter.mailbox)), lambda n: n == 0, what="the mailbox drained")
        found = await asyncio.to_thread(specimen_events, agent.outbox)
        assert agent.health() == (0, None)  # nothing died: the driver waited and retried
    expected = [f"{b}/{t}" for b in before + during for t in ("specimen.scanned", "specimen.sorted")]
    assert sorted(found) == sorted(expected)  # every record once


async def test_an_edge_started_on_a_full_disk_says_why_and_serves_once_there_is_room(
    small_disk: SmallDisk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge")
    small_disk.fill()
    settings = edge_settings(small_disk.path)
    edge = asyncio.create_task(run_edge(settings, sorter_site(free_port()), load_profiles()))
    try:
        await eventually(
            lambda: _value(caplog.text), lambda t: "opening its outbox" in t and "disk is full" in t, what="the reason"
        )
        assert not edge.done()
        small_disk.free()
        await eventually(lambda: _value(caplog.text), lambda t: "serving 1 device(s)" in t, what="the edge serving")
        assert "recovered after" in caplog.text
        # It takes events once it could open its outbox: no sorter listens on that port, so the device goes offline.
        await eventually(lambda: _recorded(settings), lambda types: "device.offline" in types, what="device.offline")
    finally:
        edge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await edge


async def _recorded(settings: EdgeSettings) -> list[str]:
    """The event types in the edge's outbox, read beside the running edge (SQLite WAL allows a second reader)."""
    outbox = Outbox(settings.outbox_path(EDGE), site=SITE, edge=EDGE)
    try:
        return [json.loads(p.payload)["type"] for p in outbox.due(resend_after_s=0, limit=10)]
    finally:
        outbox.close()


async def test_a_task_that_dies_is_logged_restarted_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    agent = EdgeAgent(edge_settings(tmp_path), sorter_site(free_port()), load_profiles())
    runs: list[int] = []

    async def uplink_with_a_bug() -> None:
        runs.append(len(runs) + 1)
        if len(runs) == 1:
            raise RuntimeError("a bug in the uplink")
        await asyncio.Event().wait()

    agent.uplink.run = uplink_with_a_bug  # type: ignore[method-assign]
    async with agent:
        await eventually(lambda: _value(len(runs)), lambda n: n == 2, what="the restart")
        assert agent.health() == (1, "uplink: RuntimeError: a bug in the uplink")
        status = await agent.uplink.status()
        assert (status.restarts, status.problem) == (1, "uplink: RuntimeError: a bug in the uplink")
    [record] = [r for r in caplog.records if "edge task uplink died" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None  # with the traceback


async def _value(value: T) -> T:
    return value
