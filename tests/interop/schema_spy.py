"""A bystander on the broker that checks every VDA 5050 message either side sends against the official schema.

It subscribes to `{interface}/#` and keeps, for the vehicles it is told to watch, every message on their topics:
master control's `order` and `instantActions`, the vehicle's `state`, `visualization`, `connection` and
`factsheet`. Each is validated with `jsonschema` against the official schema of the version its own header
names (2.0.0: device_profiles/vda5050_schemas/v2_0/, 2.1.0: device_profiles/vda5050_schemas/), so neither
side's own checks are trusted. Anything that is not JSON, names no known version, or breaks its schema becomes
a `Violation`; a test asserts there are none.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import aiomqtt
from jsonschema import FormatChecker
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from device_profiles.vda5050_schemas import SCHEMAS_DIR
from mqttlink.url import BrokerAddress

SCHEMA_DIRS: dict[str, Path] = {"2.0.0": SCHEMAS_DIR / "v2_0", "2.1.0": SCHEMAS_DIR}
"""The official schemas by the protocol version a message's header names."""

Side = Literal["master control", "vehicle"]
SENDERS: dict[str, Side] = {
    "order": "master control",
    "instantActions": "master control",
    "state": "vehicle",
    "visualization": "vehicle",
    "connection": "vehicle",
    "factsheet": "vehicle",
}

_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    # RFC 3339 with a zone; jsonschema checks date-time only with an optional package, so check it here.
    return not isinstance(value, str) or (
        "T" in value and datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
    )


@cache
def official_validator(version: str, channel: str) -> Validator:
    """The validator of the schema's own draft (2020-12 for both versions), with date-time checked."""
    body = json.loads((SCHEMA_DIRS[version] / f"{channel}.schema.json").read_text(encoding="utf-8"))
    cls = validator_for(body)
    cls.check_schema(body)
    return cls(body, format_checker=_FORMATS)


def violations_of(channel: str, body: Any) -> list[str]:
    """Every way `body` breaks the official schema of the version its header names, as `path: reason`."""
    if not isinstance(body, dict):
        return [f"(top): not a JSON object: {body!r}"[:300]]
    version = body.get("version")
    if version not in SCHEMA_DIRS:
        return [f"version: {version!r} is not a VDA 5050 version with official schemas here ({', '.join(SCHEMA_DIRS)})"]
    errors = sorted(official_validator(version, channel).iter_errors(body), key=lambda e: list(map(str, e.path)))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"[:300] for e in errors]


@dataclass(frozen=True)
class Seen:
    """One message on a watched vehicle's topic."""

    topic: str
    channel: str
    sender: Side
    body: Any


@dataclass(frozen=True)
class Violation:
    message: Seen
    errors: list[str]

    def __str__(self) -> str:
        version = self.message.body.get("version") if isinstance(self.message.body, dict) else None
        return f"{self.message.sender} on {self.message.topic} ({version}): " + "; ".join(self.errors[:5])


@dataclass
class SchemaSpy:
    """What the spy saw for the vehicles in `serials`: every message, and those that break their schema."""

    interface: str
    serials: set[str]
    seen: list[Seen] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)

    def take(self, topic: str, payload: bytes) -> None:
        levels = topic.split("/")
        if len(levels) != 5 or levels[0] != self.interface or levels[3] not in self.serials:
            return
        channel = levels[4]
        if channel not in SENDERS or not payload:
            return  # not a VDA 5050 channel, or a retained message being cleared
        try:
            body: Any = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            seen = Seen(topic, channel, SENDERS[channel], payload.decode("utf-8", "replace"))
            self.seen.append(seen)
            self.violations.append(Violation(seen, [f"(top): not JSON ({exc})"]))
            return
        seen = Seen(topic, channel, SENDERS[channel], body)
        self.seen.append(seen)
        if errors := violations_of(channel, body):
            self.violations.append(Violation(seen, errors))

    def messages(self, channel: str, serial: str | None = None) -> list[Any]:
        """Bodies seen on `channel` (of one vehicle, if given), oldest first."""
        return [s.body for s in self.seen if s.channel == channel and (serial is None or f"/{serial}/" in s.topic)]

    def report(self) -> str:
        return "\n".join(str(v) for v in self.violations) or "no violations"

    async def wait_for(self, what: str, found: Callable[[], bool], timeout_s: float = 60) -> None:
        """Until `found()` holds over what was seen (fails with the count of messages seen so far)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not found():
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; saw {len(self.seen)} messages")
            await asyncio.sleep(0.05)


@asynccontextmanager
async def schema_spy(mqtt_url: str, serials: set[str], interface: str = "uagv") -> AsyncIterator[SchemaSpy]:
    """Subscribed (QoS 1, so it misses nothing the broker delivers) before the body runs; stops after it."""
    spy = SchemaSpy(interface, serials)
    broker = BrokerAddress.parse(mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        await client.subscribe(f"{interface}/#", qos=1)

        async def listen() -> None:
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
                spy.take(str(message.topic), bytes(payload))

        listener = asyncio.create_task(listen())
        try:
            yield spy
        finally:
            listener.cancel()
            with suppress(asyncio.CancelledError):
                await listener
