"""The edge's idea of now, for the timestamps it gives observations itself.

Most events carry the device's own time (a mailbox record, a robot's state, a cabinet's message); the edge
stamps the rest: device online/offline, watched status and faults, an unlock it refused, its birth/death
`since`, a dead letter's `received_at`, telemetry the device sends without a time. On a real site that is the
wall clock; a simulation playing a day faster than real (the demo) passes its own clock, so the edge's stamps
fall on the same simulated day as the devices'. Timers that measure real elapsed time (resends, heartbeats,
backoff, poll intervals) stay on the wall or loop clock whatever this is.
"""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns an aware UTC datetime."""


def utc_now() -> datetime:
    return datetime.now(UTC)
