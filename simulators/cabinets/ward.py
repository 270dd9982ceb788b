"""A ward's day at its medication cabinets: nurses taking and returning items, pharmacy restock rounds.

`run_cabinets(profile_name, broker_url, count, seed, speed)` runs `count` simulated cabinets of that model (any
the simulator has a dialect for: the MV-40, the PP-7) until it is cancelled (the `wardlink sim cabinets` command
and the demo). Seeded: the same seed gives the same cabinets, badges and choices; times are simulated and run
`speed` times faster than real time.
"""

import asyncio
import logging
import random
from dataclasses import dataclass
from pathlib import Path

from device_profiles import PROFILES_DIR, MqttJsonProfile, load_profiles
from simulators.cabinets.cabinet import CabinetError, CabinetSimulator
from simulators.cabinets.dialects import dialect_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WardPattern:
    """How busy one cabinet is (simulated time)."""

    accesses_per_hour: float = 6.0
    unknown_badge_share: float = 0.02
    """Accesses by a badge the cabinet does not know (access denied)."""
    left_open_share: float = 0.03
    """Accesses after which the door is left open past the door-ajar limit."""
    return_share: float = 0.1
    override_share: float = 0.05
    """Removals without a medication order (an override: the discrepancy pharmacy reviews)."""
    restock_every_h: float = 8.0


def medication_order(rng: random.Random, override_share: float) -> str | None:
    """The medication order a nurse takes an item for (`MO-` + 7 digits); None for an override."""
    return None if rng.random() < override_share else f"MO-{rng.randrange(1_000_000, 9_999_999)}"


async def nurse_access(cabinet: CabinetSimulator, rng: random.Random, pattern: WardPattern) -> None:
    """One visit: badge in, take one to three items against orders (now and then an override), close the door."""
    if rng.random() < pattern.unknown_badge_share:
        await cabinet.open_door(f"N-{rng.randint(100_000, 999_999)}")  # not enrolled: access denied
        return
    badge = rng.choice(cabinet.nurses)
    if not await cabinet.open_door(badge):
        return
    taken: list[str] = []
    for _ in range(rng.randint(1, 3)):
        stocked = [b for b, line in cabinet.stock.items() if line.quantity > 0 and not b.startswith("F")]
        if not stocked:
            break
        bin_id = rng.choice(stocked)
        quantity = min(rng.choice((1, 1, 1, 2)), cabinet.stock[bin_id].quantity)
        await cabinet.remove(bin_id, quantity, badge, order_id=medication_order(rng, pattern.override_share))
        taken.append(bin_id)
        await asyncio.sleep(cabinet.real_seconds(rng.uniform(5, 20)))
    if taken and rng.random() < pattern.return_share:
        await cabinet.return_item(taken[-1], 1, badge)
    held = cabinet.door_ajar_after_s + 60 if rng.random() < pattern.left_open_share else rng.uniform(10, 60)
    await asyncio.sleep(cabinet.real_seconds(held))
    await cabinet.close_door(badge)


async def restock_round(cabinet: CabinetSimulator, rng: random.Random) -> None:
    """A pharmacy technician fills every bin below half its par back to par, then the cabinet reports its stock."""
    badge = rng.choice(cabinet.pharmacy)
    if not await cabinet.open_door(badge):
        return
    for bin_id, line in list(cabinet.stock.items()):
        if line.quantity * 2 < line.par:
            await cabinet.restock(bin_id, line.par - line.quantity, badge)
            await asyncio.sleep(cabinet.real_seconds(rng.uniform(3, 10)))
    await cabinet.close_door(badge)
    await cabinet.inventory()


async def _ward(cabinet: CabinetSimulator, rng: random.Random, pattern: WardPattern) -> None:
    next_round = pattern.restock_every_h * 3600
    elapsed = 0.0
    while True:
        wait = rng.expovariate(pattern.accesses_per_hour / 3600)
        await asyncio.sleep(cabinet.real_seconds(wait))
        elapsed += wait
        try:
            if elapsed >= next_round:
                next_round += pattern.restock_every_h * 3600
                await restock_round(cabinet, rng)
            else:
                await nurse_access(cabinet, rng, pattern)
        except CabinetError as exc:  # powered off by a fault, or the door was left open by someone else
            log.debug("cabinet %s: visit skipped: %s", cabinet.topic_id, exc)


def cabinet_ids(count: int, prefix: str = "MV40") -> list[str]:
    """The vendor cabinet keys the simulated cabinets use as `topic_id`: MV40-0001, MV40-0002, ..."""
    return [f"{prefix}-{i:04d}" for i in range(1, count + 1)]


async def run_cabinets(
    profile_name: str,
    broker_url: str,
    count: int,
    seed: int,
    speed: float,
    *,
    profiles_dir: Path = PROFILES_DIR,
    topic_prefix: str | None = None,
    pattern: WardPattern | None = None,
    inventory_every_s: float | None = 3600.0,
) -> None:
    """Run `count` cabinets on the broker at `broker_url` with simulated ward activity, until cancelled.

    Each reports its full inventory when it connects and then every `inventory_every_s` simulated seconds. Their
    keys are `{topic_prefix}-0001`, ... (default: the model's own prefix, MV40 or PP7).
    """
    profile = load_profiles(profiles_dir).get(profile_name)
    if not isinstance(profile, MqttJsonProfile):
        raise ValueError(f"{profile_name!r} is not an mqtt-json cabinet profile in {profiles_dir}")
    pattern = pattern or WardPattern()
    prefix = topic_prefix or dialect_for(profile).key_prefix
    cabinets = [
        CabinetSimulator(
            profile, topic_id, broker_url, seed=seed * 1000 + i, speed=speed, inventory_every_s=inventory_every_s
        )
        for i, topic_id in enumerate(cabinet_ids(count, prefix), start=1)
    ]
    tasks: list[asyncio.Task[None]] = []
    try:
        for i, cabinet in enumerate(cabinets):
            await cabinet.start()
            tasks.append(asyncio.create_task(_ward(cabinet, random.Random(seed * 7919 + i), pattern)))
        log.info("%d %s cabinet(s) on %s (seed %d, speed x%g)", count, profile_name, broker_url, seed, speed)
        await asyncio.Event().wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(cabinet.stop() for cabinet in cabinets), return_exceptions=True)
