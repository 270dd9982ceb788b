"""The turnaround rollups rebuilt inside PostgreSQL: one INSERT ... SELECT instead of every specimen through Python.

The statement computes what `rollups.tallies` computes, to the same values: each leg's seconds as `turnaround.legs`
rounds them, its bucket as `histogram.bucket_of` finds it, the hour as `rollups.floor_to` takes it, the keys of every
grain and `DIMENSIONS` as `Contribution.rollup_keys` makes them, and the histograms as `Tally.stored` encodes them
(bucket, count pairs in bucket order; a leg never counted left out). The legs, buckets, grains and dimensions are
taken from those modules, so a change there changes both ways at once; the tests compare the two on PostgreSQL.

Each specimen's legs are read once and counted into every grain and dimension in one pass (GROUPING SETS), the
counts per rollup row in another; the pairs and the histograms' JSON text are then joined up per row and leg.
"""

from gateway.tracking.specimens.histogram import EXACT_BELOW, SUB_BITS
from gateway.tracking.specimens.rollups import DAY, DIMENSIONS, GRAINS, HOUR, NONE
from gateway.tracking.specimens.turnaround import LEG_ENDS, LEGS

_KEPT = {"w": "ward", "p": "priority", "c": "category"}
"""The letters of `DIMENSIONS` and the columns they keep."""
_PERIODS = {HOUR: "hour_s", DAY: "day_s"}
"""The column that holds each grain's period (epoch seconds)."""
_GROUPED = (*_PERIODS.values(), *_KEPT.values())
"""The columns whose GROUPING() tells which grain and dimensions a grouped row is of."""


def _literal(text: str) -> str:
    """A constant of ours as an SQL string literal (names of legs and dimensions: no quotes in them)."""
    assert "'" not in text, text
    assert '"' not in text, text
    assert "\\" not in text, text
    return f"'{text}'"


def _floor(seconds: str, grain: int) -> str:
    """Python's `seconds - seconds % grain` (a floored modulo, where SQL's % truncates)."""
    return f"({seconds} - ((({seconds}) % {grain}) + {grain}) % {grain})"


def _bucket(seconds: str) -> str:
    """`histogram.bucket_of`: exact below `EXACT_BELOW`, 2**SUB_BITS buckets per power of two above, mirrored.

    The bit length is read off the magnitude's 64 bits, exactly (a logarithm in floating point is not, near powers
    of two)."""
    magnitude = f"abs({seconds})"
    shift = f"(65 - strpos({magnitude}::bit(64)::text, '1') - {SUB_BITS + 1})"
    above = f"({shift} << {SUB_BITS}) + ({magnitude} >> {shift})"
    positive = f"(CASE WHEN {magnitude} < {EXACT_BELOW} THEN {magnitude} ELSE {above} END)"
    return f"(CASE WHEN {seconds} < 0 THEN -1 - {positive} ELSE {positive} END)"


def _grouping_sets() -> list[tuple[int, str, tuple[str, ...]]]:
    """Per rollup row kind: its grain, its dims and the columns it is grouped by (besides site)."""
    return [
        (grain, dims, (_PERIODS[grain], *(_KEPT[letter] for letter in dims))) for grain in GRAINS for dims in DIMENSIONS
    ]


def _kind(of: str) -> str:
    """CASE over a grouped row's `kind` (its GROUPING() mask): the grain or the dims of its grouping set."""
    cases = []
    for grain, dims, columns in _grouping_sets():
        mask = sum(1 << (len(_GROUPED) - 1 - i) for i, name in enumerate(_GROUPED) if name not in columns)
        cases.append(f"WHEN {mask} THEN {grain if of == 'grain_s' else _literal(dims)}")
    return f"CASE r.kind {' '.join(cases)} END"


def _grouped_key() -> str:
    """A grouped row's key: which grouping set (`kind`), its period, and `NONE` for a column the set leaves out."""
    none = _literal(NONE)
    kept = ", ".join(f"coalesce({column}, {none}) AS {column}" for column in _KEPT.values())
    return (
        f"GROUPING({', '.join(_GROUPED)}) AS kind, coalesce({', '.join(_PERIODS.values())}) AS period_s, site, {kept}"
    )


def _grouping() -> str:
    sets = ", ".join(f"({', '.join(columns)})" for _, _, columns in _grouping_sets())
    return f"site, GROUPING SETS ({sets})"


def _leg_ends() -> str:
    return ", ".join(f"({number}, c.{LEG_ENDS[name][0]}, c.{LEG_ENDS[name][1]})" for number, name in enumerate(LEGS))


def _leg_name(number: str) -> str:
    return f"CASE {number} {' '.join(f'WHEN {n} THEN {_literal(name)}' for n, name in enumerate(LEGS))} END"


_KEY = "kind, period_s, site, ward, priority, category"


def rebuild_statement() -> str:
    """INSERT ... SELECT of every rollup row of the specimens table (into an empty `turnaround_rollups`)."""
    none = _literal(NONE)
    ends = sorted({column for pair in LEG_ENDS.values() for column in pair})
    # The float, truncated, as `rollups.floor_to` takes `int(at.timestamp())`.
    hour = _floor("trunc(extract(epoch FROM s.collected_at)::float8)::bigint", HOUR)
    # Grouped by bytes ("C"): the rows' order is never seen, and the database's collation would only make sorts slower.
    texts = ", ".join(f'coalesce(s.{column}, {none}) COLLATE "C" AS {column}' for column in _KEPT.values())
    # Built from the constants above only (no value from a caller or a row): S608 does not apply.
    return f"""
INSERT INTO turnaround_rollups
    (grain_s, dims, period, site, ward, priority, category, count, targeted, within_target, histograms)
WITH counted AS MATERIALIZED (
    SELECT s.site COLLATE "C" AS site, {texts}, {hour} AS hour_s, {_floor(hour, DAY)} AS day_s,
        (s.within_target IS NOT NULL)::int AS targeted, coalesce(s.within_target, false)::int AS within_target,
        {", ".join(f"s.{column}" for column in ends)}
    FROM specimens AS s
    WHERE s.tat_s IS NOT NULL AND s.collected_at IS NOT NULL
),
grouped_counts AS (
    SELECT {_grouped_key()}, count(*) AS count, sum(targeted) AS targeted, sum(within_target) AS within_target
    FROM counted GROUP BY {_grouping()}
),
leg_seconds AS (
    -- round() of a float8 rounds a half to even, as Python's round() of timedelta.total_seconds() (the same float).
    -- OFFSET 0 keeps the seconds computed once per leg, not once for each use in the bucket's expression.
    SELECT c.hour_s, c.day_s, c.site, c.ward, c.priority, c.category, l.leg,
        round(extract(epoch FROM l.ended - l.started)::float8)::bigint AS seconds
    FROM counted AS c CROSS JOIN LATERAL (VALUES {_leg_ends()}) AS l(leg, started, ended)
    WHERE l.started IS NOT NULL AND l.ended IS NOT NULL
    OFFSET 0
),
grouped_buckets AS (
    SELECT {_grouped_key()}, leg, {_bucket("seconds")} AS bucket, count(*) AS n
    FROM leg_seconds GROUP BY leg, bucket, {_grouping()}
),
grouped_legs AS (
    SELECT {_KEY}, leg, string_agg(bucket || ', ' || n, ', ' ORDER BY bucket) AS pairs
    FROM grouped_buckets GROUP BY {_KEY}, leg
),
grouped_histograms AS (
    SELECT {_KEY}, '{{' || string_agg('"' || {_leg_name("leg")} || '": [' || pairs || ']', ', ' ORDER BY leg) || '}}'
        AS histograms
    FROM grouped_legs GROUP BY {_KEY}
)
SELECT {_kind("grain_s")}, {_kind("dims")}, to_timestamp(r.period_s), r.site, r.ward, r.priority, r.category,
    r.count, r.targeted, r.within_target, CAST(coalesce(h.histograms, '{{}}') AS json)
FROM grouped_counts AS r LEFT JOIN grouped_histograms AS h USING ({_KEY})
"""  # noqa: S608
