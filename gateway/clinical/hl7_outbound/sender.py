"""The HL7 outbound sender: fills the outbox from stored events and sends it to the LIS in order, until answered.

One message at a time, oldest first: AA (or CA) marks it sent; AE, or AR for anything but an internal error, marks
it failed with the error code and the next one goes (a message the LIS refused would only be refused again); no
answer, AR with ERR-3 207 or no error code (HL7's "send it again"), a refused connection or a dropped one leaves it
at the head of the line, tried again after a capped, jittered backoff (`hl7_outbound_retry_max_s`). Nothing the
LIS writes as text is kept or logged (`answers`). With several gateways on PostgreSQL only the one holding a
session advisory lock sends, and it checks that its lock's session is still alive before each message: a session
the server ended has dropped the lock, and another gateway may hold it by now.

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
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.clinical.hl7_outbound.answers import ACCEPTED, REFUSED
from gateway.clinical.hl7_outbound.link import LINK_ERRORS, MllpAddress, MllpLink, describe
from gateway.clinical.hl7_outbound.messages import TOLD_TYPES
from gateway.clinical.hl7_outbound.outbox import SCAN_LIMIT, Hl7Outbox, OutboxRow
from gateway.ingest.event_store import BatchResult
from gateway.runtime.clock import Clock, utc_now
from gateway.settings import GatewaySettings
from gateway.storage.database import Database
from mqttlink.backoff import Backoff, FailureLog

log = logging.getLogger(__name__)

_LEAD_LOCK = 0x57_4C_48_37  # "WLH7"; with the schema as the second key, so each schema has its own sender


@dataclass
class OutboundCounters:
    """What the sender did since it started (for metrics and tests)."""

    sent: int = 0
    """Messages the LIS accepted (AA)."""
    refused: int = 0
    """Messages the LIS answered AE, or AR for a reason of the message's: kept as failed rows, not sent again."""
    retries: int = 0
    """Attempts to send again: no answer (LIS away, connection dropped, no ACK in time) or AR for an internal error."""


class LeadershipLostError(Exception):
    """The session holding the advisory lock is gone, and the lock with it: another gateway may send now."""


class Lead:
    """Being the one that sends; `confirm` before each message says it still is."""

    def __init__(self, connection: AsyncConnection | None = None) -> None:
        self._connection = connection

    async def confirm(self) -> None:
        """LeadershipLostError unless the lock's session still answers (a session lock lasts as long as its session)."""
        if self._connection is None:
            return
        try:
            await self._connection.execute(sa.text("SELECT 1"))
            await self._connection.commit()
        except Exception as exc:
            raise LeadershipLostError(type(exc).__name__) from exc


@contextlib.asynccontextmanager
async def leadership(db: Database, poll_s: float) -> AsyncIterator[Lead]:
    """Wait until this process is the one that sends (always, on SQLite: one process); hold it inside."""
    if db.dialect != "postgresql":
        yield Lead()
        return
    key = {"key": _LEAD_LOCK}
    async with db.engine.connect() as connection:
        try_lock = sa.text("SELECT pg_try_advisory_lock(CAST(:key AS integer), hashtext(current_schema()))")
        while not (await connection.execute(try_lock, key)).scalar():
            await connection.commit()
            await asyncio.sleep(poll_s)
        await connection.commit()  # the lock is the session's: no transaction stays open while it is held
        try:
            yield Lead(connection)
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
                    async with leadership(self._db, self._poll_s) as lead:
                        await self._lead(lead)
                except LeadershipLostError as lost:
                    log.warning(
                        "HL7 outbound: the session holding the send lock ended (%s); waiting to lead again", lost
                    )
                except Exception as exc:
                    self._database.failed(f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(self._backoff.next_delay())
        finally:
            await self._link.close()

    async def _lead(self, lead: Lead) -> None:
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
            await lead.confirm()
            await self._deliver(head)

    async def _deliver(self, row: OutboxRow) -> None:
        await self.outbox.attempted(row.position)
        try:
            answer = await self._link.exchange(row.message, row.control_id)
        except LINK_ERRORS as exc:
            await self._unanswered(describe(exc))
            return
        if answer.send_again:
            await self._unanswered(f"the LIS answered {answer} to {row.control_id}; sending it again")
            return
        if answer.code in ACCEPTED:
            await self.outbox.answered(row.position, answer)
            self.counters.sent += 1
        elif answer.code in REFUSED:
            await self.outbox.answered(row.position, answer)
            self.counters.refused += 1
            log.warning("the LIS answered %s to %s %s; kept as failed", answer, row.event_type, row.control_id)
        else:
            code = answer.code if answer.code.isalpha() else "?"
            await self._unanswered(f"an answer code HL7 does not define: {code!r}")
            return
        self._lis.recovered()
        self._backoff.reset()

    async def _unanswered(self, reason: str) -> None:
        self.counters.retries += 1
        self._lis.failed(reason)
        await asyncio.sleep(self._backoff.next_delay())
