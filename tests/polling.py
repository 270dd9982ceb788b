"""Wait for a condition with a bounded deadline: never sleep-and-hope, never assert wall-clock speed."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Iterable
    from uuid import UUID

    from gateway.composition.stores import Stores

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], Any] = bool,
    *,
    what: str = "the condition",
    timeout_s: float = 60,
) -> T:
    """Call `probe` until `accept(result)` holds and return that result; on timeout fail with the last result."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        result = await probe()
        if accept(result):
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; last: {result!r}"[:2000])
        await asyncio.sleep(0.05)


async def until_projected(store: "Stores", ids: "Iterable[UUID]", *, timeout_s: float = 60) -> None:
    """Wait until these stored events are in the projections (out of the store's projection backlog)."""
    wanted = list(ids)

    async def waiting() -> set["UUID"]:
        return await store.projection.unprojected(wanted)

    await eventually(
        waiting, lambda left: not left, what=f"{len(wanted)} stored events to be projected", timeout_s=timeout_s
    )
