"""Root causes through the engine and the tables: the device events a jammed sorter or a blocked tube zone sends
raise one alert that names the device and lists what it holds, and it follows what it holds while it lasts."""

from datetime import UTC, datetime, timedelta

import pytest

from contract import Event
from gateway.alerts.alert_store import AlertFilter, AlertRow, list_alerts
from gateway.alerts.engine import AlertEngine
from gateway.composition.stores import Stores
from gateway.reference.model import Location
from tests.alert_events import event
from tests.clock import SteppedClock

T0 = datetime(2026, 11, 23, 9, 12, tzinfo=UTC)
MIN = timedelta(minutes=1)


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock(T0)


@pytest.fixture
def engine(store: Stores, clock: SteppedClock) -> AlertEngine:
    return AlertEngine(store.db, store.rules, clock)


def dispatched(n: int, at: datetime, to_station: str = "lab") -> Event:
    return event(
        "carrier.dispatched",
        "carrier",
        f"C-{n}",
        at,
        "tubes-1",
        transaction=n,
        from_station="ward-4b",
        to_station=to_station,
        priority="stat" if n == 1 else "normal",
        specimens=[f"S{n}"],
    )


async def open_alerts(store: Stores) -> list[AlertRow]:
    async with store.db.engine.connect() as connection:
        rows, _ = await list_alerts(connection, AlertFilter(state="open"), limit=500, offset=0)
    return rows


async def test_a_jammed_sorter_raises_one_critical_alert_naming_it(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    jam = event("device.fault_raised", "device", "sorter-1", T0, "sorter-1", code="jam", severity="critical")
    await store.events.commit_batch([jam])
    clock.now = T0 + MIN
    await engine.evaluate()

    [alert] = await open_alerts(store)
    assert (alert.kind, alert.severity, alert.subject_id) == ("device.fault", "critical", "sorter-1")
    assert alert.message.startswith("Sorter sorter-1 jammed since 09:12Z")

    cleared = event("device.fault_cleared", "device", "sorter-1", T0 + 2 * MIN, "sorter-1", code="jam")
    await store.events.commit_batch([cleared])
    clock.now = T0 + 3 * MIN
    await engine.evaluate()
    [owed] = await open_alerts(store)  # cleared before anyone answered it: listed until acknowledged
    assert (owed.id, owed.active, owed.owed) == (alert.id, False, True)


async def test_a_blocked_zone_is_one_alert_whose_held_carriers_grow_while_no_carrier_lost_alert_is_raised(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    await store.reference.adopt(
        {"locations": [Location("ed", "Emergency department", "ward", zone="zone-b")]},
        by="admin",
        source="test",
        comment="",
        now=T0,
    )
    blocked = event("device.fault_raised", "device", "tubes-1", T0, "tubes-1", code="zone_blocked", component="zone-b")
    carriers = [dispatched(n, T0 - 2 * MIN) for n in range(1, 6)]
    await store.events.commit_batch([blocked, *carriers, dispatched(6, T0 + MIN, to_station="ed")])

    clock.now = T0 + 5 * MIN  # only the carrier on its way to zone B is known to be held yet
    await engine.evaluate()
    [alert] = await open_alerts(store)
    assert (alert.kind, alert.severity, alert.subject_id) == ("device.fault", "critical", "tubes-1")
    assert alert.details["carriers"] == ["C-6"]

    clock.now = T0 + 20 * MIN  # the others have been in transit too long since the block: held by it, not lost
    await engine.evaluate()
    [alert] = await open_alerts(store)
    assert alert.kind == "device.fault"
    assert alert.message == "Tube zone zone-b (tubes-1) blocked since 09:12Z: 6 carriers and 6 specimens held (1 STAT)"
    assert sorted(alert.details["carriers"]) == [f"C-{n}" for n in range(1, 7)]
    assert sorted(c["subject_id"] for c in alert.details["children"]) == [f"C-{n}#{n}" for n in range(1, 7)]
    assert alert.details["zone"] == "zone-b"
