"""The faults a chaos run injects, one kind at a time, each held for a seeded random while and then healed.

Every fault acts on a real thing: a process gets SIGKILL, a link of the fault proxy gets a toxic, the
gateway's database gets a write lock from another connection, the edge's data directory (a small tmpfs)
gets filled to the last byte.
"""

import asyncio
import contextlib
import errno
import random
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from tests.chaos.processes import Part, reseed
from tests.chaos.proxy import FaultProxy
from tests.chaos.toxics import (
    Bandwidth,
    Latency,
    ModbusException,
    ModbusLateWrongTid,
    ResetPeer,
    Slicer,
    Timeout,
)

FAMILIES: dict[str, tuple[str, ...]] = {
    "process": ("kill_broker", "kill_gateway", "kill_edge"),
    "network": ("link_cut", "link_slow", "link_reset", "link_slice"),
    "device": ("device_silent", "device_late_wrong_tid", "device_exception", "device_reboot"),
    "storage": ("db_locked", "disk_full"),
    "scale-out": ("kill_replica",),
}
REAL_ONLY = frozenset({"kill_replica"})
"""Kinds that run on Mosquitto and PostgreSQL whatever the plan's infra (two gateways share the stream)."""
KINDS: tuple[str, ...] = tuple(kind for kinds in FAMILIES.values() for kind in kinds)
TUBE_FAULTS = ("kill_edge", "kill_gateway", "link_cut", "device_silent")
"""What a tube-system run injects: the edge or gateway killed while carriers with specimens travel, the MQTT link
cut, the tube controller silent on Modbus."""
CABINET_FAULTS = ("device_reboot", "kill_edge", "device_silent")
"""What a cabinet run injects: a power loss of the cabinet (kill -9 mid-removal, back with new activity), the edge
killed, the cabinet's MQTT link to the edge cut."""
MQTT_LINKS = ("edge-broker", "gateway-broker")


@dataclass
class Target:
    """What the faults act on in one run."""

    proxy: FaultProxy
    parts: dict[str, Part]
    rng: random.Random
    database: "DatabaseHandle"
    edge_data: Path
    device_seed: int
    hold_s: tuple[float, float] = (1.0, 3.0)
    """How long a fault is held: drawn uniformly from this range."""
    links: tuple[str, ...] = MQTT_LINKS
    """The proxy links a `link_*` fault picks from."""


@dataclass(frozen=True)
class DatabaseHandle:
    sqlite_path: Path | None
    dsn: str | None = None
    schema: str | None = None


async def inject(kind: str, target: Target) -> str:
    """Inject one fault of `kind`, hold it, heal it; returns a line saying what was done."""
    hold = target.rng.uniform(*target.hold_s)
    if kind.startswith("kill_"):
        return await _kill_and_restart(target.parts[kind.removeprefix("kill_")], hold)
    if kind.startswith("link_"):
        link = target.proxy.links[target.rng.choice(target.links)]
        toxic = _link_toxic(kind, target.rng)
        return await _with_toxics(link.name, [toxic], target, hold)
    if kind == "device_reboot":
        device = target.parts["device"]
        target.device_seed += 7919
        reseed(device, target.device_seed)  # new tubes after the reboot, counters and mailbox from zero
        return await _kill_and_restart(device, hold / 3)
    if kind.startswith("device_"):
        toxic = {
            "device_silent": Timeout(),
            "device_late_wrong_tid": ModbusLateWrongTid(delay_s=target.rng.uniform(0.3, 1.5)),
            "device_exception": ModbusException(code=target.rng.choice([4, 6])),
        }[kind]
        return await _with_toxics("edge-device", [toxic], target, hold)
    if kind == "db_locked":
        return await _lock_database(target.database, hold)
    if kind == "disk_full":
        return await _fill_disk(target.edge_data, hold)
    raise ValueError(f"unknown fault kind {kind!r} (known: {', '.join(KINDS)})")


async def _kill_and_restart(part: Part, down_s: float) -> str:
    await part.kill9()
    await asyncio.sleep(down_s)
    await part.start()
    return f"kill -9 {part.name}, down {down_s:.1f}s, restarted"


def _link_toxic(kind: str, rng: random.Random) -> Latency | Bandwidth | Slicer | Timeout | ResetPeer:
    if kind == "link_cut":
        return Timeout()
    if kind == "link_reset":
        return ResetPeer(after_ms=rng.uniform(0, 200))
    if kind == "link_slice":
        return Slicer(average_size=rng.randint(2, 16), size_variation=2, delay_ms=rng.uniform(0.1, 2))
    if rng.random() < 0.5:
        return Latency(latency_ms=rng.uniform(50, 400), jitter_ms=rng.uniform(0, 50))
    return Bandwidth(rate_kb_s=rng.uniform(1, 8))


async def _with_toxics(link_name: str, toxics: list, target: Target, hold: float) -> str:  # type: ignore[type-arg]
    link = target.proxy.links[link_name]
    for toxic in toxics:
        link.add(toxic)
    await asyncio.sleep(hold)
    link.heal()
    return f"{', '.join(type(t).__name__ for t in toxics)} on {link_name} for {hold:.1f}s"


async def _lock_database(database: DatabaseHandle, hold: float) -> str:
    if database.sqlite_path is not None:
        await asyncio.to_thread(_hold_sqlite_lock, database.sqlite_path, hold)
        return f"SQLite write lock held by another process for {hold:.1f}s"
    assert database.dsn
    assert database.schema
    conn = await asyncpg.connect(database.dsn)
    try:
        async with conn.transaction():
            await conn.execute(f'LOCK TABLE "{database.schema}".events IN ACCESS EXCLUSIVE MODE')
            await asyncio.sleep(hold)
    finally:
        await conn.close()
    return f"PostgreSQL events table locked (ACCESS EXCLUSIVE) for {hold:.1f}s"


def _hold_sqlite_lock(path: Path, hold: float) -> None:
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        db.execute("BEGIN EXCLUSIVE")
        time.sleep(hold)
        db.execute("ROLLBACK")
    finally:
        db.close()


async def _fill_disk(directory: Path, hold: float) -> str:
    # The outbox's WAL, once grown, is reused in place and needs no new blocks; truncate it first (what a
    # checkpoint with no reader does), so that the edge's next write has to find room on the full disk.
    truncated = await asyncio.to_thread(_truncate_wal, directory)
    filler = directory / "filler.bin"
    written = await asyncio.to_thread(_fill, filler)
    try:
        await asyncio.sleep(hold)
    finally:
        with contextlib.suppress(FileNotFoundError):
            filler.unlink()
    wal = "WAL truncated, " if truncated else ""
    return f"edge data directory filled ({wal}{written // 1024} KiB until ENOSPC) for {hold:.1f}s"


def _truncate_wal(directory: Path) -> bool:
    for outbox in directory.glob("*.outbox.sqlite"):
        db = sqlite3.connect(outbox, timeout=5, isolation_level=None)
        try:
            for _ in range(20):
                busy, _log, _done = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if not busy:
                    return True
                time.sleep(0.05)
        finally:
            db.close()
    return False


def _fill(path: Path) -> int:
    chunk = b"\0" * 65536
    written = 0
    with path.open("wb", buffering=0) as file:
        while True:
            try:
                written += file.write(chunk) or 0
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        for size in (4096, 512, 1):  # the last crumbs
            with contextlib.suppress(OSError):
                while True:
                    written += file.write(b"\0" * size) or 0
    return written
