"""An acknowledgement that lands while an alert pass runs (another transaction, between the pass's read and its
write) is never lost: the pass's change to that alert matches nothing, and the next pass decides from what is stored.

The race is set up step by step: the pass's view of the alert is read first, then the alert is acknowledged, then the
pass's write runs with the stale view, as it would under READ COMMITTED with two gateways or a person answering.
"""

import sqlalchemy as sa

from gateway.alerts.alert_store import acknowledge, get_alert
from gateway.alerts.engine import AlertEngine, _clear, _follow
from gateway.alerts.inputs import Condition
from gateway.composition.stores import Stores
from gateway.storage.tables import alerts
from tests.clock import SteppedClock
from tests.gateway.alerts.test_alert_engine import MIN, T0, at, event


async def raised_offline_sorter(store: Stores) -> sa.Row:  # type: ignore[type-arg]
    await store.events.commit_batch(
        [event("device.offline", "device", "sorter-1", T0, "sorter-1", reason="modbus timeout")]
    )
    engine = AlertEngine(store.db, store.rules, SteppedClock(T0 + 10 * MIN))
    assert await at(engine, SteppedClock(T0 + 10 * MIN), T0 + 10 * MIN) == (1, 0)  # raised
    async with store.db.engine.connect() as connection:
        return (await connection.execute(sa.select(alerts).where(alerts.c.kind == "device.offline"))).one()


async def test_a_clear_that_read_the_alert_before_it_was_acknowledged_leaves_it_to_the_next_pass(store: Stores) -> None:
    seen = await raised_offline_sorter(store)
    await acknowledge(store.db.engine, seen.id, by="u1", note="on it", now=T0 + 11 * MIN, rules=store.rules.current)

    async with store.db.engine.begin() as connection:
        assert not await _clear(connection, seen, T0 + 12 * MIN, owed=True)  # decided "owed" from a stale read

    async with store.db.engine.connect() as connection:
        alert = await get_alert(connection, seen.id)
    assert alert is not None
    assert (alert.active, alert.acknowledged, alert.owed) == (True, True, False)  # not cleared-and-owed-forever


async def test_a_refresh_that_read_the_alert_before_it_was_acknowledged_keeps_the_note(store: Stores) -> None:
    seen = await raised_offline_sorter(store)
    await acknowledge(
        store.db.engine, seen.id, by="u1", note="power cycled", now=T0 + 11 * MIN, rules=store.rules.current
    )
    later = Condition(
        kind=seen.kind,
        severity="critical",
        site=seen.site,
        subject_kind="device",
        subject_id="sorter-1",
        ward=None,
        message="Device sorter-1 (sorter) offline since 08:00Z: modbus timeout; 2 specimens waiting at it",
        details={**seen.details, "specimens": ["S1", "S2"]},
    )

    async with store.db.engine.begin() as connection:
        await _follow(connection, seen, later, store.rules.current)

    async with store.db.engine.connect() as connection:
        alert = await get_alert(connection, seen.id)
    assert alert is not None
    assert alert.details["acknowledgement_note"] == "power cycled"
