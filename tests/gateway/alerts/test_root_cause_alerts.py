"""A root cause as stored: it reaches whoever acts on what it holds, and it gets worse as what it holds does."""

from datetime import datetime

from gateway.alerts.alert_store import AlertFilter, list_alerts
from gateway.alerts.audience import audience_of
from gateway.alerts.conditions import active_conditions
from gateway.alerts.engine import reconcile
from gateway.alerts.inputs import Device, Snapshot
from gateway.composition.stores import Stores
from gateway.rules import default_rules
from tests.gateway.alerts.test_root_causes import MIN, SITE, T0, fault, specimen

RULES = default_rules()


async def pass_at(store: Stores, snapshot: Snapshot, now: datetime) -> None:
    async with store.db.engine.begin() as connection:
        await reconcile(connection, active_conditions(snapshot, RULES, now), RULES, now)


def test_a_root_cause_holding_specimens_reaches_the_lab_as_well_as_engineering() -> None:
    sorter = Device(SITE, "sorter-1", "sorter", "offline", T0, "modbus timeout")
    snapshot = Snapshot(devices=[sorter], specimens=[specimen("S1", "stat", due_at=T0 + 2 * MIN)])
    [offline] = active_conditions(snapshot, RULES, T0 + 6 * MIN)

    assert audience_of("device.offline", RULES.alerts) == ("engineer",)  # a device offline on its own
    assert audience_of(offline.kind, RULES.alerts, offline.details) == ("lab", "engineer")  # holding a STAT at risk


async def test_a_door_open_that_comes_to_hold_a_stat_specimen_at_risk_rises_to_critical_for_the_lab(
    store: Stores,
) -> None:
    door = fault("door_open")
    await pass_at(store, Snapshot(faults=[door]), T0 + MIN)
    async with store.db.engine.connect() as connection:
        [before], _ = await list_alerts(connection, AlertFilter(state="open"), limit=10, offset=0)
    assert (before.kind, before.severity, before.audience) == ("device.fault", "warning", ("lab", "engineer"))

    waiting = specimen("S1", "stat", status="scanned", device="sorter-1", due_at=T0 + 3 * MIN)
    await pass_at(store, Snapshot(faults=[door], specimens=[waiting]), T0 + 5 * MIN)

    async with store.db.engine.connect() as connection:
        [after], _ = await list_alerts(connection, AlertFilter(state="open"), limit=10, offset=0)
    assert after.id == before.id  # the same alert, not a second one
    assert after.severity == "critical"
    assert after.details["stat_specimens"] == ["S1"]
    assert "1 STAT" in after.message


async def test_an_at_risk_alert_a_later_jam_explains_closes_without_owing_an_acknowledgement(store: Stores) -> None:
    """A STAT already at risk when the sorter jams becomes the jam's child: its own alert closes, and the lab is owed
    one acknowledgement (the jam's), not one per specimen the jam now stands for."""
    waiting = specimen("S1", "stat", status="scanned", device="sorter-1", due_at=T0 + 3 * MIN)
    await pass_at(store, Snapshot(specimens=[waiting]), T0 + MIN)
    async with store.db.engine.connect() as connection:
        [at_risk], _ = await list_alerts(connection, AlertFilter(state="open"), limit=10, offset=0)
    assert at_risk.kind == "specimen.at_risk"

    await pass_at(store, Snapshot(faults=[fault("jam")], specimens=[waiting]), T0 + 2 * MIN)

    async with store.db.engine.connect() as connection:
        found, _ = await list_alerts(connection, AlertFilter(state="open"), limit=10, offset=0)
    assert [(a.kind, a.owed) for a in found] == [("device.fault", False)]
    assert [c["subject_id"] for c in found[0].details["children"]] == ["S1"]
