"""A subscriber that does nothing with QoS 1 messages, in its own process as a gateway is: the baseline row.

    python -m benchmarks.bare_subscriber URL TOPIC COUNT [latency]

Prints `ready` once subscribed, then, after COUNT messages, `rate <messages/s from the first to the last>`; with
`latency`, `latencies <JSON list of seconds>` instead: each message's arrival minus the `time.perf_counter()` its
publisher wrote as the payload's first line (CLOCK_MONOTONIC, one clock for every process on the machine), the
baseline beside the gateway's publish -> queryable.
"""

import asyncio
import json
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


async def message_latencies(url: str, topic: str, count: int) -> list[float]:
    """Seconds from each message's publish (stamped in its payload) to its arrival here, in arrival order."""
    async with MqttLink(url, subscriptions=[Subscription(topic, qos=1)]) as link:
        print("ready", flush=True)
        seconds: list[float] = []
        async for message in link.messages:
            arrived = time.perf_counter()
            payload = message.payload
            assert isinstance(payload, bytes)
            seconds.append(arrived - float(payload.split(b"\n", 1)[0]))
            if len(seconds) == count:
                break
        return seconds


if __name__ == "__main__":
    url, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if sys.argv[4:] == ["latency"]:
        print(f"latencies {json.dumps(asyncio.run(message_latencies(url, topic, count)))}", flush=True)
    else:
        print(f"rate {asyncio.run(count_messages(url, topic, count))}", flush=True)
