"""One gateway as its own process, settings from `WARDLINK_*`: `python -m benchmarks.replica`.

For the scale-out test and the benchmark, which run one or two of these. Prints `ready <api url>` once the
gateway is subscribed (messages published before that would find no subscriber); when a line arrives on stdin (or
stdin closes) it stops the gateway and prints `counters <json>`: events this replica stored for the first time,
events it found already stored, acks it published, rejections by reason, and its peak memory (VmHWM, kB).
"""

import asyncio
import json
import logging
import sys
from pathlib import Path

from gateway.runtime.collector import settle_collector
from gateway.service import Gateway
from gateway.settings import GatewaySettings


def peak_rss_kb() -> int:
    """The process's peak resident set (Linux), 0 where /proc is missing."""
    status = Path("/proc/self/status")
    if not status.exists():
        return 0
    line = next((ln for ln in status.read_text().splitlines() if ln.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1])


async def serve() -> None:
    async with Gateway(GatewaySettings()) as gateway:
        settle_collector()  # as `wardlink gateway` does
        print(f"ready {gateway.api_url}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        assert gateway.ingest is not None
        counters = gateway.ingest.counters
        report = {
            "accepted": counters.accepted,
            "duplicates": counters.duplicates,
            "acks_published": counters.acks_published,
            "projected": gateway.ingest.projection.counters.projected,
            "rejected": dict(counters.rejected.counts),
            "peak_rss_kb": peak_rss_kb(),
        }
    print(f"counters {json.dumps(report)}", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for noisy in ("amqtt", "transitions", "alembic", "mqtt"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    asyncio.run(serve())
