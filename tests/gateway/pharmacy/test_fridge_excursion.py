"""A fridge excursion is a run of readings outside 2-8 °C: when it started, ended and how warm (or cold) it got."""

from datetime import UTC, datetime, timedelta

from gateway.tracking.cabinets.excursion import Excursion, latest_excursion

T = datetime(2026, 11, 23, 8, tzinfo=UTC)


def readings(*values: float) -> list[tuple[datetime, float]]:
    return [(T + timedelta(minutes=i), v) for i, v in enumerate(values)]


def test_readings_inside_the_band_are_no_excursion() -> None:
    assert latest_excursion(readings(4.0, 2.0, 8.0, 5.5)) is None


def test_an_excursion_that_ended_says_when_and_how_warm() -> None:
    assert latest_excursion(readings(5.0, 8.6, 11.2, 9.0, 6.1, 5.0)) == Excursion(
        T + timedelta(minutes=1), T + timedelta(minutes=4), 11.2, 8.6
    )


def test_the_latest_of_two_excursions_counts_and_one_going_on_has_no_end() -> None:
    assert latest_excursion(readings(9.0, 5.0, 1.2, 0.8)) == Excursion(T + timedelta(minutes=2), None, 1.2, 0.8)
