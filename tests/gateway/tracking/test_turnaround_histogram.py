"""The turnaround histogram: fixed buckets, exact below 128 s, then within 1/128; percentiles from merged counts."""

from datetime import UTC, datetime

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


@pytest.mark.parametrize(
    ("since", "until", "by_hour", "expected"),
    [
        # Inside one hour: all from the specimens.
        (
            "2026-11-20T10:05",
            "2026-11-20T10:55",
            False,
            Cover(((at("2026-11-20T10:05"), at("2026-11-20T10:55")),), (), ()),
        ),
        # Partial hours at the ends, whole hours between.
        (
            "2026-11-20T10:05",
            "2026-11-20T13:30",
            False,
            Cover(
                ((at("2026-11-20T10:05"), at("2026-11-20T11:00")), (at("2026-11-20T13:00"), at("2026-11-20T13:30"))),
                ((at("2026-11-20T11:00"), at("2026-11-20T13:00")),),
                (),
            ),
        ),
        # Whole days from day rows, the hours around them from hour rows; aligned ends need no specimens.
        (
            "2026-11-20T22:00",
            "2026-11-23T01:00",
            False,
            Cover(
                (),
                ((at("2026-11-20T22:00"), at("2026-11-21T00:00")), (at("2026-11-23T00:00"), at("2026-11-23T01:00"))),
                ((at("2026-11-21T00:00"), at("2026-11-23T00:00")),),
            ),
        ),
        # Per hour of day: hour rows throughout.
        (
            "2026-11-20T22:00",
            "2026-11-23T01:00",
            True,
            Cover((), ((at("2026-11-20T22:00"), at("2026-11-23T01:00")),), ()),
        ),
    ],
)
def test_a_window_is_cut_into_edges_hours_and_days(since: str, until: str, by_hour: bool, expected: Cover) -> None:
    assert cover(at(since), at(until), by_hour=by_hour) == expected


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
