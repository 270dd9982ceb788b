"""A manual custody entry may be dated only within a window: not before the specimen's first event (nor older than
`manual_custody_max_age_hours`), not ahead of the gateway's clock by more than `manual_custody_skew_s`. Outside it:
a 422 naming the field and the window, nothing stored, the specimen unmoved.
"""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.clinical.reports import ReportedEvent, SequenceCounter, report_events
from gateway.service import Gateway
from tests.auth import authorised
from tests.ward_data import MINE, SITE, WardObjects, seed_wards


@pytest.fixture
async def wards(gateway: Gateway) -> dict[str, WardObjects]:
    return await seed_wards(gateway)  # the specimens' first events are 30 minutes old


def _z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def test_entries_dated_in_1971_in_2999_or_before_the_first_event_are_refused_and_move_nothing(
    gateway: Gateway, wards: dict[str, WardObjects]
) -> None:
    barcode = wards[MINE].specimen
    now = datetime.now(UTC)
    path = f"/api/v1/specimens/{barcode}/custody"
    async with authorised(gateway, "lab") as lab:
        refused = {
            when: await lab.post(path, json={"action": "received", "place": f"bench-{i}", "occurred_at": when})
            for i, when in enumerate(
                [
                    "1971-01-01T00:00:00Z",
                    "2999-01-01T00:00:00Z",
                    _z(now + timedelta(minutes=10)),  # beyond the 120 s skew
                    _z(now - timedelta(hours=2)),  # before the specimen's first event
                ]
            )
        }
        before = (await lab.get(f"/api/v1/specimens/{barcode}")).json()
        accepted = await lab.post(
            path, json={"action": "received", "place": "bench-ok", "occurred_at": _z(now - timedelta(minutes=1))}
        )
        slightly_ahead = await lab.post(
            path, json={"action": "received", "place": "bench-skew", "occurred_at": _z(now + timedelta(seconds=30))}
        )
        after = (await lab.get(f"/api/v1/specimens/{barcode}")).json()

    for when, response in refused.items():
        assert response.status_code == 422, when
        assert response.headers["content-type"].startswith("application/problem+json")
        detail = response.json()["detail"]
        assert detail.startswith("occurred_at: ")
        assert "outside the window a manual entry may take" in detail
        assert "nothing was stored" in detail
    assert "(the specimen's first event)" in refused["1971-01-01T00:00:00Z"].json()["detail"]
    assert before["place"] != "bench-1"  # the 2999 entry did not move it
    assert not any("dashboard" in str(step) for step in before["timeline"])
    assert accepted.status_code == 201
    assert slightly_ahead.status_code == 201  # a clock a little ahead is fine
    assert after["place"] == "bench-skew"


async def test_an_old_specimen_takes_entries_only_from_the_last_max_age_hours(gateway: Gateway) -> None:
    hours = gateway.settings.manual_custody_max_age_hours
    store = gateway.store
    assert store is not None
    long_ago = datetime.now(UTC) - timedelta(hours=hours * 2)
    collected = ReportedEvent("specimen.collected", "S-old", long_ago, {"category": "cbc", "ward": MINE})
    await report_events(store.events, SITE, "lis", [collected], seq=SequenceCounter(), received_at=long_ago)
    async with authorised(gateway, "lab") as lab:
        too_old = await lab.post(
            "/api/v1/specimens/S-old/custody",
            json={"action": "received", "place": "bench-1", "occurred_at": _z(long_ago + timedelta(hours=1))},
        )
        recent = await lab.post("/api/v1/specimens/S-old/custody", json={"action": "received", "place": "bench-1"})

    assert too_old.status_code == 422
    assert f"({hours:g} h ago)" in too_old.json()["detail"]
    assert recent.status_code == 201
