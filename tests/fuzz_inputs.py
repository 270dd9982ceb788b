"""Hostile input for the fuzz tests: JSON with NaN and huge numbers, ids with topic wildcards, odd timestamps.

Every strategy starts from a valid message and breaks one thing, or produces noise; the gateway must
either accept the result or reject it with a reason, never fall over.
"""

import json
import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from contract.envelope import EVENT_TYPES, MAX_EVENT_BYTES

NASTY_IDS: tuple[str, ...] = (
    "+",
    "#",
    "a/b",
    "a+b",
    "a#",
    "$SYS",
    "a\x00b",
    "\x00",
    "",
    " ",
    "x" * 65,
    "x" * 10_000,
    "ß-ward",
    "\ud7ff",
    "../etc",
    "a\nb",
)
"""Identifiers that must never reach a topic, a URL or a log line."""

NASTY_TIMESTAMPS: tuple[str, ...] = (
    "0001-01-01T00:00:00+01:00",  # UTC conversion leaves the calendar
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "2026-11-22T07:00:00",  # naive
    "2026-02-30T00:00:00Z",
    "2026-11-22T25:00:00Z",
    "now",
    "",
)

NASTY_NUMBERS: tuple[Any, ...] = (
    math.nan,
    math.inf,
    -math.inf,
    2**31,
    2**63,
    2**64 + 1,
    10**400,
    -(2**63) - 1,
    -1,
    0,
    1e308,
    -0.0,
    True,
    "1",
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=80),
    st.sampled_from(NASTY_IDS),
    st.sampled_from(NASTY_TIMESTAMPS),
    st.sampled_from(NASTY_NUMBERS),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def dumps(value: Any) -> bytes:
    """JSON as a sloppy sender writes it: NaN and Infinity as bare words, non-ASCII unescaped."""
    return json.dumps(value, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


def valid_event(site: str, edge: str, seq: int = 1, *, barcode: str = "S1") -> dict[str, Any]:
    return {
        "schema_version": 1,
        "type": "specimen.scanned",
        "id": str(uuid.uuid4()),
        "seq": seq,
        "occurred_at": datetime.now(UTC).isoformat(),
        "site": site,
        "edge": edge,
        "device": "sorter-1",
        "subject": {"kind": "specimen", "id": barcode},
        "data": {"input_rack": 1, "input_position": 2},
    }


def valid_state(site: str, edge: str) -> dict[str, Any]:
    return {"state": "online", "site": site, "edge": edge, "since": datetime.now(UTC).isoformat(), "version": "1"}


def valid_telemetry(site: str, edge: str) -> dict[str, Any]:
    return {
        "site": site,
        "edge": edge,
        "device": "cabinet-1",
        "at": datetime.now(UTC).isoformat(),
        "readings": [{"metric": "fridge_temperature", "value": 4.5, "unit": "C"}],
    }


VALID: dict[str, Any] = {"events": valid_event, "state": valid_state, "telemetry": valid_telemetry}

_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "events": (
        ("type",),
        ("id",),
        ("seq",),
        ("occurred_at",),
        ("received_at",),
        ("site",),
        ("edge",),
        ("device",),
        ("subject",),
        ("subject", "id"),
        ("subject", "kind"),
        ("data",),
        ("data", "input_rack"),
        ("schema_version",),
        ("extra",),
    ),
    "state": (("state",), ("since",), ("version",), ("site",), ("extra",)),
    "telemetry": (
        ("at",),
        ("device",),
        ("readings",),
        ("readings", "0", "value"),
        ("readings", "0", "metric"),
        ("readings", "0", "unit"),
    ),
}


def _set(message: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node: Any = message
    for part in path[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[path[-1]] = value


@st.composite
def broken_message(draw: st.DrawFn, channel: str, site: str, edge: str) -> bytes:
    """A valid message for `channel` with one field replaced by something hostile, or pure noise; on `events`
    also an array of envelopes, valid and broken mixed (each is judged alone)."""
    kinds = ["mutated", "mutated", "mutated", "noise", "bytes", "oversized", "type"]
    kind = draw(st.sampled_from([*kinds, "array"] if channel == "events" else kinds))
    if kind == "array":
        size = draw(st.integers(min_value=1, max_value=6))
        parts = [
            draw(broken_message(channel, site, edge)) if draw(st.booleans()) else dumps(VALID[channel](site, edge))
            for _ in range(size)
        ]
        return b"[" + b",".join(parts) + b"]"
    if kind == "noise":
        return dumps(draw(json_values))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "oversized":
        message = VALID[channel](site, edge)
        filler = draw(st.integers(min_value=MAX_EVENT_BYTES, max_value=4 * MAX_EVENT_BYTES))
        message["padding"] = "x" * filler
        return dumps(message)
    message = VALID[channel](site, edge)
    if kind == "type" and channel == "events":
        message["type"] = draw(st.sampled_from(sorted(EVENT_TYPES)))
        return dumps(message)
    path = draw(st.sampled_from(_PATHS[channel]))
    _set(message, path, draw(json_values))
    return dumps(message)


def far_timestamp(delta_days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=delta_days)).isoformat()
