"""Migration 0016 on SQLite and PostgreSQL: every alert row comes through, with its kind's audience and no
escalation, and alerts cleared before it stay closed (nothing of the past suddenly owes an acknowledgement)."""

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from gateway.alerts.alert_store import AlertFilter, list_alerts
from gateway.settings import GatewaySettings
from gateway.storage.engine import create_engine
from gateway.storage.migrate import migrate
from gateway.storage.tables import alerts

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
KINDS = {  # kind -> (state, the audience it should get)
    "specimen.at_risk": ("raised", ("lab",)),
    "carrier.lost": ("cleared", ("lab",)),
    "cabinet.cold_chain": ("cleared", ("pharmacy",)),
    "robot.no_progress": ("acknowledged", ("pharmacy",)),
    "device.offline": ("raised", ("engineer",)),
    "edge.sequence_gap": ("cleared", ("engineer",)),
    "event.tampered": ("raised", ("engineer",)),
}


def row(n: int, kind: str, state: str) -> dict[str, object]:
    at = T0 + timedelta(minutes=n)
    return {
        "id": uuid.UUID(int=n + 1),
        "open_key": None if state == "cleared" else f"{kind}|site-1|X{n}",
        "kind": kind,
        "severity": "critical",
        "state": state,
        "site": "site-1",
        "subject_kind": "device",
        "subject_id": f"X{n}",
        "ward": None,
        "message": f"alert {n}",
        "details": {"n": n},
        "raised_at": at,
        "acknowledged_at": at if state == "acknowledged" else None,
        "acknowledged_by": "u1" if state == "acknowledged" else None,
        "cleared_at": at if state == "cleared" else None,
        "rules_version": 0,
    }


async def test_an_upgrade_keeps_every_alert_and_gives_each_its_kinds_audience(
    gateway_settings: GatewaySettings,
) -> None:
    engine = create_engine(gateway_settings)
    try:
        await migrate(engine, gateway_settings.database_schema, target="0015")
        rows = [row(n, kind, state) for n, (kind, (state, _)) in enumerate(KINDS.items())]
        async with engine.begin() as connection:
            for values in rows:
                await connection.execute(sa.insert(alerts).values(values))  # only the columns 0015 had

        await migrate(engine, gateway_settings.database_schema)

        async with engine.connect() as connection:
            migrated, total = await list_alerts(connection, AlertFilter(), limit=100, offset=0)
            still_open, _ = await list_alerts(connection, AlertFilter(state="open"), limit=100, offset=0)
            for_lab, _ = await list_alerts(connection, AlertFilter(for_role="lab"), limit=100, offset=0)
        assert total == len(KINDS)
        by_kind = {a.kind: a for a in migrated}
        assert {k: (a.state, a.audience) for k, a in by_kind.items()} == KINDS
        assert {(a.escalation_level, a.escalated_at, a.owed) for a in migrated} == {(0, None, False)}
        assert {a.message for a in migrated} == {f"alert {n}" for n in range(len(KINDS))}
        assert sorted(a.kind for a in still_open) == [
            "device.offline",
            "event.tampered",
            "robot.no_progress",
            "specimen.at_risk",
        ]
        assert sorted(a.kind for a in for_lab) == ["carrier.lost", "specimen.at_risk"]
    finally:
        await engine.dispose()
