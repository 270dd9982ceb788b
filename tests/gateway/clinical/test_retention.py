"""HL7 records age out after `hl7_retention_days`; rows still owed to the LIS never do."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import sqlalchemy as sa

from gateway.clinical.retention import prune
from gateway.composition.stores import Stores
from gateway.storage.clinical_tables import clinical_dead_letters, hl7_messages, hl7_outbox

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
OLD, RECENT = NOW - timedelta(days=91), NOW - timedelta(days=1)


def outbox_row(n: int, state: str, at: datetime) -> dict[str, object]:
    return {
        "event_id": uuid4(),
        "event_type": "specimen.sorted",
        "barcode": f"S{n}",
        "control_id": f"C{n}",
        "message": "MSH|...",
        "state": state,
        "created_at": at,
        "answered_at": at if state != "pending" else None,
    }


async def test_records_older_than_the_retention_go_and_what_is_owed_stays(store: Stores) -> None:
    async with store.db.engine.begin() as connection:
        for control_id, at in (("OLD-1", OLD), ("NEW-1", RECENT)):
            await connection.execute(
                sa.insert(hl7_messages).values(
                    sender="LIS^GHH",
                    control_id=control_id,
                    message_type="OML^O21",
                    received_at=at,
                    ack_code="AA",
                    event_ids=[],
                )
            )
            await connection.execute(
                sa.insert(clinical_dead_letters).values(
                    received_at=at, ack_code="AR", reason="unsupported", message="MSH|...", control_id=control_id
                )
            )
        await connection.execute(
            sa.insert(hl7_outbox),
            [
                outbox_row(1, "sent", OLD),
                outbox_row(2, "failed", OLD),
                outbox_row(3, "pending", OLD),
                outbox_row(4, "sent", RECENT),
            ],
        )

    deleted = await prune(store.db, now=NOW, keep_for=timedelta(days=90))

    assert deleted == {"hl7_messages": 1, "hl7_orders": 0, "clinical_dead_letters": 1, "hl7_outbox": 2}
    async with store.db.engine.connect() as connection:
        assert (await connection.execute(sa.select(hl7_messages.c.control_id))).scalars().all() == ["NEW-1"]
        kept = (await connection.execute(sa.select(hl7_outbox.c.barcode).order_by(hl7_outbox.c.barcode))).scalars()
        assert kept.all() == ["S3", "S4"]
