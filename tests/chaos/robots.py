"""The robots path of a chaos run (`path="robots"`): one VDA 5050 robot (`wardlink sim robot`) on the robots'
broker, the edge its master control (through the proxy's "edge-device" link), and the pharmacy played by the
runner: it dispatches one delivery at a time on the edge's command topic (as the gateway's pharmacy side does), sends
it again while no `delivery.accepted` is stored (commands are QoS 1 on a clean session: one sent while the edge is
down is gone, so the pharmacy asks again, under the same delivery id), and, once `delivery.arrived` is stored,
releases the drawer at the robot with the order's PIN (the nurse at the ward).

The faults land mid-delivery: the runner waits until a delivery is accepted and not finished before each one.
The judge: every delivery with stored events ends `handed_over` (after `arrived`) or `failed` with a reason, never
both, never stuck. The product fails a delivery whose robot came back without its order ("robot dropped the
order") and one whose order the robot never took within the profile's `patience_s` (120 s); it has no timeout
for a robot that stays offline mid-trip, so the runner always restarts a killed robot and judges only that.
"""

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiomqtt

from contract import Topics
from contract.command import DispatchDelivery
from device_profiles import load_profiles
from device_profiles.maps import load_map
from device_profiles.vda5050 import RELEASE_ACTION, Headers, Vda5050Profile
from edge.drivers.vda5050_orders import instant_actions_message
from mqttlink import BrokerAddress
from simulators.one_shot import publish_once
from tests.chaos.invariant import StoredEvent, Verdict

ROBOT_FAULTS = ("kill_edge", "device_reboot", "link_cut")
"""What a robots run injects, each while a delivery is under way: the edge killed (its master control restarts from
the cursor stored with the events), the robot killed (a vehicle power loss: it comes back at a dock without its
order), an MQTT link cut (the edge's to the gateway's broker or to the robots')."""
ROBOT, SERIAL, PROFILE = "robot-1", "MC2-0001", "medicart-mc2"
"""The edge's device id, the simulator's first serial (`wardlink sim robot --count 1`), its profile."""
RESEND_S = 4.0
ENDS = ("delivery.handed_over", "delivery.failed")


@dataclass
class _Delivery:
    delivery: str
    destination: str
    pin: str
    sent_at: float = 0.0
    released_at: float | None = None


@dataclass
class Dispatcher:
    """The pharmacy and the ward's nurse for one run: see the module docstring."""

    broker_port: int
    topic_root: str
    rng: random.Random
    stored: Callable[[], Awaitable[list[StoredEvent]]]
    dispatched: list[str] = field(default_factory=list)
    current: _Delivery | None = None
    _closing: bool = False
    _task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        profile = load_profiles()[PROFILE]
        assert isinstance(profile, Vda5050Profile)
        self.profile = profile
        self.wards = sorted(n.id for n in load_map(profile.map).nodes if n.kind == "ward")
        self.topics = Topics("chaos-hospital", "chaos-edge", self.topic_root)
        self.broker = BrokerAddress.parse(f"mqtt://127.0.0.1:{self.broker_port}")
        self.headers = Headers(profile.manufacturer, SERIAL)
        self.steps: dict[str, list[str]] = {}

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def under_way(self, timeout_s: float) -> bool:
        """Wait until the current delivery is accepted and not finished: a fault injected now lands mid-delivery."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            steps = self.steps.get(self.current.delivery, []) if self.current else []
            if "delivery.accepted" in steps and not any(end in steps for end in ENDS):
                return True
            await asyncio.sleep(0.1)
        return False

    async def finish(self, timeout_s: float) -> bool:
        """Dispatch no more; wait until the delivery under way has ended (True) or the deadline (False)."""
        self._closing = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            if self.current is None:
                return True
            await asyncio.sleep(0.25)
        return False

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(OSError, aiomqtt.MqttError):  # the broker is down (a fault): try again
                await self._step(loop.time())
            await asyncio.sleep(0.25)

    async def _step(self, now: float) -> None:
        self.steps = delivery_steps(await self.stored())
        if self.current is None:
            if self._closing:
                return
            self._next()
        d = self.current
        assert d is not None
        steps = self.steps.get(d.delivery, [])
        if any(end in steps for end in ENDS):
            self.current = None
        elif "delivery.arrived" in steps:
            if d.released_at is None or now - d.released_at >= RESEND_S:
                d.released_at = now
                await self._release(d)
        elif "delivery.accepted" not in steps and now - d.sent_at >= RESEND_S:
            d.sent_at = now
            await self._dispatch(d)

    def _next(self) -> None:
        last = self.current.destination if self.current else None
        number = len(self.dispatched) + 1
        destination = self.rng.choice([w for w in self.wards if w != last])
        delivery = _Delivery(f"D-CHAOS-{number:03d}", destination, f"{self.rng.randrange(10_000):04d}", -RESEND_S)
        self.dispatched.append(delivery.delivery)
        self.current = delivery

    async def _dispatch(self, d: _Delivery) -> None:
        command = DispatchDelivery(
            id=uuid.uuid4(),
            requested_by="pharmacy-system",
            requested_at=datetime.now(UTC),
            delivery=d.delivery,
            destination=d.destination,
            drawer=self.profile.drawers[0],
            release_pin=d.pin,
        )
        await publish_once(self.broker, self.topics.command(ROBOT), command.model_dump_json().encode(), qos=1)

    async def _release(self, d: _Delivery) -> None:
        params = {"drawer": self.profile.drawers[0], "pin": d.pin}
        message = instant_actions_message(self.headers, (RELEASE_ACTION, f"release-{uuid.uuid4().hex[:8]}", params))
        topic = self.profile.topic(SERIAL, "instantActions")
        await publish_once(self.broker, topic, json.dumps(message).encode(), qos=0)


def delivery_steps(events: list[StoredEvent]) -> dict[str, list[str]]:
    """delivery id -> the types of its stored events, in the edge's order."""
    steps: dict[str, list[str]] = {}
    for event in sorted(events, key=lambda e: e.seq):
        if event.type.startswith("delivery."):
            steps.setdefault(event.subject_id, []).append(event.type)
    return steps


def judge_deliveries(events: list[StoredEvent]) -> list[str]:
    """What is wrong with the stored deliveries' ends: one line per delivery that did not end consistently."""
    problems = []
    reasons = {e.subject_id: json.loads(e.data).get("reason") for e in events if e.type == "delivery.failed"}
    for delivery, steps in delivery_steps(events).items():
        ends = [s for s in steps if s in ENDS]
        if not ends:
            problems.append(f"delivery {delivery} never ended: last stored step {steps[-1]}")
        elif len(ends) > 1 or steps[-1] != ends[0]:
            problems.append(f"delivery {delivery} has steps after its end: {', '.join(steps)}")
        elif ends[0] == "delivery.handed_over" and "delivery.arrived" not in steps:
            problems.append(f"delivery {delivery} handed over but never arrived: {', '.join(steps)}")
        elif ends[0] == "delivery.failed" and not reasons.get(delivery):
            problems.append(f"delivery {delivery} failed without a reason")
    return problems


def judge_robots(verdict: Verdict, dispatcher: Dispatcher, ended: bool, events: list[StoredEvent]) -> None:
    """Add the deliveries' judgement to the run's verdict: the inconsistent ones fail the run."""
    problems = judge_deliveries(events)
    if not ended:
        current = dispatcher.current.delivery if dispatcher.current else "?"
        problems.append(f"delivery {current} did not end before the deadline")
    verdict.inconsistent = len(problems)
    verdict.problems.extend(problems)
    for steps in delivery_steps(events).values():
        end = next((s for s in steps if s in ENDS), "unfinished")
        verdict.deliveries[end] = verdict.deliveries.get(end, 0) + 1
