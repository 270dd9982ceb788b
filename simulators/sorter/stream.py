"""Seeded, realistic tube streams for the sorter simulator: the same seed always gives the same tubes.

`run_sorter` (`wardlink sim sorter`) serves a sorter and feeds it such a stream until cancelled.
"""

import asyncio
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass

from device_profiles import ModbusProfile, load_profiles
from simulators.clinical.barcode import lab_barcode
from simulators.sorter.device import SorterSimulator
from simulators.sorter.tube import ERROR_LANE, RackFiller, Rejected, Sorted, Tube

log = logging.getLogger(__name__)

LANE_WEIGHTS = (30, 20, 15, 10, 10, 5, 5, 5)
"""Output lanes 1..8 by share of the workload (chemistry first, then haematology, coagulation, ...)."""


@dataclass(frozen=True)
class StreamMix:
    """Share of tubes per reject reason; the rest are sorted."""

    unknown_order: float = 0.015
    no_read: float = 0.01
    rack_full: float = 0.005


def tubes(
    seed: int, count: int | None = None, *, mix: StreamMix | None = None, positions_per_rack: int = 50
) -> Iterator[Tube]:
    """Tubes in induction order: unique barcodes, lanes by workload, racks filling up position by position."""
    mix = mix or StreamMix()
    rng = random.Random(seed)
    number = rng.randrange(10_000_000, 60_000_000)
    racks = RackFiller(positions_per_rack)
    inputs = RackFiller(positions_per_rack)
    lanes = range(1, len(LANE_WEIGHTS) + 1)
    produced = 0
    while count is None or produced < count:
        number += rng.randint(1, 3)
        input_rack, input_position = inputs.next(0)
        draw = rng.random()
        if draw < mix.unknown_order:
            outcome: Sorted | Rejected = Rejected("unknown_order", ERROR_LANE)
        elif draw < mix.unknown_order + mix.no_read:
            outcome = Rejected("no_read", ERROR_LANE)
        elif draw < mix.unknown_order + mix.no_read + mix.rack_full:
            outcome = Rejected("rack_full", ERROR_LANE)
        else:
            lane = rng.choices(lanes, weights=LANE_WEIGHTS)[0]
            outcome = Sorted(lane, *racks.next(lane))
        transit = round(rng.uniform(0.8, 1.6), 3)
        yield Tube(lab_barcode(number % 100_000_000), outcome, input_rack, input_position, transit)
        produced += 1


async def run_stream(sim: SorterSimulator, rate_per_s: float, seed: int, count: int | None) -> None:
    """Induct `count` tubes of `tubes(seed)` (None: until cancelled) at `rate_per_s`; `sim.inducted` counts them."""
    if rate_per_s <= 0:
        raise ValueError("rate_per_s must be > 0")
    loop = asyncio.get_running_loop()
    interval = 1.0 / rate_per_s
    due = loop.time()
    for tube in tubes(seed, count):
        await sim.induct(tube)  # waits while the mailbox is full: the sorter pauses, it never drops a tube
        due = max(due + interval, loop.time())  # after a pause, carry on at the rate instead of bursting
        await asyncio.sleep(due - loop.time())


async def run_sorter(profile_name: str, host: str, port: int, rate_per_s: float, seed: int) -> None:
    """Serve a sorter on host:port and feed it a seeded tube stream at `rate_per_s` until cancelled."""
    profiles = load_profiles()
    if profile_name not in profiles:
        raise ValueError(f"unknown profile {profile_name!r} (known: {', '.join(sorted(profiles))})")
    profile = profiles[profile_name]
    if not isinstance(profile, ModbusProfile) or profile.mailbox is None:
        raise ValueError(f"profile {profile_name!r} is not a Modbus device with a mailbox")
    async with SorterSimulator(profile, host=host, port=port) as sim:
        box = profile.mailbox
        log.info(
            "mailbox block %s %d-%d, ack %s; feeding %.2f tubes/s (seed %d)",
            box.table,
            box.address,
            box.address + box.count - 1,
            profile.resource(box.ack).where,
            rate_per_s,
            seed,
        )
        if rate_per_s > 0:
            await run_stream(sim, rate_per_s, seed, None)
        await asyncio.Event().wait()  # a finite stream ends; keep serving until cancelled
