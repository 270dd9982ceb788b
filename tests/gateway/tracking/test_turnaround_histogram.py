"""The turnaround histogram: fixed buckets, exact below 128 s, then within 1/128; percentiles from merged counts."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.tracking.specimens import histogram
from gateway.tracking.specimens.rollup_reads import Cover, cover, dimensions
from gateway.tracking.specimens.turnaround import GroupBy, percentile

durations = st.integers(min_value=-(10**7), max_value=10**8)


@given(durations)
def test_a_duration_lies_in_its_bucket_and_its_midpoint_is_within_the_precision(seconds: int) -> None:
    low, high = histogram.bounds(histogram.bucket_of(seconds))
    assert low <= seconds <= high
    assert abs(histogram.value_of(histogram.bucket_of(seconds)) - seconds) <= histogram.precision(seconds)
    assert histogram.precision(seconds) <= abs(seconds) / 128


@given(st.integers(min_value=-(10**7), max_value=10**8))
def test_buckets_sort_as_their_durations_and_leave_no_gaps(seconds: int) -> None:
    here, after = histogram.bucket_of(seconds), histogram.bucket_of(seconds + 1)
    assert after in (here, here + 1)
    if after == here + 1:
        assert histogram.bounds(here)[1] == seconds
        assert histogram.bounds(after)[0] == seconds + 1


@pytest.mark.parametrize(("seconds", "precision"), [(0, 0), (127, 0), (128, 1), (3600, 16), (4 * 3600, 64)])
def test_the_documented_precision(seconds: int, precision: int) -> None:
    assert histogram.precision(seconds) == precision


@given(st.lists(durations, max_size=300), st.lists(durations, max_size=300), st.sampled_from([1, 50, 90, 100]))
def test_a_percentile_of_merged_histograms_is_the_nearest_rank_within_the_precision(
    first: list[int], second: list[int], p: int
) -> None:
    merged: histogram.Histogram = {}
    for values in (first, second):
        part: histogram.Histogram = {}
        for v in values:
            histogram.add(part, {histogram.bucket_of(v): 1})
        histogram.add(merged, histogram.decode(histogram.encode(part)))
    observed = percentile(first + second, p)
    reported = histogram.percentile(merged, p)
    if observed is None:
        assert reported is None
    else:
        assert reported is not None
        assert abs(reported - observed) <= histogram.precision(observed)


def test_counts_taken_out_leave_the_rest() -> None:
    counts: histogram.Histogram = {}
    histogram.add(counts, {histogram.bucket_of(60): 2, histogram.bucket_of(3600): 1})
    histogram.add(counts, {histogram.bucket_of(3600): 1}, -1)
    assert (histogram.total(counts), histogram.percentile(counts, 90), histogram.encode(counts)) == (2, 60, [60, 2])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def hour(start: str, end: str, sign: int = 1) -> tuple[tuple[datetime, datetime], int]:
    return ((at(f"2026-11-{start}"), at(f"2026-11-{end}")), sign)


@pytest.mark.parametrize(
    ("since", "until", "by_hour", "expected"),
    [
        # Inside one hour, near neither end: from the specimens.
        ("20T10:05", "20T10:30", False, Cover((hour("20T10:05", "20T10:30"),), (), ())),
        # Most of one hour: its row, the minutes around the window taken out.
        (
            "20T10:05",
            "20T10:55",
            False,
            Cover(
                (hour("20T10:00", "20T10:05", -1), hour("20T10:55", "20T11:00", -1)),
                (hour("20T10:00", "20T11:00"),),
                (),
            ),
        ),
        # Ends rounded to the nearer hour (a tie: down), whole hours between; no day row for three hours.
        (
            "20T10:05",
            "20T13:30",
            False,
            Cover(
                (hour("20T10:00", "20T10:05", -1), hour("20T13:00", "20T13:30")),
                (hour("20T10:00", "20T13:00"),),
                (),
            ),
        ),
        # Whole days from day rows, the hours around them from hour rows; aligned ends need no specimens.
        (
            "20T22:00",
            "23T01:00",
            False,
            Cover((), (hour("20T22:00", "21T00:00"), hour("23T00:00", "23T01:00")), (hour("21T00:00", "23T00:00"),)),
        ),
        # A day that is mostly in the window: its row, the hours before the window taken out.
        (
            "20T04:00",
            "22T00:00",
            False,
            Cover((), (hour("20T00:00", "20T04:00", -1),), (hour("20T00:00", "22T00:00"),)),
        ),
        # Per hour of day: hour rows throughout.
        ("20T22:00", "23T01:00", True, Cover((), (hour("20T22:00", "23T01:00"),), ())),
    ],
)
def test_a_window_is_cut_into_edges_hours_and_days(since: str, until: str, by_hour: bool, expected: Cover) -> None:
    assert cover(at(f"2026-11-{since}"), at(f"2026-11-{until}"), by_hour=by_hour) == expected


def test_the_part_of_a_window_still_to_come_costs_nothing_to_take_out() -> None:
    now = at("2026-11-27T14:20")
    plan = cover(now - timedelta(days=7), now, now=now)
    assert plan.edges == (hour("20T14:00", "20T14:20", -1), hour("27T14:20", "27T15:00", -1))
    assert plan.hours == (hour("20T14:00", "21T00:00"), hour("27T15:00", "28T00:00", -1))
    assert plan.days == (hour("21T00:00", "28T00:00"),)


@pytest.mark.parametrize(
    ("group_by", "wards", "dims"),
    [
        (None, None, ""),  # overall: one row per site and period
        ("hour", None, ""),
        ("priority", None, "p"),
        ("category", None, "c"),
        ("ward", None, "w"),
        (None, ("4b",), "w"),  # a ward-scoped caller needs the ward kept
        ("ward", ("4b",), "w"),
        ("priority", ("4b",), "wpc"),  # ward and priority: only the full rows keep both
    ],
)
def test_a_query_reads_the_narrowest_rows_that_answer_it(
    group_by: GroupBy | None, wards: tuple[str, ...] | None, dims: str
) -> None:
    assert dimensions(group_by, wards) == dims
