"""A subscriber that does nothing with QoS 1 messages, in its own process as a gateway is: the baseline row.

    python -m benchmarks.bare_subscriber URL TOPIC COUNT

Prints `ready` once subscribed, then, after COUNT messages, `rate <messages/s from the first to the last>`.
"""

import asyncio
import sys
import time

from mqttlink import MqttLink, Subscription


async def count_messages(url: str, topic: str, count: int) -> float:
    async with MqttLink(url, subscriptions=[Subscription(topic, qos=1)]) as link:
        print("ready", flush=True)
        received, first = 0, 0.0
        async for _ in link.messages:
            received += 1
            if received == 1:
                first = time.perf_counter()
            if received == count:
                break
        return (count - 1) / (time.perf_counter() - first)


if __name__ == "__main__":
    url, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print(f"rate {asyncio.run(count_messages(url, topic, count))}", flush=True)
