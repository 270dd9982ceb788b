"""N sorter simulators (Modbus TCP servers) in one process, for the edge-capacity benchmark:
`python -m benchmarks.sorter_farm N`.

Prints `ports <p1,p2,...>` once all serve; on each `count` line on stdin prints `reads <n>`, the watch reads
(one per poll of a device's status block) served so far by all of them; ends on `stop` or when stdin closes.
"""

import asyncio
import sys
from contextlib import AsyncExitStack
from typing import Any

from device_profiles import ModbusProfile, load_profiles
from simulators.sorter.device import SorterSimulator


class CountingSorter(SorterSimulator):
    """A sorter simulator that counts the watch reads it serves (status and counters; not the mailbox)."""

    reads = 0

    async def _on_access(self, function_code: int, start_address: int, address: int, count: int, *rest: Any) -> Any:
        box = self.profile.mailbox
        if rest[-1] is None and (box is None or address != box.address):  # a read (no set values) of the watch
            CountingSorter.reads += 1
        return await super()._on_access(function_code, start_address, address, count, *rest)


async def serve(count: int) -> None:
    profile = load_profiles()["acme-sorter-s100"]
    assert isinstance(profile, ModbusProfile)
    async with AsyncExitStack() as stack:
        sims = [await stack.enter_async_context(CountingSorter(profile)) for _ in range(count)]
        print("ports " + ",".join(str(s.port) for s in sims), flush=True)
        loop = asyncio.get_running_loop()
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if line != "count":
                return
            print(f"reads {CountingSorter.reads}", flush=True)


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
