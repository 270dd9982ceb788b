"""Two wards' worth of data for authorisation tests: a specimen, a delivery, a cabinet and an alert on each.

Ward 3a (the scoped users') and ward 4b (someone else's). Events go in through the integration path
(`report_events`, as the clinical systems send them) and a cabinet edge event; the alert engine then raises a real
alert on each ward (the cabinet door, opened long ago, is ajar).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from gateway.clinical.reports import ReportedEvent, SequenceCounter, report_events
from gateway.service import Gateway
from gateway.storage.tables import alerts
from tests.pharmacy_events import cabinet_event

SITE = "general-hospital"
MINE = "ward-3a"
THEIRS = "ward-4b"


@dataclass(frozen=True)
class WardObjects:
    specimen: str
    delivery: str
    cabinet: str
    alert: uuid.UUID


async def seed_wards(gateway: Gateway) -> dict[str, WardObjects]:
    """A specimen, delivery, cabinet (by the default rules) and open alert per ward, keyed by ward."""
    store, engine = gateway.store, gateway.alerts
    assert store is not None, "seed a running gateway"
    assert engine is not None
    now = datetime.now(UTC) - timedelta(minutes=30)
    cabinets = {MINE: "cabinet-1", THEIRS: "cabinet-2"}  # default_rules(): cabinet-1 on ward-3a, cabinet-2 on 4b
    reported: list[ReportedEvent] = []
    for ward in (MINE, THEIRS):
        specimen, delivery = f"S-{ward}", f"D-{ward}"
        reported.append(
            ReportedEvent("specimen.collected", specimen, now, {"category": "cbc", "ward": ward, "badge": "rn-1"})
        )
        reported.append(ReportedEvent("specimen.received", specimen, now + timedelta(minutes=20), {"badge": "bms-1"}))
        reported.append(ReportedEvent("specimen.resulted", specimen, now + timedelta(minutes=25), {}))
        reported.append(
            ReportedEvent(
                "delivery.created", delivery, now, {"order_id": f"O-{ward}", "ward": ward, "destination": ward}
            )
        )
    await report_events(store.events, SITE, "lis", reported, seq=SequenceCounter(), received_at=datetime.now(UTC))
    await store.events.commit_batch(
        [
            cabinet_event("cabinet.door_opened", cabinet, 1, seq, site=SITE, badge="rn-2")
            for seq, cabinet in enumerate(cabinets.values(), start=1)
        ]
    )
    await engine.evaluate()  # both doors have been open since yesterday: a door-ajar alert on each ward
    async with store.db.engine.connect() as connection:
        rows = await connection.execute(
            sa.select(alerts.c.ward, alerts.c.id).where(
                alerts.c.kind == "cabinet.door_ajar", alerts.c.state == "raised"
            )
        )
        alert_of = {row.ward: row.id for row in rows}
    return {ward: WardObjects(f"S-{ward}", f"D-{ward}", cabinets[ward], alert_of[ward]) for ward in (MINE, THEIRS)}
