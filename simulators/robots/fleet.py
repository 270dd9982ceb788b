"""A fleet of simulated VDA 5050 robots on one broker, for `wardlink sim robot` and the compose site."""

import asyncio
import contextlib
import logging
import random
from typing import Any

from device_profiles import load_profiles
from device_profiles.maps import load_map
from device_profiles.vda5050 import Vda5050Profile
from simulators.robots.robot import RobotSimulator

log = logging.getLogger(__name__)


async def run_robots(
    profile_name: str,
    broker_url: str,
    count: int = 1,
    seed: int = 1,
    speed: float = 1.0,
    *,
    profiles: dict[str, Any] | None = None,
    serial_prefix: str = "MC2",
) -> None:
    """A fleet of `count` robots (serials `{prefix}-0001`...) on the profile's map, until cancelled.

    Seeded: the same seed gives each robot the same start node (a charger or the pharmacy) and battery charge.
    """
    if profiles is None:
        profiles = load_profiles()
    profile = profiles[profile_name]
    if not isinstance(profile, Vda5050Profile):
        raise ValueError(f"profile {profile_name!r} is not a VDA 5050 robot (protocol {profile.protocol!r})")
    graph = load_map(profile.map)
    rng = random.Random(seed)
    homes = [n.id for n in graph.nodes if n.kind in ("charger", "pharmacy")] or [graph.nodes[0].id]
    robots = [
        RobotSimulator(
            profile,
            graph,
            f"{serial_prefix}-{i + 1:04d}",
            broker_url,
            speed=speed,
            start_node=rng.choice(homes),
            battery_pct=round(rng.uniform(60, 100), 1),
        )
        for i in range(count)
    ]
    async with contextlib.AsyncExitStack() as stack:
        for robot in robots:
            await stack.enter_async_context(robot)
        log.info("%d robot(s) of %s online on %s (x%g time)", count, profile_name, robots[0].broker, speed)
        await asyncio.Event().wait()
