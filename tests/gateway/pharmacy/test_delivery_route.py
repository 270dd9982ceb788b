"""A delivery's route on the general hospital's map: its stops, which are done, the leg the robot is on, the ETA."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import device_profiles
from gateway.tracking.deliveries.route import route_progress, shortest_path
from gateway.tracking.devices.site_map import SiteMap, site_map

DEPARTED = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)
ROUTE = ("pharmacy", "corridor-0a", "elevator-0", "elevator-3", "corridor-3", "ward-3a")


@pytest.fixture(scope="module")
def graph() -> SiteMap:
    found = site_map(Path(device_profiles.__file__).parent / "maps", "general-hospital")
    assert found is not None
    return found


def test_the_route_is_the_shortest_path_taking_the_elevator_by_its_length(graph: SiteMap) -> None:
    assert tuple(shortest_path(graph, "pharmacy", "ward-3a")) == ROUTE
    assert shortest_path(graph, "pharmacy", "nowhere") == []


def test_half_way_the_stops_behind_are_done_the_leg_ahead_is_current_and_the_eta_keeps_the_pace(
    graph: SiteMap,
) -> None:
    # 20 + 20 + 30 m of 20 + 20 + 30 + 20 + 22.4 m covered in 10 minutes
    now = DEPARTED + timedelta(minutes=10)
    progress = route_progress(
        graph, "pharmacy", "ward-3a", at="elevator-3", departed_at=DEPARTED, arrived=False, now=now
    )
    assert progress is not None
    assert (progress.stops, progress.done, progress.leg) == (ROUTE, 4, ("elevator-3", "corridor-3"))
    assert progress.share_done == pytest.approx(70 / 112.36, abs=1e-3)
    assert progress.eta is not None
    assert progress.eta - DEPARTED == pytest.approx(timedelta(minutes=10) * 112.36 / 70, abs=timedelta(seconds=2))


def test_before_departure_and_after_arrival_there_is_no_leg_and_no_eta(graph: SiteMap) -> None:
    waiting = route_progress(graph, "pharmacy", "ward-3a", at="pharmacy", departed_at=None, arrived=False, now=DEPARTED)
    there = route_progress(graph, "pharmacy", "ward-3a", at="ward-3a", departed_at=DEPARTED, arrived=True, now=DEPARTED)
    assert waiting is not None
    assert there is not None
    assert (waiting.done, waiting.leg, waiting.eta) == (0, None, None)
    assert (there.done, there.leg, there.eta, there.share_done) == (6, None, None, 1.0)


def test_a_failed_delivery_keeps_the_stops_it_reached_and_has_no_eta(graph: SiteMap) -> None:
    now = DEPARTED + timedelta(minutes=10)
    progress = route_progress(
        graph, "pharmacy", "ward-3a", at="elevator-3", departed_at=DEPARTED, arrived=False, now=now, failed=True
    )
    assert progress is not None
    assert (progress.done, progress.eta) == (4, None)
