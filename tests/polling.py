"""Wait for a condition with a bounded deadline: never sleep-and-hope, never assert wall-clock speed."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], *, timeout_s: float = 60) -> T:
    """Call `probe` until `accept(result)`; on timeout fail with the last result so the reason is visible."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        result = await probe()
        if accept(result):
            return result
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s; last result: {result!r}"[:2000])
        await asyncio.sleep(0.2)
