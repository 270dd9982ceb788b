"""Telemetry ingest: validated readings queue up and are stored in batches, never in the way of domain events.

Telemetry arrives at QoS 0 and losing a reading is acceptable (the contract says so), so when the queue is full
the newest message is dropped and counted instead of holding up the broker link that also carries events.
With `WARDLINK_INFLUX_URL` set, every valid message also goes to InfluxDB (`gateway.telemetry.influx`); the embedded
store keeps its downsampled window, which the alert engine (cold chain, battery) and the API read.
"""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from contract import Telemetry
from gateway.ingest.batcher import next_batch
from gateway.ingest.reasons import ReasonCounter
from gateway.settings import GatewaySettings
from gateway.storage.database import Database
from gateway.storage.retry import while_database_down
from gateway.telemetry.downsampling import DownsampleResult
from gateway.telemetry.influx import InfluxTelemetry
from gateway.telemetry.store import TelemetryStore

log = logging.getLogger(__name__)


@dataclass
class TelemetryCounters:
    messages: int = 0
    """Telemetry messages stored."""
    readings: int = 0
    """Readings stored for the first time (a repeated reading is stored once)."""
    dropped: int = 0
    """Valid messages not stored: the queue was full, or the database refused their batch."""
    batches: int = 0
    store_failures: int = 0
    rejected: ReasonCounter = field(default_factory=lambda: ReasonCounter(log, "rejected a telemetry payload"))
    downsample_passes: int = 0
    raw_folded: int = 0
    """Raw readings replaced by one-minute means."""
    expired: int = 0
    """Rows deleted because they were older than the retention."""

    def add_pass(self, result: DownsampleResult) -> None:
        self.downsample_passes += 1
        self.raw_folded += result.raw_folded
        self.expired += result.expired


class TelemetryWriter:
    """`offer(message)` from the broker link; `await writer.run()` stores batches until cancelled."""

    def __init__(self, settings: GatewaySettings, db: Database, store: TelemetryStore) -> None:
        self._settings = settings
        self._db = db
        self._store = store
        self._queue: asyncio.Queue[Telemetry] = asyncio.Queue(maxsize=10 * settings.telemetry_batch_size)
        self.counters = TelemetryCounters()
        self.influx = InfluxTelemetry(settings) if settings.influx_url else None
        """The InfluxDB sink when configured: its own bounded buffer, so a slow InfluxDB never blocks the store."""

    def offer(self, message: Telemetry) -> bool:
        """Queue a message for storage; False (and counted as dropped) when the queue is full."""
        if self.influx is not None:
            self.influx.offer(message)
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.counters.dropped += 1
            if self.counters.dropped == 1:
                log.warning("telemetry queue full: dropping the newest readings until the database catches up")
            return False
        return True

    async def run(self) -> None:
        if self.influx is None:
            await self._store_batches()
            return
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._store_batches())
                tasks.create_task(self.influx.run())
        finally:
            self.influx.close()

    async def _store_batches(self) -> None:
        wait_s = self._settings.telemetry_batch_wait_ms / 1000
        while True:
            batch = await next_batch(self._queue, self._settings.telemetry_batch_size, wait_s)
            try:
                await self._commit(batch)
            except Exception:
                self.counters.dropped += len(batch)
                log.exception("could not store a batch of %d telemetry messages", len(batch))

    async def _commit(self, batch: Sequence[Telemetry]) -> None:
        """Store the batch, waiting while the database is unreachable; a batch it refuses is dropped."""
        inserted = await while_database_down(
            self._db,
            lambda: self._store.commit(batch),
            log=log,
            what="storing telemetry",
            max_backoff_s=self._settings.mqtt_max_backoff_s,
            on_failure=self._store_failed,
        )
        self.counters.batches += 1
        self.counters.messages += len(batch)
        self.counters.readings += inserted

    def _store_failed(self) -> None:
        self.counters.store_failures += 1
