"""Fixed, log-spaced buckets for durations in seconds, so percentiles come from summed counts instead of rows.

The scheme is HDR-style: a duration below 128 s has a bucket of its own second (exact); above, each power of two
is split into 64 buckets, so a bucket spans at most 1/64 of its lower bound and its midpoint is within 1/128 of any
value in it (16 s at one hour, 64 s at four hours, 8 min at a day). Negative durations (two systems' clocks
disagreeing) mirror the positive ones. Buckets are fixed, so histograms of any hours, sites or wards merge by adding
counts, and the same specimens give the same histogram in any order: that is why this and not a t-digest, whose
centroids depend on insertion order and merge order, and which would not let a corrected result be taken back out.
"""

from collections.abc import Iterable, Mapping
from math import ceil

EXACT_BELOW = 128
"""Durations below this many seconds (in magnitude) are counted to the second."""
_SUB_BITS = 6  # 64 buckets per power of two above EXACT_BELOW


def bucket_of(seconds: int) -> int:
    """The bucket a duration falls in; buckets sort as their durations do."""
    if seconds < 0:
        return -1 - bucket_of(-seconds)
    if seconds < EXACT_BELOW:
        return seconds
    shift = seconds.bit_length() - _SUB_BITS - 1
    return (shift << _SUB_BITS) + (seconds >> shift)


def bounds(bucket: int) -> tuple[int, int]:
    """The smallest and the largest duration in the bucket."""
    if bucket < 0:
        low, high = bounds(-1 - bucket)
        return -high, -low
    if bucket < EXACT_BELOW:
        return bucket, bucket
    shift = (bucket >> _SUB_BITS) - 1
    mantissa = bucket - (shift << _SUB_BITS)
    return mantissa << shift, ((mantissa + 1) << shift) - 1


def value_of(bucket: int) -> int:
    """What a percentile that falls in the bucket reports: its midpoint (rounded towards zero)."""
    low, high = bounds(bucket)
    return int((low + high) / 2)


def precision(seconds: int) -> int:
    """How far a reported percentile may be from the observed value `seconds` (0 below `EXACT_BELOW`)."""
    low, high = bounds(bucket_of(seconds))
    return (high - low + 1) // 2


Histogram = dict[int, int]
"""Count per bucket; a bucket never counted is absent (one whose count fell to zero may stay, at 0)."""


def add(into: Histogram, other: Mapping[int, int], sign: int = 1) -> None:
    """Add `other`'s counts into `into` (or take them out with `sign` -1)."""
    for bucket, count in other.items():
        into[bucket] = into.get(bucket, 0) + sign * count


def total(histogram: Mapping[int, int]) -> int:
    return sum(histogram.values())


def percentile(histogram: Mapping[int, int], p: float) -> int | None:
    """The nearest-rank percentile, as its bucket's midpoint: within `precision` of `turnaround.percentile`."""
    count = total(histogram)
    if count <= 0:
        return None
    rank = max(ceil(p / 100 * count), 1)
    seen = 0
    for bucket in sorted(b for b, n in histogram.items() if n):
        seen += histogram[bucket]
        if seen >= rank:
            return value_of(bucket)
    raise AssertionError("a histogram's counts add up to its total")  # pragma: no cover


def encode(histogram: Mapping[int, int]) -> list[int]:
    """As stored: bucket, count, bucket, count... in bucket order, zero counts left out."""
    return [x for bucket in sorted(histogram) if histogram[bucket] for x in (bucket, histogram[bucket])]


def decode(pairs: Iterable[int]) -> Histogram:
    values = list(pairs)
    return dict(zip(values[::2], values[1::2], strict=True))
