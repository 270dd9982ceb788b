"""Seeded, realistic tube-system traffic: the same seed always gives the same carriers.

About 60 % of carriers take specimens from the wards, ED, OR, ICU and oncology to the lab (1-6 barcodes
each); pharmacy sends medication to the wards (a third of it secure); the blood bank sends blood products
(half of them secure) and the lab returns empty carriers. About 5 % travel STAT. A secure carrier is released
by a badge (`B` + 6 digits) a while after it arrives. `run_tubes` (`wardlink sim tubes`) serves a tube system
and sends it such traffic until cancelled.
"""

import asyncio
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass

from device_profiles import ModbusProfile, load_profiles
from simulators.clinical.barcode import lab_barcode
from simulators.tubes.controller import Priority, TubeSystemSimulator
from simulators.tubes.network import TubeNetwork

log = logging.getLogger(__name__)

LAB = "lab"
PHARMACY = "pharmacy"
BLOOD_BANK = "blood-bank"
STAT_SHARE = 0.05
SPECIMEN_SHARE = 0.60
CARRIERS_PER_STATION = 4
RELEASE_BADGES = range(100_000, 100_200)
"""Numbers of the badges that release secure carriers (B100000 ...): a roster the demo's reference data names."""


@dataclass(frozen=True)
class Dispatch:
    """One carrier to send, and who releases it if secure (after `release_after_s` of device time)."""

    from_station: str
    to_station: str
    priority: Priority
    secure: bool
    specimens: tuple[str, ...]
    badge: str | None = None
    release_after_s: float = 0.0


def carrier_ids(network: TubeNetwork, per_station: int = CARRIERS_PER_STATION) -> list[str]:
    """RFID tag ids of the system's carriers (16 hex characters, like an EPC prefix plus a serial)."""
    return [f"E2801160{n:08X}" for n in range(1, len(network.stations) * per_station + 1)]


def free_carrier(sim: TubeSystemSimulator, rng: random.Random) -> str | None:
    """A carrier of `sim` that is neither on its way nor waiting for release, drawn with `rng`; None if all are out."""
    busy = {t.carrier for t in sim.trips.values() if t.state != "done"}
    free = [c for c in carrier_ids(sim.network) if c not in busy]
    return rng.choice(free) if free else None


def dispatches(seed: int, network: TubeNetwork, count: int | None = None) -> Iterator[Dispatch]:
    """Carriers in dispatch order, drawn from the hospital's mix."""
    rng = random.Random(seed)
    stations = list(network.stations)
    senders = [s for s in stations if s not in (LAB, PHARMACY, BLOOD_BANK)] or stations
    wards = [s for s in stations if s != LAB] or stations
    specimen = rng.randrange(10_000_000, 60_000_000)
    produced = 0
    while count is None or produced < count:
        draw = rng.random()
        secure = False
        specimens: tuple[str, ...] = ()
        if draw < SPECIMEN_SHARE and LAB in network.stations:
            origin, target = rng.choice(senders), LAB
            tubes = rng.choices(range(1, 7), weights=(30, 25, 20, 12, 8, 5))[0]
            numbers = []
            for _ in range(tubes):
                specimen += rng.randint(1, 3)
                numbers.append(specimen)
            specimens = tuple(lab_barcode(n % 100_000_000) for n in numbers)
        elif draw < 0.85 and PHARMACY in network.stations:
            origin, target = PHARMACY, rng.choice([s for s in senders if s != PHARMACY] or wards)
            secure = rng.random() < 1 / 3
        elif draw < 0.92 and BLOOD_BANK in network.stations:
            origin, target = BLOOD_BANK, rng.choice([s for s in ("or", "icu", "ed") if s in stations] or wards)
            secure = rng.random() < 0.5
        else:
            origin = LAB if LAB in network.stations else rng.choice(stations)
            target = rng.choice([s for s in stations if s != origin])
        if origin == target:
            continue
        priority: Priority = "stat" if rng.random() < STAT_SHARE else "normal"
        badge = f"B{RELEASE_BADGES[rng.randrange(100_000, 999_999) % len(RELEASE_BADGES)]}" if secure else None
        yield Dispatch(origin, target, priority, secure, specimens, badge, round(rng.uniform(20, 180), 1))
        produced += 1


async def run_traffic(sim: TubeSystemSimulator, rate_per_min: float, seed: int, count: int | None = None) -> int:
    """Send `count` carriers (None: until cancelled) at `rate_per_min` of real time; returns how many were sent."""
    if rate_per_min <= 0:
        raise ValueError("rate_per_min must be > 0")
    loop = asyncio.get_running_loop()
    interval = 60.0 / rate_per_min
    free = carrier_ids(sim.network)
    releases: set[asyncio.Task[None]] = set()
    sent = 0
    due = loop.time()
    try:
        for dispatch in dispatches(seed, sim.network, count):
            busy = {t.carrier for t in sim.trips.values() if t.state != "done"}
            carrier = next((c for c in free if c not in busy), None)
            if carrier is None:  # every carrier is out: wait for one to come back
                await asyncio.sleep(interval)
                continue
            free.remove(carrier)
            free.append(carrier)  # least recently used first
            trip = await sim.send(
                carrier,
                dispatch.from_station,
                dispatch.to_station,
                priority=dispatch.priority,
                secure=dispatch.secure,
                specimens=dispatch.specimens,
            )
            if dispatch.secure and dispatch.badge:
                task = asyncio.create_task(_release(sim, trip.transaction, dispatch))
                releases.add(task)
                task.add_done_callback(releases.discard)
            sent += 1
            due = max(due + interval, loop.time())
            await asyncio.sleep(due - loop.time())
    finally:
        for task in releases:
            task.cancel()
    return sent


async def _release(sim: TubeSystemSimulator, transaction: int, dispatch: Dispatch) -> None:
    trip = sim.trips[transaction]
    await trip.arrived.wait()
    await asyncio.sleep(dispatch.release_after_s / sim.speed)
    assert dispatch.badge is not None
    await sim.present_badge(trip.to_station, dispatch.badge)


async def run_tubes(profile_name: str, host: str, port: int, rate_per_min: float, seed: int, speed: float) -> None:
    """Serve a tube system on host:port and send seeded traffic at `rate_per_min` until cancelled.

    `speed` compresses device time: 60 makes a two-minute trip take two seconds.
    """
    profiles = load_profiles()
    if profile_name not in profiles:
        raise ValueError(f"unknown profile {profile_name!r} (known: {', '.join(sorted(profiles))})")
    profile = profiles[profile_name]
    if not isinstance(profile, ModbusProfile) or profile.mailbox is None:
        raise ValueError(f"profile {profile_name!r} is not a Modbus device with a mailbox")
    async with TubeSystemSimulator(profile, host=host, port=port, speed=speed) as sim:
        log.info(
            "%d stations in %d zones; sending %.1f carriers/min (seed %d, speed x%g)",
            len(sim.network.stations),
            len(sim.network.zones),
            rate_per_min,
            seed,
            speed,
        )
        if rate_per_min > 0:
            await run_traffic(sim, rate_per_min, seed)
        await asyncio.Event().wait()
