"""The HL7 outbound sender: fills the outbox from stored events and sends it to the LIS in order, until answered.

One message at a time, oldest first: AA (or CA) marks it sent; AE or AR marks it failed with the LIS's reason and
the next one goes (a message the LIS refused would only be refused again); no answer, a refused connection or a
dropped one leaves it at the head of the line, tried again after a capped, jittered backoff
(`hl7_outbound_retry_max_s`). With several gateways on PostgreSQL only the one holding a session advisory lock
sends; another takes over when its connection goes.

    sender = Hl7OutboundSender(db, settings)            # settings.hl7_outbound_url = "mllp://lis:2575"
    EventStore(..., on_commit=[sender.observe])         # commits of scanned or sorted specimens wake it
    await sender.run()
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import sqlalchemy as sa

from gateway.clinical.hl7_outbound.link import LINK_ERRORS, MllpAddress, MllpLink
from gateway.clinical.hl7_outbound.messages import TOLD_TYPES
from gateway.clinical.hl7_outbound.outbox import SCAN_LIMIT, Hl7Outbox, OutboxRow
from gateway.ingest.event_store import BatchResult
from gateway.runtime.clock import Clock, utc_now
from gateway.settings import GatewaySettings
from gateway.storage.database import Database
from mqttlink.backoff import Backoff, FailureLog

log = logging.getLogger(__name__)

ACCEPTED = frozenset({"AA", "CA"})
REFUSED = frozenset({"AE", "AR", "CE", "CR"})
_LEAD_LOCK = 0x57_4C_48_37  # "WLH7"; with the schema as the second key, so each schema has its own sender


@dataclass
class OutboundCounters:
    """What the sender did since it started (for metrics and tests)."""

    sent: int = 0
    """Messages the LIS accepted (AA)."""
    refused: int = 0
    """Messages the LIS answered AE or AR: kept as failed rows, not sent again."""
    retries: int = 0
    """Attempts that got no answer (LIS away, connection dropped, no ACK in time)."""


@contextlib.asynccontextmanager
async def leadership(db: Database, poll_s: float) -> AsyncIterator[None]:
    """Wait until this process is the one that sends (always, on SQLite: one process); hold it inside."""
    if db.dialect != "postgresql":
        yield
        return
    key = {"key": _LEAD_LOCK}
    async with db.engine.connect() as connection:
        try_lock = sa.text("SELECT pg_try_advisory_lock(CAST(:key AS integer), hashtext(current_schema()))")
        while not (await connection.execute(try_lock, key)).scalar():
            await connection.commit()
            await asyncio.sleep(poll_s)
        await connection.commit()  # the lock is the session's: no transaction stays open while it is held
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                unlock = sa.text("SELECT pg_advisory_unlock(CAST(:key AS integer), hashtext(current_schema()))")
                await connection.execute(unlock, key)
                await connection.commit()


class Hl7OutboundSender:
    """Tells the LIS, over MLLP, when a specimen reached the lab and where it was sorted (SSU^U03)."""

    def __init__(self, db: Database, settings: GatewaySettings, *, poll_s: float = 2.0, clock: Clock = utc_now) -> None:
        if settings.hl7_outbound_url is None:
            raise ValueError("the HL7 outbound sender needs WARDLINK_HL7_OUTBOUND_URL")
        self.destination = MllpAddress.parse(settings.hl7_outbound_url)
        self.outbox = Hl7Outbox(db, clock=clock)
        self.counters = OutboundCounters()
        self._db = db
        self._poll_s = poll_s
        """How often to look for events stored by another gateway (this one's commits wake the sender at once)."""
        self._link = MllpLink(self.destination, answer_timeout_s=settings.hl7_outbound_ack_timeout_s)
        self._backoff = Backoff(initial=0.5, cap=settings.hl7_outbound_retry_max_s)
        self._lis = FailureLog(log, f"HL7 outbound to the LIS at {self.destination}")
        self._database = FailureLog(log, "HL7 outbox")
        self._wake = asyncio.Event()

    def observe(self, result: BatchResult) -> None:
        """A commit observer: wake the sender when a commit stored an event it tells the LIS about."""
        if any(event.type in TOLD_TYPES for event in result.new):
            self._wake.set()

    async def run(self) -> None:
        """Send until cancelled; database trouble is logged once and waited out."""
        try:
            while True:
                try:
                    async with leadership(self._db, self._poll_s):
                        await self._lead()
                except Exception as exc:
                    self._database.failed(f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(self._backoff.next_delay())
        finally:
            await self._link.close()

    async def _lead(self) -> None:
        while True:
            self._wake.clear()
            while await self.outbox.collect() == SCAN_LIMIT:
                pass
            head = await self.outbox.head()
            self._database.recovered()
            if head is None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_s):
                        await self._wake.wait()
                continue
            await self._deliver(head)

    async def _deliver(self, row: OutboxRow) -> None:
        await self.outbox.attempted(row.position)
        try:
            answer = await self._link.exchange(row.message, row.control_id)
        except LINK_ERRORS as exc:
            await self._unanswered(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            return
        if answer.code in ACCEPTED:
            await self.outbox.answered(row.position, answer.code)
            self.counters.sent += 1
        elif answer.code in REFUSED:
            await self.outbox.answered(row.position, answer.code, answer.reason or f"answered {answer.code}")
            self.counters.refused += 1
            log.warning("the LIS answered %s to %s %s; kept as failed", answer.code, row.event_type, row.control_id)
        else:
            await self._unanswered(f"an answer code HL7 does not define: {answer.code[:8]!r}")
            return
        self._lis.recovered()
        self._backoff.reset()

    async def _unanswered(self, reason: str) -> None:
        self.counters.retries += 1
        self._lis.failed(reason)
        await asyncio.sleep(self._backoff.next_delay())
