"""Gather queued items into batches: up to `size` items, or whatever arrived within `wait_s` of the first."""

import asyncio
from typing import TypeVar

T = TypeVar("T")


async def next_batch(queue: asyncio.Queue[T], size: int, wait_s: float) -> list[T]:
    """Wait for one item, then take more until the batch is full or `wait_s` has passed."""
    batch = [await queue.get()]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while len(batch) < size:
        if not queue.empty():
            batch.append(queue.get_nowait())
            continue
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation (gateway stop).
            async with asyncio.timeout(remaining):
                batch.append(await queue.get())
        except TimeoutError:
            break
    return batch
