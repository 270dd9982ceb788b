"""The alert engine on SQLite and PostgreSQL with a clock the test moves: raise, acknowledge, clear, raise again."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from contract import EdgeState, Reading, Telemetry
from gateway.alerts.alert_store import (
    AlertAlreadyClearedError,
    AlertFilter,
    AlertRow,
    acknowledge,
    list_alerts,
)
from gateway.alerts.engine import AlertEngine
from gateway.composition.stores import Stores
from gateway.rules.store import import_rules, rules_document, validate_document
from gateway.storage.tables import alerts
from gateway.tracking.specimens.store import reproject_open
from tests.alert_events import SITE, event
from tests.clock import SteppedClock

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock(T0)


@pytest.fixture
def engine(store: Stores, clock: SteppedClock) -> AlertEngine:
    return AlertEngine(store.db, store.rules, clock)


async def at(engine: AlertEngine, clock: SteppedClock, when: datetime) -> tuple[int, int]:
    """Run one pass at `when`; how many alerts it raised and cleared."""
    clock.now = when
    evaluation = await engine.evaluate()
    return len(evaluation.raised), len(evaluation.cleared)


async def all_alerts(store: Stores, **where: Any) -> list[AlertRow]:
    async with store.db.engine.connect() as connection:
        rows, _ = await list_alerts(connection, AlertFilter(**where), limit=500, offset=0)
    return sorted(rows, key=lambda r: r.raised_at)


async def test_raise_acknowledge_clear_and_a_returning_condition_raises_a_new_alert(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    await store.events.commit_batch(
        [event("device.offline", "device", "sorter-1", T0, "sorter-1", reason="modbus timeout")]
    )
    assert await at(engine, clock, T0 + 2 * MIN) == (0, 0)  # within the grace
    assert await at(engine, clock, T0 + 3 * MIN) == (1, 0)
    [alert] = await all_alerts(store)
    assert (alert.kind, alert.state, alert.severity, alert.raised_at, alert.rules_version) == (
        "device.offline",
        "raised",
        "warning",
        T0 + 3 * MIN,
        0,
    )
    assert "Device sorter-1 (device) offline since 08:00Z: modbus timeout" in alert.message

    assert await at(engine, clock, T0 + 4 * MIN) == (0, 0)  # still offline: the same alert, no second one
    acknowledged = await acknowledge(
        store.db.engine, alert.id, by="u42", note="engineer on the way", now=T0 + 5 * MIN, rules=store.rules.current
    )
    assert (acknowledged.state, acknowledged.acknowledged_by, acknowledged.acknowledged_at) == (
        "acknowledged",
        "u42",
        T0 + 5 * MIN,
    )
    assert acknowledged.details["acknowledgement_note"] == "engineer on the way"
    assert await at(engine, clock, T0 + 6 * MIN) == (0, 0)  # acknowledged stays acknowledged while it holds
    assert [a.state for a in await all_alerts(store)] == ["acknowledged"]

    await store.events.commit_batch([event("device.online", "device", "sorter-1", T0 + 7 * MIN, "sorter-1")])
    assert await at(engine, clock, T0 + 8 * MIN) == (0, 1)
    [cleared] = await all_alerts(store)
    assert (cleared.state, cleared.cleared_at, cleared.acknowledged_by) == ("cleared", T0 + 8 * MIN, "u42")
    with pytest.raises(AlertAlreadyClearedError, match="nothing to acknowledge"):
        await acknowledge(store.db.engine, cleared.id, by="u43", note=None, now=T0 + 9 * MIN, rules=store.rules.current)

    await store.events.commit_batch(
        [event("device.offline", "device", "sorter-1", T0 + 9 * MIN, "sorter-1", reason="x")]
    )
    assert await at(engine, clock, T0 + 12 * MIN) == (1, 0)
    assert [(a.state, a.raised_at) for a in await all_alerts(store)] == [
        ("cleared", T0 + 3 * MIN),
        ("raised", T0 + 12 * MIN),
    ]


async def test_acknowledging_twice_keeps_the_first_acknowledgement(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    await store.events.commit_batch([event("device.offline", "device", "sorter-1", T0, "sorter-1", reason="timeout")])
    await at(engine, clock, T0 + 3 * MIN)
    [alert] = await all_alerts(store)
    await acknowledge(store.db.engine, alert.id, by="u1", note=None, now=T0 + 4 * MIN, rules=store.rules.current)
    again = await acknowledge(
        store.db.engine, alert.id, by="u2", note=None, now=T0 + 5 * MIN, rules=store.rules.current
    )
    assert (again.acknowledged_by, again.acknowledged_at) == ("u1", T0 + 4 * MIN)


def fridge(at: datetime, celsius: float) -> Telemetry:
    return Telemetry(
        site=SITE,
        edge="hospital-edge",
        device="cabinet-1",
        at=at,
        readings=[Reading(metric="fridge_temperature", value=celsius, unit="°C")],
    )


async def stock_cabinet(store: Stores) -> None:
    """cabinet-1 (ward-3a, fridge bins F-01..F-04 in the default rules) holding insulin in its fridge."""
    item = {"expiry": "2027-06-30"}
    bins = [
        {"bin": "F-01", "gtin": "00614141001934", "lot": "INS-7", "quantity": 6, **item},
        {"bin": "A-01", "gtin": "00614141001019", "lot": "PAR-1", "quantity": 80, **item},
    ]
    await store.events.commit_batch(
        [event("cabinet.inventory_reported", "cabinet", "cabinet-1", T0 - 60 * MIN, "cabinet-1", bins=bins)]
    )


async def passes(engine: AlertEngine, clock: SteppedClock, minutes: range) -> list[tuple[int, int]]:
    return [await at(engine, clock, T0 + m * MIN) for m in minutes]


async def test_a_fridge_at_10_c_for_20_minutes_raises_exactly_one_alert_naming_the_cabinet_and_its_items(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    await stock_cabinet(store)
    await store.telemetry.commit([fridge(T0 - 2 * MIN, 5.0), fridge(T0 - MIN, 5.1)])
    for minute in range(21):  # the engine runs between readings, as it does every 15 s in the gateway
        await store.telemetry.commit([fridge(T0 + minute * MIN, 10.0)])
        await at(engine, clock, T0 + minute * MIN + 30 * timedelta(seconds=1))
    [cold] = await all_alerts(store, kind="cabinet.cold_chain")
    assert (cold.subject_id, cold.ward, cold.state, cold.raised_at) == (
        "cabinet-1",
        "ward-3a",
        "raised",
        T0 + 10 * MIN + timedelta(seconds=30),
    )
    assert "Cabinet cabinet-1 (ward-3a) fridge above 2-8 °C since 08:00Z" in cold.message
    assert "6 x 00614141001934 lot INS-7 (bin F-01)" in cold.message
    assert [(i["bin"], i["gtin"], i["quantity"]) for i in cold.details["items"]] == [("F-01", "00614141001934", 6)]
    assert "20 min, up to 10.0 °C, 10.0 °C at 08:20Z" in cold.message

    # Warmer still: the open alert says what the fridge reads now, not what it read when the alert was raised.
    await store.telemetry.commit([fridge(T0 + 21 * MIN, 11.5)])
    await at(engine, clock, T0 + 21 * MIN + 30 * timedelta(seconds=1))
    [warmer] = await all_alerts(store, kind="cabinet.cold_chain")
    assert warmer.id == cold.id
    assert "21 min, up to 11.5 °C, 11.5 °C at 08:21Z" in warmer.message
    assert (warmer.details["latest_c"], warmer.details["worst_c"]) == (11.5, 11.5)

    await store.telemetry.commit([fridge(T0 + 22 * MIN, 6.0)])
    assert await at(engine, clock, T0 + 23 * MIN) == (0, 1)


async def test_a_fridge_warm_for_5_minutes_raises_nothing(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    await stock_cabinet(store)
    for minute in range(30):
        await store.telemetry.commit([fridge(T0 + minute * MIN, 10.0 if 5 <= minute < 10 else 5.0)])
        await at(engine, clock, T0 + minute * MIN)
    assert await all_alerts(store, kind="cabinet.cold_chain") == []


async def test_a_discrepancy_stays_until_acknowledged_then_clears_and_never_comes_back(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    removed = event(
        "cabinet.item_removed",
        "cabinet",
        "cabinet-1",
        T0,
        "cabinet-1",
        bin="A-01",
        gtin="00614141001019",
        lot="PAR-1",
        expiry="2027-06-30",
        quantity=2,
        badge="B7",
    )
    await store.events.commit_batch([removed])
    await at(engine, clock, T0 + MIN)
    [alert] = await all_alerts(store, kind="cabinet.discrepancy")
    assert alert.details["event_id"] == str(removed.id)
    assert "by badge B7 at 08:00Z with no medication order" in alert.message
    await at(engine, clock, T0 + 25 * 60 * MIN)  # out of the lookback, and still open: only a person clears it
    assert [a.state for a in await all_alerts(store, kind="cabinet.discrepancy")] == ["raised"]
    cleared = await acknowledge(
        store.db.engine, alert.id, by="pharm-1", note="override", now=clock(), rules=store.rules.current
    )
    assert (cleared.state, cleared.acknowledged_by) == ("cleared", "pharm-1")
    await at(engine, clock, T0 + 2 * MIN)  # the same removal, seen again: not raised again
    assert [a.state for a in await all_alerts(store, kind="cabinet.discrepancy")] == ["cleared"]


async def test_an_acknowledged_error_lane_alert_clears_after_its_clear_after_time(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    await store.events.commit_batch(
        [event("specimen.rejected", "specimen", "S900", T0, "sorter-1", reason="unknown_order", lane=9)]
    )
    assert await at(engine, clock, T0 + MIN) == (1, 0)
    [alert] = await all_alerts(store, kind="specimen.error_lane")
    assert "no order matches the barcode" in alert.message
    await acknowledge(store.db.engine, alert.id, by="lab-3", note=None, now=T0 + 2 * MIN, rules=store.rules.current)
    assert await at(engine, clock, T0 + 31 * MIN) == (0, 0)
    assert await at(engine, clock, T0 + 32 * MIN) == (0, 1)  # 30 min after the acknowledgement
    assert await at(engine, clock, T0 + 33 * MIN) == (0, 0)  # still rejected, but that rejection was dealt with
    assert [a.state for a in await all_alerts(store)] == ["cleared"]


async def test_rules_imported_elsewhere_apply_from_the_next_pass(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    await store.events.commit_batch([event("device.offline", "device", "tubes-1", T0, "tubes-1", reason="timeout")])
    assert await at(engine, clock, T0 + 3 * MIN) == (1, 0)
    document = rules_document(store.rules.current) | {"alerts": {"disabled": ["device.offline"]}}
    await import_rules(
        store.db.engine,
        validate_document(document, "t"),
        by="u9",
        comment="quiet",
        now=T0 + 4 * MIN,
        reproject=reproject_open,
    )
    assert await at(engine, clock, T0 + 5 * MIN) == (0, 1)
    assert store.rules.current.version == 1
    async with store.db.engine.connect() as connection:
        open_keys = (await connection.execute(sa.select(alerts.c.open_key))).scalars().all()
    assert open_keys == [None]


async def test_every_kind_is_gathered_from_its_tables(store: Stores, engine: AlertEngine, clock: SteppedClock) -> None:
    """One pass over rows the projections and telemetry wrote: each kind finds its subject."""
    bins = [{"bin": "F-01", "gtin": "00614141001934", "lot": "INS-7", "quantity": 1, "expiry": "2027-06-30"}]
    await store.events.commit_batch(
        [
            event(
                "specimen.collected", "specimen", "S1", T0, "ward-scanner", priority="stat", category="cbc", ward="icu"
            ),
            event("specimen.rejected", "specimen", "S2", T0, "sorter-1", reason="no_read", lane=9),
            event(
                "carrier.dispatched",
                "carrier",
                "C-9",
                T0,
                "tubes-1",
                transaction=7,
                from_station="icu-1",
                to_station="lab",
                specimens=["S1"],
            ),
            event(
                "delivery.created",
                "delivery",
                "D-1",
                T0,
                "pharmacy",
                order_id="PO-1",
                ward="ward-3a",
                destination="ward-3a-drop",
                priority="stat",
            ),
            event(
                "delivery.accepted",
                "delivery",
                "D-1",
                T0,
                "robot-1",
                robot="robot-1",
                order_id="vda-1",
                destination="ward-3a-drop",
            ),
            event("cabinet.inventory_reported", "cabinet", "cabinet-1", T0, "cabinet-1", bins=bins),
            event("cabinet.alarm_raised", "cabinet", "cabinet-1", T0, "cabinet-1", alarm="door_ajar"),
            event("device.offline", "device", "sorter-1", T0, "sorter-1", reason="timeout"),
        ]
    )
    await store.events.record_edge_state(EdgeState(site=SITE, edge="ward-edge", state="offline", since=T0, version="1"))
    await store.telemetry.commit(
        [
            fridge(T0, 12.0),
            Telemetry(
                site=SITE,
                edge="hospital-edge",
                device="robot-1",
                at=T0,
                readings=[Reading(metric="battery_charge", value=9.0, unit="%")],
            ),
        ]
    )
    await at(engine, clock, T0 + 40 * MIN)
    found = {(a.kind, a.subject_id) for a in await all_alerts(store)}
    assert found == {
        ("specimen.overdue", "S1"),
        ("specimen.error_lane", "S2"),
        ("carrier.lost", "C-9#7"),
        ("delivery.overdue", "D-1"),
        ("robot.no_progress", "robot-1"),
        ("robot.battery_critical", "robot-1"),
        ("cabinet.cold_chain", "cabinet-1"),
        ("cabinet.door_ajar", "cabinet-1"),
        ("cabinet.below_par", "cabinet-1"),
        ("device.offline", "sorter-1"),
        ("edge.offline", "ward-edge"),
    }


async def test_a_lost_carrier_with_the_longest_id_raises_its_alert_and_the_others_too(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    """The subject of a lost-carrier alert is `carrier#transaction`: with a 64-character carrier id it must still
    fit the column (PostgreSQL rejects a longer one, and the failed insert would stop every alert of the pass)."""
    carrier = "C" * 64
    await store.events.commit_batch(
        [
            event(
                "carrier.dispatched",
                "carrier",
                carrier,
                T0,
                "tubes-1",
                transaction=123456789012,
                from_station="icu-1",
                to_station="lab",
                specimens=["S1"],
            ),
            event("device.offline", "device", "sorter-1", T0, "sorter-1", reason="timeout"),
        ]
    )
    assert await at(engine, clock, T0 + 20 * MIN) == (2, 0)
    lost = {a.kind: a for a in await all_alerts(store)}["carrier.lost"]
    assert len(lost.subject_id) <= 64
    assert lost.subject_id.endswith("#123456789012")
    assert lost.details["carrier"] == carrier
    assert await at(engine, clock, T0 + 21 * MIN) == (0, 0)  # the same alert on the next pass, not a second one


async def test_a_carrier_lost_for_more_than_a_day_stays_alerted_until_the_open_work_lookback(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    """Specimens are watched for a day; a carrier that never arrived stays lost longer than that."""
    dispatched = event(
        "carrier.dispatched",
        "carrier",
        "C-LOST",
        T0,
        "tubes-1",
        transaction=7,
        from_station="icu-1",
        to_station="lab",
        specimens=["S1"],
    )
    await store.events.commit_batch([dispatched])
    assert await at(engine, clock, T0 + 20 * MIN) == (1, 0)
    assert await at(engine, clock, T0 + timedelta(days=2)) == (0, 0)  # still lost, the same alert
    [lost] = await all_alerts(store)
    assert (lost.kind, lost.state) == ("carrier.lost", "raised")
    assert await at(engine, clock, T0 + timedelta(days=15)) == (0, 1)  # let go after `open_work_lookback_days`
