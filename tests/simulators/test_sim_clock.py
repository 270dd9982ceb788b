"""Simulated hospital time: yesterday's date at the scenario's start, aware UTC, never ahead of the wall clock."""

from datetime import UTC, date, datetime, time, timedelta, timezone

from simulators.hospital.clock import SimClock

WALL = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
HOSPITAL_ZONE = timezone(timedelta(hours=2))


def test_the_day_is_played_yesterday_from_the_scenarios_start_in_the_hospitals_zone() -> None:
    clock = SimClock(time(7, 0), speed=30, zone=HOSPITAL_ZONE, wall_clock=lambda: WALL)
    assert clock.start == datetime(2026, 11, 22, 7, 0, tzinfo=HOSPITAL_ZONE)
    now = clock()  # a clock like the gateway's: Callable[[], datetime], aware UTC
    assert now.tzinfo is UTC
    assert clock.start <= now < clock.start + timedelta(hours=1)
    assert time(7, 0) <= clock.time_of_day() < time(8, 0)


def test_a_day_ending_before_midnight_ends_before_the_wall_clock_however_late_it_is_played() -> None:
    just_after_midnight = datetime(2026, 11, 23, 0, 1, tzinfo=HOSPITAL_ZONE)
    clock = SimClock(time(6, 0), speed=60, zone=HOSPITAL_ZONE, wall_clock=lambda: just_after_midnight)
    day_end = datetime.combine(clock.start.date(), time(23, 59), tzinfo=HOSPITAL_ZONE)
    assert day_end < just_after_midnight


def test_the_simulated_time_is_held_to_the_wall_clock_once_it_would_overtake_it() -> None:
    behind = SimClock(time(9, 0), speed=1, day=date(2026, 11, 23), zone=UTC, wall_clock=lambda: WALL)
    assert datetime(2026, 11, 23, 9, 0, tzinfo=UTC) <= behind.now() < WALL
    ahead = SimClock(time(11, 0), speed=1, day=date(2026, 11, 23), zone=UTC, wall_clock=lambda: WALL)
    assert ahead.now() == WALL
