"""A mailbox device's queue: a bounded FIFO of records whose head stays until the edge acknowledges it."""

import asyncio
from collections import deque
from dataclasses import replace

from device_profiles import MailboxRecord

SEQ_MAX = 0xFFFF_FFFF


class RecordFifo:
    """FIFO of mailbox records with uint32 sequence numbers from 1 (0 means empty); never drops a record."""

    def __init__(self, capacity: int = 2000) -> None:
        if capacity < 2:
            raise ValueError("capacity must hold at least a scan and its sort (2)")
        self.capacity = capacity
        self._records: deque[MailboxRecord] = deque()
        self._last_seq = 0
        self._room = asyncio.Condition()
        self.waiting = 0
        """Inductions waiting for room (the sorter shows itself paused)."""
        self.acks = 0
        self.stale_acks = 0

    def __len__(self) -> int:
        return len(self._records)

    @property
    def head(self) -> MailboxRecord | None:
        return self._records[0] if self._records else None

    async def put(self, records: list[MailboxRecord]) -> list[MailboxRecord]:
        """Queue `records` together, numbered in order, once there is room for all of them (never drops)."""
        if len(records) > self.capacity:
            raise ValueError(f"{len(records)} records can never fit a mailbox of {self.capacity}")
        async with self._room:
            if self.capacity - len(self._records) < len(records):
                self.waiting += 1
                try:
                    await self._room.wait_for(lambda: self.capacity - len(self._records) >= len(records))
                finally:
                    self.waiting -= 1
            numbered = [replace(record, seq=self._next_seq()) for record in records]
            self._records.extend(numbered)
            return numbered

    def _next_seq(self) -> int:
        # uint32 on the wire: wraps past 2**32 - 1 to 1, never 0 (0 means "empty").
        self._last_seq = self._last_seq % SEQ_MAX + 1
        return self._last_seq

    async def reset(self) -> int:
        """Power loss: records not yet acknowledged are gone and numbering starts again from 1; returns how many."""
        dropped = len(self._records)
        self._records.clear()
        self._last_seq = 0
        async with self._room:
            self._room.notify_all()
        return dropped

    async def ack(self, seq: int) -> bool:
        """Pop the head if `seq` is its sequence number; any other value is ignored and counted as stale."""
        head = self.head
        if head is None or head.seq != seq:
            self.stale_acks += 1
            return False
        self._records.popleft()
        self.acks += 1
        async with self._room:
            self._room.notify_all()
        return True
