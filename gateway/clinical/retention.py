"""How long the HL7 links keep their records: handled messages (the control ids a resend is checked against),
orders and container/result states, dead letters, and outbox rows the LIS has answered. Older rows are deleted
by a pass the service runs beside telemetry's; pending outbox rows are never deleted (they are still owed), nor
answered ones whose event the outbox's scan still looks back over (`forget_answered`)."""

import asyncio
import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from gateway.clinical.hl7_outbound.outbox import forget_answered
from gateway.runtime.clock import Clock, utc_now
from gateway.storage.clinical_tables import clinical_dead_letters, hl7_messages, hl7_orders
from gateway.storage.database import Database
from mqttlink.backoff import FailureLog

log = logging.getLogger(__name__)


async def prune(db: Database, *, now: datetime, keep_for: timedelta) -> dict[str, int]:
    """Delete what is older than `keep_for`; the rows deleted per table."""
    before = now - keep_for
    statements = {
        "hl7_messages": sa.delete(hl7_messages).where(hl7_messages.c.received_at < before),
        "hl7_orders": sa.delete(hl7_orders).where(hl7_orders.c.updated_at < before),
        "clinical_dead_letters": sa.delete(clinical_dead_letters).where(clinical_dead_letters.c.received_at < before),
    }
    deleted: dict[str, int] = {}
    async with db.write(), db.engine.begin() as connection:
        for table, statement in statements.items():
            deleted[table] = (await connection.execute(statement)).rowcount
        deleted["hl7_outbox"] = await forget_answered(connection, before)
    return deleted


async def run_retention(db: Database, *, every: timedelta, keep_for: timedelta, clock: Clock = utc_now) -> None:
    """Prune now and then every `every`, until cancelled; a failed pass is logged once and tried again."""
    failures = FailureLog(log, "pruning the HL7 records")
    while True:
        try:
            deleted = await prune(db, now=clock(), keep_for=keep_for)
        except Exception as exc:
            failures.failed(str(exc))
        else:
            failures.recovered()
            if any(deleted.values()):
                log.info("HL7 records older than %s deleted: %s", keep_for, deleted)
        await asyncio.sleep(every.total_seconds())
