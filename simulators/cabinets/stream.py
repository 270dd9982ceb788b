"""What a simulated cabinet writes: each message stamped its model's way, and the faults that garble the stream.

Every message is numbered ({topic_id}-b{boot}-{counter}, the counter starting afresh each boot) and stamped by the
dialect (the MV-40 adds that number as `msgId` and `ts`, epoch ms; the PP-7 only `time`), then goes into the
link's journal. Faults: every message published twice, byte for byte (a resend), or followed by a malformed frame.
"""

import asyncio
import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from simulators.cabinets.dialect import MALFORMED_KINDS, Dialect
from simulators.cabinets.link import CabinetLink


class VendorStream:
    def __init__(
        self,
        link: CabinetLink,
        dialect: Dialect,
        topic: Callable[[str], str],
        topic_id: str,
        clock: Callable[[], datetime],
        rng: random.Random,
        boot: int = 0,
    ) -> None:
        self.link = link
        self.dialect = dialect
        self.topic = topic
        self.topic_id = topic_id
        self.clock = clock
        self.rng = rng
        """The cabinet's own generator: the malformed frames' kinds follow its seed."""
        self.boot = boot
        self.counter = 0
        self._last_stamp: datetime | None = None
        self._duplicate_until = 0.0
        self._malformed_until = 0.0

    def new_boot(self) -> None:
        self.boot += 1
        self.counter = 0

    def next_id(self) -> str:
        self.counter += 1
        return f"{self.topic_id}-b{self.boot}-{self.counter:06d}"

    def _stamp_time(self) -> datetime:
        """The cabinet clock; for a model told apart by time, a millisecond on from the last stamp at least."""
        at = self.clock()
        if self.dialect.distinct_times and self._last_stamp is not None:
            at = max(at, self._last_stamp + timedelta(milliseconds=1))
        self._last_stamp = at
        return at

    def status(self, online: bool, cause: str | None = None) -> bytes:
        return self.dialect.status(online, self.clock(), self.boot, cause)

    def publish(self, topic_name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Stamp `body` and journal it on the profile's topic `topic_name` (twice, or with a bad frame, if faulty)."""
        message = self.dialect.stamp(topic_name, body, self.next_id(), self._stamp_time())
        payload = json.dumps(message).encode()
        now = asyncio.get_running_loop().time()
        for _ in range(2 if now < self._duplicate_until else 1):
            self.link.send(self.topic(topic_name), payload)
        if now < self._malformed_until:
            self.link.send(*self.malformed(self.rng.choice(MALFORMED_KINDS)))
        return message

    def malformed(self, kind: str) -> tuple[str, bytes]:
        """A frame the edge must set aside (see `dialect.MALFORMED_KINDS`), with a fresh number, and its topic."""
        topic_name, frame = self.dialect.malformed(kind, self.next_id(), self.clock())
        return self.topic(topic_name), frame

    def duplicate_for(self, real_s: float) -> None:
        """Fault: for `real_s` (real seconds), every message is published twice with the same msgId."""
        self._duplicate_until = asyncio.get_running_loop().time() + real_s

    def malformed_for(self, real_s: float) -> None:
        """Fault: for `real_s` (real seconds), every message is followed by a malformed frame."""
        self._malformed_until = asyncio.get_running_loop().time() + real_s
