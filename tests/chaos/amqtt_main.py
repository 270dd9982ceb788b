"""The embedded amqtt broker as its own process (`python -m tests.chaos.amqtt_main PORT`), so kill -9 is real."""

import asyncio
import logging
import sys

from wardlink.broker import EmbeddedBroker


async def _serve(port: int) -> None:
    async with EmbeddedBroker(port=port):
        await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve(int(sys.argv[1])))
