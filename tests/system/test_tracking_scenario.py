"""Scenario: a morning of 500 specimens (5 % STAT) and a tube blockage that holds 20 carriers.

The morning (`simulators.hospital.lab_morning`) is replayed through a running gateway over MQTT, minute by minute of
its own time: the events of each minute are published by their edges (the tube system and sorter edge, and the
laboratory information system), acknowledged once committed, then the gateway's clock moves to that minute and
the alert engine makes one pass. What the lab must see: exactly the STAT specimens the blockage held are called
at risk, each before its target passes; none of the others is; and the figures say the same.
"""

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from contract import Event
from gateway.rules import default_rules
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from simulators.hospital.lab_morning import DEVICE_EDGE, LAB_EDGE, lab_morning
from simulators.hospital.morning_truth import Blockage, LabMorning
from tests.auth import authorised
from tests.clock import SteppedClock
from tests.gateway.test_gateway_e2e import FakeEdge
from tests.infra import Infra

START = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
STEP = timedelta(minutes=1)


@pytest.fixture(scope="module")
def morning() -> LabMorning:
    return lab_morning(
        11,
        specimens=500,
        stat_share=0.05,
        blockage=Blockage(zone="zone-b", after_min=60, window_min=60, carriers=20),
        start=START,
        legs=default_rules().turnaround.expected_legs,
    )


@pytest.fixture
async def replayed(
    infra: Infra, gateway_settings: GatewaySettings, morning: LabMorning
) -> AsyncIterator[tuple[Gateway, dict[str, datetime]]]:
    """The gateway after the whole morning, and when each at-risk alert was raised (by the gateway's clock)."""
    clock = SteppedClock(START)
    settings = gateway_settings.model_copy(
        update={"ingest_batch_wait_ms": 5, "alerts_every_s": 3600.0}  # the test makes every pass itself
    )
    by_minute: dict[datetime, list[Event]] = defaultdict(list)
    for event in morning.events:
        by_minute[START + (event.occurred_at - START) // STEP * STEP + STEP].append(event)
    raised: dict[str, datetime] = {}
    async with Gateway(settings, clock=clock) as gateway:
        assert gateway.alerts is not None
        async with (
            FakeEdge(infra, DEVICE_EDGE, store=gateway.store).connected() as devices,
            FakeEdge(infra, LAB_EDGE, store=gateway.store).connected() as lis,
            authorised(gateway) as api,
        ):
            edges = {DEVICE_EDGE: devices, LAB_EDGE: lis}
            end = max(by_minute) + 10 * STEP
            while clock.now < end:
                clock.now += STEP
                batch = by_minute.pop(clock.now, [])
                for name, edge in edges.items():
                    mine = [e for e in batch if e.edge == name]
                    await edge.send(*mine)
                    await edge.until_acked(*mine)
                await gateway.alerts.evaluate()
                response = await api.get("/api/v1/alerts", params={"kind": "specimen.at_risk", "limit": 500})
                for alert in response.json()["data"]:
                    raised.setdefault(alert["subject"]["id"], datetime.fromisoformat(alert["raised_at"]))
        yield gateway, raised


@pytest.mark.timeout(600)
async def test_exactly_the_held_stat_specimens_are_called_at_risk_before_their_targets_pass(
    replayed: tuple[Gateway, dict[str, datetime]], morning: LabMorning
) -> None:
    _, raised = replayed
    held_stat = morning.delayed_stat
    assert len(morning.delayed_carriers) == 20
    assert held_stat, "the blockage must hold at least one STAT specimen for this scenario to mean anything"
    assert set(raised) == held_stat
    for barcode, at in raised.items():
        due = morning.specimens[barcode].due_at
        assert due is not None
        assert at < due, f"{barcode} was called at risk at {at:%H:%M}, after its target at {due:%H:%M}"
