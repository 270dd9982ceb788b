"""What the HL7 inbound keeps: the messages handled (for dedupe), orders waiting for their collection, dead letters.

Ids and codes only, never a message body but the redacted copy of a dead letter (`gateway.clinical.hl7.redaction`).
"""

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage.clinical_tables import clinical_dead_letters, hl7_messages, hl7_orders
from gateway.storage.database import Database

_LIMITS = {"sender": 200, "control_id": 200, "message_type": 16, "reason": 1000}
"""Column lengths of `clinical_dead_letters` (and of `hl7_messages`)."""
NUL = "\x00"
NUL_ESCAPED = "\\X00\\"
"""HL7's hex escape of a NUL, which PostgreSQL cannot keep in text: how a dead letter holds one."""

OrderStatus = Literal["ordered", "collected", "cancelled", "seen"]
"""`seen`: the laboratory system reported the specimen (a container state, a result) without an order before."""


@dataclass(frozen=True, slots=True)
class OrderRow:
    barcode: str
    site: str
    sender: str
    status: OrderStatus
    updated_at: datetime
    order_id: str | None = None
    priority: str | None = None
    category: str | None = None
    ward: str | None = None
    collector: str | None = None
    collected_at: datetime | None = None
    container_status: str | None = None
    container_status_at: datetime | None = None
    result_status: str | None = None
    result_status_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HandledRow:
    sender: str
    control_id: str
    message_type: str
    received_at: datetime
    ack_code: str
    event_ids: Sequence[UUID] = ()


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    received_at: datetime
    ack_code: str
    reason: str
    message: str
    """The redacted copy."""
    sender: str | None = None
    control_id: str | None = None
    message_type: str | None = None


class Hl7Records:
    """Reads and writes the HL7 inbound's tables in one database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def previous_ack(self, sender: str, control_id: str) -> str | None:
        """The ACK code a message with this control id from this sender was answered with, if it came before."""
        query = sa.select(hl7_messages.c.ack_code).where(
            hl7_messages.c.sender == sender, hl7_messages.c.control_id == control_id
        )
        async with self._db.engine.connect() as connection:
            return (await connection.execute(query)).scalar_one_or_none()

    async def orders(self, barcodes: Iterable[str]) -> dict[str, OrderRow]:
        wanted = sorted(set(barcodes))
        if not wanted:
            return {}
        query = sa.select(hl7_orders).where(hl7_orders.c.barcode.in_(wanted))
        async with self._db.engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return {row["barcode"]: OrderRow(**row) for row in rows}

    async def handled(self, handled: HandledRow, orders: Sequence[OrderRow]) -> None:
        """Record a message answered AA and the orders it changed, in one transaction."""
        async with self._db.write(), self._db.engine.begin() as connection:
            for order in orders:
                values = asdict(order)
                await connection.execute(
                    self._db.insert(hl7_orders)
                    .values(**values)
                    .on_conflict_do_update(index_elements=["barcode"], set_=values)
                )
            await self._record(connection, handled)

    async def failed(self, letter: DeadLetterRow, handled: HandledRow | None) -> None:
        """Keep a dead letter and, when the message had a control id, that it was answered AE or AR."""
        values = {k: v.replace(NUL, NUL_ESCAPED) if isinstance(v, str) else v for k, v in asdict(letter).items()}
        for name, limit in _LIMITS.items():  # a sender's over-long header field must not lose the dead letter
            if isinstance(values.get(name), str):
                values[name] = values[name][:limit]
        async with self._db.write(), self._db.engine.begin() as connection:
            await connection.execute(sa.insert(clinical_dead_letters).values(**values))
            if handled is not None:
                await self._record(connection, handled)

    async def _record(self, connection: AsyncConnection, handled: HandledRow) -> None:
        values: dict[str, Any] = {**asdict(handled), "event_ids": [str(i) for i in handled.event_ids]}
        statement = self._db.insert(hl7_messages).values(**values)
        update = {k: v for k, v in values.items() if k not in ("sender", "control_id")}
        await connection.execute(statement.on_conflict_do_update(index_elements=["sender", "control_id"], set_=update))

    async def dead_letters(self, limit: int = 100) -> list[DeadLetterRow]:
        """The latest dead letters, newest first."""
        query = (
            sa.select(clinical_dead_letters)
            .order_by(clinical_dead_letters.c.received_at.desc(), clinical_dead_letters.c.id.desc())
            .limit(limit)
        )
        async with self._db.engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [DeadLetterRow(**{k: v for k, v in row.items() if k != "id"}) for row in rows]
