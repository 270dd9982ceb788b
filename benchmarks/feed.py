"""Fake edges for the scale-out test and the benchmark: gateway replicas as processes, and a publisher that sends
pre-built envelopes as the edges would (QoS 1) and waits until the gateways acknowledge every id."""

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

from contract import Ack, Event, Topics
from contract.envelope import envelope_messages
from mqttlink import MqttLink, Subscription

REPO = Path(__file__).resolve().parent.parent
QUIET = logging.getLogger("benchmarks.edges")
QUIET.setLevel(logging.ERROR)  # aiomqtt warns about every publish beyond its first few hundred in flight
PUBLISH_WINDOW = 1000
"""QoS 1 publishes in flight (unacknowledged by the broker) per client; paho's default of 20 would make the fake
edges, not the gateway, the limit (an edge's uplink sets its own, `edge.uplink`)."""


@dataclass
class Replica:
    process: subprocess.Popen[str]
    api_url: str
    counters: dict[str, Any] = field(default_factory=dict)

    async def stop(self) -> dict[str, Any]:
        """Stop the gateway and return its counters (see `benchmarks.replica`); the event loop keeps running (an
        embedded broker in this process must keep serving the gateway while it disconnects)."""
        out, _ = await asyncio.to_thread(self.process.communicate, "stop\n", 60)
        lines = [line for line in out.splitlines() if line.startswith("counters ")]
        if not lines:
            raise RuntimeError(f"the replica printed no counters (exit {self.process.returncode}): {out!r}")
        self.counters = json.loads(lines[-1].removeprefix("counters "))
        return self.counters


@asynccontextmanager
async def replicas(count: int, env: dict[str, str]) -> AsyncIterator[list[Replica]]:
    """`count` gateway processes with the `WARDLINK_*` settings in `env`, each subscribed when this yields."""
    started: list[Replica] = []
    try:
        for _ in range(count):
            process = subprocess.Popen(  # noqa: ASYNC220 - spawning does not block; every wait is in a thread
                [sys.executable, "-m", "benchmarks.replica"],
                cwd=REPO,
                env={**os.environ, **env},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert process.stdout is not None
            line = await asyncio.to_thread(process.stdout.readline)  # the loop may be serving the broker
            if not line.startswith("ready "):
                process.kill()
                raise RuntimeError(f"a gateway replica did not start (exit {process.wait()}): {line!r}")
            started.append(Replica(process, line.split()[1]))
        yield started
    finally:
        for replica in started:
            if replica.process.poll() is None:
                replica.process.kill()
                replica.process.wait()


def as_messages(payloads: list[tuple[str, bytes]], per_message: int) -> list[tuple[str, bytes]]:
    """(topic, envelope) pairs as messages: each alone, or each topic's envelopes (in order) in JSON arrays of up
    to `per_message`, as each edge would send its own."""
    if per_message == 1:
        return payloads
    by_topic: dict[str, list[bytes]] = defaultdict(list)
    for topic, body in payloads:
        by_topic[topic].append(body)
    return [(topic, m) for topic, bodies in by_topic.items() for m in envelope_messages(bodies, per_message)]


def mqtt_link(
    url: str,
    protocol: aiomqtt.ProtocolVersion = aiomqtt.ProtocolVersion.V5,
    subscriptions: Iterable[Subscription] = (),
) -> MqttLink:
    """A fake edges' link: `PUBLISH_WINDOW` publishes in flight, and quiet about them."""
    return MqttLink(
        url,
        subscriptions=subscriptions,
        protocol=protocol,
        max_queued_incoming_messages=0,
        max_inflight_messages=PUBLISH_WINDOW,
        logger=QUIET,
    )


async def publish_until_acked(
    url: str,
    root: str,
    stream: list[Event],
    *,
    rate_per_s: float | None = None,
    timeout_s: float = 600,
    on_sent: Callable[[Event, float], None] | None = None,
    v5: bool = True,
    resend_after_s: float = 10.0,
    max_in_flight: int = 900,
    resent: list[int] | None = None,
    events_per_message: int = 1,
) -> dict[str, float]:
    """Publish `stream` (as fast as it goes, or paced at `rate_per_s`) and return once every id is acknowledged:
    {id: seconds from its publish to its first ack}. `on_sent(event, perf_counter)` is called as each is sent.
    MQTT 5 by default (as replicas sharing a subscription use); `v5=False` for the embedded broker. Like an edge,
    it publishes again what is not acknowledged `resend_after_s` later; `resent[0]` counts those messages. At most
    `max_in_flight` events are published and not yet acknowledged: a broker drops QoS 1 messages beyond a
    subscriber's queue limit (Mosquitto: `max_queued_messages`, 1,000 by default), and an edge's outbox would
    resend them, but a benchmark should measure the gateway, not that loss and the resend timer. With
    `events_per_message` above 1, consecutive events of one edge go as JSON arrays of up to that many (as an
    edge's `events_per_message` sends them), and the in-flight bound counts messages."""
    resent = resent if resent is not None else [0]
    edges = {(e.site, e.edge): Topics(e.site, e.edge, root) for e in stream}
    payloads = [(edges[(e.site, e.edge)].events, e.model_dump_json().encode()) for e in stream]
    sent_at: dict[str, float] = {}
    latency: dict[str, float] = {}
    waiting = {str(e.id) for e in stream}
    progress = asyncio.Event()
    # Messages in flight stay below the broker's queue; as events, below what a gateway acks within the resend timer.
    in_flight = min(max_in_flight * events_per_message, 10_000) if events_per_message > 1 else max_in_flight
    window = 500 * events_per_message if rate_per_s is None else max(1, int(rate_per_s / 50))  # paced: every 20 ms
    protocol = aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311
    acks = [Subscription(topics.ack, qos=1) for topics in edges.values()]
    async with mqtt_link(url, protocol, acks) as link:

        async def publish() -> None:
            began = time.perf_counter()
            for start in range(0, len(payloads), window):
                if rate_per_s is not None:
                    due = began + start / rate_per_s
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                while len(sent_at) - len(latency) >= in_flight:
                    progress.clear()
                    await progress.wait()
                stamp = time.perf_counter()
                for event in stream[start : start + window]:
                    sent_at.setdefault(str(event.id), stamp)
                    if on_sent is not None:
                        on_sent(event, stamp)
                messages = as_messages(payloads[start : start + window], events_per_message)
                await asyncio.gather(*(link.publish(t, body, qos=1) for t, body in messages))
            # As the edge's outbox does: what is not acknowledged after `resend_after_s` goes again.
            while waiting:
                await asyncio.sleep(resend_after_s)
                again = [i for i, e in enumerate(stream) if str(e.id) in waiting]
                resent[0] += len(again)
                for start in range(0, len(again), 500):
                    messages = as_messages([payloads[i] for i in again[start : start + 500]], events_per_message)
                    await asyncio.gather(*(link.publish(t, body, qos=1) for t, body in messages))

        publishing = asyncio.create_task(publish())
        try:
            async with asyncio.timeout(timeout_s):
                async for message in link.messages:
                    arrived = time.perf_counter()
                    progress.set()
                    for event_id in Ack.model_validate_json(message.payload).ids:
                        key = str(event_id)
                        if key in waiting:
                            waiting.discard(key)
                            latency[key] = arrived - sent_at[key]
                    if not waiting:
                        break
        except TimeoutError:
            raise TimeoutError(
                f"{len(waiting):,} of {len(latency) + len(waiting):,} events not acknowledged within {timeout_s:g} s"
                f" ({len(sent_at):,} published)"
            ) from None
        finally:
            publishing.cancel()
            await asyncio.gather(publishing, return_exceptions=True)
    return latency
