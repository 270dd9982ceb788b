"""The alert lifecycle the engine keeps: active/cleared x acknowledged/not, re-activation and escalation.

On SQLite and PostgreSQL with a clock the test moves. A sorter offline (`device.offline`, a warning for engineering)
and a lost carrier (`carrier.lost`, critical, for the lab) are the conditions the tests switch on and off.
"""

from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.alerts.alert_store import AlertAlreadyClearedError, AlertRow, acknowledge
from gateway.alerts.engine import AlertEngine
from gateway.composition.stores import Stores
from gateway.rules.store import import_rules, rules_document, validate_document
from gateway.storage.tables import alerts
from gateway.tracking.specimens.store import reproject_open
from tests.clock import SteppedClock
from tests.gateway.alerts.test_alert_engine import MIN, T0, all_alerts, at, event

Heard = list[tuple[str, str, int]]
"""What the listener heard: (what, severity, escalation level)."""


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock(T0)


@pytest.fixture
def heard() -> Heard:
    return []


@pytest.fixture
def engine(store: Stores, clock: SteppedClock, heard: Heard) -> AlertEngine:
    def listen(what: str, alert: AlertRow, when: datetime) -> None:
        heard.append((what, alert.severity, alert.escalation_level))

    return AlertEngine(store.db, store.rules, clock, listeners=[listen])


async def sorter(store: Stores, state: str, minute: int) -> None:
    data: dict[str, Any] = {"reason": "modbus timeout"} if state == "offline" else {}
    await store.events.commit_batch(
        [event(f"device.{state}", "device", "sorter-1", T0 + minute * MIN, "sorter-1", **data)]
    )


async def lost_carrier(store: Stores) -> None:
    """Dispatched at 08:00 with a specimen and never arrived: a critical `carrier.lost` from 08:15."""
    dispatched = event(
        "carrier.dispatched",
        "carrier",
        "C-9",
        T0,
        "tubes-1",
        transaction=7,
        from_station="icu-1",
        to_station="lab",
        specimens=["S1"],
    )
    await store.events.commit_batch([dispatched])


async def ack(store: Stores, alert: AlertRow, minute: int) -> AlertRow:
    return await acknowledge(
        store.db.engine, alert.id, by="u1", note=None, now=T0 + minute * MIN, rules=store.rules.current
    )


async def use_rules(store: Stores, alerts_section: dict[str, Any]) -> None:
    document = rules_document(store.rules.current)
    document["alerts"] = {**document["alerts"], **alerts_section}
    await import_rules(
        store.db.engine, validate_document(document, "t"), by="u9", comment="t", now=T0, reproject=reproject_open
    )


async def test_a_new_alert_is_raised_for_the_roles_that_act_on_its_kind(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    await sorter(store, "offline", 0)
    await lost_carrier(store)
    await at(engine, clock, T0 + 16 * MIN)
    found = {a.kind: (a.audience, a.escalation_level, a.escalated_at) for a in await all_alerts(store)}
    assert found == {"device.offline": (("engineer",), 0, None), "carrier.lost": (("lab",), 0, None)}


async def test_an_alert_cleared_before_anyone_acknowledged_it_stays_open_until_someone_does(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    await sorter(store, "offline", 0)
    assert await at(engine, clock, T0 + 3 * MIN) == (1, 0)
    await sorter(store, "online", 4)
    assert await at(engine, clock, T0 + 5 * MIN) == (0, 1)
    [owed] = await all_alerts(store, state="open")
    assert (owed.state, owed.active, owed.acknowledged, owed.owed, owed.cleared_at) == (
        "cleared",
        False,
        False,
        True,
        T0 + 5 * MIN,
    )
    assert await at(engine, clock, T0 + 60 * MIN) == (0, 0)  # still owed an hour later
    assert [a.id for a in await all_alerts(store, state="owed")] == [owed.id]

    answered = await ack(store, owed, 61)
    assert (answered.state, answered.acknowledged_by, answered.acknowledged_at, answered.owed) == (
        "cleared",
        "u1",
        T0 + 61 * MIN,
        False,
    )
    assert await all_alerts(store, state="open") == []
    with pytest.raises(AlertAlreadyClearedError):  # closed: nothing left to acknowledge
        await ack(store, owed, 62)


async def test_an_alert_acknowledged_before_it_clears_closes_when_it_clears(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    await sorter(store, "offline", 0)
    await at(engine, clock, T0 + 3 * MIN)
    [alert] = await all_alerts(store)
    await ack(store, alert, 4)
    await sorter(store, "online", 5)
    assert await at(engine, clock, T0 + 6 * MIN) == (0, 1)
    assert await all_alerts(store, state="open") == []
    [closed] = await all_alerts(store)
    assert (closed.active, closed.acknowledged, closed.owed) == (False, True, False)


async def test_a_returning_condition_reactivates_the_owed_alert_instead_of_raising_a_second(
    store: Stores, engine: AlertEngine, clock: SteppedClock, heard: Heard
) -> None:
    await sorter(store, "offline", 0)
    await at(engine, clock, T0 + 3 * MIN)
    await sorter(store, "online", 4)
    await at(engine, clock, T0 + 5 * MIN)
    await sorter(store, "offline", 6)

    clock.now = T0 + 9 * MIN
    evaluation = await engine.evaluate()

    [alert] = await all_alerts(store)
    assert (evaluation.raised, evaluation.reactivated) == ([], [alert.id])
    assert (alert.state, alert.active, alert.owed, alert.cleared_at, alert.raised_at) == (
        "raised",
        True,
        False,
        None,
        T0 + 3 * MIN,
    )
    assert (alert.details["reactivations"], alert.details["last_cleared_at"]) == (1, "2026-11-23T08:05:00Z")
    assert [what for what, _, _ in heard] == ["raised", "cleared", "raised"]
    async with store.db.engine.connect() as connection:
        keys = (await connection.execute(sa.select(alerts.c.open_key))).scalars().all()
    assert keys == ["device.offline|general-hospital|sorter-1"]  # one open alert per condition, still


async def test_severities_not_owed_and_kinds_switched_off_close_when_they_clear(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    await use_rules(store, {"owed_severities": ["critical"]})
    await sorter(store, "offline", 0)
    await at(engine, clock, T0 + 3 * MIN)
    await sorter(store, "online", 4)
    await at(engine, clock, T0 + 5 * MIN)
    [warning] = await all_alerts(store)
    assert (warning.state, warning.owed) == ("cleared", False)
    assert await all_alerts(store, state="open") == []


async def test_an_owed_alert_of_a_kind_switched_off_owes_nothing_any_more(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    await sorter(store, "offline", 0)
    await at(engine, clock, T0 + 3 * MIN)
    await sorter(store, "online", 4)
    await at(engine, clock, T0 + 5 * MIN)
    assert len(await all_alerts(store, state="owed")) == 1
    await use_rules(store, {"disabled": ["device.offline"]})
    await at(engine, clock, T0 + 6 * MIN)
    assert await all_alerts(store, state="open") == []


async def test_an_unanswered_critical_alert_escalates_every_15_minutes_to_the_end_of_the_chain(
    store: Stores, engine: AlertEngine, clock: SteppedClock, heard: Heard
) -> None:
    await lost_carrier(store)
    await at(engine, clock, T0 + 16 * MIN)

    steps = []
    for minute in (30, 31, 45, 46, 90):
        clock.now = T0 + minute * MIN
        evaluation = await engine.evaluate()
        [alert] = await all_alerts(store)
        steps.append((minute, len(evaluation.escalated), alert.audience, alert.escalation_level, alert.escalated_at))

    assert steps == [
        (30, 0, ("lab",), 0, None),
        (31, 1, ("lab", "engineer"), 1, T0 + 31 * MIN),  # 15 min after it was raised, by the gateway's clock
        (45, 0, ("lab", "engineer"), 1, T0 + 31 * MIN),
        (46, 1, ("lab", "engineer", "admin"), 2, T0 + 46 * MIN),
        (90, 0, ("lab", "engineer", "admin"), 2, T0 + 46 * MIN),  # nobody left to add: the chain's end
    ]
    assert [h for h in heard if h[0] == "escalated"] == [("escalated", "critical", 1), ("escalated", "critical", 2)]


async def test_an_acknowledgement_stops_escalation(store: Stores, engine: AlertEngine, clock: SteppedClock) -> None:
    await lost_carrier(store)
    await at(engine, clock, T0 + 16 * MIN)
    await at(engine, clock, T0 + 31 * MIN)
    [alert] = await all_alerts(store)
    await ack(store, alert, 32)
    await at(engine, clock, T0 + 90 * MIN)
    [after] = await all_alerts(store)
    assert (after.escalation_level, after.audience) == (1, ("lab", "engineer"))


async def test_a_warning_with_minutes_of_its_own_escalates_to_critical_even_once_cleared_and_owed(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    await use_rules(store, {"escalation": {"minutes": {"device.offline": 5}}})
    await sorter(store, "offline", 0)
    await at(engine, clock, T0 + 3 * MIN)
    await sorter(store, "online", 4)
    await at(engine, clock, T0 + 5 * MIN)  # owed from here
    await at(engine, clock, T0 + 8 * MIN)
    [alert] = await all_alerts(store)
    assert (alert.owed, alert.severity, alert.audience, alert.escalation_level) == (
        True,
        "critical",
        ("engineer", "admin"),
        1,
    )


async def test_two_gateways_passing_at_the_same_time_escalate_once(
    store: Stores, engine: AlertEngine, clock: SteppedClock
) -> None:
    other = AlertEngine(store.db, store.rules, clock)
    await lost_carrier(store)
    await at(engine, clock, T0 + 16 * MIN)
    clock.now = T0 + 31 * MIN
    first, second = await engine.evaluate(), await other.evaluate()
    assert (len(first.escalated), len(second.escalated)) == (1, 0)
    [alert] = await all_alerts(store)
    assert alert.escalation_level == 1
