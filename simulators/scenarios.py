"""Seeded, realistic tube streams for the sorter simulator: the same seed always gives the same tubes."""

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass

from simulators.sorter import SorterSimulator
from simulators.tube import ERROR_LANE, RackFiller, Rejected, Sorted, Tube

LANE_WEIGHTS = (30, 20, 15, 10, 10, 5, 5, 5)
"""Output lanes 1..8 by share of the workload (chemistry first, then haematology, coagulation, ...)."""


@dataclass(frozen=True)
class StreamMix:
    """Share of tubes per reject reason; the rest are sorted."""

    unknown_order: float = 0.015
    no_read: float = 0.01
    rack_full: float = 0.005


def check_digit(digits: str) -> int:
    """Luhn (mod 10) check digit of a digit string."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2 == 0:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return (10 - total % 10) % 10


def lab_barcode(number: int) -> str:
    """`S` + 8-digit specimen number + check digit, as a lab system labels tubes (no patient data)."""
    if not 0 <= number <= 99_999_999:
        raise ValueError(f"specimen number {number} does not fit 8 digits")
    digits = f"{number:08d}"
    return f"S{digits}{check_digit(digits)}"


def is_lab_barcode(value: str) -> bool:
    return len(value) == 10 and value[0] == "S" and value[1:].isdigit() and check_digit(value[1:9]) == int(value[9])


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
