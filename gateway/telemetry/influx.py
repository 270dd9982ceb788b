"""Telemetry to InfluxDB 2: batched, retried with backoff, bounded, never in the way of event ingest.

`offer(message)` turns a telemetry message into line-protocol points and returns at once; `await sink.run()`
writes them in batches of `influx_batch_size` through influxdb-client's synchronous write API on a worker thread.
A 429, a 5xx or a connection error is retried with capped exponential backoff (InfluxDB's `Retry-After` when it
gives one); any other refusal (a 400 for a bad point, a 401 for a wrong token) drops the batch with the reason
counted and logged. While InfluxDB is slow or away points wait in a buffer of `influx_buffer`; when it is full
the oldest points are dropped and counted, so memory stays bounded and the broker link is never held up.

Points: one measurement per telemetry kind (`temperature`, `battery`, `position`, `latency`, else `reading`),
tagged `site`, `edge`, `device`; each reading of the message is a field named after its metric; the timestamp is
the reading's (`at`), in milliseconds.
"""

import asyncio
import logging
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

# From their defining modules: the package's __init__ re-exports them without `__all__`, so mypy hides them.
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write.point import Point
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException
from urllib3.exceptions import HTTPError

from contract import Reading, Telemetry
from gateway.settings import GatewaySettings
from mqttlink.backoff import Backoff, FailureLog

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def measurement_of(reading: Reading) -> str:
    """The telemetry kind a reading belongs to; its InfluxDB measurement."""
    metric = reading.metric
    if reading.unit in ("°C", "C", "degC") or "temperature" in metric:
        return "temperature"
    if metric.startswith("battery"):
        return "battery"
    if metric.startswith("position"):
        return "position"
    if "latency" in metric:
        return "latency"
    return "reading"


def points_of(message: Telemetry) -> list[str]:
    """The message's readings as line protocol: one point per measurement, each reading a field."""
    fields: dict[str, dict[str, float]] = {}
    for reading in message.readings:
        fields.setdefault(measurement_of(reading), {})[reading.metric] = reading.value
    lines = []
    for measurement, values in fields.items():
        point = Point(measurement).tag("site", message.site)  # type: ignore[no-untyped-call]  # influxdb-client's Point is unannotated
        point = point.tag("edge", message.edge).tag("device", message.device)
        for metric, value in values.items():
            point = point.field(metric, float(value))
        lines.append(point.time(_epoch_ms(message.at), WritePrecision.MS).to_line_protocol())
    return lines


def _epoch_ms(at: datetime) -> int:
    """Milliseconds since the epoch, exactly (influxdb-client's own datetime conversion goes through a float and can
    land a millisecond early)."""
    return (at - EPOCH) // timedelta(milliseconds=1)


class _Pending(NamedTuple):
    number: int
    line: str


@dataclass
class InfluxCounters:
    points_written: int = 0
    points_dropped: int = 0
    """Points not written: the buffer was full (oldest dropped), or InfluxDB refused their batch."""
    batches: int = 0
    retries: int = 0
    """Writes repeated after a 429, a 5xx or a connection error."""
    refused: Counter[str] = field(default_factory=Counter)
    """Batches InfluxDB refused for good, per HTTP status (`400`, `401`, ...)."""
    connected: bool = False
    """Whether the last write reached InfluxDB and was accepted."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool
    retry: bool
    reason: str
    retry_after_s: float | None = None


class InfluxTelemetry:
    """`offer(message)` from the broker link; `await sink.run()` writes batches until cancelled; `close()` after."""

    def __init__(self, settings: GatewaySettings) -> None:
        if not (settings.influx_url and settings.influx_token and settings.influx_org and settings.influx_bucket):
            raise ValueError("InfluxDB telemetry needs WARDLINK_INFLUX_URL, _TOKEN, _ORG and _BUCKET")
        self._settings = settings
        self._bucket = settings.influx_bucket
        self._org = settings.influx_org
        self._client = InfluxDBClient(
            url=settings.influx_url,
            token=settings.influx_token.get_secret_value(),
            org=settings.influx_org,
            timeout=int(settings.influx_timeout_s * 1000),
            retries=False,  # our loop retries, with backoff, without holding a thread
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._pending: deque[_Pending] = deque()
        self._numbered = 0
        self._in_flight_last = 0
        """Number of the last point of the batch being written (0: none), so drops of in-flight points count right."""
        self._in_flight_dropped = 0
        self._arrived = asyncio.Event()
        self.counters = InfluxCounters()

    @property
    def buffered(self) -> int:
        return len(self._pending)

    def offer(self, message: Telemetry) -> None:
        """Buffer the message's points; the oldest points make room when the buffer is full."""
        for line in points_of(message):
            self._numbered += 1
            self._pending.append(_Pending(self._numbered, line))
        overflow = len(self._pending) - self._settings.influx_buffer
        if overflow > 0:
            if self.counters.points_dropped == 0:
                log.warning("InfluxDB telemetry buffer full: dropping the oldest points until InfluxDB catches up")
            for _ in range(overflow):
                if self._pending.popleft().number <= self._in_flight_last:
                    self._in_flight_dropped += 1  # being written now: counted once the write's outcome is known
                else:
                    self.counters.points_dropped += 1
        self._arrived.set()

    async def run(self) -> None:
        backoff = Backoff(initial=0.2, cap=self._settings.influx_max_backoff_s)
        failures = FailureLog(log, f"writing telemetry to InfluxDB at {self._settings.influx_url}")
        while True:
            await self._next_batch_ready()
            # The batch is read, not taken: points the buffer drops while a write is retried are not sent again.
            batch = [self._pending[i] for i in range(min(len(self._pending), self._settings.influx_batch_size))]
            self._in_flight_last, self._in_flight_dropped = batch[-1].number, 0
            try:
                outcome = await asyncio.to_thread(self._write, [p.line for p in batch])
            finally:
                self._in_flight_last = 0
            if outcome.retry:
                # The retry sends what is buffered then: points dropped meanwhile are lost, and counted here.
                self.counters.points_dropped += self._in_flight_dropped
                self.counters.retries += 1
                delay = backoff.next_delay()
                if outcome.retry_after_s is not None:
                    delay = min(max(delay, outcome.retry_after_s), self._settings.influx_max_backoff_s)
                failures.failed(f"{outcome.reason}; next try in {delay:.1f} s")
                await asyncio.sleep(delay)
                continue
            failures.recovered()
            backoff.reset()
            self._release(batch[-1].number)
            self.counters.batches += 1
            if outcome.ok:
                self.counters.points_written += len(batch)
            else:
                self.counters.points_dropped += len(batch)
                self.counters.refused[outcome.reason] += 1
                if self.counters.refused[outcome.reason] == 1:
                    log.error("InfluxDB refused a batch of %d points (%s); dropped", len(batch), outcome.reason)

    async def _next_batch_ready(self) -> None:
        """Until a full batch is buffered, or some points have waited `influx_flush_ms`."""
        while not self._pending:
            self._arrived.clear()
            await self._arrived.wait()
        deadline = asyncio.get_running_loop().time() + self._settings.influx_flush_ms / 1000
        while len(self._pending) < self._settings.influx_batch_size:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._arrived.wait()
            except TimeoutError:
                return

    def _release(self, last: int) -> None:
        """Remove the points up to number `last` (the buffer may have dropped some of them meanwhile)."""
        while self._pending and self._pending[0].number <= last:
            self._pending.popleft()

    def _write(self, lines: list[str]) -> _Outcome:
        """One write request (on a worker thread)."""
        try:
            self._write_api.write(
                bucket=self._bucket,
                org=self._org,
                record=lines,
                write_precision=WritePrecision.MS,  # type: ignore[arg-type]  # typed as the class, its constants are str
            )
        except ApiException as exc:
            self.counters.connected = False
            status = int(exc.status or 0)
            retry_after = _seconds(exc.headers.get("Retry-After") if exc.headers else None)
            return _Outcome(False, status in RETRIED_STATUSES or status == 0, str(status), retry_after)
        except (HTTPError, OSError) as exc:
            self.counters.connected = False
            return _Outcome(False, True, f"unreachable: {type(exc).__name__}")
        except Exception as exc:
            # A bug must not stop event ingest, which shares the task group: keep the points and retry.
            self.counters.connected = False
            log.exception("unexpected error writing telemetry to InfluxDB")
            return _Outcome(False, True, f"error: {type(exc).__name__}")
        self.counters.connected = True
        return _Outcome(True, False, "")

    def close(self) -> None:
        self._write_api.close()  # type: ignore[no-untyped-call]  # influxdb-client leaves close() unannotated
        self._client.close()  # type: ignore[no-untyped-call]  # influxdb-client leaves close() unannotated


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: our own backoff decides
