"""The projector: folds stored events into the projections soon after they are acknowledged.

Ingest makes events durable and acknowledges them (`EventStore.ingest_batch`); this task works off the backlog they
leave (`ProjectionRunner.project_pending`), in passes of up to `projection_batch_size` events: the specimens, carriers,
deliveries, cabinets and devices they touch are folded again and the custody log grows, then the live stream hears
of them. Its own gateway's commits wake it, and it gathers what arrives within `projection_wait_ms` into the same
pass; every `projection_poll_s` it also looks for what another replica stored (passes lock sites on PostgreSQL,
`gateway.projection.sites`: replicas project different sites at once, and any of them may project any site).

A pass that fails while the database is down is retried with backoff; the events wait, stored. A pass that fails
with the database up is retried one event at a time, and an event whose projection still raises is marked failed
in the backlog (logged with the traceback, counted) so that it never holds the others up; failed events are put
back in line when a gateway starts (a new version may project them).
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.projection.notices import STORED_PREFIX, listen_on
from gateway.projection.runner import Projected, ProjectionRunner
from gateway.settings import GatewaySettings
from gateway.storage.database import Database
from mqttlink.backoff import Backoff, FailureLog

log = logging.getLogger(__name__)

HEARTBEAT_FILE = "projector.heartbeat"
"""In the data folder: touched by `wardlink projector` after each pass, and each time it finds the backlog empty
(so at least every `projection_poll_s` while it runs; at most once a second); `wardlink projector --check` reads
its age."""


async def wake_on_commits(db: Database, worker: "ProjectionWorker", max_backoff_s: float) -> None:
    """Until cancelled: wake `worker` on each commit a gateway announces (PostgreSQL's NOTIFY; returns at once on
    SQLite), and each time the LISTEN takes effect: what was stored before then, at start or while the connection
    was re-established, sent a notice nobody heard."""

    def listening() -> None:
        log.info("projector listening for the gateways' commits")
        worker.wake()

    await listen_on(
        db.engine, STORED_PREFIX, lambda _: worker.wake(), "listening for stored events", max_backoff_s, listening
    )


def heartbeat_age_s(data_dir: Path) -> float | None:
    """Seconds since `wardlink projector` last made a pass or looked at the backlog here; None if it never has."""
    try:
        return max(0.0, time.time() - (data_dir / HEARTBEAT_FILE).stat().st_mtime)
    except FileNotFoundError:
        return None


@dataclass
class ProjectionCounters:
    projected: int = 0
    """Events folded into the projections by this gateway."""
    passes: int = 0
    """Projection transactions that folded something."""
    failed: int = 0
    """Events this gateway marked as failing to project."""
    refused: int = 0
    """Events this gateway's passes refused: about a specimen or delivery of another site (`refused_events`)."""

    def count(self, result: Projected) -> None:
        """A pass observer (`ProjectionRunner(on_pass=...)`): every pass of this process counts, whoever ran it."""
        self.projected += len(result.events)
        self.refused += len(result.refused)
        self.passes += 1


class ProjectionWorker:
    """`await worker.run()` until cancelled."""

    def __init__(
        self,
        settings: GatewaySettings,
        runner: ProjectionRunner,
        db: Database,
        *,
        counters: ProjectionCounters | None = None,
        woken: asyncio.Event | None = None,
        heartbeat: Path | None = None,
    ) -> None:
        self._runner = runner
        self._db = db
        self._heartbeat = heartbeat
        self._beat_at = 0.0
        self._batch = settings.projection_batch_size
        self._poll_s = settings.projection_poll_s
        self._wait_s = settings.projection_wait_ms / 1000
        self._max_backoff_s = settings.mqtt_max_backoff_s
        self._wake = woken or asyncio.Event()
        """Set by commits of new events (an `on_commit` observer sets it; see `gateway.service`), or by `wake`."""
        self.counters = counters or ProjectionCounters()
        """The runner's pass counts (handed to it as an observer), and the events this worker marked failed."""

    def wake(self) -> None:
        """Events were stored (here, or by a gateway that notified): project them after `projection_wait_ms`, not at
        the next poll."""
        self._wake.set()

    async def run(self) -> None:
        backoff = Backoff(initial=0.2, cap=self._max_backoff_s)
        failures = FailureLog(log, "projecting stored events")
        retried = False
        while True:
            try:
                if not retried:
                    if again := await self._runner.retry_unprojectable():
                        log.warning("%d event(s) that failed to project earlier are back in line", again)
                    retried = True
                await self._drain()
                failures.recovered()
                backoff.reset()
            except Exception as exc:
                if await self._db.ping():
                    log.exception("the projector failed; it tries again (stored events wait)")
                else:
                    failures.failed(f"the database does not answer ({type(exc).__name__}); stored events wait")
                await asyncio.sleep(backoff.next_delay())
                continue
            try:
                async with asyncio.timeout(self._poll_s):
                    await self._wake.wait()
                await asyncio.sleep(self._wait_s)  # woken by a commit: let the next few join this pass
            except TimeoutError:
                pass
            self._wake.clear()

    def _beat(self) -> None:
        """Touch the heartbeat file: a pass just committed, or found nothing to do (at most once a second)."""
        now = time.monotonic()
        if self._heartbeat is None or now - self._beat_at < 1:
            return
        self._beat_at = now
        try:
            self._heartbeat.parent.mkdir(parents=True, exist_ok=True)
            self._heartbeat.touch()
        except OSError as exc:
            log.warning("could not touch the heartbeat file %s: %s", self._heartbeat, exc)

    async def _drain(self) -> None:
        """Project until the backlog (but for failed events) is empty."""
        while True:
            try:
                done = await self._runner.project_pending(self._batch)
            except Exception:
                if not await self._db.ping():
                    raise
                log.exception("a projection pass failed with the database up; projecting its events one by one")
                await self._one_by_one()
                continue
            self._beat()
            if not done.events:
                return

    async def _one_by_one(self) -> None:
        """Find the events of the next pass whose projection raises, and mark them failed."""
        for event_id in await self._runner.pending(self._batch):
            try:
                await self._runner.project_events([event_id])
            except Exception as exc:
                if not await self._db.ping():
                    raise
                log.exception("event %s cannot be projected; marked failed in the backlog", event_id)
                await self._runner.mark_unprojectable(event_id, f"{type(exc).__name__}: {exc}")
                self.counters.failed += 1
